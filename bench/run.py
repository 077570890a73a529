"""pytest-sequin benchmark: fixture overhead, throughput, scaling, start-up, xdist (issue 8).

    python bench/run.py            # full run, under 3 minutes on 2 cores
    python bench/run.py --quick    # smaller smoke run, under 30 seconds
    python bench/run.py --only 2,3 # some sections only

Prints one table (one line per figure, ``id  figure  value  target  verdict``) and exits 0
unless something *failed* (an exception, a subprocess error): a figure that misses its
target is printed as MISSED, never turned into an error. bench/README.md says what each
figure means and how it is measured.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import gc
import http.client
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
import uuid
from dataclasses import dataclass
from typing import Any, Callable, Iterator, Optional

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from pytest_sequin.client import SequinClient  # noqa: E402
from pytest_sequin.server import EmbeddedSequinServer, Engine  # noqa: E402

PAYLOAD_SIZE = 1024
_PAYLOAD_BASE = (uuid.uuid4().hex * (PAYLOAD_SIZE // 32 + 1))[:PAYLOAD_SIZE]


def payload(i: int) -> str:
    """A distinct 1 KiB ASCII string per message (a new object each call, like a decoded body)."""
    return _PAYLOAD_BASE[: PAYLOAD_SIZE - 8] + f"{i:08d}"


# -- configuration ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Settings:
    quick: bool
    fixture_tests: int  # section 1: tests with / without fixtures in the pytest run
    raw_calls: int  # section 1: raw round trips
    sdk_rounds: int  # section 1: sequin-py README patterns
    messages: int  # section 2 and 3: messages per run / stream size
    scaling_calls: int  # section 3: timed calls per case
    startup_reps: int  # section 4: server starts
    pytest_reps: int  # section 4: pytest runs per variant
    xdist_tests: int  # section 5: suite size
    xdist_messages: int  # section 5: messages per test
    xdist_reps: int  # section 5: runs per configuration


FULL = Settings(False, 2000, 1000, 60, 100_000, 300, 25, 9, 200, 200, 2)
QUICK = Settings(True, 40, 200, 10, 5_000, 60, 5, 2, 40, 50, 1)


# -- output -----------------------------------------------------------------------------------


@dataclass
class Figure:
    id: str
    label: str
    value: float
    unit: str
    target: str = ""
    ok: Optional[bool] = None
    note: str = ""


FIGURES: list[Figure] = []
ROW = "{:<5} {:<66} {:>16}  {:<10} {}"


def fmt_value(value: float, unit: str) -> str:
    if unit == "msg/s":
        return f"{value:,.0f} {unit}"
    if unit in ("x", "%"):
        return f"{value:.2f} {unit}" if unit == "x" else f"{value:.0f} %"
    if abs(value) >= 100:
        return f"{value:,.0f} {unit}"
    if abs(value) >= 10:
        return f"{value:.1f} {unit}"
    return f"{value:.3f} {unit}"


def emit(fig: Figure) -> Figure:
    FIGURES.append(fig)
    verdict = "" if fig.ok is None else ("ok" if fig.ok else "MISSED")
    print(ROW.format(fig.id, fig.label, fmt_value(fig.value, fig.unit), fig.target, verdict), flush=True)
    if fig.note:
        for line in textwrap.wrap(fig.note, 100):
            print(f"{'':6}{line}", flush=True)
    return fig


def section(title: str) -> None:
    print(f"-- {title}", flush=True)


def median(values: list[float]) -> float:
    return statistics.median(values)


def subprocess_env() -> dict[str, str]:
    """Bytecode caching on (the machine sets PYTHONDONTWRITEBYTECODE), project importable."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_SEQUIN_")}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env.pop("PYTEST_ADDOPTS", None)
    env.pop("PYTEST_XDIST_AUTO_NUM_WORKERS", None)
    return env


def run_pytest(args: list[str], cwd: str, env: dict[str, str] | None = None, timeout: float = 300) -> float:
    """Run pytest in a subprocess; return its wall time (its CPU time goes to ``LAST_CPU``).
    A failing run raises."""
    before = _children_cpu()
    start = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", *args],
        cwd=cwd,
        env=env or subprocess_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=timeout,
    )
    elapsed = time.perf_counter() - start
    LAST_CPU[0] = _children_cpu() - before
    if proc.returncode != 0:
        raise RuntimeError(f"pytest {' '.join(args)} failed ({proc.returncode}):\n{proc.stdout[-3000:]}")
    return elapsed


