"""The max_ack_pending window's boundary is cached as a lower bound (consumer.py) and only made
exact when a row past it comes up. Differential check: the same random operations on an engine
whose boundary is always recomputed exactly deliver the same keys in the same order."""

from __future__ import annotations

import random

import pytest

from pytest_sequin.server import Engine, ManualClock
from pytest_sequin.server.consumer import Consumer


class _AlwaysExact(Consumer):
    def _window_boundary(self, exact: bool = True) -> int | None:
        return super()._window_boundary(exact=True)


def _engine(monkeypatch: pytest.MonkeyPatch | None) -> tuple[Engine, ManualClock]:
    clock = ManualClock(frozen=True)
    engine = Engine(clock, seed_default_stream=False)
    engine.create_stream({"name": "s"})
    if monkeypatch is not None:
        with monkeypatch.context() as patch:
            patch.setattr("pytest_sequin.server.engine.Consumer", _AlwaysExact)
            engine.create_consumer("s", {"name": "c", "filter_key_pattern": ">", "max_ack_pending": 7})
    else:
        engine.create_consumer("s", {"name": "c", "filter_key_pattern": ">", "max_ack_pending": 7})
    return engine, clock


@pytest.mark.parametrize("seed", range(12))
def test_cached_boundary_delivers_what_the_exact_one_does(monkeypatch, seed):
    rnd = random.Random(seed)
    engines = [_engine(None), _engine(monkeypatch)]
    assert type(engines[1][0].consumers_by_name["c"][0]) is _AlwaysExact
    pending: list[dict[str, str]] = [{}, {}]  # key -> ack id, per engine
    version = 0
    for _ in range(400):
        op = rnd.choice(["publish", "publish", "receive", "receive", "ack", "nack", "old", "window"])
        if op == "publish":
            version += 1
            keys = rnd.sample(range(30), rnd.randint(1, 5))
            batch = [{"key": f"k.{k}", "data": f"v{version}"} for k in keys]
        elif op == "receive":
            size = rnd.randint(1, 6)
        elif op in ("ack", "nack"):
            picks = rnd.random()
        elif op == "old":
            seconds = rnd.choice([1, 31, 400])
        else:
            window = rnd.randint(1, 12)
        results = []
        for index, (engine, clock) in enumerate(engines):
            if op == "publish":
                engine.publish("s", {"messages": batch})
            elif op == "receive":
                got = engine.receive("c", {"batch_size": size})
                pending[index].update({message.key: ack_id for ack_id, message in got})
                results.append([(message.key, message.seq) for _, message in got])
            elif op in ("ack", "nack"):
                keys = sorted(pending[index])[: int(len(pending[index]) * picks)]
                if keys:
                    ids = [pending[index].pop(key) for key in keys]
                    getattr(engine, op)("c", {"ack_ids": ids})
            elif op == "old":
                clock.advance(seconds)
            else:
                engine.update_consumer("s", "c", {"max_ack_pending": window})
        if results:
            assert results[0] == results[1]
