"""--sequin-docker in real pytest sessions, against a fake Docker Engine API (no Docker needed).

The session under test runs in a subprocess whose ``DOCKER_HOST`` is the fake engine of
:mod:`tests.backends._fake_engine`; the "Sequin container" port is mapped to an embedded
server in this process, so the fixtures really work.  What is checked: the line naming the
backend, URL and image once the server runs, one server for all xdist workers, and that the
containers and the network are gone when the run ends.
"""

from __future__ import annotations

import pytest

from tests.backends._fake_engine import FakeEngine, FakeRyuk
from tests.plugin.conftest import stream_names

pytest.importorskip("testcontainers", reason="the docker extra is not installed")

TEST_FILE = """
def test_a(sequin_server, sequin_stream):
    assert sequin_server.backend == "docker"
    sequin_stream.send("k.1", "v")

def test_b(sequin_stream):
    sequin_stream.send("k.2", "v")
"""


@pytest.fixture
def fake_docker(monkeypatch, standalone_server):
    ryuk = FakeRyuk()
    engine = FakeEngine({7376: standalone_server.port, 8080: ryuk.port, 5432: 1}).start()
    monkeypatch.setenv("DOCKER_HOST", engine.docker_host)
    monkeypatch.setenv("TESTCONTAINERS_CONNECTION_MODE", "docker_host")  # this machine may be a container
    monkeypatch.delenv("TESTCONTAINERS_RYUK_DISABLED", raising=False)
    monkeypatch.delenv("DOCKER_AUTH_CONFIG", raising=False)
    engine.ryuk = ryuk
    yield engine
    engine.stop()
    ryuk.close()


def test_docker_backend_names_its_url_runs_the_tests_and_removes_everything(
    pytester, fake_docker, standalone_server
):
    pytester.makepyfile(TEST_FILE)
    result = pytester.runpytest_subprocess("--sequin-docker", "-p", "no:randomly")
    result.assert_outcomes(passed=2)
    url = f"http://127.0.0.1:{standalone_server.port}"
    result.stdout.fnmatch_lines(
        [
            "sequin: docker sequin/sequin:v0.3.7 (started when a selected test needs it)",
            f"sequin: docker sequin/sequin:v0.3.7 at {url}",
        ]
    )
    images = [body["Image"] for body in fake_docker.create_bodies]
    assert len(images) == 3 and "postgres:16" in images and "sequin/sequin:v0.3.7" in images
    assert any("ryuk" in image for image in images)  # the reaper stays on
    assert fake_docker.containers == {}  # all removed, the reaper too (at the subprocess's exit)
    assert fake_docker.networks == {} and len(fake_docker.removed_networks) == 1
    assert stream_names(standalone_server) == ["default"]  # the tests' streams were deleted again


def test_docker_backend_under_xdist_starts_one_server_for_all_workers(
    pytester, fake_docker, standalone_server
):
    pytest.importorskip("xdist")
    pytester.makepyfile(TEST_FILE)
    result = pytester.runpytest_subprocess("-n", "2", "--sequin-docker", "-p", "no:randomly")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(
        [f"sequin: docker sequin/sequin:v0.3.7 at http://127.0.0.1:{standalone_server.port}"]
    )
    sequin_creates = [body for body in fake_docker.create_bodies if "sequin/sequin" in body["Image"]]
    assert len(sequin_creates) == 1
    assert fake_docker.containers == {} and fake_docker.networks == {}


def test_docker_without_an_engine_is_one_immediate_error(pytester, monkeypatch):
    monkeypatch.setenv("DOCKER_HOST", "tcp://127.0.0.1:9")
    pytester.makepyfile(TEST_FILE)
    result = pytester.runpytest_subprocess("--sequin-docker")
    assert result.ret != 0
    result.stderr.fnmatch_lines(
        ["*--sequin-docker (command line) asks for a Sequin in Docker, but no Docker engine answered.*"]
    )
    assert (
        result.stdout.str().count("no Docker engine answered")
        + result.stderr.str().count("no Docker engine answered")
        == 1
    )
