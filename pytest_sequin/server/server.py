"""The embedded server object: engine + HTTP, started and stopped from Python."""

from __future__ import annotations

import logging
import threading
import time
from types import TracebackType
from typing import Any

from .app import Request, Response, handle
from .clock import Clock, ManualClock
from .control import INTERNAL_HEADER, PREFIX, make_control_routes
from .engine import Engine
from .faults import FaultTable, normalize_path
from .http_server import HttpServer
from .push import PushDeliverer
from .requestlog import RequestLog

log = logging.getLogger("pytest_sequin.server")

#: The control prefix as a normalised path's first segment.
_CONTROL_ROOT = f"/{PREFIX}"
_CONTROL_PATH = f"/{PREFIX}/"


class EmbeddedSequinServer:
    """An in-process emulation of the Sequin v0.3.7 HTTP API.

    It binds 127.0.0.1 on an ephemeral port by default (port 0), so parallel sessions never
    fight over 7376. The clock is a :class:`ManualClock` unless one is given: real time that a
    test can move forward, which is what makes visibility timeouts testable without sleeping.

    Beyond the API: ``requests`` logs every answered request outside the control prefix,
    ``faults`` makes chosen requests fail or wait (for testing retry logic), and ``push``
    delivers push consumers' messages over HTTP while the server runs (``push_delivery=False``
    turns that off).
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        seed_default_stream: bool = True,
        clock: Clock | None = None,
        push_delivery: bool = True,
    ) -> None:
        self.clock: Clock = clock if clock is not None else ManualClock()
        self.engine = Engine(self.clock, seed_default_stream=seed_default_stream)
        self._host = host
        self._port = port
        self._http: HttpServer | None = None
        self.requests = RequestLog()
        self.faults = FaultTable()
        self.push = PushDeliverer(self.engine)
        self._push_delivery = push_delivery
        self._halt = threading.Event()  # ends injected delays when the server stops
        self._extra_routes = make_control_routes(
            self.engine,
            requests=self.requests,
            faults=self.faults,
            on_clock_advance=self.push.wake_all,
            push_records=self.push.records,
        )

    def handle(self, request: Request) -> Response:
        """Answer one request in-process (the HTTP layer calls this for every request).

        Requests outside the control prefix go through the fault table and into the log,
        except the plugin's own (:data:`~pytest_sequin.server.control.INTERNAL_HEADER`)."""
        raw_path, _, query = request.target.split("#", 1)[0].partition("?")
        # normalize_path leaves a path without empty segments as it is.
        plain = raw_path[:1] == "/" and raw_path[-1:] != "/" and "//" not in raw_path
        path = raw_path if plain else normalize_path(raw_path)
        if path.startswith(_CONTROL_PATH) or path == _CONTROL_ROOT or INTERNAL_HEADER in request.headers:
            return handle(self.engine, request, self._extra_routes)
        started, started_at = time.monotonic(), time.time()
        method = request.method.upper()
        fault = self.faults.take(method, path)
        if fault is None:
            response = handle(self.engine, request, self._extra_routes)
            self.requests.add(method, path, query, response.status, time.monotonic() - started, started_at)
            return response
        if fault.seconds > 0:
            self._halt.wait(fault.seconds)
        if fault.action == "fail":
            response = Response(*fault.answer())
        else:
            response = handle(self.engine, request, self._extra_routes)
        elapsed = time.monotonic() - started
        self.requests.add(method, path, query, response.status, elapsed, started_at, fault.id)
        return response

    def start(self) -> EmbeddedSequinServer:
        """Bind and start serving; returns once connections are accepted."""
        if self._http is not None:
            raise RuntimeError("the embedded Sequin server is already running")
        self._http = HttpServer(self.handle, self._host, self._port, self.clock.now_us)
        self._halt.clear()
        self._http.start()
        if self._push_delivery:
            self.push.start()
        log.info("embedded Sequin serving at %s", self.url)
        return self

    def stop(self) -> None:
        """Close every connection and join every thread. Safe to call twice."""
        http, self._http = self._http, None
        self._halt.set()
        self.push.stop()
        if http is not None:
            http.stop()

    @property
    def is_running(self) -> bool:
        return self._http is not None

    @property
    def host(self) -> str:
        return self._host

    @property
    def port(self) -> int:
        if self._http is None:
            raise RuntimeError("the embedded Sequin server is not running")
        return self._http.port

    @property
    def url(self) -> str:
        host = f"[{self._host}]" if ":" in self._host else self._host
        return f"http://{host}:{self.port}"

    def advance_clock(self, seconds: float) -> None:
        """Move the server's time forward (visibility timeouts, acked-row retention)."""
        if not isinstance(self.clock, ManualClock):
            raise TypeError("this server was given a clock that cannot be moved")
        self.clock.advance(seconds)
        self.push.wake_all()

    def __enter__(self) -> EmbeddedSequinServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        where: Any = self.url if self.is_running else "stopped"
        return f"<EmbeddedSequinServer {where}>"
