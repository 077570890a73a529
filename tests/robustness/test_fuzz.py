"""Bad-input fuzzing of the embedded server over raw HTTP.

Hypothesis builds requests from random and malformed parts: paths (unknown routes, odd ids,
bad percent escapes), methods, query strings (bad escapes, ``a[]=`` arrays, ``a[b]=`` maps),
bodies (random JSON with wrong types, non-object tops, NaN, invalid UTF-8, lone surrogates,
deep nesting, method overrides), headers (Accept and Content-Type variants, bogus
Content-Length) and plain socket garbage. They are written to a socket byte for byte, so
nothing is normalised on the way. For every case:

* the status is one the spec allows for that route: 200, a 4xx, or 500 only on a route that has
  documented 500s (§7.3) -- and never with the server's ERROR log line ``embedded Sequin
  failed on ...``, which marks an unexpected exception (an undocumented 500);
* a JSON content type comes with a JSON body;
* the server keeps serving (a health request on a fresh connection after each case);
* a rejected request (anything but 200) leaves the state unchanged: a snapshot of the stream
  list, every stream's messages, consumers and every consumer's peek, before and after.

Sizes: ``SEQUIN_ROBUSTNESS=long`` multiplies the number of examples by 20.
"""

from __future__ import annotations

import http.client
import json
import logging
import os
import socket
import threading
import uuid
from typing import Any, Iterator, Optional

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pytest_sequin.server import EmbeddedSequinServer, ManualClock

LONG = os.environ.get("SEQUIN_ROBUSTNESS", "").lower() == "long"
EXAMPLES = 20 if LONG else 1


def fuzz_settings(n: int) -> settings:
    return settings(
        max_examples=n * EXAMPLES,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    )


# -- a raw HTTP client ---------------------------------------------------------------------------


class Answer:
    def __init__(self, status: int, headers: dict[str, str], body: bytes) -> None:
        self.status = status
        self.headers = headers
        self.body = body

    def __repr__(self) -> str:
        return f"<{self.status} {self.headers.get('content-type')} {self.body[:200]!r}>"


def exchange(port: int, raw: bytes, method: str = "GET", timeout: float = 10.0) -> Optional[Answer]:
    """Send ``raw`` as is, close our sending side, read one answer (None: closed unanswered)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        try:
            sock.sendall(raw)
            sock.shutdown(socket.SHUT_WR)
        except OSError:
            pass  # the server may answer (413) and close before reading everything
        response = http.client.HTTPResponse(sock, method=method.upper())
        try:
            response.begin()
            body = response.read()
        except (http.client.RemoteDisconnected, ConnectionResetError, http.client.IncompleteRead):
            return None
        finally:
            response.close()
        return Answer(response.status, {k.lower(): v for k, v in response.getheaders()}, body)


def build(
    method: str,
    target: str,
    headers: list[tuple[str, str]],
    body: bytes = b"",
    content_length: Optional[str] = "auto",
) -> bytes:
    lines = [f"{method} {target} HTTP/1.1", "Host: 127.0.0.1", "Connection: close"]
    lines += [f"{k}: {v}" for k, v in headers]
    if content_length == "auto":
        if body:
            lines.append(f"Content-Length: {len(body)}")
    elif content_length is not None:
        lines.append(f"Content-Length: {content_length}")
    head = "\r\n".join(lines) + "\r\n\r\n"
    return head.encode("utf-8", "surrogateescape") + body


# -- what the spec allows ----------------------------------------------------------------------

#: Routes of §3 with the methods that have documented 500s (§7.3) on them.
ROUTES: dict[tuple[str, ...], set[str]] = {
    ("streams",): {"POST"},  # §7.2 name collisions
    ("streams", "*"): {"PUT", "PATCH"},  # §3.3b
    ("streams", "*", "consumers"): {"POST"},
    ("streams", "*", "consumers", "*"): {"PUT", "PATCH"},
    ("streams", "*", "consumers", "*", "receive"): {"GET", "POST"},
    ("streams", "*", "consumers", "*", "ack"): {"POST"},
    ("streams", "*", "consumers", "*", "nack"): {"POST"},
    ("streams", "*", "consumers", "*", "messages"): {"GET"},
    ("streams", "*", "messages"): {"GET", "POST"},
    ("streams", "*", "messages", "*"): set(),
    ("streams", "*", "messages", "*", "consumer_info"): set(),
}
OVERRIDES = {"PUT", "PATCH", "DELETE"}
#: The methods each route answers, and a plausible value for each dynamic segment.
ROUTE_METHODS: dict[tuple[str, ...], list[str]] = {
    ("streams",): ["GET", "POST"],
    ("streams", "*"): ["GET", "DELETE", "PUT"],
    ("streams", "*", "consumers"): ["GET", "POST"],
    ("streams", "*", "consumers", "*"): ["GET", "PUT", "PATCH", "DELETE"],
    ("streams", "*", "consumers", "*", "receive"): ["GET", "POST"],
    ("streams", "*", "consumers", "*", "ack"): ["POST"],
    ("streams", "*", "consumers", "*", "nack"): ["POST"],
    ("streams", "*", "consumers", "*", "messages"): ["GET"],
    ("streams", "*", "messages"): ["GET", "POST"],
    ("streams", "*", "messages", "*"): ["GET"],
    ("streams", "*", "messages", "*", "consumer_info"): ["GET"],
}
PLAUSIBLE = {"streams": ["fz", "{SID}", "fy"], "consumers": ["w", "v", "{CID}"], "messages": ["a", "a.b"]}


def documented_500(method: str, target: str, body: bytes) -> bool:
    """Whether some reading of this request lands on a route method with documented 500s."""
    segments = [s for s in target.split("?", 1)[0].split("#", 1)[0].split("/") if s]
    if segments[:1] != ["api"]:
        return False
    methods = {"GET" if method.upper() == "HEAD" else method.upper()}
    if method.upper() == "POST" and b"_method" in body:
        methods |= OVERRIDES  # a body override (§0); be generous about which
    for pattern, fivehundreds in ROUTES.items():
        if len(pattern) != len(segments) - 1:
            continue
        if all(p == "*" or p == s for p, s in zip(pattern, segments[1:])) and methods & fivehundreds:
            return True
    return False


ALLOWED_4XX = {400, 404, 406, 413, 422}


class ErrorLog(logging.Handler):
    """Collects the server's ERROR records (an unexpected exception inside the server)."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


