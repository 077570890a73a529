"""pytest-sequin's fixtures: small, and each overridable in a conftest.py.

Session scope for what is costly or shared (the server, its URL, one client with keep-alive
connections); function scope for what a test owns (streams and consumers, deleted at teardown,
also when the test failed). Module and session variants exist for setups that many tests can
share, with the trade-off that those tests then see each other's messages.
"""

from __future__ import annotations

import time
import warnings
from typing import Any, Iterator

import pytest

from pytest_sequin.backends import BACKEND_EMBEDDED, RunningServer
from pytest_sequin.backends.base import mask_url
from pytest_sequin.client import ConsumerHandle, SequinClient, StreamHandle
from pytest_sequin.clock import SequinClock
from pytest_sequin.config import SequinConfig
from pytest_sequin.control_client import ControlClient, FaultInjector, RequestLogView
from pytest_sequin.factories import (
    CONSUMER_OPTIONS,
    ConsumerFactory,
    Resources,
    StreamFactory,
    unknown_consumer_options,
)
from pytest_sequin.naming import NameFactory
from pytest_sequin.state import REPORTS_KEY, RESOURCES_KEY, STATE_KEY, SequinState
from pytest_sequin.warning_types import SequinSharedClockWarning


def _state(request: pytest.FixtureRequest) -> SequinState:
    return request.config.stash[STATE_KEY]


@pytest.fixture(scope="session")
def sequin_config(request: pytest.FixtureRequest) -> SequinConfig:
    """The resolved options (backend, URL, images, timeout, prefix...)."""
    return _state(request).config


@pytest.fixture(scope="session")
def sequin_server(request: pytest.FixtureRequest) -> RunningServer:
    """The server in use: ``.url``, ``.backend`` (embedded, url or docker), ``.description``;
    for the embedded backend ``.handle`` is the in-process server object."""
    state = _state(request)
    if state.server is not None:
        return state.server
    from pytest_sequin.plugin import server_on_demand  # the plugin module imports this one

    return server_on_demand(state)


@pytest.fixture(scope="session")
def sequin_url(sequin_server: RunningServer) -> str:
    """Base URL of the server, e.g. ``http://127.0.0.1:53817`` (also in ``$SEQUIN_URL``)."""
    return sequin_server.url


@pytest.fixture(scope="session")
def sequin_client(request: pytest.FixtureRequest, sequin_url: str) -> SequinClient:
    """The embedded client bound to ``sequin_url``: sequin-py's methods plus handles."""
    return _state(request).client_for(sequin_url)


@pytest.fixture(scope="session")
def sequin_names(request: pytest.FixtureRequest) -> NameFactory:
    """Makes unique, valid names: ``sequin_names.stream_name("hint")``."""
    return _state(request).names


def _resources(request: pytest.FixtureRequest, client: SequinClient, hint: str) -> Resources:
    state = _state(request)
    return Resources(client, state.names, state.registry, hint)


def _finish(request: pytest.FixtureRequest, resources: Resources) -> None:
    """Delete a scope's resources; keep them when the test failed and --sequin-keep is on."""
    state = _state(request)
    node = request.node
    if isinstance(node, pytest.Item):
        reports = node.stash.get(REPORTS_KEY, {})
        failed = any(getattr(r, "failed", False) for r in reports.values())
        reporter: pytest.Item | None = node
    else:  # module or session scope: it ends in the teardown of the scope's last test
        failed = any(s.name in state.failed_streams for s in resources.streams)
        reporter = state.current_item
    if failed and state.config.keep and resources.streams:
        names = [s.name for s in resources.streams if _still_exists(resources.client, s)]
        for name in names:
            state.registry.discard(name)
        _report(state, reporter, "sequin_kept", names)
        return
    failures = resources.cleanup(state.cleanup_client_for(resources.client.base_url), state.breaker)
    if failures:
        from pytest_sequin.plugin import report_cleanup_failures

        report_cleanup_failures(state, failures)
        _report(state, reporter, "sequin_cleanup_failures", [str(f) for f in failures])


def _report(state: SequinState, item: pytest.Item | None, key: str, values: list[str]) -> None:
    """Through the test's report (under xdist the controller prints the summary from the
    reports), or straight into this process's state when no test is being torn down."""
    if item is not None:
        item.user_properties.append((key, values))
    elif key == "sequin_kept":
        state.kept.extend(values)
    else:
        state.cleanup_failures.extend(values)


def _still_exists(client: SequinClient, stream: StreamHandle) -> bool:
    """A kept stream is only worth listing if the test did not delete it itself."""
    _, error = client.get_stream(stream.id)
    return error is None


@pytest.fixture
def _sequin_test_resources(
    request: pytest.FixtureRequest, sequin_client: SequinClient
) -> Iterator[Resources]:
    resources = _resources(request, sequin_client, request.node.name)
    request.node.stash.setdefault(RESOURCES_KEY, []).append(resources)
    yield resources
    _finish(request, resources)


def _marker_options(request: pytest.FixtureRequest) -> dict[str, Any]:
    """Consumer options from ``@pytest.mark.sequin(...)``: markers closer to the test win, per
    option (a function's ``ack_wait_ms`` and its class's ``filter_key_pattern`` combine)."""
    options: dict[str, Any] = {}
    for marker in reversed(list(request.node.iter_markers("sequin"))):
        options.update(marker.kwargs)
    return options


def marker_problem(marker: pytest.Mark) -> str | None:
    """What is wrong with one ``@pytest.mark.sequin(...)``, or None. Checked for every test
    that carries the marker (by the plugin's setup hook), also one whose fixtures never read
    it: ``@pytest.mark.sequin("orders.*")`` must not pass silently with a ``>`` consumer."""
    unknown = unknown_consumer_options(marker.kwargs)
    if not marker.args and not unknown:
        return None
    what = f"unknown option(s) {', '.join(unknown)}" if unknown else f"positional arguments {marker.args!r}"
    known = ", ".join(sorted(CONSUMER_OPTIONS))
    return f"@pytest.mark.sequin: {what}; it takes keyword arguments among {known}"


