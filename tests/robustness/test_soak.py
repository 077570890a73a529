"""Soak and load: threads and processes publishing, receiving and acking against one server.

``test_threads_soak`` runs, against one in-process :class:`EmbeddedSequinServer`, publisher
threads (each owning its keys; batches mix new keys, new versions of keys already sent and
unchanged re-publishes, whose ``published`` count is checked) and receiver threads (two per
consumer, competing; random batch sizes; about a third of the acks held back until the next
receive, so re-publishes hit delivered rows). Each stream has a ``>`` consumer and a ``p0.>``
one. Every thread has its own client. Checked:

* nothing lost: for every consumer, the last version of every matching key is received and
  acked; afterwards peek shows nothing unacked, receive returns nothing, message counts match;
* nothing delivered twice: ``ack_wait_ms`` is longer than the run, so an ack_id delivered again
  inside ``ack_wait_ms`` of its last delivery (receiver-side monotonic times) with no ack sent
  in between is a bug; so is one version of a key delivered twice, a key under two ack_ids, a
  key's seq not growing, data never published, or a key outside the filter;
* memory flat: tracemalloc runs from after a warm-up round; once the streams are deleted, the
  clients closed, the server's request log cleared (a ring buffer of 10,000 entries, bounded by
  design), the run's bookkeeping dropped and ``gc.collect()`` done, traced memory is back within
  ``MEMORY_SLACK`` of its baseline (about 12 MB are traced with the streams loaded, server and
  bookkeeping; about 50 KB remain after: free lists and caches, the same after 10 times the load);
* no leaks after ``stop()`` (called with three idle keep-alive connections and one stuck in a
  request head still open): every thread started since the test began has ended, and once
  those connections are closed the number of open fds in ``/proc/self/fd`` is back to its
  baseline (small slack).

``test_processes_soak`` starts ``python -m pytest_sequin.server --port 0``, creates one stream and
one consumer, and runs two worker processes (``python -c WORKER``) with their own clients: each
publishes its own keys in batches while receiving and acking from the shared consumer, until the
stream holds the keys of both workers and peek shows nothing unacked. The parent checks that no
ack_id came twice within ``ack_wait_ms`` (workers' wall-clock times), that every key was
received exactly once with its data, that the server agrees (nothing deliverable or unacked,
message count), that SIGTERM makes the server exit 0, and that it logged no unexpected error.

Sizes: by default 2 streams x 2 publishers x 500 keys with threads (about 3,300 deliveries,
~1 s) and 2 workers x 1,000 keys with processes (~0.5 s); ``SEQUIN_ROBUSTNESS=long``
multiplies the key counts by 20 (shorter data; ~40 s, ~120 MB traced at the peak). Every loop
is bounded in count and by ``TIME_CAP`` seconds (a safety net; runs end on counts). Nothing asserts on speed.
"""

from __future__ import annotations

import contextlib
import gc
import http.client
import json
import math
import os
import random
import select
import signal
import socket
import subprocess
import sys
import threading
import time
import traceback
import tracemalloc
from collections import Counter
from typing import Any, Callable, Optional

from pytest_sequin.client import ReceivedMessage, SequinClient
from pytest_sequin.server import EmbeddedSequinServer

LONG = os.environ.get("SEQUIN_ROBUSTNESS", "").lower() == "long"
SCALE = 20 if LONG else 1

#: Safety net for every phase (seconds); runs end on counts long before. Under 5 minutes, so
#: consumers keep their acked rows for the whole run (a key keeps its ack_id, spec §4.5).
TIME_CAP = 240.0 if LONG else 60.0
#: Longer than any run, so a second delivery of an unacked row within the run is a bug.
ACK_WAIT_MS = int(2 * TIME_CAP * 1000)
#: Consumers younger than 5 minutes keep acked rows in their window (spec §4.2).
MAX_ACK_PENDING = 1_000_000

