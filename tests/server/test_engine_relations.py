"""Unit tests of pytest_sequin.server.relations: derived PostgreSQL names (§7.2)."""

from __future__ import annotations

from pytest_sequin.server.relations import (
    RelationRegistry,
    consumer_table,
    identifier,
    stream_table,
)


def test_identifier_lowercases_drops_one_trailing_newline_and_truncates():
    assert identifier("Foo") == "foo"
    assert identifier("foo\n") == "foo"
    assert identifier("x" * 70) == "x" * 63


def test_table_names():
    assert stream_table("Orders") == "messages_orders"
    assert stream_table("s" * 60) == "messages_" + "s" * 54
    assert consumer_table("s", "Worker") == "consumer_messages_s_worker"
    assert consumer_table("s" * 44, "anything") == "consumer_messages_" + "s" * 44 + "_"


def test_stream_relations_and_collisions():
    registry = RelationRegistry()
    created = registry.create_stream_table("orders")
    assert created is not None
    assert created[:3] == ["messages_orders", "messages_orders_pkey", "messages_orders_stream_id_seq_idx"]
    assert "messages_orders_stream_id_token16_idx" in created
    assert len(created) == 20  # the table and its 19 indexes
    for name in (
        "Orders",
        "orders\n",
        "orders_pkey",
        "orders_stream_id_key_idx",
        "seq",
        "pkey",
        "stream_id_token7_index",
    ):
        assert registry.create_stream_table(name) is None, name
    assert registry.create_stream_table("orders2") is not None
    registry.drop(created)
    assert registry.create_stream_table("ORDERS") is not None


def test_long_stream_names_get_numbered_index_names():
    registry = RelationRegistry()
    first = registry.create_stream_table("a" * 30 + "one")
    second = registry.create_stream_table("a" * 30 + "two")
    assert first is not None and second is not None
    # The index name keeps only a prefix of the table name, so the second one is numbered.
    assert first[2] == "messages_" + "a" * 23 + "_stream_id_seq_idx"
    assert second[2] == "messages_" + "a" * 22 + "_stream_id_seq_idx1"
    assert all(len(name) <= 63 for name in first + second)
    assert not set(first) & set(second)


def test_consumer_relations_and_collisions():
    registry = RelationRegistry()
    assert registry.create_consumer_table("s", "worker") == [
        "consumer_messages_s_worker",
        "consumer_messages_s_worker_pkey",
    ]
    assert registry.create_consumer_table("s", "Worker") is None
    assert registry.create_consumer_table("s", "worker_pkey") is None
    assert registry.create_consumer_table("s_worker", "pkey") is None
    # Cross-stream: stream a + consumer b_c is stream a_b + consumer c.
    assert registry.create_consumer_table("a", "b_c") is not None
    assert registry.create_consumer_table("a_b", "c") is None
    long_stream = "x" * 44
    assert registry.create_consumer_table(long_stream, "one") is not None
    assert registry.create_consumer_table(long_stream, "two") is None


def test_a_stream_name_ending_in_newline_cannot_get_consumers():
    """``messages_foo\\n`` is just ``messages_foo`` in SQL, but ``consumer_messages_foo\\n_c``
    puts the newline inside the identifier: a syntax error, so a 500 (§2.1, §7.2)."""
    registry = RelationRegistry()
    assert registry.create_stream_table("foo\n") is not None
    assert registry.create_consumer_table("foo\n", "c") is None
    assert registry.create_consumer_table("foo", "c\n") is not None
