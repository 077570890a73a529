"""The "sequin state" section added to a failing test's report. No pytest here.

A failure in a message-stream test is rarely explained by the assertion alone ("expected 3
messages, got 2"): what matters is which message is still pending, how often it was delivered,
which consumer acked what. This renders the streams a test created, their messages and every
consumer's state per message, bounded in size so a big stream cannot flood the report.
"""

from __future__ import annotations

from typing import Any, Iterable

MAX_STREAMS = 5
MAX_MESSAGES = 20
MAX_DATA = 40


def _abbreviate(text: str, limit: int = MAX_DATA) -> str:
    shown = repr(text)
    return shown if len(shown) <= limit else shown[: limit - 4] + "...'"


def _table(rows: list[list[str]], indent: str = "    ") -> list[str]:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return [
        indent + "  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip() for row in rows
    ]


def _unacked_summary(client: Any, stream_name: str, consumer_id: str) -> str:
    """From the peek endpoint: what is deliverable now, what is in flight and until when."""
    rows, error = client.list_consumer_messages(stream_name, consumer_id, limit=1000)
    if error or rows is None:
        return ""
    waiting = [r for r in rows if r["info"]["state"] == "available"]
    in_flight = [r for r in rows if r["info"]["state"] == "delivered"]
    text = f": {len(waiting)} deliverable now, {len(in_flight)} in flight"
    if in_flight:
        text += f" (next visible again at {min(r['info']['not_visible_until'] for r in in_flight)})"
    return text


def _push_line(consumer: dict[str, Any], push_records: dict[str, Any] | None) -> str | None:
    """For a push consumer: where it delivers and how that went (the embedded server keeps a
    record per consumer; a real server has none, so only the kind is shown there)."""
    if consumer.get("kind") != "push":
        return None
    if push_records is None:
        return "    push consumer (delivery details need the embedded server)"
    record = push_records.get(consumer["id"])
    if record is None:
        return "    push consumer: no delivery attempted yet"
    line = (
        f"    push to {record['base_url']}: {record['delivered']} delivered, {record['failed']} failed"
        f" ({record['failures_in_a_row']} in a row)"
    )
    return line + f"; last: {record['last_outcome']} for key {record['last_key']!r}"


def render_stream(
    client: Any, stream_name: str, push_records: dict[str, Any] | None = None
) -> list[str]:
    """Lines describing one stream; never raises (a report must not fail the report)."""
    stream, error = client.get_stream(stream_name)
    if error:
        return [f"stream {stream_name}: {error['status']} {error['summary']}"]
    consumers, error = client.list_consumers(stream_name)
    consumers = consumers or []
    count = stream["stats"]["message_count"]
    lines = [f"stream {stream_name} ({count} messages, {len(consumers)} consumers)"]
    messages, error = client.list_messages(stream_name, limit=MAX_MESSAGES)
    if error:
        return [*lines, f"  messages: {error['status']} {error['summary']}"]
    if not messages:
        lines.append("  no messages")
    else:
        rows = [["seq", "key", "data"]] + [
            [str(m["seq"]), m["key"], _abbreviate(m["data"])] for m in messages
        ]
        lines += _table(rows, "  ")
        if count > len(messages):
            lines.append(f"  ... {count - len(messages)} more messages not shown")
    for consumer in consumers:
        lines.append(
            f"  consumer {consumer['name']} filter {consumer['filter_key_pattern']!r} "
            f"ack_wait_ms={consumer['ack_wait_ms']} max_ack_pending={consumer['max_ack_pending']}"
            f"{_unacked_summary(client, stream_name, consumer['id'])}"
        )
        push = _push_line(consumer, push_records)
        if push is not None:
            lines.append(push)
    if consumers and messages:
        lines.append("  per message and consumer: state (deliver_count)")
        header = ["key"] + [c["name"] for c in consumers]
        rows = [header]
        for message in messages:
            info, error = client.get_message_consumer_info(stream_name, message["key"])
            states = {}
            for entry in (info or {}).get("consumer_info", []):
                count_text = "" if entry["deliver_count"] is None else f" ({entry['deliver_count']})"
                states[entry["consumer_id"]] = f"{entry['state']}{count_text}"
            rows.append([message["key"]] + [states.get(c["id"], "-") for c in consumers])
        lines += _table(rows)
    return lines


def render(client: Any, stream_names: Iterable[str], push_records: dict[str, Any] | None = None) -> str:
    """The report for these streams; ``push_records`` from the embedded server's control route."""
    names = list(stream_names)
    lines: list[str] = []
    for name in names[:MAX_STREAMS]:
        try:
            lines += render_stream(client, name, push_records)
        except Exception as exc:  # the report is best effort by nature
            lines.append(f"stream {name}: could not be read ({type(exc).__name__}: {exc})")
    if len(names) > MAX_STREAMS:
        lines.append(f"... {len(names) - MAX_STREAMS} more streams not shown")
    return "\n".join(lines)
