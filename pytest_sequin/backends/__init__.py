"""Backends: where the Sequin server the tests talk to comes from.

Entry points for the plugin::

    config = resolve_config(cli_values(pc.getoption), ini_values(pc.getini), os.environ)
    server = start_server(config, coordination_dir=...)   # -> RunningServer
    server.header_lines()                                  # for pytest_report_header
    server.stop()                                          # at session end (idempotent)

``start_server`` raises :class:`SequinUnavailable` (``str()`` is the whole user message);
config problems are :class:`pytest_sequin.config.SequinConfigError`.  Nothing here
imports pytest, testcontainers or docker at import time.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Optional

from pytest_sequin.backends.base import (
    BACKEND_DOCKER,
    BACKEND_EMBEDDED,
    BACKEND_URL,
    DockerUnavailable,
    RunningServer,
    SequinUnavailable,
    header_line,
    header_lines,
    mask_url,
)
from pytest_sequin.backends.docker import (
    INSTALL_HINT,
    EngineStatus,
    docker_description,
    docker_engine_status,
    import_testcontainers,
    join_reaper,
    start_docker,
    stop_docker,
)
from pytest_sequin.backends.embedded import ServerFactory, start_embedded
from pytest_sequin.backends.readiness import wait_until_ready
from pytest_sequin.backends.url import connect_url

if TYPE_CHECKING:
    from pytest_sequin.config import SequinConfig

__all__ = [
    "BACKEND_DOCKER",
    "BACKEND_EMBEDDED",
    "BACKEND_URL",
    "BackendChoice",
    "DockerUnavailable",
    "RunningServer",
    "SequinUnavailable",
    "header_line",
    "header_lines",
    "mask_url",
    "select_backend",
    "start_server",
]

SHARED_DOCKER_NAME = "sequin-docker"


@dataclass(frozen=True)
class BackendChoice:
    """The backend actually used, with a header note when ``--sequin-docker=auto`` decided."""

    backend: str
    note: Optional[str] = None
    engine: Optional[EngineStatus] = None


def select_backend(
    config: SequinConfig,
    *,
    engine_probe: Callable[[], EngineStatus] = docker_engine_status,
) -> BackendChoice:
    """Turn the requested backend into the one to use; only ``docker=auto`` needs a decision.

    With auto, Docker is used if the ``docker`` extra is installed and an engine answers
    the (bounded) probe; otherwise the embedded server, with a note saying why.
    """
    if not config.needs_engine_probe:
        return BackendChoice(config.backend)
    source = config.source_of("docker")
    try:
        import_testcontainers()
    except DockerUnavailable as exc:
        # Missing (an ImportError as cause) or too old (the first line of the message says which).
        why = exc.__cause__ or str(exc).splitlines()[0].removeprefix("pytest-sequin: ")
        return BackendChoice(
            BACKEND_EMBEDDED,
            note=f"{source}: Docker support is not usable ({why}); using the embedded server "
            f"({INSTALL_HINT} to enable it)",
        )
    status = engine_probe()
    if status.reachable:
        return BackendChoice(BACKEND_DOCKER, note=f"{source}: Docker engine {status.detail}", engine=status)
    return BackendChoice(
        BACKEND_EMBEDDED,
        note=f"{source}: no Docker engine answered ({status.detail}); using the embedded server",
        engine=status,
    )


def start_server(
    config: SequinConfig,
    *,
    coordination_dir: Optional[os.PathLike[str] | str] = None,
    engine_probe: Callable[[], EngineStatus] = docker_engine_status,
    embedded_factory: Optional[ServerFactory] = None,
    docker_client_kw: Optional[dict[str, Any]] = None,
    lock_timeout: Optional[float] = None,
    choice: Optional[BackendChoice] = None,
) -> RunningServer:
    """Start (or connect to) the server ``config`` asks for and return it once it answers.

    ``coordination_dir`` matters only for Docker: give the same directory to every
    process of one run (see :func:`pytest_sequin.backends.coordination.run_directory`)
    and the containers are started once and removed when the last process calls
    ``stop()``.  Without it, this process owns the containers alone.

    ``choice`` is a :func:`select_backend` result made earlier (the plugin decides
    ``--sequin-docker=auto`` once, before the header is printed); without it, it is made here.
    """
    if choice is None:
        choice = select_backend(config, engine_probe=engine_probe)
    notes = tuple(config.notes) + ((choice.note,) if choice.note else ())
    if choice.backend == BACKEND_URL:
        return connect_url(config, notes=notes)
    if choice.backend == BACKEND_EMBEDDED:
        return start_embedded(config, factory=embedded_factory, notes=notes)

    known_engine = choice.engine

    def probe() -> EngineStatus:
        return known_engine if known_engine is not None else engine_probe()

    if coordination_dir is None:
        payload = start_docker(config, engine_probe=probe, docker_client_kw=docker_client_kw)
        return RunningServer(
            url=payload["url"],
            backend=BACKEND_DOCKER,
            description=docker_description(payload),
            notes=notes,
            handle=payload,
            _stop=lambda: stop_docker(payload),
        )

    from pytest_sequin.backends.coordination import SharedResource

    shared = SharedResource(
        coordination_dir,
        SHARED_DOCKER_NAME,
        start=lambda: start_docker(
            config, engine_probe=probe, docker_client_kw=docker_client_kw, share_reaper=True
        ),
        stop=stop_docker,
        lock_timeout=lock_timeout,
    )
    lease = shared.acquire()
    payload = lease.payload
    reaper_socket = None
    if not lease.started_here:
        reaper_socket = join_reaper(payload.get("reaper"))
        if payload.get("reaper") and reaper_socket is None:
            notes += (
                "could not join the Docker reaper of the process that started the containers; "
                "they are still removed at the end of the run, but maybe not if it is killed",
            )
        try:
            wait_until_ready(payload["url"], config.timeout, backend=f"docker ({payload.get('image')})")
        except BaseException:
            with contextlib.suppress(Exception):
                shared.release()
            if reaper_socket is not None:
                reaper_socket.close()
            raise

    def stop() -> None:
        try:
            shared.release()
        finally:
            if reaper_socket is not None:
                with contextlib.suppress(Exception):
                    reaper_socket.close()

    return RunningServer(
        url=payload["url"],
        backend=BACKEND_DOCKER,
        description=docker_description(payload),
        notes=notes,
        handle=payload,
        _stop=stop,
    )
