"""The pytest plugin: options, session start/stop, reports. Fixtures live in ``fixtures.py``.

Registered as ``sequin`` through the ``pytest11`` entry point, so ``-p no:sequin`` disables
it. Where the server comes from is decided once per run (:mod:`pytest_sequin.config`):

* without xdist, this process starts (or connects to) the server at session start;
* under xdist, the controller connects to a URL server or starts the Docker one, once, and
  hands its URL to the workers; with the embedded backend each worker starts its own server
  (no cross-process traffic, nothing to coordinate), unless a fixed ``--sequin-port`` asks
  for one shared server, which the controller then hosts.

A server that cannot be reached stops the run at session start with one message (a
``pytest.UsageError``), instead of an error in every test.
"""

from __future__ import annotations

import os
import warnings
from typing import Any, Generator
from urllib.parse import urlsplit

import pytest

from pytest_sequin import config as config_module
from pytest_sequin import fixtures
from pytest_sequin.backends import (
    BACKEND_EMBEDDED,
    BACKEND_URL,
    BackendChoice,
    RunningServer,
    SequinUnavailable,
    select_backend,
    start_server,
)
from pytest_sequin.backends.base import mask_url
from pytest_sequin.cleanup import (
    CLEANUP_REQUEST_TIMEOUT,
    Breaker,
    CleanupFailure,
    Registry,
    delete_all,
    delete_run_streams,
)
from pytest_sequin.naming import NameFactory, new_run_token
from pytest_sequin.selection import mark_expression_excludes
from pytest_sequin.state import REPORTS_KEY, RESOURCES_KEY, STATE_KEY, SequinState
from pytest_sequin.sweep import sweep_orphans
from pytest_sequin.warning_types import SequinCleanupWarning

WORKERINPUT_TOKEN = "pytest_sequin_run_token"
WORKERINPUT_SERVER = "pytest_sequin_server"
WORKERINPUT_BACKEND = "pytest_sequin_backend"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("sequin", "pytest-sequin (Sequin streams for tests)")
    for flags, kwargs in config_module.argparse_options():
        group.addoption(*flags, **kwargs)
    for name, kwargs in config_module.ini_options():
        parser.addini(name, **kwargs)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "sequin(**consumer_options): options for the consumers that pytest-sequin's fixtures create "
        "(filter_key_pattern, ack_wait_ms, max_ack_pending, max_deliver, ...). Added automatically "
        "to every test that uses a sequin_* fixture, so -m 'not sequin' deselects them.",
    )
    try:
        resolved = config_module.resolve_config(
            config_module.cli_values(config.getoption),
            config_module.ini_values(config.getini),
            os.environ,
        )
    except config_module.SequinConfigError as exc:
        raise pytest.UsageError(str(exc)) from None
    workerinput = getattr(config, "workerinput", None)
    token = workerinput.get(WORKERINPUT_TOKEN) if workerinput else None
    worker_id = workerinput.get("workerid") if workerinput else None
    token = token or new_run_token()
    state = SequinState(
        config=resolved,
        run_token=token,
        names=NameFactory(token, worker_id, resolved.prefix),
        registry=Registry(),
        is_worker=workerinput is not None,
    )
    config.stash[STATE_KEY] = state
    config.pluginmanager.register(fixtures, "sequin-fixtures")
    config.pluginmanager.register(_ReportCollector(state), "sequin-reports")
    if config.pluginmanager.has_plugin("xdist"):
        config.pluginmanager.register(_XdistHooks(state), "sequin-xdist")


class _XdistHooks:
    """Registered only when pytest-xdist is installed: its hook is unknown otherwise."""

    def __init__(self, state: SequinState) -> None:
        self.state = state

    def pytest_configure_node(self, node: Any) -> None:
        node.workerinput[WORKERINPUT_TOKEN] = self.state.run_token
        choice = self.state.choice
        if choice is not None:  # workers must not probe Docker again, nor decide differently
            node.workerinput[WORKERINPUT_BACKEND] = {"backend": choice.backend, "note": choice.note}
        server = self.state.server
        if server is not None:
            node.workerinput[WORKERINPUT_SERVER] = {
                "url": server.url,
                "backend": server.backend,
                "description": server.description,
            }


def _is_xdist_controller(config: pytest.Config) -> bool:
    return config.pluginmanager.has_plugin("dsession") and not hasattr(config, "workerinput")


