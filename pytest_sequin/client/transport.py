"""HTTP transport of the embedded client: keep-alive connections, no Nagle, no surprise proxies.

Why not requests
----------------
sequin-py sends every call through ``requests.request``: a new TCP connection, a proxy lookup in
the environment and a full ``PreparedRequest`` pipeline per call. Tests make thousands of tiny
calls to a loopback server, so the client's own overhead is what a test suite waits on. Measured
with ``tests/client/bench_client_transport.py`` (2 vCPU box shared with other jobs, Python 3.11,
server in another process, keep-alive POST of a one-message publish with JSON in and out, best of
3 x 2000 calls; ranges over several runs, the box is noisy):

==============================================  =================  ==================
transport                                       canned server      embedded server
==============================================  =================  ==================
this module (``SequinClient.send_messages``)    0.10-0.21 ms       0.20-0.31 ms
``http.client`` + deque pool, plain             0.11-0.15 ms       0.19-0.28 ms
``http.client`` + ``threading.local``, plain    0.16-0.18 ms       0.21-0.25 ms
``urllib3.HTTPConnectionPool.urlopen``          0.24-0.46 ms       0.29-0.39 ms
``urllib3.PoolManager.request``                 0.26-0.34 ms       0.41-0.46 ms
``requests.Session`` (``trust_env=False``)      0.51-0.77 ms       0.60-0.72 ms
``requests.Session`` (``trust_env=True``)       0.57-1.28 ms       0.70-1.21 ms
``requests.request`` (sequin-py, no keep-alive) 1.0-1.7 ms         1.3-2.5 ms
==============================================  =================  ==================

So the transport is ``http.client`` with a small connection pool of our own; it needs no new
dependency. Two details matter for speed:

* The request head and body go out in **one** ``sendall()``. ``HTTPConnection.request`` writes
  them separately, which wakes the server twice per request; with one write a raw round trip
  measured ~65 us instead of ~120 us, which is why this client beats "plain http.client" above
  against the embedded server despite doing more work (JSON, error mapping, pool checks).
* The answer is parsed by a small reader of our own (:class:`_Reader`, :func:`_read_response`)
  that stays with the connection: ``http.client.HTTPResponse`` builds a new buffered file per
  answer and parses headers with the ``email`` package, ~40 us per call, a third of a loopback
  round trip (bench/run.py, figure 1.2). It follows ``HTTPResponse``'s rules: ``100 Continue``
  skipped, chunked bodies, ``Content-Length``, read-until-close, no body for HEAD, 1xx, 204
  and 304, ``Connection: close`` and HTTP/1.0 keep-alive, and the same exceptions
  (``RemoteDisconnected`` for a connection closed before the status line, ``BadStatusLine``,
  ``IncompleteRead``).

Thread safety without locks
---------------------------
An ``HTTPConnection`` must only be used by one thread at a time; a ``requests.Session`` is not
officially thread-safe either. Idle connections live in a ``collections.deque``: ``pop()`` and
``append()`` are atomic in CPython, so a thread takes a connection out, owns it for the whole
exchange and puts it back. No lock is held around I/O. Compared with one connection per thread
(``threading.local``) the deque costs the same per call (measured above: within the noise) but
lets short-lived threads (thread pools, ``concurrent.futures``) reuse connections instead of
opening one per thread, and ``close()`` can reach every idle socket. At most ``pool_size`` idle
connections are kept; extra ones (from bursts of concurrency) are closed when given back.

Other choices
-------------
* ``HTTPConnection`` is only used to connect (TLS, proxy tunnels); requests are written and
  answers read directly on its socket.
* ``TCP_NODELAY`` is set on every socket (older Pythons do not always do it), so a write that
  spans several segments never waits for a delayed ACK (the classic 40 ms stall).
* Before an idle connection is reused it is polled (zero timeout): a readable idle socket means
  the server closed it (or sent garbage), so it is dropped instead of failing the next request.
  If a reused connection still dies before any answer arrives, the request is sent again on a fresh
  connection, but only when the caller says the request can safely be replayed.
* Proxies: a loopback base URL (``localhost``, ``127.0.0.0/8``, ``::1``, and ``0.0.0.0``/``::``,
  which reach this host) never uses a proxy, even
  when ``HTTP_PROXY`` is set: an embedded server is always reachable directly, and corporate proxy
  settings routinely break loopback calls. For other hosts the environment's proxy settings
  (``HTTP_PROXY``/``HTTPS_PROXY``/``ALL_PROXY``/``NO_PROXY``, read with ``urllib.request`` like
  requests does, ``NO_PROXY`` with requests' host, suffix, ``host:port`` and CIDR entries) are
  read **once**, when the transport is created, not on every call. Only ``http://`` proxies are
  supported (an ``https://`` or ``socks`` proxy fails each request with a clear message).
* A timeout (default 30 s) applies to the connect and to every socket read and write, like
  requests' ``timeout``: a server that accepts and never answers cannot hang a test run.
* After ``os.fork()`` the child drops the pool inherited from its parent, so two processes never
  share one socket.
* Redirects are not followed (the Sequin server never sends one).
* Credentials in the base URL (``http://user:pass@host``) are sent as Basic ``Authorization``,
  as requests does; an explicit ``Authorization`` in ``headers=`` wins. The password is masked
  (``***``) in this module's error messages and reprs, and in the SDK-compatible "We can't
  reach Sequin on <base_url>" text (sequin-py's words; its URL would show the password).
* https: ``$REQUESTS_CA_BUNDLE``/``$CURL_CA_BUNDLE`` are honoured like requests does; otherwise
  the system trust store (``$SSL_CERT_FILE``). One TLS context per transport.
"""

