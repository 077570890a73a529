"""Option table and precedence (pytest_sequin.config): command line > ini > environment > default."""

from __future__ import annotations

import argparse

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pytest_sequin.config import (
    DEFAULT_POSTGRES_IMAGE,
    DEFAULT_SEQUIN_IMAGE,
    DEFAULT_TIMEOUT,
    OPTIONS,
    SequinConfigError,
    argparse_options,
    cli_values,
    ini_options,
    ini_values,
    resolve_config,
)

ENV = {spec.name: spec.env for spec in OPTIONS}

# Three distinct valid values per option (cli, ini, env) and the parsed expectations.
LAYER_VALUES = {
    "url": (
        ("http://cli:1", "http://cli:1"),
        ("http://ini:2", "http://ini:2"),
        ("http://env:3", "http://env:3"),
    ),
    "docker": (("auto", "auto"), ("yes", "on"), ("true", "on")),
    "image": (("a/cli:1", "a/cli:1"), ("a/ini:2", "a/ini:2"), ("a/env:3", "a/env:3")),
    "postgres_image": (("pg:cli", "pg:cli"), ("pg:ini", "pg:ini"), ("pg:env", "pg:env")),
    "port": ((0, 0), ("7000", 7000), ("8000", 8000)),
    "timeout": ((0, 0.0), ("2.5", 2.5), ("9", 9.0)),
}


def resolve(cli=None, ini=None, env=None):
    return resolve_config(cli or {}, ini or {}, env or {})


def attr(config, name):
    return config.docker_mode if name == "docker" else getattr(config, name)


def test_defaults():
    config = resolve()
    assert config.backend == "embedded"
    assert config.docker_mode == "off"
    assert config.url is None
    assert config.image == DEFAULT_SEQUIN_IMAGE == "sequin/sequin:v0.3.7"
    assert config.postgres_image == DEFAULT_POSTGRES_IMAGE == "postgres:16"
    assert config.port == 0
    assert config.timeout == DEFAULT_TIMEOUT == 60.0
    assert config.notes == ()
    assert all(source == "default" for _, source in config.sources)


@pytest.mark.parametrize("name", sorted(LAYER_VALUES))
def test_each_layer_beats_the_ones_below(name):
    (cli_raw, cli_val), (ini_raw, ini_val), (env_raw, env_val) = LAYER_VALUES[name]
    spec = next(s for s in OPTIONS if s.name == name)
    cli, ini, env = {name: cli_raw}, {name: ini_raw}, {ENV[name]: env_raw}

    config = resolve(cli, ini, env)
    assert attr(config, name) == cli_val
    assert config.source_of(name) == f"{spec.flag} (command line)"

    config = resolve({}, ini, env)
    assert attr(config, name) == ini_val
    assert config.source_of(name) == f"{spec.ini} (ini file)"

    config = resolve({}, {}, env)
    assert attr(config, name) == env_val
    assert config.source_of(name) == f"{spec.env} (environment)"


def test_falsy_values_are_kept():
    config = resolve({"port": 0, "timeout": 0}, {"port": "7376", "timeout": "30"}, {})
    assert config.port == 0 and config.timeout == 0.0
    config = resolve({}, {"port": "0", "timeout": "0"}, {ENV["port"]: "7376", ENV["timeout"]: "30"})
    assert config.port == 0 and config.timeout == 0.0
    config = resolve({}, {}, {ENV["port"]: "0", ENV["timeout"]: "0"})
    assert config.port == 0 and config.timeout == 0.0
    assert config.source_of("port") == "PYTEST_SEQUIN_PORT (environment)"
    # explicit "no" on the command line beats "yes" in the ini file
    config = resolve({"docker": "off"}, {"docker": "true"}, {})
    assert config.backend == "embedded" and config.docker_mode == "off"


def test_empty_ini_and_env_values_mean_unset():
    config = resolve({}, {"url": "", "port": "  "}, {ENV["url"]: "", ENV["timeout"]: ""})
    assert config.backend == "embedded" and config.port == 0 and config.timeout == DEFAULT_TIMEOUT


def test_sequin_url_is_never_read():
    config = resolve({}, {}, {"SEQUIN_URL": "http://dev-server:7376"})
    assert config.backend == "embedded" and config.url is None


def test_url_backend():
    config = resolve({}, {}, {ENV["url"]: "http://user:pw@host:7376/"})
    assert config.backend == "url"
    assert config.url == "http://user:pw@host:7376"  # trailing slash dropped, credentials kept for use
    assert config.source_of("url") == "PYTEST_SEQUIN_URL (environment)"


