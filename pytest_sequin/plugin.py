"""pytest plugin entry point (registered as ``sequin`` through the ``pytest11`` entry point).

Temporary minimal version: an embedded server per session and its URL. The full fixture set
lands with the plugin issue.
"""

from __future__ import annotations

from typing import Iterator

import pytest

from pytest_sequin.server import EmbeddedSequinServer


@pytest.fixture(scope="session")
def sequin_server() -> Iterator[EmbeddedSequinServer]:
    server = EmbeddedSequinServer().start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def sequin_url(sequin_server: EmbeddedSequinServer) -> str:
    return sequin_server.url
