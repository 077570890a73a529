"""The Engine driven directly with a frozen ManualClock: exact boundaries HTTP cannot hit.

Exact seq values, ``not_visible_until == now`` (deliverable, shown "delivered" by peek, "available"
by consumer_info), the strict 5-minute retention boundary, and ``app.handle`` without sockets.
"""

from __future__ import annotations

import pytest

from pytest_sequin.server import Engine, ManualClock
from pytest_sequin.server.app import Request, handle
from pytest_sequin.server.errors import ApiError


@pytest.fixture
def clock():
    return ManualClock(frozen=True)


@pytest.fixture
def engine(clock):
    return Engine(clock)


def _setup(engine, **settings):
    engine.create_stream({"name": "s"})
    consumer = engine.create_consumer("s", {"name": "w", "filter_key_pattern": ">", **settings})
    return consumer["id"]


def _publish(engine, *pairs):
    return engine.publish("s", {"messages": [{"key": k, "data": d} for k, d in pairs]})


def _receive(engine, cid, n=10):
    return [(ack_id, m.key, m.data) for ack_id, m in engine.receive(cid, {"batch_size": n})]


def _info(engine, key):
    return engine.message_consumer_info("s", key)[1][0]


def _peek(engine, cid, **params):
    return [(m.key, info) for m, info in engine.peek("s", cid, params)]


def test_default_stream_is_seeded_and_can_be_turned_off(clock):
    assert [s["name"] for s in Engine(clock).list_streams()] == ["default"]
    assert Engine(clock, seed_default_stream=False).list_streams() == []


def test_exact_seq_numbering_from_a_fresh_server(engine):
    engine.create_stream({"name": "s"})
    _publish(engine, ("a", "1"), ("b", "1"))
    seqs = {m.key: m.seq for m in engine.list_messages("s", {})}
    assert seqs == {"b": 1, "a": 2}
    assert _publish(engine, ("a", "2")) == 1  # counter 3, then 4
    assert _publish(engine, ("b", "1")) == 0  # counter 5, lost
    assert _publish(engine, ("c", "1")) == 1  # counter 6
    assert {m.key: m.seq for m in engine.list_messages("s", {})} == {"b": 1, "a": 4, "c": 6}


def test_visibility_deadline_equal_to_now(engine, clock):
    cid = _setup(engine, ack_wait_ms=1000)
    _publish(engine, ("a", "1"))
    [(ack_id, _, _)] = _receive(engine, cid)
    clock.advance(0.999999)
    assert _receive(engine, cid) == []
    assert _info(engine, "a")["state"] == "pending"
    assert _peek(engine, cid, visible="true") == []
    clock.advance(0.000001)  # now == not_visible_until
    assert _info(engine, "a")["state"] == "available"  # pending needs nvu > now
    [(key, info)] = _peek(engine, cid)
    assert (info["state"], info["not_visible_until"]) == ("delivered", info["not_visible_until"])
    assert info["not_visible_until"] is not None  # peek's "available" needs nvu strictly before now
    assert [k for k, _ in _peek(engine, cid, visible="true")] == ["a"]
    assert _peek(engine, cid, visible="false") == []
    assert _receive(engine, cid) == [(ack_id, "a", "1")]  # deliverable at nvu <= now
    clock.advance(1.000001)
    [(key, info)] = _peek(engine, cid)
    assert (info["state"], info["not_visible_until"]) == ("available", None)


def test_ack_wait_zero_is_deliverable_at_the_same_instant(engine):
    cid = _setup(engine, ack_wait_ms=0)
    _publish(engine, ("a", "1"))
    first = _receive(engine, cid)
    assert _receive(engine, cid) == first
    assert _info(engine, "a")["deliver_count"] == 2


def test_retention_boundary_is_strict(engine, clock):
    cid = _setup(engine)
    _publish(engine, ("a", "1"), ("b", "1"), ("c", "1"))
    items = _receive(engine, cid)
    clock.advance(300)  # now == backfill_completed_at + 300 s: still keeping
    engine.ack(cid, {"ack_ids": [items[0][0]]})
    assert _info(engine, items[0][1])["state"] == "acked"
    assert _info(engine, items[0][1])["ack_id"] == items[0][0]
    clock.advance(0.000001)
    assert _info(engine, items[0][1])["ack_id"] is None  # purged
    engine.ack(cid, {"ack_ids": [items[1][0]]})
    assert _info(engine, items[1][1])["ack_id"] is None  # deleted on ack


def test_fanout_to_a_delivered_row_expiring_exactly_now(engine, clock):
    cid = _setup(engine, ack_wait_ms=1000)
    _publish(engine, ("a", "1"))
    [(ack_id, _, _)] = _receive(engine, cid)
    clock.advance(1)
    _publish(engine, ("a", "2"))
    assert _receive(engine, cid) == [(ack_id, "a", "2")]


def test_window_with_pending_redelivery_rows(engine, clock):
    cid = _setup(engine, max_ack_pending=2, ack_wait_ms=1000)
    _publish(engine, ("c", "1"), ("b", "1"), ("a", "1"))
    first = _receive(engine, cid)
    assert [k for _, k, _ in first] == ["a", "b"]
    _publish(engine, ("a", "2"))  # a moves to the end: the window is b, c
    assert [k for _, k, _ in _receive(engine, cid)] == ["c"]
    clock.advance(1)
    assert [k for _, k, _ in _receive(engine, cid)] == ["b", "c"]  # a is outside the window


