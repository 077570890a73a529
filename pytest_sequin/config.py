"""Backend configuration: one option table, resolved once into a frozen :class:`SequinConfig`.

Every option is declared exactly once, in :data:`OPTIONS`; the argparse options
(:func:`argparse_options`), the ini keys (:func:`ini_options`) and the environment
variables are all generated from it, so they cannot drift apart.

Precedence, per option: **command line > ini file > environment > default**.  An option
counts as "given" in a layer when it is present and not ``None`` (and, for ini and
environment, not the empty string: an empty ``PYTEST_SEQUIN_URL=`` means "unset").
Falsy values such as port ``0`` or timeout ``0`` are real values and are kept.

Choosing the backend uses the same precedence across the three selecting options
(``url``, ``docker``, ``embedded``): the selector from the highest layer wins and any
lower-layer selector is reported in :attr:`SequinConfig.notes` as ignored.  Two selectors
from the *same* layer (``--sequin-url X --sequin-docker``) are a usage error naming both.

``SEQUIN_URL`` is deliberately never read: applications read it, and a developer's shell
often points it at a dev server whose data tests must not touch.

This module does not import pytest; the plugin passes ``config.getoption`` /
``config.getini`` / ``os.environ`` in and turns :class:`SequinConfigError` into
``pytest.UsageError``.
"""

from __future__ import annotations

import argparse
import math
from dataclasses import dataclass
from typing import Any, Callable, Mapping, Optional
from urllib.parse import urlsplit

from pytest_sequin.backends.base import BACKEND_DOCKER, BACKEND_EMBEDDED, BACKEND_URL, mask_url

__all__ = [
    "DEFAULT_POSTGRES_IMAGE",
    "DEFAULT_PREFIX",
    "DEFAULT_SEQUIN_IMAGE",
    "DEFAULT_TIMEOUT",
    "OPTIONS",
    "OptionSpec",
    "SequinConfig",
    "SequinConfigError",
    "argparse_options",
    "cli_values",
    "ini_options",
    "ini_values",
    "resolve_config",
]

DEFAULT_SEQUIN_IMAGE = "sequin/sequin:v0.3.7"
# The image Sequin's own docker/docker-compose.yaml uses for its Postgres service.
DEFAULT_POSTGRES_IMAGE = "postgres:16"
DEFAULT_TIMEOUT = 60.0
DEFAULT_PREFIX = "pytest_"  # same value as pytest_sequin.naming.DEFAULT_PREFIX (checked by a test)

DOCKER_OFF = "off"
DOCKER_ON = "on"
DOCKER_AUTO = "auto"

LAYER_CLI = "command line"
LAYER_INI = "ini file"
LAYER_ENV = "environment"
LAYER_DEFAULT = "default"
_LAYER_RANK = {LAYER_CLI: 3, LAYER_INI: 2, LAYER_ENV: 1, LAYER_DEFAULT: 0}


class SequinConfigError(ValueError):
    """Invalid or conflicting options; ``str(exc)`` is the user-facing message.

    The plugin raises it as ``pytest.UsageError``.
    """


# --------------------------------------------------------------------------- value parsers
# Each parser takes the raw value (a string from argv/ini/env, or an already typed value
# from a TOML ini or a test) and returns the typed value or raises ValueError.

_TRUE = {"1", "true", "yes", "on", "y", "t"}
_FALSE = {"0", "false", "no", "off", "n", "f"}


def _parse_bool(raw: Any) -> bool:
    if isinstance(raw, bool):
        return raw
    text = str(raw).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ValueError(f"expected true or false, got {raw!r}")


def _parse_docker(raw: Any) -> str:
    if isinstance(raw, bool):
        return DOCKER_ON if raw else DOCKER_OFF
    text = str(raw).strip().lower()
    if text == DOCKER_AUTO:
        return DOCKER_AUTO
    if text in _TRUE or text in ("always", "") or text == DOCKER_ON:
        return DOCKER_ON
    if text in _FALSE or text == "never":
        return DOCKER_OFF
    raise ValueError(f"expected yes, no or auto, got {raw!r}")