LAST_CPU = [0.0]


def _children_cpu() -> float:
    try:
        import resource
    except ImportError:  # Windows
        return 0.0
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def write_files(directory: str, files: dict[str, str]) -> None:
    for name, text in files.items():
        with open(os.path.join(directory, name), "w") as fh:
            fh.write(textwrap.dedent(text))


# -- section 1: per-test overhead of the fixtures ----------------------------------------------

_S1_CONFTEST = """
import json, os, time
import pytest

_times = {}

@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item, nextitem):
    start, cpu = time.perf_counter(), time.process_time()
    yield
    _times[item.nodeid] = (time.perf_counter() - start, time.process_time() - cpu)

def pytest_collection_modifyitems(items):
    # Interleave plain and fixture tests so that drift on a noisy machine hits both alike.
    def order(item):
        spec = getattr(item, "callspec", None)
        return (spec.params["i"] if spec else -1, item.originalname)
    items.sort(key=order)

def pytest_sessionfinish(session):
    with open(os.environ["BENCH_OUT"] + ".times.json", "w") as fh:
        json.dump(_times, fh)
"""

_S1_TESTS = """
import http.client, json, os, time
from urllib.parse import urlsplit
import pytest

N = int(os.environ["BENCH_N"])
RAW_PER_TEST = int(os.environ["BENCH_RAW"]) // N + 1
SDK_EVERY = max(1, N // int(os.environ["BENCH_SDK"]))
RAW, SDK = [], []

@pytest.mark.parametrize("i", range(N))
def test_plain(i):
    pass

@pytest.mark.parametrize("i", range(N))
def test_fixtures(i, sequin_stream, sequin_consumer):
    pass

@pytest.fixture(scope="module")
def refs(sequin_url, sequin_session_stream):
    from sequin.client import Client

    parts = urlsplit(sequin_url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port)
    yield conn, f"/api/streams/{sequin_session_stream.id}", Client(sequin_url)
    conn.close()
    with open(os.environ["BENCH_OUT"] + ".refs.json", "w") as fh:
        json.dump({"raw": RAW, "sdk": SDK}, fh)

@pytest.mark.parametrize("i", range(N))
def test_references(i, refs):
    conn, path, sequin = refs
    for _ in range(RAW_PER_TEST):
        start, cpu = time.perf_counter(), time.process_time()
        conn.request("GET", path, headers={"Accept": "application/json"})
        answer = conn.getresponse()
        answer.read()
        RAW.append((time.perf_counter() - start, time.process_time() - cpu))
        assert answer.status == 200
    if i % SDK_EVERY:
        return
    # The sequin-py README's testing pattern (names with underscores: hyphens are invalid).
    start = time.perf_counter()
    stream_name, consumer_name = f"bench_sdk_{i}", f"bench_sdk_c_{i}"
    stream, error = sequin.create_stream(stream_name)
    assert error is None, error
    consumer, error = sequin.create_consumer(stream_name, consumer_name, "test.>")
    assert error is None, error
    res, error = sequin.delete_consumer(stream_name, consumer_name)
    assert error is None and res["deleted"] is True
    res, error = sequin.delete_stream(stream_name)
    assert error is None and res["deleted"] is True
    SDK.append(time.perf_counter() - start)
"""


