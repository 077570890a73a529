"""The twelve sequin-py methods and the extra (result, error) methods, against a live server."""

from __future__ import annotations

import inspect
import re

import pytest
from sequin.client import Client as SdkClient

from pytest_sequin.client import Client, SequinClient

UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
STREAM_404 = {"status": 404, "summary": "Not found: No `stream` found matching the provided ID or name"}
CONSUMER_404 = {"status": 404, "summary": "Not found: No `consumer` found matching the provided ID or name"}
MESSAGE_404 = {"status": 404, "summary": "Not found: No `message` found matching the provided ID or name"}
SDK_METHODS = [
    "send_message",
    "send_messages",
    "receive_message",
    "receive_messages",
    "ack_message",
    "ack_messages",
    "nack_message",
    "nack_messages",
    "create_stream",
    "delete_stream",
    "create_consumer",
    "delete_consumer",
]


def test_client_alias_is_the_same_class():
    assert Client is SequinClient


@pytest.mark.parametrize("name", SDK_METHODS)
def test_sdk_method_signatures_match(name):
    ours = inspect.signature(getattr(SequinClient, name))
    theirs = inspect.signature(getattr(SdkClient, name))
    assert [(p.name, p.kind, p.default) for p in ours.parameters.values()] == [
        (p.name, p.kind, p.default) for p in theirs.parameters.values()
    ]


def test_constructor_base_url_resolution(monkeypatch):
    monkeypatch.delenv("SEQUIN_URL", raising=False)
    assert SequinClient().base_url == "http://localhost:7376"
    monkeypatch.setenv("SEQUIN_URL", "http://127.0.0.9:1234")
    assert SequinClient().base_url == "http://127.0.0.9:1234"
    assert SequinClient("http://127.0.0.8:99").base_url == "http://127.0.0.8:99"
    first = next(iter(inspect.signature(SequinClient).parameters.values()))
    assert (first.name, first.default) == ("base_url", None)


def test_default_timeout_is_30_seconds_and_configurable():
    assert SequinClient("http://127.0.0.1:1").timeout == 30
    assert SequinClient("http://127.0.0.1:1", timeout=2.5).timeout == 2.5
    with pytest.raises(ValueError):
        SequinClient("http://127.0.0.1:1", timeout=0)


def test_create_and_delete_stream(client, unique):
    name = unique("s")
    stream, error = client.create_stream(name, {"one_message_per_key": True})
    assert error is None
    assert stream["name"] == name
    assert UUID_RE.match(stream["id"])
    assert stream["stats"]["message_count"] == 0 and stream["stats"]["consumer_count"] == 0
    assert "one_message_per_key" not in stream  # options are silently dropped by the server
    res, error = client.delete_stream(name)
    assert (res, error) == ({"id": stream["id"], "deleted": True}, None)
    assert client.delete_stream(name) == (None, STREAM_404)


def test_create_stream_errors(client, unique):
    assert client.create_stream("bad-name") == (None, {"status": 422, "summary": "Validation failed"})
    assert client.create_stream("") == (None, {"status": 422, "summary": "Validation failed"})


def test_create_stream_duplicate_is_422(client, stream_name):
    assert client.create_stream(stream_name) == (None, {"status": 422, "summary": "Validation failed"})


def test_create_and_delete_consumer(client, stream_name, unique):
    name = unique("c")
    consumer, error = client.create_consumer(stream_name, name, "test.>", {"ack_wait_ms": 1234})
    assert error is None
    assert consumer["name"] == name
    assert consumer["filter_key_pattern"] == "test.>"
    assert consumer["kind"] == "pull"
    assert consumer["ack_wait_ms"] == 1234
    assert client.create_consumer(stream_name, name, "test.>") == (
        None,
        {"status": 422, "summary": "Validation failed"},
    )
    res, error = client.delete_consumer(stream_name, name)
    assert (res, error) == ({"id": consumer["id"], "deleted": True}, None)
    assert client.delete_consumer(stream_name, name) == (None, CONSUMER_404)