class Target:
    """One embedded server with seed data, shared by the cases of a test."""

    def __init__(self, errors: ErrorLog) -> None:
        self.errors = errors
        self.server = EmbeddedSequinServer(clock=ManualClock(frozen=True)).start()
        self.port = self.server.port
        self.conn: Optional[http.client.HTTPConnection] = None
        self.ids: dict[str, str] = {}
        self.seed()

    def call(self, method: str, path: str, payload: Any = None) -> Answer:
        """A well-formed request on a keep-alive connection (seeding and snapshots)."""
        body = None if payload is None else json.dumps(payload).encode()
        headers = {"Accept": "application/json", "Content-Type": "application/json"}
        if self.conn is None:
            self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            self.conn.request(method, path, body, headers)
            response = self.conn.getresponse()
            payload = response.read()
        except (OSError, http.client.HTTPException):
            self.conn.close()
            self.conn = None
            raise
        return Answer(response.status, {k.lower(): v for k, v in response.getheaders()}, payload)

    def json(self, method: str, path: str, payload: Any = None) -> Any:
        answer = self.call(method, path, payload)
        assert answer.status == 200, (method, path, answer)
        return json.loads(answer.body)

    def seed(self) -> None:
        """Streams `fz` (messages, consumer `w` with a delivered row) and `fy` (consumer `w` too,
        so `w` is a shared name), unless they are there already."""
        names = {s["name"]: s for s in self.json("GET", "/api/streams")["data"]}
        if "fz" not in names or "fy" not in names:
            for name in ("fz", "fy"):
                if name in names:
                    self.json("DELETE", f"/api/streams/{name}")
            fz = self.json("POST", "/api/streams", {"name": "fz"})
            self.json("POST", "/api/streams", {"name": "fy"})
            batch = [{"key": k, "data": k.upper()} for k in ("a", "a.b", "orders.new", "orders.x.y")]
            self.json("POST", "/api/streams/fz/messages", {"messages": batch})
            w = self.json("POST", "/api/streams/fz/consumers", {"name": "w", "filter_key_pattern": ">"})
            self.json("POST", "/api/streams/fy/consumers", {"name": "w", "filter_key_pattern": "*"})
            self.json("POST", "/api/streams/fz/consumers", {"name": "v", "filter_key_pattern": "orders.>"})
            self.json("GET", f"/api/streams/fz/consumers/{w['id']}/receive?batch_size=2")
            self.ids = {"SID": fz["id"], "CID": w["id"]}

    def snapshot(self) -> Any:
        streams = self.json("GET", "/api/streams")["data"]
        out = []
        for s in streams:
            consumers = self.json("GET", f"/api/streams/{s['id']}/consumers")["data"]
            peeks = [
                self.json("GET", f"/api/streams/{s['id']}/consumers/{c['id']}/messages?limit=10000")
                for c in consumers
            ]
            messages = self.json("GET", f"/api/streams/{s['id']}/messages?limit=10000")
            out.append((s, consumers, peeks, messages))
        return out

    def healthy(self) -> bool:
        answer = exchange(self.port, build("GET", "/_pytest_sequin/health", []), "GET")
        return answer is not None and answer.status == 200

    def fill(self, text: str) -> str:
        for name, value in self.ids.items():
            text = text.replace("{" + name + "}", value)
            text = text.replace("{" + name + "_UPPER}", value.upper())
            text = text.replace("{" + name + "_HEX}", value.replace("-", ""))
        return text


