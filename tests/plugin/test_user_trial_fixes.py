"""Regressions from a new user's trial: each test names what went wrong."""

from __future__ import annotations

import os
import time

import pytest

from pytest_sequin.client import SequinClient
from tests.plugin.conftest import stream_names


def test_a_hung_server_costs_one_cleanup_timeout_per_session_not_one_per_test(pytester, standalone_server):
    """Deletes hang: the first teardown times out (short cleanup timeout), the breaker stops
    the rest, and nothing is waited on again."""
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.parametrize("i", range(4))
        def test_x(i, sequin_stream, sequin_server):
            if i == 0:
                from pytest_sequin.control_client import ControlClient
                control = ControlClient(sequin_server.url)
                control.delay("/api/streams/**", seconds=30, times=None, method="DELETE")
        """
    )
    started = time.monotonic()
    result = pytester.runpytest_subprocess(
        f"--sequin-url={standalone_server.url}", "--sequin-timeout=2", "-W", "default"
    )
    elapsed = time.monotonic() - started
    result.assert_outcomes(passed=4)
    out = result.stdout.str()
    assert out.count("SequinCleanupWarning") == 1
    assert "not attempted: the server stopped answering earlier" in out
    assert elapsed < 60  # a hang guard; the breaker itself shows in "not attempted"
    standalone_server.faults.clear()


def test_streams_of_a_crashed_worker_are_deleted_at_the_end_of_the_run(pytester, standalone_server):
    pytester.makepyfile(
        """
        import os
        import pytest

        @pytest.mark.parametrize("i", range(4))
        def test_x(i, sequin_stream, sequin_session_stream):
            pass

        def test_crash(sequin_stream, sequin_client, sequin_names):
            sequin_client.new_stream(sequin_names.stream_name("recreated"))  # the run's prefix, untracked
            os._exit(1)
        """
    )
    result = pytester.runpytest_subprocess("-n", "2", f"--sequin-url={standalone_server.url}")
    assert result.ret != 0  # the crashed worker is reported
    assert stream_names(standalone_server) == ["default"]


def test_overriding_sequin_url_moves_every_fixture_to_that_server(pytester, standalone_server):
    pytester.makeconftest(
        f"""
        import pytest

        @pytest.fixture(scope="session")
        def sequin_url():
            return "{standalone_server.url}"
        """
    )
    pytester.makepyfile(
        """
        def test_all_on_the_other_server(sequin_stream, sequin_consumer, sequin_clock, sequin_requests):
            sequin_stream.send("k", "v")
            sequin_consumer.receive()
            sequin_clock.advance(1)
            assert [r.path for r in sequin_requests.all()][-1].endswith("/receive")
        """
    )
    result = pytester.runpytest("-q")
    result.assert_outcomes(passed=1)
    assert standalone_server.clock.offset_seconds >= 1
    assert any("/receive" in r.path for r in standalone_server.requests.entries())


def test_collect_only_and_fixtures_need_no_server(pytester):
    pytester.makepyfile("def test_a(sequin_stream): pass")
    for args in (["--co"], ["--fixtures"]):
        started = time.monotonic()
        result = pytester.runpytest_subprocess(
            *args, "--sequin-url=http://127.0.0.1:9", "--sequin-timeout=300"
        )
        assert result.ret == 0, result.stderr.str()
        assert time.monotonic() - started < 60  # a hang guard: the 300 s readiness wait never starts


def test_a_dead_url_is_not_checked_when_no_selected_test_needs_it(pytester):
    pytester.makepyfile("def test_a(sequin_stream): pass\ndef test_b(): pass")
    result = pytester.runpytest_subprocess(
        "-m", "not sequin", "--sequin-url=http://127.0.0.1:9", "--sequin-timeout=30"
    )
    result.assert_outcomes(passed=1, deselected=1)


DYNAMIC_FIXTURE_TESTS = """
import pytest

@pytest.fixture
def stream_if_wanted(request):
    return request.getfixturevalue("sequin_stream")

def test_dynamic(request):
    stream = request.getfixturevalue("sequin_stream")
    assert stream.send("k", "v") == 1

def test_through_a_conftest_style_fixture(stream_if_wanted, sequin_server):
    assert sequin_server.backend == "url"
    assert stream_if_wanted.send("k", "v") == 1
