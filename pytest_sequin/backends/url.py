"""The url backend: use a server somebody else runs; never start or stop anything."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pytest_sequin.backends.base import BACKEND_URL, RunningServer, mask_url
from pytest_sequin.backends.readiness import wait_until_ready

if TYPE_CHECKING:
    from pytest_sequin.config import SequinConfig

__all__ = ["connect_url"]


def connect_url(config: SequinConfig, *, notes: tuple[str, ...] = ()) -> RunningServer:
    """Check that ``config.url`` answers like Sequin (bounded by ``config.timeout``) and wrap it.

    The returned server's ``stop()`` does nothing: the server is not ours.
    """
    if not config.url:
        raise ValueError("connect_url needs a config whose backend is 'url'")
    url = config.url
    source = config.source_of("url")
    wait_until_ready(
        url,
        config.timeout,
        backend="url",
        origin=source,
        hints=(
            f"check that the server at {mask_url(url)} is running and reachable from this machine",
            f"fix or remove {source} (SEQUIN_URL is never read by pytest-sequin)",
            "or let pytest-sequin run one: the embedded server (default, drop the URL option) "
            "or --sequin-docker",
            f"if it is only slow, raise --sequin-timeout (now {config.timeout:g}s)",
        ),
    )
    return RunningServer(
        url=url,
        backend=BACKEND_URL,
        description=f"url {mask_url(url)}",
        notes=tuple(notes),
        _stop=None,
    )
