"""From an HTTP request to an HTTP answer, without sockets (spec §0, §3, §5.3).

This is the Phoenix part of the real server: body parsing, method override, routing, content
negotiation, merging parameters and rendering. :func:`handle` is a pure function of the engine
and the request, so it can be tested without a network.
"""

from __future__ import annotations

import json
import logging
from typing import Any, Callable, Mapping

from .engine import Engine
from .errors import ApiError, framework_error
from .negotiation import ABSENT, negotiate
from .params import decode_body, decode_query, is_json_media, percent_decode

log = logging.getLogger("pytest_sequin.server")

JSON_TYPE = "application/json; charset=utf-8"
HTML_TYPE = "text/html; charset=utf-8"


class Response:
    __slots__ = ("status", "content_type", "body")

    def __init__(self, status: int, content_type: str, body: bytes) -> None:
        self.status = status
        self.content_type = content_type
        self.body = body


#: One encoder for every answer: ``json.dumps`` with options builds a new encoder per call.
_encode = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


def _json(status: int, payload: Any) -> Response:
    return Response(status, JSON_TYPE, _encode(payload).encode())


#: The formats of the ``:api`` pipeline's ``plug :accepts, ["json"]`` and of the endpoint's
#: ``render_errors`` (``formats: [html: ErrorHTML, json: ErrorJSON]``).
API_FORMATS = ("json",)
ERROR_FORMATS = ("html", "json")


def accepts_json(accept: str | None, format_param: Any = ABSENT) -> bool:
    """The ``:api`` pipeline's ``accepts ["json"]``: False is its 406 (§0)."""
    return negotiate(accept, API_FORMATS, format_param) is not None


def prefers_json_errors(accept: str | None, format_param: Any = ABSENT) -> bool:
    """Errors raised before an endpoint render as JSON only if negotiation picks JSON (§5.3);
    where it finds nothing, Phoenix falls back to the first format, HTML."""
    return negotiate(accept, ERROR_FORMATS, format_param) == "json"


def render_error(error: ApiError, accept: str | None, format_param: Any = ABSENT) -> Response:
    """``format_param`` is the request's ``_format`` parameter as the error renderer sees it
    (query string, and body once it was parsed), or :data:`ABSENT`."""
    if error.cause:
        log.warning("answering %s as the real Sequin would: %s", error.status, error.cause)
    if error.framework and error.before_endpoint and not prefers_json_errors(accept, format_param):
        return Response(error.status, HTML_TYPE, error.body["errors"]["detail"].encode())
    return _json(error.status, error.body)


# -- actions ----------------------------------------------------------------------------------

Action = Callable[[Engine, Mapping[str, Any]], Response]


def _receive(engine: Engine, p: Mapping[str, Any]) -> Response:
    items = engine.receive(p["consumer"], p)
    # One join of small pieces and payloads: each payload is copied once into the answer, not
    # into a message string, an item string, the list and the body in turn (bench figure 2.4).
    parts = ['{"data":[']
    append, extend = parts.append, parts.extend
    for ack_id, message in items:
        append('{"ack_id":"')
        append(ack_id)
        append('","message":')
        extend(message.json_parts())
        append("},")
    if items:
        parts[-1] = "}"
    append("]}")
    return Response(200, JSON_TYPE, "".join(parts).encode())


def _list_messages(engine: Engine, p: Mapping[str, Any]) -> Response:
    items = engine.list_messages(p["stream"], p)
    parts = ['{"data":[']
    for message in items:
        parts.extend(message.json_parts())
        parts.append(",")
    if items:
        parts.pop()
    parts.append("]}")
    return Response(200, JSON_TYPE, "".join(parts).encode())


def _get_message(engine: Engine, p: Mapping[str, Any]) -> Response:
    return Response(200, JSON_TYPE, engine.get_message(p["stream"], p["key"]).to_json().encode())


def _consumer_info(engine: Engine, p: Mapping[str, Any]) -> Response:
    message, infos = engine.message_consumer_info(p["stream"], p["key"])
    return _json(200, {"data": {"message": message.to_dict(), "consumer_info": infos}})


def _peek(engine: Engine, p: Mapping[str, Any]) -> Response:
    items = engine.peek(p["stream"], p["consumer"], p)
    encode = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
    body = ",".join(f'{{"message":{m.to_json()},"info":{encode(info)}}}' for m, info in items)
    return Response(200, JSON_TYPE, f'{{"data":[{body}]}}'.encode())


