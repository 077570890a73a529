"""Stream and consumer handles: short, exception-raising methods for tests and fixtures.

Why handles exist next to the SDK-style methods: a test wants ``stream.send("k", "v")`` to either
work or fail loudly, not to unpack and assert an ``(result, error)`` tuple on every line.

Design notes:

* Handles address streams and consumers **by id** once created or fetched. Receive, ack and nack
  look consumers up across the whole account, and by name they answer 500 as soon as two streams
  have a consumer of the same name; by id they always work. Ids also keep a handle from silently
  reaching a new stream that was re-created under the same name.
* Keys, data, names and ack ids must be ``str``: anything else raises ``TypeError`` before a request
  is sent (the server would answer 400 ``Invalid message format`` or a 422, which points nowhere
  near the bug). The SDK-compatible methods on the client pass such values through unchanged.
* Every failure raises ``SequinError`` (status, summary, full body, request).
* Both handles are context managers that delete what they stand for on exit (a 404 then is fine).
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Dict, Iterable, List, Mapping, Optional, Tuple, TypeVar, Union

from .errors import SequinError
from .urls import query as _query
from .urls import seg as _seg

if TYPE_CHECKING:
    from .sdk import SequinClient

__all__ = ["ConsumerHandle", "ReceivedMessage", "StreamHandle", "unique_name"]

MessagesArg = Union[Mapping[str, str], Iterable[Union[Mapping[str, Any], Tuple[str, str]]]]


def unique_name(prefix: str) -> str:
    """``<prefix>_<12 hex>``: short (derived table names are cut at 63 bytes), lowercase, valid."""
    return f"{prefix}_{uuid.uuid4().hex[:12]}"


_DATA_HINT = "; Sequin only stores strings (serialize it first, e.g. json.dumps)"


def _require_str(value: Any, what: str, hint: str = "") -> str:
    if not isinstance(value, str):
        raise TypeError(f"{what} must be a str, got {type(value).__name__} ({value!r}){hint}")
    return value


@dataclass(frozen=True)
class ReceivedMessage:
    """One item handed out by ``ConsumerHandle.receive``.

    ``ack_id`` is what ack/nack take (the item itself is accepted too); ``key``, ``data`` and
    ``seq`` are lifted from ``message`` because tests assert on them all the time; ``message`` is
    the full server message (``stream_id``, ``data_hash``, timestamps...).
    """

    ack_id: str
    key: str
    data: str
    seq: int
    message: Dict[str, Any] = field(repr=False, compare=False)

    @classmethod
    def from_item(cls, item: Mapping[str, Any]) -> ReceivedMessage:
        """From one SDK-style receive item ``{"ack_id", "message"}`` (the message is copied)."""
        message = item["message"]
        return cls(item["ack_id"], message["key"], message["data"], message["seq"], dict(message))

    @classmethod
    def _from_decoded(cls, item: Dict[str, Any]) -> ReceivedMessage:
        """``from_item`` for an item fresh from ``json.loads`` (nobody else holds its dicts): no
        copy, and the frozen dataclass's five ``object.__setattr__`` calls done as one update."""
        message = item["message"]
        received = cls.__new__(cls)
        received.__dict__.update(
            ack_id=item["ack_id"],
            key=message["key"],
            data=message["data"],
            seq=message["seq"],
            message=message,
        )
        return received


AckArg = Union[str, ReceivedMessage, Iterable[Union[str, ReceivedMessage]]]


def _ack_ids(items: Tuple[AckArg, ...]) -> List[str]:
    """Flatten ack ids / ReceivedMessage items / iterables of them (one level)."""
    ids: List[str] = []
    for item in items:
        if isinstance(item, (str, ReceivedMessage)) or _is_sdk_item(item):
            group: Iterable[Any] = (item,)
        elif isinstance(item, Iterable) and not isinstance(item, (bytes, Mapping)):
            group = item
        else:
            raise TypeError(
                f"expected an ack id, a ReceivedMessage, a receive item {{'ack_id', 'message'}} "
                f"or a list of them, got {item!r}"
            )
        for one in group:
            if isinstance(one, ReceivedMessage):
                ids.append(one.ack_id)
            elif _is_sdk_item(one):
                ids.append(_require_str(one["ack_id"], "ack id"))
            else:
                ids.append(_require_str(one, "ack id"))
    return ids


