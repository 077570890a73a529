"""Fixtures of the black-box server suite (HTTP only; see ``_api.py``)."""

from __future__ import annotations

from typing import Any, Iterator

import pytest

from ._api import Api, unique


@pytest.fixture(scope="session")
def api(sequin_base_url: str) -> Iterator[Api]:
    client = Api(sequin_base_url)
    yield client
    client.close()


class Streams:
    """Creates streams with unique names and deletes every tracked stream at teardown."""

    def __init__(self, api: Api) -> None:
        self.api = api
        self._tracked: list[str] = []

    def __call__(self, name: str | None = None) -> dict[str, Any]:
        stream = self.api.create_stream(name or unique())
        self.track(stream["id"])
        return stream

    def track(self, id_or_name: str) -> None:
        """Delete this stream at teardown too (for streams a test created by hand)."""
        self._tracked.append(id_or_name)

    def track_response(self, response: Any) -> None:
        if response.status_code == 200:
            self.track(response.json()["id"])

    def cleanup(self) -> None:
        for id_or_name in reversed(self._tracked):
            self.api.delete(f"/api/streams/{id_or_name}")


@pytest.fixture
def streams(api: Api) -> Iterator[Streams]:
    registry = Streams(api)
    yield registry
    registry.cleanup()


@pytest.fixture
def stream(streams: Streams) -> dict[str, Any]:
    """A fresh, empty stream (deleted at teardown)."""
    return streams()