@pytest.fixture(scope="module")
def target() -> Iterator[Target]:
    log = logging.getLogger("pytest_sequin.server")
    handler = ErrorLog()
    log.addHandler(handler)
    before = set(threading.enumerate())
    t = Target(handler)
    try:
        yield t
    finally:
        if t.conn is not None:
            t.conn.close()
        t.server.stop()
        log.removeHandler(handler)
    leftover = [th for th in set(threading.enumerate()) - before if th.is_alive()]
    assert not leftover, f"threads left after stop(): {leftover}"


REASONS = {
    400: "Bad Request",
    404: "Not Found",
    406: "Not Acceptable",
    413: "Request Entity Too Large",
    500: "Internal Server Error",
}


def check_shape(answer: Answer, head: bool, control: bool) -> None:
    """§5: error bodies are a summary (400/404), a 422 validation body, or a framework error
    (JSON, or the bare reason phrase as HTML for errors raised before an endpoint); 500s are
    always JSON. A request too broken to parse gets the HTTP layer's plain-text 400."""
    status = answer.status
    ctype = answer.headers.get("content-type", "")
    if head:
        assert answer.body == b"", "a HEAD answer has no body"
        return
    if ctype == "application/json; charset=utf-8":
        value = json.loads(answer.body)
        if status < 400 or control:
            return
        assert isinstance(value, dict), value
        if "errors" in value:
            assert value == {"errors": {"detail": REASONS[status]}}, value
        elif status == 422:
            assert set(value) == {"summary", "validation_errors"}, value
            assert value["summary"] == "Validation failed" and value["validation_errors"], value
        else:
            assert status in (400, 404) and set(value) == {"summary"}, value
            assert isinstance(value["summary"], str) and value["summary"], value
    elif ctype.startswith("text/html"):
        assert status in (400, 404, 406, 413), "only errors before an endpoint may be HTML"
        assert answer.body.decode() == REASONS[status], answer.body
    else:
        assert ctype.startswith("text/plain") and status == 400, f"unexpected content type {ctype!r}"


def check(t: Target, method: str, raw: bytes, target_path: str, body: bytes = b"") -> Optional[Answer]:
    """Run one case and every check of the module docstring; returns the answer."""
    t.seed()
    errors_before = len(t.errors.records)
    state_before = t.snapshot()
    answer = exchange(t.port, raw, method)
    new_errors = t.errors.records[errors_before:]
    assert not new_errors, f"unexpected exception in the server: {new_errors[0].getMessage()}\n{raw[:500]!r}"
    assert t.healthy(), f"the server stopped serving after {raw[:500]!r}"
    if answer is not None:
        status = answer.status
        ok = status == 200 or status in ALLOWED_4XX or status == 100
        if target_path.split("?")[0].lstrip("/").startswith("_pytest_sequin"):
            ok = ok or status == 409
        if status == 500:
            ok = documented_500(method, target_path, body)
        assert ok, f"status {status} not allowed for {raw[:500]!r}: {answer}"
        control = target_path.lstrip("/").startswith("_pytest_sequin")
        try:
            check_shape(answer, method.upper() == "HEAD", control)
        except AssertionError as exc:
            raise AssertionError(f"bad answer to {raw[:500]!r}: {answer}: {exc}") from None
        if status == 200:
            return answer
    assert t.snapshot() == state_before, f"state changed by a rejected request {raw[:500]!r}: {answer}"
    return answer


