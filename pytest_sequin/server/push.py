"""HTTP delivery for push consumers (spec §4.11; details beyond it are Appendix C.5 choices).

The real server runs a delivery loop per push consumer: it takes batches of up to 10 messages
with the ordinary receive, POSTs each one as ``{"data": <data>, "key": <key>}`` to the
endpoint's ``base_url`` and acks it on a 2xx answer or nacks it on anything else. This module
does the same, so an app's webhook handler can be tested against the emulator end to end.

Choices where the spec is silent, made to keep tests deterministic and cheap:

* **One thread per push consumer** that has ever had work, started on the engine's
  ``on_push_work`` signal and ended when the consumer is deleted or becomes ``pull``. Within a
  consumer, messages are POSTed **one request per message, one at a time, in ``seq`` order**;
  ``max_waiting`` (the real server's push concurrency) is not used.
* **Disabled consumers get nothing pushed** (the thread idles until the consumer is updated).
  The spec only says ``status`` has no effect on *pull* receive; a delivery loop that ignored
  ``disabled`` would make the setting pointless, so this is the plausible reading.
* **Back-off after a failed batch**: a nacked message is available again at once (§4.6), so a
  faithful loop would hammer a failing endpoint. After a batch with a failure the thread waits
  0.1 s, doubling up to 5 s, before the next receive; a fully successful batch resets it.
* **Visibility follows the engine's clock**: an idle thread sleeps until the earliest
  visibility deadline (at most ``idle_poll`` seconds, since a :class:`ManualClock` can jump);
  :meth:`PushDeliverer.wake_all` is called when the server's clock is advanced.
* Each POST uses a new ``http.client`` connection (never a proxy) with a 5 s timeout, no
  redirects, the endpoint's headers (non-string values as their JSON text) and
  ``Content-Type: application/json``.
* :meth:`PushDeliverer.stop` interrupts connects and requests in flight, nacks what was taken
  but not delivered, and joins every thread.
"""

from __future__ import annotations

import contextlib
import errno
import http.client
import json
import logging
import os
import select
import socket
import threading
import time
from dataclasses import asdict, dataclass
from typing import Any, Callable
from urllib.parse import urlsplit

from .consumer import Consumer
from .engine import Engine
from .errors import ApiError
from .models import Message

log = logging.getLogger("pytest_sequin.server.push")

BATCH_SIZE = 10
POST_TIMEOUT = 5.0
BACKOFF_START = 0.1
BACKOFF_MAX = 5.0
IDLE_POLL = 1.0
MAX_RESPONSE_BYTES = 1 << 20

_IN_PROGRESS = {errno.EINPROGRESS, errno.EWOULDBLOCK, errno.EALREADY, getattr(errno, "WSAEWOULDBLOCK", -1)}


def push_body(message: Message) -> bytes:
    """The JSON the real server POSTs for one message (§4.11)."""
    return json.dumps({"data": message.data, "key": message.key}, ensure_ascii=False).encode("utf-8")


def header_values(headers: dict[str, Any] | None) -> dict[str, str]:
    """The endpoint's headers as strings. The endpoint's ``headers`` is an Ecto ``:map``, so any
    JSON object is stored; a value that is not a string is sent as its JSON text (``1`` -> ``1``,
    ``true`` -> ``true``), a choice where the spec is silent."""
    return {
        name: value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
        for name, value in (headers or {}).items()
    }


@dataclass
class DeliveryRecord:
    """How one push consumer's deliveries went: what a failing webhook test needs to see
    (the failure report shows it), since nothing in the API tells why a message stays put."""

    base_url: str | None = None
    delivered: int = 0
    failed: int = 0
    failures_in_a_row: int = 0
    last_key: str | None = None
    last_outcome: str | None = None  # "HTTP 200", "HTTP 503", "ConnectionRefusedError: ...", ...


