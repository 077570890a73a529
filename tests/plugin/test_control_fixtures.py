"""``sequin_requests`` and ``sequin_faults`` in real pytest sessions: a retrying app under
injected failures and delays, per-test logs, no leaks between tests, skipping without the
control routes."""

from __future__ import annotations

import http.server
import json
import threading
from typing import Any, Iterator

import pytest

from pytest_sequin.client import SequinClient

# A tiny app with retry logic, as a user would write it; the inner tests exercise it.
APP = '''
import time

import requests


class Publisher:
    """Publishes one message, retrying on 5xx answers and on timeouts."""

    def __init__(self, base_url, retries=3, timeout=5.0):
        self.base_url, self.retries, self.timeout = base_url, retries, timeout
        self.session = requests.Session()
        self.session.trust_env = False
        self.seen = []

    def publish(self, stream, key, data):
        url = f"{self.base_url}/api/streams/{stream}/messages"
        for _ in range(self.retries + 1):
            try:
                answer = self.session.post(
                    url, json={"messages": [{"key": key, "data": data}]}, timeout=self.timeout
                )
            except requests.Timeout:
                self.seen.append("timeout")
                continue
            self.seen.append(answer.status_code)
            if answer.status_code < 500:
                answer.raise_for_status()
                return answer.json()["data"]["published"]
            time.sleep(0.01)
        raise RuntimeError(f"gave up after {self.seen}")
'''

CONFTEST = """
import pytest
from app import Publisher

@pytest.fixture
def app(sequin_url):
    return Publisher(sequin_url)
"""


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makepyfile(app=APP)
    pytester.makeconftest(CONFTEST)
    pytester.syspathinsert()
    return pytester


def test_an_injected_500_makes_the_app_retry_and_the_log_shows_every_call(project):
    project.makepyfile(
        """
        def test_retries(app, sequin_stream, sequin_requests, sequin_faults):
            path = f"/api/streams/{sequin_stream.name}/messages"
            fault = sequin_faults.fail(path, status=500, times=2, method="POST")
            assert fault["remaining"] == 2
            assert app.publish(sequin_stream.name, "orders.1", "hello") == 1
            assert app.seen == [500, 500, 200]
            calls = sequin_requests.matching(method="post", path="/api/streams/*/messages")
            assert [(c.method, c.path, c.status) for c in calls] == [("POST", path, 500)] * 2 + [
                ("POST", path, 200)
            ]
            assert [c.fault for c in calls] == [fault["id"], fault["id"], None]
            # The failed calls never reached the engine: one message, published once.
            assert [m["key"] for m in sequin_stream.messages()] == ["orders.1"]
            assert sequin_faults.active() == []

        def test_custom_status_and_body(app, sequin_stream, sequin_faults):
            sequin_faults.fail("/api/streams/*/messages", status=503, body={"summary": "busy"})
            import requests
            answer = requests.post(f"{app.base_url}/api/streams/{sequin_stream.name}/messages",
                                   json={"messages": []}, timeout=5)
            assert (answer.status_code, answer.json()) == (503, {"summary": "busy"})

        def test_the_app_gives_up_on_a_fault_that_never_runs_out(app, sequin_stream, sequin_faults):
            sequin_faults.fail(f"/api/streams/{sequin_stream.name}/messages", times=None)
            import pytest
            with pytest.raises(RuntimeError, match="gave up"):
                app.publish(sequin_stream.name, "a", "1")
            assert app.seen == [500] * 4
        """
    )
    result = project.runpytest("-q")
    result.assert_outcomes(passed=3)


def test_a_delay_makes_the_client_time_out_while_the_server_still_does_the_work(project):
    project.makepyfile(
        """
        import time

        def test_delay(app, sequin_stream, sequin_requests, sequin_faults):
            app.timeout = 0.2
            fault = sequin_faults.delay(f"/api/streams/{sequin_stream.name}/messages", seconds=0.5)
            assert app.publish(sequin_stream.name, "a", "1") == 1  # the retry, not delayed
            assert app.seen == ["timeout", 200]
            deadline = time.monotonic() + 5
            while len(sequin_requests.all()) < 2 and time.monotonic() < deadline:
                time.sleep(0.01)
            # The log is in completion order: the retry finished first, then the delayed
            # call, which the server handled normally after the client had given up.
            retry, delayed = sequin_requests.matching(path="/api/streams/*/messages")
            assert (retry.status, retry.fault) == (200, None) and retry.duration < 0.5
            assert (delayed.status, delayed.fault) == (200, fault["id"]) and delayed.duration >= 0.5
        """
    )
    result = project.runpytest("-q")
    result.assert_outcomes(passed=1)


def test_faults_and_logs_do_not_leak_into_the_next_test(project):
    project.makepyfile(
        """
        from pytest_sequin.control_client import ControlClient

        def test_a_leaves_an_unused_fault(sequin_stream, sequin_faults, sequin_requests):
            sequin_faults.fail("/api/**", times=5)
            sequin_faults.delay("/api/streams", seconds=3, times=None)

        def test_b_is_unaffected(app, sequin_server, sequin_stream, sequin_requests):
            assert ControlClient(sequin_server.url).faults() == []
            assert app.publish(sequin_stream.name, "a", "1") == 1
            assert app.seen == [200]
            assert [r.path for r in sequin_requests.all()] == [f"/api/streams/{sequin_stream.name}/messages"]
            sequin_requests.clear()
            assert sequin_requests.all() == []
        """
    )
    result = project.runpytest("-q")
    result.assert_outcomes(passed=2)
    result.stdout.no_fnmatch_line("*could not delete*")


