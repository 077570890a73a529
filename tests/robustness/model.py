"""A reference model of the Sequin v0.3.7 delivery semantics (spec §1-§4), for differential tests.

Written straight from /work/shared/sequin-api.md, not from the server code. It is meant to be
obviously correct rather than fast: plain lists, full scans, and every derived value recomputed
on each call. It answers at the HTTP level (``(status, body)``) for the subset of the API the
stateful test drives: streams, publish, consumers (name, filter, ack_wait_ms, max_ack_pending),
receive, ack, nack, deletes, message listing, consumer_info and peek.

Ids are deterministic UUIDv4 strings minted by the model (``uuid.UUID(int=n, version=4)``); the
test maps the server's ids onto them in order of first appearance. Time is an integer number of
microseconds that only moves when :meth:`Model.advance` is called.

Consumer update covers the integer settings, ``status``, ``kind`` (pull only: ``push`` has no
endpoint here, so it is the 422) and the hidden ``backfill_completed_at`` (§7.4), in the two
timestamp spellings the stateful test sends.

What it deliberately leaves out: stream/consumer relation-name collisions (§7.2), push
consumers, the >= 10,000-message asynchronous backfill (§4.8 step 3), request parsing quirks
(§0) and the bind-parameter limit.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import re
import uuid
from typing import Any, Optional

NOT_FOUND = "Not found: No `{}` found matching the provided ID or name"
INVALID_ACK_IDS = (
    "Invalid ack_ids. Must send a top-level `ack_ids` property that is a non-empty list of valid UUID strings"
)
INVALID_BATCH_SIZE = "Invalid `batch_size`. `batch_size` must be an integer between 1 and 1000."
RETENTION_US = 300 * 1_000_000  # §4.5: acked rows are kept for 5 minutes after backfill
EMPTY_STORAGE_SIZE = 163840  # §6.1


class AnyNonNegativeInt:
    """Placeholder for values the spec leaves open (``storage_size`` of a non-empty stream)."""

    def __repr__(self) -> str:
        return "<any int >= 0>"


ANY_NON_NEGATIVE_INT = AnyNonNegativeInt()


def internal_error() -> tuple[int, Any]:
    return 500, {"errors": {"detail": "Internal Server Error"}}


def framework_400() -> tuple[int, Any]:
    return 400, {"errors": {"detail": "Bad Request"}}


def not_found(entity: str) -> tuple[int, Any]:
    return 404, {"summary": NOT_FOUND.format(entity)}


def summary(status: int, text: str) -> tuple[int, Any]:
    return status, {"summary": text}


def fmt_us(us: int) -> str:
    """Microsecond timestamp, always 6 digits (§6)."""
    return (dt.datetime(1970, 1, 1) + dt.timedelta(microseconds=us)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def fmt_s(us: int) -> str:
    """Second-precision timestamp of streams and consumers (§6)."""
    return (dt.datetime(1970, 1, 1) + dt.timedelta(seconds=us // 1_000_000)).strftime("%Y-%m-%dT%H:%M:%SZ")


def fmt_opt(us: Optional[int]) -> Optional[str]:
    return None if us is None else fmt_us(us)


def data_hash(data: str) -> str:
    """§6.3: standard Base64 of SHA-256 of the UTF-8 bytes."""
    return base64.b64encode(hashlib.sha256(data.encode("utf-8")).digest()).decode("ascii")


_HEX = "[0-9a-f]"
_V4_HYPHENATED = re.compile(rf"{_HEX}{{8}}-{_HEX}{{4}}-4{_HEX}{{3}}-[89ab]{_HEX}{{3}}-{_HEX}{{12}}")
_V4_COMPACT = re.compile(rf"{_HEX}{{12}}4{_HEX}{{3}}[89ab]{_HEX}{{15}}")


def uuid_form(text: str) -> Optional[str]:
    """§2.2: 'hyphenated', 'other' (32-hex or urn:uuid:) for v4-looking strings, else None."""
    low = text.lower()
    if _V4_HYPHENATED.fullmatch(low):
        return "hyphenated"
    if _V4_COMPACT.fullmatch(low):
        return "other"
    if low.startswith("urn:uuid:") and _V4_HYPHENATED.fullmatch(low[len("urn:uuid:") :]):
        return "other"
    return None


def filter_matches(pattern: str, key: str) -> bool:
    """§2.4a consumer filter_key_pattern matching."""
    ptoks = pattern.split(".")
    ktoks = key.split(".")
    if ptoks[-1] == ">":
        head = ptoks[:-1]
        if len(ktoks) <= len(head):
            return False
    else:
        head = ptoks
        if len(ktoks) != len(head):
            return False
    return all(p == "*" or p == k for p, k in zip(head, ktoks))


def key_pattern_error(pattern: str) -> Optional[str]:
    """§2.4b validation of the ``key_pattern`` query parameter (the 16-token 500 is separate)."""
    tokens = pattern.split(".")
    if pattern == "":
        return "Key pattern must not be empty"
    if pattern.startswith(".") or pattern.endswith("."):
        return "Key pattern must not start or end with a delimiter"
    if ".." in pattern:
        return "Key pattern must not contain empty tokens"
    if len(pattern) > 255:
        return "Key pattern must not exceed 255 characters"
    if len(tokens) > 16:
        return "Key pattern must not contain more than 16 tokens"
    if ">" in tokens[:-1]:
        return "Wildcard '>' can only appear at the end of the pattern"
    return None


def key_pattern_matches(pattern: str, key: str) -> bool:
    """§2.4b SQL semantics: one condition per token position."""
    ptoks = pattern.split(".")
    ktoks = key.split(".")
    n = len(ptoks)
    for i, p in enumerate(ptoks):
        if p == "*":
            continue
        if p == ">" and i == n - 1:
            if len(ktoks) < n:
                return False
            continue
        if i >= len(ktoks) or ktoks[i] != p:
            return False
    return not (ptoks[-1] != ">" and len(ktoks) > n)


def key_error(key: str) -> Optional[str]:
    """§2.3 key checks, in order; the first failing reason."""
    if key == "":
        return "Key must not be empty"
    if any(c in key for c in " *>"):
        return "Key contains invalid characters"
    if key.startswith(".") or key.endswith("."):
        return "Key must not start or end with a delimiter"
    if ".." in key:
        return "Key must not contain empty tokens"
    if len(key) > 255:  # graphemes; the model only sees ASCII keys where this matters
        return "Key must not exceed 255 characters"
    if len(key.split(".")) > 16:
        return "Key must not contain more than 16 tokens"
    if "\x00" in key:
        return "Key must not contain null characters"
    return None


INT_DEFAULTS: dict[str, Optional[int]] = {
    "ack_wait_ms": 30000,
    "max_ack_pending": 10000,
    "max_waiting": 20,
    "max_deliver": None,
}
_MISSING = object()


def cast_int(value: Any, default: Optional[int]) -> Any:
    """§3.5c integer fields: JSON integers or digit strings (sign allowed, < 32 bytes); a blank
    string means the default; ``None`` stays ``None``; anything else is ``_MISSING`` (invalid)."""
    if value is None:
        return None
    if isinstance(value, str):
        if value.strip() == "":
            return default
        if len(value.encode()) < 32 and re.fullmatch(r"[+-]?[0-9]+", value):
            return int(value)
        return _MISSING
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    return _MISSING


ENUMS = {"status": ("active", "disabled"), "kind": ("pull", "push")}
_TIMESTAMP = re.compile(r"(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{6}))?Z")


def cast_enum(value: Any, allowed: tuple[str, ...]) -> Any:
    """§3.5c enum fields: a blank string means the default (the first value); ``None`` stays."""
    if value is None:
        return None
    if isinstance(value, str) and value.strip() == "":
        return allowed[0]
    if isinstance(value, str) and value in allowed:
        return value
    return _MISSING


def cast_timestamp(value: Any) -> Any:
    """``backfill_completed_at`` (§3.5c, §7.4): ISO-8601 UTC with or without 6 fraction digits;
    blank and ``None`` are null; anything else is ``_MISSING`` (invalid)."""
    if value is None or (isinstance(value, str) and value.strip() == ""):
        return None
    match = _TIMESTAMP.fullmatch(value) if isinstance(value, str) else None
    if match is None:
        return _MISSING
    y, mo, d, h, mi, sec = (int(g) for g in match.groups()[:6])
    try:
        moment = dt.datetime(y, mo, d, h, mi, sec)
    except ValueError:
        return _MISSING
    micros = int(match.group(7) or 0)
    return (moment - dt.datetime(1970, 1, 1)) // dt.timedelta(microseconds=1) + micros


class Message:
    def __init__(self, key: str, data: str, seq: int, now: int) -> None:
        self.key = key
        self.data = data
        self.data_hash = data_hash(data)
        self.seq = seq
        self.inserted_at = now
        self.updated_at = now


class Row:
    """A consumer-message (CM) row (§1.1)."""

    def __init__(self, ack_id: str, key: str, message_seq: int) -> None:
        self.ack_id = ack_id
        self.key = key
        self.message_seq = message_seq
        self.state = "available"
        self.not_visible_until: Optional[int] = None
        self.deliver_count = 0
        self.last_delivered_at: Optional[int] = None


class Stream:
    def __init__(self, id_: str, name: str, now: int) -> None:
        self.id = id_
        self.name = name
        self.inserted_at = now
        self.messages: list[Message] = []


class Consumer:
    def __init__(self, id_: str, name: str, stream: Stream, pattern: str, now: int) -> None:
        self.id = id_
        self.name = name
        self.stream = stream
        self.filter_key_pattern = pattern
        self.ack_wait_ms = 30000
        self.max_ack_pending = 10000
        self.max_deliver: Optional[int] = None
        self.max_waiting = 20
        self.status = "active"
        self.kind = "pull"
        self.inserted_at = now
        self.updated_at = now
        self.backfill_completed_at: Optional[int] = None
        self.rows: list[Row] = []

    def __repr__(self) -> str:
        return f"<consumer {self.name} on {self.stream.name} ({self.filter_key_pattern})>"


NAME_RE = re.compile(r"[A-Za-z0-9_]+\n?")  # §2.1: `$` also matches before one trailing newline


class Model:
    def __init__(self, now_us: int, seed_default_stream: bool = True) -> None:
        self.now = now_us
        self.counter = 0  # the global seq counter (§4.7)
        self.minted = 0
        self.ids: set[str] = set()
        self.account_id = self.mint()
        self.streams: list[Stream] = []  # creation order
        self.consumers: list[Consumer] = []  # creation order, account-wide
        if seed_default_stream:
            self.streams.append(Stream(self.mint(), "default", now_us))

    # -- plumbing --------------------------------------------------------------------------

    def mint(self) -> str:
        self.minted += 1
        new = str(uuid.UUID(int=self.minted, version=4))
        self.ids.add(new)
        return new

    def advance(self, micros: int) -> None:
        assert micros >= 0
        self.now += micros

    def past_retention(self, consumer: Consumer) -> bool:
        """§4.5: acks delete rows once backfill_completed_at + 5 minutes < now."""
        bca = consumer.backfill_completed_at
        return bca is not None and bca + RETENTION_US < self.now

    def purge(self) -> None:
        """§4.5 step 3, lazily: past the mark, no acked row is kept."""
        for consumer in self.consumers:
            if self.past_retention(consumer):
                consumer.rows = [r for r in consumer.rows if r.state != "acked"]

    def find_stream(self, ref: str) -> tuple[Optional[Stream], Optional[tuple[int, Any]]]:
        form = uuid_form(ref)
        if form == "other":
            return None, framework_400()
        if form == "hyphenated":
            found = [s for s in self.streams if s.id == ref.lower()]
        else:
            found = [s for s in self.streams if s.name == ref]
        if not found:
            return None, not_found("stream")
        return found[0], None

    def find_consumer_in(self, stream: Stream, ref: str) -> tuple[Optional[Consumer], Optional[tuple]]:
        form = uuid_form(ref)
        if form == "other":
            return None, framework_400()
        mine = [c for c in self.consumers if c.stream is stream]
        if form == "hyphenated":
            found = [c for c in mine if c.id == ref.lower()]
        else:
            found = [c for c in mine if c.name == ref]
        if not found:
            return None, not_found("consumer")
        return found[0], None

    def find_consumer_anywhere(self, ref: str) -> tuple[Optional[Consumer], Optional[tuple]]:
        """§3.7: receive/ack/nack ignore the stream segment; a shared name is a 500."""
        form = uuid_form(ref)
        if form == "other":
            return None, framework_400()
        if form == "hyphenated":
            found = [c for c in self.consumers if c.id == ref.lower()]
        else:
            found = [c for c in self.consumers if c.name == ref]
        if not found:
            return None, not_found("consumer")
        if len(found) > 1:
            return None, internal_error()
        return found[0], None

    def message_by_key(self, stream: Stream, key: str) -> Optional[Message]:
        for m in stream.messages:
            if m.key == key:
                return m
        return None

    # -- JSON views --------------------------------------------------------------------------

    def stream_json(self, s: Stream) -> dict[str, Any]:
        count = len(s.messages)
        return {
            "id": s.id,
            "name": s.name,
            "account_id": self.account_id,
            "stats": {
                "message_count": count,
                "consumer_count": len([c for c in self.consumers if c.stream is s]),
                "storage_size": EMPTY_STORAGE_SIZE if count == 0 else ANY_NON_NEGATIVE_INT,
            },
            "inserted_at": fmt_s(s.inserted_at),
            "updated_at": fmt_s(s.inserted_at),
        }

    def consumer_json(self, c: Consumer) -> dict[str, Any]:
        return {
            "id": c.id,
            "name": c.name,
            "stream_id": c.stream.id,
            "account_id": self.account_id,
            "filter_key_pattern": c.filter_key_pattern,
            "kind": c.kind,
            "status": c.status,
            "ack_wait_ms": c.ack_wait_ms,
            "max_ack_pending": c.max_ack_pending,
            "max_deliver": c.max_deliver,
            "max_waiting": c.max_waiting,
            "http_endpoint_id": None,
            "inserted_at": fmt_s(c.inserted_at),
            "updated_at": fmt_s(c.updated_at),
        }

    def message_json(self, s: Stream, m: Message) -> dict[str, Any]:
        return {
            "key": m.key,
            "stream_id": s.id,
            "data": m.data,
            "data_hash": m.data_hash,
            "seq": m.seq,
            "inserted_at": fmt_us(m.inserted_at),
            "updated_at": fmt_us(m.updated_at),
        }

    # -- streams -----------------------------------------------------------------------------

    def list_streams(self) -> tuple[int, Any]:
        self.purge()
        return 200, {"data": [self.stream_json(s) for s in reversed(self.streams)]}

    def get_stream(self, ref: str) -> tuple[int, Any]:
        self.purge()
        stream, err = self.find_stream(ref)
        if err:
            return err
        return 200, self.stream_json(stream)

    def create_stream(self, body: dict[str, Any]) -> tuple[int, Any]:
        self.purge()
        name = body.get("name")
        if name is None or (isinstance(name, str) and name.strip() == ""):
            error = "can't be blank"
        elif not isinstance(name, str):
            error = "is invalid"
        elif not NAME_RE.fullmatch(name):
            error = "must contain only alphanumeric characters or underscores"
        elif any(s.name == name for s in self.streams):
            error = "has already been taken"
        else:
            error = None
        if error:
            return 422, {"summary": "Validation failed", "validation_errors": {"name": [error]}}
        stream = Stream(self.mint(), name, self.now)
        self.streams.append(stream)
        return 200, self.stream_json(stream)

    def delete_stream(self, ref: str) -> tuple[int, Any]:
        self.purge()
        stream, err = self.find_stream(ref)
        if err:
            return err
        self.consumers = [c for c in self.consumers if c.stream is not stream]
        self.streams.remove(stream)
        return 200, {"id": stream.id, "deleted": True}

    # -- publish (§3.6, §4.7) ------------------------------------------------------------------

    def publish(self, ref: str, body: dict[str, Any]) -> tuple[int, Any]:
        self.purge()
        stream, err = self.find_stream(ref)
        if err:
            return err
        items = body.get("messages")
        if not isinstance(items, list):
            return summary(400, "Missing or invalid messages")
        for item in items:
            if not (isinstance(item, dict) and isinstance(item.get("key"), str)):
                return summary(400, "Invalid message format")
            if not isinstance(item.get("data"), str):
                return summary(400, "Invalid message format")
        for item in reversed(items):
            reason = key_error(item["key"])
            if reason:
                return summary(400, f"Invalid key format: {reason}")
        keys = [item["key"] for item in items]
        if len(set(keys)) != len(keys):
            return internal_error()
        if any(not all(" " <= c <= "~" for c in k) for k in keys):
            return internal_error()

        published = 0
        touched: list[Message] = []
        for item in reversed(items):
            data = item["data"].replace("\x00", "")
            self.counter += 1
            existing = self.message_by_key(stream, item["key"])
            if existing is None:
                message = Message(item["key"], data, self.counter, self.now)
                stream.messages.append(message)
            elif existing.data_hash != data_hash(data):
                self.counter += 1
                existing.data = data
                existing.data_hash = data_hash(data)
                existing.seq = self.counter
                existing.updated_at = self.now
                message = existing
            else:
                continue
            published += 1
            touched.append(message)

        for message in touched:
            for consumer in self.consumers:
                if consumer.stream is not stream or consumer.backfill_completed_at is None:
                    continue
                if not filter_matches(consumer.filter_key_pattern, message.key):
                    continue
                self.fan_out(consumer, message)
        return 200, {"data": {"published": published}}

    def fan_out(self, consumer: Consumer, message: Message) -> None:
        """The §4.7 fan-out table."""
        rows = [r for r in consumer.rows if r.key == message.key]
        if not rows:
            consumer.rows.append(Row(self.mint(), message.key, message.seq))
            return
        row = rows[0]
        if message.seq <= row.message_seq:
            return
        row.message_seq = message.seq
        if row.state == "delivered":
            row.state = "pending_redelivery"
        elif row.state == "acked":
            row.state = "available"

    # -- consumers ---------------------------------------------------------------------------

    def list_consumers(self, ref: str) -> tuple[int, Any]:
        self.purge()
        stream, err = self.find_stream(ref)
        if err:
            return err
        return 200, {"data": [self.consumer_json(c) for c in self.consumers if c.stream is stream]}

    def get_consumer(self, sref: str, cref: str) -> tuple[int, Any]:
        self.purge()
        stream, err = self.find_stream(sref)
        if err:
            return err
        consumer, err = self.find_consumer_in(stream, cref)
        if err:
            return err
        return 200, self.consumer_json(consumer)

    def create_consumer(self, ref: str, body: dict[str, Any]) -> tuple[int, Any]:
        """§3.5c for bodies with name, filter_key_pattern and the integer settings."""
        self.purge()
        stream, err = self.find_stream(ref)
        if err:
            return err
        errors: dict[str, list[str]] = {}
        settings: dict[str, Optional[int]] = dict(INT_DEFAULTS)
        for field, default in INT_DEFAULTS.items():
            if field in body:
                value = cast_int(body[field], default)
                if value is _MISSING:
                    errors[field] = ["is invalid"]
                else:
                    settings[field] = value
        name = body.get("name")
        if name is None or (isinstance(name, str) and name.strip() == ""):
            errors["name"] = ["can't be blank"]
        elif not isinstance(name, str):
            errors["name"] = ["is invalid"]
        pattern = body.get("filter_key_pattern")
        if pattern is None or (isinstance(pattern, str) and pattern.strip() == ""):
            errors["filter_key_pattern"] = ["can't be blank"]
        elif not isinstance(pattern, str):
            errors["filter_key_pattern"] = ["is invalid"]
        if "backfill_completed_at" in body and cast_timestamp(body["backfill_completed_at"]) is _MISSING:
            errors["backfill_completed_at"] = ["is invalid"]
        if not errors and not NAME_RE.fullmatch(name):
            errors["name"] = ["must contain only alphanumeric characters or underscores"]
        if errors:
            return 422, {"summary": "Validation failed", "validation_errors": errors}
        if any(v is None for f, v in settings.items() if f != "max_deliver"):
            return internal_error()  # an explicit null in a NOT NULL column
        if any(v is not None and not -(2**31) <= v < 2**31 for v in settings.values()):
            return internal_error()
        if any(c.stream is stream and c.name == name for c in self.consumers):
            return 422, {
                "summary": "Validation failed",
                "validation_errors": {"stream_id": ["Consumer name must be unique within a stream"]},
            }
        consumer = Consumer(self.mint(), name, stream, pattern, self.now)
        for field, value in settings.items():
            setattr(consumer, field, value)
        self.consumers.append(consumer)
        # §4.8: synchronous backfill of the matching history, oldest seq first.
        for message in sorted(stream.messages, key=lambda m: m.seq):
            if filter_matches(pattern, message.key):
                consumer.rows.append(Row(self.mint(), message.key, message.seq))
        consumer.backfill_completed_at = self.now
        return 200, self.consumer_json(consumer)

    def update_consumer(self, sref: str, cref: str, body: dict[str, Any]) -> tuple[int, Any]:
        """§3.5d for the integer settings, status, kind and backfill_completed_at; every other
        field is ignored (name, filter, ...)."""
        self.purge()
        stream, err = self.find_stream(sref)
        if err:
            return err
        consumer, err = self.find_consumer_in(stream, cref)
        if err:
            return err
        changes: dict[str, Any] = {}
        errors: dict[str, list[str]] = {}
        for field, default in INT_DEFAULTS.items():
            if field in body:
                value = cast_int(body[field], default)
                if value is _MISSING:
                    errors[field] = ["is invalid"]
                else:
                    changes[field] = value
        for field, allowed in ENUMS.items():
            if field in body:
                value = cast_enum(body[field], allowed)
                if value is _MISSING:
                    errors[field] = ["is invalid"]
                else:
                    changes[field] = value
        if "backfill_completed_at" in body:
            value = cast_timestamp(body["backfill_completed_at"])
            if value is _MISSING:
                errors["backfill_completed_at"] = ["is invalid"]
            else:
                changes["backfill_completed_at"] = value
        if errors:
            return 422, {"summary": "Validation failed", "validation_errors": errors}
        changes = {f: v for f, v in changes.items() if getattr(consumer, f) != v}
        if any(v is None and f not in ("max_deliver", "backfill_completed_at") for f, v in changes.items()):
            return internal_error()  # NOT NULL column
        if any(type(v) is int and not -(2**31) <= v < 2**31 for f, v in changes.items() if f in INT_DEFAULTS):
            return internal_error()
        if changes.get("kind", consumer.kind) == "push":
            # the kind/endpoint check constraint: push needs an endpoint, and there is none
            return 422, {"summary": "Validation failed", "validation_errors": {"kind": ["is invalid"]}}
        if changes:
            for field, value in changes.items():
                setattr(consumer, field, value)
            consumer.updated_at = self.now
        return 200, self.consumer_json(consumer)

    def delete_consumer(self, sref: str, cref: str) -> tuple[int, Any]:
        self.purge()
        stream, err = self.find_stream(sref)
        if err:
            return err
        consumer, err = self.find_consumer_in(stream, cref)
        if err:
            return err
        self.consumers.remove(consumer)
        return 200, {"id": consumer.id, "deleted": True}

    # -- receive / ack / nack (§3.7, §4.1-§4.6) ------------------------------------------------------

    def deliverable(self, row: Row) -> bool:
        if row.state == "available":
            return True
        if row.state in ("delivered", "pending_redelivery"):
            return row.not_visible_until is not None and row.not_visible_until <= self.now
        return False

    def receive(self, cref: str, params: dict[str, Any]) -> tuple[int, Any]:
        self.purge()
        consumer, err = self.find_consumer_anywhere(cref)
        if err:
            return err
        batch = params.get("batch_size", 1)
        if isinstance(batch, str):
            if not re.fullmatch(r"[+-]?[0-9]+", batch):
                return summary(400, INVALID_BATCH_SIZE)
            batch = int(batch)
        elif isinstance(batch, float):
            # §3.7a: the guard is `> 0 and <= 1000` on any number; a float that passes it
            # crashes the query (500), one that fails it is the 400.
            return internal_error() if 0 < batch <= 1000 else summary(400, INVALID_BATCH_SIZE)
        elif isinstance(batch, bool) or not isinstance(batch, int):
            return internal_error()
        if not 1 <= batch <= 1000:
            return summary(400, INVALID_BATCH_SIZE)
        if "wait_for" in params:
            return summary(
                400,
                "This endpoint doesn't support the `wait_for` param at the moment. "
                "Please ask the Sequin team for help.",
            )
        if consumer.max_ack_pending < 0:
            return internal_error()
        window = sorted(consumer.rows, key=lambda r: r.message_seq)[: consumer.max_ack_pending]
        chosen = [r for r in window if self.deliverable(r)][:batch]
        out = []
        for row in chosen:
            row.state = "delivered"
            row.deliver_count += 1
            row.not_visible_until = self.now + consumer.ack_wait_ms * 1000
            row.last_delivered_at = self.now
            message = self.message_by_key(consumer.stream, row.key)
            if message is not None and message.seq == row.message_seq:
                out.append({"ack_id": row.ack_id, "message": self.message_json(consumer.stream, message)})
        return 200, {"data": out}

    def _ack_ids(self, body: dict[str, Any]) -> tuple[Optional[list[str]], Optional[tuple]]:
        ids = body.get("ack_ids")
        if not isinstance(ids, list) or not ids:
            return None, summary(400, INVALID_ACK_IDS)
        forms = []
        for x in ids:
            if not isinstance(x, str) or x == "" or uuid_form(x) is None:
                return None, summary(400, INVALID_ACK_IDS)
            forms.append(uuid_form(x))
        if "other" in forms:
            return None, framework_400()
        return [x.lower() for x in ids], None

    def ack(self, cref: str, body: dict[str, Any]) -> tuple[int, Any]:
        self.purge()
        consumer, err = self.find_consumer_anywhere(cref)
        if err:
            return err
        ids, err = self._ack_ids(body)
        if err:
            return err
        delete = self.past_retention(consumer)
        for row in list(consumer.rows):
            if row.ack_id not in ids:
                continue
            if row.state == "delivered":
                if delete:
                    consumer.rows.remove(row)
                else:
                    row.state = "acked"
            elif row.state == "pending_redelivery":
                row.state = "available"
                row.not_visible_until = None
        return 200, {"success": True}

    def nack(self, cref: str, body: dict[str, Any]) -> tuple[int, Any]:
        self.purge()
        consumer, err = self.find_consumer_anywhere(cref)
        if err:
            return err
        ids, err = self._ack_ids(body)
        if err:
            return err
        for row in consumer.rows:
            if row.ack_id in ids and row.state != "acked":
                row.state = "available"
                row.not_visible_until = None
        return 200, {"success": True}

    # -- read-only views (§3.8-§3.11) -------------------------------------------------------------

    def _list_params(self, params: dict[str, Any], visible: bool = False) -> tuple[Optional[dict], Any]:
        sort = params.get("sort", "seq_asc")
        if sort not in ("seq_asc", "seq_desc"):
            return None, summary(400, "Invalid sort parameter")
        limit = params.get("limit", "100")
        if not isinstance(limit, str):
            return None, internal_error()
        if not re.fullmatch(r"[+-]?[0-9]+", limit) or not 1 <= int(limit) <= 10000:
            return None, summary(400, "Invalid limit parameter")
        out = {"desc": sort == "seq_desc", "limit": int(limit), "visible": None, "pattern": None}
        if visible and "visible" in params:
            v = params["visible"]
            if v in ("true", True):
                out["visible"] = True
            elif v in ("false", False):
                out["visible"] = False
            else:
                return None, summary(400, "Invalid visible parameter")
        if "key_pattern" in params:
            pattern = params["key_pattern"]
            if not isinstance(pattern, str):
                return None, internal_error()
            reason = key_pattern_error(pattern)
            if reason:
                return None, summary(400, f"Invalid key pattern: {reason}")
            tokens = pattern.split(".")
            if len(tokens) == 16 and tokens[-1] != ">":
                return None, internal_error()
            out["pattern"] = pattern
        return out, None

    def list_messages(self, ref: str, params: dict[str, Any]) -> tuple[int, Any]:
        self.purge()
        stream, err = self.find_stream(ref)
        if err:
            return err
        opts, err = self._list_params(params)
        if err:
            return err
        msgs = sorted(stream.messages, key=lambda m: m.seq, reverse=opts["desc"])
        if opts["pattern"] is not None:
            msgs = [m for m in msgs if key_pattern_matches(opts["pattern"], m.key)]
        return 200, {"data": [self.message_json(stream, m) for m in msgs[: opts["limit"]]]}

    def get_message(self, ref: str, key: str) -> tuple[int, Any]:
        self.purge()
        stream, err = self.find_stream(ref)
        if err:
            return err
        message = self.message_by_key(stream, key)
        if message is None:
            return not_found("message")
        return 200, self.message_json(stream, message)

    def consumer_info(self, ref: str, key: str) -> tuple[int, Any]:
        """§3.10."""
        self.purge()
        stream, err = self.find_stream(ref)
        if err:
            return err
        message = self.message_by_key(stream, key)
        if message is None:
            return not_found("message")
        infos = []
        for c in self.consumers:
            if c.stream is not stream or not filter_matches(c.filter_key_pattern, key):
                continue
            entry: dict[str, Any] = {
                "consumer_id": c.id,
                "consumer_name": c.name,
                "consumer_filter_key_pattern": c.filter_key_pattern,
            }
            rows = [r for r in c.rows if r.key == key]
            if rows:
                row = rows[0]
                if row.state == "acked":
                    state = "acked"
                elif row.state == "available":
                    state = "available"
                elif row.not_visible_until is not None and row.not_visible_until > self.now:
                    state = "pending"
                else:
                    state = "available"
                entry.update(
                    state=state,
                    ack_id=row.ack_id,
                    deliver_count=row.deliver_count,
                    last_delivered_at=fmt_opt(row.last_delivered_at),
                    not_visible_until=fmt_opt(row.not_visible_until),
                )
            else:
                entry.update(
                    state="acked" if self.past_retention(c) else "available",
                    ack_id=None,
                    deliver_count=None,
                    last_delivered_at=None,
                    not_visible_until=None,
                )
            infos.append(entry)
        return 200, {"data": {"message": self.message_json(stream, message), "consumer_info": infos}}

    def peek(self, sref: str, cref: str, params: dict[str, Any]) -> tuple[int, Any]:
        """§3.11."""
        self.purge()
        stream, err = self.find_stream(sref)
        if err:
            return err
        consumer, err = self.find_consumer_in(stream, cref)
        if err:
            return err
        opts, err = self._list_params(params, visible=True)
        if err:
            return err
        rows = [r for r in consumer.rows if r.state != "acked"]

        def visible_now(r: Row) -> bool:
            return r.state == "available" or (
                r.not_visible_until is not None and r.not_visible_until <= self.now
            )

        if opts["visible"] is True:
            rows = [r for r in rows if visible_now(r)]
        elif opts["visible"] is False:
            rows = [r for r in rows if not visible_now(r)]
        if opts["pattern"] is not None:
            rows = [r for r in rows if key_pattern_matches(opts["pattern"], r.key)]
        rows.sort(key=lambda r: r.message_seq, reverse=opts["desc"])
        out = []
        for row in rows[: opts["limit"]]:
            message = self.message_by_key(stream, row.key)
            if row.state == "available" or (
                row.not_visible_until is not None and row.not_visible_until < self.now
            ):
                state, nvu = "available", None
            else:
                state, nvu = "delivered", fmt_opt(row.not_visible_until)
            out.append(
                {
                    "message": self.message_json(stream, message),
                    "info": {
                        "ack_id": row.ack_id,
                        "deliver_count": row.deliver_count,
                        "last_delivered_at": fmt_opt(row.last_delivered_at),
                        "not_visible_until": nvu,
                        "state": state,
                    },
                }
            )
        return 200, {"data": out}
