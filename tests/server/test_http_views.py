"""Read-only views: list messages, get message, consumer_info, peek; key patterns (§2.4, §3.8–§3.11)."""

from __future__ import annotations

import pytest

from ._api import assert_500, assert_not_found, assert_summary, keys_of, message_body, unique

KEYS = [
    "orders",
    "orders.new",
    "orders.update",
    "orders.new.priority",
    "a",
    "a.b",
    "a.b.c",
    "a.b.d",
    "a.b.c.d",
    "a.b.c.d.e",
    "a.x.c",
    "b.b.c",
    "x.y",
]


@pytest.fixture
def loaded(api, stream):
    api.publish(stream["name"], [(k, "v") for k in reversed(KEYS)])  # seq order = KEYS order
    return stream["name"]


# -- §2.4a consumer filter, the spec's table --------------------------------------------------

FILTER_TABLE = [
    ("orders.*", ["orders.new", "orders.update"], ["orders", "orders.new.priority"]),
    ("orders.>", ["orders.new", "orders.new.priority", "orders.update"], ["orders"]),
    ("*", ["orders", "a"], ["a.b"]),
    (">", KEYS, []),
    ("a.*.c.>", ["a.b.c.d", "a.b.c.d.e"], ["a.b.c"]),
    ("*.b.*", ["a.b.c", "a.b.d", "b.b.c"], ["a.b"]),
    ("a.b.c", ["a.b.c"], ["a.b.d", "a.b.c.d"]),
    ("a..b", [], ["a.b"]),
    ("a.>.b", [], ["a.b.c"]),
    ("a ", [], ["a"]),
]


@pytest.mark.parametrize("pattern, matches, not_matches", FILTER_TABLE)
def test_filter_key_pattern_table(api, loaded, pattern, matches, not_matches):
    consumer = api.create_consumer(loaded, unique("w"), pattern)
    got = set(keys_of(api.receive(consumer["id"], 100)))
    assert set(matches) <= got
    assert not (set(not_matches) & got)
    assert got == {k for k in KEYS if k in got}
    if pattern in (">", "a.b.c", "*.b.*", "orders.*"):
        assert got == set(matches)


def test_filter_is_case_sensitive(api, stream):
    api.publish(stream["name"], [("A.b", "x"), ("a.b", "x")])
    consumer = api.create_consumer(stream["name"], "w", "a.*")
    assert keys_of(api.receive(consumer["id"], 10)) == ["a.b"]


# -- §2.4b key_pattern of the list endpoints ---------------------------------------------------

LIST_TABLE = [
    ("orders.*", ["orders", "orders.new", "orders.update"]),  # trailing * also matches shorter keys
    ("orders.>", ["orders.new", "orders.update", "orders.new.priority"]),
    ("a.*.*", ["a", "a.b", "a.b.c", "a.b.d", "a.x.c"]),
    ("*", ["orders", "a"]),
    (">", KEYS),
    ("*.b.*", ["a.b", "a.b.c", "a.b.d", "b.b.c"]),
    ("a.*.c", ["a.b.c", "a.x.c"]),
    ("*.new", ["orders.new"]),
    ("a.b.>", ["a.b.c", "a.b.d", "a.b.c.d", "a.b.c.d.e"]),
    ("a.b.c", ["a.b.c"]),
    ("a*", []),
    ("x>", []),
    ("a.*.c.>", ["a.b.c.d", "a.b.c.d.e"]),
]


@pytest.mark.parametrize("pattern, expected", LIST_TABLE)
def test_list_key_pattern_table(api, loaded, pattern, expected):
    assert keys_of(api.list_messages(loaded, key_pattern=pattern)) == [k for k in KEYS if k in expected]


@pytest.mark.parametrize("pattern, expected", LIST_TABLE)
def test_peek_key_pattern_uses_list_semantics(api, loaded, pattern, expected):
    consumer = api.create_consumer(loaded, "w")
    assert keys_of(api.peek(loaded, consumer["id"], key_pattern=pattern)) == [
        k for k in KEYS if k in expected
    ]


KEY_PATTERN_ERRORS = [
    ("", "Key pattern must not be empty"),
    (".a", "Key pattern must not start or end with a delimiter"),
    ("a.", "Key pattern must not start or end with a delimiter"),
    ("a..b", "Key pattern must not contain empty tokens"),
    ("x" * 256, "Key pattern must not exceed 255 characters"),
    (".".join(["a"] * 17), "Key pattern must not contain more than 16 tokens"),
    (".".join(["a"] * 16 + [">"]), "Key pattern must not contain more than 16 tokens"),
    ("a.>.b", "Wildcard '>' can only appear at the end of the pattern"),
    (">.>", "Wildcard '>' can only appear at the end of the pattern"),
    # order
    (".a..b", "Key pattern must not start or end with a delimiter"),
    ("a..>.b", "Key pattern must not contain empty tokens"),
    ("x" * 300 + ".>.b", "Key pattern must not exceed 255 characters"),
]


