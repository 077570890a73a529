"""Transport fixes: URL encoding, keep-alive reuse, loopback without proxy, TCP_NODELAY, threads."""

from __future__ import annotations

import os
import socket
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from client_test_helpers import Reply, json_reply
from sequin.client import Client as SdkClient

from pytest_sequin.client import SequinClient
from pytest_sequin.client.transport import is_loopback_host

STREAM_404 = {"status": 404, "summary": "Not found: No `stream` found matching the provided ID or name"}
FRIENDLY = (
    "We can't reach Sequin on {url}. Double check that Sequin is running and confirm your Python "
    "client is configured properly"
)
MESSAGE_404 = {"status": 404, "summary": "Not found: No `message` found matching the provided ID or name"}


# -- URL encoding ----------------------------------------------------------------------------------


@pytest.mark.parametrize("key", ["a/b", "a#b", "a%b", "a%2Fb", "a?b=1", "x.y/z#w%20"])
def test_special_keys_round_trip_through_get_message(client, stream_name, key):
    assert client.send_message(stream_name, key, f"data of {key}") == ({"published": 1}, None)
    message, error = client.get_message(stream_name, key)
    assert error is None
    assert (message["key"], message["data"]) == (key, f"data of {key}")
    info, error = client.get_message_consumer_info(stream_name, key)
    assert error is None and info["message"]["key"] == key


def test_key_with_space_reaches_the_right_url(client, stream_name):
    # Spaces are invalid in keys, so the lookup must be a *message* 404 on the right stream.
    assert client.get_message(stream_name, "a b") == (None, MESSAGE_404)


def test_sdk_fragment_fault_is_fixed(client, sdk, stream_name):
    client.send_messages(stream_name, [{"key": "a", "data": "plain a"}, {"key": "a#b", "data": "hash"}])
    assert client.get_message(stream_name, "a#b")[0]["data"] == "hash"
    # Without encoding, "#b" becomes a URL fragment and sequin-py's URL addresses key "a".
    assert sdk._request(f"/api/streams/{stream_name}/messages/a#b", "GET") == ("plain a", None)


@pytest.mark.parametrize("name", ["a/b", "a#b", "a%b", "a b", "a?b"])
def test_special_stream_names_are_one_segment(client, name):
    assert client.get_stream(name) == (None, STREAM_404)
    assert client.delete_stream(name) == (None, STREAM_404)
    assert client.send_message(name, "k", "v") == (None, STREAM_404)


def test_paths_are_percent_encoded_on_the_wire(fake_server):
    server = fake_server(lambda request: json_reply(200, {"data": []}))
    client = SequinClient(server.url + "/prefix/")
    client.receive_messages("s/1", "c#2", {"batch_size": 3})
    client.get_message("s", "a/b%c d")
    assert [r.target for r in server.requests] == [
        "/prefix/api/streams/s%2F1/consumers/c%232/receive?batch_size=3",
        "/prefix/api/streams/s/messages/a%2Fb%25c%20d",
    ]


# -- keep-alive ------------------------------------------------------------------------------------


def test_keep_alive_one_connection_server_side(fake_server):
    server = fake_server(lambda request: json_reply(200, {"data": []}))
    client = SequinClient(server.url)
    for _ in range(25):
        assert client.list_streams() == ([], None)
    assert server.connections == 1
    assert client.transport.connections_opened == 1


def test_keep_alive_same_socket_against_real_server(client, stream_name):
    client.get_stream(stream_name)
    pool = client.transport._pool
    assert len(pool) == 1
    local = pool[0].sock.getsockname()
    for i in range(20):
        client.send_message(stream_name, f"k.{i}", "v")
        client.get_message(stream_name, f"k.{i}")
    assert [c.sock.getsockname() for c in pool] == [local]
    assert client.transport.connections_opened == 1


def test_connection_closed_by_server_while_idle_is_replaced(fake_server):
    # The server drops every connection after answering (as after an idle timeout).
    server = fake_server(lambda request: Reply(200, "OK", b'{"data": []}', close_after=True))
    client = SequinClient(server.url)
    for _ in range(5):
        assert client.list_streams() == ([], None)
    assert server.connections == 5


def test_embedded_server_restarted_on_the_same_port(unique):
    # stop() closes idle keep-alive connections: the pooled socket is noticed as closed before
    # reuse, so even a publish (never replayed) goes out on a fresh connection and succeeds.
    from pytest_sequin.server import EmbeddedSequinServer

    first = EmbeddedSequinServer()
    first.start()
    url = first.url
    client = SequinClient(url)
    name = unique("s")
    assert client.create_stream(name)[1] is None
    first.stop()
    second = EmbeddedSequinServer(port=int(url.rsplit(":", 1)[1]))
    second.start()
    try:
        assert client.send_message("default", "k", "v") == ({"published": 1}, None)
        assert client.get_stream(name) == (None, STREAM_404)  # a new server: new state
        assert client.transport.connections_opened == 2
    finally:
        second.stop()
    assert client.list_streams() == (None, {"status": 500, "summary": FRIENDLY.format(url=url)})


