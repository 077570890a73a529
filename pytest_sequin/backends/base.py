"""Shared vocabulary of the backends: the running-server handle, the errors, URL masking.

Nothing here imports pytest: the plugin translates :class:`SequinUnavailable` into a
session-start error and :class:`pytest_sequin.config.SequinConfigError` into a
``pytest.UsageError``.  Keeping the modules pytest-free lets them be unit tested (and
reused by scripts) without a pytest session.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass, field
from typing import Any, Callable, Optional
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

__all__ = [
    "BACKEND_DOCKER",
    "BACKEND_EMBEDDED",
    "BACKEND_URL",
    "DockerUnavailable",
    "RunningServer",
    "SequinUnavailable",
    "header_line",
    "header_lines",
    "mask_url",
]

BACKEND_EMBEDDED = "embedded"
BACKEND_URL = "url"
BACKEND_DOCKER = "docker"


class SequinUnavailable(RuntimeError):
    """The Sequin server could not be started or did not become ready.

    ``str(exc)`` is the complete, user-facing message (what was tried, the last answer,
    how long we waited, how to fix it), so the plugin can show it as is, once, instead
    of a traceback per test.
    """


class DockerUnavailable(SequinUnavailable):
    """Docker was asked for but cannot be used (no engine, or the ``docker`` extra is missing)."""


_MASK = "***"
# Query parameters whose values are secrets often enough that we never print them.
_SECRET_QUERY_KEY = re.compile(r"(token|secret|passw|pwd|key|auth|sig|credential)", re.IGNORECASE)


def mask_url(url: str) -> str:
    """Return ``url`` with credentials replaced by ``***`` so it can be printed.

    A password becomes ``***`` (the user name stays, it helps to tell servers apart); a
    lone user name is masked too, because ``https://TOKEN@host`` is a common way to pass a
    token.  Values of query parameters that look secret (``token``, ``api_key``...) are
    masked as well.  Anything unparsable is returned unchanged, rather than raising in
    the middle of error reporting.
    """
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, _, hostport = netloc.rpartition("@")
        if ":" in userinfo:
            user = userinfo.split(":", 1)[0]
            netloc = f"{user}:{_MASK}@{hostport}" if user else f":{_MASK}@{hostport}"
        else:
            netloc = f"{_MASK}@{hostport}"
    query = parts.query
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        if any(_SECRET_QUERY_KEY.search(k) for k, _ in pairs):
            query = urlencode(
                [(k, _MASK if _SECRET_QUERY_KEY.search(k) else v) for k, v in pairs],
                safe="*",
                quote_via=quote,
            )
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


@dataclass(frozen=True)
class RunningServer:
    """A Sequin server that answers at :attr:`url`, whoever started it.

    ``backend`` is one of ``"embedded"``, ``"url"``, ``"docker"``; ``description`` is the
    part of the header after ``"sequin: "`` (already masked); ``notes`` are extra
    human-readable lines (fallbacks taken, options ignored) for the pytest header.
    ``handle`` is the backend's own object: the ``EmbeddedSequinServer`` instance (for
    ``advance_clock`` and friends), the Docker payload dict (container ids...), or None.
    :meth:`stop` is idempotent and thread-safe: the plugin may call it from a finalizer
    and again from ``atexit`` without harm.
    """

    url: str
    backend: str
    description: str
    notes: tuple[str, ...] = ()
    handle: Any = field(default=None, repr=False, compare=False)
    _stop: Optional[Callable[[], None]] = field(default=None, repr=False, compare=False)
    _stopped: list[bool] = field(default_factory=lambda: [False], repr=False, compare=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def stop(self) -> None:
        """Stop (or release) the server; later calls do nothing."""
        with self._lock:
            if self._stopped[0]:
                return
            self._stopped[0] = True
        if self._stop is not None:
            self._stop()

    @property
    def stopped(self) -> bool:
        return self._stopped[0]

    def header_lines(self) -> list[str]:
        return header_lines(self)


def header_line(server: RunningServer) -> str:
    """One line for ``pytest_report_header``, e.g. ``sequin: embedded server at http://127.0.0.1:54321``."""
    return f"sequin: {server.description}"


def header_lines(server: RunningServer) -> list[str]:
    """The header line followed by one ``sequin: note: ...`` line per note."""
    return [header_line(server), *(f"sequin: note: {note}" for note in server.notes)]