from __future__ import annotations

import base64
import collections
import contextlib
import http.client
import ipaddress
import os
import re
import select
import socket
import ssl
import urllib.request
import weakref
from typing import Deque, Mapping, NamedTuple, Optional, Tuple, Union
from urllib.parse import SplitResult, quote, unquote, urlsplit

from ..masking import mask_url

__all__ = ["RawResponse", "Transport", "TransportError", "is_loopback_host"]

#: RFC 9110 token characters for a header name; values may not break the header block.
_HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
_BAD_VALUE = re.compile(r"[\r\n\x00]")

DEFAULT_TIMEOUT = 30.0
DEFAULT_POOL_SIZE = 8

_Connection = Union[http.client.HTTPConnection, http.client.HTTPSConnection]

# Errors meaning "the peer closed a connection we believed alive": safe to retry a replayable
# request on a fresh connection when they hit a *reused* connection before any answer arrived.
_STALE_ERRORS = (
    BrokenPipeError,
    ConnectionResetError,  # includes http.client.RemoteDisconnected
    ConnectionAbortedError,
    http.client.BadStatusLine,
)


_BAD_TARGET = re.compile(r"[\x00-\x20\x7f]")


def _basic_auth(parts: SplitResult) -> Optional[str]:
    """``Authorization`` for credentials in the base URL, as requests (so sequin-py) sends it.

    requests percent-decodes both parts and sends nothing when there is no password part
    (``http://user@host``); it encodes them as latin-1 (UTF-8 here when latin-1 cannot).
    """
    if parts.password is None:
        return None
    credentials = f"{unquote(parts.username or '')}:{unquote(parts.password)}"
    try:
        raw = credentials.encode("latin-1")
    except UnicodeEncodeError:
        raw = credentials.encode("utf-8")
    return "Basic " + base64.b64encode(raw).decode("ascii")


class TransportError(Exception):
    """A request got no HTTP answer at all (refused, reset, timed out, bad proxy...).

    ``refused`` is what the SDK-compatible layer keys its friendly "We can't reach Sequin" message
    on; ``timed_out`` lets callers tell a hung server from a dead one.
    """

    def __init__(self, message: str, *, refused: bool = False, timed_out: bool = False) -> None:
        super().__init__(message)
        self.refused = refused
        self.timed_out = timed_out


class RawResponse(NamedTuple):
    """What came back on the wire, before any JSON decoding (the client layer owns the rules)."""

    status: int
    reason: str
    body: bytes
    content_type: str
    #: The ``Date`` header ("" when absent): the orphan sweep measures ages in server time.
    date: str = ""


def is_loopback_host(host: str) -> bool:
    """True for ``localhost`` (and ``*.localhost``), any 127.0.0.0/8 address and ``::1``.

    Also for the unspecified addresses ``0.0.0.0`` and ``::``: connecting to them reaches this
    host (a "listening on 0.0.0.0:7376" line copied into ``SEQUIN_URL``), which no proxy can.
    """
    host = host.strip("[]").lower().rstrip(".")
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return address.is_loopback or address.is_unspecified


