"""The Sequin engine: one account's streams, messages and consumers (spec §1–§4, §7).

Each public method is one API action. It takes the merged parameter map exactly as the real
controller sees it (query, then body, then path), validates in the real server's order, and
either returns plain records or raises :class:`~.errors.ApiError` with the real answer. There
is no HTTP here and no pytest: the HTTP layer and tests drive this class directly.

One lock serialises every action. That is how the real server's transactions look from
outside (no half-written state is ever visible) and it costs little, since the work done per
request under the lock is small next to HTTP parsing and JSON.
"""

from __future__ import annotations

import binascii
import hashlib
import logging
import re
import threading
from typing import Any, Callable, Mapping

from . import casting, ids
from .clock import Clock, SystemClock
from .consumer import Consumer
from .errors import ApiError, bad_request, framework_error, internal_error, not_found, validation_failed
from .keys import (
    MAX_TOKENS,
    ListPattern,
    is_plain_valid_key,
    is_storable_key,
    key_format_error,
    key_pattern_error,
)
from .models import ACKED, AVAILABLE, IN_FLIGHT, Message, Stream, format_micros
from .relations import RelationRegistry

log = logging.getLogger("pytest_sequin.server")

_NAME_FORMAT = re.compile(r"[A-Za-z0-9_]+$")  # `$` also matches before one trailing "\n" (§2.1)
_NAME_FORMAT_MESSAGE = "must contain only alphanumeric characters or underscores"
_BATCH_SIZE_STRING = re.compile(r"[+-]?[0-9]+")
MAX_BIND_PARAMETERS = 65535

BATCH_SIZE_ERROR = "Invalid `batch_size`. `batch_size` must be an integer between 1 and 1000."
WAIT_FOR_ERROR = (
    "This endpoint doesn't support the `wait_for` param at the moment. Please ask the Sequin team for help."
)
ACK_IDS_ERROR = (
    "Invalid ack_ids. Must send a top-level `ack_ids` property that is a non-empty list of valid UUID strings"
)

#: Consumer fields, their casters and schema defaults (§3.5c).
_CONSUMER_DEFAULTS: dict[str, Any] = {
    "kind": "pull",
    "status": "active",
    "ack_wait_ms": 30000,
    "max_ack_pending": 10000,
    "max_deliver": None,
    "max_waiting": 20,
    "http_endpoint_id": None,
}
_CONSUMER_CASTERS: dict[str, Callable[[Any], casting.Cast]] = {
    "kind": lambda v: casting.cast_enum(v, ("pull", "push")),
    "status": lambda v: casting.cast_enum(v, ("active", "disabled")),
    "ack_wait_ms": casting.cast_integer,
    "max_ack_pending": casting.cast_integer,
    "max_deliver": casting.cast_integer,
    "max_waiting": casting.cast_integer,
    "http_endpoint_id": casting.cast_endpoint_id,
}
_INTEGER_FIELDS = ("ack_wait_ms", "max_ack_pending", "max_deliver", "max_waiting")
_NOT_NULL_ON_CREATE = ("ack_wait_ms", "max_ack_pending", "max_waiting")
_NOT_NULL_ON_UPDATE = ("ack_wait_ms", "max_ack_pending", "max_waiting", "kind", "status")


def _kind_consistent(kind: str, endpoint_id: str | None) -> bool:
    """The consumers table check constraint: push needs an endpoint, pull must have none."""
    return (kind == "push") == (endpoint_id is not None)


