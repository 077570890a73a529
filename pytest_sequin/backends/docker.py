"""A real Sequin in Docker: Postgres + Sequin on a private network, via testcontainers.

The configuration mirrors Sequin's own ``docker/docker-compose.yaml``: a ``postgres:16``
service started with ``postgres -c wal_level=logical`` (``POSTGRES_DB=sequin``, user and
password ``postgres``), and the Sequin image configured with ``PG_HOSTNAME``,
``PG_DATABASE``, ``PG_PORT``, ``PG_USERNAME``, ``PG_PASSWORD``, ``PG_POOL_SIZE``,
``SECRET_KEY_BASE`` and ``VAULT_KEY``, serving HTTP on port 7376.  Differences, on purpose:
the host port is random (no clash with a developer's own compose stack on 7376), nothing
is persisted in volumes, and the two secrets are generated per run instead of reusing the
public values from the compose file.

The module is split so it can be tested without an engine:

* :func:`build_docker_plan` returns plain dataclasses (:class:`ContainerSpec`) describing
  both containers;
* :func:`apply_spec` turns one spec into a testcontainers ``DockerContainer`` (which can be
  constructed without an engine when ``docker_client_kw`` pins an API version);
* :func:`start_docker` / :func:`stop_docker` do the real work and exchange a JSON payload,
  so another process (the last xdist worker) can stop what this one started.

testcontainers and docker are imported lazily: the rest of the plugin works without the
``docker`` extra.  The testcontainers reaper (Ryuk) is left on, so a killed run leaves
nothing behind; processes that share the server join the same reaper session.
"""

from __future__ import annotations

import atexit
import base64
import contextlib
import os
import re
import secrets
import socket
import threading
import time
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Callable, Mapping, Optional

from pytest_sequin.backends.base import DockerUnavailable, SequinUnavailable, mask_url
from pytest_sequin.backends.readiness import READINESS_PATH, wait_until_ready

if TYPE_CHECKING:
    from testcontainers.core.container import DockerContainer
    from testcontainers.core.network import Network

    from pytest_sequin.config import SequinConfig

__all__ = [
    "SEQUIN_HTTP_PORT",
    "ContainerSpec",
    "DockerPlan",
    "EngineStatus",
    "WaitSpec",
    "apply_spec",
    "build_docker_plan",
    "create_network",
    "docker_description",
    "docker_engine_status",
    "check_testcontainers_version",
    "import_testcontainers",
    "join_reaper",
    "start_docker",
    "stop_docker",
]

SEQUIN_HTTP_PORT = 7376
POSTGRES_PORT = 5432
POSTGRES_ALIAS = "sequin_postgres"  # the compose service name, used as PG_HOSTNAME
SEQUIN_ALIAS = "sequin"
POSTGRES_DB = "sequin"
POSTGRES_USER = "postgres"
POSTGRES_PASSWORD = "postgres"
PG_POOL_SIZE = 20
LOG_TAIL_LINES = 40
#: pytest-sequin is installed from a checkout for now (not on PyPI), so the hint names the
#: package the extra pulls in, which installs from PyPI anywhere.
INSTALL_HINT = "pip install 'testcontainers>=4.8' (pytest-sequin's 'docker' extra)"
#: The oldest testcontainers with every API used here: ``Network.create()`` and session labels
#: on networks (so the reaper removes them) came in 4.7.1; in 4.8.0 a container joins its network
#: (with its aliases) at create time, before it starts, so Sequin resolves ``sequin_postgres``
#: from its first boot.  ``ExecWaitStrategy`` (4.14) is optional: see :func:`_wait_strategy_classes`.
MIN_TESTCONTAINERS = (4, 8)


# --------------------------------------------------------------------------- plain-data specs


@dataclass(frozen=True)
class WaitSpec:
    """How to tell a container is ready.

    ``kind="exec"``: run ``command`` inside the container until it exits 0 (applied as a
    testcontainers ``ExecWaitStrategy``).  ``kind="http"``: ``GET path`` on ``port`` must
    pass the application-level check of :mod:`pytest_sequin.backends.readiness`; it is
    performed by :func:`start_docker` itself, for its richer error message.
    """

    kind: str
    timeout: float
    command: tuple[str, ...] = ()
    port: Optional[int] = None
    path: str = ""


