"""StreamHandle / ConsumerHandle / ReceivedMessage / SequinError."""

from __future__ import annotations

import pickle

import pytest

from pytest_sequin.client import (
    ConsumerHandle,
    ReceivedMessage,
    SequinClient,
    SequinError,
    StreamHandle,
)

STREAM_404 = "Not found: No `stream` found matching the provided ID or name"
CONSUMER_404 = "Not found: No `consumer` found matching the provided ID or name"
MESSAGE_404 = "Not found: No `message` found matching the provided ID or name"


# -- streams ---------------------------------------------------------------------------------------


def test_new_stream_and_wrap_existing(client, unique):
    name = unique("s")
    with client.new_stream(name) as stream:
        assert isinstance(stream, StreamHandle)
        assert (stream.name, stream.client) == (name, client)
        assert stream.record["stats"]["message_count"] == 0
        again = client.stream(name)
        assert again == stream and again.id == stream.id
        assert client.stream(stream.id).name == name
    with pytest.raises(SequinError) as excinfo:
        client.stream(name)  # deleted on exit
    assert (excinfo.value.status, excinfo.value.summary) == (404, STREAM_404)


def test_new_stream_generates_unique_names(client):
    with client.new_stream() as a, client.new_stream() as b:
        assert a.name != b.name
        assert a.name.startswith("s_")


def test_new_stream_validation_error(client, stream):
    with pytest.raises(SequinError) as excinfo:
        client.new_stream(stream.name)
    err = excinfo.value
    assert (err.status, err.summary) == (422, "Validation failed")
    assert err.validation_errors == {"name": ["has already been taken"]}
    assert err.request == ("POST", "/api/streams")
    assert "has already been taken" in str(err)


def test_send_send_many_messages_get(stream):
    assert stream.send("a.1", "one") == 1
    assert stream.send("a.1", "one") == 0
    assert stream.send_many({"a.2": "two", "a.3": "three"}) == 2
    assert stream.send_many([("b.1", "x"), ("b.2", "y")]) == 2
    assert stream.send_many([{"key": "c.1", "data": "z", "extra": "ignored"}]) == 1
    assert stream.send_many([]) == 0
    keys = [m["key"] for m in stream.messages()]
    assert sorted(keys) == ["a.1", "a.2", "a.3", "b.1", "b.2", "c.1"]
    seqs = [m["seq"] for m in stream.messages()]
    assert seqs == sorted(seqs)
    assert [m["key"] for m in stream.messages(key_pattern="b.*", sort="seq_desc", limit=1)] in (
        ["b.1"],
        ["b.2"],
    )
    message = stream.get("a.2")
    assert (message["key"], message["data"]) == ("a.2", "two")
    with pytest.raises(SequinError) as excinfo:
        stream.get("nope")
    assert (excinfo.value.status, excinfo.value.summary) == (404, MESSAGE_404)
    assert stream.info()["stats"]["message_count"] == 6


def test_stream_errors_raise(stream):
    with pytest.raises(SequinError) as excinfo:
        stream.send("bad key", "x")
    assert excinfo.value.summary == "Invalid key format: Key contains invalid characters"
    with pytest.raises(SequinError) as excinfo:
        stream.messages(limit=0)
    assert (excinfo.value.status, excinfo.value.summary) == (400, "Invalid limit parameter")


@pytest.mark.parametrize(
    "call",
    [
        lambda s: s.send(1, "x"),
        lambda s: s.send("k", 1),
        lambda s: s.send("k", {"a": 1}),
        lambda s: s.send("k", None),
        lambda s: s.send(b"k", "x"),
        lambda s: s.send_many({"k": 2}),
        lambda s: s.send_many([("k", b"x")]),
        lambda s: s.send_many([{"key": "k"}]),
        lambda s: s.send_many([("k",)]),
        lambda s: s.send_many("k"),
        lambda s: s.send_many(5),
        lambda s: s.get(5),
        lambda s: s.consumer_info(None),
        lambda s: s.new_consumer(5),
        lambda s: s.new_consumer("c", filter_key_pattern=None),
        lambda s: s.consumer(1),
    ],
)
def test_handles_reject_non_strings_before_sending(refused_url, call):
    # The client points at a dead port: had a request been sent, SequinError would come back.
    stream = StreamHandle(SequinClient(refused_url), {"name": "s", "id": "0" * 8})
    with pytest.raises(TypeError):
        call(stream)
    assert stream.client.transport.connections_opened == 0


def test_duplicate_keys_in_one_batch_are_refused_before_sending(refused_url):
    stream = StreamHandle(SequinClient(refused_url), {"name": "s", "id": "x"})
    with pytest.raises(ValueError, match="appears twice"):
        stream.send_many([("k", "1"), ("k", "2")])


def test_client_handle_factories_type_check(refused_url):
    client = SequinClient(refused_url)
    with pytest.raises(TypeError):
        client.new_stream(5)
    with pytest.raises(TypeError):
        client.stream(None)
    assert client.transport.connections_opened == 0


