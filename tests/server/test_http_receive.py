"""Receive, ack and nack: resolution, parameters, validation order, bodies (§3.7)."""

from __future__ import annotations

import uuid

import pytest

from ._api import (
    ACK_IDS_ERROR,
    BATCH_SIZE_ERROR,
    WAIT_FOR_ERROR,
    assert_500,
    assert_framework,
    assert_not_found,
    assert_summary,
    keys_of,
    message_body,
    unique,
)


@pytest.fixture
def worker(api, stream):
    """A consumer on ``stream`` with three messages a, b, c published (in seq order c, b, a)."""
    consumer = api.create_consumer(stream["name"], unique("w"))
    api.publish(stream["name"], [("m.3", "3"), ("m.2", "2"), ("m.1", "1")])
    return consumer


def _receive(api, consumer_ref, method="GET", stream="whatever", **kwargs):
    return api.request(method, f"/api/streams/{stream}/consumers/{consumer_ref}/receive", **kwargs)


def test_receive_body_shape_and_default_batch_size_of_one(api, stream, worker):
    body = api.ok(_receive(api, worker["id"]))
    assert body == {
        "data": [{"ack_id": body["data"][0]["ack_id"], "message": message_body("m.1", "1", stream)}]
    }
    assert body["data"][0]["message"] == api.get_message(stream["name"], "m.1")


def test_receive_returns_ascending_seq(api, stream, worker):
    items = api.receive(worker["id"], 10)
    assert keys_of(items) == ["m.1", "m.2", "m.3"]
    seqs = [item["message"]["seq"] for item in items]
    assert seqs == sorted(seqs)


def test_receive_ignores_the_stream_segment(api, worker):
    for stream_segment in (unique(), str(uuid.uuid4()), "x"):
        assert (
            len(
                api.ok(_receive(api, worker["name"], stream=stream_segment, params={"batch_size": 1}))["data"]
            )
            == 1
        )
    # The non-canonical-id rule does not apply to the ignored segment either.
    assert api.ok(_receive(api, worker["id"], stream=uuid.uuid4().hex))["data"] == []


def test_receive_by_post_with_body_parameters(api, worker):
    body = api.ok(_receive(api, worker["id"], "POST", json={"batch_size": 2}))
    assert keys_of(body["data"]) == ["m.1", "m.2"]


def test_body_batch_size_beats_query(api, worker):
    assert (
        len(
            api.ok(
                _receive(api, worker["id"], "POST", params={"batch_size": "abc"}, json={"batch_size": "2"})
            )["data"]
        )
        == 2
    )
    assert_summary(
        _receive(api, worker["id"], "POST", params={"batch_size": "2"}, json={"batch_size": "0"}),
        400,
        BATCH_SIZE_ERROR,
    )


def test_receive_consumer_resolution(api, worker):
    assert_not_found(_receive(api, unique()), "consumer")
    assert_not_found(_receive(api, str(uuid.uuid4())), "consumer")
    assert_not_found(_receive(api, str(uuid.uuid1())), "consumer")
    assert_not_found(_receive(api, worker["name"].upper()), "consumer")
    assert_framework(_receive(api, worker["id"].replace("-", "")), 400, "Bad Request")
    assert_framework(_receive(api, f"urn:uuid:{worker['id']}"), 400, "Bad Request")
    assert len(api.ok(_receive(api, worker["id"].upper()))["data"]) == 1


@pytest.mark.parametrize(
    "params",
    [
        {"batch_size": "0"},
        {"batch_size": "1001"},
        {"batch_size": "-1"},
        {"batch_size": "abc"},
        {"batch_size": " 5"},
        {"batch_size": "5 "},
        {"batch_size": "1e3"},
        {"batch_size": "5.0"},
        {"batch_size": ""},
        {"batch_size": "0x10"},
    ],
)
def test_bad_batch_size_strings(api, stream, worker, params):
    before = api.snapshot(stream["name"])
    assert_summary(_receive(api, worker["id"], params=params), 400, BATCH_SIZE_ERROR)
    assert api.snapshot(stream["name"]) == before