@dataclass(frozen=True)
class ContainerSpec:
    """Everything needed to create one container; no Docker objects, so it is easy to test."""

    role: str
    image: str
    env: Mapping[str, str] = field(default_factory=dict)
    command: tuple[str, ...] = ()
    exposed_ports: tuple[int, ...] = ()
    network_aliases: tuple[str, ...] = ()
    wait: Optional[WaitSpec] = None


@dataclass(frozen=True)
class DockerPlan:
    """The two containers, in start order (Postgres first: Sequin migrates at boot)."""

    postgres: ContainerSpec
    sequin: ContainerSpec

    @property
    def containers(self) -> tuple[ContainerSpec, ContainerSpec]:
        return (self.postgres, self.sequin)


def _random_secret_key_base() -> str:
    # Phoenix requires at least 64 bytes; 48 random bytes -> 64 base64 characters.
    return base64.b64encode(secrets.token_bytes(48)).decode("ascii")


def _random_vault_key() -> str:
    # Sequin's Cloak vault decodes VAULT_KEY as base64 of a 32-byte AES-256-GCM key.
    return base64.b64encode(secrets.token_bytes(32)).decode("ascii")


def build_docker_plan(
    sequin_image: str,
    postgres_image: str,
    *,
    timeout: float = 60.0,
    secret_key_base: Optional[str] = None,
    vault_key: Optional[str] = None,
) -> DockerPlan:
    """Describe the Postgres and Sequin containers (see the module docstring for the source)."""
    postgres = ContainerSpec(
        role="postgres",
        image=postgres_image,
        env={
            "POSTGRES_DB": POSTGRES_DB,
            "POSTGRES_USER": POSTGRES_USER,
            "POSTGRES_PASSWORD": POSTGRES_PASSWORD,
        },
        command=("postgres", "-c", "wal_level=logical"),
        exposed_ports=(POSTGRES_PORT,),
        network_aliases=(POSTGRES_ALIAS,),
        # Like the compose healthcheck, plus -h 127.0.0.1: during initdb the image runs a
        # temporary server on the unix socket only, which must not count as ready.
        wait=WaitSpec(
            kind="exec",
            timeout=timeout,
            command=("pg_isready", "-h", "127.0.0.1", "-U", POSTGRES_USER, "-d", POSTGRES_DB),
        ),
    )
    sequin = ContainerSpec(
        role="sequin",
        image=sequin_image,
        env={
            "PG_HOSTNAME": POSTGRES_ALIAS,
            "PG_DATABASE": POSTGRES_DB,
            "PG_PORT": str(POSTGRES_PORT),
            "PG_USERNAME": POSTGRES_USER,
            "PG_PASSWORD": POSTGRES_PASSWORD,
            "PG_POOL_SIZE": str(PG_POOL_SIZE),
            "SECRET_KEY_BASE": secret_key_base or _random_secret_key_base(),
            "VAULT_KEY": vault_key or _random_vault_key(),
        },
        exposed_ports=(SEQUIN_HTTP_PORT,),
        network_aliases=(SEQUIN_ALIAS,),
        wait=WaitSpec(kind="http", timeout=timeout, port=SEQUIN_HTTP_PORT, path=READINESS_PATH),
    )
    return DockerPlan(postgres=postgres, sequin=sequin)


# --------------------------------------------------------------------------- lazy imports


def check_testcontainers_version(version: str) -> None:
    """Raise :class:`DockerUnavailable` if ``version`` is older than :data:`MIN_TESTCONTAINERS`."""
    numbers = tuple(int(part) for part in re.findall(r"\d+", version)[:2])
    if numbers < MIN_TESTCONTAINERS:
        floor = ".".join(map(str, MIN_TESTCONTAINERS))
        raise DockerUnavailable(
            f"pytest-sequin: testcontainers {version} is installed, but a Sequin in Docker needs "
            f"testcontainers>={floor} (Network.create, networks joined at container creation).\n"
            f"  how to fix:\n    - {INSTALL_HINT}\n"
            "    - or use the embedded server (the default; drop --sequin-docker), or "
            "--sequin-docker=auto to fall back to it"
        )