STREAMS = 2
PUBLISHERS = 2  # per stream; publisher i owns the keys p<i>.k<n>
KEYS_PER_PUBLISHER = 500 * SCALE
RECEIVERS = 2  # per consumer
FILTERED_PREFIX = "p0."  # the second consumer of each stream: filter "p0.>"
#: Data is padded to 0..MAX_DATA characters, so the engine holds megabytes (less per key when long).
MAX_DATA = 400 if LONG else 2000
MEMORY_SLACK = 512 * 1024
FD_SLACK = 3

PROCESS_WORKERS = 2
PROCESS_KEYS = 1000 * SCALE
MAX_POLLS = 200_000  # per receiver loop; the time cap comes first


def _padding(rng: random.Random) -> str:
    return "x" * rng.randint(0, MAX_DATA)


class Soak:
    """Everything the threads share: published versions, per-consumer delivery records, errors.

    One lock guards it all; it is held for bookkeeping only, never around a request.
    """

    def __init__(self, deadline: float) -> None:
        self.lock = threading.Lock()
        self.deadline = deadline
        self.errors: list[str] = []
        self.versions: dict[str, dict[str, list[str]]] = {}  # stream -> key -> data, oldest first
        self.publishers_left: dict[str, int] = {}
        self.consumers: dict[str, ConsumerRecord] = {}

    def fail(self, text: str) -> None:
        with self.lock:
            self.errors.append(text)

    def run(self, name: str, target: Callable[[], None]) -> threading.Thread:
        def guarded() -> None:
            try:
                target()
            except BaseException:
                self.fail(f"{name}: {traceback.format_exc()}")

        thread = threading.Thread(target=guarded, name=f"soak-{name}", daemon=True)
        thread.start()
        return thread

    def time_left(self) -> bool:
        return time.monotonic() < self.deadline


class ConsumerRecord:
    """What the receivers of one consumer saw (guarded by ``Soak.lock``)."""

    def __init__(self, soak: Soak, stream: str, name: str, prefix: str) -> None:
        self.soak = soak
        self.stream = stream
        self.name = name
        self.prefix = prefix
        self.last_delivery: dict[str, float] = {}  # ack_id -> monotonic time of its last delivery
        self.ack_sent: dict[str, bool] = {}  # ack_id -> an ack was sent since its last delivery
        self.key_of: dict[str, str] = {}  # ack_id -> key
        self.ack_id_of: dict[str, str] = {}  # key -> ack_id
        self.last_seq: dict[str, int] = {}
        self.delivered: Counter[tuple[str, str]] = Counter()
        self.acked: set[tuple[str, str]] = set()
        self.deliveries = 0
        self.redeliveries = 0  # legitimate: a new version after an ack
        self.unacked = 0  # delivered to a receiver, ack not answered yet

    def record_deliveries(self, items: list[ReceivedMessage], now: float) -> None:
        soak = self.soak
        with soak.lock:
            versions = soak.versions[self.stream]
            self.unacked += len(items)
            for item in items:
                key, data, ack_id = item.key, item.data, item.ack_id
                where = f"{self.stream}/{self.name}: {key} (ack_id {ack_id}, seq {item.seq})"
                self.deliveries += 1
                if not key.startswith(self.prefix):
                    soak.errors.append(f"{where}: outside the filter {self.prefix}>")
                if data not in versions.get(key, ()):
                    soak.errors.append(f"{where}: data {data[:40]!r} was never published")
                previous = self.last_delivery.get(ack_id)
                if previous is not None:
                    self.redeliveries += 1
                    if not self.ack_sent[ack_id] and now - previous < ACK_WAIT_MS / 1000:
                        soak.errors.append(
                            f"{where}: delivered again {now - previous:.3f} s after its last delivery, "
                            f"unacked, inside its visibility timeout of {ACK_WAIT_MS} ms"
                        )
                self.last_delivery[ack_id] = now
                self.ack_sent[ack_id] = False
                if self.key_of.setdefault(ack_id, key) != key:
                    soak.errors.append(f"{where}: ack_id already used for key {self.key_of[ack_id]}")
                if self.ack_id_of.setdefault(key, ack_id) != ack_id:
                    soak.errors.append(f"{where}: key already delivered under ack_id {self.ack_id_of[key]}")
                if item.seq <= self.last_seq.get(key, 0):
                    soak.errors.append(f"{where}: seq not above the last one seen ({self.last_seq[key]})")
                self.last_seq[key] = max(item.seq, self.last_seq.get(key, 0))
                self.delivered[key, data] += 1
                if self.delivered[key, data] > 1:
                    soak.errors.append(f"{where}: version {data[:40]!r} delivered twice")

    def ack_sending(self, items: list[ReceivedMessage]) -> None:
        with self.soak.lock:
            for item in items:
                self.ack_sent[item.ack_id] = True

    def record_acked(self, items: list[ReceivedMessage]) -> None:
        with self.soak.lock:
            self.unacked -= len(items)
            self.acked.update((item.key, item.data) for item in items)

    def missing(self) -> list[str]:
        """Keys whose last version is not acked yet (meaningful once the publishers are done)."""
        with self.soak.lock:
            versions = self.soak.versions[self.stream]
            return [
                key
                for key, datas in versions.items()
                if key.startswith(self.prefix) and (key, datas[-1]) not in self.acked
            ]

    def complete(self) -> bool:
        with self.soak.lock:
            if self.soak.publishers_left[self.stream]:
                return False
        return not self.missing()

    def settled(self) -> bool:
        """Publishing is over and every delivery is acked: a receive that still finds nothing
        after this means nothing more will come (no timeout expires during the run)."""
        with self.soak.lock:
            return not self.soak.publishers_left[self.stream] and not self.unacked


