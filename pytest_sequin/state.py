"""Per-process state of the plugin, kept in ``config.stash``."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

from pytest_sequin.backends import BackendChoice, RunningServer
from pytest_sequin.cleanup import CLEANUP_REQUEST_TIMEOUT, Breaker, Registry
from pytest_sequin.client import ConsumerHandle, SequinClient, StreamHandle
from pytest_sequin.client.transport import DEFAULT_TIMEOUT as DEFAULT_REQUEST_TIMEOUT
from pytest_sequin.config import SequinConfig
from pytest_sequin.naming import NameFactory
from pytest_sequin.server.control import INTERNAL_HEADER
from pytest_sequin.sweep import SweepResult


@dataclass
class SequinState:
    config: SequinConfig
    run_token: str
    names: NameFactory
    registry: Registry
    is_worker: bool = False
    server: RunningServer | None = None
    #: The backend in use, decided once at session start (``--sequin-docker=auto`` probes the
    #: engine then); under xdist the controller's decision is handed to the workers.
    choice: BackendChoice | None = None
    owns_server: bool = False
    #: xdist controller with per-worker embedded servers: it has no server of its own.
    per_worker: bool = False
    #: Environment values to restore at session end (SEQUIN_URL, NO_PROXY...).
    saved_environment: dict[str, str | None] = field(default_factory=dict)
    clients: dict[str, SequinClient] = field(default_factory=dict)
    cleanup_clients: dict[str, SequinClient] = field(default_factory=dict)
    report_clients: dict[str, SequinClient] = field(default_factory=dict)
    breaker: Breaker = field(default_factory=Breaker)
    swept: SweepResult | None = None
    #: Filled from test reports, so under xdist the controller sees the workers' too.
    kept: list[str] = field(default_factory=list)
    cleanup_failures: list[str] = field(default_factory=list)
    warned_cleanup: bool = False
    warned_shared_clock: bool = False
    #: Why the server could not be had when a test asked for it at run time (the message).
    unavailable: str | None = None
    #: Streams used by a test that failed: a module- or session-scoped one is kept for
    #: --sequin-keep when its scope ends.
    failed_streams: set[str] = field(default_factory=set)
    #: The test being torn down: wider-scoped fixtures end in its teardown, and report there.
    current_item: pytest.Item | None = None

    @property
    def notes(self) -> tuple[str, ...]:
        """Config notes and the backend decision's, for the header before a server runs."""
        note = self.choice.note if self.choice is not None else None
        return tuple(self.config.notes) + ((note,) if note else ())

    def client_for(self, url: str) -> SequinClient:
        """One client per URL and process: its keep-alive connections serve every fixture.

        --sequin-timeout bounds each request too, so a hung server fails a test, not the run;
        ``0`` (one readiness attempt, no waiting) cannot bound a request, which then gets the
        client's default instead.
        """
        client = self.clients.get(url)
        if client is None:
            timeout = self.config.timeout if self.config.timeout > 0 else DEFAULT_REQUEST_TIMEOUT
            client = self.clients[url] = SequinClient(url, timeout=timeout)
        return client

    def cleanup_client_for(self, url: str) -> SequinClient:
        """Cleanup has its own client with a short timeout: teardown must stay quick."""
        client = self.cleanup_clients.get(url)
        if client is None:
            timeout = min(self.config.timeout or CLEANUP_REQUEST_TIMEOUT, CLEANUP_REQUEST_TIMEOUT)
            client = self.cleanup_clients[url] = SequinClient(url, timeout=timeout)
        return client

    def report_client_for(self, url: str) -> SequinClient:
        """The failure report's client: a short timeout like cleanup's, and marked as the
        plugin's own, so the embedded server does not apply the test's faults or delays to it."""
        client = self.report_clients.get(url)
        if client is None:
            timeout = min(self.config.timeout or CLEANUP_REQUEST_TIMEOUT, CLEANUP_REQUEST_TIMEOUT)
            headers = {INTERNAL_HEADER: "failure-report"}
            client = self.report_clients[url] = SequinClient(url, timeout=timeout, headers=headers)
        return client

    @property
    def client(self) -> SequinClient:
        """The client of this process's server."""
        if self.server is None:
            raise RuntimeError("pytest-sequin: no Sequin server in this process")
        return self.client_for(self.server.url)

    def close_clients(self) -> None:
        for client in [*self.clients.values(), *self.cleanup_clients.values(), *self.report_clients.values()]:
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
