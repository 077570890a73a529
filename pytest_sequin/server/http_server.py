"""The socket side: a small HTTP/1.1 server with keep-alive, one thread per connection.

Written on plain sockets rather than ``http.server`` for three reasons that tests feel: every
answer goes out in one ``sendall`` with TCP_NODELAY set (no Nagle/delayed-ACK 40 ms stalls on
keep-alive connections), ``Expect: 100-continue`` is answered (curl sends it for bodies over
1 KiB and would otherwise wait a second), and :meth:`HttpServer.stop` closes idle keep-alive
connections and joins every thread, so nothing outlives the server.
"""

from __future__ import annotations

import contextlib
import logging
import selectors
import socket
import threading
import time
from email.utils import formatdate
from http import HTTPStatus
from typing import Callable

from .app import Request, Response
from .errors import REASON_PHRASES
from .params import MAX_BODY_BYTES

log = logging.getLogger("pytest_sequin.server")

MAX_LINE = 65536
MAX_HEADERS = 200
#: Bodies over the 8 MB limit but under this are read and dropped before the 413 is sent.
MAX_DRAINED_BYTES = 64 * 1024 * 1024
_REASONS = {**{status.value: status.phrase for status in HTTPStatus}, **REASON_PHRASES}

Handler = Callable[[Request], Response]


class _BadRequest(Exception):
    pass