def test_the_fixtures_work_on_a_standalone_embedded_server(project, standalone_server):
    project.makepyfile(
        """
        def test_shared(app, sequin_stream, sequin_requests, sequin_faults):
            sequin_faults.fail(f"/api/streams/{sequin_stream.name}/messages", status=502)
            app.publish(sequin_stream.name, "a", "1")
            posts = sequin_requests.matching(method="POST", path="/api/*/*/messages")
            assert [r.status for r in posts] == [502, 200]
        """
    )
    result = project.runpytest("-q", f"--sequin-url={standalone_server.url}")
    result.assert_outcomes(passed=1)
    assert [e.status for e in standalone_server.requests.entries() if e.path.endswith("/messages")] == [
        502,
        200,
    ]
    assert len(standalone_server.faults) == 0


class _NoControl(http.server.BaseHTTPRequestHandler):
    """Looks like a real Sequin to the plugin: /api/streams answers, /_pytest_sequin is 404."""

    def do_GET(self) -> None:  # noqa: N802
        if self.path.split("?")[0].rstrip("/") == "/api/streams":
            self._answer(200, {"data": []})
        else:
            self._answer(404, {"errors": {"detail": "Not Found"}})

    def _answer(self, status: int, body: Any) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def server_without_control() -> Iterator[str]:
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _NoControl)
    thread = threading.Thread(target=httpd.serve_forever, args=(0.01,), daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def test_without_the_control_routes_the_fixtures_skip_with_a_reason(pytester, server_without_control):
    pytester.makepyfile(
        """
        def test_log(sequin_requests):
            pass

        def test_faults(sequin_faults):
            pass
        """
    )
    result = pytester.runpytest("-q", "-rs", f"--sequin-url={server_without_control}")
    result.assert_outcomes(skipped=2)
    result.stdout.fnmatch_lines(["*sequin_requests needs the embedded server's request log*"])
    result.stdout.fnmatch_lines(["*sequin_faults needs*has none*"])


def test_the_failure_report_is_not_hidden_or_slowed_by_the_tests_own_faults(pytester):
    """The report's requests went through the faults the test injected: a fault on /api/**
    turned the report into "500 Unknown error", and a delay made it wait per request."""
    pytester.makepyfile(
        """
        def test_fails(sequin_stream, sequin_consumer, sequin_faults, sequin_requests):
            sequin_stream.send("orders.1", "first")
            sequin_faults.fail("/api/**", times=None)
            sequin_faults.delay("/api/**", 20, times=None)
            assert False
        """
    )
    result = pytester.runpytest_subprocess("-q", "--sequin-timeout=30")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        ["*- sequin state -*", "stream pytest_* (1 messages, 1 consumers)", "*orders.1*"]
    )
    assert "Unknown error" not in result.stdout.str()
    assert result.duration < 20  # a delayed report would take 20 s per request


def test_the_report_requests_stay_out_of_the_request_log():
    from pytest_sequin.server import EmbeddedSequinServer
    from pytest_sequin.server.control import INTERNAL_HEADER

    with EmbeddedSequinServer() as server:
        server.faults.fail("/api/streams", status=503, times=None)
        internal = SequinClient(server.url, headers={INTERNAL_HEADER: "failure-report"})
        streams, error = internal.list_streams()
        assert error is None and [s["name"] for s in streams] == ["default"]
        _, error = SequinClient(server.url).list_streams()
        assert error is not None and error["status"] == 503
        assert [(e.method, e.path, e.status) for e in server.requests.entries()] == [
            ("GET", "/api/streams", 503)
        ]


def test_clock_advance_refuses_a_string(pytester):
    """sequin_clock.advance("31") was accepted."""
    pytester.makepyfile(
        """
        import datetime

        import pytest

        def test_x(sequin_clock):
            with pytest.raises(TypeError, match="number of seconds"):
                sequin_clock.advance("31")
            with pytest.raises(TypeError):
                sequin_clock.advance(True)
            for bad in (-5, float("inf"), float("nan")):
                with pytest.raises(ValueError, match="finite number of seconds >= 0"):
                    sequin_clock.advance(bad)
            assert sequin_clock.offset == 0
            sequin_clock.advance(1.5)
            assert sequin_clock.offset >= 1.5
            sequin_clock.advance(datetime.timedelta(minutes=1))
            assert sequin_clock.offset >= 61.5
        """
    )
    pytester.runpytest_subprocess().assert_outcomes(passed=1)


@pytest.mark.parametrize("shared", [False, True])
def test_moving_the_clock_of_a_shared_server_warns_once(pytester, standalone_server, shared):
    """Every process on one server shares its clock: one run's advance(301) expires another
    run's visibility timeouts and purges its kept acked rows."""
    pytester.makepyfile(
        """
        def test_a(sequin_clock):
            sequin_clock.advance(1)

        def test_b(sequin_clock):
            sequin_clock.advance(1)
        """
    )
    args = [f"--sequin-url={standalone_server.url}"] if shared else []
    result = pytester.runpytest("-W", "always", *args)
    result.assert_outcomes(passed=2)
    warned = result.stdout.str().count("SequinSharedClockWarning: sequin_clock moves the clock of a server")
    assert warned == (1 if shared else 0)
    if shared:  # located at the test, and filterable by its documented name
        result.stdout.fnmatch_lines(["*test_moving_the_clock_of_a_shared_server_warns_once.py:1: Sequin*"])
        strict = pytester.runpytest("-W", "error::pytest_sequin.SequinSharedClockWarning", *args)
        strict.assert_outcomes(passed=1, errors=1)