def import_testcontainers() -> Any:
    """Import testcontainers (and docker) or raise :class:`DockerUnavailable` with the install hint
    (also when the installed testcontainers is older than :data:`MIN_TESTCONTAINERS`)."""
    try:
        import docker  # noqa: F401
        import testcontainers.core.container
        import testcontainers.core.network
    except ImportError as exc:
        raise DockerUnavailable(
            "pytest-sequin: a Sequin in Docker needs the optional Docker support, which is not "
            f"installed ({exc}).\n  how to fix:\n    - {INSTALL_HINT}\n"
            "    - or use the embedded server (the default; drop --sequin-docker), or "
            "--sequin-docker=auto to fall back to it"
        ) from exc
    try:
        from importlib.metadata import PackageNotFoundError, version
    except ImportError:  # pragma: no cover - Python < 3.8 is not supported anyway
        return testcontainers
    try:
        installed = version("testcontainers")
    except PackageNotFoundError:  # a vendored copy without metadata: trust it
        return testcontainers
    check_testcontainers_version(installed)
    return testcontainers


def _wait_strategy_classes() -> Optional[Any]:
    """testcontainers' structured wait strategies exist only in recent 4.x releases."""
    try:
        from testcontainers.core import wait_strategies
    except ImportError:
        return None
    return wait_strategies if hasattr(wait_strategies, "ExecWaitStrategy") else None


def create_network(docker_client_kw: Optional[dict[str, Any]] = None) -> Network:
    """A new (not yet created on the engine) private network object."""
    import_testcontainers()
    from testcontainers.core.network import Network

    return Network(docker_client_kw=docker_client_kw)


def apply_spec(
    spec: ContainerSpec,
    network: Optional[Network] = None,
    *,
    docker_client_kw: Optional[dict[str, Any]] = None,
) -> DockerContainer:
    """Build the testcontainers object for ``spec`` (nothing is started).

    Pass ``docker_client_kw={"version": "1.41"}`` to construct it without an engine
    (testcontainers otherwise asks the engine for its API version in the constructor).
    """
    import_testcontainers()
    from testcontainers.core.container import DockerContainer

    container = DockerContainer(spec.image, docker_client_kw=docker_client_kw)
    for key, value in spec.env.items():
        container.with_env(key, value)
    if spec.command:
        container.with_command(list(spec.command))
    if spec.exposed_ports:
        container.with_exposed_ports(*spec.exposed_ports)
    if network is not None:
        container.with_network(network)
        if spec.network_aliases:
            container.with_network_aliases(*spec.network_aliases)
    if spec.wait is not None and spec.wait.kind == "exec":
        strategies = _wait_strategy_classes()
        if strategies is not None:
            container.waiting_for(
                strategies.ExecWaitStrategy(list(spec.wait.command))
                .with_startup_timeout(timedelta(seconds=max(1.0, spec.wait.timeout)))
                .with_poll_interval(0.25)
            )
    return container


def _exec_until_ok(container: DockerContainer, wait: WaitSpec) -> None:
    """Fallback for testcontainers without ExecWaitStrategy."""
    deadline = time.monotonic() + wait.timeout
    last = ""
    while True:
        try:
            result = container.exec(list(wait.command))
            if result.exit_code == 0:
                return
            last = f"exit {result.exit_code}: {result.output!r}"
        except Exception as exc:  # noqa: BLE001
            last = f"{type(exc).__name__}: {exc}"
        if time.monotonic() >= deadline:
            raise TimeoutError(f"{' '.join(wait.command)} did not succeed within {wait.timeout:g}s ({last})")
        time.sleep(0.25)


# --------------------------------------------------------------------------- engine probe