def _uses_sequin(item: pytest.Item) -> bool:
    return any(name.startswith("sequin_") for name in getattr(item, "fixturenames", ()))


def _no_tests_will_run(config: pytest.Config) -> bool:
    """--collect-only and --fixtures need no server (and must not wait for one)."""
    option = config.option
    return bool(
        getattr(option, "collectonly", False)
        or getattr(option, "showfixtures", False)
        or getattr(option, "show_fixtures_per_test", False)
    )


def pytest_sessionstart(session: pytest.Session) -> None:
    """Decide where the server comes from, and start the cheap ones now.

    The embedded server starts here, before collection, so an app that builds its client at
    import time already sees ``SEQUIN_URL``. A URL server's address is known now too, but its
    readiness check (up to --sequin-timeout) and a Docker start wait until collection shows
    that a selected test needs Sequin. An xdist controller never collects, so it does them now,
    once for all workers, unless ``-m`` deselects every test with the ``sequin`` marker.
    """
    config = session.config
    state: SequinState = config.stash[STATE_KEY]
    if _no_tests_will_run(config):
        return
    shared = getattr(config, "workerinput", {}).get(WORKERINPUT_SERVER)
    if shared is not None:
        state.server = RunningServer(
            url=shared["url"], backend=shared["backend"], description=shared["description"]
        )
        _point_environment_at(state, state.server.url)
        return
    state.choice = _backend_choice(config, state)
    backend = state.choice.backend
    if _is_xdist_controller(config):
        if backend == BACKEND_EMBEDDED and state.config.port == 0:
            state.per_worker = True
            return
        if backend != BACKEND_EMBEDDED and mark_expression_excludes(config.option.markexpr or "", "sequin"):
            # -m rules out every test that uses a sequin_* fixture: nothing to check or start.
            if backend == BACKEND_URL and state.config.url:
                _point_environment_at(state, state.config.url)
            return
        _start(state)
    elif backend == BACKEND_EMBEDDED:
        _start(state)
    elif backend == BACKEND_URL and state.config.url:
        _point_environment_at(state, state.config.url)


@pytest.hookimpl(trylast=True)
def pytest_collection_finish(session: pytest.Session) -> None:
    state: SequinState | None = session.config.stash.get(STATE_KEY, None)
    if state is None or state.server is not None or state.per_worker or _no_tests_will_run(session.config):
        return
    if state.choice is not None and state.choice.backend == BACKEND_EMBEDDED:
        return  # started at session start
    if any(_uses_sequin(item) for item in session.items):
        _start(state)
        _announce_late_start(session.config, state)


def _announce_late_start(config: pytest.Config, state: SequinState) -> None:
    """The header was printed before collection, when a URL check or a Docker start had not
    happened yet (a Docker URL is not even known then): name the server now, in the header's
    format, wherever the header itself is shown."""
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    if reporter is None or state.server is None or getattr(config.option, "no_header", False):
        return
    if getattr(reporter, "verbosity", 0) < 0:  # -q hides the header, and so this line
        return
    for line in state.server.header_lines():
        reporter.write_line(line)


def _backend_choice(config: pytest.Config, state: SequinState) -> BackendChoice:
    """The backend to use, decided once: an xdist worker takes its controller's decision;
    otherwise only ``--sequin-docker=auto`` has anything to decide (a bounded engine probe),
    and it is decided now so that the header names the backend really used."""
    handed = getattr(config, "workerinput", {}).get(WORKERINPUT_BACKEND)
    if handed is not None:
        return BackendChoice(handed["backend"], note=handed["note"])
    return select_backend(state.config)


def _start(state: SequinState) -> None:
    try:
        state.server = start_server(state.config, choice=state.choice)
    except SequinUnavailable as exc:
        raise pytest.UsageError(str(exc)) from None
    _started(state)


