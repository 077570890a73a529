"""Consumers: list, show, create (casting, defaults, 422s), update semantics, delete (§3.5)."""

from __future__ import annotations

import uuid

import pytest

from ._api import (
    BLANK,
    INVALID,
    NAME_FORMAT,
    TS,
    assert_422,
    assert_500,
    assert_framework,
    assert_not_found,
    consumer_body,
    unique,
)


def _create(api, stream, body):
    return api.post(f"/api/streams/{stream['name']}/consumers", json=body)


def _consumers(api, stream):
    return api.ok(api.get(f"/api/streams/{stream['id']}/consumers"))["data"]


def test_create_with_defaults(api, stream):
    body = api.ok(_create(api, stream, {"name": "w", "filter_key_pattern": "orders.>"}))
    assert body == consumer_body("w", stream, "orders.>")
    assert body["inserted_at"] == body["updated_at"]


def test_create_with_every_setting(api, stream):
    body = api.ok(
        _create(
            api,
            stream,
            {
                "name": "w",
                "filter_key_pattern": "*",
                "kind": "pull",
                "status": "disabled",
                "ack_wait_ms": 5,
                "max_ack_pending": 7,
                "max_deliver": 3,
                "max_waiting": 9,
                "http_endpoint_id": None,
                "stream_id": str(uuid.uuid4()),
                "account_id": str(uuid.uuid4()),
                "id": str(uuid.uuid4()),
                "unknown": "ignored",
            },
        )
    )
    assert body == consumer_body(
        "w", stream, "*", status="disabled", ack_wait_ms=5, max_ack_pending=7, max_deliver=3, max_waiting=9
    )
    assert "unknown" not in body


def test_show_list_by_id_and_name(api, stream):
    a = api.create_consumer(stream["name"], "a")
    b = api.create_consumer(stream["name"], "b", "x.*")
    assert _consumers(api, stream) == [a, b]  # creation order
    for ref in (a["id"], a["id"].upper(), "a"):
        assert api.ok(api.get(f"/api/streams/{stream['name']}/consumers/{ref}")) == a


def test_show_404s(api, stream, streams):
    other = streams()
    foreign = api.create_consumer(other["name"], "foreign")
    assert_not_found(api.get(f"/api/streams/{unique()}/consumers/x"), "stream")
    assert_not_found(api.get(f"/api/streams/{unique()}/consumers"), "stream")
    assert_not_found(api.get(f"/api/streams/{stream['name']}/consumers/foreign"), "consumer")
    assert_not_found(api.get(f"/api/streams/{stream['name']}/consumers/{foreign['id']}"), "consumer")
    assert_not_found(api.get(f"/api/streams/{stream['name']}/consumers/{uuid.uuid4()}"), "consumer")
    assert_not_found(api.get(f"/api/streams/{stream['name']}/consumers/{uuid.uuid1()}"), "consumer")
    compact = foreign["id"].replace("-", "")
    assert_framework(api.get(f"/api/streams/{other['name']}/consumers/{compact}"), 400, "Bad Request")


def test_empty_body_reports_exactly_name_and_filter(api, stream):
    assert_422(_create(api, stream, {}), {"name": [BLANK], "filter_key_pattern": [BLANK]})
    assert _consumers(api, stream) == []


