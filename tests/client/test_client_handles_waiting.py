"""The waiting helpers on consumer handles."""

from __future__ import annotations

import threading
import time

import pytest

from pytest_sequin.client import SequinClient


@pytest.fixture
def consumer(sequin_base_url):
    client = SequinClient(sequin_base_url)
    with client.new_stream() as stream:
        yield stream, stream.new_consumer()


def test_receive_until_waits_for_messages_published_later(consumer):
    stream, handle = consumer
    timer = threading.Timer(0.1, lambda: stream.send_many({"a": "1", "b": "2"}))
    timer.start()
    started = time.monotonic()
    got = handle.receive_until(2, timeout=5)
    timer.join()
    assert [m.key for m in got] == ["b", "a"]  # one request: the last element gets the lower seq
    assert time.monotonic() - started < 4


def test_receive_until_fails_listing_what_arrived(consumer):
    stream, handle = consumer
    stream.send("orders.1", "hello")
    with pytest.raises(
        AssertionError, match=r"received 1 of 3 messages within 0.2 s: orders.1='hello' \(seq \d+\)"
    ):
        handle.receive_until(3, timeout=0.2)


def test_expect_no_messages_passes_when_empty_and_lists_waiting_ones(consumer):
    stream, handle = consumer
    handle.expect_no_messages()
    stream.send("k", "v")
    with pytest.raises(AssertionError, match=r"still has deliverable messages: k='v' \(delivered 0x\)"):
        handle.expect_no_messages()
    # it did not receive: the message is still there, first delivery
    [item] = handle.receive()
    assert item.key == "k"
    handle.expect_no_messages()  # in flight now, so not deliverable


def test_receive_until_takes_exactly_count_and_leaves_the_rest_deliverable(consumer):
    stream, handle = consumer
    stream.send_many({f"k{i}": str(i) for i in range(5)})
    got = handle.receive_until(3)
    assert len(got) == 3
    assert len(handle.peek(visible=True)) == 2  # not put in flight behind the worker's back
    assert handle.receive_until(0) == []
    assert len(handle.peek(visible=True)) == 2
    for bad in (-1, 1.5, True):
        with pytest.raises(ValueError, match="count >= 0"):
            handle.receive_until(bad)


def test_handles_ack_receive_items_as_sequin_py_returns_them(consumer, sequin_base_url):
    from sequin.client import Client

    stream, handle = consumer
    stream.send_many({"a": "1", "b": "2"})
    items, error = Client(sequin_base_url).receive_messages(stream.name, handle.name)
    assert error is None and len(items) == 2
    handle.ack(items[0])  # one item, as a dict
    handle.nack(items[1:])  # a list of them
    states = {k: stream.consumer_info(k)["consumer_info"][0]["state"] for k in ("a", "b")}
    assert states == {items[0]["message"]["key"]: "acked", items[1]["message"]["key"]: "available"}
