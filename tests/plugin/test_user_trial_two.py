"""Regressions from a second new user's trial: each test names what went wrong."""

from __future__ import annotations

import pytest

from tests.plugin.conftest import stream_names

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


@pytest.mark.parametrize("scope", ["module", "session"])
def test_keep_keeps_a_wider_scoped_stream_that_a_failed_test_used(pytester, standalone_server, scope):
    """--sequin-keep kept only function-scoped streams: a failed test on the module or
    session stream lost it at the end of its scope."""
    pytester.makepyfile(
        f"""
        def test_passes(sequin_{scope}_stream):
            sequin_{scope}_stream.send("ok", "v")

        def test_fails(sequin_{scope}_stream):
            sequin_{scope}_stream.send("bad", "v")
            assert False

        def test_passes_after(sequin_{scope}_stream):
            pass
        """
    )
    result = pytester.runpytest_subprocess(f"--sequin-url={standalone_server.url}", "--sequin-keep")
    result.assert_outcomes(passed=2, failed=1)
    kept = [n for n in stream_names(standalone_server) if n != "default"]
    assert len(kept) == 1, kept
    result.stdout.fnmatch_lines(["*streams kept for debugging*", f"{kept[0]}  at http://127.0.0.1:*"])


def test_a_scoped_stream_whose_tests_passed_is_deleted_even_with_keep(pytester, standalone_server):
    pytester.makepyfile(
        """
        def test_a(sequin_module_stream):
            pass

        def test_fails_elsewhere(sequin_stream):
            assert False
        """
    )
    result = pytester.runpytest_subprocess(f"--sequin-url={standalone_server.url}", "--sequin-keep")
    result.assert_outcomes(passed=1, failed=1)
    kept = [n for n in stream_names(standalone_server) if n != "default"]
    assert len(kept) == 1 and kept[0].endswith("_test_fails"), kept  # the slug is cut to fit


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
    from pytest_sequin.client import SequinClient
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
        """
    )
    pytester.runpytest_subprocess().assert_outcomes(passed=1)
