"""Tests of the orders app against the embedded Sequin server, with pytest-sequin's fixtures."""

from __future__ import annotations

import json

import pytest
from orders_app.orders import client, process_batch, publish_order


def test_published_orders_reach_the_worker(sequin_stream, sequin_consumer):
    sequin = client()  # the app's own client, reaching the test server through SEQUIN_URL
    publish_order(sequin, sequin_stream.name, {"id": 1, "total": 30})
    publish_order(sequin, sequin_stream.name, {"id": 2, "total": 12})

    seen = []
    assert process_batch(sequin, sequin_stream.name, sequin_consumer.name, seen.append) == 2
    assert [order["id"] for order in seen] == [1, 2]
    sequin_consumer.expect_no_messages()


def test_an_updated_order_is_delivered_again(sequin_stream, sequin_consumer):
    sequin = client()
    publish_order(sequin, sequin_stream.name, {"id": 7, "total": 10})
    process_batch(sequin, sequin_stream.name, sequin_consumer.name, lambda order: None)

    publish_order(sequin, sequin_stream.name, {"id": 7, "total": 11})
    [again] = sequin_consumer.receive()
    assert json.loads(again.data)["total"] == 11


def test_a_failed_order_is_redelivered(sequin_stream, sequin_consumer):
    sequin = client()
    publish_order(sequin, sequin_stream.name, {"id": 3, "total": -1})

    def reject(order):
        raise ValueError("negative total")

    assert process_batch(sequin, sequin_stream.name, sequin_consumer.name, reject) == 0
    [retry] = sequin_consumer.receive()  # nacked: available again at once
    assert retry.key == "orders.3"


def test_redelivery_after_the_visibility_timeout_needs_no_sleep(sequin_stream, sequin_consumer, sequin_clock):
    publish_order(client(), sequin_stream.name, {"id": 4, "total": 5})
    [first] = sequin_consumer.receive()
    assert sequin_consumer.receive() == []  # invisible for ack_wait_ms (30 s by default)

    sequin_clock.advance(31)
    [second] = sequin_consumer.receive()
    assert second.ack_id == first.ack_id


@pytest.mark.sequin(filter_key_pattern="orders.*")
def test_a_consumer_sees_only_its_filter(sequin_stream, sequin_consumer):
    sequin_stream.send_many({"orders.1": "a", "refunds.1": "b", "orders.1.lines": "c"})
    assert [m.key for m in sequin_consumer.receive()] == ["orders.1"]


def test_sequin_py_readme_example_with_fixtures(sequin_stream, sequin_consumer):
    """The sequin-py README's testing example, with the fixtures doing create and delete."""
    sequin = client()
    res, error = sequin.send_message(sequin_stream.name, "test.1", "Hello, Sequin!")
    assert error is None
    assert res["published"] == 1

    message, error = sequin.receive_message(sequin_stream.name, sequin_consumer.name)
    assert error is None
    assert message is not None
    assert message["message"]["data"] == "Hello, Sequin!"

    res, error = sequin.ack_message(sequin_stream.name, sequin_consumer.name, message["ack_id"])
    assert error is None
    assert res == {"success": True}
