"""Delivery semantics over HTTP: window, visibility, ack/nack, fan-out, retention (§4).

Time moves with ``clock_control`` (never sleep); those tests skip on a real server.
"""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from ._api import TS_US, UUID4, assert_500, keys_of, unique


def _t(stamp: str) -> datetime:
    return datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=timezone.utc)


def _ms(a: str, b: str) -> float:
    return (_t(b) - _t(a)).total_seconds() * 1000


@pytest.fixture
def s(stream):
    return stream["name"]


def _info(api, s, consumer, key):
    return api.info_of(s, consumer["id"], key)


def _peek_one(api, s, consumer, key):
    rows = [r for r in api.peek(s, consumer["id"]) if r["message"]["key"] == key]
    return rows[0]["info"] if rows else None


# -- backfill (§4.8) --------------------------------------------------------------------------


def test_new_consumer_gets_the_matching_history_oldest_first(api, s):
    api.publish(s, [("orders.2", "x")])
    api.publish(s, [("orders.1", "x"), ("other.1", "y"), ("orders.1.deep", "z")])
    api.publish(s, [("orders.2", "changed")])
    consumer = api.create_consumer(s, "w", "orders.*")
    items = api.receive(consumer["id"])
    assert keys_of(items) == ["orders.1", "orders.2"]
    assert items[1]["message"]["data"] == "changed"
    assert all(item["ack_id"] == UUID4 for item in items)
    assert len({item["ack_id"] for item in items}) == 2


def test_consumer_info_and_peek_of_fresh_rows(api, s):
    api.publish(s, [("k", "v")])
    consumer = api.create_consumer(s, "w")
    info = _info(api, s, consumer, "k")
    assert info == {
        "consumer_id": consumer["id"],
        "consumer_name": "w",
        "consumer_filter_key_pattern": ">",
        "state": "available",
        "ack_id": UUID4,
        "deliver_count": 0,
        "last_delivered_at": None,
        "not_visible_until": None,
    }
    [row] = api.peek(s, consumer["id"])
    assert row == {
        "message": api.get_message(s, "k"),
        "info": {
            "ack_id": info["ack_id"],
            "deliver_count": 0,
            "last_delivered_at": None,
            "not_visible_until": None,
            "state": "available",
        },
    }


# -- receive selection and the window (§4.1, §4.2) ---------------------------------------------


def test_receive_marks_rows_delivered(api, s):
    consumer = api.create_consumer(s, "w", ack_wait_ms=12345)
    api.publish(s, [("b", "2"), ("a", "1")])
    [item] = api.receive(consumer["id"], 1)
    assert item["message"]["key"] == "a"
    info = _info(api, s, consumer, "a")
    assert info["state"] == "pending"
    assert info["ack_id"] == item["ack_id"]
    assert info["deliver_count"] == 1
    assert info["last_delivered_at"] == TS_US
    assert _ms(info["last_delivered_at"], info["not_visible_until"]) == 12345
    peeked = _peek_one(api, s, consumer, "a")
    assert peeked == {
        **{k: info[k] for k in ("ack_id", "deliver_count", "last_delivered_at", "not_visible_until")},
        "state": "delivered",
    }
    # Not handed out again while invisible.
    assert keys_of(api.receive(consumer["id"])) == ["b"]
    assert api.receive(consumer["id"]) == []


def test_window_counts_available_rows(api, s):
    api.publish(s, [(f"k{i}", "x") for i in range(5)][::-1])
    consumer = api.create_consumer(s, "w", max_ack_pending=3)
    assert keys_of(api.receive(consumer["id"], 10)) == ["k0", "k1", "k2"]
    assert api.receive(consumer["id"], 10) == []


