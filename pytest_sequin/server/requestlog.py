"""A bounded log of the requests the embedded server answered.

Tests of retry logic want to assert "the app called publish three times and saw 500, 500,
200"; the server is the one place that sees every call, whichever client made it. The log
keeps the last ``maxlen`` entries (10,000 by default) so a long session cannot grow it without
bound. Every entry has a ``seq`` that only grows, so a reader can ask for "everything after
the entry I saw last" (that is how a test gets only its own requests) even after
:meth:`RequestLog.clear`.
"""

from __future__ import annotations

import itertools
import threading
from collections import deque
from dataclasses import asdict, dataclass
from typing import Any, Tuple

DEFAULT_MAXLEN = 10_000

#: What the ring buffer holds per request: the fields of :class:`LoggedRequest`, in order.
#: A tuple of strings and numbers, which the garbage collector stops tracking at its first
#: pass: a dataclass instance (and its ``__dict__``) per request was two more objects that every
#: collection scanned, for as long as the entry stayed in the buffer (bench figure 2.3).
_Entry = Tuple[int, str, str, str, int, float, float, "int | None"]


@dataclass(frozen=True)
class LoggedRequest:
    """One answered request. ``path`` is normalised (empty segments dropped, no query);
    ``duration`` is in seconds and includes an injected delay; ``fault`` is the id of the
    injected fault that applied, if any."""

    seq: int
    method: str
    path: str
    query: str
    status: int
    duration: float
    started_at: float
    fault: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class RequestLog:
    """Thread-safe ring buffer of :class:`LoggedRequest`."""

    def __init__(self, maxlen: int = DEFAULT_MAXLEN) -> None:
        self._lock = threading.Lock()
        self._entries: deque[_Entry] = deque(maxlen=maxlen)
        self._seq = itertools.count(1)
        self._last_seq = 0

    def record(
        self,
        method: str,
        path: str,
        query: str,
        status: int,
        duration: float,
        started_at: float,
        fault: int | None = None,
    ) -> LoggedRequest:
        """Log one answered request and return its entry."""
        seq = self.add(method, path, query, status, duration, started_at, fault)
        return LoggedRequest(seq, method, path, query, status, duration, started_at, fault)

    def add(
        self,
        method: str,
        path: str,
        query: str,
        status: int,
        duration: float,
        started_at: float,
        fault: int | None = None,
    ) -> int:
        """:meth:`record` without building the entry (the server's path: every request); returns
        its ``seq``."""
        with self._lock:
            seq = self._last_seq = next(self._seq)
            self._entries.append((seq, method, path, query, status, duration, started_at, fault))
        return seq

    def entries(self, since: int = 0, limit: int | None = None) -> list[LoggedRequest]:
        """Entries with ``seq > since``, oldest first; with ``limit``, only the newest ones."""
        with self._lock:
            found = [entry for entry in self._entries if entry[0] > since]
        if limit is not None:
            found = found[-limit:] if limit > 0 else []
        return [LoggedRequest(*entry) for entry in found]

    @property
    def last_seq(self) -> int:
        """The ``seq`` of the newest entry ever recorded (0 before the first); a bookmark."""
        with self._lock:
            return self._last_seq

    def clear(self) -> int:
        """Forget every entry (``seq`` keeps counting); returns how many there were."""
        with self._lock:
            count = len(self._entries)
            self._entries.clear()
        return count

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)