class PushDeliverer:
    """Delivers the messages of every push consumer of one engine; started and stopped by
    :class:`~.server.EmbeddedSequinServer`."""

    def __init__(
        self,
        engine: Engine,
        *,
        timeout: float = POST_TIMEOUT,
        backoff_start: float = BACKOFF_START,
        backoff_max: float = BACKOFF_MAX,
        idle_poll: float = IDLE_POLL,
    ) -> None:
        self.engine = engine
        self.timeout = timeout
        self.backoff_start = backoff_start
        self.backoff_max = backoff_max
        self.idle_poll = idle_poll
        self._lock = threading.Lock()
        self._workers: dict[str, _Worker] = {}
        self._records: dict[str, DeliveryRecord] = {}
        self._stopping = threading.Event()
        self._stopping.set()  # not running yet

    @property
    def is_running(self) -> bool:
        return not self._stopping.is_set()

    def start(self) -> None:
        """Install the engine hook and pick up push consumers that already exist."""
        with self._lock:
            if not self._stopping.is_set():
                return
            self._stopping = threading.Event()  # a fresh one: threads of a past run keep theirs
        self.engine.on_push_work = self.notify
        with self.engine.lock:
            for consumer in list(self.engine.consumers.values()):
                if consumer.kind == "push":
                    self.notify(consumer)

    def stop(self, timeout: float = 5.0) -> None:
        """Stop delivering and join every thread (in-flight requests are cut short)."""
        with self._lock:
            self._stopping.set()
            workers = list(self._workers.values())
            self._workers.clear()
        for worker in workers:
            worker.interrupt()
        deadline = time.monotonic() + timeout
        for worker in workers:
            worker.thread.join(max(0.0, deadline - time.monotonic()))
            if worker.thread.is_alive():  # pragma: no cover - only with a hung DNS lookup
                log.warning("push delivery thread %s did not stop in time", worker.thread.name)

    def notify(self, consumer: Consumer) -> None:
        """The engine's ``on_push_work`` hook (called under the engine lock): must not block."""
        with self._lock:
            if self._stopping.is_set():
                return
            worker = self._workers.get(consumer.id)
            if worker is None:
                if self.engine.consumers.get(consumer.id) is not consumer:
                    return  # deleted: nothing to start
                worker = self._workers[consumer.id] = _Worker(self, consumer.id, self._stopping)
                worker.thread.start()
            else:
                worker.wake.set()

    def wake_all(self) -> None:
        """Re-check every consumer now (the clock moved, so visibility deadlines may have passed)."""
        with self._lock:
            for worker in self._workers.values():
                worker.wake.set()

    def threads(self) -> list[threading.Thread]:
        """The live delivery threads (for tests and diagnostics)."""
        with self._lock:
            return [w.thread for w in self._workers.values() if w.thread.is_alive()]

    def records(self) -> dict[str, dict[str, Any]]:
        """Per push consumer id that has had a delivery attempt: its :class:`DeliveryRecord`.
        Records of deleted consumers are dropped when their thread ends."""
        with self._lock:
            return {consumer_id: asdict(record) for consumer_id, record in self._records.items()}

    def _record(self, consumer_id: str, base_url: str | None, key: str, outcome: str, ok: bool) -> None:
        with self._lock:
            record = self._records.setdefault(consumer_id, DeliveryRecord())
            record.base_url, record.last_key, record.last_outcome = base_url, key, outcome
            if ok:
                record.delivered += 1
                record.failures_in_a_row = 0
            else:
                record.failed += 1
                record.failures_in_a_row += 1

    def _retire(self, worker: _Worker) -> None:
        with self._lock:
            if self._workers.get(worker.consumer_id) is worker:
                del self._workers[worker.consumer_id]
                self._records.pop(worker.consumer_id, None)  # no memory kept per deleted consumer


