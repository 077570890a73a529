"""The published sequin-py 0.1.0 SDK against the server: all twelve methods (Appendix A)."""

from __future__ import annotations

import pytest

from ._api import NOT_FOUND_CONSUMER, NOT_FOUND_STREAM, TS, UUID4, consumer_body, stream_body, unique

Client = pytest.importorskip("sequin.client").Client


@pytest.fixture
def sdk(sequin_base_url, monkeypatch):
    for var in ("HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("NO_PROXY", "*")
    return Client(sequin_base_url)


def test_all_twelve_methods(sdk, api, streams):
    name = unique()
    stream, error = sdk.create_stream(name, {"one_message_per_key": True})
    assert error is None
    streams.track(stream["id"])
    assert stream == stream_body(name)

    consumer, error = sdk.create_consumer(name, "worker", "orders.>", {"ack_wait_ms": 60000})
    assert error is None
    assert consumer == consumer_body("worker", stream, "orders.>", ack_wait_ms=60000)

    assert sdk.send_message(name, "orders.1", "one") == ({"published": 1}, None)
    assert sdk.send_messages(
        name, [{"key": "orders.2", "data": "two"}, {"key": "orders.3", "data": "three"}]
    ) == (
        {"published": 2},
        None,
    )
    assert sdk.send_message(name, "orders.1", "one") == ({"published": 0}, None)

    item, error = sdk.receive_message(name, "worker")
    assert error is None
    assert item == {"ack_id": UUID4, "message": api.get_message(name, "orders.1")}
    assert sdk.ack_message(name, "worker", item["ack_id"]) == ({"success": True}, None)

    items, error = sdk.receive_messages(name, "worker")
    assert error is None
    assert [i["message"]["key"] for i in items] == ["orders.3", "orders.2"]
    assert sdk.nack_message(name, "worker", items[0]["ack_id"]) == ({"success": True}, None)
    again, error = sdk.receive_messages(name, "worker", {"batch_size": 5})
    assert [i["ack_id"] for i in again] == [items[0]["ack_id"]]
    assert sdk.nack_messages(name, "worker", [items[1]["ack_id"]]) == ({"success": True}, None)
    assert [i["ack_id"] for i in sdk.receive_messages(name, "worker")[0]] == [items[1]["ack_id"]]
    assert sdk.ack_messages(name, "worker", [i["ack_id"] for i in items]) == ({"success": True}, None)
    assert sdk.receive_message(name, "worker") == (None, None)

    assert sdk.delete_consumer(name, "worker") == ({"id": consumer["id"], "deleted": True}, None)
    assert sdk.delete_stream(name) == ({"id": stream["id"], "deleted": True}, None)


def test_sdk_errors(sdk, stream):
    name = stream["name"]
    assert sdk.create_stream("test-stream") == (None, {"status": 422, "summary": "Validation failed"})
    assert sdk.create_stream(name) == (None, {"status": 422, "summary": "Validation failed"})
    assert sdk.send_message(unique(), "k", "v") == (None, {"status": 404, "summary": NOT_FOUND_STREAM})
    assert sdk.send_message(name, "a..b", "v") == (
        None,
        {"status": 400, "summary": "Invalid key format: Key must not contain empty tokens"},
    )
    assert sdk.send_message(name, "k", {"object": 1}) == (
        None,
        {"status": 400, "summary": "Invalid message format"},
    )
    assert sdk.receive_messages(name, unique()) == (None, {"status": 404, "summary": NOT_FOUND_CONSUMER})
    assert sdk.ack_message(name, unique(), "x") == (None, {"status": 404, "summary": NOT_FOUND_CONSUMER})
    assert sdk.create_consumer(name, "w", "") == (None, {"status": 422, "summary": "Validation failed"})
    assert sdk.delete_consumer(name, "nobody") == (None, {"status": 404, "summary": NOT_FOUND_CONSUMER})
    # Framework errors have no summary (§5.3).
    assert sdk.send_messages(name, [{"key": "k", "data": "x"}] * 2) == (
        None,
        {"status": 500, "summary": "Unknown error"},
    )


def test_sdk_receive_batch_size_default_is_ten(sdk, api, stream):
    api.publish(stream["name"], [(f"k{i:02d}", "x") for i in range(12)])
    api.create_consumer(stream["name"], "w")
    items, error = sdk.receive_messages(stream["name"], "w")
    assert error is None
    assert len(items) == 10
    created = sdk.create_consumer(stream["name"], "w2", ">", {"kind": "pull"})[0]
    assert created["updated_at"] == TS
