"""Black-box helpers for the server suite: an HTTP client, matchers and state snapshots.

Everything goes over HTTP (``requests`` with ``trust_env=False``), so the suite runs unchanged
against a real Sequin with ``pytest --sequin-url ...``.
"""

from __future__ import annotations

import re
from typing import Any, Iterable
from uuid import uuid4

import requests

NOT_FOUND_STREAM = "Not found: No `stream` found matching the provided ID or name"
NOT_FOUND_CONSUMER = "Not found: No `consumer` found matching the provided ID or name"
NOT_FOUND_MESSAGE = "Not found: No `message` found matching the provided ID or name"
BATCH_SIZE_ERROR = "Invalid `batch_size`. `batch_size` must be an integer between 1 and 1000."
WAIT_FOR_ERROR = (
    "This endpoint doesn't support the `wait_for` param at the moment. Please ask the Sequin team for help."
)
ACK_IDS_ERROR = (
    "Invalid ack_ids. Must send a top-level `ack_ids` property that is a non-empty list of valid UUID strings"
)
NAME_FORMAT = "must contain only alphanumeric characters or underscores"
BLANK = "can't be blank"
INVALID = "is invalid"
INTERNAL_ERROR = {"errors": {"detail": "Internal Server Error"}}
JSON_TYPE = "application/json; charset=utf-8"
EMPTY_HASH = "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="

_UUID4 = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")
_TS_SECONDS = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z")
_TS_MICROS = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z")


def unique(prefix: str = "t") -> str:
    """A fresh name: short, lowercase, valid for streams and consumers."""
    return f"{prefix}_{uuid4().hex[:10]}"


class _Matcher:
    pattern: re.Pattern[str]
    label = "?"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, str) and self.pattern.fullmatch(other) is not None

    def __ne__(self, other: object) -> bool:
        return not self.__eq__(other)

    def __repr__(self) -> str:
        return self.label

    __hash__ = None  # type: ignore[assignment]


class _Uuid4(_Matcher):
    pattern = _UUID4
    label = "<uuid4>"


class _Seconds(_Matcher):
    pattern = _TS_SECONDS
    label = "<timestamp:s>"


class _Micros(_Matcher):
    pattern = _TS_MICROS
    label = "<timestamp:us>"


class _NonNegativeInt:
    def __eq__(self, other: object) -> bool:
        return type(other) is int and other >= 0

    def __repr__(self) -> str:
        return "<int >= 0>"

    __hash__ = None  # type: ignore[assignment]


UUID4 = _Uuid4()
TS = _Seconds()
TS_US = _Micros()
NON_NEGATIVE_INT = _NonNegativeInt()


