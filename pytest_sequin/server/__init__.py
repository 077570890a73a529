"""An exact, in-process emulation of the Sequin v0.3.7 HTTP API.

Nothing here imports pytest: apps, scripts and other test frameworks can use it directly::

    from pytest_sequin.server import EmbeddedSequinServer

    with EmbeddedSequinServer() as server:
        print(server.url)
"""

from .clock import Clock, ManualClock, SystemClock
from .engine import Engine
from .errors import ApiError
from .server import EmbeddedSequinServer

__all__ = ["ApiError", "Clock", "EmbeddedSequinServer", "Engine", "ManualClock", "SystemClock"]
