"""The real Docker code path (testcontainers + docker-py) against a fake Docker Engine API.

No engine is needed: :mod:`tests.backends._fake_engine` answers the HTTP calls docker-py makes,
so these tests check what pytest-sequin really asks the engine for (images, command, env,
network and aliases, labels, the reaper), and what it leaves behind on success and failure.
"""

from __future__ import annotations

import atexit

import pytest

from pytest_sequin.backends.base import SequinUnavailable
from pytest_sequin.backends.docker import docker_engine_status, start_docker, stop_docker
from pytest_sequin.config import resolve_config

from ._fake_engine import FakeEngine, FakeRyuk
from ._http import ScriptedServer

pytest.importorskip("testcontainers", reason="the docker extra is not installed")


@pytest.fixture
def sequin_http():
    with ScriptedServer() as server:
        yield server


@pytest.fixture
def engine(monkeypatch, sequin_http):
    from testcontainers.core.config import ConnectionMode
    from testcontainers.core.config import testcontainers_config as tc_config
    from testcontainers.core.container import Reaper

    ryuk = FakeRyuk()
    fake = FakeEngine({7376: sequin_http.port, 8080: ryuk.port, 5432: 1}).start()
    monkeypatch.setenv("DOCKER_HOST", fake.docker_host)
    monkeypatch.delenv("DOCKER_AUTH_CONFIG", raising=False)
    # This machine may itself be a container; the mapped ports are on the "docker host" then.
    monkeypatch.setattr(tc_config, "connection_mode_override", ConnectionMode.docker_host)
    monkeypatch.setattr(tc_config, "_ryuk_disabled", False)  # the reaper stays on
    monkeypatch.setattr(Reaper, "_instance", None)
    monkeypatch.setattr(Reaper, "_container", None)
    monkeypatch.setattr(Reaper, "_socket", None)
    fake.ryuk = ryuk
    try:
        yield fake
    finally:
        Reaper.delete_instance()  # while the fake engine still answers
        atexit.unregister(Reaper.delete_instance)
        fake.stop()
        ryuk.close()


def _config(**cli):
    return resolve_config({"docker": "on", "timeout": 5, **cli}, {}, {})


def test_engine_probe_against_the_fake_engine(engine):
    status = docker_engine_status(timeout=3)
    assert status.reachable, status.detail
    assert "API 1.44" in status.detail


def test_start_creates_the_compose_setup_and_stop_removes_everything(engine, sequin_http):
    from testcontainers.core.labels import LABEL_SESSION_ID, SESSION_ID

    payload = start_docker(_config())

    ryuk_id, ryuk = engine.container_by_image("ryuk")
    pg_id, pg = engine.container_by_image("postgres:16")
    seq_id, seq = engine.container_by_image("sequin/sequin:v0.3.7")
    assert engine.ryuk.labels == [f"label={LABEL_SESSION_ID}={SESSION_ID}"]

    ((network_id, network),) = engine.networks.items()
    assert network["Labels"][LABEL_SESSION_ID] == SESSION_ID  # Ryuk prunes it after a crash
    for body, alias in ((pg["create"], "sequin_postgres"), (seq["create"], "sequin")):
        assert body["HostConfig"]["NetworkMode"] == network["Name"]
        assert body["NetworkingConfig"]["EndpointsConfig"][network["Name"]]["Aliases"] == [alias]
        assert body["Labels"][LABEL_SESSION_ID] == SESSION_ID
        assert pg["state"] == seq["state"] == "running"

    assert pg["create"]["Cmd"] == ["postgres", "-c", "wal_level=logical"]
    assert sorted(pg["create"]["Env"]) == [
        "POSTGRES_DB=sequin",
        "POSTGRES_PASSWORD=postgres",
        "POSTGRES_USER=postgres",
    ]
    assert pg["create"]["ExposedPorts"] == {"5432/tcp": {}}
    assert list(engine.execs.values()) == [
        ["pg_isready", "-h", "127.0.0.1", "-U", "postgres", "-d", "sequin"]
    ]

    env = dict(item.split("=", 1) for item in seq["create"]["Env"])
    assert {k: v for k, v in env.items() if k.startswith("PG_")} == {
        "PG_HOSTNAME": "sequin_postgres",
        "PG_DATABASE": "sequin",
        "PG_PORT": "5432",
        "PG_USERNAME": "postgres",
        "PG_PASSWORD": "postgres",
        "PG_POOL_SIZE": "20",
    }
    assert len(env["SECRET_KEY_BASE"]) >= 64 and env["VAULT_KEY"]
    assert seq["create"]["ExposedPorts"] == {"7376/tcp": {}}
    assert seq["create"].get("Cmd") is None  # the image's own entrypoint

    assert payload["url"] == f"http://127.0.0.1:{sequin_http.port}"
    assert [path for path, _ in sequin_http.requests] == ["/api/streams"]  # the application-level check
    assert payload["container_ids"] == [seq_id, pg_id] and payload["network_id"] == network_id
    assert payload["reaper"]["port"] == engine.ryuk.port

    stop_docker(payload)
    assert engine.removed_containers == [seq_id, pg_id] and engine.removed_networks == [network_id]
    assert list(engine.containers) == [ryuk_id]  # the reaper removes itself (auto_remove) when we leave
    stop_docker(payload)  # a second stop (the reaper was faster) is fine