@pytest.mark.parametrize(
    "body, errors",
    [
        (
            {"max_ack_pending": "invalid"},
            {"max_ack_pending": [INVALID], "name": [BLANK], "filter_key_pattern": [BLANK]},
        ),
        ({"name": None, "filter_key_pattern": None}, {"name": [BLANK], "filter_key_pattern": [BLANK]}),
        ({"name": "  ", "filter_key_pattern": ""}, {"name": [BLANK], "filter_key_pattern": [BLANK]}),
        ({"name": 1, "filter_key_pattern": ["a"]}, {"name": [INVALID], "filter_key_pattern": [INVALID]}),
        ({"name": "w", "filter_key_pattern": ">", "kind": None}, {"kind": [BLANK]}),
        ({"name": "w", "filter_key_pattern": ">", "status": None}, {"status": [BLANK]}),
        ({"name": "w", "filter_key_pattern": ">", "kind": "PULL"}, {"kind": [INVALID]}),
        ({"name": "w", "filter_key_pattern": ">", "kind": "poll"}, {"kind": [INVALID]}),
        ({"name": "w", "filter_key_pattern": ">", "kind": 1}, {"kind": [INVALID]}),
        ({"name": "w", "filter_key_pattern": ">", "status": "paused"}, {"status": [INVALID]}),
        ({"name": "w", "filter_key_pattern": ">", "ack_wait_ms": 5.0}, {"ack_wait_ms": [INVALID]}),
        ({"name": "w", "filter_key_pattern": ">", "ack_wait_ms": "5.0"}, {"ack_wait_ms": [INVALID]}),
        ({"name": "w", "filter_key_pattern": ">", "ack_wait_ms": True}, {"ack_wait_ms": [INVALID]}),
        ({"name": "w", "filter_key_pattern": ">", "ack_wait_ms": " 5"}, {"ack_wait_ms": [INVALID]}),
        ({"name": "w", "filter_key_pattern": ">", "ack_wait_ms": "1e3"}, {"ack_wait_ms": [INVALID]}),
        ({"name": "w", "filter_key_pattern": ">", "ack_wait_ms": [1]}, {"ack_wait_ms": [INVALID]}),
        (
            {"name": "w", "filter_key_pattern": ">", "ack_wait_ms": "1" + "0" * 31},
            {"ack_wait_ms": [INVALID]},
        ),
        ({"name": "w", "filter_key_pattern": ">", "max_deliver": "x"}, {"max_deliver": [INVALID]}),
        ({"name": "w", "filter_key_pattern": ">", "max_waiting": {}}, {"max_waiting": [INVALID]}),
        ({"name": "w", "filter_key_pattern": ">", "http_endpoint_id": 5}, {"http_endpoint_id": [INVALID]}),
        # Every field error is reported together; the name format is not checked then.
        (
            {"name": "bad-name", "filter_key_pattern": ">", "status": "x", "kind": None, "max_waiting": "x"},
            {"status": [INVALID], "kind": [BLANK], "max_waiting": [INVALID]},
        ),
        ({"name": "bad-name", "filter_key_pattern": ">"}, {"name": [NAME_FORMAT]}),
        ({"name": "bad.name", "filter_key_pattern": ">", "kind": "push"}, {"name": [NAME_FORMAT]}),
        ({"name": "w", "filter_key_pattern": ">", "kind": "push"}, {"kind": [INVALID]}),
        (
            {"name": "w", "filter_key_pattern": ">", "kind": "push", "http_endpoint_id": str(uuid.uuid4())},
            {"http_endpoint_id": ["does not exist"]},
        ),
        (
            {"name": "w", "filter_key_pattern": ">", "http_endpoint_id": str(uuid.uuid4())},
            {"kind": [INVALID]},
        ),
        (
            {"name": "w", "filter_key_pattern": ">", "kind": "push", "http_endpoint": {}},
            {"http_endpoint": {"base_url": [BLANK]}},
        ),
        (
            {"name": "w", "filter_key_pattern": ">", "kind": "push", "http_endpoint": {"base_url": "nohost"}},
            {"http_endpoint": {"base_url": ["must be a valid URL with scheme and host"]}},
        ),
    ],
)
def test_create_validation_errors(api, stream, body, errors):
    assert_422(_create(api, stream, body), errors)
    assert _consumers(api, stream) == []
    assert api.get_stream(stream["id"])["stats"]["consumer_count"] == 0


@pytest.mark.parametrize(
    "value, stored",
    [
        (5, 5),
        ("5", 5),
        ("+5", 5),
        ("-5", -5),
        ("0", 0),
        ("", 30000),
        ("   ", 30000),
        ("2147483647", 2147483647),
    ],
)
def test_integer_casting(api, stream, value, stored):
    body = api.create_consumer(stream["name"], "w", ack_wait_ms=value)
    assert body["ack_wait_ms"] == stored


@pytest.mark.parametrize(
    "field, default", [("max_ack_pending", 10000), ("max_waiting", 20), ("max_deliver", None)]
)
def test_blank_integer_takes_the_default(api, stream, field, default):
    assert api.create_consumer(stream["name"], "w", **{field: " "})[field] == default


