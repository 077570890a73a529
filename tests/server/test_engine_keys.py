"""Unit tests of pytest_sequin.server.keys: key rules, both pattern mechanisms (§2.3, §2.4)."""

from __future__ import annotations

import pytest

from pytest_sequin.server.keys import (
    ListPattern,
    filter_matches,
    grapheme_length,
    is_storable_key,
    key_format_error,
    key_pattern_error,
)


@pytest.mark.parametrize(
    "text, length",
    [
        ("", 0),
        ("abc", 3),
        ("a\r\nb", 3),
        ("e\u0301", 1),
        ("e\u0301\u0302x", 2),
        ("\U0001f468\u200d\U0001f469\u200d\U0001f467", 1),
        ("\u2764\ufe0f", 1),
        ("\u0301a", 2),  # a leading combining mark counts as one
        ("café", 4),
    ],
)
def test_grapheme_length(text, length):
    assert grapheme_length(text) == length


@pytest.mark.parametrize(
    "key, reason",
    [
        ("", "Key must not be empty"),
        ("a b", "Key contains invalid characters"),
        ("*", "Key contains invalid characters"),
        ("a>", "Key contains invalid characters"),
        (".a", "Key must not start or end with a delimiter"),
        ("a.", "Key must not start or end with a delimiter"),
        ("a..b", "Key must not contain empty tokens"),
        ("a" * 256, "Key must not exceed 255 characters"),
        ("a." * 16 + "a", "Key must not contain more than 16 tokens"),
        ("a\x00", "Key must not contain null characters"),
        ("a", None),
        ("a" * 255, None),
        ("a." * 15 + "a", None),
        ("e\u0301" * 255, None),
        ("café", None),  # passes the checks; the database rejects it later
        ("a\tb", None),
        ("-_/:#@!", None),
    ],
)
def test_key_format_error(key, reason):
    assert key_format_error(key) == reason


@pytest.mark.parametrize(
    "key, storable",
    [
        ("a", True),
        ("~ !", True),
        ("café", False),
        ("a\tb", False),
        ("a\x7f", False),
        ("\x1f", False),
        ("", True),
    ],
)
def test_is_storable_key(key, storable):
    assert is_storable_key(key) is storable


@pytest.mark.parametrize(
    "pattern, reason",
    [
        ("", "Key pattern must not be empty"),
        (".", "Key pattern must not start or end with a delimiter"),
        ("a..b", "Key pattern must not contain empty tokens"),
        ("a" * 256, "Key pattern must not exceed 255 characters"),
        (".".join("a" * 17), "Key pattern must not contain more than 16 tokens"),
        ("a.>.b", "Wildcard '>' can only appear at the end of the pattern"),
        ("a.>", None),
        (">", None),
        ("a b.x>.*", None),
        (".".join("a" * 16), None),  # valid here; the SQL then fails (500)
    ],
)
def test_key_pattern_error(pattern, reason):
    assert key_pattern_error(pattern) == reason


FILTER_TABLE = [
    ("orders.*", ["orders.new", "orders.update"], ["orders", "orders.new.priority"]),
    ("orders.>", ["orders.new", "orders.new.priority"], ["orders"]),
    ("*", ["a", "orders"], ["a.b"]),
    (">", ["a", "a.b", "a.b.c.d.e.f"], []),
    ("a.*.c.>", ["a.b.c.d.e"], ["a.b.c"]),
    ("*.b.*", ["a.b.c"], ["a.b"]),
    ("a.b.c", ["a.b.c"], ["a.b.d", "a.b.c.d"]),
    ("a..b", [], ["a.b", "a.x.b"]),
    ("a.>.b", ["a.>.b"], ["a.x.b"]),
    ("A.b", ["A.b"], ["a.b"]),
]


@pytest.mark.parametrize("pattern, matches, misses", FILTER_TABLE)
def test_filter_matches(pattern, matches, misses):
    tokens = pattern.split(".")
    for key in matches:
        assert filter_matches(tokens, key.split(".")), key
    for key in misses:
        assert not filter_matches(tokens, key.split(".")), key


LIST_TABLE = [
    ("orders.*", ["orders", "orders.new"], ["orders.new.priority", "other"]),
    ("a.*.*", ["a", "a.b", "a.b.c"], ["a.b.c.d", "b"]),
    ("*.new", ["orders.new"], ["orders", "orders.new.x"]),
    ("a.*.c", ["a.b.c"], ["a.b", "a.b.c.d"]),
    ("a.b.>", ["a.b.c", "a.b.c.d"], ["a.b", "a"]),
    ("*", ["a"], ["a.b"]),
    ("*.*", ["a", "a.b"], ["a.b.c"]),
    (">", ["a", "a.b"], []),
]


@pytest.mark.parametrize("pattern, matches, misses", LIST_TABLE)
def test_list_pattern(pattern, matches, misses):
    compiled = ListPattern(pattern)
    for key in matches:
        assert compiled.matches(key.split(".")), key
    for key in misses:
        assert not compiled.matches(key.split(".")), key


@pytest.mark.parametrize(
    "pattern, missing",
    [
        (".".join("a" * 16), True),
        (".".join("*" * 16), True),
        (".".join("a" * 15) + ".>", False),
        ("a", False),
    ],
)
def test_sixteen_token_patterns_need_a_missing_column(pattern, missing):
    assert ListPattern(pattern).needs_missing_column is missing
