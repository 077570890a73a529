"""UUID classification and generation (spec §2.2).

Sequin decides whether a path segment is an id or a name by *shape*: anything that looks like
a UUIDv4 is an id. Three shapes count, but only the hyphenated one can actually be used; the
other two are classified as ids and then fail the database cast (a framework 400).
"""

from __future__ import annotations

import os
import re

_HEX = "[0-9a-fA-F]"
_HYPHENATED = re.compile(rf"{_HEX}{{8}}-{_HEX}{{4}}-4{_HEX}{{3}}-[89abAB]{_HEX}{{3}}-{_HEX}{{12}}")
_COMPACT = re.compile(rf"{_HEX}{{12}}4{_HEX}{{3}}[89abAB]{_HEX}{{15}}")
_URN_PREFIX = "urn:uuid:"

#: Classification results of :func:`classify`.
HYPHENATED = "hyphenated"
NON_CANONICAL = "non_canonical"


def classify(value: str) -> str | None:
    """Return HYPHENATED, NON_CANONICAL (32-hex or urn form), or None (a name)."""
    if len(value) == 36 and _HYPHENATED.fullmatch(value):
        return HYPHENATED
    if len(value) == 32 and _COMPACT.fullmatch(value):
        return NON_CANONICAL
    if len(value) == 45 and value[:9].lower() == _URN_PREFIX and _HYPHENATED.fullmatch(value[9:]):
        return NON_CANONICAL
    return None


def is_canonical_uuid(value: object) -> bool:
    """True for a hyphenated UUID of any version: what PostgreSQL's uuid type accepts here."""
    return isinstance(value, str) and len(value) == 36 and _ANY_UUID.fullmatch(value) is not None


_ANY_UUID = re.compile(rf"{_HEX}{{8}}-{_HEX}{{4}}-{_HEX}{{4}}-{_HEX}{{4}}-{_HEX}{{12}}")


def new_uuid4() -> str:
    """A random lowercase UUIDv4 string.

    Hand-rolled rather than ``str(uuid.uuid4())`` because the engine makes one per
    consumer-message row and this is about three times cheaper.
    """
    n = int.from_bytes(os.urandom(16), "big")
    n = (n & ~(0xF000 << 64)) | (0x4000 << 64)  # version 4
    n = (n & ~(0xC000 << 48)) | (0x8000 << 48)  # RFC 4122 variant
    h = f"{n:032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"