class Api:
    """A thin JSON client over one keep-alive ``requests.Session`` (Accept: application/json)."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url.rstrip("/")
        self.session = requests.Session()
        self.session.trust_env = False
        self.session.headers["Accept"] = "application/json"

    def close(self) -> None:
        self.session.close()

    def request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("timeout", 30)
        return self.session.request(method, self.base_url + path, **kwargs)

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("POST", path, **kwargs)

    def put(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("PUT", path, **kwargs)

    def patch(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("PATCH", path, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("DELETE", path, **kwargs)

    # -- successful calls ------------------------------------------------------------------

    def ok(self, response: requests.Response) -> Any:
        assert response.status_code == 200, (response.status_code, response.text[:500])
        assert response.headers["content-type"] == JSON_TYPE
        return response.json()

    def create_stream(self, name: str) -> dict[str, Any]:
        return self.ok(self.post("/api/streams", json={"name": name}))

    def get_stream(self, stream: str) -> dict[str, Any]:
        return self.ok(self.get(f"/api/streams/{stream}"))

    def create_consumer(self, stream: str, name: str, pattern: str = ">", **settings: Any) -> dict[str, Any]:
        body = {"name": name, "filter_key_pattern": pattern, **settings}
        return self.ok(self.post(f"/api/streams/{stream}/consumers", json=body))

    def update_consumer(self, stream: str, consumer: str, **fields: Any) -> dict[str, Any]:
        return self.ok(self.put(f"/api/streams/{stream}/consumers/{consumer}", json=fields))

    def publish(self, stream: str, messages: Iterable[Any]) -> int:
        items = [m if isinstance(m, dict) else {"key": m[0], "data": m[1]} for m in messages]
        body = self.ok(self.post(f"/api/streams/{stream}/messages", json={"messages": items}))
        return body["data"]["published"]

    def receive(self, consumer: str, batch_size: int = 1000, stream: str = "any") -> list[dict[str, Any]]:
        path = f"/api/streams/{stream}/consumers/{consumer}/receive"
        return self.ok(self.get(path, params={"batch_size": batch_size}))["data"]

    def ack(self, consumer: str, ack_ids: list[str], stream: str = "any") -> None:
        body = self.ok(
            self.post(f"/api/streams/{stream}/consumers/{consumer}/ack", json={"ack_ids": ack_ids})
        )
        assert body == {"success": True}

    def nack(self, consumer: str, ack_ids: list[str], stream: str = "any") -> None:
        body = self.ok(
            self.post(f"/api/streams/{stream}/consumers/{consumer}/nack", json={"ack_ids": ack_ids})
        )
        assert body == {"success": True}

    def list_messages(self, stream: str, **params: Any) -> list[dict[str, Any]]:
        params.setdefault("limit", "10000")
        return self.ok(self.get(f"/api/streams/{stream}/messages", params=params))["data"]

    def get_message(self, stream: str, key: str) -> dict[str, Any]:
        return self.ok(self.get(f"/api/streams/{stream}/messages/{key}"))

    def consumer_info(self, stream: str, key: str) -> list[dict[str, Any]]:
        return self.ok(self.get(f"/api/streams/{stream}/messages/{key}/consumer_info"))["data"][
            "consumer_info"
        ]

    def peek(self, stream: str, consumer: str, **params: Any) -> list[dict[str, Any]]:
        params.setdefault("limit", "10000")
        return self.ok(self.get(f"/api/streams/{stream}/consumers/{consumer}/messages", params=params))[
            "data"
        ]

    def info_of(self, stream: str, consumer_id: str, key: str) -> dict[str, Any]:
        """The consumer_info entry of one consumer for one key."""
        entries = [e for e in self.consumer_info(stream, key) if e["consumer_id"] == consumer_id]
        assert len(entries) == 1, entries
        return entries[0]

    def snapshot(self, stream: str) -> dict[str, Any]:
        """Everything observable about a stream without changing it (for "nothing was written")."""
        consumers = self.ok(self.get(f"/api/streams/{stream}/consumers"))["data"]
        messages = self.list_messages(stream)
        return {
            "stream": self.get_stream(stream),
            "messages": messages,
            "consumers": consumers,
            "peek": {c["id"]: self.peek(stream, c["id"]) for c in consumers},
            "info": {
                m["key"]: self.consumer_info(stream, m["key"].replace("/", "%2F")) for m in messages[:50]
            },
        }


def assert_summary(response: requests.Response, status: int, summary: str) -> None:
    assert (response.status_code, response.json()) == (status, {"summary": summary})
    assert response.headers["content-type"] == JSON_TYPE


def assert_not_found(response: requests.Response, entity: str) -> None:
    assert_summary(response, 404, f"Not found: No `{entity}` found matching the provided ID or name")


def assert_422(response: requests.Response, errors: dict[str, Any]) -> None:
    assert (response.status_code, response.json()) == (
        422,
        {"summary": "Validation failed", "validation_errors": errors},
    )
    assert response.headers["content-type"] == JSON_TYPE


def assert_framework(response: requests.Response, status: int, phrase: str) -> None:
    """A framework error rendered as JSON (no ``summary``)."""
    assert (response.status_code, response.json()) == (status, {"errors": {"detail": phrase}})
    assert response.headers["content-type"] == JSON_TYPE


def assert_500(response: requests.Response) -> None:
    assert_framework(response, 500, "Internal Server Error")


def stream_body(name: str, message_count: int = 0, consumer_count: int = 0) -> dict[str, Any]:
    return {
        "id": UUID4,
        "name": name,
        "account_id": UUID4,
        "stats": {
            "message_count": message_count,
            "consumer_count": consumer_count,
            "storage_size": NON_NEGATIVE_INT,
        },
        "inserted_at": TS,
        "updated_at": TS,
    }


def consumer_body(name: str, stream: dict[str, Any], pattern: str, **overrides: Any) -> dict[str, Any]:
    body = {
        "id": UUID4,
        "name": name,
        "stream_id": stream["id"],
        "account_id": stream["account_id"],
        "filter_key_pattern": pattern,
        "kind": "pull",
        "status": "active",
        "ack_wait_ms": 30000,
        "max_ack_pending": 10000,
        "max_deliver": None,
        "max_waiting": 20,
        "http_endpoint_id": None,
        "inserted_at": TS,
        "updated_at": TS,
    }
    body.update(overrides)
    return body


def message_body(key: str, data: str, stream: dict[str, Any], seq: Any = None) -> dict[str, Any]:
    import base64
    import hashlib

    digest = base64.b64encode(hashlib.sha256(data.encode()).digest()).decode()
    return {
        "key": key,
        "stream_id": stream["id"],
        "data": data,
        "data_hash": digest,
        "seq": seq if seq is not None else _AnyInt(),
        "inserted_at": TS_US,
        "updated_at": TS_US,
    }


class _AnyInt:
    def __eq__(self, other: object) -> bool:
        return type(other) is int

    def __repr__(self) -> str:
        return "<int>"

    __hash__ = None  # type: ignore[assignment]


def keys_of(items: list[dict[str, Any]]) -> list[str]:
    """Keys of receive or peek items (or plain messages)."""
    return [item["message"]["key"] if "message" in item else item["key"] for item in items]