def test_readiness_failure_reports_logs_and_engine_then_removes_everything(engine, sequin_http):
    sequin_http.script = [(503, {"errors": "booting"})]
    engine.logs["sequin/sequin:v0.3.7"] = (
        b"boot 1\nmigrations running\n",
        b"** (DBConnection.ConnectionError)\n",
    )
    engine.logs["postgres:16"] = (b"database system is ready to accept connections\n", b"")
    with pytest.raises(SequinUnavailable) as info:
        start_docker(_config(timeout=0.3))
    message = str(info.value)
    assert f"GET http://127.0.0.1:{sequin_http.port}/api/streams" in message
    assert "HTTP 503" in message
    assert "docker engine: reachable at http://127.0.0.1:" in message
    assert (
        "migrations running" in message and "DBConnection.ConnectionError" in message
    )  # read before removal
    assert "database system is ready" in message
    ryuk_id, _ = engine.container_by_image("ryuk")
    assert list(engine.containers) == [ryuk_id] and engine.networks == {}
    assert len(engine.removed_containers) == 2 and len(engine.removed_networks) == 1


def test_a_failed_create_removes_what_was_started(engine):
    engine.fail_create_for = "sequin/sequin"
    with pytest.raises(SequinUnavailable) as info:
        start_docker(_config())
    message = str(info.value)
    assert "while starting sequin/sequin:v0.3.7" in message and "pull access denied" in message
    assert "sequin container, last 40 log lines:(container was not created)" in message
    ryuk_id, _ = engine.container_by_image("ryuk")
    assert list(engine.containers) == [ryuk_id] and engine.networks == {}


def test_postgres_never_ready_is_bounded_and_cleaned_up(engine):
    engine.exec_exit_code = 2
    with pytest.raises(SequinUnavailable) as info:
        start_docker(_config(timeout=0.2))
    message = str(info.value)
    assert "while starting postgres:16" in message
    assert "pg_isready" in message or "TimeoutError" in message
    ryuk_id, _ = engine.container_by_image("ryuk")
    assert list(engine.containers) == [ryuk_id] and engine.networks == {}


def test_a_shared_start_lets_the_reaper_outlive_this_process(engine, monkeypatch):
    """testcontainers registers Reaper.delete_instance at exit when it creates the reaper; with
    share_reaper the starter must drop that registration, so it has to happen afterwards."""
    from testcontainers.core.container import Reaper

    from pytest_sequin.backends import docker as docker_backend

    seen = []

    class Recorder:
        def unregister(self, func):
            seen.append((func, Reaper._instance is not None))
            atexit.unregister(func)

        def register(self, func):
            seen.append(("register", func.__name__))

    monkeypatch.setattr(docker_backend, "atexit", Recorder())
    payload = start_docker(_config(), share_reaper=True)
    assert (Reaper.delete_instance, True) in seen  # unregistered once the reaper existed
    assert ("register", "close_socket") in seen
    stop_docker(payload)


def test_stop_finds_the_engine_the_way_testcontainers_does(engine, monkeypatch):
    """An engine known only from ~/.testcontainers.properties (tc.host), not from DOCKER_HOST."""
    from testcontainers.core.config import testcontainers_config as tc_config

    payload = start_docker(_config())
    host = engine.docker_host
    monkeypatch.delenv("DOCKER_HOST")
    monkeypatch.setattr(tc_config, "tc_properties_get_tc_host", lambda: host)
    stop_docker(payload)
    assert set(payload["container_ids"]) <= set(engine.removed_containers)
    assert engine.removed_networks == [payload["network_id"]]
