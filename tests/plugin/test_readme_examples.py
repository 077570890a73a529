"""Every test example in README.md runs and passes, so the documentation stays true."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[2] / "README.md"
BLOCKS = [
    block
    for block in re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), re.S)
    if re.search(r"^def test_", block, re.M)
]


def _name(block: str) -> str:
    return re.search(r"^def (test_\w+)", block, re.M).group(1)


def test_the_readme_has_runnable_examples():
    assert len(BLOCKS) >= 8


@pytest.mark.parametrize("block", BLOCKS, ids=[_name(b) for b in BLOCKS])
def test_readme_example_passes(pytester: pytest.Pytester, block: str):
    pytester.makepyfile(**{f"test_{_name(block)}": block})
    result = pytester.runpytest("-q", "-p", "no:randomly", "--strict-markers")
    outcomes = result.parseoutcomes()
    assert outcomes.get("passed", 0) == len(re.findall(r"^def test_", block, re.M)), result.stdout.str()
    assert not outcomes.get("failed") and not outcomes.get("errors")