def section_fixture_overhead(s: Settings) -> None:
    section(
        "1. per-test overhead of sequin_stream + sequin_consumer (embedded server, in the pytest process)"
    )
    with tempfile.TemporaryDirectory(prefix="sequin-bench-") as tmp:
        write_files(tmp, {"pytest.ini": "[pytest]\n", "conftest.py": _S1_CONFTEST, "test_s1.py": _S1_TESTS})
        out = os.path.join(tmp, "out")
        env = subprocess_env()
        env.update(
            BENCH_N=str(s.fixture_tests),
            BENCH_RAW=str(s.raw_calls),
            BENCH_SDK=str(s.sdk_rounds),
            BENCH_OUT=out,
        )
        run_pytest(["-q", "-p", "no:randomly", "-p", "no:xdist"], tmp, env)
        with open(out + ".times.json") as fh:
            times = json.load(fh)
        with open(out + ".refs.json") as fh:
            refs = json.load(fh)
    plain = [t for k, (t, _) in times.items() if "test_plain[" in k]
    fixtures = [t for k, (t, _) in times.items() if "test_fixtures[" in k]
    overhead = (median(fixtures) - median(plain)) * 1000
    raw = median([t for t, _ in refs["raw"]]) * 1000
    sdk = median(refs["sdk"]) * 1000
    # The same in CPU time of the pytest process (client and server threads): what the work
    # costs, whatever the load on the machine adds to the wall clock.
    cpu_overhead = median([c for k, (_, c) in times.items() if "test_fixtures[" in k]) - median(
        [c for k, (_, c) in times.items() if "test_plain[" in k]
    )
    cpu_raw = median([c for _, c in refs["raw"]])
    emit(
        Figure(
            "1.1",
            "fixture setup+teardown per test (sequin_stream + sequin_consumer)",
            overhead,
            "ms",
            note=f"median per-test time with both fixtures minus without, {len(fixtures)} tests each "
            f"(medians {median(fixtures) * 1000:.3f} / {median(plain) * 1000:.3f} ms)",
        )
    )
    emit(Figure("1.2", "raw keep-alive round trip, http.client, GET one stream", raw, "ms"))
    emit(Figure("1.3", "sequin-py README pattern: create stream+consumer, delete both", sdk, "ms"))
    rounds = overhead / raw
    emit(
        Figure(
            "1.4",
            "fixture overhead in raw round trips (1.1 / 1.2)",
            rounds,
            "x",
            "<= 6",
            rounds <= 6,
            note=f"in CPU time of the pytest process: {cpu_overhead * 1000:.3f} ms / {cpu_raw * 1000:.3f} ms"
            f" = {cpu_overhead / cpu_raw:.2f} round trips"
            if cpu_raw > 0
            else "",
        )
    )
    cheaper = sdk / overhead
    emit(
        Figure("1.5", "sequin-py pattern / fixture overhead (1.3 / 1.1)", cheaper, "x", ">= 3", cheaper >= 3)
    )

    # No growth over a long session (issue 9): the last fifth of the fixture tests against the
    # first fifth, each against the plain tests that ran next to them.
    def per_test(kind: str, lo: int, hi: int) -> float:
        return median([times[f"test_s1.py::{kind}[{i}]"][0] for i in range(lo, hi)])

    fifth = s.fixture_tests // 5
    n = s.fixture_tests
    early = per_test("test_fixtures", 0, fifth) - per_test("test_plain", 0, fifth)
    late = per_test("test_fixtures", n - fifth, n) - per_test("test_plain", n - fifth, n)
    growth = late / early if early > 0 else float("nan")
    emit(
        Figure(
            "1.6",
            f"fixture overhead, last {fifth} of {n} tests / first {fifth}",
            growth,
            "x",
            "<= 1.2",
            growth <= 1.2,
            note=f"{early * 1000:.3f} ms early, {late * 1000:.3f} ms late: no growth over a long session",
        )
    )


# -- section 2: throughput ----------------------------------------------------------------------


def receive_body(batch: int, stream_id: str) -> bytes:
    """What the embedded server answers to a full receive of ``batch`` 1 KiB messages."""
    stamp = "2026-01-01T00:00:00.000000Z"
    items = []
    for i in range(batch):
        data = payload(i)
        message = (
            f'{{"key":"bench.{i:06d}","stream_id":"{stream_id}","data":"{data}",'
            f'"data_hash":"{"A" * 43}=","seq":{i + 1},"inserted_at":"{stamp}","updated_at":"{stamp}"}}'
        )
        items.append(f'{{"ack_id":"{uuid.uuid4()}","message":{message}}}')
    return f'{{"data":[{",".join(items)}]}}'.encode()


def _http_answer(body: bytes) -> bytes:
    return (
        b"HTTP/1.1 200 OK\r\ncontent-type: application/json; charset=utf-8\r\n"
        b"content-length: %d\r\ncache-control: max-age=0, private, must-revalidate\r\n\r\n" % len(body)
    ) + body


