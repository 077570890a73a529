"""Driving the server's clock from a test, over the embedded server's private control route.

Over HTTP rather than through the in-process object, so it works the same for a standalone
embedded server in another process (``--sequin-url`` pointing at ``sequin-embedded``).
"""

from __future__ import annotations

import json
from typing import Callable
from urllib.error import HTTPError, URLError
from urllib.request import ProxyHandler, Request, build_opener

CONTROL = "/_pytest_sequin/clock"
_opener = build_opener(ProxyHandler({}))  # loopback control calls never go through a proxy


def _call(url: str, body: dict | None = None, timeout: float = 10.0) -> tuple[int, dict]:
    data = json.dumps(body).encode() if body is not None else None
    request = Request(url, data=data, method="POST" if body is not None else "GET")
    request.add_header("Content-Type", "application/json")
    request.add_header("Accept", "application/json")
    try:
        with _opener.open(request, timeout=timeout) as answer:
            return answer.status, json.loads(answer.read() or b"{}")
    except HTTPError as error:
        try:
            return error.code, json.loads(error.read() or b"{}")
        except ValueError:
            return error.code, {}
    except (URLError, OSError, ValueError):
        return 0, {}


class SequinClock:
    """``advance(seconds)`` moves the server's time forward; ``offset`` says how far it is ahead."""

    def __init__(self, base_url: str, sleep: Callable[[float], None] | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self._sleep = sleep
        status, body = _call(self.base_url + CONTROL)
        self.controllable = status == 200 and bool(body.get("controllable"))

    def advance(self, seconds: float) -> None:
        if self._sleep is not None:
            self._sleep(seconds)
            return
        status, body = _call(self.base_url + CONTROL + "/advance", {"seconds": seconds})
        if status != 200:
            raise RuntimeError(f"could not advance the Sequin clock: {status} {body.get('summary', body)}")

    @property
    def offset(self) -> float:
        """Seconds the server's clock runs ahead of real time."""
        _, body = _call(self.base_url + CONTROL)
        return float(body.get("offset_seconds", 0.0))
