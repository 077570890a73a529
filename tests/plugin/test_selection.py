"""Whether ``-m`` rules out every test with the ``sequin`` marker (pytest_sequin.selection)."""

from __future__ import annotations

import pytest

from pytest_sequin.selection import mark_expression_excludes


@pytest.mark.parametrize(
    "expression",
    ["not sequin", "not sequin and slow", "slow and not sequin", "not (sequin or slow)",
     "not sequin and not sequin(ack_wait_ms=1)"],
)
def test_expressions_that_rule_out_every_sequin_test(expression):
    assert mark_expression_excludes(expression, "sequin")


@pytest.mark.parametrize(
    "expression",
    ["", "  ", "sequin", "slow", "not slow", "not sequin or slow", "not sequin_other",
     "not sequin(ack_wait_ms=1)", "(((", "not sequin and", " or ".join(f"m{i}" for i in range(13))],
)
def test_anything_else_counts_as_maybe_needed(expression):
    """Including what cannot be parsed, and expressions too long to enumerate."""
    assert not mark_expression_excludes(expression, "sequin")
