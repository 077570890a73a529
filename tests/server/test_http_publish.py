"""Publish (§3.6), key rules (§2.3), upsert and seq numbering (§1.3, §4.7), message shape (§6.3)."""

from __future__ import annotations

import base64
import hashlib

import pytest

from ._api import EMPTY_HASH, assert_summary, message_body, unique


def _publish(api, stream, body):
    return api.post(f"/api/streams/{stream['name']}/messages", json=body)


def test_publish_and_read_back(api, stream):
    assert api.ok(_publish(api, stream, {"messages": [{"key": "a.b", "data": "hello", "x": 1}]})) == {
        "data": {"published": 1}
    }
    [message] = api.list_messages(stream["name"])
    assert message == message_body("a.b", "hello", stream)
    assert message["inserted_at"] == message["updated_at"]
    assert api.get_message(stream["name"], "a.b") == message


def test_empty_array_publishes_nothing(api, stream):
    assert api.ok(_publish(api, stream, {"messages": []})) == {"data": {"published": 0}}
    assert api.list_messages(stream["name"]) == []


def test_data_hash_and_nul_stripping(api, stream):
    api.publish(stream["name"], [("e", ""), ("n", "a\u0000b\u0000"), ("u", "é✓")])
    by_key = {m["key"]: m for m in api.list_messages(stream["name"])}
    assert by_key["e"]["data_hash"] == EMPTY_HASH
    assert by_key["n"]["data"] == "ab"
    assert by_key["n"]["data_hash"] == base64.b64encode(hashlib.sha256(b"ab").digest()).decode()
    assert by_key["u"] == message_body("u", "é✓", stream)
    # The stripped text is what counts for "unchanged".
    assert api.publish(stream["name"], [("n", "ab")]) == 0


def test_printable_ascii_keys_are_allowed(api, stream):
    key = "a-b_c/d:e#f@g!h$i%j&k(l)m+n=o,p;q?r[s]t{u}v|w~x'y\"z`"
    assert api.publish(stream["name"], [(key, "x")]) == 1
    assert api.list_messages(stream["name"])[0]["key"] == key


def test_stream_404_comes_first(api):
    assert_summary(
        api.post(f"/api/streams/{unique()}/messages", json={"messages": 5}),
        404,
        "Not found: No `stream` found matching the provided ID or name",
    )


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"messages": None},
        {"messages": {"key": "a", "data": "b"}},
        {"messages": "x"},
        {"key": "a", "data": "b"},
    ],
)
def test_missing_or_invalid_messages(api, stream, body):
    assert_summary(_publish(api, stream, body), 400, "Missing or invalid messages")


def test_non_object_json_body_is_invisible(api, stream):
    response = api.post(
        f"/api/streams/{stream['name']}/messages",
        data='[{"key": "a", "data": "b"}]',
        headers={"content-type": "application/json"},
    )
    assert_summary(response, 400, "Missing or invalid messages")


@pytest.mark.parametrize(
    "item",
    [
        "a",
        ["a", "b"],
        None,
        {"key": "a"},
        {"data": "b"},
        {"key": "a", "data": None},
        {"key": "a", "data": 1},
        {"key": "a", "data": {"x": 1}},
        {"key": "a", "data": ["x"]},
        {"key": 1, "data": "x"},
        {"key": None, "data": "x"},
    ],
)
def test_invalid_message_format(api, stream, item):
    # Format errors are found walking first to last, and beat a bad key anywhere.
    body = {"messages": [{"key": "good", "data": "x"}, item, {"key": "", "data": "x"}]}
    assert_summary(_publish(api, stream, body), 400, "Invalid message format")
    assert api.list_messages(stream["name"]) == []