def test_blank_kind_and_status_take_the_defaults(api, stream):
    body = api.create_consumer(stream["name"], "w", kind="", status="  ")
    assert (body["kind"], body["status"]) == ("pull", "active")


def test_explicit_null_max_deliver_is_fine(api, stream):
    assert api.create_consumer(stream["name"], "w", max_deliver=None)["max_deliver"] is None


def test_filter_key_pattern_is_not_validated(api, stream):
    for i, pattern in enumerate(["a..b", "a.>.b", "trailing ", ".x", "**", "a b"]):
        assert api.create_consumer(stream["name"], f"w{i}", pattern)["filter_key_pattern"] == pattern


def test_duplicate_name_in_stream(api, stream):
    first = api.create_consumer(stream["name"], "w")
    assert_422(
        _create(api, stream, {"name": "w", "filter_key_pattern": "other"}),
        {"stream_id": ["Consumer name must be unique within a stream"]},
    )
    # The kind check constraint is reported before the uniqueness one.
    assert_422(
        _create(api, stream, {"name": "w", "filter_key_pattern": ">", "kind": "push"}), {"kind": [INVALID]}
    )
    assert _consumers(api, stream) == [first]


def test_same_name_on_two_streams_is_allowed(api, streams):
    a, b = streams(), streams()
    ca = api.create_consumer(a["name"], "w")
    cb = api.create_consumer(b["name"], "w")
    assert ca["id"] != cb["id"]


def test_push_consumer_with_inline_endpoint(api, stream):
    body = api.create_consumer(
        stream["name"], "p", kind="push", http_endpoint={"base_url": "http://127.0.0.1:9/hook", "name": "h"}
    )
    assert body == consumer_body("p", stream, ">", kind="push", http_endpoint_id=body["http_endpoint_id"])
    assert isinstance(body["http_endpoint_id"], str)
    # Another push consumer may reuse that endpoint by id.
    again = api.create_consumer(
        stream["name"], "p2", kind="push", http_endpoint_id=body["http_endpoint_id"].upper()
    )
    assert again["http_endpoint_id"] == body["http_endpoint_id"]


# The endpoint changeset checks that Elixir's URI.parse/1 gives a scheme and a host: a bare `//`
# authority has the host "" (which passes), a broken IPv6 bracket is parsed as a plain host, and
# nothing is stripped, so a leading space leaves no scheme.
@pytest.mark.parametrize(
    "base_url", ["http://", "http:///hook", "file:///etc/hosts", "http://[bad", "http://a]b", "http://h:abc"]
)
def test_inline_endpoint_base_urls_that_elixir_parses_with_a_host(api, stream, base_url):
    body = api.create_consumer(stream["name"], "p", kind="push", http_endpoint={"base_url": base_url})
    assert body == consumer_body("p", stream, ">", kind="push", http_endpoint_id=body["http_endpoint_id"])


@pytest.mark.parametrize(
    "base_url",
    [" http://h", "ht\ttp://h", "1http://h", "localhost:8080", "http://:80", "http://user@", "mailto:a@b"],
)
def test_inline_endpoint_base_urls_without_scheme_or_host(api, stream, base_url):
    body = {"name": "p", "filter_key_pattern": ">", "kind": "push", "http_endpoint": {"base_url": base_url}}
    assert_422(
        _create(api, stream, body),
        {"http_endpoint": {"base_url": ["must be a valid URL with scheme and host"]}},
    )
    assert _consumers(api, stream) == []


def test_inline_endpoint_headers_are_any_json_object(api, stream):
    """`headers` is an Ecto :map: values need not be strings; a non-object is "is invalid"."""
    endpoint = {"base_url": "http://127.0.0.1:9", "headers": {"X-Retries": 3, "X-On": True}}
    body = api.create_consumer(stream["name"], "p", kind="push", http_endpoint=endpoint)
    assert body["kind"] == "push"
    bad = {"name": "q", "filter_key_pattern": ">", "kind": "push"}
    for headers in (["a"], "a: b", 5):
        assert_422(
            _create(api, stream, dict(bad, http_endpoint={"base_url": "http://h", "headers": headers})),
            {"http_endpoint": {"headers": [INVALID]}},
        )


