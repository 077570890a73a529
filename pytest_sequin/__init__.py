"""pytest-sequin: pytest fixtures for Sequin message streams.

The embedded server (``pytest_sequin.server``) and the client (``pytest_sequin.client``)
import nothing from pytest, so apps and scripts can use them on their own.
"""

__version__ = "0.1.0"

_WARNINGS = ("SequinCleanupWarning", "SequinSharedClockWarning")


def __getattr__(name: str) -> object:
    """The warning classes, on first use: importing them imports pytest, which the server and
    the client must not need (``-W error::pytest_sequin.SequinCleanupWarning`` resolves here)."""
    if name in _WARNINGS:
        from pytest_sequin import warning_types

        return getattr(warning_types, name)
    raise AttributeError(f"module 'pytest_sequin' has no attribute {name!r}")
