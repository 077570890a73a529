"""Model-based check of the delivery engine against a direct transcription of spec §4.

The engine keeps heaps, caches and an ordered dict for speed; the reference model below keeps
plain lists and recomputes everything from the spec's words on every call. Random operation
sequences (publish, receive, ack, nack, settings updates, clock moves, consumer creation) must
give identical answers from both. ack_ids are made deterministic on both sides, so they must
also be created in the same order.
"""

from __future__ import annotations

import itertools
import random
from typing import Any

import pytest

from pytest_sequin.server import Engine, ManualClock
from pytest_sequin.server import consumer as consumer_module
from pytest_sequin.server.errors import ApiError
from pytest_sequin.server.keys import filter_matches

RETENTION_US = 300_000_000
KEYS = ["a.x", "a.y", "b.x", "a.x.z", "c", "a"]
PATTERNS = [">", "a.*", "*.x", "a.>", "c"]


def _uuid(n: int) -> str:
    return f"00000000-0000-4000-8000-{n:012x}"


class RefConsumer:
    def __init__(self, cid: str, pattern: str, ack_wait_ms: int, max_ack_pending: int, now: int) -> None:
        self.id = cid
        self.pattern = pattern.split(".")
        self.ack_wait_ms = ack_wait_ms
        self.max_ack_pending = max_ack_pending
        self.bca: int | None = now
        self.rows: dict[str, dict[str, Any]] = {}

    def deletes(self, now: int) -> bool:
        return self.bca is not None and self.bca + RETENTION_US < now

    def purge(self, now: int) -> None:
        if self.deletes(now):
            self.rows = {k: r for k, r in self.rows.items() if r["state"] != "acked"}

    def by_ack_id(self, ack_id: str) -> dict[str, Any] | None:
        return next((r for r in self.rows.values() if r["ack_id"] == ack_id.lower()), None)


