"""Every known 500 of §7.3, each with the exact body and with nothing written."""

from __future__ import annotations

import uuid

import pytest

from ._api import assert_500, unique


def _stream_names(api):
    """Compared by name, not as a whole-server snapshot: in a conformance run (--sequin-url)
    the server is shared with other workers creating streams meanwhile."""
    return {s["name"] for s in api.ok(api.get("/api/streams"))["data"]}


# 1. PUT/PATCH on a stream ------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["PUT", "PATCH"])
def test_1_update_stream(api, stream, method):
    new_names = []
    for target in (stream["name"], stream["id"], unique(), uuid.uuid4().hex):
        new_names.append(unique())
        assert_500(api.request(method, f"/api/streams/{target}", json={"name": new_names[-1]}))
    assert api.get_stream(stream["id"]) == stream
    assert not _stream_names(api) & set(new_names)


# 2. stream table-name collisions (§7.2) -------------------------------------------------------------


def test_2_stream_name_collisions(api, streams):
    base = streams()
    name = base["name"]
    long_a = "L" + uuid.uuid4().hex + "x" * 40  # 73 chars: only the first 54 count
    streams(long_a)
    colliding = [
        name.upper(),
        name[:1].upper() + name[1:],
        name + "\n",
        "seq",
        "pkey",
        "SEQ",
        "stream_id_seq_index",
        "stream_id_key_index",
        "stream_id_token1_index",
        "stream_id_token16_index",
        "default_pkey",
        f"{name}_pkey",
        f"{name}_stream_id_key_idx",
        f"{name}_stream_id_seq_idx",
        f"{name}_stream_id_token3_idx",
        long_a[:54] + "different_suffix",
        long_a[:54].lower(),
    ]
    for candidate in colliding:
        response = api.post("/api/streams", json={"name": candidate})
        streams.track_response(response)
        assert_500(response)
    assert not _stream_names(api) & set(colliding)
    # Not collisions: a 53-character shared prefix, and other names.
    near = streams(long_a[:53] + "Z")
    assert near["name"] == long_a[:53] + "Z"


def test_2_a_freed_table_name_can_be_taken_again(api, streams):
    first = streams()
    api.ok(api.delete(f"/api/streams/{first['id']}"))
    assert streams(first["name"].upper())["name"] == first["name"].upper()


# 3. consumer table-name collisions ----------------------------------------------------------------


def test_3_consumer_name_collisions(api, streams):
    stream = streams()
    s = stream["name"]
    api.create_consumer(s, "worker")
    before = api.ok(api.get(f"/api/streams/{s}/consumers"))["data"]
    for candidate in ("Worker", "WORKER", "worker_pkey"):
        assert_500(
            api.post(f"/api/streams/{s}/consumers", json={"name": candidate, "filter_key_pattern": ">"})
        )
    assert api.ok(api.get(f"/api/streams/{s}/consumers"))["data"] == before
    assert api.get_stream(s)["stats"]["consumer_count"] == 1


def test_3_cross_stream_consumer_collision(api, streams):
    a = streams()
    api.create_consumer(a["name"], "b_c")
    b = streams(a["name"] + "_b")
    assert_500(api.post(f"/api/streams/{b['name']}/consumers", json={"name": "c", "filter_key_pattern": ">"}))
    assert api.ok(api.get(f"/api/streams/{b['name']}/consumers"))["data"] == []


def test_3_long_stream_name_allows_one_consumer_at_a_time(api, streams):
    long_name = "s" + uuid.uuid4().hex + "x" * 11  # 44 characters
    assert len(long_name) == 44
    stream = streams(long_name)
    first = api.create_consumer(long_name, "first")
    assert_500(
        api.post(f"/api/streams/{long_name}/consumers", json={"name": "second", "filter_key_pattern": ">"})
    )
    api.ok(api.delete(f"/api/streams/{long_name}/consumers/{first['id']}"))
    assert api.create_consumer(long_name, "second")["stream_id"] == stream["id"]


def test_3_consumer_name_prefix_counts_up_to_44_minus_stream_length(api, streams):
    stream = streams()  # 12 characters: 32 consumer characters count
    s = stream["name"]
    api.create_consumer(s, "c" * 32 + "_one")
    assert_500(
        api.post(f"/api/streams/{s}/consumers", json={"name": "c" * 32 + "_two", "filter_key_pattern": ">"})
    )
    assert api.create_consumer(s, "c" * 31 + "d_two")["name"] == "c" * 31 + "d_two"


# 4. explicit nulls ---------------------------------------------------------------------------------


