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
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.request import ProxyHandler, Request, build_opener

from pytest_sequin.naming import is_plugin_stream_name


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


def list_streams_with_server_time(url: str, timeout: float = 30.0) -> tuple[list[dict[str, Any]], float]:
    request = Request(f"{url}/api/streams", headers={"Accept": "application/json"})
    with build_opener(ProxyHandler({})).open(request, timeout=timeout) as answer:
        streams = json.loads(answer.read())["data"]
        date = answer.headers.get("Date")
    try:
        now = parsedate_to_datetime(date).timestamp() if date else time.time()
    except (TypeError, ValueError):
        now = time.time()
    return streams, now


def sweep_orphans(state: Any, max_age: float) -> list[str]:
    """Delete the orphans; returns their names. Never raises: a failed sweep is not a failed run."""
    try:
        streams, now = list_streams_with_server_time(state.server.url)
    except (OSError, ValueError, KeyError):
        return []
    client = state.client
    deleted = []
    for name in orphan_names(streams, state.names.prefix, state.names.run_prefix, max_age, now):
        _, error = client.delete_stream(name)
        if error is None or error["status"] == 404:
            deleted.append(name)
    return deleted