def test_window_stalls_on_kept_acked_rows_of_a_young_consumer(api, s):
    api.publish(s, [(f"k{i}", "x") for i in range(5)][::-1])
    consumer = api.create_consumer(s, "w", max_ack_pending=2)
    items = api.receive(consumer["id"], 10)
    assert keys_of(items) == ["k0", "k1"]
    api.nack(consumer["id"], [items[0]["ack_id"]])
    assert keys_of(api.receive(consumer["id"], 10)) == ["k0"]  # not k2: the window is k0, k1
    api.ack(consumer["id"], [i["ack_id"] for i in items])
    assert [_info(api, s, consumer, k)["state"] for k in ("k0", "k1")] == ["acked", "acked"]
    assert api.receive(consumer["id"], 10) == []  # the stall
    # A re-publish moves k0 to the end: the window becomes k1 (acked), k2.
    api.publish(s, [("k0", "new")])
    assert keys_of(api.receive(consumer["id"], 10)) == ["k2"]


def test_window_recovers_after_the_retention_purge(api, s, clock_control):
    api.publish(s, [(f"k{i}", "x") for i in range(4)][::-1])
    consumer = api.create_consumer(s, "w", max_ack_pending=2)
    api.ack(consumer["id"], [i["ack_id"] for i in api.receive(consumer["id"], 10)])
    assert api.receive(consumer["id"], 10) == []
    clock_control(301)
    assert keys_of(api.receive(consumer["id"], 10)) == ["k2", "k3"]


def test_max_ack_pending_zero_returns_nothing_and_changes_nothing(api, s):
    api.publish(s, [("a", "1")])
    consumer = api.create_consumer(s, "w", max_ack_pending=0)
    before = api.snapshot(s)
    assert api.receive(consumer["id"], 10) == []
    assert api.snapshot(s) == before


def test_negative_max_ack_pending_is_500_on_every_receive(api, s):
    api.publish(s, [("a", "1")])
    consumer = api.create_consumer(s, "w", max_ack_pending=-1)
    before = api.snapshot(s)
    for _ in range(2):
        assert_500(api.get(f"/api/streams/{s}/consumers/{consumer['id']}/receive"))
    assert api.snapshot(s) == before
    api.update_consumer(s, "w", max_ack_pending=1)
    assert keys_of(api.receive(consumer["id"])) == ["a"]


# -- visibility timeout and redelivery (§4.3) ---------------------------------------------------


def test_redelivery_after_the_visibility_timeout(api, s, clock_control):
    consumer = api.create_consumer(s, "w", ack_wait_ms=10000)
    api.publish(s, [("a", "1")])
    [first] = api.receive(consumer["id"])
    assert api.receive(consumer["id"]) == []
    clock_control(9.5)
    assert api.receive(consumer["id"]) == []
    clock_control(1)
    info = _info(api, s, consumer, "a")
    assert info["state"] == "available"  # delivered but expired
    assert info["not_visible_until"] is not None  # the raw, stale value
    peeked = _peek_one(api, s, consumer, "a")
    assert (peeked["state"], peeked["not_visible_until"], peeked["deliver_count"]) == ("available", None, 1)
    [second] = api.receive(consumer["id"])
    assert second == first  # same ack_id, same message
    clock_control(11)
    [third] = api.receive(consumer["id"])
    assert third["ack_id"] == first["ack_id"]
    assert _info(api, s, consumer, "a")["deliver_count"] == 3


def test_max_deliver_is_not_enforced(api, s):
    consumer = api.create_consumer(s, "w", ack_wait_ms=0, max_deliver=1)
    api.publish(s, [("a", "1")])
    ack_ids = {api.receive(consumer["id"])[0]["ack_id"] for _ in range(4)}
    assert len(ack_ids) == 1
    assert _info(api, s, consumer, "a")["deliver_count"] == 4


def test_ack_wait_zero_and_negative_redeliver_on_the_next_call(api, s):
    for name, wait in (("zero", 0), ("neg", -1000)):
        consumer = api.create_consumer(s, name, "k", ack_wait_ms=wait)
        api.publish(s, [("k", name)])
        first = api.receive(consumer["id"])
        assert api.receive(consumer["id"]) == first