def _parse_port(raw: Any) -> int:
    if isinstance(raw, bool):
        raise ValueError(f"expected a port number, got {raw!r}")
    try:
        port = int(str(raw).strip()) if not isinstance(raw, int) else raw
    except ValueError:
        raise ValueError(f"expected a port number (0 = any free port), got {raw!r}") from None
    if not 0 <= port <= 65535:
        raise ValueError(f"port must be between 0 and 65535, got {port}")
    return port


def _parse_timeout(raw: Any) -> float:
    if isinstance(raw, bool):
        raise ValueError(f"expected a number of seconds, got {raw!r}")
    try:
        value = float(str(raw).strip().rstrip("s")) if not isinstance(raw, (int, float)) else float(raw)
    except ValueError:
        raise ValueError(f"expected a number of seconds, got {raw!r}") from None
    if math.isnan(value) or math.isinf(value) or value < 0:
        raise ValueError(f"timeout must be a finite number of seconds >= 0, got {raw!r}")
    return value


def _parse_url(raw: Any) -> str:
    text = str(raw).strip()
    try:
        parts = urlsplit(text)
        parts.port  # noqa: B018 - validates the port part, raises ValueError
    except ValueError as exc:
        raise ValueError(f"not a valid URL ({exc}): {mask_url(text)!r}") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"expected an http:// or https:// URL with a host, got {mask_url(text)!r}")
    if parts.query or parts.fragment:
        raise ValueError(f"the server URL must not have a query or fragment, got {mask_url(text)!r}")
    return text.rstrip("/")


def _parse_prefix(raw: Any) -> str:
    # naming.py owns the rule (it knows the stream-name length budget); it is stdlib-only.
    from pytest_sequin.naming import validate_prefix

    return validate_prefix(str(raw).strip())


def _parse_sweep(raw: Any) -> Optional[float]:
    if raw is None or (isinstance(raw, bool) and not raw):
        return None
    # "0" is a real age (sweep everything not from this run), not "off".
    if isinstance(raw, str) and raw.strip().lower() in {"off", "no", "false", "never", "none"}:
        return None
    return _parse_age(raw)


_AGE_UNITS = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
DEFAULT_SWEEP_AGE = 3600.0


def _parse_age(raw: Any) -> float:
    """Seconds, or a number with a unit: ``90``, ``30m``, ``1h``, ``2d``."""
    text = str(raw).strip().lower()
    if text[-1:] in _AGE_UNITS and text[:-1].strip():
        try:
            return _parse_timeout(float(text[:-1])) * _AGE_UNITS[text[-1]]
        except ValueError:
            pass
    try:
        return _parse_timeout(raw)
    except ValueError:
        raise ValueError(f"expected an age such as 3600, 30m, 1h or 2d, got {raw!r}") from None


def _parse_image(raw: Any) -> str:
    text = str(raw).strip()
    if not text or any(ch.isspace() for ch in text):
        raise ValueError(f"expected a Docker image reference such as name:tag, got {raw!r}")
    return text


# --------------------------------------------------------------------------- option table


@dataclass(frozen=True)
class OptionSpec:
    """One option, declared once; flags, ini key and environment variable derive from it.

    ``name`` is the key used in the ``cli``/``ini``/``env`` mappings given to
    :func:`resolve_config` (for ``cli``: the argparse ``dest``).  ``default`` is the
    *resolved* default; argparse itself gets ``None`` so "not given" stays detectable.
    """

    name: str
    flag: str
    ini: str
    env: str
    default: Any
    parse: Callable[[Any], Any]
    help: str
    metavar: Optional[str] = None
    # "store" (takes a value), "flag" (store_true) or "optional" (flag with optional =VALUE)
    arg_kind: str = "store"
    const: Any = None

    @property
    def dest(self) -> str:
        return self.flag.lstrip("-").replace("-", "_")


