"""Cross-process "start once, stop after the last user" coordination, stdlib only.

pytest-xdist runs tests in several worker processes, but a Docker-backed Sequin should be
started once per run and shared.  All workers of one run see the same directory (the
parent of pytest's ``basetemp``, or :func:`run_directory` with xdist's ``testrunuid``);
in it live a lock file and a JSON state file::

    {"status": "running", "holders": [pid, pid, ...], "payload": {...}}

* :meth:`SharedResource.acquire`: under the lock, the first caller runs ``start()``
  (others block on the lock meanwhile, so they never see a half-started server) and
  stores its JSON-serialisable payload (URL, container ids...); later callers just add
  their pid and read the payload.  A failed start is recorded, so the other workers fail
  at once with the same message instead of each waiting for its own timeout.
* :meth:`SharedResource.release`: removes one pid; whoever removes the last one runs
  ``stop(payload)``.
* Holders whose process is gone (a worker killed by ``--max-worker-restart`` or by a
  crash) are pruned on every acquire/release, so the last *live* user still stops it.
  If every process dies, nobody stops it: that is the reaper's (Ryuk's) job.

The lock is ``fcntl.flock`` on POSIX and ``msvcrt.locking`` on Windows; both are released
by the OS if the holder dies, so a crash cannot wedge the other workers.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping, Optional

from pytest_sequin.backends.base import SequinUnavailable

__all__ = ["CoordinationError", "Lease", "SharedResource", "run_directory"]

_STATE_VERSION = 1
_RUNNING = "running"
_FAILED = "failed"
_STOPPED = "stopped"


class CoordinationError(RuntimeError):
    """The lock could not be taken in time, or the state file is unusable."""


def run_directory(run_token: str, base: Optional[str] = None) -> Path:
    """A directory private to one test run, shared by its workers.

    ``run_token`` must be the same in every worker of a run and different between runs
    (xdist's ``workerinput["testrunuid"]`` in workers, and the controller's own token).
    """
    safe = re.sub(r"[^A-Za-z0-9_.-]", "_", run_token) or "run"
    path = Path(base or tempfile.gettempdir()) / f"pytest-sequin-{safe}"
    path.mkdir(parents=True, exist_ok=True)
    return path


@dataclass(frozen=True)
class Lease:
    """What :meth:`SharedResource.acquire` hands out: the payload, and whether this call started it."""

    payload: dict[str, Any]
    started_here: bool


def _pid_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    if os.name == "nt":  # no cheap, reliable check without ctypes: assume alive
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    except OSError:
        return True
    return True


@contextlib.contextmanager
def _locked(path: Path, timeout: Optional[float]) -> Iterator[None]:
    """Hold an exclusive OS lock on ``path``; wait at most ``timeout`` seconds (None: forever)."""
    fd = os.open(str(path), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        deadline = None if timeout is None else time.monotonic() + timeout
        delay = 0.01
        while True:
            try:
                _try_lock(fd)
                break
            except OSError:
                if deadline is not None and time.monotonic() >= deadline:
                    raise CoordinationError(
                        f"pytest-sequin: could not lock {path} within {timeout:g}s "
                        "(another pytest process is holding it)"
                    ) from None
                time.sleep(delay)
                delay = min(delay * 2, 0.2)
        try:
            yield
        finally:
            _unlock(fd)
    finally:
        os.close(fd)


if os.name == "nt":  # pragma: no cover - exercised on Windows only
    import msvcrt

    def _try_lock(fd: int) -> None:
        os.lseek(fd, 0, os.SEEK_SET)
        msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)  # type: ignore[attr-defined]  # Windows only

    def _unlock(fd: int) -> None:
        os.lseek(fd, 0, os.SEEK_SET)
        msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)  # type: ignore[attr-defined]  # Windows only

else:
    import fcntl

    def _try_lock(fd: int) -> None:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)

    def _unlock(fd: int) -> None:
        fcntl.flock(fd, fcntl.LOCK_UN)


class SharedResource:
    """A resource started by the first of several processes and stopped by the last.

    ``start()`` returns a JSON-serialisable mapping (the payload every process gets);
    ``stop(payload)`` must work from *any* process (e.g. remove containers by id), since
    the last process to leave is not necessarily the one that started it.  Use one
    instance per process; ``acquire``/``release`` pair up per instance, and an extra
    ``release`` is a no-op.
    """

    def __init__(
        self,
        directory: os.PathLike[str] | str,
        name: str,
        start: Callable[[], Mapping[str, Any]],
        stop: Callable[[Mapping[str, Any]], None],
        *,
        lock_timeout: Optional[float] = None,
    ) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.lock_path = self.directory / f"{name}.lock"
        self.state_path = self.directory / f"{name}.json"
        self._start = start
        self._stop = stop
        self._lock_timeout = lock_timeout
        self._held = 0

    # -- state file ---------------------------------------------------------------------
    def _read(self) -> Optional[dict[str, Any]]:
        try:
            text = self.state_path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        try:
            state = json.loads(text)
        except ValueError as exc:
            raise CoordinationError(
                f"pytest-sequin: unreadable state file {self.state_path}: {exc}"
            ) from None
        if not isinstance(state, dict) or state.get("version") != _STATE_VERSION:
            raise CoordinationError(f"pytest-sequin: unexpected state in {self.state_path}: {text[:200]!r}")
        return state

    def _write(self, state: dict[str, Any]) -> None:
        state = {"version": _STATE_VERSION, **state}
        fd, tmp = tempfile.mkstemp(dir=str(self.directory), prefix=self.state_path.name, suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump(state, fh)
            os.replace(tmp, self.state_path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise

    @staticmethod
    def _live_holders(state: Mapping[str, Any]) -> list[int]:
        return [pid for pid in state.get("holders", []) if _pid_alive(int(pid))]

    # -- public API -----------------------------------------------------------------------
    def acquire(self) -> Lease:
        """Join the shared resource, starting it if this is the first live user.

        Raises whatever ``start()`` raised in this process; in the other processes, a
        :class:`SequinUnavailable` carrying the recorded message of that failure.
        """
        with _locked(self.lock_path, self._lock_timeout):
            state = self._read()
            if state is not None and state.get("status") == _FAILED:
                raise SequinUnavailable(
                    str(state.get("error") or "pytest-sequin: shared server failed to start")
                )
            if state is not None and state.get("status") == _RUNNING:
                holders = self._live_holders(state)
                if holders:
                    holders.append(os.getpid())
                    self._write({"status": _RUNNING, "holders": holders, "payload": state["payload"]})
                    self._held += 1
                    return Lease(dict(state["payload"]), started_here=False)
                # Every previous user died without releasing: clean up, then start afresh.
                with contextlib.suppress(Exception):
                    self._stop(state["payload"])
            try:
                payload = dict(self._start())
            except BaseException as exc:
                self._write({"status": _FAILED, "holders": [], "error": str(exc) or type(exc).__name__})
                raise
            self._write({"status": _RUNNING, "holders": [os.getpid()], "payload": payload})
            self._held += 1
            return Lease(payload, started_here=True)

    def release(self) -> bool:
        """Leave; stop the resource if this was the last live user.  Returns True if it stopped it.

        The state is marked stopped even if ``stop()`` raises (the error propagates), so
        nobody tries to reuse a half-stopped server.
        """
        if self._held <= 0:
            return False
        self._held -= 1
        with _locked(self.lock_path, self._lock_timeout):
            state = self._read()
            if state is None or state.get("status") != _RUNNING:
                return False
            holders = self._live_holders(state)
            with contextlib.suppress(ValueError):
                holders.remove(os.getpid())
            if holders:
                self._write({"status": _RUNNING, "holders": holders, "payload": state["payload"]})
                return False
            self._write({"status": _STOPPED, "holders": [], "payload": state["payload"]})
            self._stop(state["payload"])
            return True

    def holders(self) -> list[int]:
        """Pids currently registered (for diagnostics and tests)."""
        with _locked(self.lock_path, self._lock_timeout):
            state = self._read()
            return [] if state is None or state.get("status") != _RUNNING else list(state.get("holders", []))