class Engine:
    """All state of one emulated Sequin server. Thread-safe."""

    def __init__(self, clock: Clock | None = None, seed_default_stream: bool = True) -> None:
        self.clock: Clock = clock or SystemClock()
        self.lock = threading.RLock()
        self.account_id = ids.new_uuid4()
        self.streams: dict[str, Stream] = {}  # id -> stream, in creation order
        self.streams_by_name: dict[str, Stream] = {}
        self.consumers: dict[str, Consumer] = {}  # id -> consumer, account-wide
        self.consumers_by_name: dict[str, list[Consumer]] = {}
        self.http_endpoints: dict[str, dict[str, Any]] = {}
        self.relations = RelationRegistry()
        self.seq_counter = 0
        #: Called with (consumer) when a push consumer may have work; set by the push deliverer.
        self.on_push_work: Callable[[Consumer], None] | None = None
        if seed_default_stream:
            self.create_stream({"name": "default"})

    # -- lookups (§2.2) -------------------------------------------------------------------

    @staticmethod
    def _lookup(id_or_name: Any, entity: str, by_id: Mapping[str, Any], by_name: Callable[[str], Any]) -> Any:
        """Id if the segment looks like a UUIDv4, else an exact name (§2.2)."""
        if not isinstance(id_or_name, str):
            raise not_found(entity)
        shape = ids.classify(id_or_name)
        if shape == ids.NON_CANONICAL:
            raise framework_error(400, cause=f"non-canonical UUID form used as a {entity} id")
        found = by_id.get(id_or_name.lower()) if shape == ids.HYPHENATED else by_name(id_or_name)
        if found is None:
            raise not_found(entity)
        return found

    def _resolve_stream(self, id_or_name: Any) -> Stream:
        return self._lookup(id_or_name, "stream", self.streams, self.streams_by_name.get)

    def _resolve_consumer_in(self, stream: Stream, id_or_name: Any) -> Consumer:
        def by_name(name: str) -> Consumer | None:
            return next((c for c in stream.consumers.values() if c.name == name), None)

        return self._lookup(id_or_name, "consumer", stream.consumers, by_name)

    def _resolve_consumer_anywhere(self, id_or_name: Any) -> Consumer:
        """Receive, ack and nack ignore the stream segment (§3.7)."""

        def by_name(name: str) -> Consumer | None:
            found = self.consumers_by_name.get(name, [])
            if len(found) > 1:
                raise internal_error(
                    f"consumer name {name!r} is shared by {len(found)} consumers in the account "
                    "(Ecto.MultipleResultsError on the real server)"
                )
            return found[0] if found else None

        return self._lookup(id_or_name, "consumer", self.consumers, by_name)

    # -- streams (§3.1–§3.4) --------------------------------------------------------------

    def list_streams(self) -> list[dict[str, Any]]:
        with self.lock:
            return [stream.to_dict() for stream in reversed(self.streams.values())]

    def get_stream(self, id_or_name: Any) -> dict[str, Any]:
        with self.lock:
            return self._resolve_stream(id_or_name).to_dict()

    def create_stream(self, params: Mapping[str, Any]) -> dict[str, Any]:
        name = params.get("name")
        if not isinstance(name, str) and name is not None:
            raise validation_failed({"name": [casting.INVALID]})
        if name is None or casting.is_blank(name):
            raise validation_failed({"name": [casting.BLANK]})
        if not _NAME_FORMAT.match(name):
            raise validation_failed({"name": [_NAME_FORMAT_MESSAGE]})
        with self.lock:
            if name in self.streams_by_name:
                raise validation_failed({"name": ["has already been taken"]})
            relations = self.relations.create_stream_table(name)
            if relations is None:
                raise internal_error(
                    f"stream name {name!r}: its table name collides with an existing PostgreSQL relation "
                    "(duplicate_table on the real server, spec §7.2)"
                )
            now = self.clock.now_us()
            stream = Stream(ids.new_uuid4(), name, self.account_id, now, relations)
            self.streams[stream.id] = stream
            self.streams_by_name[name] = stream
            return stream.to_dict()

    def delete_stream(self, id_or_name: Any) -> dict[str, Any]:
        with self.lock:
            stream = self._resolve_stream(id_or_name)
            for consumer in list(stream.consumers.values()):
                self._drop_consumer(consumer)
            del self.streams[stream.id]
            del self.streams_by_name[stream.name]
            self.relations.drop(stream.relations)
            stream.messages = {}
            return {"id": stream.id, "deleted": True}

    # -- consumers (§3.5) -----------------------------------------------------------------

    def list_consumers(self, stream_id_or_name: Any) -> list[dict[str, Any]]:
        with self.lock:
            stream = self._resolve_stream(stream_id_or_name)
            return [c.to_dict() for c in stream.consumers.values()]

    def get_consumer(self, stream_id_or_name: Any, id_or_name: Any) -> dict[str, Any]:
        with self.lock:
            stream = self._resolve_stream(stream_id_or_name)
            return self._resolve_consumer_in(stream, id_or_name).to_dict()

    def create_consumer(self, stream_id_or_name: Any, params: Mapping[str, Any]) -> dict[str, Any]:
        with self.lock:
            stream = self._resolve_stream(stream_id_or_name)
            errors: dict[str, Any] = {}
            values: dict[str, Any] = {}
            for field in ("name", "filter_key_pattern"):
                cast = casting.cast_string(params.get(field))
                if cast.error:
                    errors[field] = [cast.error]
                elif cast.value is None or cast.value is casting.DEFAULT:
                    errors[field] = [casting.BLANK]
                else:
                    values[field] = cast.value
            for field, caster in _CONSUMER_CASTERS.items():
                if field not in params:
                    values[field] = _CONSUMER_DEFAULTS[field]
                    continue
                cast = caster(params[field])
                if cast.error:
                    errors[field] = [cast.error]
                else:
                    values[field] = _CONSUMER_DEFAULTS[field] if cast.value is casting.DEFAULT else cast.value
            for field in ("kind", "status"):
                if field not in errors and values.get(field) is None:
                    errors[field] = [casting.BLANK]
            inline_endpoint = None
            if "http_endpoint" in params and params["http_endpoint"] is not None:
                cast = casting.cast_inline_endpoint(params["http_endpoint"])
                if cast.error:
                    errors["http_endpoint"] = cast.error
                else:
                    inline_endpoint = cast.value
            if "backfill_completed_at" in params:
                cast = casting.cast_datetime_us(params["backfill_completed_at"])
                if cast.error:
                    errors["backfill_completed_at"] = [cast.error]
            if not errors and not _NAME_FORMAT.match(values["name"]):
                errors["name"] = [_NAME_FORMAT_MESSAGE]
            if errors:
                raise validation_failed(errors)

            # Past the changeset: failures of the database write, in PostgreSQL's order.
            for field in _INTEGER_FIELDS:
                if casting.out_of_int32(values[field]):
                    raise internal_error(f"{field}={values[field]} is outside the int32 column range")
            endpoint_id = values["http_endpoint_id"]
            if endpoint_id is not None and not ids.is_canonical_uuid(endpoint_id):
                raise internal_error(f"http_endpoint_id {endpoint_id!r} is not a UUID (Ecto.UUID dump error)")
            for field in _NOT_NULL_ON_CREATE:
                if values[field] is None:
                    raise internal_error(f"explicit null for NOT NULL column {field}")
            if inline_endpoint is not None:
                endpoint_id = ids.new_uuid4()
            if not _kind_consistent(values["kind"], endpoint_id):
                raise validation_failed({"kind": [casting.INVALID]})
            name = values["name"]
            if any(c.name == name for c in stream.consumers.values()):
                raise validation_failed({"stream_id": ["Consumer name must be unique within a stream"]})
            if (
                inline_endpoint is None
                and endpoint_id is not None
                and endpoint_id.lower() not in self.http_endpoints
            ):
                raise validation_failed({"http_endpoint_id": ["does not exist"]})
            relations = self.relations.create_consumer_table(stream.name, name)
            if relations is None:
                raise internal_error(
                    f"consumer name {name!r} on stream {stream.name!r}: its table name collides with an "
                    "existing PostgreSQL relation, or the stream name's trailing newline breaks the "
                    "CREATE TABLE (duplicate_table or syntax_error on the real server, spec §7.2)"
                )
            if inline_endpoint is not None:
                self.http_endpoints[endpoint_id] = dict(inline_endpoint, id=endpoint_id)
            values["http_endpoint_id"] = endpoint_id.lower() if endpoint_id else None
            now = self.clock.now_us()
            consumer = Consumer(
                ids.new_uuid4(), name, stream, values["filter_key_pattern"], values, now, relations
            )
            # A body ``backfill_completed_at`` is cast (a bad one is a 422 above) and stored, but the
            # backfill then overwrites it with "now" (§3.5c: "normally overwritten at create time";
            # every emulated backfill completes synchronously, §4.8).
            consumer.backfill(stream.messages.values(), now)
            stream.consumers[consumer.id] = consumer
            self.consumers[consumer.id] = consumer
            self.consumers_by_name.setdefault(name, []).append(consumer)
            self._notify_push(consumer)
            return consumer.to_dict()

    def update_consumer(
        self, stream_id_or_name: Any, id_or_name: Any, params: Mapping[str, Any]
    ) -> dict[str, Any]:
        with self.lock:
            stream = self._resolve_stream(stream_id_or_name)
            consumer = self._resolve_consumer_in(stream, id_or_name)
            errors: dict[str, Any] = {}
            changes: dict[str, Any] = {}
            for field, caster in _CONSUMER_CASTERS.items():
                if field not in params:
                    continue
                cast = caster(params[field])
                if cast.error:
                    errors[field] = [cast.error]
                else:
                    changes[field] = (
                        _CONSUMER_DEFAULTS[field] if cast.value is casting.DEFAULT else cast.value
                    )
            if "backfill_completed_at" in params:
                cast = casting.cast_datetime_us(params["backfill_completed_at"])
                if cast.error:
                    errors["backfill_completed_at"] = [cast.error]
                else:
                    changes["backfill_completed_at"] = None if cast.value is casting.DEFAULT else cast.value
            if errors:
                raise validation_failed(errors)
            for field in _INTEGER_FIELDS:
                if casting.out_of_int32(changes.get(field)):
                    raise internal_error(f"{field}={changes[field]} is outside the int32 column range")
            endpoint_id = changes.get("http_endpoint_id")
            if endpoint_id is not None and not ids.is_canonical_uuid(endpoint_id):
                raise internal_error(f"http_endpoint_id {endpoint_id!r} is not a UUID (Ecto.UUID dump error)")
            for field in _NOT_NULL_ON_UPDATE:
                if field in changes and changes[field] is None:
                    raise internal_error(f"explicit null for NOT NULL column {field} on update")
            kind = changes.get("kind", consumer.kind)
            new_endpoint = changes.get("http_endpoint_id", consumer.http_endpoint_id)
            if not _kind_consistent(kind, new_endpoint):
                raise validation_failed({"kind": [casting.INVALID]})
            if "http_endpoint_id" in changes and new_endpoint is not None:
                new_endpoint = new_endpoint.lower()
                changes["http_endpoint_id"] = new_endpoint
                if new_endpoint not in self.http_endpoints:
                    raise internal_error(
                        f"http_endpoint_id {new_endpoint} does not exist (foreign key violation on update)"
                    )
            changed = {f: v for f, v in changes.items() if getattr(consumer, f) != v}
            if changed:
                for field, value in changed.items():
                    setattr(consumer, field, value)
                consumer.updated_at = self.clock.now_us()
                self._notify_push(consumer)
            return consumer.to_dict()

    def delete_consumer(self, stream_id_or_name: Any, id_or_name: Any) -> dict[str, Any]:
        with self.lock:
            stream = self._resolve_stream(stream_id_or_name)
            consumer = self._resolve_consumer_in(stream, id_or_name)
            self._drop_consumer(consumer)
            return {"id": consumer.id, "deleted": True}

    def _drop_consumer(self, consumer: Consumer) -> None:
        del consumer.stream.consumers[consumer.id]
        del self.consumers[consumer.id]
        same_name = self.consumers_by_name[consumer.name]
        same_name.remove(consumer)
        if not same_name:
            del self.consumers_by_name[consumer.name]
        self.relations.drop(consumer.relations)
        consumer.rows = {}
        consumer.by_ack_id = {}
        self._notify_push(consumer)  # its delivery thread, if any, ends now rather than on its next poll

    # -- publish (§3.6, §4.7) -------------------------------------------------------------

    def publish(self, stream_id_or_name: Any, params: Mapping[str, Any], *, plain: bool = False) -> int:
        """``plain=True`` is the caller's promise that no ``data`` string needs JSON escaping
        (see :attr:`~.models.Message.plain`); it changes no answer, only how fast receive and
        list encode the messages."""
        with self.lock:
            stream = self._resolve_stream(stream_id_or_name)
            messages = params.get("messages")
            if type(messages) is not list:
                raise bad_request("Missing or invalid messages")
            for item in messages:
                if (
                    type(item) is not dict
                    or type(item.get("key")) is not str
                    or type(item.get("data")) is not str
                ):
                    raise bad_request("Invalid message format")
            keys = [item["key"] for item in messages]
            # Fast path: when every key is plainly valid, the checks below cannot fail but the
            # duplicate check; each check is still made, in the real order, for the slow path.
            plain_keys = all(map(is_plain_valid_key, keys))
            if not plain_keys:
                for key in reversed(keys):
                    reason = key_format_error(key)
                    if reason:
                        raise bad_request(f"Invalid key format: {reason}")
            if len(set(keys)) != len(keys):
                raise internal_error(
                    "a key appears twice in one publish batch (PostgreSQL: ON CONFLICT DO UPDATE "
                    "command cannot affect row a second time)"
                )
            if not plain_keys:
                for key in keys:
                    if not is_storable_key(key):
                        raise internal_error(
                            f"key {key!r} has non-ASCII or control characters (check constraint violation)"
                        )
            # 6 parameters per message plus one per token beyond the first; a plain key has at
            # most 16 tokens, so up to 3,120 plain keys cannot reach PostgreSQL's limit.
            if not plain_keys or len(keys) * (6 + MAX_TOKENS - 1) + 1 > MAX_BIND_PARAMETERS:
                parameters = 1 + 6 * len(keys) + sum(key.count(".") for key in keys)
                if parameters > MAX_BIND_PARAMETERS:
                    raise internal_error(
                        f"publish needs {parameters} bind parameters, over PostgreSQL's 65535"
                    )
            return self._write_messages(stream, messages, plain)

    def _write_messages(self, stream: Stream, items: list[dict[str, Any]], plain: bool = False) -> int:
        now = self.clock.now_us()
        stored = stream.messages
        stream_id = stream.id
        written: list[Message] = []
        seq = self.seq_counter
        written_bytes = 0
        # models.data_hash() inlined (the same expression): a Python call per message is ~5 % of
        # a publish (bench figure 2.4).
        sha256, b2a_base64 = hashlib.sha256, binascii.b2a_base64
        for item in reversed(items):
            key = item["key"]
            data = item["data"]
            if "\x00" in data:
                data = data.replace("\x00", "")
            digest = b2a_base64(sha256(data.encode("utf-8")).digest(), newline=False).decode("ascii")
            existing = stored.get(key)
            seq += 1
            if existing is None:
                message = Message(key, data, digest, seq, stream_id, now, now, plain)
            elif existing.data_hash == digest:
                continue
            else:
                seq += 1
                message = Message(key, data, digest, seq, stream_id, existing.inserted_at, now, plain)
                del stored[key]
            stored[key] = message
            written_bytes += len(key) + len(data) + 100
            written.append(message)
        self.seq_counter = seq
        stream.bytes_written += written_bytes
        if written and stream.consumers:
            for consumer in [c for c in stream.consumers.values() if c.backfill_completed_at is not None]:
                consumer.purge_if_due(now)
                consumer.offer_many(written, now)
                self._notify_push(consumer)
        return len(written)

    # -- receive, ack, nack (§3.7, §4) ----------------------------------------------------

    def receive(self, consumer_id_or_name: Any, params: Mapping[str, Any]) -> list[tuple[str, Message]]:
        with self.lock:
            consumer = self._resolve_consumer_anywhere(consumer_id_or_name)
            batch_size = _parse_batch_size(params)
            if "wait_for" in params:
                raise bad_request(WAIT_FOR_ERROR)
            if consumer.max_ack_pending < 0:
                raise internal_error("negative max_ack_pending becomes a negative SQL LIMIT")
            return consumer.receive(batch_size, self.clock.now_us())

    def ack(self, consumer_id_or_name: Any, params: Mapping[str, Any]) -> None:
        with self.lock:
            consumer = self._resolve_consumer_anywhere(consumer_id_or_name)
            consumer.ack(_parse_ack_ids(params), self.clock.now_us())
            self._notify_push(consumer)

    def nack(self, consumer_id_or_name: Any, params: Mapping[str, Any]) -> None:
        with self.lock:
            consumer = self._resolve_consumer_anywhere(consumer_id_or_name)
            consumer.nack(_parse_ack_ids(params), self.clock.now_us())
            self._notify_push(consumer)

    def _notify_push(self, consumer: Consumer) -> None:
        if self.on_push_work is not None and consumer.kind == "push":
            self.on_push_work(consumer)

    # -- read-only views (§3.8–§3.11) -----------------------------------------------------

    def list_messages(self, stream_id_or_name: Any, params: Mapping[str, Any]) -> list[Message]:
        with self.lock:
            stream = self._resolve_stream(stream_id_or_name)
            descending, limit, pattern = _parse_list_params(params)
            source = reversed(stream.messages.values()) if descending else stream.messages.values()
            result: list[Message] = []
            for message in source:
                if pattern is None or pattern.matches(message.tokens):
                    result.append(message)
                    if len(result) >= limit:
                        break
            return result

    def get_message(self, stream_id_or_name: Any, key: Any) -> Message:
        with self.lock:
            stream = self._resolve_stream(stream_id_or_name)
            message = stream.messages.get(key) if isinstance(key, str) else None
            if message is None:
                raise not_found("message")
            return message

    def message_consumer_info(self, stream_id_or_name: Any, key: Any) -> tuple[Message, list[dict[str, Any]]]:
        with self.lock:
            stream = self._resolve_stream(stream_id_or_name)
            message = stream.messages.get(key) if isinstance(key, str) else None
            if message is None:
                raise not_found("message")
            now = self.clock.now_us()
            infos = [
                c.info_for_key(message.key, now)
                for c in stream.consumers.values()
                if c.matches(message.tokens)
            ]
            return message, infos

    def peek(
        self, stream_id_or_name: Any, consumer_id_or_name: Any, params: Mapping[str, Any]
    ) -> list[tuple[Message, dict[str, Any]]]:
        with self.lock:
            stream = self._resolve_stream(stream_id_or_name)
            consumer = self._resolve_consumer_in(stream, consumer_id_or_name)
            descending, limit, pattern, visible = _parse_peek_params(params)
            now = self.clock.now_us()
            consumer.purge_if_due(now)
            rows = reversed(consumer.rows.values()) if descending else consumer.rows.values()
            messages = stream.messages
            result: list[tuple[Message, dict[str, Any]]] = []
            for row in rows:
                if row.state == ACKED:
                    continue
                in_flight = row.state in IN_FLIGHT
                if visible is True and in_flight and row.not_visible_until > now:  # type: ignore[operator]
                    continue
                if visible is False and not (in_flight and row.not_visible_until > now):  # type: ignore[operator]
                    continue
                message = messages.get(row.key)
                if message is None or (pattern is not None and not pattern.matches(message.tokens)):
                    continue
                hidden = in_flight and not row.not_visible_until < now  # type: ignore[operator]
                info = {
                    "ack_id": row.ack_id,
                    "deliver_count": row.deliver_count,
                    "last_delivered_at": format_micros(row.last_delivered_at),
                    "not_visible_until": format_micros(row.not_visible_until) if hidden else None,
                    "state": "delivered" if hidden else AVAILABLE,
                }
                result.append((message, info))
                if len(result) >= limit:
                    break
            return result


