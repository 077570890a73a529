"""Plugin tests run real pytest sessions with ``pytester`` (in-process where possible)."""

from __future__ import annotations

import pytest


@pytest.fixture
def standalone_server():
    """An embedded server outside the session under test, to look at what it left behind."""
    from pytest_sequin.server import EmbeddedSequinServer

    with EmbeddedSequinServer() as server:
        yield server


def stream_names(server) -> list[str]:
    return [s.name for s in server.engine.streams.values()]
