"""Application-level readiness probe against tiny local servers."""

from __future__ import annotations

import base64
import time

import pytest

from pytest_sequin.backends.base import SequinUnavailable
from pytest_sequin.backends.readiness import probe_once, wait_until_ready

from ._http import BlackHole, ScriptedServer, free_port

SLACK = 1.0  # seconds allowed past the timeout (one short attempt + scheduling noise)


def test_ready_server_answers_quickly():
    with ScriptedServer([(200, {"data": []})]) as server:
        elapsed = wait_until_ready(server.url, timeout=5)
        assert elapsed < 1.0
        assert server.requests[0][0] == "/api/streams"
        assert server.requests[0][1].get("Accept") == "application/json"


def test_nothing_listening_gives_one_clear_error_within_the_timeout():
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    started = time.monotonic()
    with pytest.raises(SequinUnavailable) as info:
        wait_until_ready(
            url, timeout=1.0, backend="url", origin="--sequin-url (command line)", hints=("start the server",)
        )
    elapsed = time.monotonic() - started
    assert 0.9 <= elapsed <= 1.0 + SLACK
    message = str(info.value)
    assert f"GET {url}/api/streams" in message
    assert "Connection refused" in message or "ConnectionRefusedError" in message
    assert "waited:" in message and "timeout 1s" in message and "--sequin-timeout" in message
    assert "--sequin-url (command line)" in message
    assert "start the server" in message
    assert "attempt(s)" in message


def test_black_hole_is_bounded_too():
    hole = BlackHole()
    try:
        started = time.monotonic()
        with pytest.raises(SequinUnavailable, match="timed out|TimeoutError"):
            wait_until_ready(hole.url, timeout=1.0)
        assert time.monotonic() - started <= 1.0 + SLACK
    finally:
        hole.close()


def test_retries_through_500_until_200():
    script = [(500, {"errors": {"detail": "Internal Server Error"}})] * 3 + [(200, {"data": []})]
    with ScriptedServer(script) as server:
        wait_until_ready(server.url, timeout=10)
        assert len(server.requests) == 4


def test_500_forever_reports_the_last_answer():
    server = ScriptedServer([(500, {"errors": {"detail": "Internal Server Error"}})])
    with server, pytest.raises(SequinUnavailable) as info:
        wait_until_ready(server.url, timeout=0.5)
    assert "HTTP 500" in str(info.value) and "Internal Server Error" in str(info.value)


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b"<html>hello</html>", "not JSON"),
        ({"streams": []}, 'no "data" key'),
        ([1, 2], 'no "data" key'),
    ],
)
def test_a_200_that_is_not_sequin_is_not_ready(body, expected):
    with ScriptedServer([(200, body)]) as server:
        result = probe_once(server.url)
    assert not result.ok and result.status == 200
    assert expected in result.detail


def test_timeout_zero_makes_exactly_one_attempt():
    with ScriptedServer([(503, {"errors": {}})]) as server:
        with pytest.raises(SequinUnavailable, match="1 attempt"):
            wait_until_ready(server.url, timeout=0)
        assert len(server.requests) == 1


def test_credentials_are_sent_as_basic_auth_and_masked_in_errors():
    with ScriptedServer([(401, {"summary": "nope"})]) as server:
        url = f"http://alice:s3cret@127.0.0.1:{server.port}"
        with pytest.raises(SequinUnavailable) as info:
            wait_until_ready(url, timeout=0)
        headers = server.requests[0][1]
    assert headers["Authorization"] == "Basic " + base64.b64encode(b"alice:s3cret").decode()
    assert "s3cret" not in str(info.value)
    assert "alice:***@127.0.0.1" in str(info.value)


def test_proxy_environment_does_not_hijack_loopback(monkeypatch):
    monkeypatch.setenv("http_proxy", "http://127.0.0.1:9")
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")
    monkeypatch.delenv("no_proxy", raising=False)
    monkeypatch.delenv("NO_PROXY", raising=False)
    with ScriptedServer() as server:
        assert probe_once(server.url).ok


def test_diagnostics_are_appended_and_cannot_hide_the_error():
    port = free_port()

    def logs():
        return "  container log: boom"

    def broken():
        raise RuntimeError("docker gone")

    with pytest.raises(SequinUnavailable, match="container log: boom"):
        wait_until_ready(f"http://127.0.0.1:{port}", timeout=0, diagnostics=logs)
    with pytest.raises(SequinUnavailable, match="could not collect diagnostics: RuntimeError: docker gone"):
        wait_until_ready(f"http://127.0.0.1:{port}", timeout=0, diagnostics=broken)


def test_base_url_with_path_prefix_and_trailing_slash():
    with ScriptedServer() as server:
        wait_until_ready(server.url + "/", timeout=2)
        assert server.requests[-1][0] == "/api/streams"
