"""Concurrent receivers and publishers: nothing handed out twice, nothing lost or duplicated."""

from __future__ import annotations

import threading
from collections import Counter

from ._api import Api

THREADS = 4


def _run(workers):
    errors = []

    def wrap(fn):
        def run():
            try:
                fn()
            except BaseException as exc:  # noqa: BLE001 - surfaced below
                errors.append(exc)

        return run

    threads = [threading.Thread(target=wrap(fn)) for fn in workers]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors


def test_concurrent_receivers_share_the_work(api, sequin_base_url, stream):
    name = stream["name"]
    total = 300
    api.publish(name, [(f"k.{i}", str(i)) for i in range(total)])
    consumer = api.create_consumer(name, "w")  # ack_wait 30 s: no redelivery during the test
    handed_out: list[list[str]] = [[] for _ in range(THREADS)]
    keys: list[list[str]] = [[] for _ in range(THREADS)]

    def worker(index):
        def run():
            client = Api(sequin_base_url)
            try:
                while True:
                    items = client.receive(consumer["id"], 7)
                    if not items:
                        return
                    handed_out[index].extend(i["ack_id"] for i in items)
                    keys[index].extend(i["message"]["key"] for i in items)
                    if index % 2 == 0:
                        client.ack(consumer["id"], [i["ack_id"] for i in items])
            finally:
                client.close()

        return run

    _run([worker(i) for i in range(THREADS)])
    all_ids = [a for part in handed_out for a in part]
    all_keys = [k for part in keys for k in part]
    assert len(all_ids) == total
    assert len(set(all_ids)) == total  # no ack_id handed out twice within its timeout
    assert sorted(all_keys) == sorted(f"k.{i}" for i in range(total))
    assert api.receive(consumer["id"]) == []


def test_concurrent_publishers_lose_and_duplicate_nothing(api, sequin_base_url, stream):
    name = stream["name"]
    consumer = api.create_consumer(name, "w")
    per_thread = 25

    def publisher(index):
        def run():
            client = Api(sequin_base_url)
            try:
                for n in range(per_thread):
                    assert client.publish(name, [(f"p{index}.{n}.a", "x"), (f"p{index}.{n}.b", "y")]) == 2
            finally:
                client.close()

        return run

    _run([publisher(i) for i in range(THREADS)])
    messages = api.list_messages(name)
    expected = {f"p{i}.{n}.{x}" for i in range(THREADS) for n in range(per_thread) for x in "ab"}
    assert {m["key"] for m in messages} == expected
    assert len(messages) == len(expected)
    seqs = [m["seq"] for m in messages]
    assert len(set(seqs)) == len(seqs)
    assert seqs == sorted(seqs)
    received = api.receive(consumer["id"], 1000)
    assert Counter(i["message"]["key"] for i in received) == Counter(expected)


def test_concurrent_republish_of_one_key_ends_with_one_version(api, sequin_base_url, stream):
    name = stream["name"]
    consumer = api.create_consumer(name, "w")

    def publisher(index):
        def run():
            client = Api(sequin_base_url)
            try:
                for n in range(20):
                    client.publish(name, [("shared", f"{index}-{n}")])
            finally:
                client.close()

        return run

    _run([publisher(i) for i in range(THREADS)])
    [message] = api.list_messages(name)
    [item] = api.receive(consumer["id"], 10)
    assert item["message"] == message
