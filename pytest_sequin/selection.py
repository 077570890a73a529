"""Whether a ``-m`` expression deselects every test that carries a marker.

An xdist controller never collects tests, so it cannot see whether a selected test uses a
``sequin_*`` fixture; it must check a ``--sequin-url`` server (or start Docker) before the
workers start. Every such test carries the ``sequin`` marker, so when ``-m`` rules out
every test with that marker (``-m "not sequin"``, ``-m "not sequin and slow"``), the
controller knows without collecting that no test will need the server.

The answer errs on the safe side: "excluded" only when the expression is false for every
combination of the other names in it; anything this cannot parse counts as "maybe needed".
"""

from __future__ import annotations

import itertools
import re

#: Identifiers as pytest's expression scanner reads them; also catches keyword-argument names
#: and values of ``marker(key=value)`` forms, which only adds variables (still exact).
_IDENT = re.compile(r"(?:\w|:|\+|-|\.|\[|\]|\\|/)+")
_CALL = re.compile(r"((?:\w|:|\+|-|\.|\[|\]|\\|/)+)\s*\(")
_KEYWORDS = frozenset({"and", "or", "not"})
#: 2**12 evaluations at most; a longer expression is answered "maybe needed".
_MAX_VARIABLES = 12


def mark_expression_excludes(expression: str, marker: str) -> bool:
    """True if no test carrying ``marker`` can match the ``-m`` ``expression``."""
    if not expression.strip():
        return False
    try:
        from _pytest.mark.expression import Expression  # private, stable since pytest 6

        compiled = Expression.compile(expression)
    except Exception:  # noqa: BLE001 - an unparsable or unknown form: cannot tell
        return False
    calls = {f"{name}()" for name in _CALL.findall(expression)}
    others = sorted((set(_IDENT.findall(expression)) - _KEYWORDS - {marker}) | calls)
    if len(others) > _MAX_VARIABLES:
        return False
    for values in itertools.product((False, True), repeat=len(others)):
        try:
            if compiled.evaluate(_Assignment(marker, dict(zip(others, values)))):
                return False
        except Exception:  # noqa: BLE001 - e.g. a matcher form this pytest does not support
            return False
    return True


class _Assignment:
    """A matcher for ``Expression.evaluate``: ``marker`` present, the other names as given."""

    def __init__(self, marker: str, truth: dict[str, bool]) -> None:
        self.marker = marker
        self.truth = truth

    def __call__(self, name: str, /, **kwargs: object) -> bool:
        if kwargs:  # ``name(key=value)`` depends on the marker's arguments: a variable of its own
            return self.truth.get(f"{name}()", False)
        return True if name == self.marker else self.truth.get(name, False)