def publisher(soak: Soak, url: str, stream_id: str, stream: str, index: int, seed: int) -> Callable[[], None]:
    def run() -> None:
        rng = random.Random(seed)
        fresh = [f"p{index}.k{n}" for n in range(KEYS_PER_PUBLISHER)]
        sent: list[str] = []  # keys published so far
        current: dict[str, str] = {}  # key -> its data on the server
        version: Counter[str] = Counter()
        client = SequinClient(url)
        try:
            handle = client.stream(stream_id)
            for _ in range(KEYS_PER_PUBLISHER + 1):
                if not fresh or not soak.time_left():
                    break
                batch = {}
                for key in fresh[: rng.randint(1, 25)]:
                    batch[key] = f"{key}#v0|{_padding(rng)}"
                del fresh[: len(batch)]
                changed = len(batch)
                if sent and rng.random() < 0.6:
                    for key in rng.sample(sent, min(len(sent), rng.randint(1, 6))):
                        if rng.random() < 0.25:
                            batch[key] = current[key]  # unchanged: not published, no delivery
                        else:
                            version[key] += 1
                            batch[key] = f"{key}#v{version[key]}|{_padding(rng)}"
                            changed += 1
                items = list(batch.items())
                rng.shuffle(items)
                with soak.lock:
                    versions = soak.versions[stream]
                    for key, data in items:
                        if current.get(key) != data:
                            versions.setdefault(key, []).append(data)
                published = handle.send_many(items)
                if published != changed:
                    soak.fail(f"{stream} p{index}: published {published}, expected {changed}")
                sent.extend(key for key in batch if key not in current)
                current.update(batch)
        finally:
            client.close()
            with soak.lock:
                soak.publishers_left[stream] -= 1

    return run


def receiver(soak: Soak, url: str, stream_id: str, consumer_id: str, record: ConsumerRecord, seed: int):
    def run() -> None:
        rng = random.Random(seed)
        client = SequinClient(url)
        held: list[ReceivedMessage] = []
        try:
            consumer = client.stream(stream_id).consumer(consumer_id)
            idle = 0  # receives in a row that found nothing once everything was settled
            for _ in range(MAX_POLLS):
                if not soak.time_left() or (not held and record.complete()) or idle >= 3:
                    break  # idle: something is lost; the checks after the run say what
                settled = not held and record.settled()
                items = consumer.receive(rng.randint(1, 40))
                idle = idle + 1 if settled and not items else 0
                record.record_deliveries(items, time.monotonic())
                if rng.random() < 0.3:  # hold these acks until the next round
                    to_ack, held = held, items
                else:
                    to_ack, held = held + items, []
                if to_ack:
                    record.ack_sending(to_ack)
                    consumer.ack(to_ack)
                    record.record_acked(to_ack)
                if not items:
                    time.sleep(0.002)
        finally:
            try:
                if held:
                    record.ack_sending(held)
                    consumer.ack(held)
                    record.record_acked(held)
            finally:
                client.close()

    return run