def server_on_demand(state: SequinState) -> RunningServer:
    """The server for a test that asked for a ``sequin_*`` fixture collection did not show
    (``request.getfixturevalue("sequin_stream")``, a conftest fixture that picks one at run
    time): the URL check or the Docker start that was skipped at collection happens now.

    If that fails, the session stops with the same one message it would have given at session
    start (``pytest.exit``), rather than one error per test. An xdist worker cannot stop the
    run (xdist reports an exit inside a test as an internal error), so there the test fails
    with the message, and later tests of that worker fail with it at once, without waiting
    again. Under xdist with ``-m`` ruling the ``sequin`` marker out, each worker that gets here
    starts its own Docker server: the controller, which would share one, did not know one was
    needed.
    """
    if state.server is not None:
        return state.server
    if state.unavailable is None:
        if state.choice is None:
            state.choice = select_backend(state.config)
        try:
            _start(state)
            return state.server  # type: ignore[return-value]  # set by _start
        except pytest.UsageError as exc:
            state.unavailable = str(exc)
    if not state.is_worker:
        pytest.exit(state.unavailable, returncode=pytest.ExitCode.USAGE_ERROR)
    pytest.fail(state.unavailable, pytrace=False)


def _started(state: SequinState) -> None:
    state.owns_server = True
    _point_environment_at(state, state.server.url)
    if state.config.sweep_orphans is not None:
        state.swept = sweep_orphans(state, state.config.sweep_orphans)


_LOOPBACK = ("127.0.0.1", "localhost", "::1")


def _point_environment_at(state: SequinState, url: str) -> None:
    """SEQUIN_URL for the code under test; for a loopback server also NO_PROXY, so an app's
    ``requests`` (sequin-py) does not send test traffic to a proxy from the environment.

    Both spellings get the same list, the union of what either had plus the loopback names:
    urllib and requests read the lowercase one first, so a ``no_proxy`` made of the loopback
    names alone would hide a user's ``NO_PROXY=.corp.example`` from every test.
    """
    updates = {"SEQUIN_URL": url}
    if urlsplit(url).hostname in _LOOPBACK:
        entries: list[str] = []
        for name in ("no_proxy", "NO_PROXY"):
            entries += [h.strip() for h in os.environ.get(name, "").split(",") if h.strip()]
        merged = ",".join(dict.fromkeys(entries + list(_LOOPBACK)))
        for name in ("NO_PROXY", "no_proxy"):
            if os.environ.get(name) != merged:
                updates[name] = merged
    for name, value in updates.items():
        state.saved_environment.setdefault(name, os.environ.get(name))
        os.environ[name] = value


def pytest_report_header(config: pytest.Config) -> list[str]:
    state: SequinState | None = config.stash.get(STATE_KEY, None)
    if state is None:
        return []
    backend = state.choice.backend if state.choice is not None else state.config.backend
    if state.server is not None:
        lines = state.server.header_lines()
    else:
        if state.per_worker:
            lines = ["sequin: embedded server in each xdist worker"]
        elif backend == BACKEND_URL:
            url = mask_url(state.config.url or "")
            lines = [f"sequin: url {url} (checked when a selected test needs it)"]
        elif backend == BACKEND_EMBEDDED:  # --collect-only, --fixtures: nothing is started
            lines = ["sequin: embedded server (not started: no test will run)"]
        else:
            lines = [f"sequin: docker {state.config.image} (started when a selected test needs it)"]
        lines += [f"sequin: note: {note}" for note in state.notes]
    lines.append(f"sequin: run token {state.run_token} (stream names start with {state.names.run_prefix})")
    return lines


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if _uses_sequin(item):
            item.add_marker("sequin")


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    """A malformed ``sequin`` marker fails the test's setup, whichever fixtures it uses."""
    for marker in item.iter_markers("sequin"):
        problem = fixtures.marker_problem(marker)
        if problem is not None:
            pytest.fail(problem, pytrace=False)


@pytest.hookimpl(hookwrapper=True)  # old-style: works with every pluggy that pytest 7 allows
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, Any, None]:
    outcome = yield
    report = outcome.get_result()
    item.stash.setdefault(REPORTS_KEY, {})[report.when] = report
    if report.failed and report.when != "teardown":
        state: SequinState = item.config.stash[STATE_KEY]
        streams = state.streams_of(item)
        state.failed_streams.update(streams)  # --sequin-keep of module/session streams
        if streams and state.server is not None and report.when == "call":
            from pytest_sequin.report import render

            owned = item.stash.get(RESOURCES_KEY, [])
            url = (owned[0].client if owned else state.client).base_url  # where the fixtures worked
            text = render(state.report_client_for(url), streams, _push_records(url))
            report.sections.append(("sequin state", text))


