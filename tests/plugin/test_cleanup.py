"""What is deleted, when, and what is kept: cleanup against hung servers and crashed workers,
the end-of-run sweep of the run's own streams, --sequin-keep."""

from __future__ import annotations

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