# -- parameter parsing shared by several actions ----------------------------------------------


def _parse_batch_size(params: Mapping[str, Any]) -> int:
    """§3.7a: default 1; strings must be wholly an integer; floats and non-numbers crash."""
    if "batch_size" not in params:
        return 1
    value = params["batch_size"]
    if isinstance(value, str):
        if not _BATCH_SIZE_STRING.fullmatch(value):
            raise bad_request(BATCH_SIZE_ERROR)
        value = int(value)
    elif type(value) is float:
        # The controller's guard is `int > 0 and int <= 1000` on any number, so a float in that
        # range (0.5 too: it is > 0) passes it and crashes when the query is run; only floats
        # outside it get the 400.
        if 0 < value <= 1000:
            raise internal_error(f"batch_size {value!r} is a float: the SQL LIMIT cast fails")
        raise bad_request(BATCH_SIZE_ERROR)
    elif type(value) is not int:
        raise internal_error(f"batch_size {value!r} is not a number: the parameter parser crashes")
    if not 1 <= value <= 1000:
        raise bad_request(BATCH_SIZE_ERROR)
    return value


def _parse_ack_ids(params: Mapping[str, Any]) -> list[str]:
    ack_ids = params.get("ack_ids")
    if type(ack_ids) is not list or not ack_ids:
        raise bad_request(ACK_IDS_ERROR)
    if ids.all_hyphenated(ack_ids):
        return ack_ids
    shapes = []
    for ack_id in ack_ids:
        shape = ids.classify(ack_id) if isinstance(ack_id, str) and ack_id else None
        if shape is None:
            raise bad_request(ACK_IDS_ERROR)
        shapes.append(shape)
    if ids.NON_CANONICAL in shapes:
        raise framework_error(400, cause="non-canonical UUID form in ack_ids")
    return ack_ids


