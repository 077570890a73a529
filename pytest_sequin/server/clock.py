"""Time sources for the engine.

The engine never calls ``time.time()`` itself: every operation takes "now" from a clock object,
so tests can move time forward (visibility timeouts, the 5-minute acked-row retention) without
sleeping. Times are integer microseconds since the Unix epoch because Sequin reports message
and consumer-message timestamps with microsecond precision and integers never drift.
"""

from __future__ import annotations

import threading
import time
from typing import Protocol

#: 9000-01-01T00:00:00Z in µs: far beyond any test, well inside what timestamps can show.
MAX_TIME_US = 221845392000 * 1_000_000


class Clock(Protocol):
    """Anything with ``now_us()``; the engine needs nothing else."""

    def now_us(self) -> int: ...


class SystemClock:
    """Real wall-clock time."""

    def now_us(self) -> int:
        return time.time_ns() // 1000


class ManualClock:
    """Wall-clock time plus an offset that tests can only move forward.

    Starting from real time keeps timestamps plausible (a client that compares ``inserted_at``
    with its own clock still sees "now"), while :meth:`advance` lets a test jump past a
    visibility timeout instantly. Time never goes backwards, as on a real server.
    """

    def __init__(self, frozen: bool = False) -> None:
        self._lock = threading.Lock()
        self._offset_us = 0
        self._frozen_at: int | None = time.time_ns() // 1000 if frozen else None

    def now_us(self) -> int:
        base = self._frozen_at if self._frozen_at is not None else time.time_ns() // 1000
        return base + self._offset_us

    def advance(self, seconds: float) -> int:
        """Move the clock forward by ``seconds`` (>= 0); returns the new time in µs.

        The clock stays below :data:`MAX_TIME_US` (year 9000): timestamps must still render
        as ISO-8601 years of four digits, or every answer after the jump would fail.
        """
        if not seconds >= 0:
            raise ValueError("the clock only moves forward")
        with self._lock:
            step = round(seconds * 1_000_000)
            if self.now_us() + step > MAX_TIME_US:
                raise ValueError(f"advancing by {seconds:g} s would move the clock past the year 9000")
            self._offset_us += step
        return self.now_us()

    @property
    def offset_seconds(self) -> float:
        """How far ahead of real time this clock runs."""
        return self._offset_us / 1_000_000