def _open_fds() -> Optional[int]:
    try:
        return len(os.listdir("/proc/self/fd"))
    except OSError:
        return None


def _wait_until(condition: Callable[[], bool], seconds: float = 10.0) -> bool:
    deadline = time.monotonic() + seconds
    for _ in range(10_000):
        if condition() or time.monotonic() > deadline:
            break
        time.sleep(0.01)
    return condition()


def _warm_up(url: str) -> None:
    """One small round of everything the soak does, so caches and lazy imports are in the baseline."""
    with SequinClient(url) as client:
        stream = client.new_stream()
        consumer = stream.new_consumer(filter_key_pattern=">", ack_wait_ms=ACK_WAIT_MS, max_ack_pending=10)
        stream.new_consumer(filter_key_pattern="p0.>")
        stream.send_many({f"p0.k{n}": "x" * n for n in range(30)})
        stream.send_many({"p0.k1": "y", "p0.k2": "x" * 2})
        consumer.ack(consumer.receive(20))
        consumer.peek()
        stream.info()
        stream.delete()


def _soak(url: str) -> dict[str, int]:
    """Run the threads against the server at ``url``, check what they saw, delete the streams.

    Returns counts only: every object of the run is garbage once this returns."""
    soak = Soak(time.monotonic() + TIME_CAP)
    with SequinClient(url) as setup:
        streams = []
        for _ in range(STREAMS):
            stream = setup.new_stream()
            streams.append(stream)
            soak.versions[stream.name] = {}
            soak.publishers_left[stream.name] = PUBLISHERS
            for prefix in ("", FILTERED_PREFIX):
                consumer = stream.new_consumer(
                    filter_key_pattern=f"{prefix}>", ack_wait_ms=ACK_WAIT_MS, max_ack_pending=MAX_ACK_PENDING
                )
                soak.consumers[consumer.id] = ConsumerRecord(soak, stream.name, consumer.name, prefix)
        workers = []
        for c, (consumer_id, record) in enumerate(soak.consumers.items()):
            stream_id = next(s.id for s in streams if s.name == record.stream)
            for r in range(RECEIVERS):
                run = receiver(soak, url, stream_id, consumer_id, record, seed=1000 + 10 * c + r)
                workers.append(soak.run(f"{record.name}-r{r}", run))
        for s, stream in enumerate(streams):
            for p in range(PUBLISHERS):
                run = publisher(soak, url, stream.id, stream.name, p, seed=10 * s + p)
                workers.append(soak.run(f"{stream.name}-p{p}", run))
        for worker in workers:
            worker.join(max(0.0, soak.deadline - time.monotonic()) + 10)
        stuck = [w.name for w in workers if w.is_alive()]
        assert not stuck, f"threads still running after {TIME_CAP:g} s: {stuck}; errors: {soak.errors[:5]}"
        assert not soak.errors, f"{len(soak.errors)} problems, the first ones:\n" + "\n".join(
            soak.errors[:20]
        )

        for consumer_id, record in soak.consumers.items():
            missing = record.missing()
            assert not missing, f"{record.stream}/{record.name}: last version never acked for {missing[:10]}"
            stream = next(s for s in streams if s.name == record.stream)
            consumer = stream.consumer(consumer_id)
            assert consumer.peek() == [], f"{record.name}: unacked rows left"
            assert consumer.receive(1000) == [], f"{record.name}: deliverable rows left"
            expected = sum(1 for key in soak.versions[record.stream] if key.startswith(record.prefix))
            assert len(record.ack_id_of) == expected
        for stream in streams:
            assert stream.info()["stats"]["message_count"] == PUBLISHERS * KEYS_PER_PUBLISHER
        deliveries = sum(r.deliveries for r in soak.consumers.values())
        assert deliveries >= STREAMS * (PUBLISHERS + 1) * KEYS_PER_PUBLISHER

        gc.collect()
        loaded = tracemalloc.get_traced_memory()[0]
        for stream in streams:
            stream.delete()
    return {
        "deliveries": deliveries,
        "redeliveries": sum(r.redeliveries for r in soak.consumers.values()),
        "versions": sum(len(v) for versions in soak.versions.values() for v in versions.values()),
        "loaded": loaded,
    }