# -- strategies ------------------------------------------------------------------------------------

V4 = str(uuid.UUID(int=12345, version=4))
SEGMENTS = [
    "api",
    "streams",
    "fz",
    "fy",
    "default",
    "nope",
    "consumers",
    "w",
    "v",
    "messages",
    "receive",
    "ack",
    "nack",
    "consumer_info",
    "a",
    "a.b",
    "orders.new",
    "{SID}",
    "{CID}",
    "{SID_UPPER}",
    "{CID_HEX}",
    "urn:uuid:{CID}",
    V4,
    "0123456789ab4def8123456789abcdef",
    "00000000-0000-0000-0000-000000000000",
    "%2F",
    "%",
    "%zz",
    "%G1",
    "%00",
    "%C3%A9",
    "%FF%FE",
    "%ED%A0%80",
    "..",
    ".",
    "_pytest_sequin",
    "health",
    "clock",
    "a" * 300,
    "*",
    ">",
    "orders.*",
    "-1",
    "null",
]
QUERY_KEYS = [
    "batch_size",
    "limit",
    "sort",
    "key_pattern",
    "visible",
    "wait_for",
    "_format",
    "_method",
    "batch_size[]",
    "limit[]",
    "key_pattern[x]",
    "visible[]",
    "sort[]",
    "a[b][c]",
    "a[",
    "[]",
    "%zz",
    "%FF",
    "name",
    "",
]
QUERY_VALUES = [
    "1",
    "0",
    "-1",
    "5",
    "1000",
    "1001",
    "abc",
    "%",
    "%zz",
    "%FF",
    "%C3%A9",
    "true",
    "false",
    "seq_desc",
    "a.*",
    "orders.>",
    ">.a",
    ".a",
    "a..b",
    ".".join("abcdefghijklmnop"),
    ".".join("abcdefghijklmnopq"),
    ".".join("abcdefghijklmno") + ".>",
    "",
    "1e3",
    "+3",
    "html",
    "json",
    "DELETE",
    "a+b",
    "caf\u00e9",
    "\u20ac\ufeff",
    "%E2%82%AC",
]
FIELDS = [
    "name",
    "messages",
    "key",
    "data",
    "ack_ids",
    "batch_size",
    "filter_key_pattern",
    "ack_wait_ms",
    "max_ack_pending",
    "max_waiting",
    "max_deliver",
    "kind",
    "status",
    "http_endpoint_id",
    "http_endpoint",
    "backfill_completed_at",
    "wait_for",
    "limit",
    "key_pattern",
    "sort",
    "visible",
    "_json",
    "stream",
    "consumer",
]
METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "TRACE", "FOO", "get", "post"]
ACCEPTS = [
    None,
    "*/*",
    "application/json",
    "text/html",
    "application/json;q=0",
    "text/*",
    "application/*",
    "garbage",
    "application/json, text/html;q=0.5",
    "text/html;q=0.9, application/json;q=0.1",
    ";q=",
    "*/*;q=abc",
    "application/vnd.api+json",
    "",
]
CONTENT_TYPES = [
    None,
    "application/json",
    "application/json; charset=utf-8",
    "application/JSON",
    "application/vnd.api+json",
    "application/x-www-form-urlencoded",
    "multipart/form-data",
    "multipart/form-data; boundary=xyz",
    "text/plain",
    "application/json;;;",
    "",
    "application/",
    "*/*",
]

