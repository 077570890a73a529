"""Application-level readiness: ``GET /api/streams`` must answer 200 with a JSON ``"data"`` key.

A TCP connect is not enough: Sequin (Phoenix) listens before its migrations and its
first-boot seeding (account + ``default`` stream) are done, and a wrong server on the
port (another app, a proxy error page) also accepts connections.  Every Sequin version of
the "streams" era answers ``GET /api/streams`` with ``{"data": [...]}`` once it is usable.

Polling is bounded: the whole wait, including the attempt in flight, ends within
``timeout`` plus a fraction of a second; each attempt has its own short socket timeout,
so a black-holed address cannot stall us past the deadline.  Only the stdlib is used.
"""

from __future__ import annotations

import base64
import ipaddress
import json
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Callable, Optional
from urllib.parse import unquote, urlsplit, urlunsplit

from pytest_sequin.backends.base import SequinUnavailable, mask_url

__all__ = ["READINESS_PATH", "ProbeResult", "format_unavailable", "probe_once", "wait_until_ready"]

READINESS_PATH = "/api/streams"
_MAX_ATTEMPT_TIMEOUT = 2.0
_MIN_ATTEMPT_TIMEOUT = 0.2
_BACKOFF_START = 0.05
_BACKOFF_MAX = 0.5
_BODY_EXCERPT = 300


@dataclass(frozen=True)
class ProbeResult:
    """Outcome of one readiness attempt; ``detail`` says what was seen, for error messages."""

    ok: bool
    detail: str
    status: Optional[int] = None


def _is_loopback(host: Optional[str]) -> bool:
    if not host:
        return False
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _request_for(base_url: str) -> tuple[urllib.request.Request, urllib.request.OpenerDirector]:
    """Build the GET request: credentials in the URL become a Basic auth header (Sequin
    ignores it, but a proxy in front may need it), and proxies are bypassed for loopback
    addresses so an ``http_proxy`` in the environment cannot hijack a local server."""
    parts = urlsplit(base_url)
    netloc = parts.netloc.rpartition("@")[2]
    target = urlunsplit((parts.scheme, netloc, parts.path.rstrip("/") + READINESS_PATH, "", ""))
    headers = {"Accept": "application/json"}
    if parts.username is not None:
        creds = f"{unquote(parts.username)}:{unquote(parts.password or '')}".encode()
        headers["Authorization"] = "Basic " + base64.b64encode(creds).decode("ascii")
    handlers: list[urllib.request.BaseHandler] = []
    if _is_loopback(parts.hostname):
        handlers.append(urllib.request.ProxyHandler({}))
    return urllib.request.Request(target, headers=headers, method="GET"), urllib.request.build_opener(
        *handlers
    )


def _excerpt(body: bytes) -> str:
    text = body[:_BODY_EXCERPT].decode("utf-8", errors="replace").strip()
    return text + ("..." if len(body) > _BODY_EXCERPT else "")


def probe_once(base_url: str, timeout: float = _MAX_ATTEMPT_TIMEOUT) -> ProbeResult:
    """One ``GET {base_url}/api/streams``; never raises."""
    request, opener = _request_for(base_url)
    try:
        with opener.open(request, timeout=timeout) as response:
            status = response.status
            body = response.read()
    except urllib.error.HTTPError as exc:
        try:
            body = exc.read()
        except Exception:  # noqa: BLE001 - best effort for the message
            body = b""
        return ProbeResult(False, f"HTTP {exc.code} {exc.reason}: {_excerpt(body)}".rstrip(": "), exc.code)
    except urllib.error.URLError as exc:
        reason = exc.reason
        return ProbeResult(
            False,
            f"{type(reason).__name__}: {reason}"
            if isinstance(reason, BaseException)
            else f"URLError: {reason}",
        )
    except Exception as exc:  # noqa: BLE001 - timeouts, resets, bad status lines...
        return ProbeResult(False, f"{type(exc).__name__}: {exc}")
    if status != 200:
        return ProbeResult(False, f"HTTP {status}: {_excerpt(body)}", status)
    try:
        payload = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return ProbeResult(False, f"HTTP 200 but the body is not JSON: {_excerpt(body)!r}", status)
    if not isinstance(payload, dict) or "data" not in payload:
        return ProbeResult(False, f'HTTP 200 but the JSON has no "data" key: {_excerpt(body)}', status)
    return ProbeResult(True, 'HTTP 200 with a "data" list', status)


def wait_until_ready(
    base_url: str,
    timeout: float,
    *,
    backend: str = "",
    origin: str = "",
    hints: tuple[str, ...] = (),
    diagnostics: Optional[Callable[[], str]] = None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> float:
    """Poll until the server is usable; return the seconds it took.

    At least one attempt is made, even with ``timeout=0``.  On failure raise ONE
    :class:`SequinUnavailable` whose message names the URL (masked), the call tried, the
    last answer or exception, the elapsed time and how to fix it: ``hints`` are the fix
    lines the caller knows (which options exist), ``diagnostics`` is called once, only on
    failure, for extra context such as container logs, and must not raise (if it does,
    that is reported instead).  ``origin`` says where the URL came from.
    """
    start = clock()
    deadline = start + max(0.0, timeout)
    backoff = _BACKOFF_START
    attempts = 0
    while True:
        remaining = deadline - clock()
        attempt_timeout = min(_MAX_ATTEMPT_TIMEOUT, max(_MIN_ATTEMPT_TIMEOUT, remaining))
        result = probe_once(base_url, timeout=attempt_timeout)
        attempts += 1
        if result.ok:
            return clock() - start
        remaining = deadline - clock()
        if remaining <= 0:
            break
        sleep(min(backoff, remaining))
        backoff = min(backoff * 2, _BACKOFF_MAX)
    elapsed = clock() - start
    raise SequinUnavailable(
        format_unavailable(
            base_url,
            last=result.detail,
            elapsed=elapsed,
            timeout=timeout,
            attempts=attempts,
            backend=backend,
            origin=origin,
            hints=hints,
            diagnostics=diagnostics,
        )
    )


def format_unavailable(
    base_url: str,
    *,
    last: str,
    elapsed: float,
    timeout: float,
    attempts: int,
    backend: str = "",
    origin: str = "",
    hints: tuple[str, ...] = (),
    diagnostics: Optional[Callable[[], str]] = None,
) -> str:
    """Build the single user-facing readiness failure message (see :func:`wait_until_ready`)."""
    what = f"{backend} " if backend else ""
    lines = [
        f"pytest-sequin: the {what}Sequin server at {mask_url(base_url)} is not ready.",
        f"  tried:   GET {mask_url(base_url.rstrip('/'))}{READINESS_PATH} "
        f'(expects HTTP 200 with a JSON "data" key), {attempts} attempt(s)',
        f"  last:    {last}",
        f"  waited:  {elapsed:.1f}s (timeout {timeout:g}s, --sequin-timeout)",
    ]
    if origin:
        lines.append(f"  url from: {origin}")
    if diagnostics is not None:
        try:
            extra = diagnostics()
        except Exception as exc:  # noqa: BLE001 - diagnostics must never hide the real error
            extra = f"(could not collect diagnostics: {type(exc).__name__}: {exc})"
        if extra:
            lines.append(extra.rstrip())
    if hints:
        lines.append("  how to fix:")
        lines.extend(f"    - {hint}" for hint in hints)
    return "\n".join(lines)