def test_stale_connection_is_replayed_only_when_safe(fake_server):
    # Every second request on a connection is swallowed: the server hangs up without answering,
    # like a keep-alive race. Safe requests are re-sent on a fresh connection; receive is not.
    seen = {}

    def responder(request):
        seen[request.connection] = seen.get(request.connection, 0) + 1
        if seen[request.connection] == 2:
            return Reply(0, "", hang_up=True)
        return json_reply(200, {"data": []})

    server = fake_server(responder)
    client = SequinClient(server.url)
    assert client.list_streams() == ([], None)
    assert client.list_streams() == ([], None)  # replayed on connection 2
    assert server.connections == 2
    res, error = client.receive_messages("s", "c")  # 2nd request on connection 2: not replayed
    assert res is None and error["status"] == 500
    assert server.connections == 2
    assert error["summary"] == (
        f"Remote end closed connection without response (GET {server.url}/api/streams/s/consumers/c"
        "/receive?batch_size=10); the keep-alive connection was reused and the request is not "
        "retried, since the server may have applied it"
    )
    assert client.list_streams() == ([], None)  # connection 3
    res, error = client.send_message("s", "k", "v")  # 2nd on connection 3: a publish, not replayed
    assert res is None and "may have applied it" in error["summary"]
    assert [r.method for r in server.requests].count("POST") == 1


def test_tcp_nodelay_is_set(client):
    client.list_streams()
    sock = client.transport._pool[0].sock
    assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0


def test_close_drops_idle_connections_and_client_still_works(client):
    client.list_streams()
    client.close()
    assert len(client.transport._pool) == 0
    assert client.list_streams()[1] is None
    assert client.transport.connections_opened == 2


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_forked_child_does_not_reuse_parent_connections(client):
    client.list_streams()
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - runs in the child
        try:
            ok = len(client.transport._pool) == 0 and client.list_streams()[1] is None
            os.write(write_end, b"1" if ok else b"0")
        finally:
            os._exit(0)
    os.close(write_end)
    assert os.read(read_end, 1) == b"1"
    os.close(read_end)
    os.waitpid(pid, 0)
    assert client.list_streams()[1] is None  # the parent's socket is intact


# -- proxies ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "host, loopback",
    [
        ("localhost", True),
        ("LOCALHOST.", True),
        ("127.0.0.1", True),
        ("127.1.2.3", True),
        ("::1", True),
        ("[::1]", True),
        ("sequin.localhost", True),
        ("10.0.0.1", False),
        ("example.com", False),
        ("128.0.0.1", False),
        ("0.0.0.0", True),  # unspecified: reaches this host
        ("::", True),
        ("0.0.0.1", False),
    ],
)
def test_is_loopback_host(host, loopback):
    assert is_loopback_host(host) is loopback