scalars = (
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20)
    | st.sampled_from(["fz", "w", "a.b", "orders.*", "", " ", V4, "{CID}", "pull", "push", "PUT", "DELETE"])
)
json_values = st.recursive(
    scalars,
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(st.sampled_from(FIELDS) | st.text(max_size=8), children, max_size=5)
    ),
    max_leaves=12,
)
json_objects = st.dictionaries(st.sampled_from(FIELDS + ["_method"]), json_values, max_size=5)
messages_bodies = st.builds(
    lambda items: {"messages": items},
    st.lists(
        st.dictionaries(st.sampled_from(["key", "data", "x"]), json_values, max_size=3)
        | st.fixed_dictionaries(
            {
                "key": st.text(max_size=6) | st.sampled_from(["a", "a.b", "a..b", "caf\u00e9"]),
                "data": st.text(),
            }
        ),
        max_size=4,
    ),
)
RAW_BODIES = [
    b"{",
    b"NaN",
    b'{"name": NaN}',
    b'{"batch_size": Infinity}',
    b'{"ack_ids": [-Infinity]}',
    b"\xff\xfe",
    b'{"name": "\xff"}',
    b'{"name": "\\ud800"}',
    b'{"messages": [{"key": "a", "data": "\\udc00x"}]}',
    b'{"messages": [{"key": "\\ud83d\\ude00", "data": "x"}]}',
    b"[]",
    b"1",
    b'"s"',
    b"null",
    b"true",
    b"\xef\xbb\xbf{}",
    b'{"name": "a", "name": "b"}',
    b"{} x",
    b"",
    b"   \r\n ",
    b"[" * 5000 + b"]" * 5000,
    b'{"a":' * 3000 + b"1" + b"}" * 3000,
    b'{"messages":' + b"[" * 100000 + b"]" * 100000 + b"}",
    b"name=fz&_method=DELETE",
    b"ack_ids[]=x&ack_ids[]=%zz",
    b"a=%FF",
    b'--xyz\r\nContent-Disposition: form-data; name="name"\r\n\r\nfz\r\n--xyz--\r\n',
    b"--xyz\r\nContent-Disposition: form-data\r\n\r\n\xff\r\n--xyz",
    b"\x00" * 64,
    b"\xef\xbb\xbfname=\xe2\x82\xac",
    b"--xyz\r\nContent-Disposition: form-data; name*=utf-8''n%C3%A4me\r\n\r\nx\r\n--xyz--\r\n",
    b"--xyz\r\nContent-Type: multipart/mixed; boundary=abc\r\nContent-Disposition: form-data; name=n\r\n"
    b"\r\n--abc\r\n\r\ninner\r\n--abc--\r\n--xyz--\r\n",
    b'--xyz\r\nContent-Disposition: form-data; name="ack_ids[]"\r\nContent-Transfer-Encoding: base64\r\n'
    b"\r\n!!!\r\n--xyz--\r\n",
]


@st.composite
def requests_lines(draw: st.DrawFn) -> tuple[str, str]:
    """(method, target): half the time a real route, its dynamic segments plausible or random."""
    if draw(st.booleans()):
        pattern = draw(st.sampled_from(sorted(ROUTE_METHODS)))
        segs = ["api"]
        for i, p in enumerate(pattern):
            if p != "*":
                segs.append(p)
            elif draw(st.booleans()):
                segs.append(draw(st.sampled_from(PLAUSIBLE[pattern[i - 1]])))
            else:
                segs.append(draw(st.sampled_from(SEGMENTS)))
        method = draw(st.sampled_from(ROUTE_METHODS[pattern])) if draw(st.booleans()) else None
    else:
        segs = draw(st.lists(st.sampled_from(SEGMENTS), max_size=5))
        if draw(st.integers(0, 9)) < 8:
            segs = ["api", "streams", *segs]
        method = None
    if method is None:
        method = draw(st.sampled_from(METHODS))
    path = "/" + "/".join(segs)
    if draw(st.booleans()):
        path += "/"
    pairs = draw(st.lists(st.tuples(st.sampled_from(QUERY_KEYS), st.sampled_from(QUERY_VALUES)), max_size=4))
    if pairs:
        path += "?" + "&".join(f"{k}={v}" if draw(st.booleans()) else k for k, v in pairs)
    return method, path


@st.composite
def bodies(draw: st.DrawFn) -> tuple[Optional[str], bytes]:
    kind = draw(st.sampled_from(["none", "json", "json", "messages", "value", "raw", "form"]))
    if kind == "none":
        return draw(st.sampled_from(CONTENT_TYPES)), b""
    if kind == "raw":
        return draw(st.sampled_from(CONTENT_TYPES)), draw(st.sampled_from(RAW_BODIES))
    if kind == "form":
        pairs = draw(
            st.lists(st.tuples(st.sampled_from(QUERY_KEYS), st.sampled_from(QUERY_VALUES)), max_size=4)
        )
        return "application/x-www-form-urlencoded", "&".join(f"{k}={v}" for k, v in pairs).encode()
    value = {"json": json_objects, "messages": messages_bodies, "value": json_values}[kind]
    text = json.dumps(draw(value))
    ctype = draw(st.sampled_from(["application/json", "application/json", "application/vnd.api+json", None]))
    return ctype, text.encode("utf-8", "surrogatepass")


# -- the tests -----------------------------------------------------------------------------------