def test_docker_auto():
    config = resolve({"docker": "auto"})
    assert config.backend == "docker" and config.docker_mode == "auto" and config.needs_engine_probe
    assert not resolve({"docker": "on"}).needs_engine_probe


@pytest.mark.parametrize(
    ("cli", "ini", "env", "names"),
    [
        (
            {"url": "http://h:1", "docker": "on"},
            {},
            {},
            ["--sequin-url (command line)", "--sequin-docker (command line)"],
        ),
        ({"url": "http://h:1", "embedded": True}, {}, {}, ["--sequin-url", "--sequin-embedded"]),
        ({"docker": "auto", "embedded": True}, {}, {}, ["--sequin-docker", "--sequin-embedded"]),
        (
            {},
            {"url": "http://h:1", "docker": "true"},
            {},
            ["sequin_url (ini file)", "sequin_docker (ini file)"],
        ),
        (
            {},
            {},
            {ENV["url"]: "http://h:1", ENV["docker"]: "1"},
            ["PYTEST_SEQUIN_URL (environment)", "PYTEST_SEQUIN_DOCKER (environment)"],
        ),
    ],
)
def test_conflicts_in_one_layer_name_both_sources(cli, ini, env, names):
    with pytest.raises(SequinConfigError) as info:
        resolve(cli, ini, env)
    message = str(info.value)
    assert "conflicting backend options" in message
    for name in names:
        assert name in message


def test_a_higher_layer_backend_choice_wins_and_the_other_is_noted():
    config = resolve({"docker": ""}, {}, {ENV["url"]: "http://user:secret@staging:7376"})
    assert config.backend == "docker" and config.docker_mode == "on" and config.url is None
    assert any("PYTEST_SEQUIN_URL (environment) ignored" in note for note in config.notes)
    assert all("secret" not in note for note in config.notes)

    config = resolve({"embedded": True}, {"docker": "auto"}, {})
    assert config.backend == "embedded"
    assert any("sequin_docker (ini file) ignored" in note for note in config.notes)

    config = resolve({}, {"url": "http://ini:1"}, {ENV["docker"]: "yes"})
    assert config.backend == "url" and config.url == "http://ini:1"


def test_port_with_a_non_embedded_backend_is_noted():
    config = resolve({"url": "http://h:1", "port": 5555})
    assert any("--sequin-port (command line) only applies to the embedded server" in n for n in config.notes)


@pytest.mark.parametrize(
    ("layer", "name", "raw", "source"),
    [
        ("env", "port", "70000", "PYTEST_SEQUIN_PORT (environment)"),
        ("ini", "port", "abc", "sequin_port (ini file)"),
        ("cli", "timeout", -1, "--sequin-timeout (command line)"),
        ("ini", "timeout", "nan", "sequin_timeout (ini file)"),
        ("cli", "url", "localhost:7376", "--sequin-url (command line)"),
        ("cli", "url", "http://h:1/?token=abc", "--sequin-url"),
        ("env", "docker", "maybe", "PYTEST_SEQUIN_DOCKER (environment)"),
        ("ini", "embedded", "perhaps", "sequin_embedded (ini file)"),
        ("cli", "image", "has space:1", "--sequin-image"),
    ],
)
def test_invalid_values_name_their_source(layer, name, raw, source):
    layers = {"cli": {}, "ini": {}, "env": {}}
    layers[layer][ENV[name] if layer == "env" else name] = raw
    with pytest.raises(SequinConfigError) as info:
        resolve(layers["cli"], layers["ini"], layers["env"])
    assert source in str(info.value)
    assert "token=abc" not in str(info.value)


def test_toml_typed_ini_values_are_accepted():
    config = resolve({}, {"docker": True, "port": 0, "timeout": 1.5, "embedded": False}, {})
    assert config.docker_mode == "on" and config.port == 0 and config.timeout == 1.5


def test_each_option_is_declared_once():
    for attr_name in ("name", "flag", "ini", "env", "dest"):
        values = [getattr(spec, attr_name) for spec in OPTIONS]
        assert len(values) == len(set(values)), attr_name
    assert all(spec.env.startswith("PYTEST_SEQUIN_") for spec in OPTIONS)
    assert [name for name, _ in ini_options()] == [spec.ini for spec in OPTIONS]
    assert [flags[0] for flags, _ in argparse_options()] == [spec.flag for spec in OPTIONS]
    assert {
        "--sequin-url",
        "--sequin-docker",
        "--sequin-embedded",
        "--sequin-image",
        "--sequin-postgres-image",
        "--sequin-port",
        "--sequin-timeout",
        "--sequin-prefix",
        "--sequin-sweep-orphans",
        "--sequin-keep",
        "--sequin-clock-sleep",
    } == {spec.flag for spec in OPTIONS}