@dataclass(frozen=True)
class EngineStatus:
    """Whether a Docker engine answered, and a human-readable detail for messages."""

    reachable: bool
    detail: str
    elapsed: float = 0.0


def _engine_host() -> str:
    return os.environ.get("DOCKER_HOST") or "the default Docker socket"


def docker_engine_status(timeout: float = 3.0) -> EngineStatus:
    """Ping the Docker engine, bounded by ``timeout`` seconds, never raising.

    Uses testcontainers' client when installed (so its host discovery, e.g.
    ``~/.testcontainers.properties`` and docker contexts, is honoured), else docker-py.
    Runs in a daemon thread so even a hanging connect cannot exceed the bound.
    """
    start = time.monotonic()
    outcome: list[EngineStatus] = []

    def probe() -> None:
        try:
            try:
                from testcontainers.core.docker_client import DockerClient

                client = DockerClient(timeout=timeout).client
            except ImportError:
                import docker

                client = docker.from_env(timeout=timeout)
            try:
                client.ping()
                version = client.version().get("ApiVersion", "?")
                where = getattr(client.api, "base_url", "") or _engine_host()
            finally:
                with contextlib.suppress(Exception):
                    client.close()
            outcome.append(
                EngineStatus(True, f"reachable at {where} (API {version})", time.monotonic() - start)
            )
        except ImportError as exc:
            outcome.append(
                EngineStatus(False, f"the docker package is not installed ({exc}); {INSTALL_HINT}")
            )
        except BaseException as exc:  # noqa: BLE001 - anything means "not usable"
            detail = f"{type(exc).__name__}: {exc}".replace("\n", " ")
            outcome.append(
                EngineStatus(False, f"not reachable via {_engine_host()}: {detail}", time.monotonic() - start)
            )

    thread = threading.Thread(target=probe, name="pytest-sequin-docker-probe", daemon=True)
    thread.start()
    thread.join(timeout + 1.0)
    if outcome:
        return outcome[0]
    return EngineStatus(
        False, f"no answer from {_engine_host()} within {timeout:g}s", time.monotonic() - start
    )


# --------------------------------------------------------------------------- the reaper (Ryuk)


def _reaper_info() -> Optional[dict[str, Any]]:
    """Address and session label of this process's Ryuk, for other processes to join."""
    try:
        from testcontainers.core.container import Reaper
        from testcontainers.core.labels import LABEL_SESSION_ID, SESSION_ID

        ryuk = Reaper._container
        if ryuk is None or getattr(ryuk, "_container", None) is None:
            return None
        return {
            "host": ryuk.get_container_host_ip(),
            "port": int(ryuk.get_exposed_port(8080)),
            "label": f"{LABEL_SESSION_ID}={SESSION_ID}",
        }
    except Exception:  # noqa: BLE001 - private API of testcontainers; sharing is best effort
        return None


def _let_reaper_outlive_this_process() -> None:
    """testcontainers force-removes Ryuk at interpreter exit, which would end its watch
    while other workers still use our containers.  Instead, just close our connection at
    exit: Ryuk then waits for the remaining connections and prunes when the last closes
    (or when every process died), which is exactly the life we want."""
    try:
        from testcontainers.core.container import Reaper

        atexit.unregister(Reaper.delete_instance)

        def close_socket() -> None:
            sock = Reaper._socket
            if sock is not None:
                with contextlib.suppress(Exception):
                    sock.close()

        atexit.register(close_socket)
    except Exception:  # noqa: BLE001 - best effort
        pass


def join_reaper(info: Optional[Mapping[str, Any]], timeout: float = 5.0) -> Optional[socket.socket]:
    """Register with the starter's Ryuk so the shared containers live while we are connected.

    Ryuk protocol: send ``label=<key>=<value>`` lines, read ``ACK``; keep the socket open
    for as long as the containers are needed.  Returns None if that fails (the run still
    works; only crash cleanup after the starter exits is weakened).
    """
    if not info:
        return None
    sock: Optional[socket.socket] = None
    try:
        sock = socket.create_connection((str(info["host"]), int(info["port"])), timeout=timeout)
        sock.sendall(f"label={info['label']}\r\n".encode())
        answer = b""
        while b"\n" not in answer:
            chunk = sock.recv(64)
            if not chunk:
                break
            answer += chunk
        if not answer.startswith(b"ACK"):
            raise OSError(f"unexpected reaper answer {answer!r}")
        sock.settimeout(None)
        return sock
    except Exception:  # noqa: BLE001
        if sock is not None:
            with contextlib.suppress(Exception):
                sock.close()
        return None