@pytest.mark.parametrize("value", [0, 1001, -5, 0.0, -0.5, 1000.5, 2**40])
def test_bad_batch_size_json_numbers_out_of_range(api, worker, value):
    assert_summary(_receive(api, worker["id"], "POST", json={"batch_size": value}), 400, BATCH_SIZE_ERROR)


@pytest.mark.parametrize("raw", [b'{"batch_size": 1e400}', b'{"batch_size": -2E999}'])
def test_batch_size_beyond_the_float_range_is_malformed_json(api, worker, raw):
    """Jason cannot read 1e400 (binary_to_float fails): the body parser's framework 400, not the
    batch_size summary, even though the number is out of range."""
    path = f"/api/streams/x/consumers/{worker['id']}/receive"
    answer = api.post(path, data=raw, headers={"Content-Type": "application/json"})
    assert_framework(answer, 400, "Bad Request")


def test_batch_size_huge_integer_is_the_summary_400(api, worker):
    raw = b'{"batch_size": 1' + b"0" * 5000 + b"}"
    path = f"/api/streams/x/consumers/{worker['id']}/receive"
    answer = api.post(path, data=raw, headers={"Content-Type": "application/json"})
    assert_summary(answer, 400, BATCH_SIZE_ERROR)


@pytest.mark.parametrize("value", ["1", "+2", "1000", 1, 1000])
def test_good_batch_sizes(api, worker, value):
    assert api.ok(_receive(api, worker["id"], "POST", json={"batch_size": value}))["data"] is not None


def test_validation_order_consumer_then_batch_size_then_wait_for(api, stream, worker):
    before = api.snapshot(stream["name"])
    assert_not_found(_receive(api, unique(), params={"batch_size": "0", "wait_for": "1"}), "consumer")
    assert_summary(
        _receive(api, worker["id"], params={"batch_size": "0", "wait_for": "1"}), 400, BATCH_SIZE_ERROR
    )
    assert_summary(
        _receive(api, worker["id"], params={"batch_size": "5", "wait_for": "1"}), 400, WAIT_FOR_ERROR
    )
    assert_summary(_receive(api, worker["id"], params={"wait_for": ""}), 400, WAIT_FOR_ERROR)
    assert_summary(_receive(api, worker["id"], "POST", json={"wait_for": None}), 400, WAIT_FOR_ERROR)
    assert api.snapshot(stream["name"]) == before


def test_receive_ignores_status_and_kind(api, stream):
    api.publish(stream["name"], [("a", "1"), ("b", "2")])
    disabled = api.create_consumer(stream["name"], "d", status="disabled")
    push = api.create_consumer(
        stream["name"], "p", kind="push", http_endpoint={"base_url": "http://127.0.0.1:9"}
    )
    assert len(api.receive(disabled["id"], 1)) == 1
    # (The real server's push loop may already have taken some; the receive works regardless.)
    assert _receive(api, push["id"]).status_code == 200


# -- ack and nack -------------------------------------------------------------------------------


@pytest.mark.parametrize("action", ["ack", "nack"])
def test_ack_nack_consumer_404_beats_an_invalid_body(api, action):
    for body in ({}, {"ack_ids": []}, {"ack_ids": "x"}, {"ack_ids": [uuid.uuid4().hex]}):
        assert_not_found(api.post(f"/api/streams/x/consumers/{unique()}/{action}", json=body), "consumer")


@pytest.mark.parametrize("action", ["ack", "nack"])
@pytest.mark.parametrize(
    "body",
    [
        {},
        {"ack_ids": None},
        {"ack_ids": []},
        {"ack_ids": "0b1c2d3e-0000-4000-8000-000000000000"},
        {"ack_ids": [""]},
        {"ack_ids": [None]},
        {"ack_ids": [5]},
        {"ack_ids": ["not-a-uuid"]},
        {"ack_ids": [str(uuid.uuid1())]},
        {"ack_ids": ["00000000-0000-0000-0000-000000000000"]},
        {"ack_ids": [str(uuid.uuid4()), "nope"]},
        # An invalid element wins over a non-canonical one (the cast happens later).
        {"ack_ids": [uuid.uuid4().hex, "nope"]},
        {"ack_ids": {"a": str(uuid.uuid4())}},
    ],
)
def test_ack_nack_invalid_ack_ids(api, stream, worker, action, body):
    before = api.snapshot(stream["name"])
    assert_summary(
        api.post(f"/api/streams/x/consumers/{worker['id']}/{action}", json=body), 400, ACK_IDS_ERROR
    )
    assert api.snapshot(stream["name"]) == before