@pytest.mark.parametrize("field", ["ack_wait_ms", "max_ack_pending", "max_waiting"])
def test_4_null_on_create(api, stream, field):
    body = {"name": "w", "filter_key_pattern": ">", field: None}
    assert_500(api.post(f"/api/streams/{stream['name']}/consumers", json=body))
    assert api.ok(api.get(f"/api/streams/{stream['name']}/consumers"))["data"] == []


@pytest.mark.parametrize("field", ["ack_wait_ms", "max_ack_pending", "max_waiting", "kind", "status"])
def test_4_null_on_update(api, stream, field):
    consumer = api.create_consumer(stream["name"], "w", ack_wait_ms=5)
    body = {"ack_wait_ms": 7, field: None}
    assert_500(api.put(f"/api/streams/{stream['name']}/consumers/w", json=body))
    assert api.ok(api.get(f"/api/streams/{stream['name']}/consumers/w")) == consumer


# 5. integers outside int32 ------------------------------------------------------------------------


@pytest.mark.parametrize("value", [2**31, -(2**31) - 1, "2147483648", "-2147483649", 10**20])
@pytest.mark.parametrize("field", ["ack_wait_ms", "max_ack_pending", "max_deliver", "max_waiting"])
def test_5_out_of_int32(api, stream, field, value):
    body = {"name": "w", "filter_key_pattern": ">", field: value}
    assert_500(api.post(f"/api/streams/{stream['name']}/consumers", json=body))
    assert api.ok(api.get(f"/api/streams/{stream['name']}/consumers"))["data"] == []
    consumer = api.create_consumer(stream["name"], "w")
    assert_500(
        api.patch(f"/api/streams/{stream['name']}/consumers/w", json={field: value, "status": "disabled"})
    )
    assert api.ok(api.get(f"/api/streams/{stream['name']}/consumers/w")) == consumer


def test_5_int32_bounds_are_fine(api, stream):
    body = api.create_consumer(stream["name"], "w", ack_wait_ms=2**31 - 1, max_ack_pending=-(2**31))
    assert (body["ack_wait_ms"], body["max_ack_pending"]) == (2**31 - 1, -(2**31))


# 6. http_endpoint_id -----------------------------------------------------------------------------


def test_6_endpoint_id_not_a_uuid_on_create(api, stream):
    for value in ("nope", uuid.uuid4().hex, f"urn:uuid:{uuid.uuid4()}"):
        for kind in ("pull", "push"):
            body = {"name": "w", "filter_key_pattern": ">", "kind": kind, "http_endpoint_id": value}
            assert_500(api.post(f"/api/streams/{stream['name']}/consumers", json=body))
    assert api.ok(api.get(f"/api/streams/{stream['name']}/consumers"))["data"] == []


def test_6_endpoint_id_on_update(api, stream):
    push = api.create_consumer(
        stream["name"], "p", kind="push", http_endpoint={"base_url": "http://127.0.0.1:9"}
    )
    pull = api.create_consumer(stream["name"], "q")
    path = f"/api/streams/{stream['name']}/consumers"
    assert_500(api.put(f"{path}/p", json={"http_endpoint_id": str(uuid.uuid4())}))
    assert_500(api.put(f"{path}/p", json={"http_endpoint_id": "nope"}))
    assert_500(api.put(f"{path}/q", json={"kind": "push", "http_endpoint_id": str(uuid.uuid4())}))
    assert_500(api.put(f"{path}/q", json={"http_endpoint_id": "nope"}))
    assert api.ok(api.get(f"{path}/p")) == push
    assert api.ok(api.get(f"{path}/q")) == pull
    # A valid change works: the pull consumer becomes push on the existing endpoint.
    changed = api.update_consumer(stream["name"], "q", kind="push", http_endpoint_id=push["http_endpoint_id"])
    assert (changed["kind"], changed["http_endpoint_id"]) == ("push", push["http_endpoint_id"])
    back = api.update_consumer(stream["name"], "q", kind="pull", http_endpoint_id=None)
    assert (back["kind"], back["http_endpoint_id"]) == ("pull", None)


# 7–9. publish ------------------------------------------------------------------------------------


def test_7_duplicate_key_in_one_batch(api, stream):
    api.publish(stream["name"], [("old", "1")])
    before = api.snapshot(stream["name"])
    for batch in (
        [("a", "1"), ("a", "1")],
        [("new", "1"), ("b", "1"), ("b", "2")],
        [("old", "2"), ("old", "2")],
    ):
        items = [{"key": k, "data": d} for k, d in batch]
        assert_500(api.post(f"/api/streams/{stream['name']}/messages", json={"messages": items}))
    assert api.snapshot(stream["name"]) == before