def _is_sdk_item(value: Any) -> bool:
    """A receive item as sequin-py returns it (``{"ack_id", "message"}``): apps often receive
    with sequin-py while the test acks through a handle."""
    return isinstance(value, Mapping) and "ack_id" in value


def _normalise_messages(messages: MessagesArg) -> List[Dict[str, str]]:
    """Accept ``{key: data}``, ``[(key, data), ...]`` or ``[{"key", "data"}, ...]``; check types."""
    if isinstance(messages, (str, bytes)):
        raise TypeError("messages must be a dict key->data or a list of messages, not a string")
    if isinstance(messages, Mapping):
        pairs: Iterable[Any] = messages.items()
    elif isinstance(messages, Iterable):
        pairs = messages
    else:
        raise TypeError(f"messages must be a dict or a list, got {type(messages).__name__}")
    out: List[Dict[str, str]] = []
    seen = set()
    for index, item in enumerate(pairs):
        # Exact-type checks first: the ABC checks cost ~1 us per message (bench figure 2.4).
        if type(item) is tuple and len(item) == 2:
            key, data = item
        elif isinstance(item, Mapping):
            if "key" not in item or "data" not in item:
                raise TypeError(f"message #{index} must have 'key' and 'data', got {dict(item)!r}")
            key, data = item["key"], item["data"]
        elif isinstance(item, tuple) and len(item) == 2:
            key, data = item
        else:
            raise TypeError(f"message #{index} must be a (key, data) tuple or a dict, got {item!r}")
        if type(key) is not str:
            _require_str(key, f"message #{index} key")
        if type(data) is not str:
            _require_str(data, f"message #{index} data", _DATA_HINT)
        if key in seen:
            # The real server answers 500 and drops the whole batch; say so before sending.
            raise ValueError(f"key {key!r} appears twice in one batch (Sequin answers 500 for that)")
        seen.add(key)
        out.append({"key": key, "data": data})
    return out


class _Handle:
    """What both handles share: identity by id, delete, and use as a context manager."""

    client: SequinClient
    id: str

    @property
    def _path(self) -> str:
        raise NotImplementedError

    def delete(self, missing_ok: bool = False) -> None:
        """Delete it on the server (a stream goes with its consumers and messages, a consumer
        with its delivery state). ``missing_ok``: an already deleted one is fine."""
        try:
            self.client._call("DELETE", self._path, unwrap=False)
        except SequinError as exc:
            if not (missing_ok and exc.status == 404):
                raise

    def __enter__(self: _H) -> _H:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.delete(missing_ok=True)

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and other.id == self.id  # type: ignore[attr-defined]

    def __hash__(self) -> int:
        return hash((type(self).__name__, self.id))


_H = TypeVar("_H", bound=_Handle)