def test_consumer_methods_on_missing_stream(client, unique):
    missing = unique("missing")
    assert client.create_consumer(missing, "c", ">") == (None, STREAM_404)
    assert client.delete_consumer(missing, "c") == (None, STREAM_404)


def test_send_receive_ack(client, stream_name, unique):
    consumer = unique("c")
    assert client.create_consumer(stream_name, consumer, "test.>")[1] is None
    assert client.send_message(stream_name, "test.1", "one") == ({"published": 1}, None)
    assert client.send_message(stream_name, "test.1", "one") == ({"published": 0}, None)  # unchanged
    batch = [{"key": f"test.{i}", "data": f"d{i}"} for i in range(2, 5)]
    assert client.send_messages(stream_name, batch) == ({"published": 3}, None)
    assert client.send_messages(stream_name, []) == ({"published": 0}, None)

    first, error = client.receive_message(stream_name, consumer)
    assert error is None
    assert set(first) == {"ack_id", "message"}
    assert UUID_RE.match(first["ack_id"])
    rest, error = client.receive_messages(stream_name, consumer)  # default batch_size 10
    assert error is None and len(rest) == 3
    seqs = [item["message"]["seq"] for item in [first, *rest]]
    assert seqs == sorted(seqs)
    assert {item["message"]["key"] for item in [first, *rest]} == {"test.1", "test.2", "test.3", "test.4"}

    assert client.receive_message(stream_name, consumer) == (None, None)
    assert client.receive_messages(stream_name, consumer, {"batch_size": 5}) == ([], None)
    assert client.ack_message(stream_name, consumer, first["ack_id"]) == ({"success": True}, None)
    ids = [item["ack_id"] for item in rest]
    assert client.ack_messages(stream_name, consumer, ids) == ({"success": True}, None)


def test_nack_makes_messages_deliverable_again(client, stream_name, unique):
    consumer = unique("c")
    assert client.create_consumer(stream_name, consumer, ">")[1] is None
    client.send_messages(stream_name, [{"key": "a", "data": "1"}, {"key": "b", "data": "2"}])
    items, _ = client.receive_messages(stream_name, consumer)
    assert len(items) == 2
    assert client.nack_message(stream_name, consumer, items[0]["ack_id"]) == ({"success": True}, None)
    again, _ = client.receive_messages(stream_name, consumer)
    assert [i["ack_id"] for i in again] == [items[0]["ack_id"]]
    ids = [items[1]["ack_id"], items[0]["ack_id"]]
    assert client.nack_messages(stream_name, consumer, ids) == ({"success": True}, None)
    again, _ = client.receive_messages(stream_name, consumer, {"batch_size": 10})
    assert sorted(i["ack_id"] for i in again) == sorted(ids)


def test_receive_ack_nack_errors(client, stream_name, unique):
    missing = unique("c")
    assert client.receive_message(stream_name, missing) == (None, CONSUMER_404)
    assert client.receive_messages(stream_name, missing) == (None, CONSUMER_404)
    assert client.ack_message(stream_name, missing, "x") == (None, CONSUMER_404)
    assert client.nack_messages(stream_name, missing, []) == (None, CONSUMER_404)
    consumer = unique("c")
    assert client.create_consumer(stream_name, consumer, ">")[1] is None
    bad_ack = (
        "Invalid ack_ids. Must send a top-level `ack_ids` property that is a non-empty list of "
        "valid UUID strings"
    )
    assert client.ack_messages(stream_name, consumer, []) == (None, {"status": 400, "summary": bad_ack})
    assert client.nack_message(stream_name, consumer, "nope") == (None, {"status": 400, "summary": bad_ack})
    bad_batch = "Invalid `batch_size`. `batch_size` must be an integer between 1 and 1000."
    assert client.receive_messages(stream_name, consumer, {"batch_size": 0}) == (
        None,
        {"status": 400, "summary": bad_batch},
    )
    # unknown but well-formed ack ids are accepted (the server ignores them)
    unknown = "07240856-96cb-4305-9b2f-620f4b1528a4"
    assert client.ack_message(stream_name, consumer, unknown) == ({"success": True}, None)