OPTIONS: tuple[OptionSpec, ...] = (
    OptionSpec(
        name="url",
        flag="--sequin-url",
        ini="sequin_url",
        env="PYTEST_SEQUIN_URL",
        default=None,
        parse=_parse_url,
        metavar="URL",
        help="Use the Sequin server at URL and start nothing. (SEQUIN_URL is deliberately not read.)",
    ),
    OptionSpec(
        name="docker",
        flag="--sequin-docker",
        ini="sequin_docker",
        env="PYTEST_SEQUIN_DOCKER",
        default=DOCKER_OFF,
        parse=_parse_docker,
        metavar="yes|no|auto",
        arg_kind="optional",
        const=DOCKER_ON,
        help=(
            "Start a real Sequin (and its Postgres) with testcontainers, once per run; needs "
            "the 'docker' extra (testcontainers) and a Docker engine. '=auto' uses Docker if an "
            "engine answers, else the embedded server. Write '--sequin-docker=auto' (with '=')."
        ),
    ),
    OptionSpec(
        name="embedded",
        flag="--sequin-embedded",
        ini="sequin_embedded",
        env="PYTEST_SEQUIN_EMBEDDED",
        default=False,
        parse=_parse_bool,
        arg_kind="flag",
        help="Use the in-process embedded Sequin server (the default when nothing else is chosen).",
    ),
    OptionSpec(
        name="image",
        flag="--sequin-image",
        ini="sequin_image",
        env="PYTEST_SEQUIN_IMAGE",
        default=DEFAULT_SEQUIN_IMAGE,
        parse=_parse_image,
        metavar="IMAGE",
        help=f"Sequin image for --sequin-docker (default {DEFAULT_SEQUIN_IMAGE}).",
    ),
    OptionSpec(
        name="postgres_image",
        flag="--sequin-postgres-image",
        ini="sequin_postgres_image",
        env="PYTEST_SEQUIN_POSTGRES_IMAGE",
        default=DEFAULT_POSTGRES_IMAGE,
        parse=_parse_image,
        metavar="IMAGE",
        help=f"Postgres image for --sequin-docker (default {DEFAULT_POSTGRES_IMAGE}).",
    ),
    OptionSpec(
        name="port",
        flag="--sequin-port",
        ini="sequin_port",
        env="PYTEST_SEQUIN_PORT",
        default=0,
        parse=_parse_port,
        metavar="PORT",
        help="Port of the embedded server (default 0: any free port).",
    ),
    OptionSpec(
        name="timeout",
        flag="--sequin-timeout",
        ini="sequin_timeout",
        env="PYTEST_SEQUIN_TIMEOUT",
        default=DEFAULT_TIMEOUT,
        parse=_parse_timeout,
        metavar="SECONDS",
        help=f"How long to wait for the server to answer GET /api/streams (default {DEFAULT_TIMEOUT:g}).",
    ),
    OptionSpec(
        name="prefix",
        flag="--sequin-prefix",
        ini="sequin_prefix",
        env="PYTEST_SEQUIN_PREFIX",
        default=DEFAULT_PREFIX,
        parse=_parse_prefix,
        metavar="PREFIX",
        help=f"Prefix of the stream names the fixtures create (default {DEFAULT_PREFIX!r}).",
    ),
    OptionSpec(
        name="sweep_orphans",
        flag="--sequin-sweep-orphans",
        ini="sequin_sweep_orphans",
        env="PYTEST_SEQUIN_SWEEP_ORPHANS",
        default=None,
        parse=_parse_sweep,
        metavar="AGE",
        arg_kind="optional",
        const=DEFAULT_SWEEP_AGE,
        help="When the run first uses the server, delete streams with the plugin's name shape and prefix "
        "that belong to other runs and are older "
        "than AGE (seconds, or 30m, 1h, 2d; a bare flag means 1h). Off by default.",
    ),
    OptionSpec(
        name="keep",
        flag="--sequin-keep",
        ini="sequin_keep",
        env="PYTEST_SEQUIN_KEEP",
        default=False,
        parse=_parse_bool,
        arg_kind="flag",
        help="Keep the streams of failed tests for debugging and print their names.",
    ),
    OptionSpec(
        name="clock_sleep",
        flag="--sequin-clock-sleep",
        ini="sequin_clock_sleep",
        env="PYTEST_SEQUIN_CLOCK_SLEEP",
        default=False,
        parse=_parse_bool,
        arg_kind="flag",
        help="On a server without clock control, make sequin_clock.advance() sleep for real "
        "instead of skipping the test.",
    ),
)

_BY_NAME = {spec.name: spec for spec in OPTIONS}


