"""Private control routes of the embedded server, under ``/_pytest_sequin`` (never ``/api``).

They let a test (or a plugin talking to a standalone embedded server in another process) move
the server's clock, read the request log and inject faults. A real Sequin answers 404 here,
which is how clients detect that these controls are unavailable.

* ``GET /clock``, ``POST /clock/advance {"seconds"}``, ``GET /health``
* ``GET /push`` -> ``{"data": {consumer_id: delivery record}}`` (how push deliveries went)
* ``GET /requests?since=N&limit=M`` -> ``{"data": [entry...], "last_seq"}``; ``DELETE /requests``
* ``GET /faults``; ``POST /faults {"action": "fail"|"delay", "path", "method"?, "status"?,
  "body"?, "seconds"?, "times"?}`` -> the fault; ``DELETE /faults``; ``DELETE /faults/{id}``
"""

from __future__ import annotations

import json
from typing import Any, Callable

from .app import JSON_TYPE, Response
from .clock import ManualClock
from .engine import Engine
from .faults import FaultTable
from .models import format_micros
from .requestlog import RequestLog

PREFIX = "_pytest_sequin"
#: A request carrying this header is the plugin's own look at the server (the failure report):
#: it skips the fault table and the request log, so a test's injected faults cannot hide the
#: state that explains its failure. A real Sequin ignores the header.
INTERNAL_HEADER = "x-pytest-sequin-internal"


def _json(status: int, payload: Any) -> Response:
    return Response(status, JSON_TYPE, json.dumps(payload).encode())


def _seconds(raw: Any) -> float | None:
    """A number of seconds >= 0 from JSON or a query string, else None."""
    if isinstance(raw, str):
        try:
            raw = float(raw)
        except ValueError:
            return None
    if type(raw) not in (int, float) or not raw >= 0 or raw == float("inf"):
        return None
    return float(raw)


def clock_state(engine: Engine) -> dict[str, Any]:
    clock = engine.clock
    return {
        "now": format_micros(clock.now_us()),
        "offset_seconds": clock.offset_seconds if isinstance(clock, ManualClock) else 0.0,
        "controllable": isinstance(clock, ManualClock),
    }


def _integer(value: Any) -> int | None:
    """A JSON integer or a string of digits (query strings and forms); None otherwise."""
    if type(value) is int:
        return value
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value)
    return None


def _add_fault(faults: FaultTable, params: dict[str, Any]) -> Response:
    action, path, method = params.get("action", "fail"), params.get("path"), params.get("method")
    if not isinstance(path, str) or not path:
        return _json(400, {"summary": "`path` must be a non-empty path pattern such as /api/streams/*"})
    times = params.get("times", 1)
    if times is not None and _integer(times) is None:
        return _json(400, {"summary": "`times` must be an integer >= 1, or null"})
    times = None if times is None else _integer(times)
    try:
        if action == "fail":
            status = _integer(params.get("status", 500))
            fault = faults.fail(path, -1 if status is None else status, times, method, params.get("body"))
        elif action == "delay":
            seconds = params.get("seconds")
            if isinstance(seconds, str):
                try:
                    seconds = float(seconds)
                except ValueError:
                    seconds = None
            fault = faults.delay(path, seconds, times, method)  # type: ignore[arg-type]
        else:
            return _json(400, {"summary": '`action` must be "fail" or "delay"'})
    except ValueError as error:
        return _json(400, {"summary": str(error)})
    return _json(200, fault.to_dict())


def _observability_route(
    method: str, path: list[str], params: dict[str, Any], requests: RequestLog, faults: FaultTable
) -> Response | None:
    if path == ["requests"] and method == "GET":
        since, limit = _integer(params.get("since", 0)), _integer(params.get("limit", -1))
        if since is None or limit is None:
            return _json(400, {"summary": "`since` and `limit` must be integers"})
        entries = requests.entries(since, None if limit < 0 else limit)
        return _json(200, {"data": [e.to_dict() for e in entries], "last_seq": requests.last_seq})
    if path == ["requests"] and method == "DELETE":
        return _json(200, {"cleared": requests.clear(), "last_seq": requests.last_seq})
    if path == ["faults"] and method == "GET":
        return _json(200, {"data": [f.to_dict() for f in faults.active()]})
    if path == ["faults"] and method == "POST":
        return _add_fault(faults, params)
    if path == ["faults"] and method == "DELETE":
        return _json(200, {"cleared": faults.clear()})
    if len(path) == 2 and path[0] == "faults" and method == "DELETE":
        fault_id = _integer(path[1])
        return _json(200, {"deleted": fault_id is not None and faults.remove(fault_id)})
    return None


def make_control_routes(
    engine: Engine,
    *,
    requests: RequestLog | None = None,
    faults: FaultTable | None = None,
    on_clock_advance: Callable[[], None] | None = None,
    push_records: Callable[[], dict[str, Any]] | None = None,
):  # type: ignore[no-untyped-def]
    """The ``extra_routes`` hook of :func:`.app.handle`; request log and faults are optional."""

    def route(method: str, segments: list[str], params: dict[str, Any]) -> Response | None:
        if segments[0] != PREFIX:
            return None
        path = segments[1:]
        if path == ["clock"] and method == "GET":
            return _json(200, clock_state(engine))
        if path == ["clock", "advance"] and method == "POST":
            seconds = _seconds(params.get("seconds"))
            if seconds is None:
                return _json(400, {"summary": "`seconds` must be a number >= 0"})
            if not isinstance(engine.clock, ManualClock):
                return _json(409, {"summary": "this server's clock cannot be moved"})
            try:
                engine.clock.advance(seconds)
            except ValueError as exc:
                return _json(400, {"summary": str(exc)})
            if on_clock_advance is not None:
                on_clock_advance()
            return _json(200, clock_state(engine))
        if path == ["push"] and method == "GET":
            return _json(200, {"data": push_records() if push_records is not None else {}})
        if path == ["health"] and method == "GET":
            return _json(200, {"ok": True, "server": "pytest-sequin embedded"})
        if requests is not None and faults is not None:
            answer = _observability_route(method, path, params, requests, faults)
            if answer is not None:
                return answer
        return _json(404, {"summary": f"unknown control route {'/'.join(segments)}"})

    return route