class _Worker:
    def __init__(self, owner: PushDeliverer, consumer_id: str, stopping: threading.Event) -> None:
        self.owner = owner
        self.consumer_id = consumer_id
        self.stopping = stopping
        self.wake = threading.Event()
        self.wake.set()
        self._conn: http.client.HTTPConnection | None = None
        self.thread = threading.Thread(target=self._run, name=f"sequin-push-{consumer_id[:8]}", daemon=True)

    def interrupt(self) -> None:
        """Called by stop(): end waits at once and cut a request in flight."""
        self.wake.set()
        conn = self._conn
        sock = conn.sock if conn is not None else None
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def _run(self) -> None:
        backoff = 0.0
        while not self.stopping.is_set():
            self.wake.clear()
            try:
                outcome = self._step()
            except Exception:  # a bug here must not kill delivery silently
                log.exception("push delivery for consumer %s failed", self.consumer_id)
                outcome = self.owner.idle_poll
            if outcome is None:
                return
            if outcome == "failed":
                backoff = min(max(backoff * 2, self.owner.backoff_start), self.owner.backoff_max)
                self.stopping.wait(backoff)
            elif outcome == "delivered":
                backoff = 0.0
            else:
                self.wake.wait(float(outcome))

    def _step(self) -> str | float | None:
        """One receive and its POSTs: "delivered", "failed", seconds to idle, or None to exit."""
        engine = self.owner.engine
        with engine.lock:
            consumer = engine.consumers.get(self.consumer_id)
            if consumer is None or consumer.kind != "push":
                self.owner._retire(self)
                return None
            if consumer.status != "active":
                return self.owner.idle_poll
            endpoint = engine.http_endpoints.get(consumer.http_endpoint_id or "")
            try:
                items = engine.receive(consumer.id, {"batch_size": str(BATCH_SIZE)})
            except ApiError as error:  # e.g. a negative max_ack_pending (§7.3 item 12)
                log.debug("push receive for %s failed: %s", consumer.id, error)
                return self.owner.idle_poll
            if not items:
                return self._idle_seconds(consumer, engine.clock.now_us())
        failed = False
        for index, (ack_id, message) in enumerate(items):
            if self.stopping.is_set() or engine.consumers.get(self.consumer_id) is not consumer:
                self._settle(engine.nack, [a for a, _ in items[index:]])
                return 0.0  # the next step exits
            ok, outcome = self._post(endpoint, message)
            base_url = endpoint["base_url"] if endpoint is not None else None
            self.owner._record(self.consumer_id, base_url, message.key, outcome, ok)
            failed = failed or not ok
            self._settle(engine.ack if ok else engine.nack, [ack_id])
        return "failed" if failed else "delivered"

    def _settle(self, action: Callable[[Any, Any], None], ack_ids: list[str]) -> None:
        with contextlib.suppress(ApiError):  # the consumer was deleted meanwhile: the next step exits
            action(self.consumer_id, {"ack_ids": ack_ids})

    def _idle_seconds(self, consumer: Consumer, now: int) -> float:
        """Until the earliest moment a receive could find work without any new request: a
        visibility deadline, or the purge of kept acked rows that fill the window (§4.2)."""
        soonest = consumer.next_change_us(now)
        if soonest is None:
            return self.owner.idle_poll
        return min(max((soonest - now) / 1_000_000, 0.001), self.owner.idle_poll)

    def _post(self, endpoint: dict[str, Any] | None, message: Message) -> tuple[bool, str]:
        """POST one message: (True on a 2xx answer, else False; what happened, in words)."""
        if endpoint is None:
            return False, "the consumer has no HTTP endpoint"
        try:
            parts = urlsplit(endpoint["base_url"])
            scheme = parts.scheme.lower()
            if scheme not in ("http", "https") or not parts.hostname:
                log.debug("push endpoint %s: unsupported URL", endpoint["base_url"])
                return False, "unsupported URL (http and https with a host only)"
            factory = http.client.HTTPSConnection if scheme == "https" else http.client.HTTPConnection
            conn = factory(parts.hostname, parts.port, timeout=self.owner.timeout)
            conn._create_connection = self._connect  # type: ignore[attr-defined]
            target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
            headers = {"Content-Type": "application/json", **header_values(endpoint.get("headers"))}
            self._conn = conn
            try:
                conn.request("POST", target, body=push_body(message), headers=headers)
                response = conn.getresponse()
                response.read(MAX_RESPONSE_BYTES)
                status = response.status
            finally:
                self._conn = None
                conn.close()
        except (OSError, ValueError, http.client.HTTPException) as error:
            log.debug("push of %s to %s failed: %r", message.key, endpoint["base_url"], error)
            return False, f"{type(error).__name__}: {error}"
        log.debug("push of %s to %s: %s", message.key, endpoint["base_url"], status)
        return 200 <= status < 300, f"HTTP {status}"

    def _connect(
        self, address: tuple[str, int], timeout: Any = POST_TIMEOUT, source_address: Any = None
    ) -> socket.socket:
        """``socket.create_connection`` that gives up as soon as the deliverer stops, so a
        connect to an address that never answers cannot hold up :meth:`PushDeliverer.stop`."""
        host, port = address
        timeout = timeout if isinstance(timeout, (int, float)) else POST_TIMEOUT
        deadline = time.monotonic() + timeout
        error: OSError = OSError(f"cannot resolve {host}")
        for family, kind, proto, _, sockaddr in socket.getaddrinfo(host, port, 0, socket.SOCK_STREAM):
            sock = socket.socket(family, kind, proto)
            try:
                if source_address:
                    sock.bind(source_address)
                sock.setblocking(False)
                code = sock.connect_ex(sockaddr)
                while code in _IN_PROGRESS:
                    remaining = deadline - time.monotonic()
                    if self.stopping.is_set():
                        raise OSError("the embedded Sequin server is stopping")
                    if remaining <= 0:
                        raise socket.timeout("connect timed out")
                    _, ready, failed = select.select([], [sock], [sock], min(0.05, remaining))
                    if ready or failed:
                        code = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                if code:
                    raise OSError(code, os.strerror(code))
                sock.settimeout(timeout)
                return sock
            except OSError as exc:
                sock.close()
                error = exc
                if self.stopping.is_set():
                    break
        raise error