@pytest.mark.parametrize("key", ["café", "a\tb", "a\nb", "a\x7fb", "a\x01", "€", "a.ü"])
def test_8_non_ascii_or_control_key(api, stream, key):
    consumer = api.create_consumer(stream["name"], "w")
    api.publish(stream["name"], [("old", "1")])
    before = api.snapshot(stream["name"])
    items = [{"key": "fine", "data": "x"}, {"key": key, "data": "x"}, {"key": "old", "data": "2"}]
    assert_500(api.post(f"/api/streams/{stream['name']}/messages", json={"messages": items}))
    assert api.snapshot(stream["name"]) == before
    assert [i["message"]["data"] for i in api.receive(consumer["id"])] == ["1"]


def test_9_bind_parameter_limit(api, stream):
    # 3-token keys: 8 parameters each plus 1; 8192 messages need 65537 > 65535.
    items = [{"key": f"a.b.{i}", "data": ""} for i in range(8192)]
    assert_500(api.post(f"/api/streams/{stream['name']}/messages", json={"messages": items}))
    assert api.list_messages(stream["name"]) == []
    # 1-token keys cost 6: 10922 messages need 65533, 10923 need 65539.
    items = [{"key": f"k{i}", "data": ""} for i in range(10923)]
    assert_500(api.post(f"/api/streams/{stream['name']}/messages", json={"messages": items}))
    assert api.list_messages(stream["name"]) == []
    assert api.publish(stream["name"], items[:10922]) == 10922


# 10–12. receive, ack, nack -------------------------------------------------------------------------


def test_10_shared_name(api, streams):
    a, b = streams(), streams()
    name = unique("w")
    api.create_consumer(a["name"], name)
    api.create_consumer(b["name"], name)
    api.publish(a["name"], [("k", "v")])
    before = api.snapshot(a["name"])
    body = {"ack_ids": [str(uuid.uuid4())], "batch_size": 5}
    for action in ("receive", "ack", "nack"):
        assert_500(api.post(f"/api/streams/{a['name']}/consumers/{name}/{action}", json=body))
    assert api.snapshot(a["name"]) == before


@pytest.mark.parametrize("value", [10.5, 10.0, 1.0, 0.5, 0.001, 1000.0, True, False, None, [1], {"n": 1}])
def test_11_bad_batch_size_types(api, stream, value):
    consumer = api.create_consumer(stream["name"], "w")
    api.publish(stream["name"], [("k", "v")])
    before = api.snapshot(stream["name"])
    assert_500(api.post(f"/api/streams/x/consumers/{consumer['id']}/receive", json={"batch_size": value}))
    assert api.snapshot(stream["name"]) == before


def test_11_array_batch_size_from_the_query(api, stream):
    consumer = api.create_consumer(stream["name"], "w")
    assert_500(api.get(f"/api/streams/x/consumers/{consumer['id']}/receive", params={"batch_size[]": "1"}))
    assert_500(api.get(f"/api/streams/x/consumers/{consumer['id']}/receive", params={"batch_size[a]": "1"}))


def test_12_negative_max_ack_pending(api, stream):
    consumer = api.create_consumer(stream["name"], "w", max_ack_pending="-5")
    api.publish(stream["name"], [("k", "v")])
    before = api.snapshot(stream["name"])
    assert_500(api.get(f"/api/streams/x/consumers/{consumer['id']}/receive", params={"batch_size": 10}))
    assert api.snapshot(stream["name"]) == before


# 13–14. list endpoints -----------------------------------------------------------------------------


def test_13_sixteen_token_key_pattern(api, stream):
    consumer = api.create_consumer(stream["name"], "w")
    for pattern in (".".join(["a"] * 16), ".".join(["*"] * 16), ".".join(["a"] * 15 + ["*"])):
        assert_500(api.get(f"/api/streams/{stream['name']}/messages", params={"key_pattern": pattern}))
        assert_500(
            api.get(
                f"/api/streams/{stream['name']}/consumers/{consumer['id']}/messages",
                params={"key_pattern": pattern},
            )
        )


def test_14_non_string_limit_or_key_pattern(api, stream):
    consumer = api.create_consumer(stream["name"], "w")
    for path in (
        f"/api/streams/{stream['name']}/messages",
        f"/api/streams/{stream['name']}/consumers/{consumer['id']}/messages",
    ):
        for body in ({"limit": 5}, {"limit": "5", "key_pattern": 5}, {"key_pattern": ["a"]}, {"limit": True}):
            assert_500(api.request("GET", path, json=body))
