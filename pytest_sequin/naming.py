"""Names for temporary streams and consumers: valid, unique, traceable. Pure logic.

Why the shape ``<prefix><run>_<worker>_<n>_<test slug>``:

* valid on a real server: lowercase ASCII letters, digits and underscores only (hyphens are
  rejected, and names differing only in case collide in PostgreSQL, spec §2.1, §7.2);
* unique across concurrent runs (``run``: a random token per run, the same in every xdist
  worker), across workers (``worker``) and within a process (``n``, a counter);
* the unique part comes before the readable test slug, and names are kept short, because the
  real server derives table names from them and cuts those at 63 bytes: a stream name is
  capped at :data:`MAX_STREAM_NAME` characters, which leaves 16 significant characters for the
  consumer part of ``consumer_messages_<stream>_<consumer>``;
* consumer names are unique across the whole account, not only per stream, because receive,
  ack and nack look consumers up by name account-wide and answer 500 on duplicates (§3.7).
"""

from __future__ import annotations

import itertools
import re
import secrets
import string
import threading

MAX_STREAM_NAME = 28
MAX_CONSUMER_NAME = 24
#: Characters of a consumer name that count in its table name when the stream name is at
#: its maximum length (44 - 28, spec §7.2); the unique part must fit in them.
SIGNIFICANT_CONSUMER_CHARS = 44 - MAX_STREAM_NAME
RUN_TOKEN_LENGTH = 5
DEFAULT_PREFIX = "pytest_"

_ALPHABET = string.ascii_lowercase + string.digits
_NOT_NAME_CHAR = re.compile(r"[^a-z0-9]+")
_PREFIX_FORMAT = re.compile(r"[a-z0-9_]*")
_RUN_TOKEN_FORMAT = re.compile(f"[a-z0-9]{{{RUN_TOKEN_LENGTH}}}")
#: What follows the prefix in a stream name: run token, worker code, counter, optional slug.
_STREAM_NAME_TAIL = re.compile(f"[a-z0-9]{{{RUN_TOKEN_LENGTH}}}_[a-z0-9]+_[a-z0-9]+(?:_[a-z0-9_]*)?")


def new_run_token() -> str:
    """A random token naming one test run (about 60 million values)."""
    return "".join(secrets.choice(_ALPHABET) for _ in range(RUN_TOKEN_LENGTH))


def worker_code(worker_id: str | None) -> str:
    """``gw3`` -> ``3``; a run without xdist is ``m`` (main)."""
    if worker_id and worker_id.startswith("gw") and worker_id[2:].isdigit():
        return _base36(int(worker_id[2:]))
    return "m"


def slug(text: str) -> str:
    """A test's name as a readable lowercase fragment: ``test_Orders[a-b]`` -> ``test_orders_a_b``."""
    return _NOT_NAME_CHAR.sub("_", text.lower()).strip("_")


def validate_prefix(prefix: str) -> str:
    """Check a user-chosen prefix; raise ValueError with a message a user can act on."""
    if not prefix:
        raise ValueError(
            "sequin name prefix must not be empty: it marks the streams pytest-sequin creates, "
            "and the orphan sweep (--sequin-sweep-orphans) deletes only streams that carry it"
        )
    if not _PREFIX_FORMAT.fullmatch(prefix):
        raise ValueError(
            f"sequin name prefix {prefix!r} may contain only lowercase letters, digits and underscores "
            "(Sequin rejects other characters, and names differing only in case collide)"
        )
    if len(prefix) > MAX_STREAM_NAME - 12:
        raise ValueError(
            f"sequin name prefix {prefix!r} is too long (at most {MAX_STREAM_NAME - 12} characters)"
        )
    return prefix


def _base36(number: int) -> str:
    digits = []
    while True:
        number, rest = divmod(number, 36)
        digits.append(_ALPHABET[26 + rest] if rest < 10 else _ALPHABET[rest - 10])
        if number == 0:
            return "".join(reversed(digits))


class NameFactory:
    """Makes the names of one process (one xdist worker). Thread-safe."""

    def __init__(self, run_token: str, worker_id: str | None = None, prefix: str = DEFAULT_PREFIX) -> None:
        if not _RUN_TOKEN_FORMAT.fullmatch(run_token):
            raise ValueError(
                f"run token {run_token!r} must be {RUN_TOKEN_LENGTH} lowercase letters or digits"
            )
        self.run_token = run_token
        self.worker = worker_code(worker_id)
        self.prefix = validate_prefix(prefix)
        self._counter = itertools.count(1)
        self._lock = threading.Lock()

    def _next(self) -> str:
        with self._lock:
            return _base36(next(self._counter))

    @property
    def run_prefix(self) -> str:
        """Every stream of this run (all workers) starts with this."""
        return f"{self.prefix}{self.run_token}_"

    def stream_name(self, hint: str = "") -> str:
        unique = f"{self.run_prefix}{self.worker}_{self._next()}"
        return _with_hint(unique, hint, MAX_STREAM_NAME)

    def consumer_name(self, hint: str = "") -> str:
        unique = f"c{self._next()}_{self.run_token}{self.worker}"
        return _with_hint(unique, hint, MAX_CONSUMER_NAME)

    def belongs_to_run(self, stream_name: str) -> bool:
        return stream_name.startswith(self.run_prefix)


def is_plugin_stream_name(stream_name: str, prefix: str) -> bool:
    """Whether ``stream_name`` has the full shape of a name :meth:`NameFactory.stream_name`
    makes with ``prefix`` (prefix, run token, worker, counter, optional slug).

    The orphan sweep deletes streams from a shared server, so a matching prefix alone is not
    enough: ``pytest_settings``, made by a person, must survive a sweep with the default prefix.
    """
    if not prefix or not stream_name.startswith(prefix):
        return False
    return _STREAM_NAME_TAIL.fullmatch(stream_name[len(prefix):]) is not None


def _with_hint(unique: str, hint: str, limit: int) -> str:
    readable = slug(hint)
    room = limit - len(unique) - 1
    if readable and room > 0:
        return f"{unique}_{readable[:room].rstrip('_')}".rstrip("_")
    return unique