KEY_CASES = [
    ("", "Key must not be empty"),
    ("a b", "Key contains invalid characters"),
    ("a.*", "Key contains invalid characters"),
    ("a.>", "Key contains invalid characters"),
    (" ", "Key contains invalid characters"),
    (".a", "Key must not start or end with a delimiter"),
    ("a.", "Key must not start or end with a delimiter"),
    (".", "Key must not start or end with a delimiter"),
    ("a..b", "Key must not contain empty tokens"),
    ("x" * 256, "Key must not exceed 255 characters"),
    (".".join(["a"] * 17), "Key must not contain more than 16 tokens"),
    ("a\u0000b", "Key must not contain null characters"),
    # Order: the first failing rule wins.
    (".a b", "Key contains invalid characters"),
    (".a..b", "Key must not start or end with a delimiter"),
    ("a..b" + "x" * 300, "Key must not contain empty tokens"),
    (".".join(["abcdefghijklmnop"] * 17), "Key must not exceed 255 characters"),
    (".".join(["a"] * 17) + "\u0000", "Key must not contain more than 16 tokens"),
    ("..\u0000", "Key must not start or end with a delimiter"),
]


@pytest.mark.parametrize("key, reason", KEY_CASES)
def test_key_rules(api, stream, key, reason):
    response = _publish(api, stream, {"messages": [{"key": "ok", "data": "x"}, {"key": key, "data": "x"}]})
    assert_summary(response, 400, f"Invalid key format: {reason}")
    assert api.list_messages(stream["name"]) == []


def test_key_limits_are_inclusive(api, stream):
    assert api.publish(stream["name"], [("x" * 255, "a"), (".".join(["a"] * 16), "b")]) == 2


def test_key_length_counts_graphemes_not_code_points(api, stream):
    # 255 graphemes made of 510 code points pass the length rule, then fail the ASCII
    # constraint (500); 256 graphemes fail the length rule (400).
    ok_length = "e\u0301" * 255
    assert (
        api.post(
            f"/api/streams/{stream['name']}/messages", json={"messages": [{"key": ok_length, "data": ""}]}
        ).status_code
        == 500
    )
    assert_summary(
        _publish(api, stream, {"messages": [{"key": "e\u0301" * 256, "data": ""}]}),
        400,
        "Invalid key format: Key must not exceed 255 characters",
    )


def test_the_last_bad_key_is_reported(api, stream):
    body = {
        "messages": [
            {"key": "", "data": "x"},
            {"key": "ok", "data": "x"},
            {"key": "a..b", "data": "x"},
            {"key": "fine.too", "data": "x"},
        ]
    }
    assert_summary(_publish(api, stream, body), 400, "Invalid key format: Key must not contain empty tokens")
    assert api.list_messages(stream["name"]) == []


def test_seqs_go_in_reverse_request_order(api, stream):
    api.publish(stream["name"], [("a", "1"), ("b", "2"), ("c", "3")])
    seqs = {m["key"]: m["seq"] for m in api.list_messages(stream["name"])}
    assert seqs["c"] < seqs["b"] < seqs["a"]
    assert [m["key"] for m in api.list_messages(stream["name"])] == ["c", "b", "a"]
    # Nothing else publishes between these inside one request: the numbering is exact.
    assert (seqs["b"] - seqs["c"], seqs["a"] - seqs["b"]) == (1, 1)


def test_seq_two_step_increment_on_changed_data_and_lost_number_on_unchanged(api, stream):
    name = stream["name"]
    api.publish(name, [("a", "1"), ("b", "1")])
    before = {m["key"]: m for m in api.list_messages(name)}
    # Processed last-first: "new" (+1), "b" unchanged (+1, lost), "a" changed (+2).
    assert api.publish(name, [("a", "2"), ("b", "1"), ("new", "x")]) == 2
    after = {m["key"]: m for m in api.list_messages(name)}
    base = after["new"]["seq"]
    assert after["a"]["seq"] - base == 3
    assert after["b"] == before["b"]
    assert after["a"]["inserted_at"] == before["a"]["inserted_at"]
    assert after["a"]["updated_at"] >= before["a"]["updated_at"]
    assert after["a"]["data"] == "2"
    # changed then new: "n2" new (+1), "a" changed (+2)
    api.publish(name, [("a", "3"), ("n2", "x")])
    again = {m["key"]: m for m in api.list_messages(name)}
    assert again["a"]["seq"] - again["n2"]["seq"] == 2