def test_settings_changes_apply_to_future_receives_only(api, s, clock_control):
    consumer = api.create_consumer(s, "w", ack_wait_ms=60000)
    api.publish(s, [("a", "1")])
    api.receive(consumer["id"])
    api.update_consumer(s, "w", ack_wait_ms=1000)
    assert api.receive(consumer["id"]) == []  # the old deadline stands
    clock_control(61)
    api.receive(consumer["id"])
    info = _info(api, s, consumer, "a")
    assert _ms(info["last_delivered_at"], info["not_visible_until"]) == 1000


# -- ack (§4.4) and nack (§4.6) -----------------------------------------------------------------


def test_ack_keeps_the_row_as_acked_for_a_young_consumer(api, s):
    consumer = api.create_consumer(s, "w")
    api.publish(s, [("b", "2"), ("a", "1")])
    items = api.receive(consumer["id"], 10)
    before = _info(api, s, consumer, "b")
    api.ack(consumer["id"], [items[1]["ack_id"]])
    after = _info(api, s, consumer, "b")
    assert after == {**before, "state": "acked"}  # not_visible_until keeps its old value
    assert keys_of(api.peek(s, consumer["id"])) == ["a"]  # acked rows are never listed
    # Acking again, or nacking an acked row, changes nothing.
    api.ack(consumer["id"], [items[1]["ack_id"]])
    api.nack(consumer["id"], [items[1]["ack_id"]])
    assert _info(api, s, consumer, "b") == after


def test_nack_makes_rows_available_at_once(api, s):
    consumer = api.create_consumer(s, "w")
    api.publish(s, [("a", "1")])
    [item] = api.receive(consumer["id"])
    api.nack(consumer["id"], [item["ack_id"]])
    info = _info(api, s, consumer, "a")
    assert (info["state"], info["not_visible_until"], info["deliver_count"]) == ("available", None, 1)
    assert api.receive(consumer["id"]) == [item]
    assert _info(api, s, consumer, "a")["deliver_count"] == 2


def test_stale_ack_after_nack_does_not_stop_redelivery(api, s):
    consumer = api.create_consumer(s, "w")
    api.publish(s, [("a", "1")])
    [item] = api.receive(consumer["id"])
    api.nack(consumer["id"], [item["ack_id"]])
    api.ack(consumer["id"], [item["ack_id"]])  # the row is available: no effect
    assert _info(api, s, consumer, "a")["state"] == "available"
    assert api.receive(consumer["id"]) == [item]


def test_nack_of_an_available_row_is_harmless(api, s):
    consumer = api.create_consumer(s, "w")
    api.publish(s, [("a", "1")])
    ack_id = _info(api, s, consumer, "a")["ack_id"]
    api.nack(consumer["id"], [ack_id])
    assert _info(api, s, consumer, "a")["deliver_count"] == 0
    assert api.receive(consumer["id"])[0]["ack_id"] == ack_id


def test_late_ack_from_an_expired_worker_still_acks(api, s, clock_control):
    consumer = api.create_consumer(s, "w", ack_wait_ms=1000)
    api.publish(s, [("a", "1")])
    [first] = api.receive(consumer["id"])
    clock_control(2)
    [second] = api.receive(consumer["id"])  # redelivered to "another worker"
    api.ack(consumer["id"], [first["ack_id"]])
    assert _info(api, s, consumer, "a")["state"] == "acked"
    assert second["ack_id"] == first["ack_id"]


def test_ack_of_an_expired_delivered_row(api, s, clock_control):
    consumer = api.create_consumer(s, "w", ack_wait_ms=1000)
    api.publish(s, [("a", "1")])
    [item] = api.receive(consumer["id"])
    clock_control(2)
    api.ack(consumer["id"], [item["ack_id"]])
    assert _info(api, s, consumer, "a")["state"] == "acked"
    assert api.receive(consumer["id"]) == []


# -- fan-out table (§4.7) -----------------------------------------------------------------------


def test_fanout_new_row_for_a_live_matching_consumer(api, s):
    match = api.create_consumer(s, "m", "a.*")
    other = api.create_consumer(s, "o", "b.*")
    api.publish(s, [("a.1", "x")])
    assert [e["consumer_id"] for e in api.consumer_info(s, "a.1")] == [match["id"]]
    assert keys_of(api.receive(match["id"])) == ["a.1"]
    assert api.receive(other["id"]) == []


