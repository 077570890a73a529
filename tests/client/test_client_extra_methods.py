"""The methods sequin-py lacks: list/get/update/peek/message lookups, same (result, error) style."""

from __future__ import annotations

import pytest
from client_test_helpers import json_reply

from pytest_sequin.client import SequinClient

STREAM_404 = {"status": 404, "summary": "Not found: No `stream` found matching the provided ID or name"}
CONSUMER_404 = {"status": 404, "summary": "Not found: No `consumer` found matching the provided ID or name"}
MESSAGE_404 = {"status": 404, "summary": "Not found: No `message` found matching the provided ID or name"}


def test_list_and_get_streams(client, stream_name, unique):
    streams, error = client.list_streams()
    assert error is None
    mine = [s for s in streams if s["name"] == stream_name]
    assert len(mine) == 1 and "stats" in mine[0]
    by_name, error = client.get_stream(stream_name)
    assert error is None and by_name["name"] == stream_name
    by_id, error = client.get_stream(by_name["id"])
    assert error is None and by_id["id"] == by_name["id"]
    assert client.get_stream(unique("missing")) == (None, STREAM_404)


def test_get_stream_non_canonical_uuid_is_framework_400(client):
    # 32-hex v4 ids are classified as ids but cannot be cast: a framework error without summary.
    assert client.get_stream("0123456789ab4def8123456789abcdef") == (
        None,
        {"status": 400, "summary": "Unknown error"},
    )


def test_list_get_update_consumers(client, stream_name, unique):
    name = unique("c")
    created, _ = client.create_consumer(stream_name, name, "a.*")
    consumers, error = client.list_consumers(stream_name)
    assert error is None and [c["id"] for c in consumers] == [created["id"]]
    got, error = client.get_consumer(stream_name, name)
    assert error is None and got == created
    assert client.get_consumer(stream_name, created["id"])[0]["name"] == name
    assert client.get_consumer(stream_name, unique("missing")) == (None, CONSUMER_404)
    assert client.list_consumers(unique("missing")) == (None, STREAM_404)

    updated, error = client.update_consumer(
        stream_name, name, {"ack_wait_ms": 5000, "max_ack_pending": 7, "filter_key_pattern": "x"}
    )
    assert error is None
    assert (updated["ack_wait_ms"], updated["max_ack_pending"]) == (5000, 7)
    assert updated["filter_key_pattern"] == "a.*"  # cannot change; silently ignored
    res, error = client.update_consumer(stream_name, name, {"max_ack_pending": "many"})
    assert res is None and error == {"status": 422, "summary": "Validation failed"}
    assert client.update_consumer(stream_name, unique("missing"), {}) == (None, CONSUMER_404)
    assert client.update_consumer(stream_name, name) == (client.get_consumer(stream_name, name)[0], None)


def test_get_consumer_of_another_stream_is_404(client, stream_name, cleanup, unique):
    other = cleanup(unique("s"))
    client.create_stream(other)
    name = unique("c")
    client.create_consumer(other, name, ">")
    assert client.get_consumer(stream_name, name) == (None, CONSUMER_404)


def test_list_messages_params(client, stream_name):
    client.send_messages(stream_name, [{"key": f"a.{i}", "data": str(i)} for i in range(5)])
    client.send_message(stream_name, "b.1", "x")
    messages, error = client.list_messages(stream_name)
    assert error is None and len(messages) == 6
    seqs = [m["seq"] for m in messages]
    assert seqs == sorted(seqs)
    desc, _ = client.list_messages(stream_name, sort="seq_desc", limit=2)
    assert [m["seq"] for m in desc] == sorted(seqs, reverse=True)[:2]
    only_b, _ = client.list_messages(stream_name, key_pattern="b.>")
    assert [m["key"] for m in only_b] == ["b.1"]
    assert client.list_messages(stream_name, sort="up") == (
        None,
        {"status": 400, "summary": "Invalid sort parameter"},
    )
    assert client.list_messages(stream_name, limit=0) == (
        None,
        {"status": 400, "summary": "Invalid limit parameter"},
    )
    assert client.list_messages(stream_name, key_pattern="a..b") == (
        None,
        {"status": 400, "summary": "Invalid key pattern: Key pattern must not contain empty tokens"},
    )
    assert client.list_messages("nope_" + stream_name) == (None, STREAM_404)


