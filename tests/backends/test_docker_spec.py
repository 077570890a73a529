"""Docker backend, checked WITHOUT an engine: plain-data plan, testcontainers objects, errors."""

from __future__ import annotations

import base64
import subprocess
import sys
import textwrap
import time

import pytest

from pytest_sequin.backends import docker as docker_backend
from pytest_sequin.backends.base import DockerUnavailable
from pytest_sequin.backends.docker import (
    SEQUIN_HTTP_PORT,
    EngineStatus,
    apply_spec,
    build_docker_plan,
    docker_engine_status,
    import_testcontainers,
    start_docker,
)
from pytest_sequin.config import resolve_config

NO_ENGINE = "unix:///nonexistent/pytest-sequin/docker.sock"
PINNED = {"version": "1.41"}  # lets testcontainers objects be built without asking an engine


@pytest.fixture
def plan():
    return build_docker_plan("sequin/sequin:v0.3.7", "postgres:16", timeout=42)


def test_plan_postgres(plan):
    pg = plan.postgres
    assert pg.role == "postgres" and pg.image == "postgres:16"
    assert pg.command == ("postgres", "-c", "wal_level=logical")
    assert dict(pg.env) == {
        "POSTGRES_DB": "sequin",
        "POSTGRES_USER": "postgres",
        "POSTGRES_PASSWORD": "postgres",
    }
    assert pg.exposed_ports == (5432,)
    assert pg.network_aliases == ("sequin_postgres",)
    assert pg.wait.kind == "exec" and pg.wait.timeout == 42
    assert pg.wait.command[0] == "pg_isready" and "127.0.0.1" in pg.wait.command


def test_plan_sequin(plan):
    seq = plan.sequin
    assert seq.role == "sequin" and seq.image == "sequin/sequin:v0.3.7"
    env = dict(seq.env)
    assert set(env) == {
        "PG_HOSTNAME",
        "PG_DATABASE",
        "PG_PORT",
        "PG_USERNAME",
        "PG_PASSWORD",
        "PG_POOL_SIZE",
        "SECRET_KEY_BASE",
        "VAULT_KEY",
    }
    assert env["PG_HOSTNAME"] in plan.postgres.network_aliases
    assert env["PG_DATABASE"] == plan.postgres.env["POSTGRES_DB"]
    assert env["PG_USERNAME"] == plan.postgres.env["POSTGRES_USER"]
    assert env["PG_PASSWORD"] == plan.postgres.env["POSTGRES_PASSWORD"]
    assert env["PG_PORT"] == "5432" and env["PG_POOL_SIZE"] == "20"
    assert all(isinstance(v, str) for v in env.values())
    assert len(base64.b64decode(env["VAULT_KEY"])) == 32  # AES-256 key, as Sequin's vault wants
    assert len(env["SECRET_KEY_BASE"]) >= 64  # Phoenix minimum
    assert seq.exposed_ports == (SEQUIN_HTTP_PORT,) == (7376,)
    assert seq.wait.kind == "http" and seq.wait.path == "/api/streams" and seq.wait.port == 7376
    assert plan.containers == (plan.postgres, plan.sequin)  # start order


def test_secrets_are_per_run_unless_given():
    a = build_docker_plan("s", "p").sequin.env
    b = build_docker_plan("s", "p").sequin.env
    assert a["SECRET_KEY_BASE"] != b["SECRET_KEY_BASE"] and a["VAULT_KEY"] != b["VAULT_KEY"]
    fixed = build_docker_plan("s", "p", secret_key_base="k" * 64, vault_key="v").sequin.env
    assert fixed["SECRET_KEY_BASE"] == "k" * 64 and fixed["VAULT_KEY"] == "v"


def test_plan_follows_config_images():
    config = resolve_config({"docker": "on", "image": "my/sequin:x", "postgres_image": "postgres:15"}, {}, {})
    plan = build_docker_plan(config.image, config.postgres_image, timeout=config.timeout)
    assert plan.sequin.image == "my/sequin:x" and plan.postgres.image == "postgres:15"


# ---------------------------------------------------------------- testcontainers objects

tc = pytest.importorskip("testcontainers", reason="the docker extra is not installed")


def test_testcontainers_objects_need_an_engine_unless_the_api_version_is_pinned(monkeypatch):
    """Verifies the premise of apply_spec's docker_client_kw: construction talks to the engine."""
    from testcontainers.core.container import DockerContainer

    monkeypatch.setenv("DOCKER_HOST", NO_ENGINE)
    with pytest.raises(Exception, match="(?i)connection|no such file|docker"):
        DockerContainer("postgres:16")
    assert DockerContainer("postgres:16", docker_client_kw=PINNED).image.endswith("postgres:16")


