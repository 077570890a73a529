"""Field casting of consumer create/update bodies, as Ecto changesets do it (spec §3.5c/d).

Each caster returns a :class:`Cast`: the value, "use the schema default", or an error message.
Kept apart from the engine because the rules (which strings count as empty, what an integer
string may look like, which nulls are a 500 later) are fiddly and deserve their own tests.
"""

from __future__ import annotations

import calendar
import re
from typing import Any, Iterable

INT32_MIN = -(2**31)
INT32_MAX = 2**31 - 1

INVALID = "is invalid"
BLANK = "can't be blank"

_INTEGER_STRING = re.compile(r"[+-]?[0-9]+")
_DATETIME = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,6})\d*)?(Z|[+-]\d{2}:?\d{2})?"
)


class _Default:
    """Marker: an empty value, replaced by the field's schema default (Ecto's empty_values)."""

    def __repr__(self) -> str:
        return "DEFAULT"


DEFAULT = _Default()


class Cast:
    __slots__ = ("value", "error")

    def __init__(self, value: Any = None, error: Any = None) -> None:
        self.value = value
        self.error = error


#: Unicode's White_Space property, what Elixir's ``String.trim/1`` removes. Python's
#: ``str.strip()`` also removes U+001C..U+001F, which Elixir keeps.
_WHITE_SPACE = (
    "\t\n\x0b\x0c\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006"
    "\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
)


def is_blank(value: Any) -> bool:
    """Ecto treats empty and whitespace-only strings as "no value"."""
    return isinstance(value, str) and value.strip(_WHITE_SPACE) == ""


def cast_string(value: Any) -> Cast:
    if value is None:
        return Cast(None)
    if not isinstance(value, str):
        return Cast(error=INVALID)
    return Cast(DEFAULT if is_blank(value) else value)


def cast_integer(value: Any) -> Cast:
    """JSON integers, or strings that are entirely an integer (sign allowed, < 32 bytes)."""
    if value is None:
        return Cast(None)
    if type(value) is int:
        return Cast(value)
    if isinstance(value, str):
        if is_blank(value):
            return Cast(DEFAULT)
        if len(value.encode("utf-8", "surrogatepass")) < 32 and _INTEGER_STRING.fullmatch(value):
            return Cast(int(value))
    return Cast(error=INVALID)


def cast_enum(value: Any, allowed: Iterable[str]) -> Cast:
    if value is None:
        return Cast(None)
    if isinstance(value, str):
        if is_blank(value):
            return Cast(DEFAULT)
        if value in allowed:
            return Cast(value)
    return Cast(error=INVALID)


def cast_datetime_us(value: Any) -> Cast:
    """An ISO-8601 timestamp to µs since the epoch (naive times are taken as UTC)."""
    if value is None:
        return Cast(None)
    if not isinstance(value, str):
        return Cast(error=INVALID)
    if is_blank(value):
        return Cast(DEFAULT)
    match = _DATETIME.fullmatch(value)
    if not match:
        return Cast(error=INVALID)
    year, month, day, hour, minute, second = (int(g) for g in match.groups()[:6])
    fraction, offset = match.group(7), match.group(8)
    try:
        if not (1 <= month <= 12 and 1 <= day <= calendar.monthrange(year, month)[1]):
            raise ValueError
        if hour > 23 or minute > 59 or second > 59:
            raise ValueError
    except ValueError:
        return Cast(error=INVALID)
    seconds = calendar.timegm((year, month, day, hour, minute, second, 0, 0, 0))
    if offset and offset != "Z":
        sign = 1 if offset[0] == "+" else -1
        digits = offset[1:].replace(":", "")
        seconds -= sign * (int(digits[:2]) * 3600 + int(digits[2:]) * 60)
    micros = int((fraction or "0").ljust(6, "0"))
    return Cast(seconds * 1_000_000 + micros)


def cast_endpoint_id(value: Any) -> Cast:
    """Any string passes the cast; a non-UUID string only fails when the row is written (500)."""
    if value is None:
        return Cast(None)
    if not isinstance(value, str):
        return Cast(error=INVALID)
    return Cast(DEFAULT if is_blank(value) else value)


#: The start of the RFC 3986 appendix B regex as Elixir's ``URI.parse/1`` uses it (scheme, then
#: ``//authority``), and its split of an authority into userinfo, host and port.
_URI_HEAD = re.compile(r"(?:([a-zA-Z][a-zA-Z0-9+\-.]*):)?(//([^/?#]*))?")
_AUTHORITY = re.compile(r"(?:(.*)@)?(\[[a-zA-Z0-9:.]*\]|[^:]*)(?::(\d*))?")


def has_scheme_and_host(url: str) -> bool:
    """The endpoint changeset's check: ``URI.parse(url)`` has a binary ``scheme`` and ``host``.

    Elixir's parser, not Python's ``urlsplit``: it strips nothing (``" http://h"`` has no scheme),
    never raises (``"http://[bad"`` has the host ``bad``), and a bare ``//`` authority gives the
    host ``""``, which passes (``"http://"``, ``"file:///etc"``).
    """
    head = _URI_HEAD.match(url)
    if head is None or head.group(1) is None or head.group(2) is None:
        return False
    authority = head.group(3)
    if authority == "":
        return True
    host = _AUTHORITY.match(authority)
    return host is not None and host.group(2) != ""


def cast_inline_endpoint(value: Any) -> Cast:
    """The inline ``http_endpoint`` object of a push consumer; errors are a nested object."""
    if not isinstance(value, dict):
        return Cast(error=[INVALID])
    errors: dict[str, list[str]] = {}
    base_url = value.get("base_url")
    if base_url is None or is_blank(base_url):
        errors["base_url"] = [BLANK]
    elif not isinstance(base_url, str):
        errors["base_url"] = [INVALID]
    elif not has_scheme_and_host(base_url):
        errors["base_url"] = ["must be a valid URL with scheme and host"]
    name = value.get("name")
    if name is not None and not isinstance(name, str):
        errors["name"] = [INVALID]
    headers = value.get("headers")
    if headers is not None and not isinstance(headers, dict):  # an Ecto :map: any JSON object
        errors["headers"] = [INVALID]
    if errors:
        return Cast(error=errors)
    return Cast({"base_url": base_url, "name": name, "headers": dict(headers or {})})


def out_of_int32(value: Any) -> bool:
    return type(value) is int and not (INT32_MIN <= value <= INT32_MAX)