@pytest.mark.parametrize("action", ["ack", "nack"])
def test_ack_nack_non_canonical_ids_are_a_framework_400(api, stream, worker, action):
    [item] = api.receive(worker["id"], 1)
    before = api.snapshot(stream["name"])
    for bad in (item["ack_id"].replace("-", ""), f"urn:uuid:{item['ack_id']}"):
        response = api.post(
            f"/api/streams/x/consumers/{worker['id']}/{action}", json={"ack_ids": [item["ack_id"], bad]}
        )
        assert_framework(response, 400, "Bad Request")
    assert api.snapshot(stream["name"]) == before


@pytest.mark.parametrize("action", ["ack", "nack"])
def test_ack_nack_accept_unknown_foreign_duplicate_and_upper_case_ids(api, stream, worker, streams, action):
    other = streams()
    foreign_consumer = api.create_consumer(other["name"], unique("f"))
    api.publish(other["name"], [("z", "1")])
    [foreign] = api.receive(foreign_consumer["id"])
    [mine] = api.receive(worker["id"], 1)
    ids = [str(uuid.uuid4()), foreign["ack_id"], mine["ack_id"].upper(), mine["ack_id"], mine["ack_id"]]
    response = api.post(f"/api/streams/{unique()}/consumers/{worker['name']}/{action}", json={"ack_ids": ids})
    assert api.ok(response) == {"success": True}
    # The foreign consumer's row is untouched.
    assert api.peek(other["name"], foreign_consumer["id"])[0]["info"]["deliver_count"] == 1
    assert api.peek(other["name"], foreign_consumer["id"])[0]["info"]["state"] == "delivered"


def test_ack_ids_from_the_query_string_as_array(api, stream, worker):
    [item] = api.receive(worker["id"], 1)
    response = api.post(f"/api/streams/x/consumers/{worker['id']}/ack", params={"ack_ids[]": item["ack_id"]})
    assert api.ok(response) == {"success": True}
    assert api.info_of(stream["name"], worker["id"], "m.1")["state"] == "acked"


def test_shared_consumer_name_is_500_on_receive_ack_nack(api, streams):
    a, b = streams(), streams()
    name = unique("shared")
    ca = api.create_consumer(a["name"], name)
    api.create_consumer(b["name"], name)
    api.publish(a["name"], [("k", "v")])
    before = api.snapshot(a["name"])
    assert_500(_receive(api, name, stream=a["name"]))
    ack_ids = {"ack_ids": [str(uuid.uuid4())]}
    assert_500(api.post(f"/api/streams/{a['name']}/consumers/{name}/ack", json=ack_ids))
    assert_500(api.post(f"/api/streams/{a['name']}/consumers/{name}/nack", json=ack_ids))
    assert api.snapshot(a["name"]) == before
    # By id it still works, and show/peek resolve within the stream.
    assert keys_of(api.receive(ca["id"])) == ["k"]
    assert api.ok(api.get(f"/api/streams/{a['name']}/consumers/{name}"))["id"] == ca["id"]


def test_shared_name_works_again_once_one_is_deleted(api, streams):
    a, b = streams(), streams()
    name = unique("shared")
    api.create_consumer(a["name"], name)
    cb = api.create_consumer(b["name"], name)
    api.publish(b["name"], [("k", "v")])
    assert_500(_receive(api, name))
    api.ok(api.delete(f"/api/streams/{a['name']}/consumers/{name}"))
    [item] = api.ok(_receive(api, name))["data"]
    assert item["message"]["stream_id"] == cb["stream_id"]
