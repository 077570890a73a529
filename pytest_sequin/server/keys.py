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

#: Tokens of printable ASCII without space, ``*``, ``>`` and ``.``, joined by single dots: a key
#: this matches (and that is short enough, see :func:`is_plain_valid_key`) passes every check
#: of :func:`key_format_error` and :func:`is_storable_key`.
_PLAIN_KEY = re.compile(r"[!-)+-\-/-=?-~]+(?:\.[!-)+-\-/-=?-~]+)*")


#: Grapheme_Cluster_Break=Prepend (Unicode 15), the few code points unicodedata cannot tell apart.
_PREPEND = frozenset(
    [*range(0x600, 0x606), 0x6DD, 0x70F, 0x890, 0x891, 0x8E2, 0xD4E, 0x110BD, 0x110CD, 0x111C2, 0x111C3]
    + [0x1193F, 0x11941, 0x11A3A, *range(0x11A84, 0x11A8A), 0x11D46, 0x11F02]
)


_CONTROLS = ("CR", "LF", "Control")
_NO_BREAK_PAIRS = frozenset(
    [("CR", "LF"), ("L", "L"), ("L", "V"), ("L", "LV"), ("L", "LVT"), ("LV", "V"), ("LV", "T")]
    + [("V", "V"), ("V", "T"), ("LVT", "T"), ("T", "T")]
)


def _break_class(char: str) -> str:
    """The Grapheme_Cluster_Break property (UAX #29), derived from ``unicodedata``."""
    cp = ord(char)
    if char in "\r\n\u200d":
        return {"\r": "CR", "\n": "LF", "\u200d": "ZWJ"}[char]
    if 0x1F1E6 <= cp <= 0x1F1FF:
        return "RI"
    if 0x1100 <= cp <= 0x115F or 0xA960 <= cp <= 0xA97C:
        return "L"
    if 0x1160 <= cp <= 0x11A7 or 0xD7B0 <= cp <= 0xD7C6:
        return "V"
    if 0x11A8 <= cp <= 0x11FF or 0xD7CB <= cp <= 0xD7FB:
        return "T"
    if 0xAC00 <= cp <= 0xD7A3:
        return "LV" if (cp - 0xAC00) % 28 == 0 else "LVT"
    if cp in _PREPEND:
        return "Prepend"
    category = unicodedata.category(char)
    if (
        category in ("Mn", "Me")
        or cp == 0x200C
        or 0x1F3FB <= cp <= 0x1F3FF  # emoji skin-tone modifiers
        or 0xE0020 <= cp <= 0xE007F  # tags (flag sequences)
        or 0xFF9E <= cp <= 0xFF9F
    ):
        return "Extend"
    if category in ("Cc", "Cf", "Zl", "Zp", "Cs"):
        return "Control"
    if category == "Mc" or cp in (0xE33, 0xEB3):
        return "SpacingMark"
    if category in ("So", "Cn") and (
        0x1F000 <= cp <= 0x1FAFF or 0x2600 <= cp <= 0x27BF or 0x2300 <= cp <= 0x23FF or 0x2B00 <= cp <= 0x2BFF
    ):
        return "ExtPict"
    if cp in (0xA9, 0xAE, 0x203C, 0x2049, 0x2122, 0x2139, 0x3030, 0x303D, 0x3297, 0x3299):
        return "ExtPict"
    return "Other"


def grapheme_length(text: str) -> int:
    """Length in user-perceived characters, as Elixir's ``String.length/1`` counts it.

    Extended grapheme clusters of UAX #29 (rules GB3-GB13), with the break property derived
    from ``unicodedata``: combining marks, ZWJ emoji sequences, skin-tone modifiers, flag pairs,
    tag sequences, Hangul syllables, prepended and spacing marks, ``\r\n``. Keys with any
    non-ASCII character fail later with the database's 500 anyway, so for keys only the choice
    between the 400 "exceed 255" and that 500 depends on this count; for a ``key_pattern`` it
    is the choice between that 400 and an answer.
    """
    if text.isascii():
        return len(text) - text.count("\r\n")
    count = 0
    previous = ""
    emoji_zwj = False  # GB11: inside ExtPict Extend* ZWJ
    in_emoji = False  # inside ExtPict Extend*
    regional = 0  # GB12/13: regional indicators in a row
    for char in text:
        current = _break_class(char)
        if not previous:
            joined = False
        elif (previous, current) in _NO_BREAK_PAIRS:  # GB3, GB6-GB8
            joined = True
        elif previous in _CONTROLS or current in _CONTROLS:  # GB4, GB5
            joined = False
        else:  # GB9, GB9a, GB9b, GB11, GB12/13
            joined = (
                current in ("Extend", "ZWJ", "SpacingMark")
                or previous == "Prepend"
                or (emoji_zwj and current == "ExtPict")
                or (current == "RI" and regional % 2 == 1)
            )
        if not joined:
            count += 1
        emoji_zwj = in_emoji and current == "ZWJ"
        in_emoji = current == "ExtPict" or (in_emoji and current == "Extend")
        regional = regional + 1 if current == "RI" else 0
        previous = current
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


def is_plain_valid_key(key: str) -> bool:
    """A fast yes for the common key: True only if the key passes :func:`key_format_error` and
    :func:`is_storable_key` (False says nothing: run those). One regex instead of eight checks,
    for the publish of many keys (bench figure 2.4)."""
    return (
        len(key) <= MAX_KEY_LENGTH
        and _PLAIN_KEY.fullmatch(key) is not None
        and key.count(".") < MAX_TOKENS
    )


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