def _parse_list_params(params: Mapping[str, Any]) -> tuple[bool, int, ListPattern | None]:
    """``sort``, ``limit`` and ``key_pattern`` of §3.8, validated in that order."""
    sort = params.get("sort", "seq_asc")
    if not isinstance(sort, str) or sort not in ("seq_asc", "seq_desc"):
        raise bad_request("Invalid sort parameter")
    limit = 100
    if "limit" in params:
        raw = params["limit"]
        if not isinstance(raw, str):
            raise internal_error(f"non-string limit {raw!r} (Integer.parse/1 crashes)")
        if not _BATCH_SIZE_STRING.fullmatch(raw) or not 1 <= int(raw) <= 10000:
            raise bad_request("Invalid limit parameter")
        limit = int(raw)
    pattern = None
    if "key_pattern" in params:
        raw = params["key_pattern"]
        if not isinstance(raw, str):
            raise internal_error(f"non-string key_pattern {raw!r} (String functions crash)")
        reason = key_pattern_error(raw)
        if reason:
            raise bad_request(f"Invalid key pattern: {reason}")
        pattern = ListPattern(raw)
        if pattern.needs_missing_column:
            raise internal_error("a 16-token key_pattern without '>' references a 17th token column")
    return sort == "seq_desc", limit, pattern


def _parse_peek_params(params: Mapping[str, Any]) -> tuple[bool, int, ListPattern | None, bool | None]:
    """§3.11: sort, limit, visible, key_pattern, in that order."""
    sort = params.get("sort", "seq_asc")
    if not isinstance(sort, str) or sort not in ("seq_asc", "seq_desc"):
        raise bad_request("Invalid sort parameter")
    rest = {k: params[k] for k in ("limit",) if k in params}
    _, limit, _ = _parse_list_params(rest)
    visible: bool | None = None
    if "visible" in params:
        raw = params["visible"]
        if raw == "true" or raw is True:
            visible = True
        elif raw == "false" or raw is False:
            visible = False
        else:
            raise bad_request("Invalid visible parameter")
    pattern_params = {k: params[k] for k in ("key_pattern",) if k in params}
    _, _, pattern = _parse_list_params(pattern_params)
    return sort == "seq_desc", limit, pattern, visible


__all__ = ["Engine", "ApiError", "AVAILABLE"]