def test_stream_consumers_and_delete(client, unique):
    stream = client.new_stream()
    first = stream.new_consumer(unique("c"))
    second = client.new_consumer(stream.name, filter_key_pattern="x.*", max_ack_pending=5)
    assert [c.id for c in stream.consumers()] == [first.id, second.id]
    assert all(isinstance(c, ConsumerHandle) for c in stream.consumers())
    assert second.record["max_ack_pending"] == 5 and second.record["filter_key_pattern"] == "x.*"
    stream.delete()
    with pytest.raises(SequinError):
        stream.delete()
    stream.delete(missing_ok=True)
    with pytest.raises(SequinError) as excinfo:
        first.info()
    assert excinfo.value.status == 404


def test_consumer_info_of_a_key(stream):
    consumer = stream.new_consumer(filter_key_pattern="k.*")
    stream.send("k.1", "v")
    info = stream.consumer_info("k.1")
    assert info["message"]["key"] == "k.1"
    assert [(e["consumer_id"], e["state"]) for e in info["consumer_info"]] == [(consumer.id, "available")]


# -- consumers -------------------------------------------------------------------------------------


def test_consumer_handle_attributes_and_wrap(client, stream, unique):
    name = unique("c")
    consumer = stream.new_consumer(name, "a.>")
    assert (consumer.name, consumer.stream_name, consumer.stream_id) == (name, stream.name, stream.id)
    assert consumer.record["filter_key_pattern"] == "a.>"
    assert client.consumer(stream.name, name) == consumer
    assert client.consumer(stream, consumer.id).name == name
    assert stream.consumer(name).stream_name == stream.name
    with pytest.raises(SequinError) as excinfo:
        stream.consumer(unique("missing"))
    assert (excinfo.value.status, excinfo.value.summary) == (404, CONSUMER_404)


def test_receive_ack_nack(stream):
    consumer = stream.new_consumer()
    stream.send_many({"a": "1", "b": "2", "c": "3"})
    items = consumer.receive()
    assert [type(i) for i in items] == [ReceivedMessage] * 3
    assert sorted(i.key for i in items) == ["a", "b", "c"]
    assert [i.seq for i in items] == sorted(i.seq for i in items)
    first = items[0]
    assert first.data == first.message["data"] and first.message["key"] == first.key
    assert consumer.receive() == [] and consumer.receive_one() is None
    consumer.nack(first)
    again = consumer.receive_one()
    assert again is not None and (again.ack_id, again.key) == (first.ack_id, first.key)
    consumer.ack(again, items[1].ack_id, [items[2]])
    consumer.ack()  # nothing to ack: no request, no 400
    assert consumer.peek() == []


def test_peek_info_update_refresh(stream):
    consumer = stream.new_consumer(ack_wait_ms=60000)
    stream.send_many([("x.1", "1"), ("y.1", "2")])
    consumer.receive(batch_size=1)
    peeked = consumer.peek()
    assert [p["info"]["state"] for p in peeked] == ["delivered", "available"]
    assert len(consumer.peek(visible=True)) == 1 and len(consumer.peek(visible=False)) == 1
    only_y = consumer.peek(key_pattern="y.*", sort="seq_desc", limit=1)
    assert [p["message"]["key"] for p in only_y] == ["y.1"]
    assert consumer.info()["ack_wait_ms"] == 60000
    updated = consumer.update(max_ack_pending=3, ack_wait_ms=1000)
    assert (updated["max_ack_pending"], updated["ack_wait_ms"]) == (3, 1000)
    assert consumer.record is updated
    assert consumer.refresh().record["max_ack_pending"] == 3
    with pytest.raises(SequinError) as excinfo:
        consumer.update(max_ack_pending="lots")
    assert excinfo.value.validation_errors == {"max_ack_pending": ["is invalid"]}
    with pytest.raises(TypeError):
        consumer.receive(batch_size="10")
    with pytest.raises(SequinError) as excinfo:
        consumer.receive(batch_size=0)
    assert excinfo.value.status == 400


def test_consumer_delete_and_context_manager(stream):
    with stream.new_consumer() as consumer:
        assert consumer.info()["id"] == consumer.id
    with pytest.raises(SequinError):
        consumer.info()
    with pytest.raises(SequinError):
        consumer.delete()
    consumer.delete(missing_ok=True)


def test_handles_work_when_consumer_names_are_shared_across_streams(client, unique):
    # Receive/ack/nack by *name* fail with 500 when two streams have a consumer of that name
    # (§3.7); handles address consumers by id, so they keep working.
    name = unique("c")
    with client.new_stream() as one, client.new_stream() as two:
        c1, c2 = one.new_consumer(name), two.new_consumer(name)
        one.send("k", "v1")
        two.send("k", "v2")
        assert client.receive_message(one.name, name)[1]["status"] == 500
        assert c1.receive_one().data == "v1"
        item = c2.receive_one()
        assert item.data == "v2"
        c2.ack(item)


