"""Fault injection and the request log: matching rules, the control routes and the client.

These run against their own :class:`EmbeddedSequinServer` (they test the emulator's extras,
not the Sequin API), so they also run when the suite targets another server.
"""

from __future__ import annotations

import contextlib
import threading
import time
from typing import Iterator

import pytest
import requests

from pytest_sequin.control_client import ControlClient, ControlError, ControlUnavailable, RequestLogView
from pytest_sequin.server import EmbeddedSequinServer
from pytest_sequin.server.faults import FaultTable, default_body, normalize_path, path_matches
from pytest_sequin.server.requestlog import RequestLog


@pytest.mark.parametrize(
    ("pattern", "path", "expected"),
    [
        ("/api/streams/*/messages", "/api/streams/orders/messages", True),
        ("/api/streams/*/messages", "/api/streams/s/consumers/c/messages", False),  # * stays in a segment
        ("/api/streams/*/messages", "/api/streams/s/messages/k", False),
        ("/api/streams/*/messages", "/api/streams//orders/messages/", True),  # empty segments dropped
        ("/api/streams/*", "/api/streams", False),
        ("/api/**", "/api/streams/s/consumers/c/receive", True),
        ("/api/**", "/api", True),  # ** also matches no segment
        ("/**/receive", "/api/streams/s/consumers/c/receive", True),
        ("/api/streams/**/messages", "/api/streams/s/consumers/c/messages", True),
        ("/api/streams/ord?rs", "/api/streams/orders", True),
        ("/api/streams/[ab]*", "/api/streams/beta", True),
        ("/api/streams/[ab]*", "/api/streams/gamma", False),
        ("/api/streams/Orders", "/api/streams/orders", False),  # case-sensitive
        ("/api/streams/pre_*", "/api/streams/pre_x", True),
        ("/", "/", True),
    ],
)
def test_path_patterns_are_globs_segment_by_segment(pattern, path, expected):
    assert path_matches(pattern, path) is expected


def test_normalize_path():
    assert normalize_path("//api/streams///x/") == "/api/streams/x"
    assert normalize_path("") == "/"


def test_faults_apply_in_order_and_run_out():
    table = FaultTable()
    first = table.fail("/api/streams/*/messages", status=503, times=2, method="post")
    catch_all = table.fail("/api/**", times=None)
    assert first.method == "POST"
    assert table.take("GET", "/api/streams/s/messages") is catch_all  # method filter
    assert table.take("POST", "/api/streams/s/messages") is first
    assert table.take("post", "/api/streams/s/messages") is first  # any case
    assert table.take("POST", "/api/streams/s/messages") is catch_all  # first ran out
    assert table.active() == [catch_all]
    assert (first.remaining, first.hits, catch_all.remaining, catch_all.hits) == (0, 2, None, 2)
    assert table.take("GET", "/_other") is None
    assert table.remove(catch_all.id) is True and table.remove(catch_all.id) is False
    assert len(table) == 0


def test_fault_ids_grow_and_clear_counts():
    table = FaultTable()
    a, b = table.fail("/a"), table.delay("/b", 0.5)
    assert b.id == a.id + 1 and (b.action, b.seconds) == ("delay", 0.5)
    assert table.clear() == 2 and table.active() == []


@pytest.mark.parametrize(
    "call",
    [
        lambda t: t.fail("api/streams"),  # no leading slash
        lambda t: t.fail(None),  # type: ignore[arg-type]
        lambda t: t.fail("/a", status=199),
        lambda t: t.fail("/a", status=600),
        lambda t: t.fail("/a", status="500"),  # type: ignore[arg-type]
        lambda t: t.fail("/a", times=0),
        lambda t: t.fail("/a", times=1.5),  # type: ignore[arg-type]
        lambda t: t.fail("/a", method="GET /x"),
        lambda t: t.delay("/a", -1),
        lambda t: t.delay("/a", "1"),  # type: ignore[arg-type]
    ],
)
def test_bad_faults_are_rejected(call):
    with pytest.raises(ValueError):
        call(FaultTable())