class StreamHandle(_Handle):
    """A stream that exists on the server. ``record`` is its last fetched object (with ``stats``)."""

    def __init__(self, client: SequinClient, record: Mapping[str, Any]) -> None:
        self.client = client
        self.record: Dict[str, Any] = dict(record)
        self.name: str = record["name"]
        self.id: str = record["id"]

    @classmethod
    def create(cls, client: SequinClient, name: Optional[str] = None, **options: Any) -> StreamHandle:
        """Create the stream (``name`` defaults to a unique one); see ``SequinClient.new_stream``."""
        name = unique_name("s") if name is None else _require_str(name, "stream name")
        return cls(client, client._call("POST", "/api/streams", {**options, "name": name}, unwrap=False))

    @classmethod
    def fetch(cls, client: SequinClient, stream_id_or_name: str) -> StreamHandle:
        """Handle for an existing stream (one GET: a missing stream raises SequinError 404 here)."""
        _require_str(stream_id_or_name, "stream id or name")
        return cls(client, client._call("GET", f"/api/streams/{_seg(stream_id_or_name)}", unwrap=False))

    @property
    def _path(self) -> str:
        return f"/api/streams/{self.id}"

    def send(self, key: str, data: str) -> int:
        """Publish one message; returns how many were published (0 if the data was unchanged)."""
        return self.send_many([(_require_str(key, "key"), _require_str(data, "data", _DATA_HINT))])

    def send_many(self, messages: MessagesArg) -> int:
        """Publish a batch all-or-nothing; ``messages`` as a dict key->data or a list of
        ``(key, data)`` tuples or ``{"key", "data"}`` dicts (other dict fields are not sent).
        Returns the ``published`` count."""
        payload = {"messages": _normalise_messages(messages)}
        result = self.client._call("POST", f"{self._path}/messages", payload, replayable=False)
        return int(result["published"])

    def messages(
        self, sort: Optional[str] = None, limit: Optional[int] = None, key_pattern: Optional[str] = None
    ) -> List[Dict[str, Any]]:
        """Message dicts by seq (server defaults: ``seq_asc``, limit 100). Changes no state."""
        query = _query(sort=sort, limit=limit, key_pattern=key_pattern)
        return self.client._call("GET", f"{self._path}/messages{query}")

    def get(self, key: str) -> Dict[str, Any]:
        """The message stored under ``key`` (SequinError 404 if there is none)."""
        key = _require_str(key, "key")
        return self.client._call("GET", f"{self._path}/messages/{_seg(key)}", unwrap=False)

    def consumer_info(self, key: str) -> Dict[str, Any]:
        """``{"message", "consumer_info": [...]}``: how each matching consumer sees ``key``."""
        key = _require_str(key, "key")
        return self.client._call("GET", f"{self._path}/messages/{_seg(key)}/consumer_info")

    def info(self) -> Dict[str, Any]:
        """Re-fetch the stream (fresh ``stats``) and keep it in ``record``."""
        self.record = self.client._call("GET", self._path, unwrap=False)
        return self.record

    def consumers(self) -> List[ConsumerHandle]:
        """Handles for the stream's consumers (their ``record`` holds the listed objects)."""
        records = self.client._call("GET", f"{self._path}/consumers")
        return [ConsumerHandle(self.client, record, self.name) for record in records]

    def new_consumer(
        self, name: Optional[str] = None, filter_key_pattern: str = ">", **options: Any
    ) -> ConsumerHandle:
        """Create a pull consumer on this stream (default filter ``>``: every key).

        Remember it backfills: it starts with every matching message already in the stream.
        """
        name = unique_name("c") if name is None else _require_str(name, "consumer name")
        body = {"kind": "pull", **options, "name": name}
        body["filter_key_pattern"] = _require_str(filter_key_pattern, "filter_key_pattern")
        record = self.client._call("POST", f"{self._path}/consumers", body, unwrap=False, replayable=False)
        return ConsumerHandle(self.client, record, self.name)

    def consumer(self, consumer_id_or_name: str) -> ConsumerHandle:
        """Handle for an existing consumer of this stream."""
        consumer = _seg(_require_str(consumer_id_or_name, "consumer id or name"))
        record = self.client._call("GET", f"{self._path}/consumers/{consumer}", unwrap=False)
        return ConsumerHandle(self.client, record, self.name)

    def __repr__(self) -> str:
        return f"StreamHandle(name={self.name!r}, id={self.id!r})"