@pytest.mark.parametrize("pattern, reason", KEY_PATTERN_ERRORS)
def test_key_pattern_errors(api, loaded, pattern, reason):
    consumer = api.create_consumer(loaded, "w")
    summary = f"Invalid key pattern: {reason}"
    assert_summary(api.get(f"/api/streams/{loaded}/messages", params={"key_pattern": pattern}), 400, summary)
    path = f"/api/streams/{loaded}/consumers/{consumer['id']}/messages"
    assert_summary(api.get(path, params={"key_pattern": pattern}), 400, summary)


def test_key_pattern_accepts_spaces_and_limits(api, loaded):
    assert api.list_messages(loaded, key_pattern="a b") == []
    assert api.list_messages(loaded, key_pattern="x" * 255) == []
    assert api.list_messages(loaded, key_pattern=".".join(["a"] * 15 + [">"])) == []
    assert api.list_messages(loaded, key_pattern=".".join(["*"] * 15)) != []


def test_sixteen_token_pattern_without_gt_is_500(api, loaded):
    consumer = api.create_consumer(loaded, "w")
    pattern = ".".join(["a"] * 16)
    assert_500(api.get(f"/api/streams/{loaded}/messages", params={"key_pattern": pattern}))
    assert_500(api.get(f"/api/streams/{loaded}/consumers/w/messages", params={"key_pattern": pattern}))
    assert len(api.peek(loaded, consumer["id"])) == len(KEYS)


# -- list messages (§3.8) -----------------------------------------------------------------------


def test_list_sort_limit_and_default_limit(api, stream):
    name = stream["name"]
    api.publish(name, [(f"k{i:03d}", "v") for i in range(150)])
    default = api.ok(api.get(f"/api/streams/{name}/messages"))["data"]
    assert len(default) == 100
    seqs = [m["seq"] for m in default]
    assert seqs == sorted(seqs)
    assert default[0]["key"] == "k149"
    desc = api.list_messages(name, sort="seq_desc", limit="3")
    assert keys_of(desc) == ["k000", "k001", "k002"]
    assert keys_of(api.list_messages(name, sort="seq_asc", limit="1")) == ["k149"]
    assert len(api.list_messages(name, limit="10000")) == 150
    assert desc[0] == message_body("k000", "v", stream, desc[0]["seq"])


def test_list_validation_order(api, loaded):
    path = f"/api/streams/{loaded}/messages"
    bad = {"sort": "x", "limit": "0", "key_pattern": ""}
    assert_not_found(api.get(f"/api/streams/{unique()}/messages", params=bad), "stream")
    assert_summary(api.get(path, params=bad), 400, "Invalid sort parameter")
    assert_summary(api.get(path, params={**bad, "sort": "seq_desc"}), 400, "Invalid limit parameter")
    assert_summary(
        api.get(path, params={**bad, "sort": "seq_desc", "limit": "5"}),
        400,
        "Invalid key pattern: Key pattern must not be empty",
    )


@pytest.mark.parametrize("sort", ["", "SEQ_ASC", "asc", "seq"])
def test_invalid_sort(api, loaded, sort):
    assert_summary(
        api.get(f"/api/streams/{loaded}/messages", params={"sort": sort}), 400, "Invalid sort parameter"
    )


def test_non_string_sort_is_a_400(api, loaded):
    response = api.request("GET", f"/api/streams/{loaded}/messages", json={"sort": 1})
    assert_summary(response, 400, "Invalid sort parameter")


@pytest.mark.parametrize("limit", ["0", "10001", "-1", "abc", ""])
def test_invalid_limit(api, loaded, limit):
    assert_summary(
        api.get(f"/api/streams/{loaded}/messages", params={"limit": limit}), 400, "Invalid limit parameter"
    )


def test_non_string_limit_or_key_pattern_is_500(api, loaded):
    path = f"/api/streams/{loaded}/messages"
    assert_500(api.get(path, params={"limit[]": "5"}))
    assert_500(api.get(path, params={"key_pattern[]": "a"}))
    assert_500(api.request("GET", path, json={"limit": 5}))
    assert_500(api.request("GET", path, json={"key_pattern": None}))
    assert_500(api.request("GET", path, json={"limit": None}))


