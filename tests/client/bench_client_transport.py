"""Per-call cost of candidate transports (not collected by pytest; run it by hand).

    .venv/bin/python tests/client/bench_client_transport.py [--embedded]

The server runs in a separate process so that it does not compete with the client for the GIL.
By default it is a minimal keep-alive server answering a canned JSON body (it measures the
client side alone); ``--embedded`` runs pytest_sequin's embedded server and publishes for real.
Each line: the best of 3 runs of N keep-alive POSTs of a one-message publish, JSON in and out.
"""

from __future__ import annotations

import collections
import http.client
import json
import os
import subprocess
import sys
import threading
import time
from typing import Callable

import requests
import urllib3

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, ROOT)

from pytest_sequin.client import SequinClient  # noqa: E402

CANNED_SERVER = r"""
import socket, threading
BODY = b'{"data": {"published": 1}}'
RESP = (b"HTTP/1.1 200 OK\r\ncontent-type: application/json; charset=utf-8\r\n"
        b"content-length: %d\r\n\r\n" % len(BODY)) + BODY
def handle(conn):
    conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    buf = b""
    while True:
        while b"\r\n\r\n" not in buf:
            d = conn.recv(65536)
            if not d:
                conn.close(); return
            buf += d
        head, _, rest = buf.partition(b"\r\n\r\n")
        cl = 0
        for line in head.split(b"\r\n")[1:]:
            k, _, v = line.partition(b":")
            if k.strip().lower() == b"content-length":
                cl = int(v)
        while len(rest) < cl:
            rest += conn.recv(65536)
        buf = rest[cl:]
        conn.sendall(RESP)
s = socket.create_server(("127.0.0.1", 0))
print(s.getsockname()[1], flush=True)
while True:
    c, _ = s.accept()
    threading.Thread(target=handle, args=(c,), daemon=True).start()
"""

EMBEDDED_SERVER = r"""
import sys, time
from pytest_sequin.server import EmbeddedSequinServer
server = EmbeddedSequinServer(host="127.0.0.1", port=0)
server.start()
print(server.url.rsplit(":", 1)[1], flush=True)
while True:
    time.sleep(3600)
"""


def bench(name: str, fn: Callable[[], object], n: int) -> None:
    for _ in range(min(200, n)):
        fn()
    runs = []
    for _ in range(3):
        started = time.perf_counter()
        for _ in range(n):
            fn()
        runs.append((time.perf_counter() - started) / n * 1e6)
    print(f"{name:46s} {min(runs):8.1f} us/call")


def main() -> None:
    embedded = "--embedded" in sys.argv
    code = EMBEDDED_SERVER if embedded else CANNED_SERVER
    env = dict(os.environ, PYTHONPATH=ROOT)
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True, env=env)
    try:
        port = int(proc.stdout.readline())
        url = f"http://127.0.0.1:{port}"
        stream = "default"
        path = f"/api/streams/{stream}/messages"
        payload = {"messages": [{"key": "bench.1", "data": "x"}]}
        body = json.dumps(payload).encode()
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        n = 2000

        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)

        def raw_http_client() -> object:
            conn.request("POST", path, body, headers)
            return json.loads(conn.getresponse().read())

        pool: collections.deque = collections.deque()

        def deque_pool() -> object:
            try:
                c = pool.pop()
            except IndexError:
                c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            c.request("POST", path, body, headers)
            data = json.loads(c.getresponse().read())
            pool.append(c)
            return data

        local = threading.local()

        def thread_local() -> object:
            c = getattr(local, "conn", None)
            if c is None:
                c = local.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            c.request("POST", path, body, headers)
            return json.loads(c.getresponse().read())

        manager = urllib3.PoolManager(maxsize=8, retries=False, timeout=30)
        u3_pool = urllib3.HTTPConnectionPool("127.0.0.1", port, maxsize=8, retries=False, timeout=30)
        session = requests.Session()
        session_no_env = requests.Session()
        session_no_env.trust_env = False
        ours = SequinClient(url)
        from sequin.client import Client as SdkClient

        sdk = SdkClient(url)

        bench("http.client, one connection", raw_http_client, n)
        bench("http.client + deque pool", deque_pool, n)
        bench("http.client + threading.local", thread_local, n)
        messages = payload["messages"]
        bench("pytest_sequin SequinClient.send_messages", lambda: ours.send_messages(stream, messages), n)
        bench("urllib3 HTTPConnectionPool.urlopen", lambda: json.loads(
            u3_pool.urlopen("POST", path, body=body, headers=headers).data), n)
        bench("urllib3 PoolManager.request", lambda: json.loads(
            manager.request("POST", url + path, body=body, headers=headers).data), n)
        bench("requests.Session (trust_env=False)", lambda: session_no_env.post(
            url + path, data=body, headers=headers).json(), n)
        bench("requests.Session (trust_env=True)", lambda: session.post(
            url + path, data=body, headers=headers).json(), n)
        bench("sequin-py Client.send_messages (new conn)", lambda: sdk.send_messages(
            stream, payload["messages"]), n // 4)
    finally:
        proc.kill()
        proc.wait()


if __name__ == "__main__":
    main()
