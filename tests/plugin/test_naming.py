"""Names must be valid on a real Sequin, unique, and never collide in derived table names."""

from __future__ import annotations

import re

import pytest

from pytest_sequin.naming import (
    MAX_CONSUMER_NAME,
    MAX_STREAM_NAME,
    NameFactory,
    is_plugin_stream_name,
    new_run_token,
    slug,
    worker_code,
)
from pytest_sequin.server.relations import RelationRegistry, consumer_table

VALID = re.compile(r"[a-z0-9_]+")


def test_run_tokens_are_random_and_well_formed():
    tokens = {new_run_token() for _ in range(200)}
    assert len(tokens) == 200
    assert all(re.fullmatch(r"[a-z0-9]{5}", t) for t in tokens)


@pytest.mark.parametrize(
    ("worker", "code"), [(None, "m"), ("master", "m"), ("gw0", "0"), ("gw11", "b"), ("gw36", "10")]
)
def test_worker_code(worker, code):
    assert worker_code(worker) == code


def test_slug_makes_test_ids_readable():
    assert slug("test_Orders[a-b c]") == "test_orders_a_b_c"
    assert slug("TestX::test_y") == "testx_test_y"


def test_names_are_valid_bounded_and_carry_the_unique_part_first():
    names = NameFactory("abc12", "gw3")
    stream = names.stream_name("test_a_really_long_test_name_that_goes_on[param-1]")
    consumer = names.consumer_name("test_a_really_long_test_name")
    assert VALID.fullmatch(stream) and VALID.fullmatch(consumer)
    assert len(stream) <= MAX_STREAM_NAME and len(consumer) <= MAX_CONSUMER_NAME
    assert stream.startswith("pytest_abc12_3_1_test_a")
    assert consumer.startswith("c2_abc123_")
    assert names.belongs_to_run(stream)


def test_names_are_unique_across_workers_runs_and_calls():
    factories = [
        NameFactory(run, worker) for run in ("aaaaa", "aaaab") for worker in ("gw0", "gw1", "gw10", None)
    ]
    streams = [f.stream_name("test_x") for f in factories for _ in range(300)]
    consumers = [f.consumer_name("test_x") for f in factories for _ in range(300)]
    assert len(set(streams)) == len(streams)
    assert len(set(consumers)) == len(consumers)


def test_derived_table_names_never_collide():
    """Every consumer of every stream, as a real server would name their tables (§7.2)."""
    registry = RelationRegistry()
    factories = [NameFactory("run01", worker) for worker in ("gw0", "gw1", None)]
    for factory in factories:
        for _ in range(40):
            stream = factory.stream_name("test_with_a_long_name_to_be_cut")
            assert registry.create_stream_table(stream) is not None, stream
            for other in factories:  # consumers made by any worker on this stream
                for _ in range(5):
                    consumer = other.consumer_name("test_with_a_long_name")
                    assert registry.create_consumer_table(stream, consumer) is not None, consumer_table(
                        stream, consumer
                    )


@pytest.mark.parametrize("prefix", ["", "Pytest_", "my-prefix", "x" * 40])
def test_bad_prefixes_are_refused_with_a_reason(prefix):
    with pytest.raises(ValueError, match="prefix"):
        NameFactory("abcde", None, prefix)


def test_the_sweep_recognises_only_the_full_shape_of_plugin_names():
    names = NameFactory("abcde", "gw3", "ci_")
    made = [names.stream_name("test_Orders[a-b]"), names.stream_name(""), names.stream_name("x" * 60)]
    assert all(is_plugin_stream_name(name, "ci_") for name in made)
    assert not is_plugin_stream_name(made[0], "pytest_")  # another prefix
    foreign_names = ("ci_", "ci_settings", "ci_abcde", "ci_abcde_", "ci_abcde_3", "ci_abcd_3_1")
    for foreign in foreign_names:
        assert not is_plugin_stream_name(foreign, "ci_"), foreign
    assert not is_plugin_stream_name("anything_abcde_3_1", "")  # an empty prefix matches nothing


def test_custom_prefix_is_used_and_kept_short():
    names = NameFactory("abcde", None, "ci_")
    assert names.stream_name("test_x").startswith("ci_abcde_m_1_test_x")
