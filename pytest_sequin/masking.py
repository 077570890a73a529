"""Masking credentials in URLs before they are printed (headers, error messages, summaries).

Its own module, stdlib only, so that both the client package and the backends use it without
importing each other.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

__all__ = ["mask_url"]

_MASK = "***"
# Query parameters whose values are secrets often enough that we never print them.
_SECRET_QUERY_KEY = re.compile(r"(token|secret|passw|pwd|key|auth|sig|credential)", re.IGNORECASE)


def mask_url(url: str) -> str:
    """Return ``url`` with credentials replaced by ``***`` so it can be printed.

    A password becomes ``***`` (the user name stays, it helps to tell servers apart); a
    lone user name is masked too, because ``https://TOKEN@host`` is a common way to pass a
    token.  Values of query parameters that look secret (``token``, ``api_key``...) are
    masked as well.  Anything unparsable is returned unchanged, rather than raising in
    the middle of error reporting.
    """
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, _, hostport = netloc.rpartition("@")
        if ":" in userinfo:
            user = userinfo.split(":", 1)[0]
            netloc = f"{user}:{_MASK}@{hostport}" if user else f":{_MASK}@{hostport}"
        else:
            netloc = f"{_MASK}@{hostport}"
    query = parts.query
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        if any(_SECRET_QUERY_KEY.search(k) for k, _ in pairs):
            query = urlencode(
                [(k, _MASK if _SECRET_QUERY_KEY.search(k) else v) for k, v in pairs],
                safe="*",
                quote_via=quote,
            )
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))
