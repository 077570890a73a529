"""The orphan sweep's I/O side, against a standalone embedded server (the rule itself is
tested with the names in test_naming.py and through real sessions in test_sessions.py)."""

from __future__ import annotations

from types import SimpleNamespace

from pytest_sequin.client import SequinClient
from pytest_sequin.naming import NameFactory
from pytest_sequin.sweep import SweepResult, sweep_orphans
from tests.plugin.conftest import stream_names


def _state(url: str) -> SimpleNamespace:
    return SimpleNamespace(client=SequinClient(url), names=NameFactory("run01"))


def test_the_sweep_ages_streams_by_the_servers_clock(standalone_server):
    client = SequinClient(standalone_server.url)
    client.new_stream("pytest_old04_m_1")
    standalone_server.advance_clock(7200)  # the server's Date header moves too
    client.new_stream("pytest_new05_m_1")
    result = sweep_orphans(_state(standalone_server.url), 3600)
    assert result == SweepResult(deleted=["pytest_old04_m_1"], problem=None)
    assert sorted(stream_names(standalone_server)) == ["default", "pytest_new05_m_1"]


def test_a_sweep_that_cannot_list_says_why_instead_of_doing_nothing_silently(standalone_server):
    standalone_server.faults.fail("/api/streams", status=503, method="GET")
    result = sweep_orphans(_state(standalone_server.url), 3600)
    assert result.deleted == [] and result.problem is not None
    assert result.problem.startswith("could not list the streams: GET /api/streams answered 503")


def test_a_stream_that_cannot_be_deleted_is_named(standalone_server):
    SequinClient(standalone_server.url).new_stream("pytest_old06_m_1")
    standalone_server.advance_clock(7200)
    standalone_server.faults.fail("/api/streams/pytest_old06_m_1", status=500, method="DELETE")
    result = sweep_orphans(_state(standalone_server.url), 3600)
    assert result.deleted == []
    assert result.problem is not None and result.problem.startswith("could not delete pytest_old06_m_1 (500 ")