def _argparse_type(spec: OptionSpec) -> Callable[[str], Any]:
    def convert(text: str) -> Any:
        try:
            return spec.parse(text)
        except ValueError as exc:
            hint = ""
            if spec.arg_kind == "optional":
                hint = f" (a bare {spec.flag} must not be followed by a test path; write {spec.flag}=VALUE)"
            raise argparse.ArgumentTypeError(f"{exc}{hint}") from None

    convert.__name__ = spec.name  # argparse names the type in some messages
    return convert


def argparse_options() -> list[tuple[tuple[str, ...], dict[str, Any]]]:
    """``(flags, kwargs)`` pairs for ``parser.getgroup("sequin").addoption(*flags, **kwargs)``.

    Defaults are ``None`` on purpose: :func:`resolve_config` must see "not given" to let
    the ini file and the environment fill in.
    """
    result: list[tuple[tuple[str, ...], dict[str, Any]]] = []
    for spec in OPTIONS:
        kwargs: dict[str, Any] = {"dest": spec.dest, "default": None, "help": spec.help}
        if spec.arg_kind == "flag":
            kwargs["action"] = "store_true"
        else:
            kwargs["action"] = "store"
            kwargs["type"] = _argparse_type(spec)
            if spec.metavar:
                kwargs["metavar"] = spec.metavar
            if spec.arg_kind == "optional":
                kwargs["nargs"] = "?"
                kwargs["const"] = spec.const
        result.append(((spec.flag,), kwargs))
    return result


def ini_options() -> list[tuple[str, dict[str, Any]]]:
    """``(name, kwargs)`` pairs for ``parser.addini(name, **kwargs)``.

    All keys are plain strings (parsed here, with the same parser as the command line),
    so ``sequin_docker = auto`` and ``sequin_port = 0`` behave like their flags.
    """
    return [
        (
            spec.ini,
            {"help": f"{spec.help} [env: {spec.env}]", "type": "string", "default": ""},
        )
        for spec in OPTIONS
    ]


def cli_values(getoption: Callable[[str], Any]) -> dict[str, Any]:
    """Collect command-line values by option name, e.g. ``cli_values(config.getoption)``."""
    return {spec.name: getoption(spec.dest) for spec in OPTIONS}


def ini_values(getini: Callable[[str], Any]) -> dict[str, Any]:
    """Collect ini values by option name, e.g. ``ini_values(config.getini)``."""
    return {spec.name: getini(spec.ini) for spec in OPTIONS}


# --------------------------------------------------------------------------- resolution


@dataclass(frozen=True)
class SequinConfig:
    """The resolved configuration.  Built only by :func:`resolve_config`.

    ``backend`` is the requested backend: ``"url"``, ``"docker"`` or ``"embedded"``.  When
    it is ``"docker"`` and ``docker_mode == "auto"``, the engine still has to be probed
    (see :func:`pytest_sequin.backends.select_backend`).  ``url`` is set only for the url
    backend.  ``sources`` maps each option name to where its value came from (e.g.
    ``"--sequin-port (command line)"``); ``notes`` are lines for the pytest header.
    ``prefix``, ``sweep_orphans`` (seconds, None = off), ``keep`` and ``clock_sleep`` are for
    the fixtures (naming, orphan sweep, --sequin-keep, sequin_clock), not for the backends.
    """

    backend: str
    docker_mode: str
    url: Optional[str]
    image: str
    postgres_image: str
    port: int
    timeout: float
    prefix: str = DEFAULT_PREFIX
    sweep_orphans: Optional[float] = None
    keep: bool = False
    clock_sleep: bool = False
    sources: tuple[tuple[str, str], ...] = ()
    notes: tuple[str, ...] = ()

    def source_of(self, name: str) -> str:
        """Where option ``name`` came from, e.g. ``"PYTEST_SEQUIN_URL (environment)"``."""
        return dict(self.sources).get(name, LAYER_DEFAULT)

    @property
    def needs_engine_probe(self) -> bool:
        return self.backend == BACKEND_DOCKER and self.docker_mode == DOCKER_AUTO