"""


@pytest.mark.parametrize("args", [[], ["-m", "not sequin"], ["-n", "2"]])
def test_fixtures_requested_at_run_time_check_the_url_server_then(pytester, standalone_server, args):
    """request.getfixturevalue("sequin_stream") with --sequin-url: collection saw no sequin
    fixture, so the server was never checked, and the fixture raised a RuntimeError."""
    pytester.makepyfile(DYNAMIC_FIXTURE_TESTS)
    result = pytester.runpytest_subprocess(f"--sequin-url={standalone_server.url}", *args)
    if args == ["-m", "not sequin"]:
        result.assert_outcomes(passed=1, deselected=1)
    else:
        result.assert_outcomes(passed=2)
    assert [n for n in stream_names(standalone_server) if n != "default"] == []


def test_a_dead_url_found_at_run_time_stops_the_session_with_one_message(pytester):
    pytester.makepyfile(
        """
        def test_first(request):
            request.getfixturevalue("sequin_stream")

        def test_second(request):
            request.getfixturevalue("sequin_stream")
        """
    )
    result = pytester.runpytest_subprocess("--sequin-url=http://127.0.0.1:9", "--sequin-timeout=0")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    output = result.stdout.str() + result.stderr.str()
    assert output.count("http://127.0.0.1:9") >= 1 and "Traceback" not in output
    assert "test_second" not in result.stdout.str().split("short test summary")[-1]


def test_marker_typos_fail_clearly(pytester):
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.sequin(ack_wiat_ms=5)
        def test_typo(sequin_consumer):
            pass

        @pytest.mark.sequin("orders.*")  # meant as the filter; fails even without a consumer
        def test_positional(sequin_stream):
            pass

        @pytest.mark.sequin(ack_wait_ms=5)
        def test_right(sequin_consumer):
            assert sequin_consumer.info()["ack_wait_ms"] == 5

        def test_factory_typo(sequin_stream, sequin_consumer_factory):
            with pytest.raises(TypeError, match="unknown consumer option.s. ack_wiat_ms; the options are"):
                sequin_consumer_factory(sequin_stream, ">", ack_wiat_ms=3)
            assert sequin_consumer_factory.created == []
        """
    )
    result = pytester.runpytest("-q")
    result.assert_outcomes(errors=2, passed=2)
    result.stdout.fnmatch_lines(
        [
            "*@pytest.mark.sequin: unknown option(s) ack_wiat_ms; it takes keyword arguments*",
            "*@pytest.mark.sequin: positional arguments ('orders.*',); it takes keyword arguments*",
        ],
        consecutive=False,
    )


def test_keep_lists_only_streams_that_still_exist(pytester, standalone_server):
    pytester.makepyfile(
        """
        def test_deletes_then_fails(sequin_stream_factory):
            gone, kept = sequin_stream_factory(), sequin_stream_factory()
            gone.delete()
            assert False
        """
    )
    result = pytester.runpytest_subprocess(f"--sequin-url={standalone_server.url}", "--sequin-keep")
    result.assert_outcomes(failed=1)
    [kept] = [n for n in stream_names(standalone_server) if n != "default"]
    section = result.stdout.str().split("streams kept for debugging")[1]
    assert kept in section and section.count("pytest_") == 1


def test_the_app_reaches_a_loopback_test_server_despite_a_proxy_in_the_environment(pytester, monkeypatch):
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")
    monkeypatch.setenv("http_proxy", "http://127.0.0.1:9")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    pytester.makepyfile(
        """
        from sequin.client import Client

        def test_app(sequin_stream):
            res, err = Client().send_message(sequin_stream.name, "k", "v")
            assert err is None, err
        """
    )
    result = pytester.runpytest("-q")
    result.assert_outcomes(passed=1)
    assert "NO_PROXY" not in os.environ and "no_proxy" not in os.environ  # restored


def test_client_created_streams_with_the_run_prefix_are_swept_at_the_end(pytester, standalone_server):
    client = SequinClient(standalone_server.url)
    pytester.makepyfile(
        """
        def test_recreate_by_name(sequin_stream, sequin_client):
            name = sequin_stream.name
            sequin_stream.delete()
            sequin_client.create_stream(name)
        """
    )
    result = pytester.runpytest_subprocess(f"--sequin-url={standalone_server.url}")
    result.assert_outcomes(passed=1)
    assert [s["name"] for s in client.list_streams()[0]] == ["default"]


@pytest.mark.parametrize(("option", "expected"), [("--sequin-timeout=0", 30), ("--sequin-timeout=7", 7)])
def test_the_request_timeout_follows_sequin_timeout_except_zero(pytester, option, expected):
    """0 means one readiness attempt; it cannot bound a request (it was silently 30)."""
    pytester.makepyfile(f"def test_t(sequin_client):\n    assert sequin_client.timeout == {expected}\n")
    pytester.runpytest(option).assert_outcomes(passed=1)
