"""Whole sessions: xdist, concurrent runs, Ctrl-C, unreachable servers, sweep, keep, reports."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

from pytest_sequin.client import SequinClient
from tests.plugin.conftest import stream_names

MANY_TESTS = """
import pytest

@pytest.mark.parametrize("i", range({n}))
def test_many(i, sequin_stream, sequin_consumer, sequin_url):
    sequin_stream.send(f"k.{{i}}", "data")
    [item] = sequin_consumer.receive()
    assert item.key == f"k.{{i}}"
    # a stream is only ever seen by its own test
    assert [m["key"] for m in sequin_stream.messages()] == [f"k.{{i}}"]
"""


def test_xdist_workers_each_get_isolated_streams_and_per_worker_servers(pytester):
    pytester.makepyfile(
        MANY_TESTS.format(n=20)
        + """
def test_servers_differ_per_worker(sequin_server, worker_id):
    assert sequin_server.backend == "embedded"
"""
    )
    result = pytester.runpytest_subprocess("-n", "2", "-q")
    result.assert_outcomes(passed=21)


def test_xdist_with_a_shared_server_leaves_nothing_behind(pytester, standalone_server):
    pytester.makepyfile(MANY_TESTS.format(n=40))
    result = pytester.runpytest_subprocess("-n", "2", "-q", f"--sequin-url={standalone_server.url}")
    result.assert_outcomes(passed=40)
    assert stream_names(standalone_server) == ["default"]


@pytest.mark.parametrize("dist", ["load", "loadscope", "loadgroup"])
def test_xdist_distribution_modes(pytester, standalone_server, dist):
    pytester.makepyfile(MANY_TESTS.format(n=6))
    result = pytester.runpytest_subprocess(
        "-n", "2", f"--dist={dist}", "-q", f"--sequin-url={standalone_server.url}"
    )
    result.assert_outcomes(passed=6)
    assert stream_names(standalone_server) == ["default"]


def test_xdist_disabled_still_works(pytester):
    pytester.makepyfile(MANY_TESTS.format(n=2))
    result = pytester.runpytest_subprocess("-p", "no:xdist", "-q")
    result.assert_outcomes(passed=2)


def test_all_workers_of_a_run_share_one_run_token(pytester, standalone_server):
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.parametrize("i", range(8))
        def test_names(i, sequin_stream, worker_id, sequin_names):
            with open(f"names_{worker_id}.txt", "a") as out:
                out.write(f"{sequin_stream.name} {sequin_names.run_token}\\n")
        """
    )
    result = pytester.runpytest_subprocess("-n", "2", "-v", f"--sequin-url={standalone_server.url}")
    result.assert_outcomes(passed=8)
    files = sorted(pytester.path.glob("names_gw*.txt"))
    assert len(files) == 2  # both workers ran tests
    lines = [line.split() for f in files for line in f.read_text().splitlines()]
    tokens = {token for _, token in lines}
    assert all(name.startswith(f"pytest_{token}_") for name, token in lines)
    assert len({name for name, _ in lines}) == 8
    header = [line for line in result.stdout.lines if line.startswith("sequin: run token")]
    assert len(tokens) == 1 and header and next(iter(tokens)) in header[0]


