"""Per-process state of the plugin, kept in ``config.stash``."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

from pytest_sequin.backends import RunningServer
from pytest_sequin.cleanup import CLEANUP_REQUEST_TIMEOUT, Breaker, Registry
from pytest_sequin.client import ConsumerHandle, SequinClient, StreamHandle
from pytest_sequin.config import SequinConfig
from pytest_sequin.naming import NameFactory


@dataclass
class SequinState:
    config: SequinConfig
    run_token: str
    names: NameFactory
    registry: Registry
    is_worker: bool = False
    server: RunningServer | None = None
    owns_server: bool = False
    #: xdist controller with per-worker embedded servers: it has no server of its own.
    per_worker: bool = False
    #: Environment values to restore at session end (SEQUIN_URL, NO_PROXY...).
    saved_environment: dict[str, str | None] = field(default_factory=dict)
    clients: dict[str, SequinClient] = field(default_factory=dict)
    cleanup_clients: dict[str, SequinClient] = field(default_factory=dict)
    breaker: Breaker = field(default_factory=Breaker)
    swept: list[str] | None = None
    #: Filled from test reports, so under xdist the controller sees the workers' too.
    kept: list[str] = field(default_factory=list)
    cleanup_failures: list[str] = field(default_factory=list)
    warned_cleanup: bool = False

    def client_for(self, url: str) -> SequinClient:
        """One client per URL and process: its keep-alive connections serve every fixture.

        --sequin-timeout bounds each request too, so a hung server fails a test, not the run.
        """
        client = self.clients.get(url)
        if client is None:
            client = self.clients[url] = SequinClient(url, timeout=self.config.timeout or 30.0)
        return client

    def cleanup_client_for(self, url: str) -> SequinClient:
        """Cleanup has its own client with a short timeout: teardown must stay quick."""
        client = self.cleanup_clients.get(url)
        if client is None:
            timeout = min(self.config.timeout or CLEANUP_REQUEST_TIMEOUT, CLEANUP_REQUEST_TIMEOUT)
            client = self.cleanup_clients[url] = SequinClient(url, timeout=timeout)
        return client

    @property
    def client(self) -> SequinClient:
        """The client of this process's server."""
        if self.server is None:
            raise RuntimeError("pytest-sequin: no Sequin server in this process")
        return self.client_for(self.server.url)

    def close_clients(self) -> None:
        for client in [*self.clients.values(), *self.cleanup_clients.values()]:
            client.close()

    def streams_of(self, item: pytest.Item) -> list[str]:
        """Names of the streams a test used: created by its fixtures, or passed to it."""
        names: list[str] = []
        for resources in item.stash.get(RESOURCES_KEY, []):
            names += [s.name for s in resources.streams]
        for value in getattr(item, "funcargs", {}).values():
            if isinstance(value, StreamHandle):
                names.append(value.name)
            elif isinstance(value, ConsumerHandle):
                names.append(value.stream_name)
        return list(dict.fromkeys(names))


STATE_KEY = pytest.StashKey[SequinState]()
#: The reports of a test's phases, so fixture teardown knows whether the test failed.
REPORTS_KEY = pytest.StashKey[dict[str, Any]]()
#: The function-scoped resources of a test, for the failure report.
RESOURCES_KEY = pytest.StashKey[list[Any]]()
