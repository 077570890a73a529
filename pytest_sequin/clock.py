"""Driving the server's clock from a test, over the embedded server's private control route.

Over HTTP rather than through the in-process object, so it works the same for a standalone
embedded server in another process (``--sequin-url`` pointing at ``sequin-embedded``).
"""

from __future__ import annotations

import math
from datetime import timedelta
from typing import Callable, Union

from pytest_sequin.control_client import ControlClient, ControlError


class SequinClock:
    """``advance(seconds)`` moves the server's time forward; ``offset`` says how far it is ahead.

    With ``sleep`` (for servers whose clock cannot move), ``advance`` sleeps for real instead.
    """

    def __init__(self, base_url: str, sleep: Callable[[float], None] | None = None) -> None:
        self._control = ControlClient(base_url)
        self._sleep = sleep
        try:
            self.controllable = bool(self._control.clock().get("controllable"))
        except ControlError:
            self.controllable = False

    def advance(self, seconds: Union[float, timedelta]) -> None:
        """Move the clock ``seconds`` forward (a finite number >= 0, or a ``timedelta``: time
        never goes back, so the offset stays for the rest of the session).

        Checked here, so that a bad value fails the same way with clock control and with
        ``--sequin-clock-sleep``, in the test's own frame."""
        if isinstance(seconds, timedelta):
            seconds = seconds.total_seconds()
        if isinstance(seconds, bool) or not isinstance(seconds, (int, float)):
            raise TypeError(
                f"sequin_clock.advance() takes a number of seconds or a timedelta, got {seconds!r}"
            )
        if not math.isfinite(seconds) or seconds < 0:
            raise ValueError(f"sequin_clock.advance() takes a finite number of seconds >= 0, got {seconds!r}")
        if self._sleep is not None:
            self._sleep(seconds)
            return
        try:
            self._control.advance_clock(seconds)
        except ControlError as exc:
            raise RuntimeError(f"could not advance the Sequin clock by {seconds!r} s: {exc}") from None

    @property
    def offset(self) -> float:
        """Seconds the server's clock runs ahead of real time."""
        return float(self._control.clock().get("offset_seconds", 0.0))
