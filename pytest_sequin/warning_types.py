"""The warnings pytest-sequin emits, in one place so they can be filtered by name:
``-W error::pytest_sequin.SequinSharedClockWarning`` (also importable from here)."""

from __future__ import annotations

import pytest

__all__ = ["SequinCleanupWarning", "SequinSharedClockWarning"]


class SequinCleanupWarning(pytest.PytestWarning):
    """pytest-sequin could not delete a stream or consumer a test created."""


class SequinSharedClockWarning(pytest.PytestWarning):
    """sequin_clock was used on a server that other processes may be using too."""
