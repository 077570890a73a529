"""URL building shared by the SDK-style methods and the handles.

Every path segment is percent-encoded with ``quote(seg, safe="")``: sequin-py interpolates names
and keys raw, so a key containing ``/``, ``#``, ``%`` or ``?`` addresses another URL.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

__all__ = ["query", "seg"]


def seg(value: Any) -> str:
    """One percent-encoded path segment; ``str()`` first, as the SDK's f-strings do."""
    return quote(str(value), safe="")


def query(**params: Any) -> str:
    """``?a=1&b=2`` from the params that were given: None means "not sent", so server defaults apply.

    Booleans become ``true``/``false`` (the server rejects Python's ``True``).
    """
    pairs = []
    for name, value in params.items():
        if value is None:
            continue
        if isinstance(value, bool):
            value = "true" if value else "false"
        pairs.append(f"{name}={quote(str(value), safe='')}")
    return "?" + "&".join(pairs) if pairs else ""
