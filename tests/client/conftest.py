"""Fixtures for the client tests.

The server URL always comes from the session fixture ``sequin_base_url`` (tests/conftest.py), so
these tests run unchanged against the embedded server or a shared real one: every test uses
unique names and deletes what it creates.

Helpers shared with the test modules live in ``client_test_helpers.py`` (importable because pytest
puts this directory on ``sys.path``; conftest modules should not be imported).
"""

from __future__ import annotations

import shutil
import socket
import ssl
import subprocess
from typing import Any, Callable, Iterator, List, Tuple

import pytest
from client_test_helpers import FakeHTTPServer, Responder, SilentServer, new_name

from pytest_sequin.client import SequinClient, StreamHandle

PROXY_VARS = ("HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy")
NO_PROXY_VARS = ("NO_PROXY", "no_proxy")


@pytest.fixture
def fake_server() -> Iterator[Callable[..., FakeHTTPServer]]:
    """Factory: ``fake_server(responder, host=..., tls=...)`` starts a FakeHTTPServer, stopped
    after the test."""
    servers: List[FakeHTTPServer] = []

    def start(responder: Responder, **options: Any) -> FakeHTTPServer:
        server = FakeHTTPServer(responder, **options)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


@pytest.fixture(scope="session")
def tls_cert(tmp_path_factory: pytest.TempPathFactory) -> Tuple[str, str]:
    """``(cert.pem, key.pem)``: a self-signed certificate for ``localhost`` and ``127.0.0.1``."""
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("needs the openssl command to make a test certificate")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = str(folder / "cert.pem"), str(folder / "key.pem")
    subprocess.run(
        [openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert,
         "-days", "2", "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"],
        check=True,
        capture_output=True,
    )
    return cert, key


@pytest.fixture
def tls_server_context(tls_cert: Tuple[str, str]) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(*tls_cert)
    return context


@pytest.fixture
def silent_server() -> Iterator[SilentServer]:
    server = SilentServer()
    yield server
    server.stop()


@pytest.fixture
def refused_url() -> str:
    """A loopback URL where nothing listens (the port was just released)."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    return f"http://127.0.0.1:{port}"


@pytest.fixture
def no_proxy_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """sequin-py (requests) reads proxy variables on every call: keep them out of comparisons."""
    for var in PROXY_VARS + NO_PROXY_VARS:
        monkeypatch.delenv(var, raising=False)


@pytest.fixture
def unique() -> Callable[[str], str]:
    """``unique("c")`` -> ``"c_<12 hex>"``: valid Sequin names that never collide between tests."""
    return new_name


@pytest.fixture
def client(sequin_base_url: str) -> Iterator[SequinClient]:
    with SequinClient(sequin_base_url) as c:
        yield c


@pytest.fixture
def sdk(sequin_base_url: str, no_proxy_env: None):  # -> sequin.client.Client
    from sequin.client import Client

    return Client(sequin_base_url)


@pytest.fixture
def cleanup(sequin_base_url: str) -> Iterator[Callable[[str], str]]:
    """``cleanup(stream_name)`` registers a stream to delete after the test; returns the name."""
    names: List[str] = []
    yield lambda name: names.append(name) or name
    with SequinClient(sequin_base_url) as c:
        for name in names:
            c.delete_stream(name)


@pytest.fixture
def stream_name(client: SequinClient, cleanup: Callable[[str], str]) -> str:
    """A fresh empty stream, created through the SDK-style API, deleted after the test."""
    name = cleanup(new_name("s"))
    _, error = client.create_stream(name)
    assert error is None
    return name


@pytest.fixture
def stream(client: SequinClient) -> Iterator[StreamHandle]:
    """A fresh empty stream handle, deleted after the test."""
    with client.new_stream() as handle:
        yield handle
