"""Deleting what tests created: per test, and a safety net for the whole session.

Kept free of pytest so its rules can be tested alone:

* a stream or consumer that is already gone is fine (the test may have deleted it);
* deleting a stream deletes its consumers on the server, so consumers are only deleted one
  by one when their stream is not being deleted too;
* deletes go through a client with a short timeout and share a deadline, and once the server
  proved unreachable the :class:`Breaker` stops further attempts, so a dead or hung server
  costs one timeout per session, not one per test;
* failures are collected, not raised: a passing test is never failed by teardown, and the
  plugin reports an unreachable server once.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any, Callable, Iterable

from pytest_sequin.client import SequinClient, SequinError

#: How long one test's cleanup may take in all before the rest is reported as not deleted.
DEFAULT_DEADLINE = 15.0
#: The timeout of each cleanup request (at most; a smaller --sequin-timeout wins).
CLEANUP_REQUEST_TIMEOUT = 10.0


@dataclass(frozen=True)
class CleanupFailure:
    kind: str  # "stream" or "consumer"
    name: str
    reason: str
    unreachable: bool  # no HTTP answer at all (server down or hung), as opposed to an error answer

    def __str__(self) -> str:
        return f"{self.kind} {self.name}: {self.reason}"


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


class Breaker:
    """Remembers that the server stopped answering, so later cleanups do not wait again."""

    def __init__(self) -> None:
        self.reason: str | None = None

    def trip(self, reason: str) -> None:
        if self.reason is None:
            self.reason = reason


def _is_unreachable(error: SequinError) -> bool:
    """The client reports transport failures (refused, reset, timed out) as 500 with no body."""
    return error.body is None and error.status == 500


def _delete(client: SequinClient, path: str) -> None:
    try:
        client._call("DELETE", path, unwrap=False)
    except SequinError as error:
        if error.status != 404:
            raise


def delete_all(
    client: SequinClient,
    streams: Iterable[Any],
    consumers: Iterable[Any],
    *,
    breaker: Breaker | None = None,
    deadline: float = DEFAULT_DEADLINE,
    on_deleted: Callable[[str], None] | None = None,
) -> list[CleanupFailure]:
    """Delete ``consumers`` whose stream is not in ``streams``, then ``streams``, through
    ``client`` (by id, so a stream re-created under the same name is not touched).

    Returns what could not be deleted.
    """
    breaker = breaker or Breaker()
    streams = list(streams)
    doomed = {s.id for s in streams}
    work: list[tuple[str, Any]] = [("consumer", c) for c in consumers if c.stream_id not in doomed]
    work += [("stream", s) for s in streams]
    failures: list[CleanupFailure] = []
    end = time.monotonic() + deadline
    for kind, handle in work:
        if breaker.reason is not None:
            reason = f"not attempted: the server stopped answering earlier ({breaker.reason})"
            failures.append(CleanupFailure(kind, handle.name, reason, True))
            continue
        if time.monotonic() > end:
            failures.append(
                CleanupFailure(kind, handle.name, f"cleanup deadline of {deadline:g} s passed", False)
            )
            continue
        try:
            _delete(client, handle._path)
        except SequinError as error:
            unreachable = _is_unreachable(error)
            if unreachable:
                breaker.trip(error.summary)
            failures.append(CleanupFailure(kind, handle.name, f"{error.status} {error.summary}", unreachable))
            continue
        if kind == "stream" and on_deleted is not None:
            on_deleted(handle.name)
    return failures


def delete_run_streams(
    client: SequinClient, run_prefix: str, keep: Iterable[str] = ()
) -> list[CleanupFailure]:
    """Delete every stream of this run still on the server (by name prefix).

    The last safety net on a shared server: it also catches streams of an xdist worker that
    died, and streams a test re-created by name.
    """
    streams, error = client.list_streams()
    if error:
        return [CleanupFailure("stream", f"{run_prefix}*", f"{error['status']} {error['summary']}", True)]
    kept = set(keep)
    failures = []
    for stream in streams or []:
        name = stream["name"]
        if name.startswith(run_prefix) and name not in kept:
            _, error = client.delete_stream(stream["id"])
            if error and error["status"] != 404:
                failures.append(
                    CleanupFailure("stream", name, f"{error['status']} {error['summary']}", False)
                )
    return failures