@fuzz_settings(250)
@given(line=requests_lines(), body=bodies(), accept=st.sampled_from(ACCEPTS))
def test_random_requests(target: Target, line: tuple[str, str], body: tuple, accept: Optional[str]) -> None:
    method, path = line
    ctype, payload = body
    path = target.fill(path)
    payload = target.fill(payload.decode("utf-8", "surrogateescape")).encode("utf-8", "surrogateescape")
    headers = []
    if accept is not None:
        headers.append(("Accept", accept))
    if ctype is not None:
        headers.append(("Content-Type", ctype))
    check(target, method, build(method, path, headers, payload), path, payload)


@fuzz_settings(120)
@given(
    route=st.sampled_from(
        [
            ("POST", "/api/streams"),
            ("POST", "/api/streams/fz/messages"),
            ("POST", "/api/streams/fz/consumers"),
            ("PUT", "/api/streams/fz/consumers/w"),
            ("POST", "/api/streams/x/consumers/{CID}/receive"),
            ("POST", "/api/streams/x/consumers/{CID}/ack"),
            ("POST", "/api/streams/x/consumers/{CID}/nack"),
            ("GET", "/api/streams/fz/consumers/w/messages"),
            ("GET", "/api/streams/fz/messages"),
        ]
    ),
    payload=json_objects | messages_bodies | json_values,
)
def test_json_bodies_on_real_routes(target: Target, route: tuple[str, str], payload: Any) -> None:
    """Wrong types, missing and extra fields, non-object tops, on the routes that read bodies."""
    method, path = route
    path = target.fill(path)
    body = target.fill(json.dumps(payload)).encode("utf-8", "surrogatepass")
    headers = [("Accept", "application/json"), ("Content-Type", "application/json")]
    check(target, method, build(method, path, headers, body), path, body)


@fuzz_settings(40)
@given(
    length=st.sampled_from(["abc", "-1", "1e3", "", " 5 ", "0x10", "99999", "3", "+4", "8000001", "1 2"]),
    body=st.sampled_from([b"", b"{}", b'{"name": "zz"}', b"GET / HTTP/1.1\r\n\r\n"]),
    method=st.sampled_from(["POST", "GET", "PUT"]),
)
def test_bogus_content_length(target: Target, length: str, body: bytes, method: str) -> None:
    """The declared length disagrees with the body (or is no number at all)."""
    headers = [("Accept", "application/json"), ("Content-Type", "application/json")]
    raw = build(method, "/api/streams", headers, body, content_length=length)
    check(target, method, raw, "/api/streams", body)


@fuzz_settings(60)
@given(
    garbage=st.binary(max_size=300)
    | st.sampled_from(
        [
            b"\r\n\r\n",
            b"GET\r\n\r\n",
            b"GET / HTTP/9.9\r\n\r\n",
            b"GET /api/streams HTTP/1.1\r\nBad Header\r\n\r\n",
            b"GET /api/streams HTTP/1.1\r\n: empty\r\n\r\n",
            b"GET /api/streams HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
            b"POST /api/streams HTTP/1.1\r\nTransfer-Encoding: chunked\r\n"
            b"Content-Type: application/json\r\n\r\n2\r\n{}\r\n0\r\n\r\n",
            b"GET /" + b"a" * 70000 + b" HTTP/1.1\r\n\r\n",
            b"GET / HTTP/1.1\r\n" + b"X: y\r\n" * 300 + b"\r\n",
            b"GET /api/streams HTTP/1.1\r\nX: " + b"y" * 70000 + b"\r\n\r\n",
            b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03",  # a TLS ClientHello
            b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
        ]
    )
)
def test_socket_garbage(target: Target, garbage: bytes) -> None:
    check(target, "GET", garbage, "/")


def test_body_size_limit(target: Target) -> None:
    """§0: a body over 8,000,000 bytes is a framework 413 (JSON when Accept asks for it)."""
    headers = [("Accept", "application/json"), ("Content-Type", "application/json")]
    raw = build("POST", "/api/streams", headers, b"", content_length="8000001")
    answer = check(target, "POST", raw, "/api/streams")
    assert answer is not None and answer.status == 413, answer
    assert json.loads(answer.body) == {"errors": {"detail": "Request Entity Too Large"}}
    big = b'{"name": "-' + b"x" * (8_000_000 - 13) + b'"}'
    assert len(big) == 8_000_000
    answer = check(target, "POST", build("POST", "/api/streams", headers, big), "/api/streams", big)
    assert answer is not None and answer.status == 422, answer  # read and parsed: a bad name