def test_path_stream_wins_over_body_stream_id(api, streams):
    a, b = streams(), streams()
    body = api.ok(
        api.post(
            f"/api/streams/{a['name']}/consumers",
            json={"name": "w", "filter_key_pattern": ">", "stream_id": b["id"]},
        )
    )
    assert body["stream_id"] == a["id"]
    assert _consumers(api, b) == []


def test_create_on_unknown_stream_is_404_before_validation(api):
    assert_not_found(api.post(f"/api/streams/{unique()}/consumers", json={}), "stream")


# -- update (§3.5d) ---------------------------------------------------------------------------


def _update(api, stream, consumer, body, method="PUT"):
    return api.request(method, f"/api/streams/{stream['name']}/consumers/{consumer['id']}", json=body)


@pytest.mark.parametrize("method", ["PUT", "PATCH"])
def test_update_is_partial(api, stream, method):
    consumer = api.create_consumer(stream["name"], "w", max_waiting=3)
    body = api.ok(_update(api, stream, consumer, {"ack_wait_ms": 10, "max_deliver": 2}, method))
    assert body == {**consumer, "ack_wait_ms": 10, "max_deliver": 2, "updated_at": TS}
    assert api.ok(api.get(f"/api/streams/{stream['name']}/consumers/w")) == body


def test_update_ignores_name_filter_and_stream(api, stream, streams):
    other = streams()
    consumer = api.create_consumer(stream["name"], "w", "a.*")
    body = api.ok(
        _update(
            api,
            stream,
            consumer,
            {"name": "renamed", "filter_key_pattern": ">", "stream_id": other["id"], "id": str(uuid.uuid4())},
        )
    )
    assert body == consumer


def test_update_every_writable_field(api, stream):
    consumer = api.create_consumer(stream["name"], "w")
    body = api.update_consumer(
        stream["name"],
        "w",
        ack_wait_ms="7",
        max_ack_pending=8,
        max_deliver=9,
        max_waiting=10,
        status="disabled",
        kind="pull",
    )
    assert body == {
        **consumer,
        "ack_wait_ms": 7,
        "max_ack_pending": 8,
        "max_deliver": 9,
        "max_waiting": 10,
        "status": "disabled",
        "updated_at": TS,
    }


def test_update_empty_string_resets_to_the_schema_default(api, stream):
    consumer = api.create_consumer(
        stream["name"], "w", ack_wait_ms=1, max_ack_pending=2, max_deliver=3, max_waiting=4, status="disabled"
    )
    body = api.update_consumer(
        stream["name"],
        consumer["id"],
        ack_wait_ms="",
        max_ack_pending=" ",
        max_deliver="",
        max_waiting="",
        status="",
        kind=" ",
    )
    assert body == {
        **consumer,
        "updated_at": TS,
        **{
            k: v
            for k, v in consumer_body("w", stream, ">").items()
            if k in ("ack_wait_ms", "max_ack_pending", "max_deliver", "max_waiting", "status", "kind")
        },
    }


def test_update_max_deliver_to_null(api, stream):
    api.create_consumer(stream["name"], "w", max_deliver=5)
    assert api.update_consumer(stream["name"], "w", max_deliver=None)["max_deliver"] is None


@pytest.mark.parametrize(
    "body, errors",
    [
        ({"ack_wait_ms": "x"}, {"ack_wait_ms": [INVALID]}),
        ({"ack_wait_ms": 1.5, "status": "off"}, {"ack_wait_ms": [INVALID], "status": [INVALID]}),
        ({"kind": "push"}, {"kind": [INVALID]}),
        ({"kind": "PUSH"}, {"kind": [INVALID]}),
        ({"max_deliver": False}, {"max_deliver": [INVALID]}),
        ({"http_endpoint_id": str(uuid.uuid4())}, {"kind": [INVALID]}),
        ({"kind": "push", "http_endpoint": {"base_url": "http://127.0.0.1:9"}}, {"kind": [INVALID]}),
    ],
)
def test_update_422(api, stream, body, errors):
    consumer = api.create_consumer(stream["name"], "w")
    assert_422(_update(api, stream, consumer, body), errors)
    assert api.ok(api.get(f"/api/streams/{stream['name']}/consumers/w")) == consumer