def _describe(spec: OptionSpec, layer: str) -> str:
    key = {LAYER_CLI: spec.flag, LAYER_INI: spec.ini, LAYER_ENV: spec.env}.get(layer)
    return f"{key} ({layer})" if key else LAYER_DEFAULT


def _given(value: Any, layer: str) -> bool:
    if value is None:
        return False
    # In the ini file and the environment an empty string means "not set"; on the command
    # line an explicit empty value is still a value and gets validated.
    return not (layer != LAYER_CLI and isinstance(value, str) and value.strip() == "")


def resolve_config(
    cli: Mapping[str, Any],
    ini: Mapping[str, Any],
    env: Mapping[str, str],
) -> SequinConfig:
    """Resolve the three layers into a :class:`SequinConfig`.

    ``cli`` and ``ini`` are keyed by option name (see :func:`cli_values` /
    :func:`ini_values`); ``env`` is the process environment (only the ``PYTEST_SEQUIN_*``
    names of :data:`OPTIONS` are read).  Raises :class:`SequinConfigError` for invalid
    values and for conflicting backend choices within one layer.
    """
    values: dict[str, Any] = {}
    layers: dict[str, str] = {}
    for spec in OPTIONS:
        candidates = (
            (LAYER_CLI, cli.get(spec.name)),
            (LAYER_INI, ini.get(spec.name)),
            (LAYER_ENV, env.get(spec.env)),
        )
        for layer, raw in candidates:
            if not _given(raw, layer):
                continue
            try:
                values[spec.name] = spec.parse(raw)
            except ValueError as exc:
                raise SequinConfigError(f"pytest-sequin: invalid {_describe(spec, layer)}: {exc}") from None
            layers[spec.name] = layer
            break
        else:
            values[spec.name] = spec.default
            layers[spec.name] = LAYER_DEFAULT

    # Which options select a backend, and from which layer.
    selectors: list[tuple[str, str]] = []  # (backend, option name)
    if values["url"] is not None:
        selectors.append((BACKEND_URL, "url"))
    if values["docker"] != DOCKER_OFF:
        selectors.append((BACKEND_DOCKER, "docker"))
    if values["embedded"]:
        selectors.append((BACKEND_EMBEDDED, "embedded"))

    notes: list[str] = []
    if not selectors:
        backend = BACKEND_EMBEDDED
    else:
        top = max(_LAYER_RANK[layers[name]] for _, name in selectors)
        winners = [(b, n) for b, n in selectors if _LAYER_RANK[layers[n]] == top]
        if len(winners) > 1:
            named = " and ".join(_describe(_BY_NAME[n], layers[n]) for _, n in winners)
            raise SequinConfigError(
                f"pytest-sequin: conflicting backend options: {named}. "
                "Choose one of --sequin-url (use an existing server), --sequin-docker "
                "(start one in Docker) or --sequin-embedded (in-process server, the default)."
            )
        backend, chosen = winners[0]
        for _, name in selectors:
            if name != chosen:
                notes.append(
                    f"{_describe(_BY_NAME[name], layers[name])} ignored: "
                    f"{_describe(_BY_NAME[chosen], layers[chosen])} takes precedence"
                )

    if backend != BACKEND_EMBEDDED and layers["port"] != LAYER_DEFAULT and values["docker"] != DOCKER_AUTO:
        notes.append(f"{_describe(_BY_NAME['port'], layers['port'])} only applies to the embedded server")
    for name in ("image", "postgres_image"):
        if backend != BACKEND_DOCKER and layers[name] != LAYER_DEFAULT:
            notes.append(f"{_describe(_BY_NAME[name], layers[name])} only applies to --sequin-docker")

    return SequinConfig(
        backend=backend,
        docker_mode=values["docker"] if backend == BACKEND_DOCKER else DOCKER_OFF,
        url=values["url"] if backend == BACKEND_URL else None,
        image=values["image"],
        postgres_image=values["postgres_image"],
        port=values["port"],
        timeout=values["timeout"],
        prefix=values["prefix"],
        sweep_orphans=values["sweep_orphans"],
        keep=values["keep"],
        clock_sleep=values["clock_sleep"],
        sources=tuple((spec.name, _describe(spec, layers[spec.name])) for spec in OPTIONS),
        notes=tuple(notes),
    )