def _update_stream(engine: Engine, p: Mapping[str, Any]) -> Response:
    raise framework_error(500, cause="PUT/PATCH /api/streams/{s}: the route exists but its action does not")


#: ``_json(200, {"success": True})``, encoded once (the encoder costs ~2 us a call).
_SUCCESS = b'{"success":true}'


def _ack(engine: Engine, p: Mapping[str, Any]) -> Response:
    engine.ack(p["consumer"], p)
    return Response(200, JSON_TYPE, _SUCCESS)


def _nack(engine: Engine, p: Mapping[str, Any]) -> Response:
    engine.nack(p["consumer"], p)
    return Response(200, JSON_TYPE, _SUCCESS)


def _publish(engine: Engine, p: Mapping[str, Any], plain: bool = False) -> Response:
    published = engine.publish(p["stream"], p, plain=plain)
    return Response(200, JSON_TYPE, b'{"data":{"published":%d}}' % published)


def _plain_json_strings(request: Request, query_params: Mapping[str, Any]) -> bool:
    """Whether every string of the publish's ``messages`` is known to need no JSON escaping.

    True when they come from a JSON body without a single backslash: JSON strings cannot hold a
    raw ``"`` or control character, so without escapes none of them holds a character that
    encoding would escape (and no NUL). A ``messages`` in the query string could be anything.
    """
    if "messages" in query_params or b"\\" in request.body:
        return False
    return is_json_media(request.headers.get("content-type"))


_ROUTES: dict[tuple[str, ...], dict[str, Action]] = {
    ("streams",): {
        "GET": lambda e, p: _json(200, {"data": e.list_streams()}),
        "POST": lambda e, p: _json(200, e.create_stream(p)),
    },
    ("streams", "*"): {
        "GET": lambda e, p: _json(200, e.get_stream(p["stream"])),
        "DELETE": lambda e, p: _json(200, e.delete_stream(p["stream"])),
        "PUT": _update_stream,
        "PATCH": _update_stream,
    },
    ("streams", "*", "consumers"): {
        "GET": lambda e, p: _json(200, {"data": e.list_consumers(p["stream"])}),
        "POST": lambda e, p: _json(200, e.create_consumer(p["stream"], p)),
    },
    ("streams", "*", "consumers", "*"): {
        "GET": lambda e, p: _json(200, e.get_consumer(p["stream"], p["consumer"])),
        "PUT": lambda e, p: _json(200, e.update_consumer(p["stream"], p["consumer"], p)),
        "PATCH": lambda e, p: _json(200, e.update_consumer(p["stream"], p["consumer"], p)),
        "DELETE": lambda e, p: _json(200, e.delete_consumer(p["stream"], p["consumer"])),
    },
    ("streams", "*", "consumers", "*", "receive"): {"GET": _receive, "POST": _receive},
    ("streams", "*", "consumers", "*", "ack"): {"POST": _ack},
    ("streams", "*", "consumers", "*", "nack"): {"POST": _nack},
    ("streams", "*", "consumers", "*", "messages"): {"GET": _peek},
    ("streams", "*", "messages"): {"GET": _list_messages, "POST": _publish},
    ("streams", "*", "messages", "*"): {"GET": _get_message},
    ("streams", "*", "messages", "*", "consumer_info"): {"GET": _consumer_info},
}

#: A dynamic path segment is named after the collection segment before it.
_PATH_PARAM_NAMES = {"streams": "stream", "consumers": "consumer", "messages": "key"}


#: The route patterns by segment count, in declaration order.
_ROUTES_BY_LENGTH: dict[int, list[tuple[str, ...]]] = {}
for _pattern in _ROUTES:
    _ROUTES_BY_LENGTH.setdefault(len(_pattern), []).append(_pattern)


