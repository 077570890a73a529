"""Publishing and processing orders through Sequin with the sequin-py SDK."""

from __future__ import annotations

import json
from typing import Callable

from sequin.client import Client

STREAM = "orders"
WORKER = "order_worker"


def client() -> Client:
    """The app's client: ``Client()`` reads ``SEQUIN_URL``, which pytest-sequin points at the
    test server."""
    return Client()


def publish_order(sequin: Client, stream: str, order: dict) -> None:
    """One message per order id: re-publishing an order replaces it (Sequin upserts by key)."""
    _, error = sequin.send_message(stream, f"orders.{order['id']}", json.dumps(order, sort_keys=True))
    if error:
        raise RuntimeError(f"could not publish order {order['id']}: {error['summary']}")


def process_batch(sequin: Client, stream: str, consumer: str, handle: Callable[[dict], None]) -> int:
    """Receive up to 10 orders; ack the ones ``handle`` accepts, nack the ones it raises on.

    Returns how many were acked.
    """
    messages, error = sequin.receive_messages(stream, consumer, {"batch_size": 10})
    if error:
        raise RuntimeError(f"could not receive: {error['summary']}")
    done, failed = [], []
    for item in messages:
        try:
            handle(json.loads(item["message"]["data"]))
        except Exception:
            failed.append(item["ack_id"])
        else:
            done.append(item["ack_id"])
    if done:
        sequin.ack_messages(stream, consumer, done)
    if failed:
        sequin.nack_messages(stream, consumer, failed)
    return len(done)
