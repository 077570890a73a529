"""A pytest-free client for the embedded server's private control routes (``/_pytest_sequin``).

Over HTTP rather than through the in-process server object, so the same code drives an
embedded server in this process and a standalone one in another (``sequin-embedded``, or
``--sequin-url`` pointing at it). A real Sequin answers 404 on these routes; that surfaces as
:class:`ControlUnavailable`, which callers turn into "skip" or "not supported".

The two small views at the bottom are what the ``sequin_requests`` and ``sequin_faults``
fixtures return; they are plain classes so scripts and other test runners can use them too.
"""

from __future__ import annotations

import json
from typing import Any, Iterator
from urllib.error import HTTPError, URLError
from urllib.parse import quote, urlencode
from urllib.request import ProxyHandler, Request, build_opener

from pytest_sequin.server.faults import check_delay, check_fail, path_matches
from pytest_sequin.server.requestlog import LoggedRequest

__all__ = [
    "ControlClient",
    "ControlError",
    "ControlUnavailable",
    "FaultInjector",
    "LoggedRequest",
    "RequestLogView",
]

PREFIX = "/_pytest_sequin"
_opener = build_opener(ProxyHandler({}))  # loopback control calls never go through a proxy


class ControlError(RuntimeError):
    """A control call failed (connection refused, a 400 for bad arguments, ...)."""


class ControlUnavailable(ControlError):
    """The server has no such control route: it is not an embedded pytest-sequin server."""


