"""The plugin under stress: slow and hung servers, and long sessions (issue 9, item 4).

Per-test cost over a long session is measured in ``bench/``; here we check the structural
reasons it cannot grow: nothing accumulates on the server, in the registry, in threads or in
connections.
"""

from __future__ import annotations

import socket
import threading
import time

import pytest


@pytest.fixture
def hung_server():
    """Accepts connections and never answers."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    accepted = []
    stop = threading.Event()

    def accept():
        listener.settimeout(0.1)
        while not stop.is_set():
            try:
                accepted.append(listener.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    stop.set()
    thread.join()
    for conn in accepted:
        conn.close()
    listener.close()


def test_a_hung_server_fails_the_session_start_within_the_timeout(pytester, hung_server):
    pytester.makepyfile("def test_a(sequin_stream): pass")
    started = time.monotonic()
    result = pytester.runpytest_subprocess(f"--sequin-url={hung_server}", "--sequin-timeout=1")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "not ready" in result.stderr.str()
    assert time.monotonic() - started < 60  # a hang guard only


def test_a_slow_request_mid_session_times_out_and_fails_only_that_test(pytester):
    pytester.makepyfile(
        """
        import pytest
        from pytest_sequin.client import SequinError

        def test_slow(sequin_server, sequin_stream, sequin_consumer):
            sequin_server.handle.faults.delay("/api/streams/*/consumers/*/receive", seconds=3)
            with pytest.raises(SequinError, match="Timed out after 1 s"):
                sequin_consumer.receive()

        def test_next_one_is_fine(sequin_stream):
            assert sequin_stream.send("k", "v") == 1
        """
    )
    started = time.monotonic()
    result = pytester.runpytest_subprocess("-q", "--sequin-timeout=1")
    result.assert_outcomes(passed=2)
    assert time.monotonic() - started < 60  # a hang guard only


def test_thousands_of_fixtures_leave_nothing_accumulating(pytester):
    pytester.makepyfile(
        """
        import threading
        import pytest

        @pytest.mark.parametrize("i", range(1500))
        def test_many(i, sequin_stream, sequin_consumer):
            sequin_stream.send("k", str(i))
            sequin_consumer.ack(sequin_consumer.receive())

        def test_zz_nothing_accumulated(sequin_server, sequin_client, request):
            from pytest_sequin.state import STATE_KEY

            engine = sequin_server.handle.engine
            assert [s.name for s in engine.streams.values()] == ["default"]
            assert engine.consumers == {}
            assert request.config.stash[STATE_KEY].registry.pending() == []
            assert sequin_client.transport.connections_opened <= 2
            assert threading.active_count() < 10
        """
    )
    result = pytester.runpytest_subprocess("-q", "-p", "no:randomly")
    result.assert_outcomes(passed=1501)


def test_module_and_session_streams_are_shared_then_deleted(pytester, standalone_server):
    pytester.makepyfile(
        test_one="""
        names = set()

        def test_a(sequin_module_stream, sequin_session_stream):
            names.add(sequin_module_stream.name)
            sequin_module_stream.send("a", "1")

        def test_b(sequin_module_stream, sequin_session_stream, sequin_consumer_factory):
            names.add(sequin_module_stream.name)
            assert len(names) == 1  # the same stream for the whole module
            consumer = sequin_consumer_factory(sequin_module_stream, "b.>")
            sequin_module_stream.send("b.1", "2")
            assert [m.key for m in consumer.receive()] == ["b.1"]
        """,
        test_two="""
        def test_c(sequin_module_stream, sequin_session_stream):
            assert sequin_module_stream.messages() == []  # another module, another stream
        """,
    )
    result = pytester.runpytest_subprocess("-q", f"--sequin-url={standalone_server.url}")
    result.assert_outcomes(passed=3)
    assert [s.name for s in standalone_server.engine.streams.values()] == ["default"]


def test_the_example_suite_passes(pytester):
    from pathlib import Path

    examples = Path(__file__).resolve().parents[2] / "conftest_examples"
    result = pytester.runpytest_subprocess("-q", str(examples), "-c", str(examples / "pytest.ini"))
    result.assert_outcomes(passed=6)