def test_send_errors(client, stream_name, unique):
    assert client.send_message(unique("missing"), "a", "b") == (None, STREAM_404)
    invalid_chars = {"status": 400, "summary": "Invalid key format: Key contains invalid characters"}
    assert client.send_message(stream_name, "a b", "x") == (None, invalid_chars)
    assert client.send_message(stream_name, "", "x") == (
        None,
        {"status": 400, "summary": "Invalid key format: Key must not be empty"},
    )
    assert client.send_messages(stream_name, "nope") == (
        None,
        {"status": 400, "summary": "Missing or invalid messages"},
    )


@pytest.mark.parametrize("key, data", [("k", {"a": 1}), ("k", 5), ("k", None), (5, "x"), (None, "x")])
def test_sdk_methods_pass_non_strings_through(client, stream_name, key, data):
    # Same as sequin-py: no client-side check, the server answers 400.
    assert client.send_message(stream_name, key, data) == (
        None,
        {"status": 400, "summary": "Invalid message format"},
    )


def test_unencodable_json_behaves_like_sdk(client, sdk, stream_name):
    # NaN is a ValueError that requests turns into a (None, 500) result...
    res, error = client.send_message(stream_name, "k", float("nan"))
    assert (res, error) == sdk.send_message(stream_name, "k", float("nan"))
    assert res is None and error["status"] == 500 and "JSON compliant" in error["summary"]
    # ...while a type json cannot encode raises TypeError out of both clients.
    with pytest.raises(TypeError, match="not JSON serializable"):
        client.send_message(stream_name, "k", {1, 2})
    with pytest.raises(TypeError, match="not JSON serializable"):
        sdk.send_message(stream_name, "k", {1, 2})


def _public_callables():
    from pytest_sequin.client import ConsumerHandle, ReceivedMessage, SequinError, StreamHandle
    from pytest_sequin.client.sdk import Reply
    from pytest_sequin.client.transport import Transport, TransportError

    for cls in (
        SequinClient,
        StreamHandle,
        ConsumerHandle,
        ReceivedMessage,
        SequinError,
        Reply,
        Transport,
        TransportError,
    ):
        for name, member in vars(cls).items():
            if name.startswith("_") and name != "__init__":
                continue
            function = member.fget if isinstance(member, property) else getattr(member, "__func__", member)
            if inspect.isfunction(function):
                yield pytest.param(function, id=f"{cls.__name__}.{name}")


@pytest.mark.parametrize("function", list(_public_callables()))
def test_public_methods_have_type_hints_and_docstrings(function):
    qualname = function.__qualname__
    signature = inspect.signature(function)
    unannotated = [
        p.name
        for p in signature.parameters.values()
        if p.name not in ("self", "cls") and p.annotation is p.empty
    ]
    assert unannotated == [], qualname
    assert signature.return_annotation is not signature.empty, qualname
    if function.__name__ != "__init__":  # the class docstring documents the constructor
        assert inspect.getdoc(function), qualname


def test_assigning_base_url_repoints_the_client_like_sequin_py(sequin_base_url, refused_url, no_proxy_env):
    """sequin-py reads base_url on every request; the pooled transport kept the old address."""
    ours, theirs = SequinClient(refused_url), SdkClient(refused_url)
    for client in (ours, theirs):
        _, error = client.delete_stream("pytest_nothing_here")
        assert error["summary"].startswith(f"We can't reach Sequin on {refused_url}.")
        client.base_url = sequin_base_url
    assert ours.base_url == theirs.base_url == sequin_base_url
    assert ours.delete_stream("pytest_nothing_here") == theirs.delete_stream("pytest_nothing_here")
    assert ours.delete_stream("pytest_nothing_here")[1]["status"] == 404
    assert ours.transport.base_url == sequin_base_url


def test_a_base_url_that_is_not_a_string_is_refused_clearly():
    for bad in (123, b"http://localhost:7376"):
        with pytest.raises(TypeError, match="base_url must be a str"):
            SequinClient(bad)
    client = SequinClient("http://127.0.0.1:9")
    with pytest.raises(TypeError, match="base_url must be a str"):
        client.base_url = None
    assert client.base_url == "http://127.0.0.1:9"