class Reference:
    """Spec §4, word for word, with no attempt at speed."""

    def __init__(self) -> None:
        self.counter = 0
        self.messages: dict[str, tuple[int, str]] = {}
        self.consumers: list[RefConsumer] = []
        self.ids = itertools.count(1)

    def new_row(self, key: str, seq: int) -> dict[str, Any]:
        return {
            "key": key,
            "ack_id": _uuid(next(self.ids)),
            "seq": seq,
            "state": "available",
            "nvu": None,
            "dc": 0,
            "ld": None,
        }

    def create_consumer(self, c: RefConsumer) -> None:
        for key, (seq, _) in sorted(self.messages.items(), key=lambda kv: kv[1][0]):
            if filter_matches(c.pattern, key.split(".")):
                c.rows[key] = self.new_row(key, seq)
        self.consumers.append(c)

    def publish(self, items: list[tuple[str, str]], now: int) -> int:
        written = []
        for key, data in reversed(items):
            self.counter += 1
            existing = self.messages.get(key)
            if existing is None:
                self.messages[key] = (self.counter, data)
            elif existing[1] == data:
                continue
            else:
                self.counter += 1
                self.messages[key] = (self.counter, data)
            written.append(key)
        for c in self.consumers:
            if c.bca is None:
                continue
            c.purge(now)
            for key in written:
                if not filter_matches(c.pattern, key.split(".")):
                    continue
                seq = self.messages[key][0]
                row = c.rows.get(key)
                if row is None:
                    c.rows[key] = self.new_row(key, seq)
                elif seq > row["seq"]:
                    row["seq"] = seq
                    if row["state"] in ("delivered", "pending_redelivery"):
                        row["state"] = "pending_redelivery"
                    elif row["state"] == "acked":
                        row["state"] = "available"
        return len(written)

    def receive(self, c: RefConsumer, batch: int, now: int) -> list[tuple[str, str, int, str]]:
        c.purge(now)
        if c.max_ack_pending < 0:
            raise ApiError(500, {})
        window = sorted(c.rows.values(), key=lambda r: r["seq"])[: c.max_ack_pending]
        ready = [
            r
            for r in window
            if r["state"] == "available"
            or (r["state"] in ("delivered", "pending_redelivery") and r["nvu"] <= now)
        ]
        out = []
        for r in ready[:batch]:
            r.update(state="delivered", dc=r["dc"] + 1, nvu=now + c.ack_wait_ms * 1000, ld=now)
            seq, data = self.messages[r["key"]]
            if seq == r["seq"]:
                out.append((r["ack_id"], r["key"], seq, data))
        return out

    def ack(self, c: RefConsumer, ack_ids: list[str], now: int) -> None:
        c.purge(now)
        for ack_id in ack_ids:
            r = c.by_ack_id(ack_id)
            if r is None:
                continue
            if r["state"] == "delivered":
                if c.deletes(now):
                    del c.rows[r["key"]]
                else:
                    r["state"] = "acked"
            elif r["state"] == "pending_redelivery":
                r.update(state="available", nvu=None)

    def nack(self, c: RefConsumer, ack_ids: list[str], now: int) -> None:
        c.purge(now)
        for ack_id in ack_ids:
            r = c.by_ack_id(ack_id)
            if r is not None and r["state"] != "acked":
                r.update(state="available", nvu=None)

    def info(self, c: RefConsumer, key: str, now: int) -> tuple[Any, ...]:
        c.purge(now)
        r = c.rows.get(key)
        if r is None:
            return ("acked" if c.deletes(now) else "available", None, None, None, None)
        if r["state"] == "acked":
            shown = "acked"
        elif r["state"] in ("delivered", "pending_redelivery") and r["nvu"] > now:
            shown = "pending"
        else:
            shown = "available"
        return (shown, r["ack_id"], r["dc"], r["ld"], r["nvu"])

    def peek(self, c: RefConsumer, now: int, visible: bool | None) -> list[tuple[Any, ...]]:
        c.purge(now)
        out = []
        for r in sorted(c.rows.values(), key=lambda r: r["seq"]):
            if r["state"] == "acked":
                continue
            in_flight = r["state"] in ("delivered", "pending_redelivery")
            if visible is True and in_flight and r["nvu"] > now:
                continue
            if visible is False and not (in_flight and r["nvu"] > now):
                continue
            hidden = in_flight and not r["nvu"] < now
            out.append(
                (
                    r["key"],
                    self.messages[r["key"]][0],
                    r["ack_id"],
                    r["dc"],
                    r["ld"],
                    r["nvu"] if hidden else None,
                    "delivered" if hidden else "available",
                )
            )
        return out


def _micros(stamp: str | None) -> int | None:
    if stamp is None:
        return None
    from datetime import datetime, timezone

    dt = datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=timezone.utc)
    return int(dt.timestamp()) * 1_000_000 + dt.microsecond