def test_fanout_available_row_moves_back_in_order(api, s):
    consumer = api.create_consumer(s, "w")
    api.publish(s, [("b", "1"), ("a", "1")])
    ack_id = _info(api, s, consumer, "a")["ack_id"]
    api.publish(s, [("a", "2")])
    items = api.receive(consumer["id"], 10)
    assert keys_of(items) == ["b", "a"]
    assert items[1]["ack_id"] == ack_id
    assert items[1]["message"]["data"] == "2"


def test_fanout_delivered_row_becomes_pending_redelivery(api, s, clock_control):
    consumer = api.create_consumer(s, "w", ack_wait_ms=10000)
    api.publish(s, [("a", "1")])
    [item] = api.receive(consumer["id"])
    delivered = _info(api, s, consumer, "a")
    assert api.publish(s, [("a", "2")]) == 1
    pending = _info(api, s, consumer, "a")
    assert pending == delivered  # state "pending", same ack_id, count and deadline
    assert _peek_one(api, s, consumer, "a")["state"] == "delivered"
    assert api.peek(s, consumer["id"])[0]["message"]["data"] == "2"
    assert api.receive(consumer["id"]) == []
    # Stays pending_redelivery on another change.
    api.publish(s, [("a", "3")])
    assert api.receive(consumer["id"]) == []
    clock_control(11)
    [again] = api.receive(consumer["id"])
    assert again["ack_id"] == item["ack_id"]
    assert again["message"]["data"] == "3"
    assert _info(api, s, consumer, "a")["deliver_count"] == 2


def test_fanout_to_an_expired_delivered_row_is_deliverable_at_once(api, s, clock_control):
    consumer = api.create_consumer(s, "w", ack_wait_ms=1000)
    api.publish(s, [("a", "1")])
    [item] = api.receive(consumer["id"])
    clock_control(2)
    api.publish(s, [("a", "2")])
    info = _info(api, s, consumer, "a")
    assert info["state"] == "available"
    assert info["not_visible_until"] is not None
    [again] = api.receive(consumer["id"])
    assert (again["ack_id"], again["message"]["data"]) == (item["ack_id"], "2")


def test_ack_of_pending_redelivery_makes_the_new_version_available(api, s):
    consumer = api.create_consumer(s, "w")
    api.publish(s, [("a", "1")])
    [item] = api.receive(consumer["id"])
    api.publish(s, [("a", "2")])
    api.ack(consumer["id"], [item["ack_id"]])
    info = _info(api, s, consumer, "a")
    assert (info["state"], info["not_visible_until"], info["deliver_count"], info["ack_id"]) == (
        "available",
        None,
        1,
        item["ack_id"],
    )
    [again] = api.receive(consumer["id"])
    assert (again["ack_id"], again["message"]["data"]) == (item["ack_id"], "2")
    api.ack(consumer["id"], [again["ack_id"]])
    assert _info(api, s, consumer, "a")["state"] == "acked"


def test_nack_of_pending_redelivery(api, s):
    consumer = api.create_consumer(s, "w")
    api.publish(s, [("a", "1")])
    [item] = api.receive(consumer["id"])
    api.publish(s, [("a", "2")])
    api.nack(consumer["id"], [item["ack_id"]])
    assert api.receive(consumer["id"])[0]["message"]["data"] == "2"


def test_fanout_revives_a_kept_acked_row(api, s):
    consumer = api.create_consumer(s, "w")
    api.publish(s, [("a", "1")])
    [item] = api.receive(consumer["id"])
    api.ack(consumer["id"], [item["ack_id"]])
    # Unchanged data: nothing happens, nothing is redelivered.
    assert api.publish(s, [("a", "1")]) == 0
    assert _info(api, s, consumer, "a")["state"] == "acked"
    assert api.receive(consumer["id"]) == []
    # Changed data: the same row becomes available again.
    assert api.publish(s, [("a", "2")]) == 1
    info = _info(api, s, consumer, "a")
    assert (info["state"], info["ack_id"], info["deliver_count"]) == ("available", item["ack_id"], 1)
    [again] = api.receive(consumer["id"])
    assert (again["ack_id"], again["message"]["data"]) == (item["ack_id"], "2")


