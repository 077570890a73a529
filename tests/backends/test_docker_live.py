"""A real Sequin in Docker.  Runs only where an engine answers; skips with the reason elsewhere."""

from __future__ import annotations

import json
import urllib.request

import pytest

from pytest_sequin.backends.docker import docker_engine_status


def _skip_reason():
    try:
        import testcontainers  # noqa: F401
    except ImportError as exc:
        return f"the docker extra is not installed ({exc}); pip install 'testcontainers>=4.8'"
    status = docker_engine_status(timeout=3)
    if not status.reachable:
        return f"no Docker engine answered: {status.detail}"
    return None


@pytest.fixture(scope="module")
def engine():
    reason = _skip_reason()
    if reason:
        pytest.skip(reason)


@pytest.mark.usefixtures("engine")
def test_real_sequin_in_docker_starts_answers_and_is_removed(tmp_path):
    import docker

    from pytest_sequin.backends import start_server
    from pytest_sequin.config import resolve_config

    config = resolve_config({"docker": "on", "timeout": 180}, {}, {})
    server = start_server(config, coordination_dir=tmp_path)
    try:
        assert server.backend == "docker"
        assert server.header_lines()[0].startswith("sequin: docker sequin/sequin:v0.3.7 at http://")
        with urllib.request.urlopen(server.url + "/api/streams", timeout=10) as response:
            body = json.loads(response.read())
        assert "data" in body
        assert "default" in [stream["name"] for stream in body["data"]]  # first boot seeds it
        payload = json.loads((tmp_path / "sequin-docker.json").read_text())["payload"]
    finally:
        server.stop()
    client = docker.from_env()
    for container_id in payload["container_ids"]:
        with pytest.raises(docker.errors.NotFound):
            client.containers.get(container_id)
