"""Per-process state of the plugin, kept in ``config.stash``."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

from pytest_sequin.backends import RunningServer
from pytest_sequin.cleanup import Registry
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
    previous_sequin_url: str | None = None
    client_instance: SequinClient | None = None
    swept: list[str] | None = None
    #: Filled from test reports, so under xdist the controller sees the workers' too.
    kept: list[str] = field(default_factory=list)
    cleanup_failures: list[str] = field(default_factory=list)
    warned_cleanup: bool = False

    @property
    def client(self) -> SequinClient:
        """One client per process: its keep-alive connections serve every fixture."""
        if self.client_instance is None:
            if self.server is None:
                raise RuntimeError("pytest-sequin: no Sequin server in this process")
            # --sequin-timeout bounds each request too, so a hung server fails a test, not the run.
            self.client_instance = SequinClient(self.server.url, timeout=self.config.timeout or 30.0)
        return self.client_instance

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