class ControlClient:
    """Request log, faults and clock of one embedded server, by base URL."""

    def __init__(self, base_url: str, timeout: float = 10.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout

    def _call(self, method: str, route: str, body: dict[str, Any] | None = None) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        request = Request(self.base_url + PREFIX + route, data=data, method=method)
        request.add_header("Accept", "application/json")
        if data is not None:
            request.add_header("Content-Type", "application/json")
        try:
            with _opener.open(request, timeout=self.timeout) as answer:
                return json.loads(answer.read() or b"{}")
        except HTTPError as error:
            text = error.read().decode("utf-8", "replace")
            if error.code == 404:
                raise ControlUnavailable(
                    f"{self.base_url} has no {PREFIX}{route.split('?')[0]} route (not an embedded "
                    "pytest-sequin server; a real Sequin answers 404 there)"
                ) from None
            try:
                summary = json.loads(text).get("summary", text)
            except (ValueError, AttributeError):
                summary = text
            raise ControlError(f"{method} {PREFIX}{route}: {error.code} {summary}") from None
        except (URLError, OSError, ValueError) as error:
            raise ControlError(f"{method} {self.base_url}{PREFIX}{route} failed: {error}") from None

    # -- availability -------------------------------------------------------------------------

    def available(self) -> bool:
        """True when the server has the request log and fault routes."""
        try:
            self._call("GET", "/requests?limit=0")
        except ControlUnavailable:
            return False
        return True

    # -- request log --------------------------------------------------------------------------

    def requests(self, since: int = 0, limit: int | None = None) -> list[LoggedRequest]:
        """Logged requests with ``seq > since``, oldest first (``limit``: only the newest)."""
        query = {"since": since} if limit is None else {"since": since, "limit": limit}
        body = self._call("GET", f"/requests?{urlencode(query)}")
        return [LoggedRequest(**entry) for entry in body["data"]]

    def last_seq(self) -> int:
        """A bookmark: pass it as ``since`` later to get only what came after."""
        return int(self._call("GET", "/requests?limit=0")["last_seq"])

    def clear_requests(self) -> int:
        """Empty the server's log (for every reader); returns how many entries it had."""
        return int(self._call("DELETE", "/requests")["cleared"])

    # -- faults -------------------------------------------------------------------------------

    def fail(
        self,
        path: str,
        status: int = 500,
        times: int | None = 1,
        method: str | None = None,
        body: Any = None,
    ) -> dict[str, Any]:
        """The next ``times`` requests matching ``path`` (a glob, e.g. ``/api/streams/*/messages``)
        and ``method`` are answered ``status``; ``body`` None means the framework error body,
        a str is sent as text, anything else as JSON. ``times=None``: until removed."""
        check_fail(path, status, times, method)
        fault = {"action": "fail", "path": path, "status": status, "times": times, "method": method}
        return self._call("POST", "/faults", dict(fault, body=body))

    def delay(
        self, path: str, seconds: float, times: int | None = 1, method: str | None = None
    ) -> dict[str, Any]:
        """The next ``times`` matching requests wait ``seconds`` and are then handled normally."""
        check_delay(path, seconds, times, method)
        fault = {"action": "delay", "path": path, "seconds": seconds, "times": times, "method": method}
        return self._call("POST", "/faults", fault)

    def faults(self) -> list[dict[str, Any]]:
        """Faults not used up yet, in matching order (``remaining`` and ``hits`` included)."""
        return list(self._call("GET", "/faults")["data"])

    def remove_fault(self, fault_id: int) -> bool:
        return bool(self._call("DELETE", f"/faults/{quote(str(fault_id))}")["deleted"])

    def clear_faults(self) -> int:
        """Remove every fault on the server (also other clients'); returns how many."""
        return int(self._call("DELETE", "/faults")["cleared"])

    # -- push ---------------------------------------------------------------------------------

    def push_records(self) -> dict[str, dict[str, Any]]:
        """Per push consumer id: ``base_url``, ``delivered``, ``failed``, ``failures_in_a_row``,
        ``last_key`` and ``last_outcome`` (e.g. ``HTTP 503`` or ``ConnectionRefusedError: ...``)."""
        return dict(self._call("GET", "/push")["data"])

    # -- clock --------------------------------------------------------------------------------

    def clock(self) -> dict[str, Any]:
        return dict(self._call("GET", "/clock"))

    def advance_clock(self, seconds: float) -> dict[str, Any]:
        return dict(self._call("POST", "/clock/advance", {"seconds": seconds}))


class RequestLogView:
    """The requests logged after a bookmark: one test's requests (``sequin_requests``).

    Reads go to the server each time, so the view is always current. With a server shared by
    several processes (``--sequin-url`` at one standalone embedded server and xdist), it also
    shows the other processes' requests made meanwhile; filter by your own stream names.
    """

    def __init__(self, client: ControlClient, since: int | None = None) -> None:
        self.client = client
        self.since = client.last_seq() if since is None else since

    def all(self) -> list[LoggedRequest]:
        return self.client.requests(since=self.since)

    def matching(
        self, method: str | None = None, path: str | None = None, status: int | None = None
    ) -> list[LoggedRequest]:
        """Entries with this method (any case), path glob (as for faults) and status."""
        wanted = method.upper() if method else None
        return [
            entry
            for entry in self.all()
            if (wanted is None or entry.method == wanted)
            and (path is None or path_matches(path, entry.path))
            and (status is None or entry.status == status)
        ]

    def clear(self) -> None:
        """Forget what was logged so far (for this view only; the server keeps its log)."""
        self.since = self.client.last_seq()

    def __iter__(self) -> Iterator[LoggedRequest]:
        return iter(self.all())

    def __len__(self) -> int:
        return len(self.all())


class FaultInjector:
    """Faults added through this object, removed together by :meth:`clear` (``sequin_faults``).

    Only its own faults are removed, so tests sharing one server (xdist workers on a standalone
    embedded server) do not clear each other's. Faults match every client's requests, though:
    put your stream's name in the path to aim at your own.
    """

    def __init__(self, client: ControlClient) -> None:
        self.client = client
        self._ids: list[int] = []

    def fail(
        self,
        path: str,
        status: int = 500,
        times: int | None = 1,
        method: str | None = None,
        body: Any = None,
    ) -> dict[str, Any]:
        """See :meth:`ControlClient.fail`."""
        fault = self.client.fail(path, status=status, times=times, method=method, body=body)
        self._ids.append(fault["id"])
        return fault

    def delay(
        self, path: str, seconds: float, times: int | None = 1, method: str | None = None
    ) -> dict[str, Any]:
        """See :meth:`ControlClient.delay`."""
        fault = self.client.delay(path, seconds, times=times, method=method)
        self._ids.append(fault["id"])
        return fault

    def active(self) -> list[dict[str, Any]]:
        """This injector's faults that are not used up yet."""
        mine = set(self._ids)
        return [fault for fault in self.client.faults() if fault["id"] in mine]

    def clear(self) -> None:
        """Remove this injector's remaining faults."""
        ids, self._ids = self._ids, []
        for fault_id in ids:
            self.client.remove_fault(fault_id)