def test_fault_answers():
    table = FaultTable()
    assert table.fail("/a").answer() == (
        500,
        "application/json; charset=utf-8",
        b'{"errors": {"detail": "Internal Server Error"}}',
    )
    assert default_body(503) == {"errors": {"detail": "Service Unavailable"}}
    assert default_body(299) == {"errors": {"detail": "Injected fault"}}
    assert table.fail("/a", status=502, body="upstream down").answer() == (
        502,
        "text/plain; charset=utf-8",
        b"upstream down",
    )
    assert (
        table.fail("/a", status=429, body={"summary": "slow down"}).answer()[2] == b'{"summary": "slow down"}'
    )


def test_request_log_is_bounded_and_seq_survives_clear():
    log = RequestLog(maxlen=3)
    for i in range(5):
        log.record("GET", f"/p{i}", "", 200, 0.001, time.time())
    assert [e.path for e in log.entries()] == ["/p2", "/p3", "/p4"]
    assert [e.seq for e in log.entries(since=3)] == [4, 5]
    assert [e.seq for e in log.entries(limit=1)] == [5] and log.entries(limit=0) == []
    assert log.clear() == 3 and len(log) == 0 and log.last_seq == 5
    assert log.record("GET", "/x", "", 200, 0.0, 0.0).seq == 6


# -- over HTTP --------------------------------------------------------------------------------


@pytest.fixture
def server() -> Iterator[EmbeddedSequinServer]:
    with EmbeddedSequinServer() as srv:
        yield srv


@pytest.fixture
def session() -> Iterator[requests.Session]:
    with requests.Session() as s:
        s.trust_env = False
        yield s


def test_the_log_records_api_calls_but_not_control_calls(server, session):
    session.get(f"{server.url}/api/streams//?x=1&y=2", timeout=5)
    session.get(f"{server.url}/api/nope", timeout=5)
    session.head(f"{server.url}/api/streams", timeout=5)
    session.get(f"{server.url}/_pytest_sequin/clock", timeout=5)
    entries = server.requests.entries()
    assert [(e.method, e.path, e.query, e.status) for e in entries] == [
        ("GET", "/api/streams", "x=1&y=2", 200),
        ("GET", "/api/nope", "", 404),
        ("HEAD", "/api/streams", "", 200),
    ]
    assert all(e.duration >= 0 and e.fault is None for e in entries)


def test_failed_requests_do_not_reach_the_engine(server, session):
    server.faults.fail("/api/streams", method="POST")
    answer = session.post(f"{server.url}/api/streams", json={"name": "s"}, timeout=5)
    assert (answer.status_code, answer.json()) == (500, {"errors": {"detail": "Internal Server Error"}})
    assert "s" not in server.engine.streams_by_name
    assert session.post(f"{server.url}/api/streams", json={"name": "s"}, timeout=5).status_code == 200


def test_faults_never_touch_the_control_routes(server, session):
    server.faults.fail("/**", times=None)
    assert session.get(f"{server.url}/_pytest_sequin/faults", timeout=5).status_code == 200
    assert session.get(f"{server.url}/api/streams", timeout=5).status_code == 500


