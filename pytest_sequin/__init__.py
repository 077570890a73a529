"""pytest-sequin: pytest fixtures for Sequin message streams.

The embedded server (``pytest_sequin.server``) and the client (``pytest_sequin.client``)
import nothing from pytest, so apps and scripts can use them on their own.
"""

__version__ = "0.1.0"