def _push_records(url: str) -> dict[str, Any] | None:
    """The embedded server's push delivery records, or None where there are none (a real
    server answers 404 on the control routes)."""
    from pytest_sequin.control_client import ControlClient, ControlError

    try:
        return ControlClient(url, timeout=CLEANUP_REQUEST_TIMEOUT).push_records()
    except ControlError:
        return None


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_teardown(item: pytest.Item) -> Generator[None, Any, None]:
    """Module and session fixtures end inside the teardown of a test: remember which one, so
    what they report (kept streams, cleanup failures) travels with its report."""
    state: SequinState | None = item.config.stash.get(STATE_KEY, None)
    if state is not None:
        state.current_item = item
    try:
        yield
    finally:
        if state is not None:
            state.current_item = None


class _ReportCollector:
    """Gathers kept streams and cleanup failures from test reports: under xdist the reports
    reach the controller, which prints the summary."""

    def __init__(self, state: SequinState) -> None:
        self.state = state

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        for name, value in report.user_properties:
            if name == "sequin_kept":
                self.state.kept.extend(value)  # type: ignore[arg-type]  # a list we put there
            elif name == "sequin_cleanup_failures":
                self.state.cleanup_failures.extend(value)  # type: ignore[arg-type]


def report_cleanup_failures(state: SequinState, failures: list[CleanupFailure]) -> None:
    """Warn once per process, so a dead server is one message, not one per test."""
    if not failures:
        return
    if not state.warned_cleanup:
        state.warned_cleanup = True
        first = failures[0]
        warnings.warn(
            SequinCleanupWarning(
                f"pytest-sequin could not delete {first.kind} {first.name}: {first.reason}"
                + (
                    " (the server looks unreachable; later cleanup failures are counted, not repeated)"
                    if first.unreachable
                    else ""
                )
            ),
            stacklevel=1,
        )


def pytest_sessionfinish(session: pytest.Session) -> None:
    """Delete what is left of this run, stop what this process started, restore the environment."""
    state: SequinState | None = session.config.stash.get(STATE_KEY, None)
    if state is None:
        return
    if state.server is not None and not state.server.stopped:
        cleanup_client = state.cleanup_client_for(state.server.url)
        leftovers = [s for s in state.registry.pending() if s.name not in state.kept]
        if leftovers:  # after Ctrl-C, or a teardown that never ran; one more try, a fresh breaker
            failures = delete_all(
                cleanup_client, leftovers, [], breaker=Breaker(), on_deleted=state.registry.discard
            )
            state.cleanup_failures.extend(str(f) for f in failures)
        if state.owns_server and state.server.backend != BACKEND_EMBEDDED:
            # A shared server: also what a crashed xdist worker or a re-created stream left.
            failures = delete_run_streams(cleanup_client, state.names.run_prefix, keep=state.kept)
            state.cleanup_failures.extend(str(f) for f in failures)
    if state.owns_server and state.server is not None:
        state.server.stop()
    for name, value in state.saved_environment.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value
    state.close_clients()


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    state: SequinState | None = config.stash.get(STATE_KEY, None)
    if state is None:
        return
    write = terminalreporter.write_line
    if state.kept:
        terminalreporter.section("pytest-sequin: streams kept for debugging (--sequin-keep)")
        server = state.server
        embedded = server is None or server.backend == BACKEND_EMBEDDED  # per-worker servers: None
        where = mask_url(server.url) if server is not None else "the worker's embedded server"
        for name in state.kept:
            write(f"{name}  at {where}")
        if embedded:
            write(
                "the embedded server stopped with the run, and these streams with it: to inspect "
                "kept streams, run against a standalone server (python -m pytest_sequin.server, "
                "then --sequin-url)"
            )
    if state.cleanup_failures:
        terminalreporter.section("pytest-sequin: cleanup problems")
        state.cleanup_failures = list(dict.fromkeys(state.cleanup_failures))
        for failure in state.cleanup_failures[:20]:
            write(f"could not delete {failure}")
        if len(state.cleanup_failures) > 20:
            write(f"... and {len(state.cleanup_failures) - 20} more")
    if state.swept is not None:
        terminalreporter.section("pytest-sequin: orphan sweep")
        deleted = state.swept.deleted
        write(f"deleted {len(deleted)} streams of other runs older than {state.config.sweep_orphans:g} s")
        for name in deleted:
            write(f"deleted {name}")
        if state.swept.problem is not None:
            write(f"sweep incomplete: {state.swept.problem}")
