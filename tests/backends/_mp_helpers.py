"""Process targets for the coordination tests (module level, so 'spawn' can import them)."""

from __future__ import annotations

import os
import time
from typing import Any

from pytest_sequin.backends.coordination import SharedResource


def _log(path: str, line: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(fd, (line + "\n").encode())
    finally:
        os.close(fd)


def make_resource(directory: str, log_path: str, start_delay: float = 0.3) -> SharedResource:
    def start() -> dict[str, Any]:
        _log(log_path, f"start {os.getpid()}")
        time.sleep(start_delay)  # others pile up on the lock meanwhile
        return {"value": 42, "starter": os.getpid()}

    def stop(payload: Any) -> None:
        _log(log_path, f"stop {os.getpid()} {payload['value']}")

    return SharedResource(directory, "res", start=start, stop=stop, lock_timeout=60)


def worker(directory: str, log_path: str, barrier: Any, release_delay: float, results: Any) -> None:
    res = make_resource(directory, log_path)
    lease = res.acquire()
    _log(log_path, f"acquired {os.getpid()}")
    barrier.wait(timeout=60)  # nobody releases before everyone holds a lease
    time.sleep(release_delay)
    stopped = res.release()
    results.put((os.getpid(), lease.payload, lease.started_here, stopped, release_delay))


def exit_immediately() -> None:
    pass