def test_loopback_ignores_proxy_env(monkeypatch, sequin_base_url, refused_url):
    for var in ("HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.setenv(var, refused_url)
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    client = SequinClient(sequin_base_url)
    assert client.transport.proxy is None
    streams, error = client.list_streams()
    assert error is None and isinstance(streams, list)
    # sequin-py goes through the dead proxy (requests honours it even for loopback).
    _, sdk_error = SdkClient(sequin_base_url).delete_stream("no_such_stream_for_proxy_check")
    assert sdk_error == {"status": 500, "summary": FRIENDLY.format(url=sequin_base_url)}


def test_non_loopback_uses_env_proxy_read_once(monkeypatch, fake_server):
    proxy = fake_server(lambda request: json_reply(200, {"data": []}))
    proxy_url = proxy.url.replace("http://", "http://user:pa%20ss@")
    monkeypatch.setenv("HTTP_PROXY", proxy_url)
    monkeypatch.setenv("http_proxy", proxy_url)
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    client = SequinClient("http://sequin.invalid:7376")
    assert client.transport.proxy == f"127.0.0.1:{proxy.port}"
    monkeypatch.delenv("HTTP_PROXY")
    monkeypatch.delenv("http_proxy")  # read once: later changes do not matter
    assert client.list_streams() == ([], None)
    assert client.list_streams() == ([], None)
    request = proxy.requests[-1]
    assert request.target == "http://sequin.invalid:7376/api/streams"
    assert request.headers["host"] == "sequin.invalid:7376"
    assert request.headers["proxy-authorization"] == "Basic dXNlcjpwYSBzcw=="  # user:pa ss
    assert proxy.connections == 1


def test_no_proxy_is_honoured_for_non_loopback(monkeypatch, refused_url):
    monkeypatch.setenv("HTTP_PROXY", refused_url)
    monkeypatch.setenv("http_proxy", refused_url)
    monkeypatch.setenv("NO_PROXY", "sequin.invalid")
    monkeypatch.setenv("no_proxy", "sequin.invalid")
    assert SequinClient("http://sequin.invalid:7376").transport.proxy is None


@pytest.mark.parametrize(
    "no_proxy",
    ["sequin.invalid", ".invalid", "invalid", "sequin.invalid:7376", "sequin.invalid:1", "10.0.0.0/8",
     "10.1.2.3", "other.example, 10.1.0.0/16", "*", ""],
)
@pytest.mark.parametrize("url", ["http://sequin.invalid:7376", "http://10.1.2.3:7376"])
def test_no_proxy_decisions_match_requests(monkeypatch, refused_url, no_proxy, url):
    # sequin-py users' NO_PROXY keeps working: host, domain suffix, host:port and CIDR entries.
    import requests.utils

    for var in ("HTTP_PROXY", "http_proxy"):
        monkeypatch.setenv(var, refused_url)
    for var in ("NO_PROXY", "no_proxy"):
        monkeypatch.setenv(var, no_proxy)
    bypass = requests.utils.should_bypass_proxies(url, None)
    assert (SequinClient(url).transport.proxy is None) is bypass


@pytest.mark.parametrize("proxy", ["https://proxy.invalid:3128", "socks5://proxy.invalid:1080"])
def test_unsupported_proxy_fails_each_request_clearly(monkeypatch, proxy):
    for var in ("HTTP_PROXY", "http_proxy"):
        monkeypatch.setenv(var, proxy)
    for var in ("NO_PROXY", "no_proxy"):
        monkeypatch.delenv(var, raising=False)
    client = SequinClient("http://sequin.invalid:7376")  # never raises at construction
    expected = f"Unsupported proxy {proxy!r} (only http:// proxies are supported)"
    assert client.list_streams() == (None, {"status": 500, "summary": expected})
    assert client.send_message("s", "k", "v") == (None, {"status": 500, "summary": expected})


@pytest.mark.parametrize("url", ["http://0.0.0.0:7376", "http://[::]:7376"])
def test_unspecified_address_means_this_host_and_skips_the_proxy(monkeypatch, refused_url, url):
    # "listening on 0.0.0.0:7376" copied into SEQUIN_URL reaches the local server; a proxy cannot.
    for var in ("HTTP_PROXY", "http_proxy"):
        monkeypatch.setenv(var, refused_url)
    assert SequinClient(url).transport.proxy is None


# -- threads ---------------------------------------------------------------------------------------


def test_threads_hammering_one_client(client, stream_name, unique):
    consumer = unique("c")
    assert client.create_consumer(stream_name, consumer, ">")[1] is None
    threads, per_thread = 8, 30
    barrier = threading.Barrier(threads)

    def work(t):
        barrier.wait()
        failures = []
        for i in range(per_thread):
            key = f"t{t}.m{i}"
            if client.send_message(stream_name, key, key) != ({"published": 1}, None):
                failures.append(("send", key))
            message, error = client.get_message(stream_name, key)
            if error is not None or message["data"] != key:
                failures.append(("get", key, error))
        return failures

    with ThreadPoolExecutor(threads) as pool:
        results = list(pool.map(work, range(threads)))
    assert results == [[]] * threads
    messages, error = client.list_messages(stream_name, limit=1000)
    assert error is None and len(messages) == threads * per_thread
    # Concurrent receives never hand out the same message twice.
    with ThreadPoolExecutor(threads) as pool:
        batches = list(
            pool.map(lambda _: client.receive_messages(stream_name, consumer, {"batch_size": 7}), range(48))
        )
    assert all(error is None for _, error in batches)
    keys = [item["message"]["key"] for batch, _ in batches for item in batch]
    assert len(keys) == len(set(keys)) == threads * per_thread
    # Connections are pooled: at most one per concurrent thread was ever opened.
    assert client.transport.connections_opened <= threads + 1
    assert len(client.transport._pool) <= client.transport.pool_size


def test_extra_headers_are_sent_and_checked():
    from pytest_sequin.server import EmbeddedSequinServer

    with EmbeddedSequinServer() as server:
        seen = []
        original = server.handle

        def spy(request):
            seen.append(dict(request.headers))
            return original(request)

        server._http._handler = spy  # type: ignore[union-attr]
        client = SequinClient(server.url, headers={"X-Team": "payments"})
        assert client.list_streams()[1] is None
    assert seen and seen[-1].get("x-team") == "payments"
    for bad in ({"Bad Name": "v"}, {"X-Ok": "a\r\nInjected: 1"}, {"X-Ok": 1}):
        with pytest.raises(ValueError, match="invalid extra header"):
            SequinClient("http://127.0.0.1:1", headers=bad)  # type: ignore[arg-type]
