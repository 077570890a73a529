"""Base URL shapes: IPv6 literal, path prefix, trailing slash, https, credentials in the URL.

Each is compared with sequin-py where sequin-py works, since the client must be a drop-in.
"""

from __future__ import annotations

import base64
import socket

import pytest
from client_test_helpers import Reply, json_reply
from sequin.client import Client as SdkClient

from pytest_sequin.client import SequinClient
from pytest_sequin.server import EmbeddedSequinServer

FRIENDLY = (
    "We can't reach Sequin on {url}. Double check that Sequin is running and confirm your Python "
    "client is configured properly"
)


def ok(request):
    return json_reply(200, {"data": []})


# -- IPv6 --------------------------------------------------------------------------------------------


def test_ipv6_loopback_url_against_the_embedded_server(monkeypatch, refused_url):
    monkeypatch.setenv("HTTP_PROXY", refused_url)  # loopback: never used
    monkeypatch.setenv("http_proxy", refused_url)
    with EmbeddedSequinServer(host="::1") as server:
        assert server.url.startswith("http://[::1]:")
        client = SequinClient(server.url)
        assert client.transport.proxy is None
        stream, error = client.create_stream("v6_stream")
        assert error is None and stream["name"] == "v6_stream"
        assert client.send_message("v6_stream", "a.b", "x") == ({"published": 1}, None)
        assert client.get_message("v6_stream", "a.b")[0]["data"] == "x"
        assert client.transport.connections_opened == 1


def test_ipv6_host_header_and_refused_message(fake_server, no_proxy_env):
    server = fake_server(ok, host="::1")
    for client in (SdkClient(server.url), SequinClient(server.url)):
        assert client.receive_messages("s", "c") == ([], None)
        assert server.requests[-1].headers["host"] == f"[::1]:{server.port}"
        assert server.requests[-1].target == "/api/streams/s/consumers/c/receive?batch_size=10"
    probe = socket.socket(socket.AF_INET6)
    probe.bind(("::1", 0))
    url = f"http://[::1]:{probe.getsockname()[1]}"
    probe.close()  # nothing listens there now
    expected = (None, {"status": 500, "summary": FRIENDLY.format(url=url)})
    assert SequinClient(url).delete_stream("s") == expected
    assert SdkClient(url).delete_stream("s") == expected


# -- path prefix and trailing slash ---------------------------------------------------------------


def test_path_prefix_same_target_as_sdk(fake_server, no_proxy_env):
    server = fake_server(ok)
    for client in (SdkClient(server.url + "/sequin"), SequinClient(server.url + "/sequin")):
        client.delete_consumer("s", "c")
        assert server.requests[-1].target == "/sequin/api/streams/s/consumers/c"
        assert server.requests[-1].method == "DELETE"


def test_trailing_slash_on_sequin_url_is_one_slash(fake_server, monkeypatch):
    # sequin-py sends "//api/..." (the real server's router ignores the empty segment); this
    # client sends one slash, and keeps the URL as configured in its messages.
    server = fake_server(ok)
    monkeypatch.setenv("SEQUIN_URL", server.url + "/prefix/")
    client = SequinClient()
    assert client.base_url == server.url + "/prefix/"
    client.list_streams()
    assert server.requests[-1].target == "/prefix/api/streams"


def test_trailing_slash_against_the_embedded_server(sequin_base_url, monkeypatch, unique):
    monkeypatch.setenv("SEQUIN_URL", sequin_base_url + "/")
    client = SequinClient()
    name = unique("s")
    assert client.create_stream(name)[1] is None
    assert client.delete_stream(name)[0]["deleted"] is True


# -- https --------------------------------------------------------------------------------------------


@pytest.fixture
def https_server(fake_server, tls_server_context):
    return fake_server(ok, tls=tls_server_context)


