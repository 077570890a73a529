"""URL masking and the pytest header lines."""

from __future__ import annotations

import pytest

from pytest_sequin.backends.base import RunningServer, header_line, header_lines, mask_url


@pytest.mark.parametrize(
    ("url", "masked"),
    [
        ("http://127.0.0.1:7376", "http://127.0.0.1:7376"),
        ("http://user:pw@host:7376", "http://user:***@host:7376"),
        ("https://user:p%40ss:word@host/x", "https://user:***@host/x"),
        ("https://TOKEN123@host:7376", "https://***@host:7376"),
        ("http://:pw@host", "http://:***@host"),
        ("http://host/?api_key=abc&page=2", "http://host/?api_key=***&page=2"),
        ("http://host/?token=abc", "http://host/?token=***"),
        ("not a url", "not a url"),
    ],
)
def test_mask_url(url, masked):
    assert mask_url(url) == masked


def test_header_lines():
    server = RunningServer(
        url="http://u:pw@h:7376",
        backend="url",
        description="url " + mask_url("http://u:pw@h:7376"),
        notes=("--sequin-docker=auto (command line): no Docker engine answered; using the embedded server",),
    )
    assert header_line(server) == "sequin: url http://u:***@h:7376"
    assert header_lines(server) == server.header_lines()
    assert server.header_lines()[1].startswith("sequin: note: --sequin-docker=auto")


def test_stop_is_idempotent():
    calls = []
    server = RunningServer(url="http://x", backend="embedded", description="d", _stop=lambda: calls.append(1))
    assert not server.stopped
    server.stop()
    server.stop()
    assert calls == [1] and server.stopped