def test_list_changes_nothing(api, loaded):
    consumer = api.create_consumer(loaded, "w")
    before = api.snapshot(loaded)
    api.list_messages(loaded, key_pattern="a.>")
    assert api.snapshot(loaded) == before
    assert len(api.receive(consumer["id"], 100)) == len(KEYS)


# -- get message and consumer_info (§3.9, §3.10) --------------------------------------------------


def test_get_message_is_bare_with_its_own_data_field(api, stream):
    api.publish(stream["name"], [("a.b.c", "payload")])
    body = api.get_message(stream["name"], "a.b.c")
    assert body == message_body("a.b.c", "payload", stream)
    assert api.get_message(stream["id"], "a.b.c") == body


def test_get_message_404s(api, stream):
    api.publish(stream["name"], [("a", "x")])
    assert_not_found(api.get(f"/api/streams/{unique()}/messages/a"), "stream")
    assert_not_found(api.get(f"/api/streams/{stream['name']}/messages/b"), "message")
    assert_not_found(api.get(f"/api/streams/{stream['name']}/messages/A"), "message")
    assert_not_found(api.get(f"/api/streams/{unique()}/messages/a/consumer_info"), "stream")
    assert_not_found(api.get(f"/api/streams/{stream['name']}/messages/b/consumer_info"), "message")


def test_get_message_with_percent_encoded_key(api, stream):
    api.publish(stream["name"], [("a/b.c%", "x")])
    assert api.get_message(stream["name"], "a%2Fb.c%25")["key"] == "a/b.c%"
    info = api.ok(api.get(f"/api/streams/{stream['name']}/messages/a%2Fb.c%25/consumer_info"))
    assert info["data"]["message"]["key"] == "a/b.c%"


def test_consumer_info_body(api, stream):
    api.publish(stream["name"], [("k", "v")])
    body = api.ok(api.get(f"/api/streams/{stream['name']}/messages/k/consumer_info"))
    assert body == {"data": {"message": api.get_message(stream["name"], "k"), "consumer_info": []}}


# -- peek (§3.11) -------------------------------------------------------------------------------


def test_peek_validation_order(api, loaded):
    consumer = api.create_consumer(loaded, "w")
    path = f"/api/streams/{loaded}/consumers/{consumer['id']}/messages"
    bad = {"sort": "x", "limit": "0", "visible": "yes", "key_pattern": ""}
    assert_not_found(api.get(f"/api/streams/{unique()}/consumers/w/messages", params=bad), "stream")
    assert_not_found(api.get(f"/api/streams/{loaded}/consumers/{unique()}/messages", params=bad), "consumer")
    assert_summary(api.get(path, params=bad), 400, "Invalid sort parameter")
    bad["sort"] = "seq_desc"
    assert_summary(api.get(path, params=bad), 400, "Invalid limit parameter")
    bad["limit"] = "10000"
    assert_summary(api.get(path, params=bad), 400, "Invalid visible parameter")
    bad["visible"] = "false"
    assert_summary(api.get(path, params=bad), 400, "Invalid key pattern: Key pattern must not be empty")


@pytest.mark.parametrize("visible", ["", "TRUE", "1", "yes"])
def test_peek_invalid_visible(api, loaded, visible):
    api.create_consumer(loaded, "w")
    response = api.get(f"/api/streams/{loaded}/consumers/w/messages", params={"visible": visible})
    assert_summary(response, 400, "Invalid visible parameter")


def test_peek_looks_the_consumer_up_within_the_stream(api, loaded, streams):
    other = streams()
    foreign = api.create_consumer(other["name"], "w")
    assert_not_found(api.get(f"/api/streams/{loaded}/consumers/{foreign['id']}/messages"), "consumer")
    assert_not_found(api.get(f"/api/streams/{loaded}/consumers/w/messages"), "consumer")


def test_peek_non_string_limit_is_500(api, loaded):
    api.create_consumer(loaded, "w")
    assert_500(api.get(f"/api/streams/{loaded}/consumers/w/messages", params={"limit[]": "1"}))
    assert_500(api.get(f"/api/streams/{loaded}/consumers/w/messages", params={"key_pattern[x]": "1"}))


def test_peek_changes_nothing(api, loaded):
    consumer = api.create_consumer(loaded, "w")
    api.receive(consumer["id"], 2)
    before = api.snapshot(loaded)
    api.peek(loaded, consumer["id"], visible="true")
    assert api.snapshot(loaded) == before
