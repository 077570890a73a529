"""``SequinClient``: a drop-in for sequin-py 0.1.0's ``Client``, minus its faults, plus the rest of the API.

Drop-in means: the same twelve methods with the same parameter names and defaults, the same base
URL resolution (argument, then ``$SEQUIN_URL``, then ``http://localhost:7376``), the same
``(result, error)`` tuples, the same ``{"status", "summary"}`` error dicts (``"Unknown error"`` when
an error body has no ``summary``), the same friendly "We can't reach Sequin" message with status
500 when nothing listens, status 500 with the exception text for other transport failures and for
JSON bodies that cannot be encoded or decoded, and the same ``data`` unwrapping of wrapped answers.
Arguments are passed through unchecked, so a non-string key still reaches the server and comes back
as its 400 ``Invalid message format``, exactly as with the SDK.

The SDK faults fixed here (each one changes results only where the SDK was wrong):

* Path segments are percent-encoded (``quote(seg, safe="")``): with the SDK a key containing ``/``
  or ``#`` or ``%`` addresses a different URL.
* ``get_message`` returns the bare message: the SDK's "return ``body['data']`` if present" rule
  would hand back the payload string, because a message has its own ``data`` field. Unwrapping is
  therefore decided per endpoint, never by sniffing the body.
* An error answer whose body is not JSON keeps its real HTTP status (the SDK reports 500 and a
  JSON-decode message); see ``SequinClient._exchange`` for the summary rule.
* Every request has a timeout (default 30 s), connections are kept alive and reused, loopback
  URLs never go through an environment proxy, TCP_NODELAY is set, and one client can be shared by
  threads (see ``transport.py`` for the measurements behind these choices).
"""

from __future__ import annotations

import json
import os
from typing import TYPE_CHECKING, Any, Dict, List, Mapping, NamedTuple, Optional, Tuple, Union

from .. import __version__ as _VERSION
from .errors import SequinError
from .transport import DEFAULT_POOL_SIZE, DEFAULT_TIMEOUT, Transport, TransportError
from .urls import query as _query
from .urls import seg as _seg

if TYPE_CHECKING:
    from .handles import ConsumerHandle, StreamHandle

__all__ = ["Result", "SequinClient", "Client", "DEFAULT_BASE_URL"]

DEFAULT_BASE_URL = "http://localhost:7376"

#: ``(result, None)`` on success, ``(None, {"status": int, "summary": str})`` on failure.
Result = Tuple[Optional[Any], Optional[Dict[str, Any]]]

#: ``json.dumps(payload, allow_nan=False, separators=(",", ":"))`` without building a new
#: encoder on every call (what ``json.dumps`` does when given options).
_encode_json = json.JSONEncoder(allow_nan=False, separators=(",", ":")).encode

def _require_url(value: Any) -> str:
    """A base URL must be a string (a malformed one fails each call as sequin-py's would)."""
    if not isinstance(value, str):
        raise TypeError(f"base_url must be a str such as 'http://localhost:7376', got {value!r}")
    return value


_UNREACHABLE = (
    "We can't reach Sequin on {base_url}. Double check that Sequin is running and confirm your "
    "Python client is configured properly"
)
#: Longest summary taken from a non-JSON error body (an HTML error page can be huge).
MAX_TEXT_SUMMARY = 1000



class Reply(NamedTuple):
    """Everything one exchange produced; the SDK methods keep ``(result, error)``, handles use the rest."""

    result: Any
    error: Optional[Dict[str, Any]]
    body: Any
    method: str
    path: str

    @property
    def pair(self) -> Result:
        """``(result, error)``, what the SDK-style methods return."""
        return (self.result, self.error)

    def raise_for_error(self) -> Any:
        """The result, or SequinError with the full body and request."""
        if self.error is None:
            return self.result
        raise SequinError(
            self.error["status"], self.error["summary"], body=self.body, method=self.method, path=self.path
        )