def test_a_times_1_fault_fails_exactly_one_of_many_concurrent_requests(server):
    server.faults.fail("/api/streams", times=1)
    statuses: list[int] = []

    def call() -> None:
        with requests.Session() as s:
            s.trust_env = False
            statuses.append(s.get(f"{server.url}/api/streams", timeout=5).status_code)

    threads = [threading.Thread(target=call) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(statuses) == [200] * 7 + [500]


def test_stop_ends_an_injected_delay_at_once(session):
    srv = EmbeddedSequinServer().start()
    srv.faults.delay("/api/streams", 30)

    def call() -> None:
        with contextlib.suppress(requests.RequestException):  # the stopping server may close it first
            session.get(f"{srv.url}/api/streams", timeout=10)

    caller = threading.Thread(target=call)
    caller.start()
    deadline = time.monotonic() + 5
    while srv.faults.active() and time.monotonic() < deadline:
        time.sleep(0.005)
    started = time.monotonic()
    srv.stop()
    caller.join(5)
    assert time.monotonic() - started < 2


def test_control_routes_validate_their_input(server, session):
    base = f"{server.url}/_pytest_sequin"
    bad = [
        {"path": "/a", "action": "explode"},
        {"path": "no-slash"},
        {"path": "/a", "status": "abc"},
        {"path": "/a", "status": 99},
        {"path": "/a", "times": 0},
        {"path": "/a", "times": "x"},
        {"path": "/a", "action": "delay"},
        {"path": "/a", "action": "delay", "seconds": "soon"},
    ]
    for body in bad:
        answer = session.post(f"{base}/faults", json=body, timeout=5)
        assert answer.status_code == 400 and answer.json()["summary"], body
    assert session.get(f"{base}/requests?since=x", timeout=5).status_code == 400
    assert session.delete(f"{base}/faults/abc", timeout=5).json() == {"deleted": False}
    assert server.faults.active() == []
    # Form and query values are strings: accepted where they are numbers.
    form = session.post(f"{base}/faults", data={"path": "/a", "status": "503", "times": "2"}, timeout=5)
    assert (form.json()["status"], form.json()["remaining"]) == (503, 2)
    forever = session.post(f"{base}/faults", json={"path": "/b", "times": None}, timeout=5).json()
    assert forever["remaining"] is None


def test_control_client_round_trip(server, session):
    client = ControlClient(server.url)
    assert client.available()
    mark = client.last_seq()
    fault = client.fail("/api/streams", status=503, method="GET", body={"summary": "busy"})
    delay = client.delay("/api/streams/*", 0.01, times=None)
    assert [f["id"] for f in client.faults()] == [fault["id"], delay["id"]]
    answer = session.get(f"{server.url}/api/streams", timeout=5)
    assert (answer.status_code, answer.json()) == (503, {"summary": "busy"})
    session.get(f"{server.url}/api/streams/default", timeout=5)
    logged = client.requests(since=mark)
    assert [(e.path, e.status, e.fault) for e in logged] == [
        ("/api/streams", 503, fault["id"]),
        ("/api/streams/default", 200, delay["id"]),
    ]
    assert logged[1].duration >= 0.01
    assert client.requests(since=mark, limit=1) == logged[1:]
    assert client.remove_fault(delay["id"]) is True and client.faults() == []
    assert client.clear_faults() == 0
    view = RequestLogView(client)
    assert view.all() == []
    session.get(f"{server.url}/api/streams", timeout=5)
    assert [e.path for e in view] == ["/api/streams"] and len(view) == 1
    assert view.matching(status=404) == [] and len(view.matching(method="get", path="/api/*")) == 1
    assert client.clear_requests() >= 3 and client.requests() == []
    assert client.advance_clock(5)["offset_seconds"] == 5 and client.clock()["controllable"]
    with pytest.raises(ValueError, match="starts with '/'"):
        client.fail("no-slash")  # refused in the caller's frame, before any request
    with pytest.raises(ValueError, match="from 200 to 599"):
        client.fail("/api/**", status=999)
    with pytest.raises(ValueError, match="from 0 to 3600"):
        client.delay("/api/**", -1)
    assert client.faults() == []
    bad_fault = {"action": "fail", "path": "x"}
    refused = session.post(f"{server.url}/_pytest_sequin/faults", json=bad_fault, timeout=5)
    assert refused.status_code == 400 and "starts with '/'" in refused.text  # the server checks too


def test_control_client_errors():
    with EmbeddedSequinServer() as srv:
        url = srv.url
    with pytest.raises(ControlError, match="failed"):
        ControlClient(url, timeout=2).faults()
    with EmbeddedSequinServer() as srv:
        client = ControlClient(srv.url + "/api")  # every control path is then an unknown /api route
        assert client.available() is False
        with pytest.raises(ControlUnavailable, match="not an embedded pytest-sequin server"):
            client.faults()
