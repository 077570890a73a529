"""Deleting what tests created: per test, and a safety net for the whole session.

Kept free of pytest so its rules can be tested alone:

* a stream or consumer that is already gone is fine (the test may have deleted it);
* deleting a stream deletes its consumers on the server, so consumers are only deleted one
  by one when their stream is not being deleted too;
* every delete has a timeout and the whole cleanup a deadline, so a dead server costs
  seconds, not a hang;
* failures are collected, not raised: a passing test is never failed by teardown, and the
  plugin reports an unreachable server once.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any, Callable, Iterable

from pytest_sequin.client import SequinError

#: How long one test's cleanup may take in all before the rest is reported as not deleted.
DEFAULT_DEADLINE = 15.0


@dataclass(frozen=True)
class CleanupFailure:
    kind: str  # "stream" or "consumer"
    name: str
    reason: str
    unreachable: bool  # no HTTP answer at all (server down), as opposed to an error answer


class Registry:
    """Every stream this process created and has not deleted yet, for the session-end sweep
    (after Ctrl-C, or a fixture whose teardown never ran). Thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._streams: dict[str, Any] = {}

    def add(self, stream: Any) -> None:
        with self._lock:
            self._streams[stream.name] = stream

    def discard(self, name: str) -> None:
        with self._lock:
            self._streams.pop(name, None)

    def pending(self) -> list[Any]:
        with self._lock:
            return list(self._streams.values())


def _is_unreachable(error: SequinError) -> bool:
    """The client reports transport failures as status 500 with no HTTP body."""
    return error.body is None and error.status == 500


def delete_all(
    streams: Iterable[Any],
    consumers: Iterable[Any],
    *,
    deadline: float = DEFAULT_DEADLINE,
    on_deleted: Callable[[str], None] | None = None,
) -> list[CleanupFailure]:
    """Delete ``consumers`` whose stream is not in ``streams``, then ``streams``.

    Returns what could not be deleted. Once the server proved unreachable, the remaining
    deletes are not attempted (each would only wait for its own timeout).
    """
    streams = list(streams)
    doomed = {s.name for s in streams}
    work: list[tuple[str, Any]] = [("consumer", c) for c in consumers if c.stream_name not in doomed]
    work += [("stream", s) for s in streams]
    failures: list[CleanupFailure] = []
    end = time.monotonic() + deadline
    unreachable_reason: str | None = None
    for kind, handle in work:
        if unreachable_reason is not None or time.monotonic() > end:
            reason = unreachable_reason or f"cleanup deadline of {deadline:g} s passed"
            failures.append(CleanupFailure(kind, handle.name, reason, unreachable_reason is not None))
            continue
        try:
            handle.delete(missing_ok=True)
        except SequinError as error:
            unreachable = _is_unreachable(error)
            if unreachable:
                unreachable_reason = error.summary
            failures.append(CleanupFailure(kind, handle.name, f"{error.status} {error.summary}", unreachable))
            continue
        if kind == "stream" and on_deleted is not None:
            on_deleted(handle.name)
    return failures
