"""Fault injection for the embedded server: "the next N matching requests fail (or are slow)".

Apps that talk to Sequin need retry logic, and retry logic is only trustworthy once a test has
seen it work against failures. A real Sequin cannot be told to fail on demand; the emulator can.
A fault is consumed by the requests it matches: it applies ``times`` times (or for ever with
``times=None``) and then disappears, so a test states exactly how many failures it wants.

Path patterns are globs matched **segment by segment**: ``*``, ``?`` and ``[...]`` never cross
a ``/`` and ``**`` spans any number of segments (also none). With plain :mod:`fnmatch` the
pattern ``/api/streams/*/messages`` would also match the peek route
``/api/streams/s/consumers/c/messages``, which is never what a test means.
"""

from __future__ import annotations

import itertools
import json
import threading
from dataclasses import dataclass
from fnmatch import fnmatchcase
from http import HTTPStatus
from typing import Any

from .errors import REASON_PHRASES

FAIL = "fail"
DELAY = "delay"

JSON_TYPE = "application/json; charset=utf-8"
TEXT_TYPE = "text/plain; charset=utf-8"


def split_path(path: str) -> list[str]:
    """Segments of a path; empty ones are dropped, as the server's router does (§0)."""
    return [segment for segment in path.split("/") if segment]


def normalize_path(path: str) -> str:
    """``/api//streams/x/`` -> ``/api/streams/x``: the form that is logged and matched."""
    return "/" + "/".join(split_path(path))


def path_matches(pattern: str, path: str) -> bool:
    """Whether ``path`` matches the segment-wise glob ``pattern`` (case-sensitive)."""
    return _match_segments(split_path(pattern), split_path(path))


def _match_segments(pattern: list[str], path: list[str]) -> bool:
    if not pattern:
        return not path
    head, rest = pattern[0], pattern[1:]
    if head == "**":
        return any(_match_segments(rest, path[i:]) for i in range(len(path) + 1))
    return bool(path) and fnmatchcase(path[0], head) and _match_segments(rest, path[1:])


def default_body(status: int) -> dict[str, Any]:
    """The framework error body of §5.3 (for 500: the real server's crash answer)."""
    if status in REASON_PHRASES:
        reason = REASON_PHRASES[status]
    else:
        try:
            reason = HTTPStatus(status).phrase
        except ValueError:
            reason = "Injected fault"
    return {"errors": {"detail": reason}}


@dataclass
class Fault:
    """One rule. ``remaining`` is None for a fault that never runs out."""

    id: int
    action: str
    path: str
    method: str | None
    status: int
    body: Any
    seconds: float
    remaining: int | None
    hits: int = 0

    def matches(self, method: str, path: str) -> bool:
        return (self.method is None or self.method == method.upper()) and path_matches(self.path, path)

    def answer(self) -> tuple[int, str, bytes]:
        """Status, content type and body of a ``fail`` fault: a str body is sent verbatim as
        text, anything else (None: the framework error body) as JSON."""
        if isinstance(self.body, str):
            return self.status, TEXT_TYPE, self.body.encode("utf-8")
        body = default_body(self.status) if self.body is None else self.body
        return self.status, JSON_TYPE, json.dumps(body, ensure_ascii=False).encode("utf-8")

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "action": self.action,
            "path": self.path,
            "method": self.method,
            "status": self.status if self.action == FAIL else None,
            "body": self.body if self.action == FAIL else None,
            "seconds": self.seconds if self.action == DELAY else None,
            "remaining": self.remaining,
            "hits": self.hits,
        }


def _check_times(times: int | None) -> int | None:
    if times is not None and (type(times) is not int or times < 1):
        raise ValueError("`times` must be an integer >= 1, or null for a fault that never runs out")
    return times


def _check_path(path: Any) -> str:
    if not isinstance(path, str) or not path.startswith("/"):
        raise ValueError("`path` must be a glob that starts with '/', e.g. /api/streams/*/messages")
    return path


def _check_method(method: Any) -> str | None:
    if method is None:
        return None
    if not isinstance(method, str) or not method.isalpha():
        raise ValueError("`method` must be an HTTP method such as POST, or null for any method")
    return method.upper()


def check_fail(path: Any, status: Any, times: Any, method: Any) -> None:
    """Raise ValueError for arguments a ``fail`` fault refuses. Public so that the control
    client can refuse them before sending, with the same message, in the test's own frame."""
    if type(status) is not int or not 200 <= status <= 599:
        raise ValueError("`status` must be an integer from 200 to 599")
    _check_path(path)
    _check_method(method)
    _check_times(times)


def check_delay(path: Any, seconds: Any, times: Any, method: Any) -> None:
    """Raise ValueError for arguments a ``delay`` fault refuses (see :func:`check_fail`)."""
    if type(seconds) not in (int, float) or not 0 <= seconds <= 3600:
        raise ValueError("`seconds` must be a number from 0 to 3600")
    _check_path(path)
    _check_method(method)
    _check_times(times)


class FaultTable:
    """The active faults, checked in the order they were added; the first match applies.

    Thread-safe: the HTTP server answers each connection on its own thread, and a fault with
    ``times=1`` must fail exactly one of two concurrent requests.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: list[Fault] = []
        self._ids = itertools.count(1)

    def fail(
        self,
        path: str,
        status: int = 500,
        times: int | None = 1,
        method: str | None = None,
        body: Any = None,
    ) -> Fault:
        """The next ``times`` matching requests are answered ``status``/``body`` without
        reaching the engine (nothing is created, published or acked)."""
        check_fail(path, status, times, method)
        return self._add(FAIL, path, method, times, status=status, body=body)

    def delay(self, path: str, seconds: float, times: int | None = 1, method: str | None = None) -> Fault:
        """The next ``times`` matching requests wait ``seconds`` and are then handled normally
        (for client timeouts: the work may still happen after the client gave up)."""
        check_delay(path, seconds, times, method)
        return self._add(DELAY, path, method, times, seconds=float(seconds))

    def _add(
        self,
        action: str,
        path: str,
        method: str | None,
        times: int | None,
        *,
        status: int = 500,
        body: Any = None,
        seconds: float = 0.0,
    ) -> Fault:
        fault = Fault(
            0, action, _check_path(path), _check_method(method), status, body, seconds, _check_times(times)
        )
        with self._lock:
            fault.id = next(self._ids)
            self._faults.append(fault)
        return fault

    def take(self, method: str, path: str) -> Fault | None:
        """The fault that applies to this request, if any, consuming one of its uses."""
        if not self._faults:
            return None  # the usual case, without the lock: a fault added meanwhile is racing anyway
        with self._lock:
            for fault in self._faults:
                if fault.matches(method, path):
                    fault.hits += 1
                    if fault.remaining is not None:
                        fault.remaining -= 1
                        if fault.remaining == 0:
                            self._faults.remove(fault)
                    return fault
        return None

    def remove(self, fault_id: int) -> bool:
        """Drop one fault; False if it was already used up or removed."""
        with self._lock:
            for fault in self._faults:
                if fault.id == fault_id:
                    self._faults.remove(fault)
                    return True
        return False

    def clear(self) -> int:
        """Drop every fault; returns how many there were."""
        with self._lock:
            count = len(self._faults)
            self._faults.clear()
        return count

    def active(self) -> list[Fault]:
        """The faults not used up yet, in matching order."""
        with self._lock:
            return list(self._faults)

    def __len__(self) -> int:
        with self._lock:
            return len(self._faults)
