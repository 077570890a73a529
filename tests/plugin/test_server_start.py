"""When the server is started or checked, and what the header says about it: no server for
--collect-only, a URL checked only when a selected test needs it (or when a test asks for a
fixture at run time), --sequin-docker=auto deciding once, the request timeout."""

from __future__ import annotations

import time

import pytest

from tests.plugin.conftest import stream_names


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


def test_under_xdist_a_dead_url_found_at_run_time_fails_those_tests_with_the_message(pytester):
    """A worker cannot end the run: pytest.exit there was an xdist INTERNALERROR."""
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.parametrize("i", range(4))
        def test_dynamic(request, i):
            request.getfixturevalue("sequin_stream")

        def test_plain():
            pass
        """
    )
    result = pytester.runpytest_subprocess(
        "--sequin-url=http://127.0.0.1:9", "--sequin-timeout=0", "-m", "not sequin", "-n", "2"
    )
    result.assert_outcomes(failed=4, passed=1)
    output = result.stdout.str()
    assert "INTERNALERROR" not in output and "Traceback" not in output
    assert output.count("the url Sequin server at http://127.0.0.1:9 is not ready") >= 4


#: A Docker engine address where nothing answers (connection refused at once), so
#: --sequin-docker=auto falls back even on a machine that has an engine.
NO_ENGINE = "tcp://127.0.0.1:9"


def test_a_losing_backend_option_is_noted_in_the_header_when_the_url_wins(
    pytester, standalone_server, monkeypatch
):
    """The note was printed only when the embedded server ran at header time."""
    pytester.makeini(f"[pytest]\nsequin_url = {standalone_server.url}\n")
    pytester.makepyfile("def test_x(sequin_server):\n    assert sequin_server.backend == 'url'\n")
    monkeypatch.setenv("PYTEST_SEQUIN_DOCKER", "yes")
    result = pytester.runpytest_subprocess()
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(
        [
            f"sequin: url {standalone_server.url} (checked when a selected test needs it)",
            "sequin: note: PYTEST_SEQUIN_DOCKER (environment) ignored*sequin_url (ini file)*",
        ]
    )


def test_docker_auto_without_an_engine_names_the_embedded_server_in_the_header(pytester, monkeypatch):
    """The header said "docker sequin/sequin:v0.3.7" while the test ran on the embedded server."""
    monkeypatch.setenv("DOCKER_HOST", NO_ENGINE)
    pytester.makepyfile("def test_x(sequin_server):\n    assert sequin_server.backend == 'embedded'\n")
    result = pytester.runpytest_subprocess("--sequin-docker=auto")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(
        [
            "sequin: embedded server at http://127.0.0.1:*",
            "sequin: note: --sequin-docker (command line): *using the embedded server*",
        ]
    )
    assert "sequin: docker" not in result.stdout.str()


def test_docker_auto_fallback_under_xdist_gives_each_worker_its_own_server(pytester, monkeypatch):
    """The fallback was one embedded server in the controller, shared by the workers (and
    with it their faults and request logs), unlike the documented per-worker servers."""
    pytest.importorskip("xdist")
    monkeypatch.setenv("DOCKER_HOST", NO_ENGINE)
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.parametrize("i", range(4))
        def test_x(i, sequin_server, worker_id, tmp_path_factory):
            assert sequin_server.backend == "embedded"
            out = tmp_path_factory.getbasetemp().parent / f"url_{worker_id}"
            out.write_text(sequin_server.url)
        """
    )
    result = pytester.runpytest_subprocess("-n", "2", "--dist", "each", "--sequin-docker=auto")
    result.assert_outcomes(passed=8)
    result.stdout.fnmatch_lines(
        [
            "sequin: embedded server in each xdist worker",
            "sequin: note: --sequin-docker (command line): *using the embedded server*",
        ]
    )
    urls = {p.read_text() for p in pytester.path.rglob("url_gw*")}
    assert len(urls) == 2, urls


def test_under_xdist_deselecting_the_sequin_marker_never_waits_for_the_url_server(pytester):
    """The controller checked the URL at session start even when -m ruled out every test
    that needs it, so a down dev server failed a run of unrelated tests."""
    pytest.importorskip("xdist")
    pytester.makepyfile(
        "def test_plain():\n    pass\n\ndef test_needs(sequin_stream):\n    pass\n"
    )
    result = pytester.runpytest_subprocess(
        "-n", "2", "-m", "not sequin", "--sequin-url=http://127.0.0.1:9", "--sequin-timeout=30"
    )
    result.assert_outcomes(passed=1)  # (xdist does not count deselected tests)
    assert result.ret == 0
    # Selecting the test that needs the server still checks it once, at session start.
    result = pytester.runpytest_subprocess("-n", "2", "--sequin-url=http://127.0.0.1:9", "--sequin-timeout=1")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "http://127.0.0.1:9" in result.stderr.str()


@pytest.mark.parametrize(("option", "expected"), [("--sequin-timeout=0", 30), ("--sequin-timeout=7", 7)])
def test_the_request_timeout_follows_sequin_timeout_except_zero(pytester, option, expected):
    """0 means one readiness attempt; it cannot bound a request (it was silently 30)."""
    pytester.makepyfile(f"def test_t(sequin_client):\n    assert sequin_client.timeout == {expected}\n")
    pytester.runpytest(option).assert_outcomes(passed=1)
