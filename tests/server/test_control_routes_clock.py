"""The clock control route: bad values are a 400 and never break the server."""

from __future__ import annotations

import pytest
import requests


@pytest.mark.parametrize("seconds", [1e12, 3e11, -5, "x", "nan", "inf", None, [1]])
def test_bad_or_huge_advances_are_refused_and_the_server_keeps_serving(
    clock_control, sequin_base_url, seconds
):
    session = requests.Session()
    session.trust_env = False
    before = session.get(f"{sequin_base_url}/_pytest_sequin/clock").json()
    answer = session.post(f"{sequin_base_url}/_pytest_sequin/clock/advance", json={"seconds": seconds})
    assert answer.status_code == 400 and answer.json()["summary"]
    assert (
        session.get(f"{sequin_base_url}/_pytest_sequin/clock").json()["offset_seconds"]
        == before["offset_seconds"]
    )
    assert session.get(f"{sequin_base_url}/api/streams").status_code == 200