@pytest.fixture
def sequin_stream_factory(_sequin_test_resources: Resources) -> StreamFactory:
    """``sequin_stream_factory(name=None, **options)`` -> a new stream handle; all are deleted
    at teardown, with their consumers."""
    return StreamFactory(_sequin_test_resources)


@pytest.fixture
def sequin_consumer_factory(
    request: pytest.FixtureRequest, _sequin_test_resources: Resources
) -> ConsumerFactory:
    """``sequin_consumer_factory(stream, filter_key_pattern=">", name=None, **options)`` -> a
    consumer handle; options default to the test's ``@pytest.mark.sequin(...)``."""
    return ConsumerFactory(_sequin_test_resources, _marker_options(request))


# sequin_stream and sequin_consumer use the test's resources directly rather than the factory
# fixtures: every fixture in a chain costs pytest about 70 us per test, which is a third of an
# HTTP round trip. To change how they are made, override them (not the factories).


@pytest.fixture
def sequin_stream(_sequin_test_resources: Resources) -> StreamHandle:
    """A new, uniquely named stream for this test; deleted afterwards, pass or fail."""
    return _sequin_test_resources.create_stream()


@pytest.fixture
def sequin_consumer(
    request: pytest.FixtureRequest, sequin_stream: StreamHandle, _sequin_test_resources: Resources
) -> ConsumerHandle:
    """A pull consumer on ``sequin_stream`` that matches every key (``>``), unless the test's
    ``@pytest.mark.sequin(filter_key_pattern=...)`` says otherwise."""
    return ConsumerFactory(_sequin_test_resources, _marker_options(request))(sequin_stream)


def _scoped_stream(request: pytest.FixtureRequest, client: SequinClient, hint: str) -> Iterator[StreamHandle]:
    resources = _resources(request, client, hint)
    stream = resources.create_stream()
    yield stream
    _finish(request, resources)


@pytest.fixture(scope="module")
def sequin_module_stream(
    request: pytest.FixtureRequest, sequin_client: SequinClient
) -> Iterator[StreamHandle]:
    """One stream shared by every test of a module: one create instead of one per test, but
    tests see each other's messages (use distinct keys, and consumers of their own)."""
    yield from _scoped_stream(request, sequin_client, request.module.__name__.rsplit(".", 1)[-1])


@pytest.fixture(scope="session")
def sequin_session_stream(
    request: pytest.FixtureRequest, sequin_client: SequinClient
) -> Iterator[StreamHandle]:
    """One stream for the whole session (one per xdist worker, whatever the backend)."""
    yield from _scoped_stream(request, sequin_client, "session")


@pytest.fixture
def sequin_clock(
    request: pytest.FixtureRequest, sequin_server: RunningServer, sequin_url: str
) -> SequinClock:
    """Move the server's clock: ``sequin_clock.advance(31)`` makes a 30 s visibility timeout
    pass at once. On a server without clock control (a real Sequin) the test is skipped,
    unless ``--sequin-clock-sleep`` asks to sleep for real instead."""
    clock = SequinClock(sequin_url)
    state = _state(request)
    if clock.controllable and _server_is_shared(state, sequin_server) and not state.warned_shared_clock:
        state.warned_shared_clock = True
        message = (
            f"sequin_clock moves the clock of a server that other processes may share "
            f"({sequin_server.description}): their visibility timeouts and acked-row "
            "retention move with it. Clock tests are safe on the default embedded server "
            "(one per process, one per xdist worker)."
        )
        path, line, _ = request.node.location  # point at the test, not at pytest's fixture code
        warnings.warn_explicit(SequinSharedClockWarning(message), SequinSharedClockWarning, path, line + 1)
    if not clock.controllable:
        if _state(request).config.clock_sleep:
            return SequinClock(sequin_url, sleep=time.sleep)
        pytest.skip(
            "sequin_clock needs the embedded server's clock control; this server "
            f"({sequin_server.description}) has none. Pass --sequin-clock-sleep to sleep for real."
        )
    return clock


def _server_is_shared(state: SequinState, server: RunningServer) -> bool:
    """A URL or Docker server, or an embedded one hosted by the xdist controller (a fixed
    --sequin-port): other processes may be talking to it."""
    return server.backend != BACKEND_EMBEDDED or not state.owns_server


def _control_client(url: str, fixture: str) -> ControlClient:
    client = ControlClient(url)
    if not client.available():
        pytest.skip(
            f"{fixture} needs the embedded server's request log and fault injection "
            f"(/_pytest_sequin routes); the server at {mask_url(url)} has none"
        )
    return client


@pytest.fixture
def sequin_requests(sequin_url: str) -> RequestLogView:
    """The server's log of this test's requests (those made after this fixture was set up):
    ``.all()``, ``.matching(method=None, path=None, status=None)``, ``.clear()``. Skips the
    test on a server without the log (a real Sequin)."""
    return RequestLogView(_control_client(sequin_url, "sequin_requests"))


@pytest.fixture
def sequin_faults(sequin_url: str, _sequin_test_resources: Resources) -> Iterator[FaultInjector]:
    """Make the server fail or stall: ``.fail(path, status=500, times=1, method=None, body=None)``,
    ``.delay(path, seconds, times=1, method=None)``. The faults are removed at teardown, before
    the test's streams are deleted. Skips the test on a server without fault injection."""
    injector = FaultInjector(_control_client(sequin_url, "sequin_faults"))
    yield injector
    injector.clear()