def test_unchanged_republish_does_not_touch_delivery_state(api, s):
    consumer = api.create_consumer(s, "w")
    api.publish(s, [("a", "1"), ("b", "1")])
    api.receive(consumer["id"], 1)
    before = api.snapshot(s)
    assert api.publish(s, [("a", "1"), ("b", "1")]) == 0
    assert api.snapshot(s) == before


# -- retention (§4.5) ---------------------------------------------------------------------------


def test_five_minute_retention(api, s, clock_control):
    consumer = api.create_consumer(s, "w", ack_wait_ms=1000)
    api.publish(s, [("c", "1"), ("b", "1"), ("a", "1")])
    items = {i["message"]["key"]: i for i in api.receive(consumer["id"], 10)}
    api.ack(consumer["id"], [items["a"]["ack_id"]])
    assert _info(api, s, consumer, "a")["ack_id"] == items["a"]["ack_id"]
    clock_control(301)
    gone = {
        "consumer_id": consumer["id"],
        "consumer_name": "w",
        "consumer_filter_key_pattern": ">",
        "state": "acked",
        "ack_id": None,
        "deliver_count": None,
        "last_delivered_at": None,
        "not_visible_until": None,
    }
    assert _info(api, s, consumer, "a") == gone  # the kept row was purged
    api.ack(consumer["id"], [items["b"]["ack_id"]])  # acks now delete rows
    assert _info(api, s, consumer, "b") == gone
    assert keys_of(api.peek(s, consumer["id"])) == ["c"]
    # A re-publish after the mark creates a new row.
    api.publish(s, [("a", "2")])
    info = _info(api, s, consumer, "a")
    assert info["ack_id"] != items["a"]["ack_id"]
    assert (info["state"], info["deliver_count"]) == ("available", 0)
    received = api.receive(consumer["id"], 10)
    assert keys_of(received) == ["c", "a"]


def test_backfill_completed_at_null_stops_fanout_and_deletion(api, s, clock_control):
    consumer = api.create_consumer(s, "w")
    api.publish(s, [("a", "1")])
    body = api.update_consumer(s, "w", backfill_completed_at=None)
    assert "backfill_completed_at" not in body
    api.publish(s, [("new", "x")])
    assert _info(api, s, consumer, "new") == {
        "consumer_id": consumer["id"],
        "consumer_name": "w",
        "consumer_filter_key_pattern": ">",
        "state": "available",
        "ack_id": None,
        "deliver_count": None,
        "last_delivered_at": None,
        "not_visible_until": None,
    }
    clock_control(301)
    [item] = api.receive(consumer["id"], 10)
    api.ack(consumer["id"], [item["ack_id"]])
    assert _info(api, s, consumer, "a")["state"] == "acked"
    assert _info(api, s, consumer, "a")["ack_id"] == item["ack_id"]


def test_backfill_completed_at_restarts_the_retention(api, s, clock_control):
    consumer = api.create_consumer(s, "w")
    api.publish(s, [("a", "1"), ("b", "1")])
    clock_control(301)
    api.publish(s, [("clock", "x")])
    now = api.get_message(s, "clock")["inserted_at"]
    api.update_consumer(s, "w", backfill_completed_at=now)
    items = api.receive(consumer["id"], 10)
    api.ack(consumer["id"], [i["ack_id"] for i in items])
    assert {_info(api, s, consumer, k)["state"] for k in ("a", "b", "clock")} == {"acked"}
    assert _info(api, s, consumer, "a")["ack_id"] is not None  # kept, not deleted