def test_threads_soak():
    threads_before = set(threading.enumerate())
    fds_before = _open_fds()
    server = EmbeddedSequinServer(port=0).start()
    serving = set(threading.enumerate()) - threads_before  # the acceptor
    open_connections: list[Any] = []
    tracing = not tracemalloc.is_tracing()
    try:
        _warm_up(server.url)
        if tracing:
            tracemalloc.start()
        gc.collect()
        baseline = tracemalloc.get_traced_memory()[0]
        counts = _soak(server.url)
        # The clients are closed; once the server has seen that, its connection threads end.
        assert _wait_until(lambda: not set(threading.enumerate()) - threads_before - serving)
        server.requests.clear()  # a ring buffer of the last 10,000 requests, bounded by design
        gc.collect()
        after = tracemalloc.get_traced_memory()[0]
        assert after - baseline < MEMORY_SLACK, (
            f"traced memory {baseline} B before the soak, {counts['loaded']} B with the streams, "
            f"{after} B after deleting them"
        )
        print(f"\nthreads soak: {counts}, traced memory {baseline} -> {counts['loaded']} -> {after} B")
        # stop() must also end connections a client left open: idle keep-alive ones and one
        # stuck halfway through a request head.
        port = server.port
        for _ in range(3):
            idle = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            idle.request("GET", "/api/streams")
            assert idle.getresponse().read()
            open_connections.append(idle)
        stuck = socket.create_connection(("127.0.0.1", port), timeout=10)
        open_connections.append(stuck)
        stuck.sendall(b"GET /api/streams HTTP/1.1\r\nHost: x\r\n")
    finally:
        if tracing and tracemalloc.is_tracing():
            tracemalloc.stop()
        server.stop()
    try:
        left = set(threading.enumerate()) - threads_before
        assert not left, f"threads left after stop(): {sorted(t.name for t in left)}"
    finally:
        for connection in open_connections:
            connection.close()
    if fds_before is not None:
        assert _wait_until(lambda: _open_fds() <= fds_before + FD_SLACK), (  # type: ignore[operator]
            f"{_open_fds()} fds open after stop(), {fds_before} before"
        )


# -- processes -----------------------------------------------------------------------------------

WORKER = r"""
import json, random, sys, time
from pytest_sequin.client import SequinClient

url, stream_id, consumer_id, index, count, total, cap, out = sys.argv[1:]
index, count, total, deadline = int(index), int(count), int(total), time.monotonic() + float(cap)
rng = random.Random(index)
client = SequinClient(url)
stream = client.stream(stream_id)
consumer = stream.consumer(consumer_id)
fresh = [f"w{index}.k{n}" for n in range(count)]
published, received, polls = [], [], 0
while time.monotonic() < deadline and polls < 200000:
    polls += 1
    if fresh:
        batch = {key: f"{key}|{'y' * rng.randint(0, 300)}" for key in fresh[: rng.randint(1, 30)]}
        del fresh[: len(batch)]
        assert stream.send_many(batch) == len(batch)
        published.extend(batch.items())
    items = consumer.receive(rng.randint(1, 40))
    now = time.time()
    received.extend([item.ack_id, item.key, item.data, now] for item in items)
    consumer.ack(items)
    if not items and not fresh:
        if stream.info()["stats"]["message_count"] == total and not consumer.peek(limit=1):
            break
        time.sleep(0.005)
client.close()
with open(out, "w") as f:
    json.dump({"published": published, "received": received, "polls": polls}, f)
"""