class HttpServer:
    def __init__(
        self,
        handler: Handler,
        host: str = "127.0.0.1",
        port: int = 0,
        now_us: Callable[[], int] | None = None,
    ) -> None:
        self._handler = handler
        #: The Date header follows the engine's clock (as a real server's follows its own), so a
        #: client can tell how old a stream is by the server's time, even after clock advances.
        self._now_us = now_us or (lambda: time.time_ns() // 1000)
        self._date_cache: tuple[int, str] = (-1, "")
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self._listener = socket.socket(family, socket.SOCK_STREAM)
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind((host, port))
        self._listener.listen(128)
        self.host = host
        self.port: int = self._listener.getsockname()[1]
        self._wake_r, self._wake_w = socket.socketpair()
        self._lock = threading.Lock()
        self._connections: set[socket.socket] = set()
        self._threads: set[threading.Thread] = set()
        self._acceptor: threading.Thread | None = None
        self._stopping = False

    def start(self) -> None:
        """The listening socket is bound in ``__init__``, so connections queue from then on;
        this only starts accepting them."""
        self._acceptor = threading.Thread(
            target=self._accept_loop, name="sequin-embedded-accept", daemon=True
        )
        self._acceptor.start()

    def stop(self, timeout: float = 5.0) -> None:
        with self._lock:
            if self._stopping:
                return
            self._stopping = True
            connections = list(self._connections)
        self._wake_w.send(b"x")
        if self._acceptor is not None:
            self._acceptor.join(timeout)
        for conn in connections:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        with self._lock:
            threads = list(self._threads)
        for thread in threads:
            thread.join(timeout)
        for sock in (self._listener, self._wake_r, self._wake_w):
            sock.close()

    def _accept_loop(self) -> None:
        selector = selectors.DefaultSelector()
        selector.register(self._listener, selectors.EVENT_READ, "accept")
        selector.register(self._wake_r, selectors.EVENT_READ, "wake")
        try:
            while True:
                for key, _ in selector.select():
                    if key.data == "wake":
                        return
                    try:
                        conn, _ = self._listener.accept()
                    except OSError:
                        continue
                    self._spawn(conn)
        finally:
            selector.close()

    def _spawn(self, conn: socket.socket) -> None:
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        thread = threading.Thread(target=self._serve, args=(conn,), name="sequin-embedded-conn", daemon=True)
        with self._lock:
            if self._stopping:
                conn.close()
                return
            self._connections.add(conn)
            self._threads.add(thread)
        thread.start()

    def _serve(self, conn: socket.socket) -> None:
        reader = conn.makefile("rb", buffering=65536)
        try:
            while self._serve_one(conn, reader):
                pass
        except (OSError, ValueError):
            pass  # client went away, or stop() shut the socket
        finally:
            reader.close()
            conn.close()
            with self._lock:
                self._connections.discard(conn)
                self._threads.discard(threading.current_thread())

    def _serve_one(self, conn: socket.socket, reader: object) -> bool:
        """Serve one request; return whether the connection stays open."""
        readline = reader.readline  # type: ignore[attr-defined]
        line = readline(MAX_LINE + 1)
        while line in (b"\r\n", b"\n"):
            line = readline(MAX_LINE + 1)
        if not line:
            return False
        try:
            method, target, version, headers = _parse_head(line, readline)
        except _BadRequest as exc:
            self._send_plain(conn, 400, str(exc))
            return False
        get = headers.get
        connection = get("connection")
        # Without the header: what _keep_alive(version, "") answers.
        keep_alive = version != "HTTP/1.0" if connection is None else _keep_alive(version, connection)
        body = b""
        transfer_encoding = get("transfer-encoding")
        if transfer_encoding is not None and "chunked" in transfer_encoding.lower():
            if headers.get("expect", "").lower() == "100-continue":
                conn.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")
            try:
                body = _read_chunked(reader)
            except _BadRequest as exc:
                status = 413 if "large" in str(exc) else 400
                self._send(conn, self._handler_error(status, headers, target), False, False)
                return False
        else:
            length_header = get("content-length", "0").strip() or "0"
            if not length_header.isdigit():
                self._send_plain(conn, 400, "bad Content-Length")
                return False
            length = int(length_header)
            if length > MAX_BODY_BYTES:
                # Read the body away first (unless the client waits for 100-continue): a client
                # still sending when the socket closes gets a reset, not this 413.
                if headers.get("expect", "").lower() != "100-continue" and length <= MAX_DRAINED_BYTES:
                    _discard(reader, length)
                self._send(conn, self._handler_error(413, headers, target), False, False)
                return False
            if length:
                if headers.get("expect", "").lower() == "100-continue":
                    conn.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")
                body = reader.read(length)  # type: ignore[attr-defined]
                if len(body) < length:
                    return False
        response = self._handler(Request(method, target, headers, body))
        self._send(conn, response, keep_alive, method == "HEAD")
        return keep_alive

    def _handler_error(self, status: int, headers: dict[str, str], target: str) -> Response:
        """A framework error of the body reader; its renderer sees the query's ``_format``."""
        from .app import render_error
        from .errors import ApiError, framework_error
        from .negotiation import ABSENT
        from .params import decode_query

        try:
            fmt = decode_query(target.partition("?")[2].split("#", 1)[0]).get("_format", ABSENT)
        except ApiError:
            fmt = ABSENT
        return render_error(framework_error(status, before_endpoint=True), headers.get("accept"), fmt)

    def _send(self, conn: socket.socket, response: Response, keep_alive: bool, head_only: bool) -> None:
        body = response.body
        head = (
            f"HTTP/1.1 {response.status} {_REASONS.get(response.status, 'Unknown')}\r\n"
            f"content-type: {response.content_type}\r\n"
            f"content-length: {len(body)}\r\n"
            f"cache-control: max-age=0, private, must-revalidate\r\n"
            f"date: {self._date()}\r\n"
            f"{'' if keep_alive else 'connection: close' + chr(13) + chr(10)}\r\n"
        ).encode("latin-1")
        conn.sendall(head if head_only else head + body)

    def _date(self) -> str:
        second = self._now_us() // 1_000_000
        cached_second, text = self._date_cache
        if second != cached_second:
            text = formatdate(second, usegmt=True)
            self._date_cache = (second, text)
        return text

    def _send_plain(self, conn: socket.socket, status: int, text: str) -> None:
        self._send(conn, Response(status, "text/plain; charset=utf-8", text.encode()), False, False)


def _parse_head(line: bytes, readline: Callable[[int], bytes]) -> tuple[str, str, str, dict[str, str]]:
    if len(line) > MAX_LINE:
        raise _BadRequest("request line too long")
    parts = line.decode("latin-1").split()
    if len(parts) != 3 or not parts[2].startswith("HTTP/"):
        raise _BadRequest("malformed request line")
    method, target, version = parts
    headers: dict[str, str] = {}
    for _ in range(MAX_HEADERS + 1):
        raw = readline(MAX_LINE + 1)
        if len(raw) > MAX_LINE:
            raise _BadRequest("header line too long")
        if raw in (b"\r\n", b"\n", b""):
            return method, target, version, headers
        name, sep, value = raw.decode("latin-1").partition(":")
        known = _HEADER_NAMES.get(name) if sep else None
        if known is None:
            known = name.strip()
            if not sep or not known:
                raise _BadRequest("malformed header")
            known = known.lower()
            if len(_HEADER_NAMES) < 256:
                _HEADER_NAMES[name] = known
        value = value.strip()
        headers[known] = f"{headers[known]}, {value}" if known in headers else value
    raise _BadRequest("too many headers")


#: Header names as sent (before the colon) -> their stripped, lower-case form: a client sends the
#: same few on every request (~0.1 us a header). Only names that were valid are kept, and a line
#: without a colon is never looked up, so it always fails.
_HEADER_NAMES: dict[str, str] = {}


def _discard(reader: object, length: int) -> None:
    read = reader.read  # type: ignore[attr-defined]
    while length > 0:
        chunk = read(min(length, 1 << 20))
        if not chunk:
            return
        length -= len(chunk)


def _keep_alive(version: str, connection: str) -> bool:
    tokens = {t.strip().lower() for t in connection.split(",")}
    if version == "HTTP/1.0":
        return "keep-alive" in tokens
    return "close" not in tokens


def _read_chunked(reader: object) -> bytes:
    readline = reader.readline  # type: ignore[attr-defined]
    read = reader.read  # type: ignore[attr-defined]
    chunks: list[bytes] = []
    total = 0
    while True:
        size_line = readline(MAX_LINE + 1).split(b";", 1)[0].strip()
        try:
            size = int(size_line, 16)
        except ValueError:
            raise _BadRequest("malformed chunk size") from None
        if size == 0:
            while readline(MAX_LINE + 1) not in (b"\r\n", b"\n", b""):
                pass
            return b"".join(chunks)
        total += size
        if total > MAX_BODY_BYTES:
            raise _BadRequest("body too large")
        chunks.append(read(size))
        readline(MAX_LINE + 1)
