"""Request parameter decoding as Plug does it (spec §0): query strings, bodies, path segments.

Values from query strings and form bodies are strings; ``a[]=1`` makes a list and ``a[b]=1`` a
map, which matters because several endpoints answer 500 for a non-string parameter.
"""

from __future__ import annotations

import decimal
import functools
import json
import math
import re
from typing import Any
from urllib.parse import unquote_to_bytes

from .errors import ApiError, framework_error

MAX_BODY_BYTES = 8_000_000

_BAD_PERCENT = re.compile(rb"%(?![0-9A-Fa-f]{2})")
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")


def percent_decode(raw: str, *, plus_is_space: bool = False, validate_utf8: bool = False) -> str:
    """Decode %XX escapes; a malformed escape is a framework 400, as in Plug.

    Query strings and form bodies are checked for UTF-8 (``validate_utf8``), as Plug.Parsers
    does: invalid UTF-8 there is a framework 400, never a value that cannot be sent back.
    """
    if raw.isascii() and "%" not in raw and not (plus_is_space and "+" in raw):
        return raw  # what the steps below give for it, at a tenth of the cost (bench figure 2.3)
    data = raw.encode("latin-1", "surrogateescape") if not raw.isascii() else raw.encode("ascii")
    if plus_is_space:
        data = data.replace(b"+", b" ")
    if b"%" in data:
        if _BAD_PERCENT.search(data):
            raise framework_error(400, before_endpoint=True, cause="malformed percent-encoding")
        data = unquote_to_bytes(data)
    if validate_utf8:
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            raise framework_error(
                400, before_endpoint=True, cause="query or form value is not UTF-8"
            ) from None
    # Path segments: undecodable bytes are kept (as surrogate escapes) so they simply match no
    # name or key.
    return data.decode("utf-8", "surrogateescape")


_ROOT = ""  # the level of top-level keys; a real level is never empty


class _Pointer:
    """An entry's value that is the nested collection stored under another level."""

    __slots__ = ("level",)

    def __init__(self, level: str) -> None:
        self.level = level


class _Decoder:
    """Plug 1.16's ``Plug.Conn.Query.decode_init/each/done``, for query strings and form bodies.

    Every bracketed level of a key (``users``, ``users[]``, ``users[a]`` ...) keeps its own list
    of (sub-key, value) entries; a level whose newest entry has no sub-key (``[]``) is a list,
    any other a map (later keys win). So ``a[b][c]=1`` nests two maps, ``a[]=1&a[]=2`` is a
    list, and ``m[][key]=k&m[][data]=d`` is a list of *one* map (Plug merges the fields).
    """

    def __init__(self) -> None:
        self._levels: dict[str, list[tuple[str | None, Any]]] = {_ROOT: []}

    def add(self, key: str, value: str) -> None:
        keys = self._split(key)
        current: Any = value
        for level, sub_key in keys:
            entries = self._levels.get(level)
            if entries is not None:
                entries.append((sub_key, current))
                return
            self._levels[level] = [(sub_key, current)]
            current = _Pointer(level)

    @staticmethod
    def _split(key: str) -> list[tuple[str, str | None]]:
        """Deepest level first, as Plug's ``split_keys`` returns them."""
        pos = key.find("[")
        if not key.endswith("]") or pos <= 0:
            return [(_ROOT, key)]
        keys: list[tuple[str, str | None]] = [(_ROOT, key[:pos])]
        level, start, i = key[:pos], pos + 1, pos + 1
        while i < len(key):
            if key.startswith("][", i):
                keys.append((level, key[start:i] or None))
                level, start, i = key[: i + 1], i + 2, i + 2
            elif i == len(key) - 1:  # the final "]"
                keys.append((level, key[start:i] or None))
                break
            else:
                i += 1
        keys.reverse()
        return keys

    def done(self) -> dict[str, Any]:
        return self._map(self._levels[_ROOT])

    def _value(self, value: Any) -> Any:
        if not isinstance(value, _Pointer):
            return value
        entries = self._levels[value.level]
        return self._list(entries) if entries[-1][0] is None else self._map(entries)

    def _map(self, entries: list[tuple[str | None, Any]]) -> dict[str, Any]:
        return {k: self._value(v) for k, v in entries if k is not None}

    def _list(self, entries: list[tuple[str | None, Any]]) -> list[Any]:
        return [self._value(v) for k, v in entries if k is None]


def decode_query(query: str) -> dict[str, Any]:
    if not query:
        return {}
    decoder = _Decoder()
    for pair in query.split("&"):
        if not pair:
            continue
        key, _, value = pair.partition("=")
        key = percent_decode(key, plus_is_space=True, validate_utf8=True)
        decoder.add(key, percent_decode(value, plus_is_space=True, validate_utf8=True))
    return decoder.done()


