"""A fake Docker Engine API: just the endpoints docker-py and testcontainers call for our plan.

It lets the real :func:`pytest_sequin.backends.docker.start_docker` / ``stop_docker`` run
end to end without Docker: testcontainers builds real requests (create, start, inspect,
exec, logs, remove, networks) and this server records them and answers like an engine
would.  Each container port the plan exposes is "mapped" to a host port the test chooses
(``port_map``: container port -> host port), e.g. Sequin's 7376 to a stdlib server that
answers ``GET /api/streams``.  Exec always exits with ``exec_exit_code``; the logs of a
container are ``logs[image]``.  Stdlib only, no pytest import.
"""

from __future__ import annotations

import json
import re
import socket
import struct
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Optional
from urllib.parse import parse_qs, unquote, urlsplit

API_VERSION = "1.44"


def _frame(stream: int, data: bytes) -> bytes:
    """One frame of Docker's multiplexed stdout/stderr stream (non-TTY containers)."""
    return struct.pack(">BxxxL", stream, len(data)) + data if data else b""


class FakeEngine:
    def __init__(self, port_map: dict[int, int]) -> None:
        self.port_map = dict(port_map)
        self.containers: dict[str, dict[str, Any]] = {}  # id -> {"create": body, "name", "state"}
        self.networks: dict[str, dict[str, Any]] = {}  # id -> create body
        self.removed_containers: list[str] = []
        self.removed_networks: list[str] = []
        self.execs: dict[str, list[str]] = {}
        self.calls: list[tuple[str, str]] = []
        self.create_bodies: list[dict[str, Any]] = []  # every container create, even removed ones
        self.logs: dict[str, tuple[bytes, bytes]] = {}
        self.exec_exit_code = 0
        self.fail_create_for: Optional[str] = None  # image whose create answers 500
        self._httpd: Optional[ThreadingHTTPServer] = None
        self._lock = threading.Lock()

    # -- helpers used by the tests ---------------------------------------------------------------
    @property
    def docker_host(self) -> str:
        assert self._httpd is not None
        return f"tcp://127.0.0.1:{self._httpd.server_address[1]}"

    def container_by_image(self, fragment: str) -> tuple[str, dict[str, Any]]:
        matches = [(cid, c) for cid, c in self.containers.items() if fragment in c["create"]["Image"]]
        assert len(matches) == 1, (fragment, [c["create"]["Image"] for c in self.containers.values()])
        return matches[0]

    # -- engine ------------------------------------------------------------------------------------
    def _inspect(self, cid: str) -> dict[str, Any]:
        container = self.containers[cid]
        body = container["create"]
        ports = {}
        for key in body.get("ExposedPorts", {}):
            number = int(key.split("/")[0])
            ports[key] = [{"HostIp": "0.0.0.0", "HostPort": str(self.port_map.get(number, 1))}]
        network_mode = body.get("HostConfig", {}).get("NetworkMode", "default")
        return {
            "Id": cid,
            "Name": "/" + (container["name"] or cid[:12]),
            "Image": body["Image"],
            "State": {"Status": container["state"], "Running": container["state"] == "running"},
            "Config": {
                "Image": body["Image"],
                "Tty": False,
                "Env": body.get("Env", []),
                "Labels": body.get("Labels", {}),
            },
            "HostConfig": {"NetworkMode": network_mode},
            "NetworkSettings": {"Ports": ports, "Networks": {network_mode: {"IPAddress": "10.0.0.2"}}},
        }

    def route(self, method: str, path: str, query: dict[str, list[str]], body: Any) -> tuple[int, Any]:
        path = re.sub(r"^/v[0-9.]+", "", path)
        self.calls.append((method, path))
        if path == "/_ping":
            return 200, b"OK"
        if path == "/version":
            return 200, {
                "ApiVersion": API_VERSION,
                "Version": "25.0.0",
                "MinAPIVersion": "1.24",
                "Os": "linux",
            }
        if method == "GET" and (m := re.fullmatch(r"/images/(.+)/json", path)):
            return 200, {"Id": "sha256:" + "0" * 64, "RepoTags": [unquote(m.group(1))]}
        if method == "POST" and path == "/networks/create":
            nid = uuid.uuid4().hex
            self.networks[nid] = body
            return 201, {"Id": nid, "Warning": ""}
        if m := re.fullmatch(r"/networks/([^/]+)", path):
            nid = m.group(1)
            if nid not in self.networks:
                return 404, {"message": f"network {nid} not found"}
            if method == "DELETE":
                self.removed_networks.append(nid)
                del self.networks[nid]
                return 204, b""
            return 200, {
                "Id": nid,
                "Name": self.networks[nid]["Name"],
                "Labels": self.networks[nid].get("Labels"),
            }
        if method == "POST" and path == "/containers/create":
            if self.fail_create_for and self.fail_create_for in body["Image"]:
                return 500, {"message": f"pull access denied for {body['Image']}"}
            self.create_bodies.append(body)
            cid = uuid.uuid4().hex + uuid.uuid4().hex
            self.containers[cid] = {
                "create": body,
                "name": (query.get("name") or [None])[0],
                "state": "created",
            }
            return 201, {"Id": cid, "Warnings": []}
        if m := re.fullmatch(r"/containers/([0-9a-f]+)(/[a-z]+)?", path):
            cid, action = m.group(1), m.group(2) or ""
            if cid not in self.containers:
                return 404, {"message": f"No such container: {cid}"}
            if method == "POST" and action == "/start":
                self.containers[cid]["state"] = "running"
                return 204, b""
            if method == "GET" and action == "/json":
                return 200, self._inspect(cid)
            if method == "GET" and action == "/logs":
                out, err = self.logs.get(self.containers[cid]["create"]["Image"], (b"", b""))
                data = (_frame(1, out) if query.get("stdout") == ["1"] else b"") + (
                    _frame(2, err) if query.get("stderr") == ["1"] else b""
                )
                return 200, ("raw", data)
            if method == "POST" and action == "/exec":
                eid = uuid.uuid4().hex
                self.execs[eid] = body["Cmd"]
                return 201, {"Id": eid}
            if method == "DELETE" and action == "":
                self.removed_containers.append(cid)
                del self.containers[cid]
                return 204, b""
        if m := re.fullmatch(r"/exec/([0-9a-f]+)/(start|json)", path):
            if m.group(2) == "start":
                return 200, ("raw", _frame(1, b"accepting connections\n"))
            return 200, {"ExitCode": self.exec_exit_code, "Running": False}
        return 404, {"message": f"fake engine: no route for {method} {path}"}

    # -- server --------------------------------------------------------------------------------
    def start(self) -> FakeEngine:
        engine = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def _handle(self) -> None:
                parts = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                body = json.loads(raw) if raw and raw[:1] in (b"{", b"[") else None
                with engine._lock:
                    status, answer = engine.route(self.command, parts.path, parse_qs(parts.query), body)
                if isinstance(answer, tuple):  # a raw multiplexed stream; exec reads it to EOF
                    self.send_response(status)
                    self.send_header("Content-Type", "application/vnd.docker.raw-stream")
                    self.send_header("Content-Length", str(len(answer[1])))
                    self.send_header("Connection", "close")
                    self.close_connection = True
                    self.end_headers()
                    self.wfile.write(answer[1])
                    return
                data = answer if isinstance(answer, bytes) else json.dumps(answer).encode()
                self.send_response(status)
                self.send_header(
                    "Content-Type", "application/json" if not isinstance(answer, bytes) else "text/plain"
                )
                self.send_header("Content-Length", str(len(data)))
                if self.path.endswith("/_ping"):
                    self.send_header("Api-Version", API_VERSION)
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_DELETE = do_HEAD = _handle  # noqa: N815 - stdlib API

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        threading.Thread(target=self._httpd.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()


class FakeRyuk:
    """Speaks Ryuk's protocol: reads ``label=...`` lines, answers ``ACK``; records the labels."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.labels: list[str] = []
        self.connections: list[socket.socket] = []
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.connections.append(conn)
            threading.Thread(target=self._talk, args=(conn,), daemon=True).start()

    def _talk(self, conn: socket.socket) -> None:
        buffer = b""
        while True:
            try:
                chunk = conn.recv(1024)
            except OSError:
                return
            if not chunk:
                return
            buffer += chunk
            while b"\n" in buffer:
                line, buffer = buffer.split(b"\n", 1)
                self.labels.append(line.strip().decode())
                conn.sendall(b"ACK\n")

    def close(self) -> None:
        self.sock.close()
        for conn in self.connections:
            conn.close()