def _run(seed: int, monkeypatch: pytest.MonkeyPatch, steps: int = 80) -> None:
    rng = random.Random(seed)
    counter = itertools.count(1)
    monkeypatch.setattr(consumer_module, "new_uuid4", lambda: _uuid(next(counter)))
    monkeypatch.setattr(consumer_module, "new_uuid4_many", lambda n: [_uuid(next(counter)) for _ in range(n)])
    clock = ManualClock(frozen=True)
    engine = Engine(clock, seed_default_stream=False)
    engine.create_stream({"name": "s"})
    ref = Reference()
    pairs: list[tuple[str, RefConsumer]] = []
    known_ack_ids: list[str] = []

    def add_consumer() -> None:
        pattern = rng.choice(PATTERNS)
        wait = rng.choice([0, 1000, 5000])
        window = rng.choice([0, 1, 2, 3, 100])
        name = f"c{len(pairs)}"
        created = engine.create_consumer(
            "s", {"name": name, "filter_key_pattern": pattern, "ack_wait_ms": wait, "max_ack_pending": window}
        )
        model = RefConsumer(created["id"], pattern, wait, window, clock.now_us())
        ref.create_consumer(model)
        pairs.append((created["id"], model))

    def compare() -> None:
        now = clock.now_us()
        for cid, model in pairs:
            for visible in (None, True, False):
                params = (
                    {"limit": "10000"}
                    if visible is None
                    else {"limit": "10000", "visible": str(visible).lower()}
                )
                got = [
                    (
                        m.key,
                        m.seq,
                        i["ack_id"],
                        i["deliver_count"],
                        _micros(i["last_delivered_at"]),
                        _micros(i["not_visible_until"]),
                        i["state"],
                    )
                    for m, i in engine.peek("s", cid, params)
                ]
                assert got == ref.peek(model, now, visible), (seed, "peek", visible)
        for key in KEYS:
            try:
                _, infos = engine.message_consumer_info("s", key)
            except ApiError:
                assert key not in ref.messages
                continue
            by_id = {i["consumer_id"]: i for i in infos}
            for cid, model in pairs:
                if not filter_matches(model.pattern, key.split(".")):
                    assert cid not in by_id
                    continue
                i = by_id[cid]
                got = (
                    i["state"],
                    i["ack_id"],
                    i["deliver_count"],
                    _micros(i["last_delivered_at"]),
                    _micros(i["not_visible_until"]),
                )
                assert got == ref.info(model, key, now), (seed, "info", key)

    add_consumer()
    for _ in range(steps):
        op = rng.random()
        now = clock.now_us()
        if op < 0.25:
            keys = rng.sample(KEYS, rng.randint(0, 3))
            items = [(k, rng.choice("12")) for k in keys]
            got = engine.publish("s", {"messages": [{"key": k, "data": d} for k, d in items]})
            assert got == ref.publish(items, now), seed
        elif op < 0.5:
            cid, model = rng.choice(pairs)
            batch = rng.choice([1, 2, 10])
            try:
                got = [(a, m.key, m.seq, m.data) for a, m in engine.receive(cid, {"batch_size": batch})]
            except ApiError as exc:
                assert exc.status == 500
                with pytest.raises(ApiError):
                    ref.receive(model, batch, now)
                continue
            assert got == ref.receive(model, batch, now), seed
            known_ack_ids.extend(a for a, *_ in got)
        elif op < 0.62 and known_ack_ids:
            cid, model = rng.choice(pairs)
            ids = rng.sample(known_ack_ids, min(len(known_ack_ids), rng.randint(1, 3)))
            ids = [i.upper() if rng.random() < 0.2 else i for i in ids]
            engine.ack(cid, {"ack_ids": ids})
            ref.ack(model, ids, now)
        elif op < 0.72 and known_ack_ids:
            cid, model = rng.choice(pairs)
            ids = rng.sample(known_ack_ids, min(len(known_ack_ids), rng.randint(1, 3)))
            engine.nack(cid, {"ack_ids": ids})
            ref.nack(model, ids, now)
        elif op < 0.85:
            clock.advance(rng.choice([0.000001, 0.5, 1, 1.000001, 5, 60, 300, 301]))
        elif op < 0.9 and len(pairs) < 4:
            add_consumer()
        else:
            cid, model = rng.choice(pairs)
            change = rng.choice(["window", "wait", "bca_null", "bca_now", "bca_old"])
            if change == "window":
                value = rng.choice([-1, 0, 1, 2, 5, 100])
                engine.update_consumer("s", cid, {"max_ack_pending": value})
                model.max_ack_pending = value
            elif change == "wait":
                value = rng.choice([0, 1000, 5000])
                engine.update_consumer("s", cid, {"ack_wait_ms": value})
                model.ack_wait_ms = value
            else:
                stamp = {"bca_null": None, "bca_now": now, "bca_old": now - 400_000_000}[change]
                text = None
                if stamp is not None:
                    from pytest_sequin.server.models import format_micros

                    text = format_micros(stamp)
                engine.update_consumer("s", cid, {"backfill_completed_at": text})
                model.bca = stamp
        compare()


@pytest.mark.parametrize("seed", range(40))
def test_engine_matches_the_reference_model(seed, monkeypatch):
    _run(seed, monkeypatch)