def _no_proxy_matches(host: str, port: int) -> bool:
    """Whether ``NO_PROXY`` exempts ``host:port``, with the entries requests understands.

    ``urllib.request.proxy_bypass`` handles ``*``, hosts and domain suffixes, and ``host:port``
    entries when given the port; requests also honours CIDR entries (``10.0.0.0/8``) for IP hosts.
    """
    if urllib.request.proxy_bypass(host) or urllib.request.proxy_bypass(f"{host}:{port}"):
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    no_proxy = os.environ.get("no_proxy") or os.environ.get("NO_PROXY") or ""
    for entry in no_proxy.replace(" ", "").split(","):
        if "/" in entry:
            with contextlib.suppress(ValueError):
                if address in ipaddress.ip_network(entry, strict=False):
                    return True
    return False


class _NoDelayMixin:
    """Sets TCP_NODELAY right after connect, whatever the Python version does by itself."""

    sock: Optional[socket.socket]

    def connect(self) -> None:
        super().connect()  # type: ignore[misc]
        if self.sock is not None:
            with contextlib.suppress(OSError):  # a platform without TCP_NODELAY
                self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


class _HTTPConnection(_NoDelayMixin, http.client.HTTPConnection):
    pass


class _HTTPSConnection(_NoDelayMixin, http.client.HTTPSConnection):
    pass


_MAX_LINE = 65536
_MAX_HEADERS = 100


class _Reader:
    """Buffered reads on one connection's socket, kept across the answers of that connection."""

    __slots__ = ("sock", "buf")

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.buf = bytearray()

    def _fill(self) -> bool:
        data = self.sock.recv(65536)
        self.buf += data
        return bool(data)

    def readline(self) -> bytes:
        start = 0
        while True:
            end = self.buf.find(b"\n", start)
            if end >= 0:
                line = bytes(self.buf[: end + 1])
                del self.buf[: end + 1]
                return line
            if len(self.buf) > _MAX_LINE:
                raise http.client.LineTooLong("header line")
            start = len(self.buf)
            if not self._fill():
                line = bytes(self.buf)
                self.buf.clear()
                return line

    def read(self, size: int) -> bytes:
        """Exactly ``size`` bytes (IncompleteRead if the connection ends first)."""
        have = len(self.buf)
        if have >= size:
            data = bytes(self.buf[:size])
            del self.buf[:size]
            return data
        out = bytearray(size)
        out[:have] = self.buf
        self.buf.clear()
        view = memoryview(out)
        while have < size:
            got = self.sock.recv_into(view[have:], size - have)
            if not got:
                raise http.client.IncompleteRead(bytes(out[:have]), size - have)
            have += got
        return bytes(out)

    def read_to_close(self) -> bytes:
        while self._fill():
            pass
        data = bytes(self.buf)
        self.buf.clear()
        return data


