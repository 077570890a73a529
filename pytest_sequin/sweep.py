"""The orphan sweep: streams left on a shared server by runs that were killed.

It deletes only streams whose name starts with the plugin's prefix, that do not belong to the
current run, and whose ``inserted_at`` is older than the given age: a concurrent run's streams
are young, so they survive. It runs once per run (the controller, or the only process).
"""

from __future__ import annotations

import calendar
import time
from typing import Any


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
        if s["name"].startswith(prefix)
        and not s["name"].startswith(run_prefix)
        and now - parse_timestamp(s["inserted_at"]) > max_age
    ]


def sweep_orphans(state: Any, max_age: float) -> list[str]:
    client = state.client
    streams, error = client.list_streams()
    if error:
        return []
    deleted = []
    for name in orphan_names(streams, state.names.prefix, state.names.run_prefix, max_age, time.time()):
        _, error = client.delete_stream(name)
        if error is None or error["status"] == 404:
            deleted.append(name)
    return deleted
