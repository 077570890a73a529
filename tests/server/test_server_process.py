"""The embedded server as a process and an object: CLI, signals, start-up and shutdown."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time

import pytest
import requests

from pytest_sequin.server import EmbeddedSequinServer

LISTENING = re.compile(r"listening on (http://127\.0\.0\.1:(\d+))")


def _session() -> requests.Session:
    session = requests.Session()
    session.trust_env = False
    session.headers["Accept"] = "application/json"
    return session


def _start_cli(*args: str) -> tuple[subprocess.Popen, str]:
    process = subprocess.Popen(
        [sys.executable, "-m", "pytest_sequin.server", "--port", "0", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    line = process.stdout.readline()  # type: ignore[union-attr]
    match = LISTENING.search(line)
    if not match:
        process.kill()
        raise AssertionError(f"unexpected first line {line!r}; stderr: {process.stderr.read()}")  # type: ignore[union-attr]
    assert int(match.group(2)) != 0
    return process, match.group(1)


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_cli_prints_the_real_url_serves_and_exits_0_on_signal(signum):
    process, url = _start_cli()
    try:
        with _session() as session:
            names = [s["name"] for s in session.get(f"{url}/api/streams", timeout=10).json()["data"]]
            assert names == ["default"]
        process.send_signal(signum)
        assert process.wait(10) == 0
    finally:
        if process.poll() is None:
            process.kill()
        process.stdout.close()  # type: ignore[union-attr]
        process.stderr.close()  # type: ignore[union-attr]


def test_cli_without_default_stream_and_busy_port():
    process, url = _start_cli("--no-default-stream")
    try:
        with _session() as session:
            assert session.get(f"{url}/api/streams", timeout=10).json() == {"data": []}
        port = url.rsplit(":", 1)[1]
        busy = subprocess.run(
            [sys.executable, "-m", "pytest_sequin.server", "--port", port],
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert busy.returncode == 1
        assert f"cannot listen on 127.0.0.1:{port}" in busy.stderr
    finally:
        process.terminate()
        process.wait(10)
        process.stdout.close()  # type: ignore[union-attr]
        process.stderr.close()  # type: ignore[union-attr]


def _server_threads(exclude: set[threading.Thread]) -> list[threading.Thread]:
    """Live server threads, leaving out those that existed before (the session server's)."""
    return [t for t in threading.enumerate() if t.name.startswith("sequin-embedded") and t not in exclude]


def test_start_returns_only_when_accepting_and_stop_leaves_no_thread():
    before = set(threading.enumerate())
    for _ in range(3):
        server = EmbeddedSequinServer().start()
        with _session() as session:
            # Straight after start(): answered, with no retry.
            assert session.get(f"{server.url}/api/streams", timeout=5).status_code == 200
            # An idle keep-alive connection, a half-sent request and a silent connection stay open.
            session.get(f"{server.url}/api/streams", timeout=5)
            half = socket.create_connection((server.host, server.port))
            half.sendall(b"GET /api/streams HTTP/1.1\r\nHost: x\r\n")
            silent = socket.create_connection((server.host, server.port))
            time.sleep(0.05)
            assert _server_threads(before)
            started = time.monotonic()
            server.stop()
            assert time.monotonic() - started < 3
            half.close()
            silent.close()
        assert _server_threads(before) == []
        assert {t for t in threading.enumerate() if t.name.startswith("sequin-embedded")} <= before
        server.stop()  # twice is fine
        assert not server.is_running


def test_server_object_lifecycle():
    with EmbeddedSequinServer(seed_default_stream=False) as server:
        assert server.is_running
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+", server.url)
        assert repr(server) == f"<EmbeddedSequinServer {server.url}>"
        with pytest.raises(RuntimeError):
            server.start()
        with _session() as session:
            assert session.get(f"{server.url}/api/streams", timeout=5).json() == {"data": []}
            clock = session.get(f"{server.url}/_pytest_sequin/clock", timeout=5).json()
            assert clock["controllable"] is True
            server.advance_clock(10)
            assert session.get(f"{server.url}/_pytest_sequin/clock", timeout=5).json()["offset_seconds"] == 10
    assert not server.is_running
    assert repr(server) == "<EmbeddedSequinServer stopped>"
    with pytest.raises(RuntimeError):
        server.port  # noqa: B018


def test_control_routes():
    with EmbeddedSequinServer() as server, _session() as session:
        base = f"{server.url}/_pytest_sequin"
        assert session.get(f"{base}/health", timeout=5).json() == {
            "ok": True,
            "server": "pytest-sequin embedded",
        }
        assert session.post(f"{base}/clock/advance", json={"seconds": -1}, timeout=5).status_code == 400
        assert session.post(f"{base}/clock/advance", json={"seconds": "x"}, timeout=5).status_code == 400
        answer = session.post(f"{base}/clock/advance", data={"seconds": "1.5"}, timeout=5)
        assert answer.json()["offset_seconds"] == 1.5
        assert session.get(f"{base}/nope", timeout=5).status_code == 404
        # Control routes never live under /api.
        assert session.get(f"{server.url}/api/_pytest_sequin/clock", timeout=5).status_code == 404


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs a POSIX platform")
def test_ipv6_host_url_formatting():
    try:
        server = EmbeddedSequinServer(host="::1").start()
    except OSError:
        pytest.skip("no IPv6 loopback")
    try:
        assert server.url == f"http://[::1]:{server.port}"
        with _session() as session:
            assert session.get(f"{server.url}/api/streams", timeout=5).status_code == 200
    finally:
        server.stop()
