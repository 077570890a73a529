"""The transport's own response reader gives what ``http.client.HTTPResponse`` gives.

Differential: the same bytes go to both parsers through a socket pair, and status, reason,
body, Content-Type and "the server closes the connection" must agree.
"""

from __future__ import annotations

import contextlib
import http.client
import socket
import threading

import pytest

from pytest_sequin.client.transport import _read_response, _Reader

JSON = b"content-type: application/json; charset=utf-8\r\n"

CASES = {
    "content-length": b"HTTP/1.1 200 OK\r\n" + JSON + b'content-length: 11\r\n\r\n{"data":[]}',
    "empty reason": b"HTTP/1.1 200 \r\ncontent-length: 2\r\n\r\n{}",
    "no reason": b"HTTP/1.1 404\r\ncontent-length: 2\r\n\r\n{}",
    "chunked": b"HTTP/1.1 200 OK\r\n" + JSON + b"transfer-encoding: chunked\r\n\r\n"
    b'4\r\n{"a"\r\n5;ext=1\r\n:[1]}\r\n0\r\ntrailer: x\r\n\r\n',
    "connection close": b"HTTP/1.1 500 Internal Server Error\r\nconnection: close\r\n"
    b"content-length: 3\r\n\r\nbad",
    "read until close": b"HTTP/1.1 200 OK\r\n" + JSON + b'\r\n{"data":1}',
    "http/1.0": b"HTTP/1.0 200 OK\r\ncontent-length: 2\r\n\r\n{}",
    "http/1.0 keep-alive": b"HTTP/1.0 200 OK\r\nconnection: keep-alive\r\ncontent-length: 2\r\n\r\n{}",
    "100 continue first": b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\ncontent-length: 2\r\n\r\n{}",
    "204": b"HTTP/1.1 204 No Content\r\ncontent-length: 0\r\n\r\n",
    "304 with length": b"HTTP/1.1 304 Not Modified\r\ncontent-length: 10\r\n\r\n",
    "mixed-case names": b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 2\r\n\r\nhi",
    "bare LF": b"HTTP/1.1 200 OK\ncontent-length: 2\n\nok",
    "large body": b"HTTP/1.1 200 OK\r\ncontent-length: 300000\r\n\r\n" + b"x" * 300_000,
}


def _feed(raw: bytes) -> socket.socket:
    reader_side, writer_side = socket.socketpair()
    reader_side.settimeout(5)

    def write() -> None:
        with contextlib.suppress(OSError):  # the reader may stop early (HEAD) and close
            writer_side.sendall(raw)
            writer_side.shutdown(socket.SHUT_WR)
            writer_side.recv(1)  # until the reader closes its end
        writer_side.close()

    threading.Thread(target=write, daemon=True).start()
    return reader_side


def _standard(raw: bytes, method: str) -> tuple:
    sock = _feed(raw)
    try:
        resp = http.client.HTTPResponse(sock, method=method)
        resp.begin()
        body = resp.read()
        content_type, date = resp.getheader("Content-Type") or "", resp.getheader("Date") or ""
        return resp.status, resp.reason, body, content_type, bool(resp.will_close), date
    finally:
        sock.close()


def _ours(raw: bytes, method: str) -> tuple:
    sock = _feed(raw)
    try:
        return _read_response(_Reader(sock), method)
    finally:
        sock.close()


@pytest.mark.parametrize("name", sorted(CASES))
@pytest.mark.parametrize("method", ["GET", "HEAD"])
def test_same_answer_as_http_client(name, method):
    raw = CASES[name]
    assert _ours(raw, method) == _standard(raw, method)


def test_two_answers_on_one_connection_keep_their_bytes_apart():
    first = b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nfirst"
    second = b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n6\r\nsecond\r\n0\r\n\r\n"
    sock = _feed(first + second)
    reader = _Reader(sock)
    try:
        assert _read_response(reader, "GET")[2] == b"first"
        assert _read_response(reader, "GET")[2] == b"second"
        assert not reader.buf
    finally:
        sock.close()


def test_folded_header_is_unfolded():
    # http.client keeps the CRLF inside the value; the reader joins the lines as RFC 7230 says.
    raw = b"HTTP/1.1 200 OK\r\ncontent-type: text/plain;\r\n charset=utf-8\r\ncontent-length: 1\r\n\r\nx"
    assert _ours(raw, "GET") == (200, "OK", b"x", "text/plain; charset=utf-8", False, "")


@pytest.mark.parametrize(
    "raw, error",
    [
        (b"", http.client.RemoteDisconnected),
        (b"garbage\r\n\r\n", http.client.BadStatusLine),
        (b"HTTP/1.1 2x0 OK\r\n\r\n", http.client.BadStatusLine),
        (b"HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\nshort", http.client.IncompleteRead),
        (b"HTTP/1.1 200 OK\r\n" + b"x-h: 1\r\n" * 101 + b"\r\n", http.client.HTTPException),
    ],
)
def test_broken_answers_raise_what_http_client_raises(raw, error):
    with pytest.raises(error):
        _ours(raw, "GET")
    with pytest.raises(error):
        _standard(raw, "GET")