def test_get_message_is_not_unwrapped(client, stream_name, sdk):
    client.send_message(stream_name, "greeting.1", "Hello")
    message, error = client.get_message(stream_name, "greeting.1")
    assert error is None
    assert isinstance(message, dict)
    assert message["key"] == "greeting.1" and message["data"] == "Hello"
    assert {"seq", "data_hash", "stream_id", "inserted_at", "updated_at"} <= set(message)
    # sequin-py's generic rule would have returned the payload string instead.
    assert sdk._request(f"/api/streams/{stream_name}/messages/greeting.1", "GET") == ("Hello", None)


def test_get_message_errors(client, stream_name, unique):
    assert client.get_message(stream_name, "nothing.here") == (None, MESSAGE_404)
    assert client.get_message(unique("missing"), "k") == (None, STREAM_404)
    assert client.get_message_consumer_info(stream_name, "nothing.here") == (None, MESSAGE_404)


def test_message_consumer_info(client, stream_name, unique):
    matching, other = unique("c"), unique("c")
    client.create_consumer(stream_name, matching, "k.*")
    client.create_consumer(stream_name, other, "z.*")
    client.send_message(stream_name, "k.1", "v")
    info, error = client.get_message_consumer_info(stream_name, "k.1")
    assert error is None
    assert info["message"]["key"] == "k.1"
    assert [(e["consumer_name"], e["state"]) for e in info["consumer_info"]] == [(matching, "available")]
    client.receive_message(stream_name, matching)
    info, _ = client.get_message_consumer_info(stream_name, "k.1")
    assert info["consumer_info"][0]["state"] == "pending"


def test_list_consumer_messages_and_peek_alias(client, stream_name, unique):
    consumer = unique("c")
    client.create_consumer(stream_name, consumer, ">")
    client.send_messages(stream_name, [{"key": "a.1", "data": "1"}, {"key": "b.1", "data": "2"}])
    peeked, error = client.peek_messages(stream_name, consumer)
    assert error is None and len(peeked) == 2
    assert all(set(p) == {"message", "info"} for p in peeked)
    assert all(p["info"]["state"] == "available" for p in peeked)
    client.receive_message(stream_name, consumer)
    invisible, _ = client.list_consumer_messages(stream_name, consumer, visible=False)
    visible, _ = client.list_consumer_messages(stream_name, consumer, visible=True)
    assert len(invisible) == 1 and len(visible) == 1
    assert invisible[0]["info"]["state"] == "delivered"
    only_b, _ = client.peek_messages(stream_name, consumer, key_pattern="b.*", sort="seq_desc", limit=5)
    assert [p["message"]["key"] for p in only_b] == ["b.1"]
    assert client.peek_messages(stream_name, consumer, visible="maybe") == (
        None,
        {"status": 400, "summary": "Invalid visible parameter"},
    )
    assert client.peek_messages(stream_name, unique("missing")) == (None, CONSUMER_404)


@pytest.mark.parametrize("method", ["list_messages", "list_consumer_messages"])
def test_params_are_only_sent_when_given(method, fake_server):
    server = fake_server(lambda request: json_reply(200, {"data": []}))
    client = SequinClient(server.url)
    args = ["s"] if method == "list_messages" else ["s", "c"]
    assert getattr(client, method)(*args) == ([], None)
    assert "?" not in server.requests[-1].target
    getattr(client, method)(*args, limit=5, key_pattern="a.>")
    assert server.requests[-1].target.endswith("?limit=5&key_pattern=a.%3E")