class SequinClient:
    """Client for a Sequin v0.3.7 server; ``Client`` is the same class under sequin-py's name.

    ``timeout`` (seconds) bounds the connect and every socket read/write of each request.
    ``pool_size`` is how many idle keep-alive connections are kept for reuse.
    ``headers`` are sent with every request (say, for a gateway in front of a shared server).
    """

    def __init__(
        self,
        base_url: Optional[str] = None,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        pool_size: int = DEFAULT_POOL_SIZE,
        headers: Optional[Mapping[str, str]] = None,
    ) -> None:
        self._transport_options: dict[str, Any] = {
            "timeout": timeout,
            "pool_size": pool_size,
            "user_agent": f"pytest-sequin/{_VERSION}",
            "headers": headers,
        }
        self._base_url = _require_url(base_url or os.environ.get("SEQUIN_URL", DEFAULT_BASE_URL))
        self._transport = Transport(self._base_url, **self._transport_options)

    # -- plumbing ------------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        """The server's base URL. Assignable, as on sequin-py's client (which reads it on every
        request): apps repoint a module-level client in a fixture, so the next request goes to
        the new URL, over a new connection pool."""
        return self._base_url

    @base_url.setter
    def base_url(self, value: str) -> None:
        _require_url(value)
        if value == self._base_url:
            return
        old = self._transport
        self._transport = Transport(value, **self._transport_options)
        self._base_url = value
        old.close()

    @property
    def timeout(self) -> float:
        """Seconds allowed for the connect and for each socket read/write of a request."""
        return self._transport.timeout

    @property
    def transport(self) -> Transport:
        """The connection pool (exposed for diagnostics such as ``connections_opened``)."""
        return self._transport

    def close(self) -> None:
        """Close idle keep-alive connections (the client stays usable; it reconnects on demand)."""
        self._transport.close()

    def __enter__(self) -> SequinClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"SequinClient({self._transport.display_url!r}, timeout={self.timeout:g})"

    def _exchange(
        self,
        method: str,
        path: str,
        payload: Any = None,
        *,
        unwrap: bool = True,
        replayable: bool = True,
    ) -> Reply:
        """One request, mapped to the SDK's ``(result, error)`` conventions.

        * 2xx/3xx with a JSON body: ``result`` is ``body["data"]`` when ``unwrap`` and the key is
          present (the SDK rule), else the whole body. ``unwrap=False`` is for endpoints that answer
          a bare object, which may legitimately contain ``data`` (a message).
        * 4xx/5xx with a JSON body: ``{"status": <http status>, "summary": body["summary"]}``, or
          ``"Unknown error"`` when there is no ``summary`` (framework errors), like the SDK.
        * 4xx/5xx whose body is not JSON: the real HTTP status is kept; the summary is the body text
          (stripped, cut to ``MAX_TEXT_SUMMARY`` characters) or, when the body is empty, the HTTP
          reason phrase (``"Bad Gateway"``).
        * No HTTP answer: status 500 with the friendly "We can't reach Sequin on ..." text when the
          connection was refused, else the transport error's text (which names the request).
        * A payload with NaN/infinity or a circular reference (``allow_nan=False`` like requests),
          or a success body that is not JSON: status 500 with the ``json`` exception text, as the
          SDK reports them. A payload of a type JSON cannot encode raises ``TypeError``, as it
          does out of the SDK.
        """
        body_bytes = None
        if payload is not None:
            try:
                body_bytes = _encode_json(payload).encode("utf-8")
            except ValueError as exc:  # NaN/inf, circular: requests wraps these, the SDK returns 500
                return Reply(None, {"status": 500, "summary": str(exc)}, None, method, path)
            # A TypeError (a set, a datetime...) propagates, as it does out of sequin-py.
        try:
            raw = self._transport.request(method, path, body_bytes, replayable=replayable)
        except TransportError as exc:
            # The URL as sequin-py prints it, but with a password masked: the text reaches test reports.
            summary = _UNREACHABLE.format(base_url=self._transport.display_url) if exc.refused else str(exc)
            return Reply(None, {"status": 500, "summary": summary}, None, method, path)

        if raw.status >= 400:
            try:
                body = json.loads(raw.body)
            except ValueError:
                text = raw.body.decode("utf-8", "replace").strip()
                summary = text[:MAX_TEXT_SUMMARY] if text else raw.reason
                return Reply(None, {"status": raw.status, "summary": summary}, text, method, path)
            summary = body.get("summary", "Unknown error") if isinstance(body, dict) else "Unknown error"
            return Reply(None, {"status": raw.status, "summary": summary}, body, method, path)

        try:
            body = json.loads(raw.body)
        except ValueError as exc:
            text = raw.body.decode("utf-8", "replace")
            return Reply(None, {"status": 500, "summary": str(exc)}, text, method, path)
        result = body.get("data", body) if unwrap and isinstance(body, dict) else body
        return Reply(result, None, body, method, path)

    def _call(
        self, method: str, path: str, payload: Any = None, *, unwrap: bool = True, replayable: bool = True
    ) -> Any:
        """Like ``_exchange`` but returns the result or raises SequinError (for the handles)."""
        return self._exchange(method, path, payload, unwrap=unwrap, replayable=replayable).raise_for_error()

    # -- sequin-py 0.1.0 methods (same names, parameters, defaults and results) -----------------

    def send_message(self, stream: str, key: str, data: Any) -> Result:
        """Publish one message: ``({"published": n}, None)``; n is 0 when the data is unchanged."""
        return self.send_messages(stream, [{"key": key, "data": data}])

    def send_messages(self, stream: str, messages: List[Dict]) -> Result:
        """Publish a batch, all or nothing: ``({"published": n}, None)``.

        Not replayed on a dead keep-alive connection: a duplicate publish could change ``n``.
        """
        return self._exchange(
            "POST", f"/api/streams/{_seg(stream)}/messages", {"messages": messages}, replayable=False
        ).pair

    def receive_message(self, stream: str, consumer: str) -> Result:
        """One receive item ``{"ack_id", "message"}``, or ``(None, None)`` when nothing is available."""
        res, error = self.receive_messages(stream, consumer, {"batch_size": 1})
        if error:
            return None, error
        return (res[0], None) if res and len(res) > 0 else (None, None)

    def receive_messages(self, stream: str, consumer: str, options: Optional[Dict] = None) -> Result:
        """A list of receive items; ``batch_size`` defaults to 10 here, as in the SDK (server: 1).

        Never replayed: a receive that reached the server already marked its messages delivered.
        The value is sent as ``str()`` of it, percent-encoded, as the SDK's f-string does: an
        explicit ``None`` is ``batch_size=None`` (a 400), never "not sent" (the server's 1).
        """
        batch_size = options.get("batch_size", 10) if options else 10
        path = f"/api/streams/{_seg(stream)}/consumers/{_seg(consumer)}/receive?batch_size={_seg(batch_size)}"
        return self._exchange("GET", path, replayable=False).pair

    def ack_messages(self, stream: str, consumer: str, ack_ids: List[str]) -> Result:
        """``({"success": True}, None)``, also for unknown ack ids (the server ignores them)."""
        path = f"/api/streams/{_seg(stream)}/consumers/{_seg(consumer)}/ack"
        return self._exchange("POST", path, {"ack_ids": ack_ids}).pair

    def ack_message(self, stream: str, consumer: str, ack_id: str) -> Result:
        """Ack one message; see ``ack_messages``."""
        return self.ack_messages(stream, consumer, [ack_id])

    def nack_messages(self, stream: str, consumer: str, ack_ids: List[str]) -> Result:
        """Make messages deliverable again at once: ``({"success": True}, None)``."""
        path = f"/api/streams/{_seg(stream)}/consumers/{_seg(consumer)}/nack"
        return self._exchange("POST", path, {"ack_ids": ack_ids}).pair

    def nack_message(self, stream: str, consumer: str, ack_id: str) -> Result:
        """Nack one message; see ``nack_messages``."""
        return self.nack_messages(stream, consumer, [ack_id])

    def create_stream(self, stream_name: str, options: Optional[Dict] = None) -> Result:
        """The new stream object. ``options`` are merged into the body (the server ignores them)."""
        body: Dict[str, Any] = {"name": stream_name}
        if options:
            body.update(options)
        return self._exchange("POST", "/api/streams", body, replayable=False).pair

    def delete_stream(self, stream_id_or_name: str) -> Result:
        """``({"id", "deleted": True}, None)``; deletes the stream's consumers and messages too."""
        return self._exchange("DELETE", f"/api/streams/{_seg(stream_id_or_name)}").pair

    def create_consumer(
        self,
        stream_id_or_name: str,
        consumer_name: str,
        consumer_filter: str,
        options: Optional[Dict] = None,
    ) -> Result:
        """The new pull consumer; it starts with every matching message already in the stream."""
        body: Dict[str, Any] = {"name": consumer_name, "filter_key_pattern": consumer_filter, "kind": "pull"}
        if options:
            body.update(options)
        path = f"/api/streams/{_seg(stream_id_or_name)}/consumers"
        return self._exchange("POST", path, body, replayable=False).pair

    def delete_consumer(self, stream_id_or_name: str, consumer_id_or_name: str) -> Result:
        """``({"id", "deleted": True}, None)``; the consumer's delivery state goes with it."""
        path = f"/api/streams/{_seg(stream_id_or_name)}/consumers/{_seg(consumer_id_or_name)}"
        return self._exchange("DELETE", path).pair

    # -- the rest of the API, same (result, error) style ------------------------------------------

    def list_streams(self) -> Result:
        """Every stream of the account, with ``stats`` (newest first; same-second order undefined)."""
        return self._exchange("GET", "/api/streams").pair

    def get_stream(self, stream_id_or_name: str) -> Result:
        """The stream object with ``stats``."""
        return self._exchange("GET", f"/api/streams/{_seg(stream_id_or_name)}", unwrap=False).pair

    def list_consumers(self, stream_id_or_name: str) -> Result:
        """The consumers of one stream."""
        return self._exchange("GET", f"/api/streams/{_seg(stream_id_or_name)}/consumers").pair

    def get_consumer(self, stream_id_or_name: str, consumer_id_or_name: str) -> Result:
        """One consumer, looked up within that stream (a consumer of another stream is a 404)."""
        path = f"/api/streams/{_seg(stream_id_or_name)}/consumers/{_seg(consumer_id_or_name)}"
        return self._exchange("GET", path, unwrap=False).pair

    def update_consumer(
        self, stream_id_or_name: str, consumer_id_or_name: str, options: Optional[Dict] = None
    ) -> Result:
        """The updated consumer. Sent as PATCH (the server treats PUT the same: a partial update).

        The server silently ignores ``name`` and ``filter_key_pattern``: they cannot change.
        """
        path = f"/api/streams/{_seg(stream_id_or_name)}/consumers/{_seg(consumer_id_or_name)}"
        return self._exchange("PATCH", path, dict(options or {}), unwrap=False).pair

    def list_messages(
        self,
        stream_id_or_name: str,
        sort: Optional[str] = None,
        limit: Optional[int] = None,
        key_pattern: Optional[str] = None,
    ) -> Result:
        """Stream messages by seq (``sort``: ``seq_asc``/``seq_desc``; server default limit 100).

        Parameters left as None are not sent, so the server's defaults and validation apply.
        """
        query = _query(sort=sort, limit=limit, key_pattern=key_pattern)
        return self._exchange("GET", f"/api/streams/{_seg(stream_id_or_name)}/messages{query}").pair

    def get_message(self, stream_id_or_name: str, key: str) -> Result:
        """The bare message object, NOT unwrapped: its ``data`` field is the payload."""
        path = f"/api/streams/{_seg(stream_id_or_name)}/messages/{_seg(key)}"
        return self._exchange("GET", path, unwrap=False).pair

    def get_message_consumer_info(self, stream_id_or_name: str, key: str) -> Result:
        """``{"message", "consumer_info": [...]}``: each matching consumer's view of that key."""
        path = f"/api/streams/{_seg(stream_id_or_name)}/messages/{_seg(key)}/consumer_info"
        return self._exchange("GET", path).pair

    def list_consumer_messages(
        self,
        stream_id_or_name: str,
        consumer_id_or_name: str,
        sort: Optional[str] = None,
        limit: Optional[int] = None,
        visible: Optional[Union[bool, str]] = None,
        key_pattern: Optional[str] = None,
    ) -> Result:
        """Peek at a consumer's unacked messages (``{"message", "info"}`` items) without changing state.

        ``visible=True`` keeps deliverable rows, ``False`` keeps in-flight ones; None sends nothing.
        """
        query = _query(sort=sort, limit=limit, visible=visible, key_pattern=key_pattern)
        path = f"/api/streams/{_seg(stream_id_or_name)}/consumers/{_seg(consumer_id_or_name)}/messages{query}"
        return self._exchange("GET", path).pair

    #: Same as ``list_consumer_messages``; "peek" is what tests usually mean.
    peek_messages = list_consumer_messages

    # -- handles (raise SequinError instead of returning tuples) ----------------------------------

    def new_stream(self, name: Optional[str] = None, **options: Any) -> StreamHandle:
        """Create a stream and return its handle; ``name`` defaults to a unique ``s_<12 hex>``.

        Usable as a context manager that deletes the stream on exit.
        """
        from .handles import StreamHandle

        return StreamHandle.create(self, name, **options)

    def stream(self, stream_id_or_name: str) -> StreamHandle:
        """Handle for an existing stream (one GET, so a missing stream fails here, not later)."""
        from .handles import StreamHandle

        return StreamHandle.fetch(self, stream_id_or_name)

    def new_consumer(
        self,
        stream: Union[str, StreamHandle],
        name: Optional[str] = None,
        filter_key_pattern: str = ">",
        **options: Any,
    ) -> ConsumerHandle:
        """Create a pull consumer (default filter ``>``: every key) and return its handle.

        ``name`` defaults to a unique ``c_<12 hex>``; ``options`` are consumer fields such as
        ``ack_wait_ms`` or ``max_ack_pending``.
        """
        return self._stream_handle(stream).new_consumer(name, filter_key_pattern, **options)

    def consumer(self, stream: Union[str, StreamHandle], consumer_id_or_name: str) -> ConsumerHandle:
        """Handle for an existing consumer of ``stream``."""
        return self._stream_handle(stream).consumer(consumer_id_or_name)

    def _stream_handle(self, stream: Union[str, StreamHandle]) -> StreamHandle:
        from .handles import StreamHandle

        if isinstance(stream, StreamHandle):
            return stream
        return StreamHandle.fetch(self, stream)


#: sequin-py's name, for ``from pytest_sequin.client import Client`` drop-in use.
Client = SequinClient