# --------------------------------------------------------------------------- start / stop


def _log_tail(container: Optional[DockerContainer], lines: int = LOG_TAIL_LINES) -> str:
    if container is None or getattr(container, "_container", None) is None:
        return "(container was not created)"
    try:
        stdout, stderr = container.get_logs()
        text = (stdout + stderr).decode("utf-8", errors="replace")
    except Exception as exc:  # noqa: BLE001
        return f"(could not read logs: {type(exc).__name__}: {exc})"
    tail = text.strip().splitlines()[-lines:]
    status = ""
    with contextlib.suppress(Exception):
        wrapped = container.get_wrapped_container()
        wrapped.reload()
        status = f" [status: {wrapped.status}]"
    body = "\n".join(f"      | {line}" for line in tail) if tail else "      | (no output)"
    return f"{status}\n{body}"


def _docker_hints(config: SequinConfig) -> tuple[str, ...]:
    return (
        f"read the container logs above; try another image with --sequin-image (now {config.image}) "
        f"or --sequin-postgres-image (now {config.postgres_image})",
        f"if it is only slow (first boot runs migrations), raise --sequin-timeout (now {config.timeout:g}s)",
        f"no Docker needed: drop {config.source_of('docker')} to use the embedded server, "
        "or --sequin-docker=auto to fall back to it",
        "use an existing server with --sequin-url URL (or PYTEST_SEQUIN_URL)",
    )


def _diagnostics(
    engine: EngineStatus, containers: Mapping[str, Optional[DockerContainer]]
) -> Callable[[], str]:
    def collect() -> str:
        lines = [f"  docker engine: {engine.detail}"]
        for role, container in containers.items():
            lines.append(f"  {role} container, last {LOG_TAIL_LINES} log lines:{_log_tail(container)}")
        return "\n".join(lines)

    return collect


def _remove_quietly(container: Optional[DockerContainer]) -> None:
    if container is not None and getattr(container, "_container", None) is not None:
        with contextlib.suppress(Exception):
            container.stop()


