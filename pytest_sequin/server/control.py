"""Private control routes of the embedded server, under ``/_pytest_sequin`` (never ``/api``).

They let a test (or a plugin talking to a standalone embedded server in another process) move
the server's clock. A real Sequin answers 404 here, which is how clients detect that clock
control is unavailable.
"""

from __future__ import annotations

import json
from typing import Any

from .app import JSON_TYPE, Response
from .clock import ManualClock
from .engine import Engine
from .models import format_micros

PREFIX = "_pytest_sequin"


def _json(status: int, payload: Any) -> Response:
    return Response(status, JSON_TYPE, json.dumps(payload).encode())


def clock_state(engine: Engine) -> dict[str, Any]:
    clock = engine.clock
    return {
        "now": format_micros(clock.now_us()),
        "offset_seconds": clock.offset_seconds if isinstance(clock, ManualClock) else 0.0,
        "controllable": isinstance(clock, ManualClock),
    }


def make_control_routes(engine: Engine):  # type: ignore[no-untyped-def]
    def route(method: str, segments: list[str], params: dict[str, Any]) -> Response | None:
        if segments[0] != PREFIX:
            return None
        path = segments[1:]
        if path == ["clock"] and method == "GET":
            return _json(200, clock_state(engine))
        if path == ["clock", "advance"] and method == "POST":
            seconds = params.get("seconds")
            if isinstance(seconds, str):
                try:
                    seconds = float(seconds)
                except ValueError:
                    seconds = None
            if type(seconds) not in (int, float) or seconds < 0 or seconds != seconds:
                return _json(400, {"summary": "`seconds` must be a number >= 0"})
            if not isinstance(engine.clock, ManualClock):
                return _json(409, {"summary": "this server's clock cannot be moved"})
            engine.clock.advance(seconds)
            return _json(200, clock_state(engine))
        if path == ["health"] and method == "GET":
            return _json(200, {"ok": True, "server": "pytest-sequin embedded"})
        return _json(404, {"summary": f"unknown control route {'/'.join(segments)}"})

    return route
