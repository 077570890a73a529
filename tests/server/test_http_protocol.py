"""The HTTP layer of §0 and §5.3: negotiation, error rendering, bodies, routing details."""

from __future__ import annotations

import http.client
import json
import socket
import uuid
from urllib.parse import urlsplit

import pytest
import requests

from ._api import JSON_TYPE, UUID4, assert_framework, assert_not_found, assert_summary, keys_of, unique

HTML_TYPE_PREFIX = "text/html"


def _raw(api, method, path, headers=None, body=None):
    """A request with exactly these headers (``requests`` adds Accept: */* otherwise)."""
    parts = urlsplit(api.base_url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    try:
        conn.putrequest(method, path, skip_accept_encoding=True)
        for name, value in (headers or {}).items():
            conn.putheader(name, value)
        if body is not None:
            conn.putheader("Content-Length", str(len(body)))
        conn.endheaders(body)
        response = conn.getresponse()
        return response.status, response.getheader("content-type"), response.read()
    finally:
        conn.close()


def _assert_html(status_type_body, status, phrase):
    status_code, content_type, body = status_type_body
    assert status_code == status
    assert content_type.startswith(HTML_TYPE_PREFIX)
    assert body.decode() == phrase


# -- success basics ---------------------------------------------------------------------------------


def test_success_is_always_200_json(api, stream):
    for response in (
        api.post(
            "/api/streams/{}/consumers".format(stream["name"]), json={"name": "w", "filter_key_pattern": ">"}
        ),
        api.post(f"/api/streams/{stream['name']}/messages", json={"messages": []}),
        api.delete(f"/api/streams/{stream['name']}/consumers/w"),
    ):
        assert response.status_code == 200
        assert response.headers["content-type"] == JSON_TYPE


def test_authorization_header_is_ignored(api, stream):
    response = api.get(f"/api/streams/{stream['name']}", headers={"Authorization": "Bearer nonsense"})
    assert api.ok(response) == stream


# -- Accept negotiation and error rendering (§0, §5.3) --------------------------------------------


@pytest.mark.parametrize(
    "accept", [None, "*/*", "application/json", "application/*", "text/html, application/json"]
)
def test_acceptable_accept_headers(api, accept):
    headers = {"Accept": accept} if accept else {}
    status, content_type, body = _raw(api, "GET", "/api/streams", headers)
    assert (status, content_type) == (200, JSON_TYPE)
    assert "data" in json.loads(body)


@pytest.mark.parametrize("accept", ["text/html", "text/plain", "application/xml", "image/png"])
def test_accept_excluding_json_is_406(api, stream, accept):
    _assert_html(_raw(api, "GET", "/api/streams", {"Accept": accept}), 406, "Not Acceptable")
    # Nothing runs: a create with such an Accept header creates nothing.
    name = unique()
    body = json.dumps({"name": name}).encode()
    status = _raw(api, "POST", "/api/streams", {"Accept": accept, "Content-Type": "application/json"}, body)[
        0
    ]
    assert status == 406
    assert_not_found(api.get(f"/api/streams/{name}"), "stream")


@pytest.mark.parametrize("accept", [None, "*/*", "text/html"])
def test_unknown_route_is_an_html_404_unless_json_is_asked_for(api, accept):
    headers = {"Accept": accept} if accept else {}
    for path in ("/api/nope", "/nope", "/", "/api", "/api/streams/x/y", "/api/v1/streams", "/v1/streams"):
        _assert_html(_raw(api, "GET", path, headers), 404, "Not Found")


def test_unknown_route_is_a_json_404_with_accept_json(api):
    for path in ("/api/nope", "/api/streams/x/consumers/y/z", "/api/databases", "/api/webhooks"):
        assert_framework(api.get(path), 404, "Not Found")


# Phoenix 1.7's accepts/2, clause by clause (the corners RFC 9110 would decide differently).


@pytest.mark.parametrize(
    "accept",
    [
        "application/json;q=0",  # q only orders the entries; q=0 excludes nothing
        "application/json;q=abc",  # an unparsable q counts as 1.0
        "text/html;q=0.9, application/json;q=0.1",
        "application/json, */*",
    ],
)
def test_accept_corners_that_phoenix_accepts(api, accept):
    status, content_type, body = _raw(api, "GET", "/api/streams", {"Accept": accept})
    assert (status, content_type) == (200, JSON_TYPE)
    assert "data" in json.loads(body)


@pytest.mark.parametrize("accept", ["", "application/vnd.api+json", "text/*", "garbage"])
def test_accept_corners_that_phoenix_refuses(api, accept):
    # An empty header is not a missing one: it has no entry Phoenix can parse.
    _assert_html(_raw(api, "GET", "/api/streams", {"Accept": accept}), 406, "Not Acceptable")


def test_format_parameter_decides_alone(api, stream):
    # `_format` is read before the header: `json` is fine whatever the Accept header says...
    status, content_type, body = _raw(api, "GET", "/api/streams?_format=json", {"Accept": "text/html"})
    assert (status, content_type) == (200, JSON_TYPE)
    # ...and anything else is a 406, even with Accept: application/json; the error renderer
    # negotiates with the same `_format`, finds no format and falls back to HTML.
    for path in ("/api/streams?_format=xml", "/api/streams?_format[]=json"):
        _assert_html(_raw(api, "GET", path, {"Accept": "application/json"}), 406, "Not Acceptable")
    # A body `_format` counts too.
    body = json.dumps({"_format": "html"}).encode()
    headers = {"Accept": "application/json", "Content-Type": "application/json"}
    _assert_html(_raw(api, "POST", "/api/streams", headers, body), 406, "Not Acceptable")


def test_format_parameter_picks_the_error_body_before_an_endpoint(api):
    # The error renderer reads `_format` like accepts/2 does: JSON with no Accept header at all.
    status, content_type, body = _raw(api, "GET", "/api/nope?_format=json")
    assert (status, content_type, json.loads(body)) == (404, JSON_TYPE, {"errors": {"detail": "Not Found"}})
    headers = {"Content-Type": "application/json"}
    status, content_type, body = _raw(api, "POST", "/api/streams?_format=json", headers, b"{")
    assert (status, content_type, json.loads(body)) == (400, JSON_TYPE, {"errors": {"detail": "Bad Request"}})


@pytest.mark.parametrize(
    "accept",
    [
        "application/json, */*",  # a header containing */* renders HTML: Phoenix assumes a browser
        "application/json, text/plain, */*",  # what axios sends
        "application/vnd.api+json",  # not the `json` extension
        "application/json;q=0.5, text/html",
    ],
)
def test_error_body_before_an_endpoint_is_html_for(api, accept):
    _assert_html(_raw(api, "GET", "/api/nope", {"Accept": accept}), 404, "Not Found")


@pytest.mark.parametrize(
    "accept", ["application/json;q=0", "application/*", "text/html;q=0.1, application/json"]
)
def test_error_body_before_an_endpoint_is_json_for(api, accept):
    status, content_type, body = _raw(api, "GET", "/api/nope", {"Accept": accept})
    assert (status, content_type, json.loads(body)) == (404, JSON_TYPE, {"errors": {"detail": "Not Found"}})


def test_wrong_method_is_404_not_405(api, stream):
    s = stream["name"]
    for method, path in (
        ("DELETE", "/api/streams"),
        ("PUT", "/api/streams"),
        ("POST", f"/api/streams/{s}"),
        ("DELETE", f"/api/streams/{s}/messages"),
        ("GET", f"/api/streams/{s}/consumers/w/ack"),
        ("GET", f"/api/streams/{s}/consumers/w/nack"),
        ("POST", f"/api/streams/{s}/consumers/w/messages"),
        ("POST", f"/api/streams/{s}/messages/k"),
        ("DELETE", f"/api/streams/{s}/messages/k"),
    ):
        assert_framework(api.request(method, path), 404, "Not Found")
    assert api.get_stream(s) == stream


def test_errors_inside_an_endpoint_are_json_whatever_the_accept(api, stream):
    for accept in (None, "*/*"):
        headers = {"Accept": accept} if accept else {}
        status, content_type, body = _raw(api, "PUT", f"/api/streams/{stream['name']}", headers)
        assert (status, content_type, json.loads(body)) == (
            500,
            JSON_TYPE,
            {"errors": {"detail": "Internal Server Error"}},
        )
        status, content_type, body = _raw(api, "GET", f"/api/streams/{uuid.uuid4().hex}", headers)
        assert (status, content_type, json.loads(body)) == (
            400,
            JSON_TYPE,
            {"errors": {"detail": "Bad Request"}},
        )
        status, content_type, body = _raw(api, "GET", f"/api/streams/{unique()}", headers)
        assert (status, content_type, json.loads(body)) == (
            404,
            JSON_TYPE,
            {"summary": "Not found: No `stream` found matching the provided ID or name"},
        )


# -- request bodies ---------------------------------------------------------------------------------


def test_malformed_json_is_a_framework_400(api):
    for body in (b"{", b'{"name": }', b"\xff\xfe", b"NaN", b'{"a": Infinity}'):
        response = api.post("/api/streams", data=body, headers={"Content-Type": "application/json"})
        assert_framework(response, 400, "Bad Request")
    _assert_html(
        _raw(api, "POST", "/api/streams", {"Content-Type": "application/json"}, b"{"), 400, "Bad Request"
    )
    _assert_html(
        _raw(api, "POST", "/api/streams", {"Content-Type": "application/json", "Accept": "*/*"}, b"{"),
        400,
        "Bad Request",
    )


def test_malformed_json_is_400_even_on_unknown_routes(api):
    response = api.post("/api/nope", data=b"{", headers={"Content-Type": "application/json"})
    assert_framework(response, 400, "Bad Request")


def test_json_vendor_types_are_parsed(api, streams):
    name = unique()
    response = api.post(
        "/api/streams", data=json.dumps({"name": name}), headers={"Content-Type": "application/vnd.api+json"}
    )
    streams.track_response(response)
    assert api.ok(response)["name"] == name


def test_json_content_type_with_charset(api, streams):
    name = unique()
    response = api.post(
        "/api/streams",
        data=json.dumps({"name": name}),
        headers={"Content-Type": "application/json; charset=utf-8"},
    )
    streams.track_response(response)
    assert api.ok(response)["name"] == name


def test_other_content_types_are_ignored(api):
    for content_type in ("text/plain", "application/xml", "application/octet-stream"):
        response = api.post(
            "/api/streams", data=json.dumps({"name": unique()}), headers={"Content-Type": content_type}
        )
        assert response.status_code == 422
        assert response.json() == {
            "summary": "Validation failed",
            "validation_errors": {"name": ["can't be blank"]},
        }


def test_form_bodies_are_parsed_as_strings(api, stream, streams):
    name = unique()
    response = api.post("/api/streams", data={"name": name})
    streams.track_response(response)
    assert api.ok(response)["name"] == name
    consumer = api.ok(
        api.post(
            f"/api/streams/{stream['name']}/consumers",
            data={"name": "w", "filter_key_pattern": "a.>", "max_ack_pending": "3", "ack_wait_ms": ""},
        )
    )
    assert (consumer["max_ack_pending"], consumer["ack_wait_ms"]) == (3, 30000)


def test_form_keys_nest_as_plug_decodes_them(api, stream):
    # `a[b][c]=v` is two nested maps (Plug.Conn.Query), so an inline endpoint's headers can come
    # from a form body. (Lists of maps, `m[][k]=v`, differ between Plug versions: not asserted.)
    form = (
        "name=p&filter_key_pattern=%3E&kind=push&http_endpoint[base_url]=http://127.0.0.1:9/"
        "&http_endpoint[headers][X-Token]=secret&http_endpoint[headers][X-Other]=2"
    )
    response = api.post(
        f"/api/streams/{stream['name']}/consumers",
        data=form,
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    consumer = api.ok(response)
    assert (consumer["kind"], consumer["http_endpoint_id"]) == ("push", UUID4)


def test_multipart_bodies_are_parsed(api, streams):
    name = unique()
    response = api.post("/api/streams", files={"name": (None, name)})
    streams.track_response(response)
    assert api.ok(response)["name"] == name


@pytest.mark.parametrize("body", [b'["x"]', b'"name"', b"5", b"null", b"true", b'[{"name": "x"}]'])
def test_non_object_json_body_goes_under__json(api, body):
    response = api.post("/api/streams", data=body, headers={"Content-Type": "application/json"})
    assert response.status_code == 422
    assert response.json()["validation_errors"] == {"name": ["can't be blank"]}


def test_non_object_json_body_on_ack_and_publish(api, stream):
    consumer = api.create_consumer(stream["name"], "w")
    response = api.post(
        f"/api/streams/x/consumers/{consumer['id']}/ack",
        data=json.dumps([str(uuid.uuid4())]),
        headers={"Content-Type": "application/json"},
    )
    assert response.json()["summary"].startswith("Invalid ack_ids")


def test_empty_json_body_is_an_empty_map(api):
    response = api.post("/api/streams", data=b"", headers={"Content-Type": "application/json"})
    assert response.status_code == 422


def test_body_over_8mb_is_413(api, stream):
    body = b'{"name": "' + b"x" * 8_000_000 + b'"}'
    response = api.post("/api/streams", data=body, headers={"Content-Type": "application/json"})
    assert_framework(response, 413, "Request Entity Too Large")
    assert api.get_stream(stream["name"]) == stream


def test_body_over_8mb_is_an_html_413_without_accept_json(api):
    session = requests.Session()
    session.trust_env = False
    response = session.post(
        api.base_url + "/api/streams", data=b"x" * 8_000_001, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 413
    assert response.headers["content-type"].startswith(HTML_TYPE_PREFIX)
    assert response.text == "Request Entity Too Large"
    session.close()


def test_body_of_exactly_8mb_is_accepted(api, stream):
    data = "y" * (8_000_000 - len(json.dumps({"messages": [{"key": "big", "data": ""}]})))
    body = json.dumps({"messages": [{"key": "big", "data": data}]}).encode()
    assert len(body) == 8_000_000
    response = api.post(
        f"/api/streams/{stream['name']}/messages", data=body, headers={"Content-Type": "application/json"}
    )
    assert api.ok(response) == {"data": {"published": 1}}
    assert len(api.get_message(stream["name"], "big")["data"]) == len(data)


# -- method override, HEAD, paths -----------------------------------------------------------------------


@pytest.mark.parametrize("override", ["DELETE", "delete", "Delete"])
def test_method_override_delete(api, streams, override):
    stream = streams()
    response = api.post(f"/api/streams/{stream['name']}", json={"_method": override})
    assert api.ok(response) == {"id": stream["id"], "deleted": True}
    assert_not_found(api.get(f"/api/streams/{stream['id']}"), "stream")


def test_method_override_put_and_patch(api, stream):
    api.create_consumer(stream["name"], "w")
    for override in ("PUT", "patch"):
        body = api.ok(
            api.post(
                f"/api/streams/{stream['name']}/consumers/w", json={"_method": override, "max_waiting": 3}
            )
        )
        assert body["max_waiting"] == 3
    assert_framework(
        api.post(f"/api/streams/{stream['name']}", json={"_method": "PUT"}), 500, "Internal Server Error"
    )


def test_method_override_from_a_form_body(api, streams):
    stream = streams()
    assert api.ok(api.post(f"/api/streams/{stream['name']}", data={"_method": "delete"}))["deleted"] is True


def test_method_override_only_from_post_bodies(api, stream):
    s = stream["name"]
    assert_framework(api.post(f"/api/streams/{s}", params={"_method": "DELETE"}), 404, "Not Found")
    assert_framework(api.post(f"/api/streams/{s}", json={"_method": "GET"}), 404, "Not Found")
    assert_framework(api.post(f"/api/streams/{s}", json={"_method": ["DELETE"]}), 404, "Not Found")
    # GET with a body _method is not rewritten.
    assert api.ok(api.request("GET", f"/api/streams/{s}", json={"_method": "DELETE"})) == stream
    assert api.get_stream(s) == stream


def test_head_is_get_without_a_body(api, stream):
    response = api.request("HEAD", f"/api/streams/{stream['name']}")
    assert response.status_code == 200
    assert response.content == b""
    assert response.headers["content-type"] == JSON_TYPE
    assert int(response.headers["content-length"]) == len(api.get(f"/api/streams/{stream['name']}").content)
    assert api.request("HEAD", f"/api/streams/{unique()}").status_code == 404
    assert api.request("HEAD", "/api/nope").status_code == 404


def test_head_on_receive_delivers(api, stream):
    """HEAD runs the GET action: on receive it hands messages out (the body is just not sent)."""
    consumer = api.create_consumer(stream["name"], "w")
    api.publish(stream["name"], [("a", "1")])
    assert api.request("HEAD", f"/api/streams/x/consumers/{consumer['id']}/receive").status_code == 200
    assert api.info_of(stream["name"], consumer["id"], "a")["deliver_count"] == 1


def test_trailing_and_repeated_slashes_are_ignored(api, stream):
    s = stream["name"]
    assert api.ok(api.get(f"/api/streams/{s}/")) == stream
    assert api.ok(api.get(f"//api//streams//{s}//")) == stream
    assert "data" in api.ok(api.get("/api/streams/"))
    assert api.ok(api.post(f"/api/streams/{s}/messages/", json={"messages": [{"key": "k", "data": "v"}]}))
    assert api.get_message(s, "k/")["key"] == "k"


def test_path_segments_are_percent_decoded(api, stream):
    s = stream["name"]
    encoded = "".join(f"%{ord(c):02X}" for c in s)
    assert api.ok(api.get(f"/api/streams/{encoded}")) == stream
    api.publish(s, [("a/b", "1"), ("c#d", "2")])
    assert api.get_message(s, "a%2Fb")["data"] == "1"
    assert api.get_message(s, "c%23d")["data"] == "2"


def test_malformed_percent_encoding_is_a_400(api, stream):
    # (Unspecified detail: Plug rejects the malformed escape with a 400.)
    status, _, _ = _raw(
        api, "GET", f"/api/streams/{stream['name']}/messages/a%zz", {"Accept": "application/json"}
    )
    assert status == 400


def test_query_body_and_path_parameters_merge(api, stream, streams):
    s = stream["name"]
    consumer = api.create_consumer(s, "w")
    api.publish(s, [("c", "3"), ("b", "2"), ("a", "1")])
    other = streams()
    decoys = {
        k: other["name"]
        for k in ("stream", "stream_id_or_name", "id_or_name", "consumer", "consumer_id_or_name", "key")
    }
    # Path wins over body and query.
    assert api.ok(api.get(f"/api/streams/{s}", params=decoys))["id"] == stream["id"]
    assert api.ok(api.request("GET", f"/api/streams/{s}", json=decoys))["id"] == stream["id"]
    assert api.get_message(s, "a")["key"] == "a"
    assert api.ok(api.request("GET", f"/api/streams/{s}/messages/a", json=decoys))["key"] == "a"
    # Query parameters reach receive; the body overrides them.
    items = api.ok(
        api.post(
            f"/api/streams/x/consumers/{consumer['id']}/receive",
            params={"batch_size": "1000"},
            json={"batch_size": 2, **decoys},
        )
    )["data"]
    assert keys_of(items) == ["a", "b"]
    # A query parameter that the body does not override is used.
    items = api.ok(
        api.post(f"/api/streams/x/consumers/{consumer['id']}/receive", params={"batch_size": "5"}, json={})
    )["data"]
    assert keys_of(items) == ["c"]


def test_unknown_query_parameters_are_ignored(api, stream):
    assert api.ok(api.get(f"/api/streams/{stream['name']}", params={"foo": "bar", "wait_for": "1"})) == stream


def test_keep_alive_reuses_one_connection(api):
    parts = urlsplit(api.base_url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    conn.connect()
    sock = conn.sock
    for _ in range(5):
        conn.request("GET", "/api/streams", headers={"Accept": "application/json"})
        response = conn.getresponse()
        assert response.status == 200
        response.read()
        assert conn.sock is sock
    # Errors keep the connection too.
    conn.request("GET", "/api/nope")
    response = conn.getresponse()
    response.read()
    assert response.status == 404
    conn.request("GET", "/api/streams")
    assert conn.getresponse().status == 200
    assert conn.sock is sock
    conn.close()


def test_expect_100_continue_is_answered(api, streams):
    parts = urlsplit(api.base_url)
    name = unique()
    body = json.dumps({"name": name}).encode()
    with socket.create_connection((parts.hostname, parts.port), timeout=10) as sock:
        head = (
            f"POST /api/streams HTTP/1.1\r\nHost: x\r\nAccept: application/json\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\nExpect: 100-continue\r\n\r\n"
        )
        sock.sendall(head.encode())
        interim = b""
        while b"\r\n\r\n" not in interim:
            chunk = sock.recv(4096)
            assert chunk, "connection closed before 100 Continue"
            interim += chunk
        assert interim.startswith(b"HTTP/1.1 100")
        sock.sendall(body)
        reply = b""
        while b'"}' not in reply.split(b"\r\n\r\n", 1)[-1] or b"\r\n\r\n" not in reply:
            chunk = sock.recv(65536)
            if not chunk:
                break
            reply += chunk
    streams.track(name)
    assert b"HTTP/1.1 200" in interim + reply
    assert api.get_stream(name)["name"] == name


def test_chunked_request_body(api, streams):
    name = unique()

    def chunks():
        yield b'{"name": "'
        yield name.encode()
        yield b'"}'

    response = api.post("/api/streams", data=chunks(), headers={"Content-Type": "application/json"})
    streams.track_response(response)
    assert api.ok(response)["name"] == name


def test_http_1_0_closes_the_connection(api):
    parts = urlsplit(api.base_url)
    with socket.create_connection((parts.hostname, parts.port), timeout=10) as sock:
        sock.sendall(b"GET /api/streams HTTP/1.0\r\nAccept: application/json\r\n\r\n")
        data = b""
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
    assert data.startswith(b"HTTP/1.1 200")
    assert b'"data"' in data


def test_account_has_summary_only_400s(api, stream):
    assert_summary(
        api.post(f"/api/streams/{stream['name']}/messages", json={}), 400, "Missing or invalid messages"
    )


def test_invalid_utf8_in_query_or_form_is_a_400_and_writes_nothing(api, stream):
    s = stream["name"]
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    assert_framework(
        api.post(f"/api/streams/{s}/consumers", data="name=w&filter_key_pattern=%FF", headers=form),
        400,
        "Bad Request",
    )
    assert_framework(
        api.post(f"/api/streams/{s}/consumers?name=w&filter_key_pattern=%C3"), 400, "Bad Request"
    )
    assert_framework(
        api.get(f"/api/streams/{s}/messages", params={"key_pattern": b"\xff"}), 400, "Bad Request"
    )
    assert api.ok(api.get(f"/api/streams/{s}/consumers"))["data"] == []
    # Valid UTF-8 is fine, and an undecodable path segment is simply not found.
    consumer = api.ok(
        api.post(f"/api/streams/{s}/consumers", data="name=w&filter_key_pattern=%C3%A9", headers=form)
    )
    assert consumer["filter_key_pattern"] == "é"
    assert_not_found(api.get(f"/api/streams/{s}/messages/%FF"), "message")
    assert_not_found(api.get("/api/streams/%FF"), "stream")


def test_chunked_body_over_8mb_is_413(api):
    def chunks():
        for _ in range(9):
            yield b"x" * 1_000_000

    response = api.post("/api/streams", data=chunks(), headers={"Content-Type": "application/json"})
    assert_framework(response, 413, "Request Entity Too Large")


def test_methods_are_case_sensitive_like_phoenix_routes(sequin_base_url):
    """A lowercase `get` matches no route: the framework 404, as on the real server."""
    import http.client
    from urllib.parse import urlsplit

    parts = urlsplit(sequin_base_url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    try:
        conn.request("get", "/api/streams", headers={"Accept": "application/json"})
        answer = conn.getresponse()
        assert (answer.status, answer.read()) == (404, b'{"errors":{"detail":"Not Found"}}')
        conn.request("GET", "/api/streams", headers={"Accept": "application/json"})
        assert conn.getresponse().status == 200
    finally:
        conn.close()


def test_request_head_parsing_of_the_embedded_http_layer():
    """http_server._parse_head, without sockets: names are stripped and lower-cased (and the
    cache of names seen before changes nothing), repeated headers are joined, and a header line
    without a colon or without a name is malformed, also when its text was a valid name before
    and also at the end of the stream."""
    import io

    from pytest_sequin.server import http_server

    def parse(head: bytes):
        reader = io.BufferedReader(io.BytesIO(head))
        return http_server._parse_head(reader.readline(), reader.readline)

    ok = b"GET /api/streams HTTP/1.1\r\nX-Thing: 1\r\n x-thing :2 \r\nAccept: a\r\n\r\n"
    for _ in range(2):
        assert parse(ok) == ("GET", "/api/streams", "HTTP/1.1", {"x-thing": "1, 2", "accept": "a"})
    assert parse(b"GET / HTTP/1.1\nHost: h\n\n")[3] == {"host": "h"}
    assert parse(b"GET / HTTP/1.1\r\nHost: h")[3] == {"host": "h"}  # end of stream ends the head
    for bad in (b"X-Thing\r\n\r\n", b"X-Thing", b" : 1\r\n\r\n", b"Accept a\r\n\r\n"):
        with pytest.raises(http_server._BadRequest, match="malformed header"):
            parse(b"GET / HTTP/1.1\r\nAccept: a\r\n" + bad)
    with pytest.raises(http_server._BadRequest, match="too many headers"):
        parse(b"GET / HTTP/1.1\r\n" + b"A: 1\r\n" * (http_server.MAX_HEADERS + 1) + b"\r\n")
    assert len(parse(b"GET / HTTP/1.1\r\n" + b"A: 1\r\n" * http_server.MAX_HEADERS + b"\r\n")[3]["a"]) > 0