def _start_server(stderr: Any) -> tuple[subprocess.Popen, str]:
    process = subprocess.Popen(
        [sys.executable, "-m", "pytest_sequin.server", "--port", "0", "--no-default-stream"],
        stdout=subprocess.PIPE,
        stderr=stderr,
        text=True,
    )
    ready, _, _ = select.select([process.stdout], [], [], 30)
    line = process.stdout.readline() if ready else ""  # type: ignore[union-attr]
    prefix = "Sequin (embedded, v0.3.7 API) listening on http://127.0.0.1:"
    if not line.startswith(prefix):
        process.kill()
        process.wait(10)
        raise AssertionError(f"unexpected first line from the server: {line!r}")
    return process, line[len(prefix) - len("http://127.0.0.1:") :].strip()


def _gaps(times: list[float]) -> list[float]:
    ordered = sorted(times)
    return [round(b - a, 3) for a, b in zip(ordered, ordered[1:])]


def test_processes_soak(tmp_path):
    workers: list[subprocess.Popen] = []
    with contextlib.ExitStack() as files:
        server_log = files.enter_context(open(tmp_path / "server.err", "w"))
        process, url = _start_server(server_log)
        try:
            with SequinClient(url) as client:
                stream = client.new_stream()
                consumer = stream.new_consumer(
                    filter_key_pattern=">", ack_wait_ms=ACK_WAIT_MS, max_ack_pending=MAX_ACK_PENDING
                )
                total = PROCESS_WORKERS * PROCESS_KEYS
                outs = [tmp_path / f"worker{i}.json" for i in range(PROCESS_WORKERS)]
                for i, out in enumerate(outs):
                    args = [url, stream.id, consumer.id, i, PROCESS_KEYS, total, TIME_CAP, out]
                    err = files.enter_context(open(tmp_path / f"worker{i}.err", "w"))
                    command = [sys.executable, "-c", WORKER, *map(str, args)]
                    workers.append(subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=err))
                for i, worker in enumerate(workers):
                    code = worker.wait(TIME_CAP + 30)
                    assert code == 0, (tmp_path / f"worker{i}.err").read_text()[-3000:]
                results = [json.loads(out.read_text()) for out in outs]

                published = {key: data for r in results for key, data in r["published"]}
                assert len(published) == total
                received = [entry for r in results for entry in r["received"]]
                times: dict[str, list[float]] = {}
                for ack_id, _, _, at in received:
                    times.setdefault(ack_id, []).append(at)
                # Nothing is re-published or nacked here, so an ack_id delivered again inside
                # ack_wait_ms of its previous delivery is a bug.
                twice = {
                    ack_id: _gaps(at)
                    for ack_id, at in times.items()
                    if min(_gaps(at), default=math.inf) * 1000 < ACK_WAIT_MS
                }
                assert not twice, (
                    f"delivered again within {ACK_WAIT_MS} ms (gaps in s): {list(twice.items())[:10]}"
                )
                got = {key: data for _, key, data, _ in received}
                assert len(received) == len(got) == total, (
                    f"{len(received)} deliveries, {len(got)} keys of {total}"
                )
                assert got == published
                assert consumer.receive(1000) == []
                assert consumer.peek() == []
                assert stream.info()["stats"]["message_count"] == total
                crossed = [
                    sum(1 for entry in r["received"] if not entry[1].startswith(f"w{i}."))
                    for i, r in enumerate(results)
                ]
                print(f"\nprocesses soak: {total} messages, keys of the other worker received: {crossed}")
            process.send_signal(signal.SIGTERM)
            assert process.wait(30) == 0
        finally:
            for worker in workers:
                if worker.poll() is None:
                    worker.kill()
                    worker.wait(10)
            if process.poll() is None:
                process.kill()
                process.wait(10)
            process.stdout.close()  # type: ignore[union-attr]
    log = (tmp_path / "server.err").read_text()
    assert "failed on" not in log and "Traceback" not in log, log[-3000:]