def test_large_backfill_is_synchronous(engine):
    engine.create_stream({"name": "s"})
    engine.publish("s", {"messages": [{"key": f"k.{i}", "data": ""} for i in range(8000)]})
    engine.publish("s", {"messages": [{"key": f"j.{i}", "data": ""} for i in range(3000)]})
    cid = engine.create_consumer("s", {"name": "w", "filter_key_pattern": ">"})["id"]
    assert len(engine.receive(cid, {"batch_size": 1000})) == 1000
    assert len(engine.peek("s", cid, {"limit": "10000"})) == 10000


def test_errors_carry_status_and_body(engine):
    with pytest.raises(ApiError) as info:
        engine.get_stream("nope")
    assert (info.value.status, info.value.body) == (
        404,
        {"summary": "Not found: No `stream` found matching the provided ID or name"},
    )
    with pytest.raises(ApiError) as info:
        engine.publish("default", {"messages": [{"key": "a", "data": ""}, {"key": "a", "data": ""}]})
    assert (info.value.status, info.value.body, info.value.framework) == (
        500,
        {"errors": {"detail": "Internal Server Error"}},
        True,
    )
    assert info.value.cause  # the log names the real-server failure


def test_update_noop_does_not_bump_updated_at(engine, clock):
    _setup(engine, ack_wait_ms=5)
    before = engine.get_consumer("s", "w")
    clock.advance(5)
    assert engine.update_consumer("s", "w", {"ack_wait_ms": "5", "name": "x"}) == before
    assert engine.update_consumer("s", "w", {"ack_wait_ms": 6})["updated_at"] != before["updated_at"]


# -- app.handle without sockets -------------------------------------------------------------------


def test_handle_routes_and_renders(engine):
    response = handle(engine, Request("GET", "/api/streams", {}))
    assert (response.status, response.content_type) == (200, "application/json; charset=utf-8")
    response = handle(engine, Request("GET", "/api/nope", {}))
    assert (response.status, response.content_type, response.body) == (
        404,
        "text/html; charset=utf-8",
        b"Not Found",
    )
    response = handle(engine, Request("GET", "/api/nope", {"accept": "application/json"}))
    assert response.body == b'{"errors":{"detail":"Not Found"}}'


def test_routes_answer_the_same_from_the_match_cache(engine, monkeypatch):
    """app._ROUTE_CACHE keeps matched paths; a full cache starts over, and paths that fail to
    match (404, bad percent-encoding) are never kept, so they keep failing."""
    from pytest_sequin.server import app

    monkeypatch.setattr(app, "_ROUTE_CACHE", {})
    monkeypatch.setattr(app, "_ROUTE_CACHE_SIZE", 2)
    engine.create_stream({"name": "s"})
    json_accept = {"accept": "application/json"}
    paths = ["/api/streams/s", "/api/streams/%73", "/api//streams/s/", "/api/streams/s/consumers"]
    for _ in range(3):
        for path in paths:
            response = handle(engine, Request("GET", path, json_accept))
            assert response.status == 200, path
        assert len(app._ROUTE_CACHE) <= 2
        assert handle(engine, Request("GET", "/api/streams/%zz", json_accept)).status == 400
        assert handle(engine, Request("GET", "/api/streamz/s", json_accept)).status == 404
        assert handle(engine, Request("DELETE", "/api/streams/s/consumers", json_accept)).status == 404
        assert "/api/streams/%zz" not in app._ROUTE_CACHE and "/api/streamz/s" not in app._ROUTE_CACHE
    named = handle(engine, Request("GET", "/api/streams/%73", json_accept)).body
    assert b'"name":"s"' in named


def test_an_emulator_crash_is_answered_as_a_json_500(engine, monkeypatch, caplog):
    def broken():
        raise RuntimeError("boom")

    monkeypatch.setattr(engine, "list_streams", broken)
    response = handle(engine, Request("GET", "/api/streams", {"accept": "*/*"}))
    assert (response.status, response.body) == (500, b'{"errors":{"detail":"Internal Server Error"}}')
    assert "boom" in caplog.text


def test_next_change_is_the_first_visibility_deadline_or_the_purge_of_kept_acked_rows(engine, clock):
    """What push delivery sleeps until when it finds nothing to do (O(1), no scan of rows)."""
    cid = _setup(engine, ack_wait_ms=1000, max_ack_pending=1)
    consumer = engine.consumers[cid]
    now = clock.now_us()
    assert consumer.next_change_us(now) is None  # nothing in flight, nothing kept
    _publish(engine, ("a", "1"), ("b", "2"))
    [(ack_id, key, _)] = _receive(engine, cid)
    assert key == "b"  # the lower seq: the last element of a request is written first
    assert consumer.next_change_us(now) == now + 1_000_000  # the row's visibility deadline
    engine.ack(cid, {"ack_ids": [ack_id]})  # kept (young consumer), and it fills the window
    assert _receive(engine, cid) == []
    purge = consumer.backfill_completed_at + 300 * 1_000_000 + 1
    assert consumer.next_change_us(now) == now + 1_000_000  # a stale timer entry: wakes early
    clock.advance(1.5)
    assert _receive(engine, cid) == []  # pops the passed timer; the acked row still blocks
    assert consumer.next_change_us(clock.now_us()) == purge
    clock.advance(300)
    assert consumer.next_change_us(clock.now_us()) is None  # past the purge: the next receive does it
    assert [k for _, k, _ in _receive(engine, cid)] == ["a"]