def test_received_row_without_its_message_version_is_marked_but_left_out(api, s):
    """§4.1 step 5, reached through PUT backfill_completed_at null then a re-publish."""
    consumer = api.create_consumer(s, "w")
    api.publish(s, [("a", "1"), ("b", "1")])
    api.update_consumer(s, consumer["id"], backfill_completed_at=None)
    api.publish(s, [("b", "2")])  # no fan-out: the row keeps the old seq
    items = api.receive(consumer["id"], 10)
    assert keys_of(items) == ["a"]
    info = _info(api, s, consumer, "b")
    assert (info["state"], info["deliver_count"]) == ("pending", 1)


def test_backfill_completed_at_sent_on_create_is_overwritten(api, s, clock_control):
    """§3.5c: the create's backfill overwrites it with "now"; the consumer is live and young."""
    api.publish(s, [("old", "1")])
    live = api.create_consumer(s, "live", backfill_completed_at=None)
    old = api.create_consumer(s, "old", backfill_completed_at="2000-01-01T00:00:00Z")
    api.publish(s, [("new", "1")])
    assert keys_of(api.receive(live["id"], 10)) == ["old", "new"]
    items = api.receive(old["id"], 10)
    api.ack(old["id"], [i["ack_id"] for i in items])
    assert _info(api, s, old, "old")["ack_id"] is not None  # kept: the 5 minutes run from now
    clock_control(301)
    assert _info(api, s, old, "old")["ack_id"] is None


def test_backfill_completed_at_is_cast(api, s):
    for value in ("yesterday", 5, "2024-13-01T00:00:00Z"):
        response = api.post(
            f"/api/streams/{s}/consumers",
            json={"name": "w", "filter_key_pattern": ">", "backfill_completed_at": value},
        )
        assert response.status_code == 422
        assert response.json()["validation_errors"] == {"backfill_completed_at": ["is invalid"]}


# -- peek filters (§3.11) -----------------------------------------------------------------------


def test_peek_visible_filter_and_states(api, s, clock_control):
    consumer = api.create_consumer(s, "w", ack_wait_ms=5000)
    api.publish(s, [("d", "x"), ("c", "x"), ("b", "x"), ("a", "x")])
    items = api.receive(consumer["id"], 3)  # a, b, c delivered
    api.ack(consumer["id"], [items[0]["ack_id"]])  # a acked
    assert keys_of(api.peek(s, consumer["id"])) == ["b", "c", "d"]
    assert keys_of(api.peek(s, consumer["id"], visible="true")) == ["d"]
    assert keys_of(api.peek(s, consumer["id"], visible="false")) == ["b", "c"]
    assert keys_of(api.peek(s, consumer["id"], sort="seq_desc")) == ["d", "c", "b"]
    assert keys_of(api.peek(s, consumer["id"], limit="1")) == ["b"]
    assert keys_of(api.peek(s, consumer["id"], visible="false", sort="seq_desc", limit="1")) == ["c"]
    clock_control(6)
    assert keys_of(api.peek(s, consumer["id"], visible="true")) == ["b", "c", "d"]
    assert api.peek(s, consumer["id"], visible="false") == []
    assert [r["info"]["state"] for r in api.peek(s, consumer["id"])] == ["available"] * 3
    assert [r["info"]["deliver_count"] for r in api.peek(s, consumer["id"])] == [1, 1, 0]


def test_peek_json_boolean_visible(api, s):
    consumer = api.create_consumer(s, "w")
    api.publish(s, [("a", "x"), ("b", "x")])
    api.receive(consumer["id"], 1)
    path = f"/api/streams/{s}/consumers/w/messages"
    assert keys_of(api.ok(api.request("GET", path, json={"visible": True}))["data"]) == ["a"]
    assert keys_of(api.ok(api.request("GET", path, json={"visible": False}))["data"]) == ["b"]


def test_consumer_info_lists_matching_consumers_in_creation_order(api, s):
    a = api.create_consumer(s, "a", "x.*")
    api.create_consumer(s, "b", "y.*")
    c = api.create_consumer(s, "c", ">")
    api.publish(s, [("x.1", "v")])
    assert [e["consumer_id"] for e in api.consumer_info(s, "x.1")] == [a["id"], c["id"]]


def test_unique_names_per_test():
    assert unique() != unique()
