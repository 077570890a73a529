"""Derived PostgreSQL relation names, the source of many real-server 500s (spec §7.2).

The real server creates one table per stream (``messages_<name>``) and one per consumer
(``consumer_messages_<stream>_<consumer>``) from unquoted user-supplied names, so PostgreSQL
lowercases them, reads a trailing newline as whitespace, and truncates them at 63 bytes. A new
table whose name is already taken by any relation (table, index or sequence) of the schema
fails, and the API answers 500. This registry reproduces that, so a name that would crash
production crashes here too.
"""

from __future__ import annotations

from typing import Iterable

NAMEDATALEN = 63

#: Objects that exist in the streams schema of every real server (the partitioned parents'
#: sequence and indexes). ``messages_<n>`` collides with them for n = seq, pkey, ...
FIXED_RELATIONS = frozenset(
    [
        "messages",
        "messages_seq",
        "messages_pkey",
        "messages_stream_id_seq_index",
        "messages_stream_id_key_index",
    ]
    + [f"messages_stream_id_token{i}_index" for i in range(1, 17)]
    + ["consumer_messages", "consumer_messages_pkey"]
)

#: Index column lists of a stream partition, in creation order; PostgreSQL names a partition's
#: copy of a parent index ``<table>_<columns>_idx`` (``<table>_pkey`` for the primary key).
_STREAM_INDEX_COLUMNS = ["stream_id_seq", "stream_id_key"] + [f"stream_id_token{i}" for i in range(1, 17)]


def identifier(raw: str) -> str:
    """What PostgreSQL makes of an unquoted identifier: trailing newline dropped, ASCII
    lowercased, cut to 63 bytes."""
    if raw.endswith("\n"):
        raw = raw[:-1]
    lowered = raw.lower()
    encoded = lowered.encode("utf-8", "surrogateescape")
    if len(encoded) <= NAMEDATALEN:
        return lowered
    return encoded[:NAMEDATALEN].decode("utf-8", "ignore")


def stream_table(stream_name: str) -> str:
    return identifier(f"messages_{stream_name}")


def consumer_table(stream_name: str, consumer_name: str) -> str:
    return identifier(f"consumer_messages_{stream_name}_{consumer_name}")


def _object_name(table: str, columns: str | None, label: str) -> str:
    """PostgreSQL's makeObjectName: shorten the longer part until the whole fits 63 bytes.

    Its loop removes one character at a time from the longer part (from the second on a tie);
    this computes where that loop ends, since 19 names are made per stream created.
    """
    overhead = len(label) + 1 + (len(columns) + 1 if columns else 0)
    name2 = columns or ""
    len1, len2 = len(table), len(name2)
    excess = len1 + len2 - (NAMEDATALEN - overhead)
    if excess > 0:
        if len1 > len2:
            step = min(excess, len1 - len2)
            len1 -= step
        else:
            step = min(excess, len2 - len1)
            len2 -= step
        excess -= step
        if excess > 0:  # equal lengths now: the second part loses the first character
            len2 -= (excess + 1) // 2
            len1 -= excess // 2
    name1, name2 = table[: max(len1, 0)], name2[: max(len2, 0)]
    return f"{name1}_{name2}_{label}" if columns else f"{name1}_{label}"


class RelationRegistry:
    """The set of relation names in the streams schema. Not thread-safe: the engine's lock
    covers it."""

    def __init__(self) -> None:
        self._names: set[str] = set(FIXED_RELATIONS)

    def __contains__(self, name: str) -> bool:
        return name in self._names

    def _choose(self, table: str, columns: str | None, label: str) -> str:
        """PostgreSQL's ChooseRelationName: add 1, 2, ... to the label until the name is free."""
        candidate = _object_name(table, columns, label)
        attempt = 0
        while candidate in self._names:
            attempt += 1
            candidate = _object_name(table, columns, f"{label}{attempt}")
        return candidate

    def create_stream_table(self, stream_name: str) -> list[str] | None:
        """Register a stream's table and its 19 indexes; None if the table name is taken."""
        table = stream_table(stream_name)
        if table in self._names:
            return None
        created = [table]
        self._names.add(table)
        for name in [self._choose(table, None, "pkey")] + [
            self._choose(table, cols, "idx") for cols in _STREAM_INDEX_COLUMNS
        ]:
            self._names.add(name)
            created.append(name)
        return created

    def create_consumer_table(self, stream_name: str, consumer_name: str) -> list[str] | None:
        """Register a consumer's table and primary-key index; None if the table name is taken.

        Also None for a stream name ending in a newline (allowed by the name check, §2.1): the
        newline then sits inside the unquoted identifier, and the CREATE TABLE is a SQL syntax
        error on the real server, which answers 500 all the same.
        """
        table = consumer_table(stream_name, consumer_name)
        if table in self._names or "\n" in stream_name:
            return None
        pkey = self._choose(table, None, "pkey")
        self._names.update((table, pkey))
        return [table, pkey]

    def drop(self, names: Iterable[str]) -> None:
        self._names.difference_update(names)
