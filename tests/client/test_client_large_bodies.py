"""A body over the server's 8 MB limit comes back as the server's 413, not a connection reset."""

from __future__ import annotations

from pytest_sequin.client import SequinClient


def test_an_oversized_publish_is_the_servers_413(sequin_base_url):
    client = SequinClient(sequin_base_url)
    with client.new_stream() as stream:
        result, error = client.send_message(stream.name, "big", "x" * 9_000_000)
        assert result is None
        assert error["status"] == 413
        # and the client keeps working afterwards
        assert client.send_message(stream.name, "small", "x") == ({"published": 1}, None)
