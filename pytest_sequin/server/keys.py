"""Message keys and the two kinds of key pattern (spec §2.3, §2.4).

Pure functions, no state: this is where "does `orders.*` match `orders`?" is decided, and the
answer differs between a consumer's ``filter_key_pattern`` (exact token count) and the
``key_pattern`` query filter of the list endpoints (trailing ``*`` also matches shorter keys).
"""

from __future__ import annotations

import re
import unicodedata
from typing import Sequence

MAX_KEY_LENGTH = 255
MAX_TOKENS = 16

_PRINTABLE_ASCII = re.compile(r"[ -~]*")


def grapheme_length(text: str) -> int:
    """Length in user-perceived characters, as Elixir's ``String.length/1`` counts it.

    An approximation of Unicode grapheme clusters that covers what reaches it in practice:
    combining marks, variation selectors and zero-width joiner sequences extend the previous
    character, ``\\r\\n`` is one character. Keys with any non-ASCII character fail later with the
    database's 500 anyway, so only the choice between the 400 "exceed 255" and that 500 depends
    on this count.
    """
    if text.isascii():
        return len(text) - text.count("\r\n")
    count = 0
    joined = False
    previous = ""
    for char in text:
        extends = (
            joined
            or unicodedata.combining(char) != 0
            or unicodedata.category(char) in ("Mn", "Me", "Mc")
            or "\ufe00" <= char <= "\ufe0f"
            or char == "\u200d"
            or (previous == "\r" and char == "\n")
        )
        joined = char == "\u200d"
        if not extends or count == 0:
            count += 1
        previous = char
    return count


def key_format_error(key: str) -> str | None:
    """The reason a key fails the publish checks (§2.3, in their order), or None."""
    if key == "":
        return "Key must not be empty"
    if " " in key or "*" in key or ">" in key:
        return "Key contains invalid characters"
    if key[0] == "." or key[-1] == ".":
        return "Key must not start or end with a delimiter"
    if ".." in key:
        return "Key must not contain empty tokens"
    if grapheme_length(key) > MAX_KEY_LENGTH:
        return "Key must not exceed 255 characters"
    if key.count(".") + 1 > MAX_TOKENS:
        return "Key must not contain more than 16 tokens"
    if "\x00" in key:
        return "Key must not contain null characters"
    return None


def is_storable_key(key: str) -> bool:
    """The database check constraint: printable ASCII only. Failing it is a 500 (§2.3)."""
    return _PRINTABLE_ASCII.fullmatch(key) is not None


def key_pattern_error(pattern: str) -> str | None:
    """The reason a ``key_pattern`` query parameter is rejected (§2.4b, in order), or None."""
    if pattern == "":
        return "Key pattern must not be empty"
    if pattern[0] == "." or pattern[-1] == ".":
        return "Key pattern must not start or end with a delimiter"
    if ".." in pattern:
        return "Key pattern must not contain empty tokens"
    if grapheme_length(pattern) > MAX_KEY_LENGTH:
        return "Key pattern must not exceed 255 characters"
    tokens = pattern.split(".")
    if len(tokens) > MAX_TOKENS:
        return "Key pattern must not contain more than 16 tokens"
    if ">" in tokens[:-1]:
        return "Wildcard '>' can only appear at the end of the pattern"
    return None


def filter_matches(pattern_tokens: Sequence[str], key_tokens: Sequence[str]) -> bool:
    """Consumer ``filter_key_pattern`` matching (§2.4a), done in application code.

    Both sides are pre-split on ``.`` by the caller, since the engine matches one key against
    every consumer of a stream on each publish.
    """
    if pattern_tokens and pattern_tokens[-1] == ">":
        prefix_len = len(pattern_tokens) - 1
        if len(key_tokens) <= prefix_len:
            return False
    else:
        prefix_len = len(pattern_tokens)
        if len(key_tokens) != prefix_len:
            return False
    for i in range(prefix_len):
        token = pattern_tokens[i]
        if token != "*" and token != key_tokens[i]:
            return False
    return True


class ListPattern:
    """A validated ``key_pattern`` of the list endpoints, applied as the SQL does (§2.4b).

    ``*`` adds no condition; a literal at position i needs key token i to exist and be equal; a
    trailing ``>`` needs at least n tokens; without it, at most n tokens.
    """

    __slots__ = ("literals", "min_tokens", "max_tokens")

    def __init__(self, pattern: str) -> None:
        tokens = pattern.split(".")
        trailing_gt = tokens[-1] == ">"
        self.literals = [
            (i, token)
            for i, token in enumerate(tokens)
            if token != "*" and not (trailing_gt and i == len(tokens) - 1)
        ]
        last_literal = self.literals[-1][0] + 1 if self.literals else 0
        self.min_tokens = max(last_literal, len(tokens) if trailing_gt else 0)
        self.max_tokens = None if trailing_gt else len(tokens)

    @property
    def needs_missing_column(self) -> bool:
        """True when the SQL would reference a 17th token column, which does not exist (a 500)."""
        return self.max_tokens is not None and self.max_tokens >= MAX_TOKENS

    def matches(self, key_tokens: Sequence[str]) -> bool:
        count = len(key_tokens)
        if count < self.min_tokens:
            return False
        if self.max_tokens is not None and count > self.max_tokens:
            return False
        return all(key_tokens[i] == token for i, token in self.literals)