def test_https_with_ca_bundle_env_like_requests(https_server, tls_cert, monkeypatch, no_proxy_env):
    # REQUESTS_CA_BUNDLE is how sequin-py (requests) users trust a private CA: it works here too.
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", tls_cert[0])
    url = https_server.url.replace("127.0.0.1", "localhost")
    for client in (SdkClient(url), SequinClient(url)):
        assert client.receive_messages("s", "c", {"batch_size": 2}) == ([], None)
        assert https_server.requests[-1].target == "/api/streams/s/consumers/c/receive?batch_size=2"
    ours = SequinClient(url)
    for _ in range(3):
        assert ours.list_streams() == ([], None)
    assert ours.transport.connections_opened == 1  # keep-alive over TLS too


def test_https_with_ssl_cert_file(https_server, tls_cert, monkeypatch):
    monkeypatch.delenv("REQUESTS_CA_BUNDLE", raising=False)
    monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)
    monkeypatch.setenv("SSL_CERT_FILE", tls_cert[0])
    assert SequinClient(https_server.url).list_streams() == ([], None)  # IP address in the SAN


def test_https_untrusted_certificate_is_a_500_like_sdk(https_server, monkeypatch, no_proxy_env):
    for var in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "SSL_CERT_FILE", "SSL_CERT_DIR"):
        monkeypatch.delenv(var, raising=False)
    for client in (SdkClient(https_server.url), SequinClient(https_server.url)):
        res, error = client.delete_stream("s")
        assert res is None and error["status"] == 500
        assert "CERTIFICATE_VERIFY_FAILED" in error["summary"]


def test_https_to_a_plain_http_server_is_a_500(fake_server):
    server = fake_server(ok)
    res, error = SequinClient(server.url.replace("http://", "https://"), timeout=5).list_streams()
    assert res is None and error["status"] == 500
    assert "We can't reach" not in error["summary"]


# -- credentials in the URL -----------------------------------------------------------------------


def basic(credentials: str) -> str:
    return "Basic " + base64.b64encode(credentials.encode("latin-1")).decode("ascii")


@pytest.mark.parametrize(
    "userinfo, expected",
    [
        ("user:secret", basic("user:secret")),
        ("us%40er:p%3As%20s", basic("us@er:p:s s")),  # percent-decoded, like requests
        ("user:", basic("user:")),
        ("user", None),  # requests sends nothing without a password part
    ],
)
def test_credentials_in_url_send_basic_auth_like_sdk(fake_server, no_proxy_env, userinfo, expected):
    server = fake_server(ok)
    url = server.url.replace("http://", f"http://{userinfo}@")
    seen = []
    for client in (SdkClient(url), SequinClient(url)):
        client.delete_stream("s")
        request = server.requests[-1]
        assert request.headers["host"] == f"127.0.0.1:{server.port}"
        seen.append(request.headers.get("authorization"))
    assert seen == [expected, expected]


def test_explicit_authorization_header_wins_over_url_credentials(fake_server):
    server = fake_server(ok)
    url = server.url.replace("http://", "http://user:secret@")
    SequinClient(url, headers={"Authorization": "Bearer t0k"}).list_streams()
    assert server.requests[-1].headers["authorization"] == "Bearer t0k"


def test_password_is_not_in_transport_error_messages(fake_server, refused_url):
    server = fake_server(lambda request: Reply(0, "", hang_up=True))
    url = server.url.replace("http://", "http://user:s3cret@")
    client = SequinClient(url)
    _, error = client.list_streams()
    assert error["status"] == 500
    assert "s3cret" not in error["summary"]
    assert f"GET http://user:***@127.0.0.1:{server.port}/api/streams" in error["summary"]
    assert "s3cret" not in repr(client) and "s3cret" not in repr(client.transport)
    # The friendly "can't reach" text keeps sequin-py's words, with the password masked.
    refused = refused_url.replace("http://", "http://user:s3cret@")
    masked = refused_url.replace("http://", "http://user:***@")
    assert SequinClient(refused).list_streams()[1]["summary"] == FRIENDLY.format(url=masked)