def test_seq_is_global_and_increasing_across_streams(api, streams):
    a, b = streams(), streams()
    api.publish(a["name"], [("k", "1")])
    api.publish(b["name"], [("k", "1")])
    api.publish(a["name"], [("k2", "1")])
    sa = {m["key"]: m["seq"] for m in api.list_messages(a["name"])}
    sb = api.list_messages(b["name"])[0]["seq"]
    assert sa["k"] < sb < sa["k2"]


def test_unchanged_republish_is_a_noop(api, stream):
    name = stream["name"]
    api.publish(name, [("a", "same")])
    before = api.list_messages(name)
    assert api.publish(name, [("a", "same")]) == 0
    assert api.list_messages(name) == before


def test_one_message_per_key(api, stream):
    name = stream["name"]
    api.publish(name, [("a", "1")])
    api.publish(name, [("a", "2")])
    api.publish(name, [("a", "3")])
    [message] = api.list_messages(name)
    assert message["data"] == "3"
    assert api.get_stream(name)["stats"]["message_count"] == 1


def test_large_batch_within_the_parameter_limit(api, stream):
    # 3-token keys cost 8 parameters each, plus 1: 8191 messages use 65529 of 65535.
    items = [{"key": f"a.b.{i}", "data": ""} for i in range(8191)]
    assert api.ok(_publish(api, stream, {"messages": items})) == {"data": {"published": 8191}}
    assert api.get_stream(stream["name"])["stats"]["message_count"] == 8191


def test_one_request_shares_one_timestamp(api, stream):
    api.publish(stream["name"], [(f"k{i}", "x") for i in range(5)])
    stamps = {(m["inserted_at"], m["updated_at"]) for m in api.list_messages(stream["name"])}
    assert len(stamps) == 1


#: Payloads JSON must escape, and ones it must not (raw UTF-8 passes through unescaped).
_ESCAPED = ['say "hi"', "back\\slash", "line\nbreak\r", "tab\tbell\u0007", "\u001f"]
_UNESCAPED = ["plain text ~ <>&/'", "é✓ ünïcode", "", "x" * 2000]


@pytest.mark.parametrize("backslash_free_body", [True, False], ids=["raw-utf8-body", "escaped-body"])
def test_answers_encode_payloads_exactly_however_they_were_sent(api, stream, backslash_free_body):
    """The encoded payload in receive, list and get answers is the same bytes whether the
    publish body had escapes or not (the server may skip encoding payloads of a body without
    backslashes: they have nothing to escape)."""
    import json

    payloads = _UNESCAPED if backslash_free_body else _ESCAPED + _UNESCAPED
    messages = [{"key": f"k.{i}", "data": data} for i, data in enumerate(payloads)]
    body = json.dumps({"messages": messages}, ensure_ascii=not backslash_free_body).encode()
    assert (b"\\" in body) is not backslash_free_body
    response = api.post(
        f"/api/streams/{stream['name']}/messages",
        data=body,
        headers={"content-type": "application/json"},
    )
    assert api.ok(response) == {"data": {"published": len(payloads)}}
    consumer = api.create_consumer(stream["name"], unique("c"))
    encoded = [json.dumps(data, ensure_ascii=False).encode() for data in payloads]
    received = api.get(
        f"/api/streams/{stream['name']}/consumers/{consumer['id']}/receive", params={"batch_size": 100}
    )
    listed = api.get(f"/api/streams/{stream['name']}/messages")
    for answer in (received, listed):
        for item in encoded:
            assert b'"data":' + item + b',"data_hash":' in answer.content
    # Seqs go in reverse request order, and both answers are by seq.
    assert [item["message"]["data"] for item in received.json()["data"]] == payloads[::-1]
    assert [m["data"] for m in listed.json()["data"]] == payloads[::-1]
    for i, item in enumerate(encoded):
        got = api.get(f"/api/streams/{stream['name']}/messages/k.{i}")
        assert b'"data":' + item + b',"data_hash":' in got.content
        assert got.json() == message_body(f"k.{i}", payloads[i], stream)