def start_docker(
    config: SequinConfig,
    *,
    engine_probe: Callable[[], EngineStatus] = docker_engine_status,
    docker_client_kw: Optional[dict[str, Any]] = None,
    share_reaper: bool = False,
    plan: Optional[DockerPlan] = None,
) -> dict[str, Any]:
    """Start Postgres + Sequin and wait until Sequin answers; return a JSON payload.

    The payload (``url``, ``container_ids``, ``network_id``, ``reaper``, images) is what
    :func:`stop_docker` and other processes need.  ``config.timeout`` bounds each
    readiness wait (Postgres, then Sequin); pulling an image is not included.  Any
    failure removes what was created and raises :class:`SequinUnavailable` (or
    :class:`DockerUnavailable` when Docker itself is unusable).
    """
    import_testcontainers()
    engine = engine_probe()
    if not engine.reachable:
        raise DockerUnavailable(
            f"pytest-sequin: {config.source_of('docker')} asks for a Sequin in Docker, "
            "but no Docker engine answered.\n"
            f"  docker engine: {engine.detail} (checked in {engine.elapsed:.1f}s)\n"
            "  how to fix:\n"
            "    - start Docker, or point DOCKER_HOST at a running engine\n"
            "    - --sequin-docker=auto falls back to the embedded server when no engine answers\n"
            "    - drop --sequin-docker to use the embedded server (the default), or use an "
            "existing server with --sequin-url URL"
        )
    plan = plan or build_docker_plan(config.image, config.postgres_image, timeout=config.timeout)

    network: Optional[Network] = None
    pg: Optional[DockerContainer] = None
    seq: Optional[DockerContainer] = None
    step = "creating the Docker network"
    try:
        network = create_network(docker_client_kw).create()
        step = f"starting {plan.postgres.image}"
        pg = apply_spec(plan.postgres, network, docker_client_kw=docker_client_kw)
        pg.start()
        if plan.postgres.wait is not None and _wait_strategy_classes() is None:
            _exec_until_ok(pg, plan.postgres.wait)
        step = f"starting {plan.sequin.image}"
        seq = apply_spec(plan.sequin, network, docker_client_kw=docker_client_kw)
        seq.start()
        step = "reading the mapped port"
        url = f"http://{seq.get_container_host_ip()}:{seq.get_exposed_port(SEQUIN_HTTP_PORT)}"
        step = "waiting for Sequin"
        wait_until_ready(
            url,
            config.timeout,
            backend=f"docker ({plan.sequin.image})",
            hints=_docker_hints(config),
            diagnostics=_diagnostics(engine, {"sequin": seq, "postgres": pg}),
        )
    except BaseException as exc:
        message: Optional[str] = None
        if not isinstance(exc, SequinUnavailable) and isinstance(exc, Exception):
            message = (
                f"pytest-sequin: could not start Sequin in Docker while {step}.\n"
                f"  error: {type(exc).__name__}: {exc}\n"
                + _diagnostics(engine, {"sequin": seq, "postgres": pg})()
                + "\n  how to fix:\n"
                + "\n".join(f"    - {hint}" for hint in _docker_hints(config))
            )
        _remove_quietly(seq)
        _remove_quietly(pg)
        if network is not None and getattr(network, "_network", None) is not None:
            with contextlib.suppress(Exception):
                network.remove()
        if message is not None:
            raise SequinUnavailable(message) from exc
        raise
    if share_reaper:
        # Only now: testcontainers registers its exit hook when the first start creates the reaper.
        _let_reaper_outlive_this_process()
    return {
        "url": url,
        "image": plan.sequin.image,
        "postgres_image": plan.postgres.image,
        "container_ids": [seq.get_wrapped_container().id, pg.get_wrapped_container().id],
        "network_id": network.id,
        "reaper": _reaper_info(),
    }


def _engine_client(timeout: float) -> Any:
    """A docker-py client for the engine testcontainers uses (DOCKER_HOST, but also tc.host in
    ~/.testcontainers.properties and the docker context), so stop reaches what start created."""
    try:
        from testcontainers.core.docker_client import DockerClient
    except ImportError:
        import docker

        return docker.from_env(timeout=timeout)
    return DockerClient(timeout=timeout).client


def stop_docker(payload: Mapping[str, Any], *, client: Any = None) -> None:
    """Remove the containers and network of ``payload``; works from any process.

    Already-removed objects are fine (the reaper may have been faster).  Other errors are
    collected and raised together after everything was attempted.
    """
    if client is None:
        client = _engine_client(timeout=30)
    import docker.errors

    problems: list[str] = []
    for container_id in payload.get("container_ids", []):
        try:
            client.containers.get(container_id).remove(force=True, v=True)
        except docker.errors.NotFound:
            pass
        except Exception as exc:  # noqa: BLE001
            problems.append(f"container {container_id[:12]}: {type(exc).__name__}: {exc}")
    network_id = payload.get("network_id")
    if network_id:
        try:
            client.networks.get(network_id).remove()
        except docker.errors.NotFound:
            pass
        except Exception as exc:  # noqa: BLE001
            problems.append(f"network {network_id[:12]}: {type(exc).__name__}: {exc}")
    with contextlib.suppress(Exception):
        client.close()
    if problems:
        raise RuntimeError(
            "pytest-sequin: could not remove the Docker resources of "
            f"{mask_url(str(payload.get('url', '?')))}: " + "; ".join(problems)
        )


def docker_description(payload: Mapping[str, Any]) -> str:
    return f"docker {payload.get('image', '?')} at {mask_url(str(payload['url']))}"
