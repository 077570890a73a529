"""start_server / select_backend wiring, with fake servers (no engine, no embedded server needed)."""

from __future__ import annotations

import errno
import sys

import pytest

import pytest_sequin.backends as backends
from pytest_sequin.backends import SequinUnavailable, select_backend, start_server
from pytest_sequin.backends.docker import EngineStatus
from pytest_sequin.config import resolve_config

from ._http import ScriptedServer, free_port

UP = EngineStatus(True, "reachable at unix:///var/run/docker.sock (API 1.44)", 0.01)
DOWN = EngineStatus(False, "not reachable via the default Docker socket: FileNotFoundError", 0.01)


def config(**cli):
    return resolve_config(cli, {}, {})


def fail_probe():
    pytest.fail("the engine must not be probed")


@pytest.fixture
def extra_installed(monkeypatch):
    """Pretend the docker extra is installed: these tests fake the engine anyway."""
    monkeypatch.setattr(backends, "import_testcontainers", lambda: None)


def test_embedded_backend_with_a_fake_server():
    made = []

    def factory(host, port):
        made.append((host, port))
        return ScriptedServer(host=host, port=port)

    server = start_server(config(timeout=5), embedded_factory=factory, engine_probe=fail_probe)
    try:
        assert made == [("127.0.0.1", 0)]
        assert server.backend == "embedded"
        assert server.header_lines() == [f"sequin: embedded server at {server.url}"]
    finally:
        server.stop()


def test_embedded_port_in_use_is_a_clear_error():
    class Busy:
        def __init__(self, host, port):
            pass

        def start(self):
            raise OSError(errno.EADDRINUSE, "Address already in use")

    with pytest.raises(SequinUnavailable, match=r"(?s)could not listen on 127.0.0.1:7376.*--sequin-port"):
        start_server(config(port=7376), embedded_factory=Busy)


def test_embedded_not_answering_is_stopped_and_reported():
    servers = []

    def factory(host, port):
        servers.append(ScriptedServer([(404, {"errors": {"detail": "Not Found"}})], host=host, port=port))
        return servers[-1]

    with pytest.raises(SequinUnavailable, match="HTTP 404"):
        start_server(config(timeout=0.3), embedded_factory=factory)
    assert servers[0].stopped


def test_url_backend():
    with ScriptedServer() as remote:
        url = f"http://bob:hunter2@127.0.0.1:{remote.port}"
        cfg = resolve_config({}, {}, {"PYTEST_SEQUIN_URL": url})
        server = start_server(cfg, engine_probe=fail_probe)
        assert server.url == url
        assert server.header_lines() == [f"sequin: url http://bob:***@127.0.0.1:{remote.port}"]
        server.stop()  # not ours: nothing happens
        assert len(remote.requests) == 1


def test_url_backend_failure_names_the_source_and_the_fixes():
    url = f"http://127.0.0.1:{free_port()}"
    cfg = resolve_config({}, {"url": url, "timeout": "0.2"}, {})
    with pytest.raises(SequinUnavailable) as info:
        start_server(cfg)
    message = str(info.value)
    assert "sequin_url (ini file)" in message
    assert "SEQUIN_URL is never read" in message and "--sequin-docker" in message


@pytest.mark.usefixtures("extra_installed")
def test_auto_uses_docker_when_the_engine_answers():
    choice = select_backend(config(docker="auto"), engine_probe=lambda: UP)
    assert choice.backend == "docker" and choice.engine is UP


@pytest.mark.usefixtures("extra_installed")
def test_auto_falls_back_to_embedded_and_says_so():
    cfg = config(docker="auto", timeout=5)
    choice = select_backend(cfg, engine_probe=lambda: DOWN)
    assert choice.backend == "embedded"
    assert "--sequin-docker (command line)" in choice.note and "no Docker engine answered" in choice.note

    server = start_server(cfg, engine_probe=lambda: DOWN, embedded_factory=ScriptedServer)
    try:
        lines = server.header_lines()
        assert lines[0].startswith("sequin: embedded server at http://127.0.0.1:")
        assert lines[1].startswith("sequin: note: --sequin-docker (command line): no Docker engine answered")
    finally:
        server.stop()


