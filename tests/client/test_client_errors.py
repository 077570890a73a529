"""Error paths that need a misbehaving server: non-JSON bodies, refused connections, timeouts."""

from __future__ import annotations

import time

import pytest
from client_test_helpers import Reply, json_reply
from sequin.client import Client as SdkClient

from pytest_sequin.client import SequinClient

FRIENDLY = (
    "We can't reach Sequin on {url}. Double check that Sequin is running and confirm your Python "
    "client is configured properly"
)


def test_connection_refused_friendly_message_same_as_sdk(refused_url, no_proxy_env):
    expected = (None, {"status": 500, "summary": FRIENDLY.format(url=refused_url)})
    ours = SequinClient(refused_url)
    assert ours.create_stream("x") == expected
    assert ours.receive_message("s", "c") == expected
    assert ours.list_streams() == expected
    assert SdkClient(refused_url).create_stream("x") == expected


def test_friendly_message_names_the_configured_base_url(refused_url, monkeypatch):
    monkeypatch.setenv("SEQUIN_URL", refused_url + "/")
    assert SequinClient().delete_stream("x")[1]["summary"] == FRIENDLY.format(url=refused_url + "/")


def test_timeout_applies_to_every_request(silent_server):
    client = SequinClient(silent_server.url, timeout=0.3)
    for call in (lambda: client.list_streams(), lambda: client.send_message("s", "k", "v")):
        started = time.monotonic()
        res, error = call()
        elapsed = time.monotonic() - started
        assert res is None
        assert error["status"] == 500
        assert "Timed out after 0.3 s" in error["summary"]
        assert 0.25 <= elapsed < 3


def test_non_json_error_body_keeps_its_status(fake_server):
    html = b"<html><body>upstream down</body></html>"
    server = fake_server(lambda request: Reply(502, "Bad Gateway", html, "text/html"))
    assert SequinClient(server.url).list_streams() == (
        None,
        {"status": 502, "summary": "<html><body>upstream down</body></html>"},
    )
    # sequin-py loses the status: it reports a JSON-decode failure as 500.
    _, sdk_error = SdkClient(server.url).create_stream("x")
    assert sdk_error["status"] == 500


def test_empty_non_json_error_body_uses_reason_phrase(fake_server):
    server = fake_server(lambda request: Reply(503, "Service Unavailable", b"", "text/plain"))
    assert SequinClient(server.url).get_stream("s") == (
        None,
        {"status": 503, "summary": "Service Unavailable"},
    )


def test_long_text_summary_is_cut(fake_server):
    server = fake_server(lambda request: Reply(500, "Internal Server Error", b"x" * 5000, "text/plain"))
    assert len(SequinClient(server.url).list_streams()[1]["summary"]) == 1000


def test_json_error_without_summary_is_unknown_error_like_sdk(fake_server, no_proxy_env):
    server = fake_server(lambda request: json_reply(404, {"errors": {"detail": "Not Found"}}, "Not Found"))
    expected = (None, {"status": 404, "summary": "Unknown error"})
    assert SequinClient(server.url).delete_stream("s") == expected
    assert SdkClient(server.url).delete_stream("s") == expected


def test_non_json_success_body_is_reported_like_sdk(fake_server, no_proxy_env):
    server = fake_server(lambda request: Reply(200, "OK", b"surprise", "text/plain"))
    ours = SequinClient(server.url).delete_stream("s")
    theirs = SdkClient(server.url).delete_stream("s")
    assert ours == theirs
    assert ours[1]["status"] == 500


def test_transport_error_summary_names_the_request(fake_server):
    server = fake_server(lambda request: Reply(0, "", hang_up=True))
    res, error = SequinClient(server.url).get_stream("a/b")
    assert res is None and error["status"] == 500
    assert f"GET {server.url}/api/streams/a%2Fb" in error["summary"]


def test_headers_sent(fake_server):
    server = fake_server(lambda request: json_reply(200, {"data": {"published": 1}}))
    SequinClient(server.url).send_message("s", "k", "v")
    request = server.requests[-1]
    assert request.headers["accept"] == "application/json"
    assert request.headers["content-type"] == "application/json"
    assert request.headers["user-agent"].startswith("pytest-sequin/")
    assert request.body == b'{"messages":[{"key":"k","data":"v"}]}'


@pytest.mark.parametrize("bad", ["localhost:7376", "ftp://x", "http://", "http://h:port"])
def test_bad_base_url_fails_each_call_not_the_constructor(bad):
    client = SequinClient(bad)  # sequin-py never raised at construction either
    res, error = client.list_streams()
    assert res is None
    assert error["status"] == 500 and error["summary"].startswith(f"Invalid base URL {bad!r}")


@pytest.mark.parametrize(
    "call",
    [
        lambda c: c.create_stream("s"),
        lambda c: c.delete_stream("s"),
        lambda c: c.create_consumer("s", "c", ">"),
        lambda c: c.delete_consumer("s", "c"),
        lambda c: c.send_message("s", "k", "v"),
        lambda c: c.ack_message("s", "c", "07240856-96cb-4305-9b2f-620f4b1528a4"),
    ],
)
def test_sdk_methods_unwrap_data_exactly_like_sdk(fake_server, no_proxy_env, call):
    # The SDK's rule applies to all twelve of its methods, whatever the body (a gateway that
    # wraps answers, say); only get_message, which sequin-py does not have, never unwraps.
    server = fake_server(lambda request: json_reply(200, {"data": {"wrapped": True}, "meta": 1}))
    ours, theirs = call(SequinClient(server.url)), call(SdkClient(server.url))
    assert ours == theirs == ({"wrapped": True}, None)


# -- credentials in the base URL never reach an error message -----------------------------------


def _with_credentials(url: str) -> str:
    return url.replace("http://", "http://alice:s3cret@")


def test_refused_message_masks_credentials(refused_url, no_proxy_env):
    _, error = SequinClient(_with_credentials(refused_url)).list_streams()
    assert error == {
        "status": 500,
        "summary": FRIENDLY.format(url=refused_url.replace("http://", "http://alice:***@")),
    }


def test_timeout_message_masks_credentials(silent_server):
    client = SequinClient(_with_credentials(silent_server.url), timeout=0.3)
    _, error = client.list_streams()
    assert "Timed out after 0.3 s" in error["summary"]
    assert "s3cret" not in error["summary"]
    assert "http://alice:***@127.0.0.1" in error["summary"]
    assert "s3cret" not in repr(client) and "s3cret" not in repr(client.transport)


def test_invalid_base_url_message_masks_credentials():
    _, error = SequinClient("ftp://alice:s3cret@host").list_streams()
    assert error["summary"] == "Invalid base URL 'ftp://alice:***@host': expected http(s)://host[:port]"