class ConsumerHandle(_Handle):
    """A consumer that exists on the server. ``record`` is its last fetched object."""

    def __init__(self, client: SequinClient, record: Mapping[str, Any], stream_name: str) -> None:
        self.client = client
        self.record: Dict[str, Any] = dict(record)
        self.name: str = record["name"]
        self.id: str = record["id"]
        self.stream_id: str = record["stream_id"]
        self.stream_name = stream_name

    @property
    def _path(self) -> str:
        return f"/api/streams/{self.stream_id}/consumers/{self.id}"

    def receive(self, batch_size: int = 10) -> List[ReceivedMessage]:
        """Up to ``batch_size`` (1..1000) messages, ascending seq; they become invisible for
        ``ack_wait_ms``. Default 10 like the SDK (the server alone would default to 1)."""
        if isinstance(batch_size, bool) or not isinstance(batch_size, int):
            raise TypeError(f"batch_size must be an int, got {batch_size!r}")
        path = f"{self._path}/receive{_query(batch_size=batch_size)}"
        items = self.client._call("GET", path, replayable=False)
        return [ReceivedMessage._from_decoded(item) for item in items]

    def receive_one(self) -> Optional[ReceivedMessage]:
        """The next message, or None when nothing is deliverable."""
        items = self.receive(1)
        return items[0] if items else None

    def receive_until(
        self, count: int, timeout: float = 5.0, batch_size: int = 10, poll_interval: float = 0.01
    ) -> List[ReceivedMessage]:
        """Receive until ``count`` messages arrived, polling; fail after ``timeout`` seconds.

        For code under test that publishes from another thread or process: no hand-written
        polling loop, and a failure says what did arrive. Returns exactly ``count`` messages:
        each receive asks for no more than are still missing, so nothing beyond them is put in
        flight (where the worker under test could not see it for ``ack_wait_ms``).
        """
        if isinstance(count, bool) or not isinstance(count, int) or count < 0:
            raise ValueError(f"receive_until() takes a count >= 0, got {count!r}")
        deadline = time.monotonic() + timeout
        received: List[ReceivedMessage] = []
        while len(received) < count:
            received += self.receive(min(batch_size, 1000, count - len(received)))
            if len(received) >= count:
                break
            if time.monotonic() >= deadline:
                shown = (
                    ", ".join(f"{m.key}={m.data[:30]!r} (seq {m.seq})" for m in received[:20]) or "nothing"
                )
                raise AssertionError(
                    f"consumer {self.name} received {len(received)} of {count} messages "
                    f"within {timeout:g} s: {shown}"
                )
            time.sleep(poll_interval)
        return received

    def expect_no_messages(self) -> None:
        """Assert nothing is deliverable right now, without receiving (so no state changes).

        Uses the peek endpoint's ``visible=true`` view; the failure lists what is waiting.
        """
        waiting = self.peek(visible=True, limit=20)
        if waiting:
            shown = ", ".join(
                f"{w['message']['key']}={w['message']['data'][:30]!r} "
                f"(delivered {w['info']['deliver_count']}x)"
                for w in waiting
            )
            raise AssertionError(f"consumer {self.name} still has deliverable messages: {shown}")

    def ack(self, *items: AckArg) -> None:
        """Ack by ack id, ReceivedMessage, or lists of them. Nothing to ack sends nothing
        (the server would answer 400 for an empty list). Unknown ids are silently ignored."""
        ids = _ack_ids(items)
        if ids:
            self.client._call("POST", f"{self._path}/ack", {"ack_ids": ids})

    def nack(self, *items: AckArg) -> None:
        """Make messages deliverable again at once; same arguments as ``ack``."""
        ids = _ack_ids(items)
        if ids:
            self.client._call("POST", f"{self._path}/nack", {"ack_ids": ids})

    def peek(
        self,
        sort: Optional[str] = None,
        limit: Optional[int] = None,
        visible: Optional[bool] = None,
        key_pattern: Optional[str] = None,
    ) -> List[Dict[str, Any]]:
        """Unacked messages as ``{"message", "info"}`` dicts, without changing any state."""
        query = _query(sort=sort, limit=limit, visible=visible, key_pattern=key_pattern)
        return self.client._call("GET", f"{self._path}/messages{query}")

    def info(self) -> Dict[str, Any]:
        """Re-fetch the consumer object and keep it in ``record``."""
        self.record = self.client._call("GET", self._path, unwrap=False)
        return self.record

    def refresh(self) -> ConsumerHandle:
        """``info()`` for chaining: ``consumer.refresh().record["max_ack_pending"]``."""
        self.info()
        return self

    def update(self, **fields: Any) -> Dict[str, Any]:
        """Change settings (``ack_wait_ms``, ``max_ack_pending``...); returns the new object.

        The server ignores ``name`` and ``filter_key_pattern`` (they cannot change).
        """
        self.record = self.client._call("PATCH", self._path, fields, unwrap=False)
        return self.record

    def __repr__(self) -> str:
        return f"ConsumerHandle(name={self.name!r}, id={self.id!r}, stream_name={self.stream_name!r})"