def test_ack_arguments_are_type_checked(refused_url):
    consumer = ConsumerHandle(
        SequinClient(refused_url), {"name": "c", "id": "i", "stream_id": "s"}, stream_name="s"
    )
    for bad in (5, None, [5], {"ack_id": 5}, {"id": "x"}, b"id"):
        with pytest.raises(TypeError):
            consumer.ack(bad)
        with pytest.raises(TypeError):
            consumer.nack(bad)
    assert consumer.client.transport.connections_opened == 0


# -- SequinError -----------------------------------------------------------------------------------


def test_sequin_error_attributes_str_and_pickle():
    err = SequinError(404, STREAM_404, body={"summary": STREAM_404}, method="GET", path="/api/streams/x")
    assert (err.status, err.summary, err.request) == (404, STREAM_404, ("GET", "/api/streams/x"))
    assert err.error == {"status": 404, "summary": STREAM_404}
    assert str(err) == f"404 {STREAM_404} (GET /api/streams/x)"
    copy = pickle.loads(pickle.dumps(err))
    assert (copy.status, copy.summary, copy.body, copy.request) == (
        err.status,
        err.summary,
        err.body,
        err.request,
    )
    framework = SequinError(400, "Unknown error", body={"errors": {"detail": "Bad Request"}})
    assert "Bad Request" in str(framework)
    assert framework.validation_errors is None


def test_transport_failures_raise_sequin_error(refused_url):
    client = SequinClient(refused_url)
    with pytest.raises(SequinError) as excinfo:
        client.new_stream()
    assert excinfo.value.status == 500
    assert excinfo.value.summary.startswith(f"We can't reach Sequin on {refused_url}.")
    assert excinfo.value.body is None


HANDLE_CALLS_AFTER_DELETE = [
    ("send", lambda s, c: s.send("k", "v"), "POST", "{s}/messages"),
    ("send_many", lambda s, c: s.send_many({"k": "v"}), "POST", "{s}/messages"),
    ("messages", lambda s, c: s.messages(limit=5), "GET", "{s}/messages?limit=5"),
    ("get", lambda s, c: s.get("a/b"), "GET", "{s}/messages/a%2Fb"),
    ("consumer_info", lambda s, c: s.consumer_info("k"), "GET", "{s}/messages/k/consumer_info"),
    ("stream info", lambda s, c: s.info(), "GET", "{s}"),
    ("consumers", lambda s, c: s.consumers(), "GET", "{s}/consumers"),
    ("new_consumer", lambda s, c: s.new_consumer("c_x"), "POST", "{s}/consumers"),
    ("consumer", lambda s, c: s.consumer("c_x"), "GET", "{s}/consumers/c_x"),
    ("stream delete", lambda s, c: s.delete(), "DELETE", "{s}"),
    ("receive", lambda s, c: c.receive(3), "GET", "{c}/receive?batch_size=3"),
    ("receive_one", lambda s, c: c.receive_one(), "GET", "{c}/receive?batch_size=1"),
    ("ack", lambda s, c: c.ack(UNKNOWN_ID), "POST", "{c}/ack"),
    ("nack", lambda s, c: c.nack(UNKNOWN_ID), "POST", "{c}/nack"),
    ("peek", lambda s, c: c.peek(visible=True), "GET", "{c}/messages?visible=true"),
    ("consumer info", lambda s, c: c.info(), "GET", "{c}"),
    ("update", lambda s, c: c.update(ack_wait_ms=1000), "PATCH", "{c}"),
    ("consumer delete", lambda s, c: c.delete(), "DELETE", "{c}"),
]
UNKNOWN_ID = "07240856-96cb-4305-9b2f-620f4b1528a4"


@pytest.mark.parametrize(
    "label, call, method, path", HANDLE_CALLS_AFTER_DELETE, ids=[c[0] for c in HANDLE_CALLS_AFTER_DELETE]
)
def test_every_handle_method_raises_sequin_error_with_the_request(client, label, call, method, path):
    stream = client.new_stream()
    consumer = stream.new_consumer()
    stream.delete()
    with pytest.raises(SequinError) as excinfo:
        call(stream, consumer)
    error = excinfo.value
    assert error.status == 404
    assert error.summary.startswith("Not found: No `") and error.summary == error.body["summary"]
    stream_path = f"/api/streams/{stream.id}"
    expected = path.format(s=stream_path, c=f"{stream_path}/consumers/{consumer.id}")
    assert error.request == (method, expected)
    assert str(error).endswith(f"({method} {expected})")


def test_the_serialize_hint_is_given_for_data_only(refused_url):
    stream = StreamHandle(SequinClient(refused_url), {"name": "s", "id": "0" * 8})
    with pytest.raises(TypeError, match=r"data must be a str, got dict .*serialize it first"):
        stream.send("k", {"total": 1})
    with pytest.raises(TypeError) as excinfo:
        stream.new_consumer("c", 123)
    assert str(excinfo.value) == "filter_key_pattern must be a str, got int (123)"