def _parser():
    parser = argparse.ArgumentParser(exit_on_error=False)
    parser.add_argument("paths", nargs="*")
    for flags, kwargs in argparse_options():
        parser.add_argument(*flags, **kwargs)
    return parser


def _cli(argv):
    ns = _parser().parse_args(argv)
    return cli_values(lambda dest: getattr(ns, dest)), ns


def test_argparse_generation_round_trip():
    cli, ns = _cli([])
    assert all(value is None for value in cli.values())  # "not given" stays detectable
    cli, _ = _cli(["--sequin-docker"])
    assert resolve(cli).docker_mode == "on"
    cli, _ = _cli(["--sequin-docker=auto", "tests/x"])
    assert resolve(cli).docker_mode == "auto"
    cli, ns = _cli(["tests/x", "--sequin-docker", "--sequin-port", "0", "--sequin-timeout", "0"])
    config = resolve(cli, {"port": "7376", "timeout": "9"})
    assert ns.paths == ["tests/x"] and config.port == 0 and config.timeout == 0
    cli, _ = _cli(["--sequin-embedded"])
    assert resolve(cli, {}, {ENV["url"]: "http://h:1"}).backend == "embedded"


def test_bare_docker_flag_followed_by_a_path_is_a_clear_error():
    with pytest.raises(argparse.ArgumentError, match="write --sequin-docker=VALUE"):
        _parser().parse_args(["--sequin-docker", "tests/"])


def test_ini_and_getter_helpers():
    kwargs = dict(ini_options())
    assert all(k["type"] == "string" and k["default"] == "" for k in kwargs.values())
    assert "PYTEST_SEQUIN_URL" in kwargs["sequin_url"]["help"]
    raw = {"sequin_port": "0", "sequin_url": ""}
    ini = ini_values(lambda key: raw.get(key, ""))
    assert ini["port"] == "0" and resolve({}, ini).port == 0


layer_value = st.one_of(st.none(), st.integers(min_value=0, max_value=65535))


@given(cli=layer_value, ini=layer_value, env=layer_value)
def test_port_precedence_property(cli, ini, env):
    config = resolve(
        {"port": cli},
        {"port": None if ini is None else str(ini)},
        {} if env is None else {ENV["port"]: str(env)},
    )
    expected = next((v for v in (cli, ini, env) if v is not None), 0)
    assert config.port == expected


def test_config_is_frozen():
    config = resolve()
    with pytest.raises(AttributeError):
        config.port = 1  # type: ignore[misc]


def test_prefix_and_sweep_options():
    from pytest_sequin.config import DEFAULT_PREFIX
    from pytest_sequin.naming import DEFAULT_PREFIX as NAMING_DEFAULT

    assert DEFAULT_PREFIX == NAMING_DEFAULT
    config = resolve()
    assert config.prefix == DEFAULT_PREFIX and config.sweep_orphans is None
    config = resolve({"prefix": "ci_"}, {"prefix": "ini_"}, {ENV["sweep_orphans"]: "3600"})
    assert config.prefix == "ci_" and config.sweep_orphans == 3600.0
    assert resolve({"sweep_orphans": "off"}, {"sweep_orphans": "60"}).sweep_orphans is None
    assert resolve({}, {"sweep_orphans": "0"}).sweep_orphans == 0.0  # falsy but real
    with pytest.raises(SequinConfigError, match=r"sequin_prefix \(ini file\)"):
        resolve({}, {"prefix": "Bad-Prefix"})
    # An empty prefix would make every stream on a shared server look like the plugin's.
    with pytest.raises(SequinConfigError, match=r"--sequin-prefix \(command line\).*must not be empty"):
        resolve({"prefix": ""})


def test_docker_images_given_without_docker_are_noted_not_silently_ignored():
    config = resolve_config({"url": "http://h:7376", "image": "sequin/sequin:dev"}, {}, {})
    assert "--sequin-image (command line) only applies to --sequin-docker" in config.notes
    assert resolve_config({"docker": "yes", "image": "x:1"}, {}, {}).notes == ()
