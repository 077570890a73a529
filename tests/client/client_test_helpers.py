"""Test helpers for tests/client: fake HTTP servers and name generation.

``FakeHTTPServer`` is a tiny scriptable HTTP/1.1 server (IPv4 or IPv6, plain or TLS) for what a
correct Sequin server never does (non-JSON error bodies, dropped keep-alive connections, acting as
a proxy) and for URL shapes the embedded server is not reached by (https, credentials). It counts accepted
connections, which is how keep-alive reuse is observed from the server side. ``SilentServer``
accepts and never answers (a hung server).
"""

from __future__ import annotations

import contextlib
import json
import socket
import ssl
import threading
import uuid
from typing import Callable, Dict, List, NamedTuple, Optional


def new_name(prefix: str = "t") -> str:
    return f"{prefix}_{uuid.uuid4().hex[:12]}"


class Request(NamedTuple):
    method: str
    target: str
    headers: Dict[str, str]
    body: bytes
    connection: int  # index of the accepted connection that carried it


class Reply(NamedTuple):
    status: int
    reason: str
    body: bytes = b""
    content_type: str = "application/json; charset=utf-8"
    close_after: bool = False  # close the socket after answering, without "Connection: close"
    hang_up: bool = False  # close the socket instead of answering


Responder = Callable[[Request], Reply]


def json_reply(status: int, payload: object, reason: str = "OK") -> Reply:
    return Reply(status, reason, json.dumps(payload).encode())


class FakeHTTPServer:
    """Threaded keep-alive HTTP/1.1 server answering with ``responder(request)``."""

    def __init__(
        self, responder: Responder, host: str = "127.0.0.1", tls: Optional[ssl.SSLContext] = None
    ) -> None:
        self.responder = responder
        self.requests: List[Request] = []
        self.connections = 0
        self.tls = tls
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self._sock = socket.create_server((host, 0), family=family)
        self.port = self._sock.getsockname()[1]
        netloc = f"[{host}]" if ":" in host else host
        self.url = f"{'https' if tls else 'http'}://{netloc}:{self.port}"
        self._threads: List[threading.Thread] = []
        self._open: List[socket.socket] = []
        self._lock = threading.Lock()
        self._stopped = False
        self._acceptor = threading.Thread(target=self._accept_loop, daemon=True)
        self._acceptor.start()

    def _accept_loop(self) -> None:
        while True:
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            with self._lock:
                if self._stopped:
                    conn.close()
                    return
                self.connections += 1
                index = self.connections
                self._open.append(conn)
            thread = threading.Thread(target=self._serve, args=(conn, index), daemon=True)
            thread.start()
            self._threads.append(thread)

    def _serve(self, conn: socket.socket, index: int) -> None:
        buf = b""
        try:
            if self.tls is not None:
                conn = self.tls.wrap_socket(conn, server_side=True)  # a failed handshake: OSError
            while True:
                while b"\r\n\r\n" not in buf:
                    chunk = conn.recv(65536)
                    if not chunk:
                        return
                    buf += chunk
                head, _, rest = buf.partition(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                method, target, _ = lines[0].split(" ", 2)
                headers = {}
                for line in lines[1:]:
                    name, _, value = line.partition(":")
                    headers[name.strip().lower()] = value.strip()
                length = int(headers.get("content-length", "0"))
                while len(rest) < length:
                    chunk = conn.recv(65536)
                    if not chunk:
                        return
                    rest += chunk
                body, buf = rest[:length], rest[length:]
                request = Request(method, target, headers, body, index)
                with self._lock:
                    self.requests.append(request)
                reply = self.responder(request)
                if reply.hang_up:
                    return
                conn.sendall(
                    (
                        f"HTTP/1.1 {reply.status} {reply.reason}\r\n"
                        f"content-type: {reply.content_type}\r\n"
                        f"content-length: {len(reply.body)}\r\n\r\n"
                    ).encode("latin-1")
                    + reply.body
                )
                if reply.close_after:
                    return
        except OSError:
            return
        finally:
            conn.close()

    def stop(self) -> None:
        with self._lock:
            self._stopped = True
            conns = list(self._open)
        self._sock.close()
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
            conn.close()
        for thread in self._threads:
            thread.join(timeout=2)


class SilentServer:
    """Accepts connections and never answers: the shape of a hung server."""

    def __init__(self) -> None:
        self._sock = socket.create_server(("127.0.0.1", 0))
        self._sock.settimeout(0.05)  # so the accept loop notices stop() quickly
        self.url = f"http://127.0.0.1:{self._sock.getsockname()[1]}"
        self._held: List[socket.socket] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept_loop, daemon=True)
        self._thread.start()

    def _accept_loop(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            self._held.append(conn)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)
        self._sock.close()
        for conn in self._held:
            conn.close()