@pytest.mark.usefixtures("extra_installed")
def test_shared_docker_flow_starts_once_and_stops_after_the_last(tmp_path, monkeypatch):
    """The docker calls are faked; this checks the wiring of coordination, reaper joining, stop."""
    events = []
    with ScriptedServer() as sequin:
        payload = {
            "url": sequin.url,
            "image": "sequin/sequin:v0.3.7",
            "container_ids": ["c1", "c2"],
            "network_id": "n1",
            "reaper": {"host": "127.0.0.1", "port": 1, "label": "l=x"},
        }

        def fake_start(cfg, **kwargs):
            events.append(("start", kwargs["share_reaper"], kwargs["engine_probe"]()))
            return payload

        class Sock:
            def close(self):
                events.append("reaper-closed")

        monkeypatch.setattr(backends, "start_docker", fake_start)
        monkeypatch.setattr(backends, "stop_docker", lambda p: events.append(("stop", p["container_ids"])))
        monkeypatch.setattr(backends, "join_reaper", lambda info: events.append(("join", info)) or Sock())

        cfg = config(docker="auto", timeout=5)
        first = start_server(cfg, coordination_dir=tmp_path, engine_probe=lambda: UP)
        second = start_server(cfg, coordination_dir=tmp_path, engine_probe=lambda: UP)
        assert first.url == second.url == sequin.url
        assert first.header_lines()[0] == f"sequin: docker sequin/sequin:v0.3.7 at {sequin.url}"
        assert events == [("start", True, UP), ("join", payload["reaper"])]
        first.stop()
        assert ("stop", ["c1", "c2"]) not in events
        second.stop()
        second.stop()
        assert events[-2:] == [("stop", ["c1", "c2"]), "reaper-closed"]
        assert sum(1 for e in events if e[0] == "stop") == 1


def test_auto_without_the_extra_falls_back_with_the_install_hint(monkeypatch):
    for name in list(sys.modules):
        if name.split(".")[0] in ("docker", "testcontainers"):
            monkeypatch.setitem(sys.modules, name, None)
    monkeypatch.setitem(sys.modules, "docker", None)
    monkeypatch.setitem(sys.modules, "testcontainers", None)
    choice = select_backend(config(docker="auto"), engine_probe=fail_probe)
    assert choice.backend == "embedded"
    assert "pip install 'testcontainers>=4.8' (pytest-sequin's 'docker' extra)" in choice.note


def test_auto_with_a_too_old_testcontainers_falls_back_and_says_why(monkeypatch):
    pytest.importorskip("testcontainers", reason="the docker extra is not installed")
    import importlib.metadata

    real = importlib.metadata.version
    monkeypatch.setattr(
        importlib.metadata, "version", lambda name: "4.4.1" if name == "testcontainers" else real(name)
    )
    choice = select_backend(config(docker="auto"), engine_probe=fail_probe)
    assert choice.backend == "embedded"
    assert "testcontainers 4.4.1 is installed, but a Sequin in Docker needs testcontainers>=4.8" in (
        choice.note
    )
    assert "using the embedded server" in choice.note


def test_join_reaper_speaks_the_ryuk_protocol():
    import socket
    import threading

    from pytest_sequin.backends.docker import join_reaper

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    received = []

    def ryuk():
        conn, _ = listener.accept()
        received.append(conn.recv(200))
        conn.sendall(b"ACK\n")
        received.append(conn.recv(10))  # b"" once the client closes
        conn.close()

    thread = threading.Thread(target=ryuk, daemon=True)
    thread.start()
    sock = join_reaper({"host": "127.0.0.1", "port": listener.getsockname()[1], "label": "a.b=sid"})
    assert sock is not None
    sock.close()
    thread.join(5)
    listener.close()
    assert received == [b"label=a.b=sid\r\n", b""]
    assert join_reaper(None) is None
    assert join_reaper({"host": "127.0.0.1", "port": free_port(), "label": "x=y"}, timeout=1) is None


def test_real_embedded_server():
    server = start_server(config(timeout=10))
    try:
        assert server.backend == "embedded"
        assert server.handle is not None and server.handle.url == server.url
        assert server.header_lines() == [f"sequin: embedded server at {server.url}"]
    finally:
        server.stop()
    assert not server.handle.is_running
