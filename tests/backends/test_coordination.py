"""Cross-process start-once / stop-once coordination (pytest_sequin.backends.coordination)."""

from __future__ import annotations

import json
import multiprocessing
import os
import time

import pytest

from pytest_sequin.backends.base import SequinUnavailable
from pytest_sequin.backends.coordination import (
    CoordinationError,
    SharedResource,
    _locked,
    run_directory,
)

from . import _mp_helpers


def _log_lines(path):
    with open(path) as fh:
        return [line.split() for line in fh.read().splitlines()]


@pytest.mark.parametrize("nproc", [2, 6])
def test_start_once_stop_once_by_the_last_process(tmp_path, nproc):
    ctx = multiprocessing.get_context("spawn")
    log = str(tmp_path / "log")
    barrier = ctx.Barrier(nproc)
    results = ctx.Queue()
    # Distinct, well separated release delays: the last one to release must stop.
    delays = [0.1 * i for i in range(nproc)]
    procs = [
        ctx.Process(target=_mp_helpers.worker, args=(str(tmp_path), log, barrier, delay, results))
        for delay in delays
    ]
    for proc in procs:
        proc.start()
    outcomes = [results.get(timeout=120) for _ in procs]
    for proc in procs:
        proc.join(timeout=60)
        assert proc.exitcode == 0

    lines = _log_lines(log)
    starts = [line for line in lines if line[0] == "start"]
    stops = [line for line in lines if line[0] == "stop"]
    acquired = [line for line in lines if line[0] == "acquired"]
    assert len(starts) == 1, lines
    assert len(stops) == 1, lines
    assert len(acquired) == nproc
    assert lines[-1][0] == "stop"  # after every acquisition
    assert lines[0][0] == "start"  # nobody got a lease before the start finished

    payloads = {json.dumps(payload, sort_keys=True) for _, payload, _, _, _ in outcomes}
    assert payloads == {json.dumps({"starter": int(starts[0][1]), "value": 42}, sort_keys=True)}
    assert sum(1 for _, _, started, _, _ in outcomes if started) == 1
    stoppers = [(pid, delay) for pid, _, _, stopped, delay in outcomes if stopped]
    assert len(stoppers) == 1
    assert stoppers[0][1] == max(delays)  # the last one to leave
    assert int(stops[0][1]) == stoppers[0][0]


def test_failed_start_is_reported_to_later_processes_without_retrying(tmp_path):
    calls = []

    def bad_start():
        calls.append(1)
        raise SequinUnavailable("pytest-sequin: boom, no engine")

    first = SharedResource(tmp_path, "res", start=bad_start, stop=lambda p: None)
    with pytest.raises(SequinUnavailable, match="boom, no engine"):
        first.acquire()
    second = SharedResource(tmp_path, "res", start=bad_start, stop=lambda p: None)
    with pytest.raises(SequinUnavailable, match="boom, no engine"):
        second.acquire()
    assert calls == [1]


def test_dead_holders_are_pruned_and_a_stale_server_is_cleaned_up(tmp_path):
    ctx = multiprocessing.get_context("spawn")
    proc = ctx.Process(target=_mp_helpers.exit_immediately)
    proc.start()
    proc.join(timeout=60)
    dead_pid = proc.pid
    (tmp_path / "res.json").write_text(
        json.dumps({"version": 1, "status": "running", "holders": [dead_pid], "payload": {"old": True}})
    )
    events = []
    res = SharedResource(
        tmp_path,
        "res",
        start=lambda: events.append("start") or {"new": True},
        stop=lambda p: events.append(p),
    )
    lease = res.acquire()
    assert lease.started_here
    assert lease.payload == {"new": True}
    assert events == [{"old": True}, "start"]
    assert res.holders() == [os.getpid()]
    assert res.release() is True
    assert events[-1] == {"new": True}


def test_release_is_paired_with_acquire(tmp_path):
    stops = []
    a = SharedResource(tmp_path, "res", start=lambda: {"n": 1}, stop=stops.append)
    b = SharedResource(tmp_path, "res", start=lambda: {"n": 2}, stop=stops.append)
    assert a.release() is False  # never acquired: no-op
    assert a.acquire().started_here is True
    lease_b = b.acquire()
    assert lease_b.started_here is False and lease_b.payload == {"n": 1}
    assert a.release() is False
    assert a.release() is False  # double release: no-op, does not steal b's reference
    assert stops == []
    assert b.release() is True
    assert stops == [{"n": 1}]


def test_after_the_last_release_the_next_acquire_starts_again(tmp_path):
    starts = []
    res = SharedResource(
        tmp_path, "res", start=lambda: starts.append(1) or {"k": len(starts)}, stop=lambda p: None
    )
    res.acquire()
    res.release()
    assert res.acquire().payload == {"k": 2}
    res.release()


def test_lock_wait_is_bounded(tmp_path):
    res = SharedResource(tmp_path, "res", start=lambda: {}, stop=lambda p: None, lock_timeout=0.3)
    with _locked(res.lock_path, None):  # flock is per open file: a second open conflicts
        started = time.monotonic()
        with pytest.raises(CoordinationError, match="could not lock"):
            res.acquire()
        assert time.monotonic() - started < 2.0


def test_run_directory_is_per_token(tmp_path):
    a = run_directory("abc123", base=str(tmp_path))
    b = run_directory("../evil/../token", base=str(tmp_path))
    assert a.is_dir() and a.parent == tmp_path and a.name == "pytest-sequin-abc123"
    assert b.parent == tmp_path and "/" not in b.name
    assert run_directory("abc123", base=str(tmp_path)) == a