def _match(segments: list[str]) -> tuple[tuple[str, ...], dict[str, str]] | None:
    """Literal segments compare raw; dynamic ones are percent-decoded (as Phoenix does).

    Patterns are tried in order and a dynamic segment is decoded when reached (a malformed
    one is a 400 even if a later literal would not match); each segment is decoded once.
    """
    decoded: dict[int, str] = {}
    for pattern in _ROUTES_BY_LENGTH.get(len(segments), ()):
        path_params: dict[str, str] = {}
        for i, (expected, actual) in enumerate(zip(pattern, segments)):
            if expected == "*":
                value = decoded.get(i)
                if value is None:
                    value = decoded[i] = percent_decode(actual)
                path_params[_PATH_PARAM_NAMES[pattern[i - 1]]] = value
            elif expected != actual:
                break
        else:
            return pattern, path_params
    return None


#: Paths under /api that matched a route, and their match (the path parameters are copied into
#: each request's parameters, never changed). Matching is a pure function of the path, and a
#: client sends the same few paths over and over: the split, the pattern loop and the segment
#: decoding cost ~1.5 us a request (bench figure 2.3). A path that fails to match (404, or a 400
#: for bad percent-encoding) is not kept, so every error is raised as before.
_ROUTE_CACHE: dict[str, tuple[tuple[str, ...], dict[str, str]]] = {}
_ROUTE_CACHE_SIZE = 4096


class Request:
    __slots__ = ("method", "target", "headers", "body")

    def __init__(self, method: str, target: str, headers: Mapping[str, str], body: bytes = b"") -> None:
        self.method = method
        self.target = target
        #: Lower-case header names.
        self.headers = headers
        self.body = body


#: Hook for paths outside /api (the embedded server's private control routes).
ExtraRoute = Callable[[str, list[str], dict[str, Any]], "Response | None"]


def handle(engine: Engine, request: Request, extra_routes: ExtraRoute | None = None) -> Response:
    """Answer one request. Never raises: any failure becomes the real server's answer."""
    accept = request.headers.get("accept")
    seen: dict[str, Any] = {}
    try:
        return _dispatch(engine, request, accept, extra_routes, seen)
    except ApiError as error:
        return render_error(error, accept, seen.get("_format", ABSENT))
    except Exception:  # an emulator bug: answer like a crash, loudly in the log
        log.exception("embedded Sequin failed on %s %s", request.method, request.target)
        return _json(500, {"errors": {"detail": "Internal Server Error"}})


def _dispatch(
    engine: Engine,
    request: Request,
    accept: str | None,
    extra_routes: ExtraRoute | None,
    seen: dict[str, Any],
) -> Response:
    """``seen`` receives the ``_format`` parameter once it is known, for the error renderer:
    Phoenix's renders with the query string's when the body could not be parsed, and with the
    merged parameters' after."""
    path, _, query = request.target.partition("?")
    path = path.split("#", 1)[0]
    query_params = decode_query(query.split("#", 1)[0])
    if "_format" in query_params:
        seen["_format"] = query_params["_format"]
    body_params = decode_body(request.body, request.headers.get("content-type"))
    if "_format" in body_params:
        seen["_format"] = body_params["_format"]
    # Methods are case-sensitive (RFC 9110), and Phoenix routes match them exactly: a lowercase
    # `get` reaches no route, so it is the framework 404.
    method = request.method
    if method == "POST":
        override = body_params.get("_method")
        if isinstance(override, str) and override.upper() in ("PUT", "PATCH", "DELETE"):
            method = override.upper()
    if method == "HEAD":
        method = "GET"
    matched = _ROUTE_CACHE.get(path)
    if matched is None:
        segments = [s for s in path.split("/") if s]
        if extra_routes is not None and segments and segments[0].startswith("_"):
            answer = extra_routes(method, segments, {**query_params, **body_params})
            if answer is not None:
                return answer
        matched = _match(segments[1:]) if segments[:1] == ["api"] else None
        if matched is None:
            raise framework_error(404, before_endpoint=True)
        if len(_ROUTE_CACHE) >= _ROUTE_CACHE_SIZE:
            _ROUTE_CACHE.clear()
        _ROUTE_CACHE[path] = matched
    pattern, path_params = matched
    action = _ROUTES[pattern].get(method)
    if action is None:
        raise framework_error(404, before_endpoint=True)
    params: dict[str, Any] = {**query_params, **body_params}
    if not accepts_json(accept, params.get("_format", ABSENT)):
        raise framework_error(406, before_endpoint=True)
    params.update(path_params)
    if action is _publish:
        return _publish(engine, params, _plain_json_strings(request, query_params))
    return action(engine, params)
