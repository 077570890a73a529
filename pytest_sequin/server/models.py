"""The engine's records and their JSON shapes (spec §1, §6).

Messages are immutable: a re-publish creates a new :class:`Message` object, so the encoded
JSON of a version can be cached and spliced into every receive and list answer unchanged. Only
the small fields are cached, around the payload: caching the encoded payload too would hold
every payload twice (bench/run.py figure 3.8: 3.2x the payload in memory instead of 2.2x),
while encoding it again costs about 2 us per KiB. That encoding is skipped for a payload
known to need no escaping (:attr:`Message.plain`, decided by the HTTP layer from the request
body, bench figure 2.4): its JSON is then the payload between two quotes.
"""

from __future__ import annotations

import binascii
import hashlib
import json
import time
from typing import Any

_encode_string = json.encoder.encode_basestring  # type: ignore[attr-defined]

AVAILABLE = "available"
DELIVERED = "delivered"
PENDING_REDELIVERY = "pending_redelivery"
ACKED = "acked"

#: Rows in these states hold a visibility deadline.
IN_FLIGHT = (DELIVERED, PENDING_REDELIVERY)


def format_seconds(us: int) -> str:
    """Stream and consumer timestamps: second precision (§6)."""
    t = time.gmtime(us // 1_000_000)
    return f"{t.tm_year:04d}-{t.tm_mon:02d}-{t.tm_mday:02d}T{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d}Z"


#: The last timestamp formatted, and its text: every message of one publish batch has the same
#: ``inserted_at``/``updated_at``, and formatting costs ~4 us (bench: half of a first receive).
_last_micros: tuple[int | None, str | None] = (None, None)


def format_micros(us: int | None) -> str | None:
    """Message and consumer-message timestamps: always six fractional digits (§6)."""
    global _last_micros
    last = _last_micros  # one read: another thread may replace the tuple, never half of it
    if us == last[0]:
        return last[1]
    if us is None:
        return None
    seconds, micros = divmod(us, 1_000_000)
    t = time.gmtime(seconds)
    text = (
        f"{t.tm_year:04d}-{t.tm_mon:02d}-{t.tm_mday:02d}T{t.tm_hour:02d}:{t.tm_min:02d}:"
        f"{t.tm_sec:02d}.{micros:06d}Z"
    )
    _last_micros = (us, text)
    return text


def data_hash(data: str) -> str:
    """Base64 of SHA-256 of the UTF-8 bytes (§6.3)."""
    return binascii.b2a_base64(hashlib.sha256(data.encode("utf-8")).digest(), newline=False).decode("ascii")


class Message:
    __slots__ = (
        "key",
        "data",
        "data_hash",
        "seq",
        "stream_id",
        "inserted_at",
        "updated_at",
        "plain",
        "_json",
    )

    def __init__(
        self,
        key: str,
        data: str,
        digest: str,
        seq: int,
        stream_id: str,
        inserted_at: int,
        updated_at: int,
        plain: bool = False,
    ) -> None:
        self.key = key
        self.data = data
        self.data_hash = digest
        self.seq = seq
        self.stream_id = stream_id
        self.inserted_at = inserted_at
        self.updated_at = updated_at
        #: True when ``data`` holds no character JSON escapes (``"``, ``\\``, controls below
        #: U+0020): its encoded form is then ``"`` + data + ``"``. Only set by a caller that knows
        #: (the payload came out of a JSON body without a single backslash); False is always safe.
        self.plain = plain
        self._json: str | None = None

    @property
    def tokens(self) -> list[str]:
        """The key split on ``.``, computed on demand: a stored list would cost ~170 bytes and
        one more object for the garbage collector to scan, per message (bench figure 3.8)."""
        return self.key.split(".")

    def json_parts(self) -> tuple[str, str, str]:
        """The encoded message object in three pieces that concatenate to :meth:`to_json`.

        The middle one is the payload itself when it is :attr:`plain` (the quotes are in the
        other two), so an answer that joins the pieces of many messages copies each payload once,
        instead of building a JSON string per message first. The piece after the payload is
        built once per version.
        """
        tail = self._json
        if tail is None:
            tail = self._json = (
                ('"' if self.plain else "") + f',"data_hash":"{self.data_hash}","seq":{self.seq},'
                f'"inserted_at":"{format_micros(self.inserted_at)}",'
                f'"updated_at":"{format_micros(self.updated_at)}"}}'
            )
        head = f'{{"key":{_encode_string(self.key)},"stream_id":"{self.stream_id}","data":'
        if self.plain:
            return head + '"', self.data, tail
        return head, _encode_string(self.data), tail

    def to_json(self) -> str:
        """The encoded message object."""
        return "".join(self.json_parts())

    def to_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "stream_id": self.stream_id,
            "data": self.data,
            "data_hash": self.data_hash,
            "seq": self.seq,
            "inserted_at": format_micros(self.inserted_at),
            "updated_at": format_micros(self.updated_at),
        }


class Row:
    """A consumer-message row (§1.1): one consumer's delivery state for one key."""

    __slots__ = (
        "key",
        "ack_id",
        "message_seq",
        "state",
        "not_visible_until",
        "deliver_count",
        "last_delivered_at",
    )

    def __init__(self, key: str, ack_id: str, message_seq: int) -> None:
        self.key = key
        self.ack_id = ack_id
        self.message_seq = message_seq
        self.state = AVAILABLE
        self.not_visible_until: int | None = None
        self.deliver_count = 0
        self.last_delivered_at: int | None = None


class Stream:
    __slots__ = (
        "id",
        "name",
        "account_id",
        "inserted_at",
        "messages",
        "consumers",
        "relations",
        "bytes_written",
    )

    def __init__(
        self, stream_id: str, name: str, account_id: str, inserted_at: int, relations: list[str]
    ) -> None:
        self.id = stream_id
        self.name = name
        self.account_id = account_id
        self.inserted_at = inserted_at
        #: key -> Message, kept in ascending ``seq`` order: a re-published key is moved to the
        #: end, and its new seq is always the largest on the server.
        self.messages: dict[str, Message] = {}
        #: consumer id -> Consumer, in creation order.
        self.consumers: dict[str, Any] = {}
        self.relations = relations
        #: Every version ever written, in bytes: PostgreSQL tables only grow, and this keeps
        #: ``storage_size`` monotone.
        self.bytes_written = 0

    def storage_size(self) -> int:
        """163840 when empty (20 pages), then an approximation that grows in 8 KiB steps (§6.1)."""
        pages = -(-self.bytes_written // 8192)
        return 163840 + pages * 8192

    def to_dict(self) -> dict[str, Any]:
        stamp = format_seconds(self.inserted_at)
        return {
            "id": self.id,
            "name": self.name,
            "account_id": self.account_id,
            "stats": {
                "message_count": len(self.messages),
                "consumer_count": len(self.consumers),
                "storage_size": self.storage_size(),
            },
            "inserted_at": stamp,
            "updated_at": stamp,
        }