def test_two_concurrent_runs_of_200_tests_against_one_server_do_not_touch_each_other(
    pytester, standalone_server
):
    """Issue 6's bar: two 200-test runs with -n 2 at once against one server, no cross-talk,
    nothing of theirs left (checked by listing the server)."""
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.parametrize("i", range(200))
        def test_run(i, sequin_stream, sequin_consumer):
            sequin_stream.send("k", str(i))
            [item] = sequin_consumer.receive()
            assert item.data == str(i)
            # streams of the other run exist meanwhile, but ours hold only our message
            assert sequin_stream.info()["stats"]["message_count"] == 1
        """
    )
    command = [
        sys.executable,
        "-m",
        "pytest",
        "-q",
        "-p",
        "no:cacheprovider",
        f"--sequin-url={standalone_server.url}",
    ]
    runs = [
        subprocess.Popen(
            [*command, "-n", "2"], cwd=pytester.path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
        )
        for _ in range(2)
    ]
    outputs = [run.communicate(timeout=300)[0].decode() for run in runs]
    for run, output in zip(runs, outputs):
        assert run.returncode == 0, output
        assert "200 passed" in output
    assert stream_names(standalone_server) == ["default"]
    assert standalone_server.engine.consumers == {}


def test_ctrl_c_during_a_test_still_cleans_up(pytester, standalone_server):
    pytester.makepyfile(
        """
        def test_first(sequin_stream, sequin_consumer):
            sequin_stream.send("a", "1")

        def test_interrupted(sequin_stream_factory, sequin_consumer_factory):
            for _ in range(3):
                sequin_consumer_factory(sequin_stream_factory())
            raise KeyboardInterrupt

        def test_never_runs(sequin_stream):
            pass
        """
    )
    result = pytester.runpytest_subprocess("-q", f"--sequin-url={standalone_server.url}")
    assert result.ret == pytest.ExitCode.INTERRUPTED
    result.stdout.fnmatch_lines(["*KeyboardInterrupt*"])
    assert stream_names(standalone_server) == ["default"]
    assert standalone_server.engine.consumers == {}


def test_unreachable_url_is_one_clear_error_at_session_start(pytester):
    pytester.makepyfile(
        """
        def test_a(sequin_stream): pass
        def test_b(sequin_stream): pass
        """
    )
    started = time.monotonic()
    result = pytester.runpytest_subprocess("--sequin-url=http://127.0.0.1:9", "--sequin-timeout=1")
    elapsed = time.monotonic() - started
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    text = result.stderr.str()
    assert "GET http://127.0.0.1:9/api/streams" in text and "Connection refused" in text
    assert "--sequin-url" in text  # says where the URL came from / how to fix
    assert text.count("http://127.0.0.1:9") < 6  # one message, not one per test
    assert "test_a" not in result.stdout.str()
    assert elapsed < 60  # a hang guard only: the timeout is 1 s


def test_unreachable_url_under_xdist_is_also_one_error(pytester):
    pytester.makepyfile("def test_a(sequin_stream): pass")
    result = pytester.runpytest_subprocess(
        "-n", "2", "--sequin-url=http://127.0.0.1:9", "--sequin-timeout=0.5"
    )
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "http://127.0.0.1:9" in result.stderr.str()


def test_server_dying_mid_session_is_reported_once_and_does_not_fail_passing_tests(pytester):
    pytester.makepyfile(
        """
        import pytest

        def test_kill_server(sequin_server, sequin_stream):
            sequin_server.handle.stop()

        @pytest.mark.parametrize("i", range(3))
        def test_after(i):
            pass
        """
    )
    result = pytester.runpytest_subprocess("-q", "-W", "default")
    result.assert_outcomes(passed=4)
    out = result.stdout.str()
    assert out.count("SequinCleanupWarning") == 1
    assert "could not delete stream pytest_" in out


def test_orphan_sweep_deletes_old_prefixed_streams_only(pytester, standalone_server):
    client = SequinClient(standalone_server.url)
    old = ("pytest_old01_m_1_test_x", "pytest_old02_m_7", "mine_keep_me", "pytest_settings")
    old += ("pytest_young_m_1",)
    for name in old:
        client.new_stream(name)
    standalone_server.advance_clock(7200)  # these are now two hours old
    client.new_stream("pytest_young_m_2")  # created "now": younger than the age
    pytester.makepyfile(
        """
        def test_current_run_stream_survives(sequin_stream, sequin_client):
            names = [s["name"] for s in sequin_client.list_streams()[0]]
            assert sequin_stream.name in names
        """
    )
    result = pytester.runpytest_subprocess(
        f"--sequin-url={standalone_server.url}", "--sequin-sweep-orphans=1h"
    )
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(
        [
            "*pytest-sequin: orphan sweep*",
            "deleted 3 streams of other runs older than 3600 s",
            "deleted pytest_*",
        ]
    )
    assert "deleted pytest_old01_m_1_test_x" in result.stdout.str()
    # "pytest_settings" has the prefix but not the shape of the plugin's names: a person made it.
    assert sorted(stream_names(standalone_server)) == [
        "default", "mine_keep_me", "pytest_settings", "pytest_young_m_2"
    ]


def test_the_sweep_uses_the_credentials_of_the_url(pytester, standalone_server):
    """The sweep listed streams with a bare urllib request: a URL with credentials failed
    there, and the sweep then did nothing without a word."""
    SequinClient(standalone_server.url).new_stream("pytest_old03_m_1")
    standalone_server.advance_clock(7200)
    pytester.makepyfile("def test_a(sequin_stream): pass")
    url = standalone_server.url.replace("http://", "http://ci:s3cret@")
    result = pytester.runpytest_subprocess(f"--sequin-url={url}", "--sequin-sweep-orphans=1h")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(
        ["deleted 1 streams of other runs older than 3600 s", "deleted pytest_old03_m_1"]
    )
    assert "s3cret" not in result.stdout.str()


def test_sweep_runs_once_per_run_under_xdist(pytester, standalone_server):
    client = SequinClient(standalone_server.url)
    client.new_stream("pytest_old01_m_1")
    standalone_server.advance_clock(7200)
    pytester.makepyfile("def test_a(sequin_stream): pass\ndef test_b(sequin_stream): pass")
    result = pytester.runpytest_subprocess(
        "-n", "2", f"--sequin-url={standalone_server.url}", "--sequin-sweep-orphans"
    )
    result.assert_outcomes(passed=2)
    assert result.stdout.str().count("deleted pytest_old01_m_1") == 1


def test_keep_keeps_streams_of_failed_tests_and_prints_them(pytester, standalone_server):
    pytester.makepyfile(
        """
        def test_fails(sequin_stream, sequin_consumer):
            sequin_stream.send("k", "v")
            assert False

        def test_passes(sequin_stream):
            pass
        """
    )
    result = pytester.runpytest_subprocess(f"--sequin-url={standalone_server.url}", "--sequin-keep")
    result.assert_outcomes(passed=1, failed=1)
    kept = [n for n in stream_names(standalone_server) if n != "default"]
    assert len(kept) == 1 and "test_fails" in kept[0]
    result.stdout.fnmatch_lines(["*streams kept for debugging*", f"{kept[0]}  at http://127.0.0.1:*"])
    assert "embedded server stopped with the run" not in result.stdout.str()


@pytest.mark.parametrize("workers", [[], ["-n", "2"]])
def test_keep_on_the_embedded_server_says_the_streams_are_gone_with_it(pytester, workers):
    pytester.makepyfile("def test_fails(sequin_stream):\n    assert False\n")
    result = pytester.runpytest_subprocess("--sequin-keep", *workers)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "*streams kept for debugging*",
            "pytest_*_test_fails  at *",
            "the embedded server stopped with the run, and these streams with it*--sequin-url)",
        ]
    )


def test_failure_report_shows_stream_and_consumer_state(pytester):
    pytester.makepyfile(
        """
        def test_fails(sequin_stream, sequin_consumer):
            sequin_stream.send_many({"orders.1": "first", "orders.2": "second"})
            item = sequin_consumer.receive_one()
            sequin_consumer.ack(item)
            sequin_consumer.receive_one()
            assert False, "look at the state"
        """
    )
    result = pytester.runpytest_subprocess("-q")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "*- sequin state -*",
            "stream pytest_* (2 messages, 1 consumers)",
            "  seq*key*data",
            "*orders.2*'second'",
            "*orders.1*'first'",
            "  consumer c* filter '>' ack_wait_ms=30000 max_ack_pending=10000: 0 deliverable now, "
            "1 in flight (next visible again at *Z)",
            "*per message and consumer*",
            "*orders.2*acked (1)",
            "*orders.1*pending (1)",
        ]
    )


def test_failure_report_shows_where_a_push_consumer_delivers_and_how_it_went(pytester):
    pytester.makepyfile(
        """
        import socket, time

        def test_webhook(sequin_stream, sequin_consumer_factory):
            with socket.socket() as sock:  # a port with nothing listening: connection refused
                sock.bind(("127.0.0.1", 0))
                url = f"http://127.0.0.1:{sock.getsockname()[1]}/hook"
            hook = sequin_consumer_factory(sequin_stream, kind="push", http_endpoint={"base_url": url})
            sequin_stream.send("orders.1", "x")
            deadline = time.monotonic() + 10
            while hook.info()["kind"] == "push" and time.monotonic() < deadline:
                info = sequin_stream.consumer_info("orders.1")["consumer_info"][0]
                if (info["deliver_count"] or 0) >= 2:
                    break
                time.sleep(0.01)
            assert False, "the webhook never got it"
        """
    )
    result = pytester.runpytest_subprocess("-q")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "*- sequin state -*",
            "  consumer c* filter '>' *",
            "    push to http://127.0.0.1:*/hook: 0 delivered, * failed (* in a row); "
            "last: ConnectionRefusedError* for key 'orders.1'",
        ]
    )


def test_sequin_clock_makes_redelivery_instant(pytester):
    pytester.makepyfile(
        """
        import time

        def test_redelivery(sequin_stream, sequin_consumer, sequin_clock):
            started = time.monotonic()
            sequin_stream.send("k", "v")
            first = sequin_consumer.receive_one()
            assert sequin_consumer.receive_one() is None
            sequin_clock.advance(31)
            again = sequin_consumer.receive_one()
            assert again.ack_id == first.ack_id
            assert time.monotonic() - started < 10  # no 30 s visibility wait
        """
    )
    result = pytester.runpytest("-q")
    result.assert_outcomes(passed=1)


@pytest.fixture
def server_without_control():
    """Answers the readiness call like a real Sequin and 404 on the embedded server's private
    control routes, as a real Sequin does."""
    import json
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            found = self.path.startswith("/api/streams")
            body = json.dumps({"data": []} if found else {"errors": {"detail": "Not Found"}}).encode()
            self.send_response(200 if found else 404)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_sequin_clock_skips_without_clock_control(pytester, server_without_control):
    pytester.makepyfile("def test_clock(sequin_clock): pass")
    result = pytester.runpytest("-q", "-rs", f"--sequin-url={server_without_control}")
    result.assert_outcomes(skipped=1)
    result.stdout.fnmatch_lines(
        ["*sequin_clock needs the embedded server's clock control*--sequin-clock-sleep*"]
    )


def test_sequin_clock_can_sleep_for_real_instead(pytester, server_without_control):
    pytester.makepyfile(
        """
        import time

        import pytest

        def test_clock(sequin_clock):
            with pytest.raises(ValueError, match="finite number of seconds >= 0"):
                sequin_clock.advance(-5)  # the same check as with clock control, not time.sleep's
            started = time.monotonic()
            sequin_clock.advance(0.2)
            assert time.monotonic() - started >= 0.2
        """
    )
    result = pytester.runpytest("-q", f"--sequin-url={server_without_control}", "--sequin-clock-sleep")
    result.assert_outcomes(passed=1)
