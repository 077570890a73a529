"""start_docker's orchestration with fake testcontainers objects (no engine needed)."""

from __future__ import annotations

import pytest

from pytest_sequin.backends import docker as docker_backend
from pytest_sequin.backends.base import SequinUnavailable
from pytest_sequin.backends.docker import EngineStatus, start_docker
from pytest_sequin.config import resolve_config

from ._http import ScriptedServer, free_port

pytest.importorskip("testcontainers", reason="the docker extra is not installed")

UP = EngineStatus(True, "reachable at unix:///var/run/docker.sock (API 1.44)", 0.01)


class FakeWrapped:
    def __init__(self, cid):
        self.id = cid
        self.status = "running"

    def reload(self):
        pass


class FakeContainer:
    def __init__(self, spec, port, events):
        self.spec = spec
        self._port = port
        self._events = events
        self._container = None

    def start(self):
        self._container = FakeWrapped(f"id-{self.spec.role}")
        self._events.append(("start", self.spec.role))
        return self

    def get_container_host_ip(self):
        return "127.0.0.1"

    def get_exposed_port(self, port):
        assert port == 7376
        return self._port

    def get_logs(self):
        return (f"{self.spec.role} line 1\n{self.spec.role} last line\n".encode(), b"")

    def get_wrapped_container(self):
        return self._container

    def stop(self):
        self._events.append(("removed", self.spec.role))


class FakeNetwork:
    def __init__(self, events):
        self._events = events
        self._network = None
        self.id = "net-1"

    def create(self):
        self._network = object()
        return self

    def remove(self):
        self._events.append(("removed", "network"))


@pytest.fixture
def fakes(monkeypatch):
    events = []
    state = {"port": free_port()}
    monkeypatch.setattr(docker_backend, "create_network", lambda kw=None: FakeNetwork(events))
    monkeypatch.setattr(
        docker_backend,
        "apply_spec",
        lambda spec, network, docker_client_kw=None: FakeContainer(spec, state["port"], events),
    )
    return events, state


def test_success_returns_a_payload_for_other_processes(fakes):
    events, state = fakes
    with ScriptedServer() as sequin:
        state["port"] = sequin.port
        payload = start_docker(
            resolve_config({"docker": "on", "timeout": 5}, {}, {}), engine_probe=lambda: UP
        )
    assert events == [("start", "postgres"), ("start", "sequin")]
    assert payload["url"] == f"http://127.0.0.1:{sequin.port}"
    assert payload["container_ids"] == ["id-sequin", "id-postgres"]
    assert payload["network_id"] == "net-1"
    assert payload["image"] == "sequin/sequin:v0.3.7" and payload["postgres_image"] == "postgres:16"
    assert "reaper" in payload


def test_readiness_failure_shows_logs_engine_and_fixes_and_cleans_up(fakes):
    events, _ = fakes
    cfg = resolve_config({"docker": "on", "timeout": 0.5}, {}, {})
    with pytest.raises(SequinUnavailable) as info:
        start_docker(cfg, engine_probe=lambda: UP)
    message = str(info.value)
    assert "GET http://127.0.0.1:" in message and "/api/streams" in message
    assert "docker engine: reachable" in message
    assert "sequin container, last 40 log lines: [status: running]" in message
    assert "sequin last line" in message and "postgres last line" in message
    assert "--sequin-image (now sequin/sequin:v0.3.7)" in message
    assert "--sequin-timeout (now 0.5s)" in message
    assert {("removed", "sequin"), ("removed", "postgres"), ("removed", "network")} <= set(events)


def test_a_docker_error_while_starting_is_wrapped_with_the_step(fakes, monkeypatch):
    events, _ = fakes

    def broken_apply(spec, network, docker_client_kw=None):
        if spec.role == "sequin":
            raise RuntimeError("pull access denied for sequin/sequin")
        return FakeContainer(spec, 1, events)

    monkeypatch.setattr(docker_backend, "apply_spec", broken_apply)
    with pytest.raises(SequinUnavailable) as info:
        start_docker(resolve_config({"docker": "on"}, {}, {}), engine_probe=lambda: UP)
    message = str(info.value)
    assert "while starting sequin/sequin:v0.3.7" in message
    assert "RuntimeError: pull access denied" in message
    assert "sequin container, last 40 log lines:(container was not created)" in message
    assert ("removed", "postgres") in events and ("removed", "network") in events