def _read_response(reader: _Reader, method: str) -> Tuple[int, str, bytes, str, bool, str]:
    """Status, reason, body, Content-Type and whether the server closes the connection."""
    while True:
        line = reader.readline()
        if not line:
            raise http.client.RemoteDisconnected("Remote end closed connection without response")
        text = line.decode("iso-8859-1")
        version, _, rest = text.rstrip("\r\n").partition(" ")
        code, _, reason = rest.partition(" ")
        if not version.startswith("HTTP/") or len(code) != 3 or not code.isdigit():
            raise http.client.BadStatusLine(text)
        status = int(code)
        if status < 100:
            raise http.client.BadStatusLine(text)
        headers: dict[str, str] = {}
        name = ""
        for _ in range(_MAX_HEADERS + 1):
            raw = reader.readline()
            if raw in (b"\r\n", b"\n", b""):
                break
            header = raw.decode("iso-8859-1")
            if header[0] in " \t" and name:  # obsolete line folding: continues the last header
                headers[name] = f"{headers[name]} {header.strip()}"
                continue
            name, _, value = header.partition(":")
            name = name.strip().lower()
            value = value.strip()
            headers[name] = f"{headers[name]}, {value}" if name in headers else value
        else:
            raise http.client.HTTPException(f"got more than {_MAX_HEADERS} headers")
        if status != 100:
            break
    connection = headers.get("connection", "").lower()
    if version == "HTTP/1.1":
        will_close = "close" in connection
    else:
        will_close = "keep-alive" not in connection and "keep-alive" not in headers
    content_type = headers.get("content-type", "")
    date = headers.get("date", "")
    if method == "HEAD" or status in (204, 304) or status < 200:
        return status, reason.strip(), b"", content_type, will_close, date
    if headers.get("transfer-encoding", "").lower() == "chunked":
        chunks: list[bytes] = []
        while True:
            size_line = reader.readline()
            try:
                size = int(size_line.split(b";", 1)[0], 16)
            except ValueError:
                raise http.client.IncompleteRead(b"".join(chunks)) from None
            if size == 0:
                while reader.readline() not in (b"\r\n", b"\n", b""):
                    pass  # trailers
                return status, reason.strip(), b"".join(chunks), content_type, will_close, date
            chunks.append(reader.read(size))
            reader.readline()
    length = headers.get("content-length", "")
    if length.isdigit():
        return status, reason.strip(), reader.read(int(length)), content_type, will_close, date
    return status, reason.strip(), reader.read_to_close(), content_type, True, date


def _is_dropped(conn: _Connection) -> bool:
    """An idle keep-alive socket that is readable was closed by the server (or is out of sync)."""
    sock = conn.sock
    if sock is None:
        return True
    reader = getattr(conn, "_sequin_reader", None)
    if reader is not None and reader.buf:
        return True  # bytes nobody asked for: out of sync
    try:
        if hasattr(select, "poll"):
            poller = select.poll()
            poller.register(sock, select.POLLIN)
            return bool(poller.poll(0))
        readable, _, _ = select.select([sock], [], [], 0)
        return bool(readable)
    except (OSError, ValueError):
        return True


_ALL_TRANSPORTS: weakref.WeakSet[Transport] = weakref.WeakSet()


def _forget_pools_after_fork() -> None:
    for transport in list(_ALL_TRANSPORTS):
        transport._pool.clear()  # the parent still owns those sockets; never touch them here


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_pools_after_fork)


