"""The embedded backend: an in-process Sequin emulator, one per process.

Each pytest process (each xdist worker) gets its own server: it is cheap to start, and
workers then cannot see each other's streams.  The server class lives in
``pytest_sequin.server`` and is imported lazily, so this module (and the config layer)
import nothing heavy.
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Any, Callable, Optional

from pytest_sequin.backends.base import BACKEND_EMBEDDED, RunningServer, SequinUnavailable, mask_url
from pytest_sequin.backends.readiness import wait_until_ready

if TYPE_CHECKING:
    from pytest_sequin.config import SequinConfig

__all__ = ["EMBEDDED_HOST", "start_embedded"]

EMBEDDED_HOST = "127.0.0.1"

# A factory takes host and port keywords and returns an object with start(), url, stop().
ServerFactory = Callable[..., Any]


def _default_factory() -> ServerFactory:
    try:
        from pytest_sequin.server import EmbeddedSequinServer
    except ImportError as exc:
        raise SequinUnavailable(
            f"pytest-sequin: the embedded Sequin server cannot be imported ({exc}). "
            "This is a bug or a broken installation of pytest-sequin; reinstall it, or use "
            "--sequin-url URL / --sequin-docker meanwhile."
        ) from exc
    return EmbeddedSequinServer


def start_embedded(
    config: SequinConfig,
    *,
    factory: Optional[ServerFactory] = None,
    notes: tuple[str, ...] = (),
) -> RunningServer:
    """Start the embedded server on 127.0.0.1:``config.port`` (0: any free port) and check it answers."""
    server_cls = factory or _default_factory()
    server = server_cls(host=EMBEDDED_HOST, port=config.port)
    try:
        server.start()
    except OSError as exc:
        raise SequinUnavailable(
            f"pytest-sequin: the embedded Sequin server could not listen on {EMBEDDED_HOST}:{config.port} "
            f"({type(exc).__name__}: {exc}).\n  how to fix:\n"
            f"    - choose another port with --sequin-port (now {config.port}, from "
            f"{config.source_of('port')}), or 0 for any free port"
        ) from exc
    url = str(server.url).rstrip("/")
    try:
        wait_until_ready(
            url,
            config.timeout,
            backend="embedded",
            hints=(
                "this is most likely a bug in pytest-sequin's embedded server; please report it",
                "meanwhile use a real server: --sequin-docker, or --sequin-url URL",
            ),
        )
    except BaseException:
        with contextlib.suppress(Exception):  # the readiness error is the one to show
            server.stop()
        raise
    return RunningServer(
        url=url,
        backend=BACKEND_EMBEDDED,
        description=f"embedded server at {mask_url(url)}",
        notes=tuple(notes),
        handle=server,
        _stop=server.stop,
    )
