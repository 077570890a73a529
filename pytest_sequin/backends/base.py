"""Shared vocabulary of the backends: the running-server handle, the errors, URL masking.

Nothing here imports pytest: the plugin translates :class:`SequinUnavailable` into a
session-start error and :class:`pytest_sequin.config.SequinConfigError` into a
``pytest.UsageError``.  Keeping the modules pytest-free lets them be unit tested (and
reused by scripts) without a pytest session.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any, Callable, Optional

from pytest_sequin.masking import mask_url

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