class NoopServer:
    """Answers every call with a canned body of the size the embedded server would send.

    Reads each request completely (head and Content-Length body) and does nothing else: the
    floor that the HTTP exchange and the client alone impose. Threads, like the embedded server.
    """

    def __init__(self, batch: int) -> None:
        stream_id = str(uuid.uuid4())
        consumer_id = str(uuid.uuid4())
        self.stream = {"id": stream_id, "name": "noop", "account_id": stream_id}
        self.consumer = {"id": consumer_id, "name": "noop_c", "stream_id": stream_id}
        self._receive = _http_answer(receive_body(batch, stream_id))
        self._publish = _http_answer(b'{"data":{"published":%d}}' % batch)
        self._ack = _http_answer(b'{"success":true}')
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self._listener.getsockname()[1]}"
        self._conns: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self._conns.append(conn)
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        buf = bytearray()
        chunk = memoryview(bytearray(65536))  # recv_into: no big allocation per read

        def more() -> bool:
            count = conn.recv_into(chunk)
            buf.extend(chunk[:count])
            return count > 0

        with contextlib.suppress(OSError):
            while True:
                end = buf.find(b"\r\n\r\n")
                while end < 0:
                    if not more():
                        return
                    end = buf.find(b"\r\n\r\n")
                head = bytes(buf[:end])
                at = head.lower().find(b"content-length:")
                length = int(head[at + 15 : head.find(b"\r\n", at)]) if at >= 0 else 0
                while len(buf) < end + 4 + length:
                    if not more():
                        return
                del buf[: end + 4 + length]
                target = head.split(b" ", 2)[1]
                if target.endswith(b"/ack"):
                    conn.sendall(self._ack)
                elif b"/receive" in target:
                    conn.sendall(self._receive)
                else:
                    conn.sendall(self._publish)

    def close(self) -> None:
        self._listener.close()
        for conn in self._conns:
            with contextlib.suppress(OSError):
                conn.close()


def drive(stream: Any, consumer: Any, first: int, last: int, batch: int, totals: dict[str, float]) -> None:
    """Publish messages ``first..last-1`` in batches, then receive and ack them all; add the
    seconds of each phase to ``totals``."""
    start, cpu = time.perf_counter(), time.process_time()
    for low in range(first, last, batch):
        stream.send_many([(f"bench.{i:06d}", payload(i)) for i in range(low, min(last, low + batch))])
    published = time.perf_counter()
    received = 0
    receive_s = 0.0
    while received < last - first:
        t = time.perf_counter()
        items = consumer.receive(batch)
        receive_s += time.perf_counter() - t
        if not items:
            raise RuntimeError(f"receive stalled after {first + received} messages")
        consumer.ack(items)
        received += len(items)
    done = time.perf_counter()
    totals["cpu"] += time.process_time() - cpu
    totals["total"] += done - start
    totals["publish"] += published - start
    totals["receive"] += receive_s
    totals["ack"] += done - published - receive_s


def json_floor(first: int, last: int, batch: int) -> float:
    """Seconds of the JSON work of ``drive`` on both sides, in-process, no HTTP."""
    dumps, loads = json.dumps, json.loads
    stream_id = str(uuid.uuid4())
    stamp = "2026-01-01T00:00:00.000000Z"
    total = 0.0
    for low in range(first, last, batch):
        items = [{"key": f"bench.{i:06d}", "data": payload(i)} for i in range(low, min(last, low + batch))]
        answer = {
            "data": [
                {
                    "ack_id": str(uuid.uuid4()),
                    "message": {
                        "key": item["key"],
                        "stream_id": stream_id,
                        "data": item["data"],
                        "data_hash": "A" * 43 + "=",
                        "seq": n,
                        "inserted_at": stamp,
                        "updated_at": stamp,
                    },
                }
                for n, item in enumerate(items)
            ]
        }
        start = time.perf_counter()
        publish = dumps({"messages": items}, separators=(",", ":")).encode()  # client
        loads(publish.decode())  # server
        sent = dumps(answer, ensure_ascii=False, separators=(",", ":")).encode()  # server
        received = loads(sent)["data"]  # client
        ack = dumps({"ack_ids": [r["ack_id"] for r in received]}, separators=(",", ":")).encode()  # client
        loads(ack.decode())  # server
        total += time.perf_counter() - start
    return total