def test_apply_spec_without_engine(monkeypatch, plan):
    from testcontainers.core.network import Network

    monkeypatch.setenv("DOCKER_HOST", NO_ENGINE)
    network = Network(docker_client_kw=PINNED)  # not created on any engine
    pg = apply_spec(plan.postgres, network, docker_client_kw=PINNED)
    seq = apply_spec(plan.sequin, network, docker_client_kw=PINNED)

    assert pg.image.endswith("postgres:16") and seq.image.endswith("sequin/sequin:v0.3.7")
    assert pg.env == dict(plan.postgres.env) and seq.env == dict(plan.sequin.env)
    assert pg._command == ["postgres", "-c", "wal_level=logical"]
    assert seq._command is None
    assert seq.ports == {"7376": None}  # exposed on a random host port, no clash with a local 7376
    assert pg.ports == {"5432": None}
    assert pg._network is network and seq._network is network
    assert pg._network_aliases == ["sequin_postgres"] and seq._network_aliases == ["sequin"]

    strategies = docker_backend._wait_strategy_classes()
    if strategies is None:
        assert pg._wait_strategy is None  # older testcontainers: start_docker polls pg_isready itself
    else:
        assert isinstance(pg._wait_strategy, strategies.ExecWaitStrategy)
        assert pg._wait_strategy._command == list(plan.postgres.wait.command)
        assert pg._wait_strategy._startup_timeout == 42
    # Sequin's readiness is the application-level GET /api/streams, done by start_docker.
    assert seq._wait_strategy is None


def test_engine_status_is_quick_and_never_raises(monkeypatch):
    monkeypatch.setenv("DOCKER_HOST", NO_ENGINE)
    started = time.monotonic()
    status = docker_engine_status(timeout=2)
    assert time.monotonic() - started < 3.5
    assert status.reachable is False
    assert NO_ENGINE in status.detail


def test_start_docker_without_engine_is_one_clear_error(monkeypatch):
    config = resolve_config({"docker": "on"}, {}, {})
    with pytest.raises(DockerUnavailable) as info:
        start_docker(config, engine_probe=lambda: EngineStatus(False, "not reachable via X: boom", 0.1))
    message = str(info.value)
    assert "--sequin-docker (command line)" in message
    assert "no Docker engine answered" in message and "boom" in message
    assert "--sequin-docker=auto" in message and "--sequin-url" in message and "embedded" in message


def _block_docker_imports(monkeypatch):
    for name in list(sys.modules):
        if name.split(".")[0] in ("docker", "testcontainers"):
            monkeypatch.setitem(sys.modules, name, None)
    monkeypatch.setitem(sys.modules, "docker", None)
    monkeypatch.setitem(sys.modules, "testcontainers", None)


def test_missing_extra_message(monkeypatch):
    _block_docker_imports(monkeypatch)
    with pytest.raises(DockerUnavailable, match=r"pip install 'testcontainers>=4.8'"):
        import_testcontainers()
    config = resolve_config({"docker": "on"}, {}, {})
    with pytest.raises(DockerUnavailable, match=r"testcontainers>=4.8"):
        start_docker(config, engine_probe=lambda: pytest.fail("must not probe without the extra"))


def test_core_modules_import_without_docker_extra_and_without_pytest():
    code = textwrap.dedent(
        """
        import sys
        class Block:
            def find_spec(self, name, path=None, target=None):
                if name.split(".")[0] in ("docker", "testcontainers", "pytest", "_pytest"):
                    raise ImportError("blocked " + name)
        sys.meta_path.insert(0, Block())
        import pytest_sequin.config, pytest_sequin.backends
        import pytest_sequin.backends.coordination, pytest_sequin.backends.readiness
        cfg = pytest_sequin.config.resolve_config({}, {}, {})
        assert pytest_sequin.backends.select_backend(cfg).backend == "embedded"
        auto = pytest_sequin.config.resolve_config({"docker": "auto"}, {}, {})
        choice = pytest_sequin.backends.select_backend(auto)
        assert choice.backend == "embedded" and "testcontainers>=4.8" in choice.note, choice
        print("ok")
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=str(__import__("pathlib").Path(__file__).resolve().parents[2]),
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"


@pytest.mark.parametrize("version", ["4.0.0", "4.4.1", "4.7.2", "3.7.1"])
def test_a_testcontainers_without_the_apis_used_is_refused_with_the_hint(version):
    # Network.create() and labelled networks came in 4.7.1; a network given at create time (so
    # Sequin resolves sequin_postgres from its first boot) in 4.8.0.
    expected = rf"testcontainers {version} is installed.*testcontainers>=4\.8"
    with pytest.raises(DockerUnavailable, match=expected):
        docker_backend.check_testcontainers_version(version)


@pytest.mark.parametrize("version", ["4.8.0", "4.15.0", "5.0.0rc1", "4.10.0.post1"])
def test_a_recent_testcontainers_is_accepted(version):
    docker_backend.check_testcontainers_version(version)


def test_the_installed_testcontainers_meets_the_floor():
    from importlib.metadata import version

    docker_backend.check_testcontainers_version(version("testcontainers"))
    import_testcontainers()