def _reject_constant(name: str) -> Any:
    raise ValueError(f"invalid JSON constant {name}")


def _finite_float(text: str) -> float:
    """Jason reads a number with a fraction or exponent by ``:erlang.binary_to_float``, which
    fails (a decode error) where Python overflows to infinity: ``1e400`` is malformed JSON."""
    value = float(text)
    if value in (math.inf, -math.inf):
        raise ValueError(f"number {text} is out of the float range")
    return value


def _any_int(text: str) -> int:
    """Jason reads integers of any size; Python's str-to-int conversion stops at 4300 digits."""
    return int(text) if len(text) < 4000 else int(decimal.Decimal(text))


#: ``json.loads(text, parse_constant=...)`` builds a decoder per call; one is enough (the
#: module's own default decoder is shared by every thread the same way).
_decoder = json.JSONDecoder(parse_constant=_reject_constant, parse_float=_finite_float, parse_int=_any_int)
_scan_once = _decoder.scan_once
_skip_whitespace = json.decoder.WHITESPACE.match  # type: ignore[attr-defined]


def _decode(text: str) -> Any:
    """``_decoder.decode(text)``, the same value or error, without its two Python frames and
    two regex calls when the text neither starts nor ends with whitespace (~0.6 us a body)."""
    end = _skip_whitespace(text, 0).end() if text[:1] in _JSON_WHITESPACE else 0
    try:
        value, end = _scan_once(text, end)
    except StopIteration as err:
        raise json.JSONDecodeError("Expecting value", text, err.value) from None
    if end != len(text):
        end = _skip_whitespace(text, end).end()
        if end != len(text):
            raise json.JSONDecodeError("Extra data", text, end)
    return value


_JSON_WHITESPACE = frozenset(" \t\n\r")


def decode_json_body(body: bytes) -> dict[str, Any]:
    """JSON as Jason accepts it: UTF-8, no NaN/Infinity, no lone surrogate escapes."""
    if not body or body.isspace():  # what `not body.strip()` says, without copying the body
        return {}
    try:
        text = body.decode("utf-8")
        value = _decode(text)
        # A one-byte find is a memchr; the regex (or a two-byte find) costs ~1 ns per byte.
        if b"\\" in body and _SURROGATE_ESCAPE.search(text):
            json.dumps(value, ensure_ascii=False).encode("utf-8")
    except (ValueError, RecursionError, UnicodeError) as exc:
        raise framework_error(400, before_endpoint=True, cause=f"malformed JSON body: {exc}") from None
    if isinstance(value, dict):
        return value
    return {"_json": value}


def decode_multipart(body: bytes, content_type: str) -> dict[str, Any]:
    """Form fields of a multipart body (file parts are kept as their text too)."""
    from email.parser import BytesParser
    from email.policy import HTTP

    message = BytesParser(policy=HTTP).parsebytes(
        b"Content-Type: " + content_type.encode("latin-1") + b"\r\n\r\n" + body
    )
    decoder = _Decoder()
    if not message.is_multipart():
        raise framework_error(400, before_endpoint=True, cause="malformed multipart body")
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if name:
            payload = part.get_payload(decode=True)
            text = payload.decode("utf-8", "replace") if isinstance(payload, bytes) else ""
            decoder.add(str(name), text)
    return decoder.done()


@functools.lru_cache(maxsize=256)  # a client sends the same Content-Type on every request
def media_type(content_type: str) -> str:
    """The lower-case media type of a Content-Type header, without parameters."""
    return content_type.split(";", 1)[0].strip().lower()


@functools.lru_cache(maxsize=256)
def is_json_media(content_type: str | None) -> bool:
    """Whether Plug.Parsers.JSON takes a body of this Content-Type (``application/json`` or
    ``application/*+json``)."""
    if not content_type:
        return False
    media = media_type(content_type)
    return media == "application/json" or (media.startswith("application/") and media.endswith("+json"))


def decode_body(body: bytes, content_type: str | None) -> dict[str, Any]:
    """Body parameters by content type; any other type is accepted and ignored (no 415)."""
    if len(body) > MAX_BODY_BYTES:
        raise framework_error(413, before_endpoint=True, cause="body over 8,000,000 bytes")
    if not content_type:
        return {}
    if is_json_media(content_type):
        return decode_json_body(body)
    media = media_type(content_type)
    if media == "application/x-www-form-urlencoded":
        # Bytes as latin-1 characters, like a request line: percent_decode turns them back into
        # bytes and checks UTF-8 (a raw "é" is fine, invalid UTF-8 is a framework 400).
        return decode_query(body.decode("latin-1"))
    if media == "multipart/form-data":
        return decode_multipart(body, content_type)
    return {}


__all__ = ["ApiError", "decode_body", "decode_query", "percent_decode", "MAX_BODY_BYTES"]
