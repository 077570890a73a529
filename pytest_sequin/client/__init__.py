"""Embedded Sequin client: sequin-py 0.1.0's API without its faults, plus handles for tests.

``SequinClient`` (alias ``Client``) is a drop-in for ``sequin.client.Client``: same methods, same
``(result, error)`` tuples. ``client.new_stream()`` / ``client.stream(name)`` and
``new_consumer`` / ``consumer`` return handles whose short methods raise ``SequinError``.

Modules: ``transport`` (HTTP, pooling, proxies, timeouts), ``urls`` (encoding), ``sdk`` (the
client), ``handles`` (stream/consumer handles), ``errors`` (``SequinError``). Nothing here imports
pytest.
"""

from __future__ import annotations

from .errors import SequinError
from .handles import ConsumerHandle, ReceivedMessage, StreamHandle, unique_name
from .sdk import Client, Result, SequinClient
from .transport import TransportError

__all__ = [
    "Client",
    "ConsumerHandle",
    "ReceivedMessage",
    "Result",
    "SequinClient",
    "SequinError",
    "StreamHandle",
    "TransportError",
    "unique_name",
]
