"""Shared fixtures of the project's own tests.

``sequin_base_url`` is the server every black-box test talks to. It is the plugin's
``sequin_url``, so the same suite checks the embedded server by default and any other Sequin
with ``pytest --sequin-url http://host:7376`` (the conformance run).
"""

from __future__ import annotations

import pytest
import requests


@pytest.fixture(scope="session")
def sequin_base_url(sequin_url: str) -> str:
    return sequin_url


@pytest.fixture(scope="session")
def clock_control(sequin_base_url: str):
    """Advance the server's clock over its private control route; skip where there is none
    (a real Sequin answers 404 there)."""
    session = requests.Session()
    session.trust_env = False
    probe = session.get(f"{sequin_base_url}/_pytest_sequin/clock", timeout=10)
    if probe.status_code != 200 or not probe.json().get("controllable"):
        pytest.skip("this server's clock cannot be controlled (not an embedded server)")

    def advance(seconds: float) -> None:
        answer = session.post(
            f"{sequin_base_url}/_pytest_sequin/clock/advance", json={"seconds": seconds}, timeout=10
        )
        assert answer.status_code == 200, answer.text

    return advance