def test_update_404s(api, stream, streams):
    other = streams()
    foreign = api.create_consumer(other["name"], "w")
    assert_not_found(api.put(f"/api/streams/{unique()}/consumers/{foreign['id']}", json={}), "stream")
    assert_not_found(api.put(f"/api/streams/{stream['name']}/consumers/{foreign['id']}", json={}), "consumer")
    assert_not_found(
        api.patch(f"/api/streams/{stream['name']}/consumers/w", json={"ack_wait_ms": "x"}), "consumer"
    )


def test_update_with_empty_body_changes_nothing(api, stream):
    consumer = api.create_consumer(stream["name"], "w")
    assert api.ok(_update(api, stream, consumer, {})) == consumer


def test_noop_update_does_not_bump_updated_at(api, stream, clock_control):
    consumer = api.create_consumer(stream["name"], "w", ack_wait_ms=5)
    clock_control(2)
    same = api.update_consumer(stream["name"], "w", ack_wait_ms="5", kind="pull", status="active", name="x")
    assert same == consumer
    clock_control(2)
    changed = api.update_consumer(stream["name"], "w", ack_wait_ms=6)
    assert changed["updated_at"] > consumer["updated_at"]
    assert changed["inserted_at"] == consumer["inserted_at"]


# -- delete (§3.5e) ---------------------------------------------------------------------------


def test_delete_consumer(api, stream):
    consumer = api.create_consumer(stream["name"], "w")
    api.publish(stream["name"], [("a", "1")])
    [item] = api.receive(consumer["id"])
    assert api.ok(api.delete(f"/api/streams/{stream['name']}/consumers/w")) == {
        "id": consumer["id"],
        "deleted": True,
    }
    assert_not_found(api.get(f"/api/streams/{stream['name']}/consumers/w"), "consumer")
    assert_not_found(api.delete(f"/api/streams/{stream['name']}/consumers/{consumer['id']}"), "consumer")
    assert_not_found(api.get(f"/api/streams/x/consumers/{consumer['id']}/receive"), "consumer")
    assert api.get_stream(stream["id"])["stats"]["consumer_count"] == 0
    # A new consumer with the same name is fresh: new id, new ack_ids, the history again.
    fresh = api.create_consumer(stream["name"], "w")
    assert fresh["id"] != consumer["id"]
    [again] = api.receive(fresh["id"])
    assert again["ack_id"] != item["ack_id"]
    assert again["message"] == item["message"]


def test_delete_consumer_404s(api, stream, streams):
    other = streams()
    foreign = api.create_consumer(other["name"], "w")
    assert_not_found(api.delete(f"/api/streams/{unique()}/consumers/w"), "stream")
    assert_not_found(api.delete(f"/api/streams/{stream['name']}/consumers/{foreign['id']}"), "consumer")
    assert_not_found(api.delete(f"/api/streams/{stream['name']}/consumers/w"), "consumer")
    assert _consumers(api, other) == [foreign]


def test_nulls_on_create_are_500_and_create_nothing(api, stream):
    for field in ("ack_wait_ms", "max_ack_pending", "max_waiting"):
        assert_500(_create(api, stream, {"name": "w", "filter_key_pattern": ">", field: None}))
    assert _consumers(api, stream) == []


def test_database_error_order_uniqueness_before_endpoint_foreign_key(api, stream):
    api.create_consumer(stream["name"], "w")
    body = {"name": "w", "filter_key_pattern": ">", "kind": "push", "http_endpoint_id": str(uuid.uuid4())}
    assert_422(_create(api, stream, body), {"stream_id": ["Consumer name must be unique within a stream"]})


def test_inline_endpoint_on_a_pull_consumer_is_a_kind_error(api, stream):
    body = {"name": "w", "filter_key_pattern": ">", "http_endpoint": {"base_url": "http://127.0.0.1:9"}}
    assert_422(_create(api, stream, body), {"kind": [INVALID]})
    assert _consumers(api, stream) == []


def test_consumer_name_with_a_trailing_newline(api, stream):
    body = api.create_consumer(stream["name"], "w\n")
    assert body["name"] == "w\n"
    # "w" is a different name, but the same table: 500 (§7.2).
    assert_500(_create(api, stream, {"name": "w", "filter_key_pattern": ">"}))
    assert _consumers(api, stream) == [body]
