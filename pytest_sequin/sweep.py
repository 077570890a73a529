"""The orphan sweep: streams left on a shared server by runs that were killed.

It deletes only streams whose name has the shape of the plugin's names with the configured prefix
(:func:`pytest_sequin.naming.is_plugin_stream_name`, not the prefix alone), that do not belong to the
current run, and whose ``inserted_at`` is older than the given age: a concurrent run's streams
are young, so they survive. It runs once per run (the controller, or the only process).

Ages are measured against the server's own time (its ``Date`` header), not this machine's:
a CI runner's clock can be minutes off a shared server's.
"""

from __future__ import annotations

import calendar
import json
import time
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any, Optional

from pytest_sequin.client.transport import TransportError
from pytest_sequin.naming import is_plugin_stream_name


@dataclass(frozen=True)
class SweepResult:
    """What the sweep deleted, and what went wrong if anything did."""

    deleted: list[str]
    problem: Optional[str] = None


def parse_timestamp(text: str) -> float:
    """``2024-07-24T20:02:46Z`` -> seconds since the epoch."""
    return float(calendar.timegm(time.strptime(text[:19], "%Y-%m-%dT%H:%M:%S")))


def orphan_names(
    streams: list[dict[str, Any]], prefix: str, run_prefix: str, max_age: float, now: float
) -> list[str]:
    """The pure rule, separate from I/O so it can be tested alone."""
    return [
        s["name"]
        for s in streams
        if is_plugin_stream_name(s["name"], prefix)
        and not s["name"].startswith(run_prefix)
        and now - parse_timestamp(s["inserted_at"]) > max_age
    ]


def list_streams_with_server_time(client: Any) -> tuple[list[dict[str, Any]], float]:
    """The server's streams and its clock (``Date``), through the plugin's client: the same
    credentials, proxy rules and CA bundle as every other request to that server."""
    raw = client.transport.request("GET", "/api/streams", replayable=True)
    if raw.status != 200:
        raise ValueError(f"GET /api/streams answered {raw.status} {raw.reason}")
    streams = json.loads(raw.body)["data"]
    try:
        now = parsedate_to_datetime(raw.date).timestamp() if raw.date else time.time()
    except (TypeError, ValueError):
        now = time.time()
    return streams, now


def sweep_orphans(state: Any, max_age: float) -> SweepResult:
    """Delete the orphans. Never raises: a failed sweep is not a failed run, but it is said
    (in the summary), since a sweep that silently does nothing hides the leftovers it is for."""
    client = state.client
    try:
        streams, now = list_streams_with_server_time(client)
    except (TransportError, ValueError, KeyError, TypeError) as exc:
        return SweepResult(deleted=[], problem=f"could not list the streams: {exc}")
    deleted, failed = [], []
    for name in orphan_names(streams, state.names.prefix, state.names.run_prefix, max_age, now):
        _, error = client.delete_stream(name)
        if error is None or error["status"] == 404:
            deleted.append(name)
        else:
            failed.append(f"{name} ({error['status']} {error['summary']})")
    problem = f"could not delete {', '.join(failed)}" if failed else None
    return SweepResult(deleted=deleted, problem=problem)
