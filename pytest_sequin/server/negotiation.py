"""Content negotiation as Phoenix 1.7's ``accepts/2`` does it (spec §0 "Accept", §5.3).

Two decisions of the real server hang on it: the ``:api`` pipeline's ``plug :accepts, ["json"]``
(a 406 when it finds no format), and the error renderer's ``accepts(["html", "json"])``, which
picks between the HTML and the JSON body of an error raised before an endpoint ran. Both are one
algorithm, ported here clause by clause because its corners are not what RFC 9110 suggests:

* a ``_format`` parameter, when present, decides alone (the header is not read);
* no header, or exactly ``*/*``, gives the first format of the list;
* a header that *contains* ``*/*`` gives ``html`` when ``html`` is in the list (Phoenix assumes
  a browser), so ``application/json, */*`` renders errors as HTML;
* ``q=0`` does not exclude a type (entries are only ordered by q), and an unparsable q counts
  as 1.0;
* an empty header, or one with no usable entry, finds no format.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any, Sequence

#: The MIME library's extensions for the two types that matter here; any other concrete type
#: has extensions that are neither ``json`` nor ``html`` (``application/vnd.api+json`` is
#: ``json-api``), so it matches no format.
_EXTENSIONS = {"application/json": ["json"], "text/html": ["html", "htm"]}
#: ``MIME.type/1`` of each format, for ranges such as ``application/*``.
_FORMAT_TYPES = {"json": "application", "html": "text"}
#: What Elixir's ``Float.parse/1`` reads at the start of a string.
_FLOAT_PREFIX = re.compile(r"[+-]?[0-9]+(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?")
_SPACES = " \t"

#: ``format_param`` value meaning "no ``_format`` parameter".
ABSENT: Any = object()


def _media_type(entry: str) -> tuple[str, str, dict[str, str]] | None:
    """``Plug.Conn.Utils.media_type/1``: ``type/subtype`` lowercased, then ``;``-parameters."""
    text = entry.strip(_SPACES)
    if text.startswith("*/*"):
        kind, subtype, rest = "*", "*", text[3:]
    else:
        slash = text.find("/")
        if slash <= 0:
            return None
        kind = text[:slash].lower()
        tail = text[slash + 1 :]
        end = len(tail)
        for i, char in enumerate(tail):
            if char in " \t;":
                end = i
                break
        subtype, rest = tail[:end].lower(), tail[end:]
        if not subtype and not rest:
            return None
    rest = rest.strip(_SPACES)
    if not rest:
        return kind, subtype, {}
    if not rest.startswith(";"):
        return None
    params: dict[str, str] = {}
    for part in rest[1:].split(";"):
        key, sep, value = part.strip(_SPACES).partition("=")
        if sep and key and not any(c in key for c in ' \t()<>@,;:\\"/[]?={}'):
            params[key.lower()] = value.strip(_SPACES).strip('"')
    return kind, subtype, params


def _quality(params: dict[str, str]) -> float:
    """Phoenix's ``parse_q``: ``Float.parse`` of the prefix, 1.0 when there is none."""
    raw = params.get("q")
    if raw is None:
        return 1.0
    match = _FLOAT_PREFIX.match(raw)
    return float(match.group()) if match else 1.0


def _find_format(exts: str | list[str], accepted: Sequence[str]) -> str | None:
    if exts == "*/*":
        return accepted[0]
    if isinstance(exts, list):
        return next((ext for ext in exts if ext in accepted), None)
    return next((fmt for fmt in accepted if _FORMAT_TYPES.get(fmt) == exts), None)


def negotiate(accept: str | None, accepted: tuple[str, ...], format_param: Any = ABSENT) -> str | None:
    """The format Phoenix's ``accepts(conn, accepted)`` puts on the connection, or None where
    it raises ``Phoenix.NotAcceptableError``."""
    if format_param is not ABSENT:
        return format_param if isinstance(format_param, str) and format_param in accepted else None
    return _negotiate_header(accept, accepted)


@lru_cache(maxsize=256)  # a client sends the same Accept header on every request
def _negotiate_header(accept: str | None, accepted: tuple[str, ...]) -> str | None:
    if accept is None or accept == "*/*":
        return accepted[0]
    if "*/*" in accept and "html" in accepted:
        return "html"
    ranked: list[tuple[float, bytes, str | list[str]]] = []
    for entry in accept.split(","):
        parsed = _media_type(entry)
        if parsed is None:
            continue
        kind, subtype, params = parsed
        if kind == "*" and subtype == "*":
            exts: str | list[str] = "*/*"
        elif subtype == "*":
            exts = kind
        else:
            exts = _EXTENSIONS.get(f"{kind}/{subtype}", [])
        quality = _quality(params)
        if quality == 1.0:
            found = _find_format(exts, accepted)
            if found:
                return found
        ranked.append((-quality, entry.encode("utf-8", "surrogateescape"), exts))
    for _, _, exts in sorted(ranked, key=lambda r: (r[0], r[1])):
        found = _find_format(exts, accepted)
        if found:
            return found
    return None