class Transport:
    """Sends one HTTP request at a time per borrowed connection; see the module docstring."""

    def __init__(
        self,
        base_url: str,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        pool_size: int = DEFAULT_POOL_SIZE,
        user_agent: str = "pytest-sequin",
        headers: Optional[Mapping[str, str]] = None,
    ) -> None:
        for name, value in (headers or {}).items():
            bad_value = not isinstance(value, str) or _BAD_VALUE.search(value)
            if not _HEADER_NAME.fullmatch(str(name)) or bad_value:
                raise ValueError(f"invalid extra header {name!r}: {value!r}")
        if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not timeout > 0:
            raise ValueError(f"timeout must be a positive number of seconds, got {timeout!r}")
        if isinstance(pool_size, bool) or not isinstance(pool_size, int) or pool_size < 1:
            raise ValueError(f"pool_size must be a positive int, got {pool_size!r}")
        self.base_url = base_url
        self.display_url = mask_url(base_url)  # URLs in error messages end up in CI logs
        self.timeout = float(timeout)
        self.pool_size = pool_size
        # A bad base URL fails each request (as an SDK-style error), not the constructor: sequin-py
        # clients are built at import time, and the SDK never raised there either.
        self._config_error: Optional[str] = None
        try:
            parts = urlsplit(base_url)
            port = parts.port
        except ValueError as exc:
            parts, port = urlsplit("http://invalid"), None
            self._config_error = f"Invalid base URL {self.display_url!r}: {exc}"
        if parts.scheme not in ("http", "https") or not parts.hostname:
            self._config_error = f"Invalid base URL {self.display_url!r}: expected http(s)://host[:port]"
        self.scheme = parts.scheme
        self.host = parts.hostname or ""
        self.port = port or (443 if parts.scheme == "https" else 80)
        self.prefix = quote(parts.path.rstrip("/"), safe="/%:@!$&'()*+,;=~")
        self.loopback = is_loopback_host(self.host)
        self.connections_opened = 0  # diagnostics: proves keep-alive reuse in tests
        try:
            host_header = self.host.encode("idna").decode("ascii") if self.host else ""
        except UnicodeError:
            host_header = "invalid"
            self._config_error = f"Invalid base URL {self.display_url!r}: bad host name"
        if ":" in host_header:
            host_header = f"[{host_header}]"
        default_port = 443 if self.scheme == "https" else 80
        if self.port != default_port:
            host_header = f"{host_header}:{self.port}"
        self._host_header = host_header
        self._proxy: Optional[Tuple[str, int, Optional[str]]] = None
        self._proxy_error: Optional[str] = None
        if not self.loopback and self._config_error is None:
            self._configure_proxy_from_env()
        self._header_lines = [f"Host: {host_header}", "Accept: application/json", f"User-Agent: {user_agent}"]
        self._header_lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
        url_auth = _basic_auth(parts)
        if url_auth and not any(str(name).lower() == "authorization" for name in headers or {}):
            self._header_lines.append(f"Authorization: {url_auth}")  # an explicit header wins
        self._ssl_context: Optional[ssl.SSLContext] = None
        if self.scheme == "https" and self._config_error is None:
            self._ssl_context = self._make_ssl_context()
        if self._proxy is not None and self._proxy[2] and self.scheme == "http":
            self._header_lines.append(f"Proxy-Authorization: {self._proxy[2]}")
        if self._config_error is None and _BAD_TARGET.search(host_header + self.prefix):
            self._config_error = (
                f"Invalid base URL {self.display_url!r}: unencoded space or control character"
            )
        self._pool: Deque[_Connection] = collections.deque()
        _ALL_TRANSPORTS.add(self)

    # -- configuration -------------------------------------------------------------------------

    def _configure_proxy_from_env(self) -> None:
        """Read the environment's proxy settings once, the way requests/urllib do."""
        proxies = urllib.request.getproxies()
        proxy_url = proxies.get(self.scheme) or proxies.get("all")
        if not proxy_url or _no_proxy_matches(self.host, self.port):
            return
        if "://" not in proxy_url:
            proxy_url = "http://" + proxy_url
        parts = urlsplit(proxy_url)
        if parts.scheme != "http" or not parts.hostname:
            self._proxy_error = f"Unsupported proxy {proxy_url!r} (only http:// proxies are supported)"
            return
        auth = None
        if parts.username is not None:
            creds = f"{unquote(parts.username)}:{unquote(parts.password or '')}"
            auth = "Basic " + base64.b64encode(creds.encode("utf-8")).decode("ascii")
        self._proxy = (parts.hostname, parts.port or 80, auth)

    def _make_ssl_context(self) -> Optional[ssl.SSLContext]:
        """The TLS context, made once. Trusts ``$REQUESTS_CA_BUNDLE`` or ``$CURL_CA_BUNDLE`` (a
        file or a directory) when set, as requests does, so a sequin-py user's private CA keeps
        working; otherwise the system store (requests would use certifi's bundle), which
        ``$SSL_CERT_FILE``/``$SSL_CERT_DIR`` can replace."""
        bundle = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
        try:
            if bundle and os.path.isdir(bundle):
                return ssl.create_default_context(capath=bundle)
            return ssl.create_default_context(cafile=bundle or None)
        except (OSError, ssl.SSLError) as exc:
            self._config_error = f"Invalid CA bundle {bundle!r}: {exc}"
            return None

    @property
    def proxy(self) -> Optional[str]:
        """``host:port`` of the proxy in use, or None (always None for loopback base URLs)."""
        return None if self._proxy is None else f"{self._proxy[0]}:{self._proxy[1]}"

    # -- connections ---------------------------------------------------------------------------

    def _new_connection(self) -> _Connection:
        self.connections_opened += 1
        if self._proxy is None:
            if self.scheme == "https":
                return _HTTPSConnection(self.host, self.port, timeout=self.timeout, context=self._ssl_context)
            return _HTTPConnection(self.host, self.port, timeout=self.timeout)
        proxy_host, proxy_port, auth = self._proxy
        if self.scheme == "https":
            conn: _Connection = _HTTPSConnection(
                proxy_host, proxy_port, timeout=self.timeout, context=self._ssl_context
            )
            conn.set_tunnel(self.host, self.port, headers={"Proxy-Authorization": auth} if auth else None)
            return conn
        return _HTTPConnection(proxy_host, proxy_port, timeout=self.timeout)

    def _borrow(self) -> Tuple[_Connection, bool]:
        """An idle live connection (reused=True) or a new, not yet connected one."""
        while True:
            try:
                conn = self._pool.pop()
            except IndexError:
                return self._new_connection(), False
            if _is_dropped(conn):
                conn.close()
                continue
            return conn, True

    def _give_back(self, conn: _Connection) -> None:
        if len(self._pool) < self.pool_size:
            self._pool.append(conn)
        else:
            conn.close()

    def close(self) -> None:
        """Close idle connections; borrowed ones close when their request ends."""
        while True:
            try:
                self._pool.pop().close()
            except IndexError:
                return

    # -- requests ------------------------------------------------------------------------------

    def request(
        self,
        method: str,
        path: str,
        body: Optional[bytes] = None,
        *,
        replayable: bool = False,
        headers: Optional[Mapping[str, str]] = None,
    ) -> RawResponse:
        """Send ``method path`` (``path`` already URL-encoded, query included) and read the answer.

        Raises TransportError when no HTTP answer is obtained. ``replayable`` allows one retry on a
        fresh connection when a *reused* keep-alive connection turns out to be dead before any
        byte of the answer arrived (for requests whose repetition is harmless).
        """
        if self._config_error is not None or self._proxy_error is not None:
            raise TransportError(self._config_error or self._proxy_error or "")
        if self._proxy is not None and self.scheme == "http":
            target = f"http://{self._host_header}{self.prefix}{path}"
        else:
            target = self.prefix + path
        if _BAD_TARGET.search(target):
            raise TransportError(f"Invalid request target {target!r} (unencoded space or control character)")
        lines = [f"{method} {target} HTTP/1.1", *self._header_lines]
        if body is not None:
            lines.append("Content-Type: application/json")
            lines.append(f"Content-Length: {len(body)}")
        elif method in ("POST", "PUT", "PATCH"):
            lines.append("Content-Length: 0")
        if headers:
            lines.extend(f"{name}: {value}" for name, value in headers.items())
        # One buffer, one sendall(): http.client sends the head and the body in two writes, which
        # wakes the server up twice per request (measured: ~2x slower on loopback).
        message = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        if body:
            message += body
        while True:
            conn, reused = self._borrow()
            try:
                if conn.sock is None:
                    conn.connect()
                sock = conn.sock
                assert sock is not None
                reader = getattr(conn, "_sequin_reader", None)
                if reader is None or reader.sock is not sock:
                    reader = conn._sequin_reader = _Reader(sock)  # type: ignore[union-attr]
                sock.sendall(message)
                status, reason, data, content_type, will_close, date = _read_response(reader, method)
            except _STALE_ERRORS as exc:
                conn.close()
                if reused and replayable:
                    continue  # the server dropped an idle connection under our feet
                error = self._wrap(exc, method, path)
                if reused:
                    # Say why it failed instead of retrying: it may have been applied already.
                    error = TransportError(
                        f"{error}; the keep-alive connection was reused and the request is not "
                        "retried, since the server may have applied it",
                        refused=error.refused,
                    )
                raise error from exc
            except (OSError, http.client.HTTPException) as exc:
                conn.close()
                raise self._wrap(exc, method, path) from exc
            except BaseException:
                conn.close()  # e.g. KeyboardInterrupt mid-exchange: the socket state is unknown
                raise
            if will_close:
                conn.close()
            else:
                self._give_back(conn)
            return RawResponse(status, reason, data, content_type, date)

    def _wrap(self, exc: BaseException, method: str, path: str) -> TransportError:
        where = f"{method} {self.display_url.rstrip('/')}{path}"
        if isinstance(exc, (socket.timeout, TimeoutError)):
            return TransportError(
                f"Timed out after {self.timeout:g} s waiting for Sequin: {where}", timed_out=True
            )
        refused = isinstance(exc, ConnectionRefusedError) or "Connection refused" in str(exc)
        detail = str(exc) or type(exc).__name__
        return TransportError(f"{detail} ({where})", refused=refused)

    def __repr__(self) -> str:
        return f"Transport({self.display_url!r}, timeout={self.timeout:g}, proxy={self.proxy!r})"