def section_throughput(s: Settings) -> None:
    n = s.messages
    section(
        f"2. throughput end to end: {n:,} messages of 1 KiB (publish, then receive+ack, in 20 chunks); "
        "client and server threads in one process"
    )
    print(
        f"{'':6}note: the bench consumer is created with max_ack_pending={2 * n} (> {n:,} messages): a "
        "consumer younger than 5 minutes keeps acked rows, and the default window of 10,000 would "
        "stall (spec 4.2)",
        flush=True,
    )
    from pytest_sequin.client import ConsumerHandle, StreamHandle

    for batch in (10, 1000):
        chunk = max(batch, n // 20)
        server = EmbeddedSequinServer().start()
        client = SequinClient(server.url)
        noop = NoopServer(batch)
        noop_client = SequinClient(noop.url)
        e2e = dict.fromkeys(("total", "publish", "receive", "ack", "cpu"), 0.0)
        floor_a = dict(e2e)
        floor_b = 0.0
        try:
            stream = client.new_stream("bench_throughput")
            consumer = stream.new_consumer("bench_c", max_ack_pending=2 * n)
            noop_stream = StreamHandle(noop_client, noop.stream)
            noop_consumer = ConsumerHandle(noop_client, noop.consumer, "noop")
            # The three are measured chunk by chunk, alternately: a noisy machine hits all alike.
            for first in range(0, n, chunk):
                last = min(n, first + chunk)
                drive(stream, consumer, first, last, batch, e2e)
                drive(noop_stream, noop_consumer, first, last, batch, floor_a)
                floor_b += json_floor(first, last, batch)
            stream.delete()
        finally:
            client.close()
            noop_client.close()
            noop.close()
            server.stop()
            del server
            gc.collect()
        rate, noop_rate, json_rate = n / e2e["total"], n / floor_a["total"], n / floor_b
        calls = n // batch
        per_call = "per call: publish {:.3f} ms, receive {:.3f} ms, ack {:.3f} ms".format(
            *(e2e[p] / calls * 1000 for p in ("publish", "receive", "ack"))
        )
        if batch == 10:
            emit(
                Figure("2.1", "embedded server, batch 10: publish+receive+ack", rate, "msg/s", note=per_call)
            )
            emit(Figure("2.2", "floor (a): same client, no-op HTTP server, batch 10", noop_rate, "msg/s"))
            share = rate / noop_rate * 100
            cpu_share = floor_a["cpu"] / e2e["cpu"] * 100
            emit(
                Figure(
                    "2.3",
                    "batch 10: embedded / floor (a)",
                    share,
                    "%",
                    ">= 60 %",
                    share >= 60,
                    note=f"in CPU time of this process (client and server threads): {cpu_share:.0f} %",
                )
            )
        else:
            emit(
                Figure(
                    "2.4", "embedded server, batch 1000: publish+receive+ack", rate, "msg/s", note=per_call
                )
            )
            emit(Figure("2.5", "floor (b): JSON encode+decode both sides, batch 1000", json_rate, "msg/s"))
            share = rate / json_rate * 100
            emit(Figure("2.6", "batch 1000: embedded / floor (b)", share, "%", ">= 50 %", share >= 50))
            emit(Figure("2.7", "for scale: floor (a) no-op HTTP server, batch 1000", noop_rate, "msg/s"))


# -- section 3: scaling ---------------------------------------------------------------------------


def fill(engine: Engine, stream: str, count: int, prefix: str) -> None:
    for first in range(0, count, 1000):
        batch = [{"key": f"{prefix}.{i}", "data": payload(i)} for i in range(first, min(count, first + 1000))]
        engine.publish(stream, {"messages": batch})


def measure_memory(n: int) -> tuple[float, float]:
    """Bytes held by a fresh engine for ``n`` 1 KiB messages and one consumer (tracemalloc):
    after publishing, and after every message was received once (JSON cached) and acked."""
    import tracemalloc

    from pytest_sequin.server import ManualClock

    gc.collect()
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        engine = Engine(ManualClock(), seed_default_stream=False)
        engine.create_stream({"name": "mem"})
        engine.create_consumer("mem", {"name": "mem_c", "filter_key_pattern": ">", "max_ack_pending": 2 * n})
        fill(engine, "mem", n, "mem")
        gc.collect()
        stored = tracemalloc.get_traced_memory()[0] - base
        while True:
            items = engine.receive("mem_c", {"batch_size": 1000})
            if not items:
                break
            for _, message in items:
                message.to_json()  # what the HTTP layer does for every receive answer
            engine.ack("mem_c", {"ack_ids": [ack_id for ack_id, _ in items]})
        del items
        gc.collect()
        delivered = tracemalloc.get_traced_memory()[0] - base
        del engine
    finally:
        tracemalloc.stop()
    return stored, delivered


def section_scaling(s: Settings) -> None:
    n = s.messages
    section(f"3. scaling: {n:,} messages against 100 (median of {s.scaling_calls} calls, interleaved)")
    server = EmbeddedSequinServer().start()
    client = SequinClient(server.url)
    engine = server.engine
    try:
        big = client.new_stream("bench_big")
        small = client.new_stream("bench_small")
        big_c = big.new_consumer("big_c")
        small_c = small.new_consumer("small_c")
        fill(engine, "bench_big", n, "big")
        fill(engine, "bench_small", 100, "small")
        gc.collect()
        timings: dict[str, list[float]] = {"big": [], "small": []}
        for _ in range(s.scaling_calls):
            for name, consumer in (("big", big_c), ("small", small_c)):
                t = time.perf_counter()
                items = consumer.receive(10)
                timings[name].append(time.perf_counter() - t)
                if len(items) != 10:
                    raise RuntimeError(f"{name}: receive returned {len(items)} messages")
                consumer.nack(items)  # available again: both stay at their size
        big_ms, small_ms = median(timings["big"]) * 1000, median(timings["small"]) * 1000
        emit(Figure("3.1", f"receive 10 with {n:,} available", big_ms, "ms"))
        emit(Figure("3.2", "receive 10 with 100 available", small_ms, "ms"))
        ratio = big_ms / small_ms
        emit(Figure("3.3", "receive scaling (3.1 / 3.2)", ratio, "x", "<= 1.5", ratio <= 1.5))

        empty = client.new_stream("bench_empty")
        empty.new_consumer("empty_c")
        gc.collect()
        timings = {"big": [], "small": []}
        for call in range(s.scaling_calls):
            for name, stream in (("big", big), ("small", empty)):
                batch = [(f"new.{call}.{i}", payload(i)) for i in range(10)]
                t = time.perf_counter()
                stream.send_many(batch)
                timings[name].append(time.perf_counter() - t)
        big_ms, small_ms = median(timings["big"]) * 1000, median(timings["small"]) * 1000
        emit(Figure("3.4", f"publish 10 into a stream of {n:,} (1 consumer)", big_ms, "ms"))
        emit(Figure("3.5", "publish 10 into an empty stream (1 consumer)", small_ms, "ms"))
        ratio = big_ms / small_ms
        emit(Figure("3.6", "publish scaling (3.4 / 3.5)", ratio, "x", "<= 1.5", ratio <= 1.5))
    finally:
        client.close()
        server.stop()
        del server, engine
        gc.collect()
    stored, delivered = measure_memory(n)
    payload_bytes = n * PAYLOAD_SIZE
    emit(
        Figure(
            "3.7",
            f"memory, {n:,} messages stored (1 consumer), / payload",
            stored / payload_bytes,
            "x",
            note=f"tracemalloc in-process around a fresh Engine: {stored / 2**20:.1f} MiB for "
            f"{payload_bytes / 2**20:.1f} MiB of data",
        )
    )
    ratio = delivered / payload_bytes
    emit(
        Figure(
            "3.8",
            "memory, same after each message was received and acked, / payload",
            ratio,
            "x",
            "<= 2.5",
            ratio <= 2.5,
            note=f"{delivered / 2**20:.1f} MiB (acked rows are kept 5 minutes, spec 4.5)",
        )
    )


# -- section 4: start-up --------------------------------------------------------------------------

_S4_TEST = """
def test_one(request):
    if request.config.pluginmanager.has_plugin("sequin"):
        consumer = request.getfixturevalue("sequin_consumer")
        assert consumer.receive(1) == []
"""


def first_answer_ms() -> float:
    start = time.perf_counter()
    server = EmbeddedSequinServer().start()
    conn = http.client.HTTPConnection(server.host, server.port)
    conn.request("GET", "/api/streams", headers={"Accept": "application/json"})
    answer = conn.getresponse()
    answer.read()
    elapsed = time.perf_counter() - start
    conn.close()
    server.stop()
    if answer.status != 200:
        raise RuntimeError(f"first request answered {answer.status}")
    return elapsed * 1000


def section_startup(s: Settings) -> None:
    section("4. start-up")
    first_answer_ms()  # warm: imports, first socket
    startup = median([first_answer_ms() for _ in range(s.startup_reps)])
    emit(
        Figure(
            "4.1",
            "embedded server: construct + start() to first answered request",
            startup,
            "ms",
            "< 20 ms",
            startup < 20,
        )
    )
    with tempfile.TemporaryDirectory(prefix="sequin-bench-") as tmp:
        write_files(tmp, {"pytest.ini": "[pytest]\n", "test_one.py": _S4_TEST})
        variants = {
            "plugin": ["-q", "-p", "no:randomly"],
            "none": ["-q", "-p", "no:randomly", "-p", "no:sequin"],
        }
        for args in variants.values():
            run_pytest(args, tmp)  # warm: writes the bytecode caches
        times: dict[str, list[float]] = {name: [] for name in variants}
        cpu: dict[str, list[float]] = {name: [] for name in variants}
        for _ in range(s.pytest_reps):
            for name, args in variants.items():
                times[name].append(run_pytest(args, tmp))
                cpu[name].append(LAST_CPU[0])
    with_plugin, without = median(times["plugin"]) * 1000, median(times["none"]) * 1000
    extra_cpu = (median(cpu["plugin"]) - median(cpu["none"])) * 1000
    emit(Figure("4.2", "pytest run of one test using sequin_consumer", with_plugin, "ms"))
    emit(Figure("4.3", "same run with -p no:sequin", without, "ms"))
    extra = with_plugin - without
    emit(
        Figure(
            "4.4",
            "plugin cost per pytest run (4.2 - 4.3)",
            extra,
            "ms",
            "< 150 ms",
            extra < 150,
            note=f"subprocess runs, bytecode caching on, median of {s.pytest_reps} each, alternated; "
            f"CPU time (user+sys) difference {extra_cpu:.0f} ms",
        )
    )


# -- section 5: xdist -------------------------------------------------------------------------------

_S5_TESTS = """
import os
import pytest

M = int(os.environ["BENCH_M"])
DATA = "x" * 1024

@pytest.mark.parametrize("i", range(int(os.environ["BENCH_PER_FILE"])))
def test_flow(i, sequin_stream, sequin_consumer):
    for first in range(0, M, 10):
        sequin_stream.send_many({f"k.{j}": DATA for j in range(first, first + 10)})
    got = 0
    while got < M:
        items = sequin_consumer.receive(10)
        assert items
        sequin_consumer.ack(items)
        got += len(items)
"""


_S5_EMPTY = """
import os
import pytest

@pytest.mark.parametrize("i", range(int(os.environ["BENCH_PER_FILE"]) * 4))
def test_empty(i):
    pass
"""


@contextlib.contextmanager
def standalone_server() -> Iterator[str]:
    """``python -m pytest_sequin.server --port 0`` in a subprocess; yields its URL."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "pytest_sequin.server", "--port", "0"],
        env=subprocess_env(),
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        line = proc.stdout.readline() if proc.stdout else ""
        url = line.strip().split()[-1] if line.strip() else ""
        if not url.startswith("http://"):
            raise RuntimeError(f"standalone embedded server printed {line!r}")
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def section_xdist(s: Settings) -> None:
    files = 4
    per_file = s.xdist_tests // files
    section(
        f"5. xdist: {per_file * files} tests (each: stream + consumer, {s.xdist_messages} messages "
        "published, received, acked in batches of 10), wall time of the pytest subprocess"
    )
    with (
        tempfile.TemporaryDirectory(prefix="sequin-bench-") as tmp,
        tempfile.TemporaryDirectory(prefix="sequin-bench-") as empty,
    ):
        write_files(tmp, {"pytest.ini": "[pytest]\n"})
        write_files(tmp, {f"test_x{k}.py": _S5_TESTS for k in range(files)})
        env = subprocess_env()
        env.update(BENCH_M=str(s.xdist_messages), BENCH_PER_FILE=str(per_file))
        # The fixed cost of xdist itself: the same number of empty tests, -n 2 against -n 0.
        write_files(empty, {"pytest.ini": "[pytest]\n", "test_empty.py": _S5_EMPTY})
        base = ["-q", "-p", "no:randomly"]
        if not s.quick:  # warm: bytecode caches (section 4 has written the plugin's already)
            run_pytest([*base, "-n", "2"], tmp, env)
            run_pytest([*base, "-n", "2"], empty, env)
        times: dict[str, list[float]] = {"n0": [], "n2": [], "shared": [], "empty0": [], "empty2": []}
        for _ in range(s.xdist_reps):
            times["n0"].append(run_pytest([*base, "-n", "0"], tmp, env))
            times["n2"].append(run_pytest([*base, "-n", "2"], tmp, env))
            with standalone_server() as url:  # a fresh one per run: no state carried over
                times["shared"].append(run_pytest([*base, "-n", "2", f"--sequin-url={url}"], tmp, env))
            times["empty0"].append(run_pytest([*base, "-n", "0"], empty, env))
            times["empty2"].append(run_pytest([*base, "-n", "2"], empty, env))
    n0, n2, shared = (median(times[k]) for k in ("n0", "n2", "shared"))
    fixed = median(times["empty2"]) - median(times["empty0"])
    emit(Figure("5.1", "-n 0 (embedded server in the pytest process)", n0, "s"))
    emit(Figure("5.2", "-n 2, one embedded server per worker (default)", n2, "s"))
    speedup = n0 / n2
    emit(
        Figure(
            "5.3",
            "xdist speed-up (5.1 / 5.2)",
            speedup,
            "x",
            ">= 1.6",
            speedup >= 1.6,
            note=f"xdist's fixed cost, {per_file * files} empty tests -n 2 minus -n 0: {fixed:.2f} s; "
            f"at best -n 2 takes that plus half of the -n 0 run",
        )
    )
    emit(
        Figure(
            "5.4",
            "-n 2, one shared standalone embedded server (--sequin-url)",
            shared,
            "s",
            note="server: python -m pytest_sequin.server --port 0, a third process",
        )
    )
    faster = "per-worker" if n2 <= shared else "shared"
    emit(
        Figure(
            "5.5",
            f"shared / per-worker wall time ({faster} servers are faster)",
            shared / n2,
            "x",
            note=f"median of {s.xdist_reps} runs each, configurations alternated",
        )
    )


# -- main ------------------------------------------------------------------------------------------

SECTIONS: dict[str, Callable[[Settings], None]] = {
    "1": section_fixture_overhead,
    "2": section_throughput,
    "3": section_scaling,
    "4": section_startup,
    "5": section_xdist,
}


def _load() -> str:
    try:
        return " ".join(f"{x:.1f}" for x in os.getloadavg())
    except OSError:  # not available on this platform
        return "n/a"


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes and fewer repeats (< 30 s)")
    parser.add_argument("--only", default="1,2,3,4,5", help="comma-separated sections to run (default all)")
    args = parser.parse_args(argv)
    settings = QUICK if args.quick else FULL
    chosen = [part.strip() for part in args.only.split(",") if part.strip()]
    unknown = [part for part in chosen if part not in SECTIONS]
    if unknown:
        parser.error(f"unknown section(s) {', '.join(unknown)}; choose from {', '.join(SECTIONS)}")
    started = time.perf_counter()
    print(
        f"pytest-sequin bench ({'quick' if args.quick else 'full'}): {datetime.date.today()}, "
        f"{os.cpu_count()} cores, Python {platform.python_version()}, "
        f"{platform.system()} {platform.machine()}, load average {_load()}",
        flush=True,
    )
    print(ROW.format("id", "figure", "value", "target", "verdict"), flush=True)
    for key in chosen:
        SECTIONS[key](settings)
    missed = [f.id for f in FIGURES if f.ok is False]
    checked = [f for f in FIGURES if f.ok is not None]
    print(
        f"-- {len(FIGURES)} figures, {len(checked) - len(missed)} of {len(checked)} targets met"
        + (f"; missed: {', '.join(missed)}" if missed else "")
        + f"; {time.perf_counter() - started:.0f} s",
        flush=True,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
