"""The fixtures in real pytest sessions: creation, isolation, teardown, SEQUIN_URL."""

from __future__ import annotations

import os

import pytest

from tests.plugin.conftest import stream_names


def test_stream_and_consumer_fixtures_work_end_to_end(pytester: pytest.Pytester):
    pytester.makepyfile(
        """
        def test_roundtrip(sequin_stream, sequin_consumer):
            assert sequin_consumer.stream_name == sequin_stream.name
            assert sequin_stream.send("orders.1", "hello") == 1
            [item] = sequin_consumer.receive()
            assert (item.key, item.data) == ("orders.1", "hello")
            sequin_consumer.ack(item)
            assert sequin_consumer.receive() == []
        """
    )
    result = pytester.runpytest("-q")
    result.assert_outcomes(passed=1)


def test_teardown_deletes_streams_on_the_server_also_after_failures(pytester, standalone_server):
    pytester.makepyfile(
        """
        import pytest

        def test_pass(sequin_stream, sequin_consumer):
            sequin_stream.send("a", "1")

        def test_fail(sequin_stream_factory, sequin_consumer_factory):
            s = sequin_stream_factory()
            sequin_consumer_factory(s, "a.*", ack_wait_ms=1000)
            assert False, "boom"

        def test_error_in_setup(sequin_stream, broken):
            pass

        @pytest.fixture
        def broken():
            raise RuntimeError("setup broke")

        def test_deletes_its_own(sequin_stream, sequin_consumer):
            sequin_consumer.delete()
            sequin_stream.delete()
        """
    )
    result = pytester.runpytest("-q", f"--sequin-url={standalone_server.url}")
    result.assert_outcomes(passed=2, failed=1, errors=1)
    assert stream_names(standalone_server) == ["default"]
    assert standalone_server.engine.consumers == {}
    result.stdout.no_fnmatch_line("*could not delete*")


def test_two_tests_never_share_a_stream_and_names_are_valid(pytester, standalone_server):
    pytester.makepyfile(
        """
        import re
        seen = []

        def test_a(sequin_stream, sequin_consumer):
            seen.append((sequin_stream.name, sequin_consumer.name))

        def test_b(sequin_stream, sequin_consumer):
            seen.append((sequin_stream.name, sequin_consumer.name))
            (s1, c1), (s2, c2) = seen
            assert s1 != s2 and c1 != c2
            for name in (s1, s2, c1, c2):
                assert re.fullmatch("[a-z0-9_]+", name), name
            assert s1.startswith("pytest_") and "test_a" in s1 and "test_b" in s2
        """
    )
    result = pytester.runpytest("-q", f"--sequin-url={standalone_server.url}")
    result.assert_outcomes(passed=2)


def test_sequin_url_env_points_at_the_server_and_is_restored(pytester, monkeypatch):
    monkeypatch.setenv("SEQUIN_URL", "http://dev-server.invalid:7376")
    pytester.makepyfile(
        """
        import os
        from sequin.client import Client

        def test_app_client_uses_the_test_server(sequin_url, sequin_stream):
            assert os.environ["SEQUIN_URL"] == sequin_url
            res, err = Client().send_message(sequin_stream.name, "k", "v")
            assert err is None and res == {"published": 1}
        """
    )
    result = pytester.runpytest("-q")
    result.assert_outcomes(passed=1)
    assert os.environ["SEQUIN_URL"] == "http://dev-server.invalid:7376"


def test_sequin_url_from_the_environment_is_never_used_to_pick_the_server(pytester, monkeypatch):
    monkeypatch.setenv("SEQUIN_URL", "http://127.0.0.1:9")  # nothing listens there
    pytester.makepyfile(
        """
        def test_uses_embedded(sequin_server):
            assert sequin_server.backend == "embedded"
        """
    )
    result = pytester.runpytest("-q")
    result.assert_outcomes(passed=1)


def test_consumer_factory_accepts_names_and_options_and_marker_defaults(pytester):
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.sequin(ack_wait_ms=1234, filter_key_pattern="orders.*")
        def test_marker(sequin_consumer, sequin_consumer_factory, sequin_stream):
            info = sequin_consumer.info()
            assert info["ack_wait_ms"] == 1234 and info["filter_key_pattern"] == "orders.*"
            other = sequin_consumer_factory(sequin_stream.name, "x.>", max_ack_pending=3)
            info = other.info()
            got = (info["filter_key_pattern"], info["max_ack_pending"], info["ack_wait_ms"])
            assert got == ("x.>", 3, 1234)

        def test_plain_default_matches_everything(sequin_consumer):
            assert sequin_consumer.info()["filter_key_pattern"] == ">"
        """
    )
    result = pytester.runpytest("-q", "--strict-markers")
    result.assert_outcomes(passed=2)


def test_marker_is_added_automatically_so_tests_can_be_deselected(pytester):
    pytester.makepyfile(
        """
        def test_uses_sequin(sequin_stream):
            pass

        def test_plain():
            pass
        """
    )
    result = pytester.runpytest("-q", "-m", "not sequin", "--strict-markers")
    result.assert_outcomes(passed=1, deselected=1)


def test_header_names_backend_and_run_token(pytester):
    pytester.makepyfile("def test_x(): pass")
    result = pytester.runpytest()
    result.stdout.fnmatch_lines(
        [
            "sequin: embedded server at http://127.0.0.1:*",
            "sequin: run token * (stream names start with pytest_*_)",
        ]
    )


def test_plugin_can_be_disabled(pytester):
    pytester.makepyfile(
        """
        def test_x(request):
            assert "sequin_stream" not in request.fixturenames
        """
    )
    result = pytester.runpytest("-p", "no:sequin", "-q")
    result.assert_outcomes(passed=1)
    result.stdout.no_fnmatch_line("sequin:*")


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


@pytest.mark.parametrize("spelling", ["NO_PROXY", "no_proxy"])
def test_a_users_no_proxy_survives_in_both_spellings(pytester, monkeypatch, spelling):
    """Only the missing spelling was created, with the loopback names alone: urllib and
    requests read the lowercase one first, so NO_PROXY=.corp.example stopped applying."""
    for name in ("NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv(spelling, ".corp.example")
    monkeypatch.setenv("HTTP_PROXY", "http://proxy.corp.example:3128")
    pytester.makepyfile(
        """
        import os, urllib.request

        def test_env(sequin_stream):
            assert os.environ["NO_PROXY"] == os.environ["no_proxy"] == ".corp.example,127.0.0.1,localhost,::1"
            assert urllib.request.proxy_bypass_environment("api.corp.example")
            assert urllib.request.proxy_bypass_environment("127.0.0.1")
        """
    )
    pytester.runpytest("-q").assert_outcomes(passed=1)
    assert os.environ[spelling] == ".corp.example"
    assert ({"NO_PROXY", "no_proxy"} - {spelling}).isdisjoint(os.environ)  # restored as it was
