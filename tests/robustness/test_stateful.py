"""Differential test: random API sessions against the reference model and the embedded server.

A hypothesis ``RuleBasedStateMachine`` drives random sequences of publish (valid, unchanged,
NUL-stripped, bad keys, repeated keys), stream and consumer create/update/delete (with the
hidden ``backfill_completed_at``, status and kind), receive, ack,
nack (known, foreign, stale and malformed ids, odd UUID spellings, bad batch sizes), clock moves
(0, ack_wait_ms, 300 s, 301 s) and the read-only views (stream and consumer lists, message
listing, consumer_info, peek) against both :mod:`tests.robustness.model` and a
real :class:`EmbeddedSequinServer` spoken to over HTTP. Every answer is compared: status and
whole body. Generated ids are mapped from the server's to the model's in order of first
appearance (a bijection); timestamps and ``seq`` are compared exactly, which works because each
hypothesis example gets a fresh server on a frozen :class:`ManualClock` that the model mirrors.

After every step an invariant also peeks every live consumer, so state differences show up
at once rather than when a rule happens to look.

Sizes (``SEQUIN_ROBUSTNESS`` environment variable):

* default (CI): 60 examples of up to 30 steps, about 10 s;
* ``SEQUIN_ROBUSTNESS=long``: 1500 examples of up to 80 steps, about 10 minutes.

When a difference is found, hypothesis shrinks it to a short program (this can take up to its
5-minute shrink limit) and keeps it in ``.hypothesis/``, so the next run replays it first.
"""

from __future__ import annotations

import json
import os
import uuid
from typing import Any, Optional

import requests
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from pytest_sequin.server import EmbeddedSequinServer, ManualClock

from .model import AnyNonNegativeInt, Model, fmt_s, fmt_us

LONG = os.environ.get("SEQUIN_ROBUSTNESS", "").lower() == "long"

STREAMS = ["default", "s1", "s2", "s3"]
CONSUMERS = ["c1", "c2", "c3", "c4"]
KEYS = ["a", "a.b", "orders.new", "orders.x.y", "orders", "b"]
BAD_KEYS = ["", "a..b", ".a", "a b", "or*ders", "caf\u00e9", "tab\there", "nul\x00key"]
DATAS = ["", "1", "2", "hello", "x\x00y", "xy", "\x00"]
FILTERS = [">", "orders.*", "orders.>", "*", "a.b", "*.b", "a.>"]
KEY_PATTERNS = ["orders.*", "orders.>", "*", ">", "a.b", "*.new", "a.*", "orders.x.*", "*.*.*", "a.*.*"]
ODD_KEY_PATTERNS = ["", "a..b", ".a", "a.>.b", "a b", "x*", ".".join("a" * 16), ".".join("*" * 15) + ".>"]
ACK_WAITS: list[Any] = [None, None, None, 0, 1000, 2500, -1000, "2500", "", "abc", 1.0]
MAX_ACK_PENDINGS: list[Any] = [None, None, None, None, 0, 1, 2, 3, 4, -1, "3", " ", True, 2**31]


UPDATE_VALUES: list[Any] = [
    0,
    1,
    2,
    3,
    1000,
    2500,
    -1000,
    "",
    " ",
    "2",
    "+1",
    "abc",
    1.5,
    True,
    None,
    2**31,
    "zz",
]
ID_FORMS = ["lower"] * 6 + ["upper", "compact", "urn"]
ODD_BATCHES: list[Any] = [
    ("query", "0"),
    ("query", "1001"),
    ("query", "1000"),
    ("query", "+3"),
    ("query", "-1"),
    ("query", " 2"),
    ("query", "1e3"),
    ("query", ""),
    ("query", "abc"),
    ("body", 2.0),
    ("body", 2.5),
    ("body", True),
    ("body", None),
    ("body", [1]),
    ("body", {}),
    ("body", "4"),
    ("body", 0),
    ("body", 1001),
]
ODD_ACK_BODIES: list[Any] = [
    {},
    {"ack_ids": []},
    {"ack_ids": "x"},
    {"ack_ids": None},
    {"ack_ids": [""]},
    {"ack_ids": [123]},
    {"ack_ids": ["not-a-uuid"]},
    {"ack_ids": [str(uuid.UUID(int=7, version=1))]},
    {"ack_ids": [uuid.UUID(int=7, version=4).hex]},
    {"ack_ids": ["urn:uuid:" + str(uuid.UUID(int=7, version=4))]},
    {"ack_ids": [uuid.UUID(int=7, version=4).hex, "garbage"]},
    {"ack_ids": {"a": str(uuid.UUID(int=7, version=4))}},
]


def id_form(value: str, form: str) -> str:
    """One of the spellings of §2.2: usable (lower/upper case) or classified-but-unusable."""
    if form == "upper":
        return value.upper()
    if form == "compact":
        return value.replace("-", "")
    if form == "urn":
        return "urn:uuid:" + value
    return value


class IdMap:
    """A bijection between the model's minted ids and the server's generated ones."""

    def __init__(self) -> None:
        self.m2s: dict[str, str] = {}
        self.s2m: dict[str, str] = {}

    def bind(self, model_id: str, server_id: Any, where: str) -> None:
        assert isinstance(server_id, str), f"{where}: expected an id string, got {server_id!r}"
        if model_id in self.m2s:
            assert self.m2s[model_id] == server_id, (
                f"{where}: server id {server_id} where {self.m2s[model_id]} was seen before"
            )
        else:
            assert server_id not in self.s2m, f"{where}: server id {server_id} reused for a new entity"
            self.m2s[model_id] = server_id
            self.s2m[server_id] = model_id


def compare(expected: Any, actual: Any, ids: IdMap, model_ids: set[str], where: str = "body") -> None:
    if isinstance(expected, AnyNonNegativeInt):
        assert type(actual) is int and actual >= 0, f"{where}: {actual!r} is not an int >= 0"
    elif isinstance(expected, str) and expected in model_ids:
        ids.bind(expected, actual, where)
    elif isinstance(expected, dict):
        assert isinstance(actual, dict), f"{where}: expected an object, got {actual!r}"
        assert set(expected) == set(actual), f"{where}: keys {sorted(actual)} != {sorted(expected)}"
        for k in expected:
            compare(expected[k], actual[k], ids, model_ids, f"{where}.{k}")
    elif isinstance(expected, list):
        assert isinstance(actual, list), f"{where}: expected a list, got {actual!r}"
        assert len(expected) == len(actual), (
            f"{where}: {len(actual)} items, expected {len(expected)}:\n  server {actual!r}\n"
            f"  model {expected!r}"
        )
        for i, (e, a) in enumerate(zip(expected, actual)):
            compare(e, a, ids, model_ids, f"{where}[{i}]")
    else:
        assert type(expected) is type(actual) and expected == actual, (
            f"{where}: server {actual!r} != model {expected!r}"
        )


def collect_ack_ids(body: Any, out: list[str]) -> None:
    if isinstance(body, dict):
        for k, v in body.items():
            if k == "ack_id" and isinstance(v, str) and v not in out:
                out.append(v)
            else:
                collect_ack_ids(v, out)
    elif isinstance(body, list):
        for v in body:
            collect_ack_ids(v, out)


class SequinMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.clock = ManualClock(frozen=True)
        self.server = EmbeddedSequinServer(clock=self.clock).start()
        self.base = self.server.url
        self.http = requests.Session()
        self.http.trust_env = False
        self.http.headers["Accept"] = "application/json"
        self.model = Model(self.clock.now_us())
        self.ids = IdMap()
        self.ack_ids: list[str] = []  # model ack ids seen in any answer
        self.consumer_ids: list[str] = []  # model consumer ids seen in any answer

    def teardown(self) -> None:
        self.http.close()
        self.server.stop()

    # -- plumbing --------------------------------------------------------------------------

    def to_server(self, model_id: str) -> str:
        return self.ids.m2s[model_id]

    def request(self, method: str, path: str, **kwargs: Any) -> tuple[int, str, str]:
        """One HTTP exchange, keeping no reference to the response: a failing example's
        traceback would otherwise keep its connection pool, and a socket, alive while
        hypothesis shrinks (urllib3 2.x closes pooled sockets only when the pool is collected)."""
        with self.http.request(method, self.base + path, timeout=10, **kwargs) as answer:
            return answer.status_code, answer.headers.get("content-type", ""), answer.text

    def call(self, method: str, path: str, expected: tuple[int, Any], **kwargs: Any) -> Any:
        code, content_type, text = self.request(method, path, **kwargs)
        status, body = expected
        assert code == status, f"{method} {path} {kwargs}: server {code} {text}, model {status} {body}"
        assert content_type == "application/json; charset=utf-8", content_type
        got = json.loads(text)
        try:
            compare(body, got, self.ids, self.model.ids)
        except AssertionError as exc:
            raise AssertionError(f"{method} {path} {kwargs}:\n{exc}\nserver: {got}\nmodel: {body}") from None
        collect_ack_ids(body, self.ack_ids)
        is_consumer = status == 200 and isinstance(body, dict) and "filter_key_pattern" in body
        if is_consumer and body["id"] not in self.consumer_ids:
            self.consumer_ids.append(body["id"])
        return body

    def stream_name(self, data: st.DataObject) -> str:
        """Mostly a stream that exists; sometimes any name of the pool."""
        live = [s.name for s in self.model.streams]
        if live and data.draw(st.integers(0, 9), label="pick live stream") < 8:
            return data.draw(st.sampled_from(live), label="stream")
        return data.draw(st.sampled_from(STREAMS), label="stream")

    def consumer_ref(self, data: st.DataObject) -> tuple[str, str]:
        """(model ref, server ref): by name or by id, mostly of a live consumer."""
        return self.consumer_and_stream(data)[:2]

    def consumer_and_stream(self, data: st.DataObject) -> tuple[str, str, str]:
        """(model ref, server ref, stream): mostly a live consumer and, mostly, its own stream."""
        live = [c for c in self.model.consumers if c.id in self.ids.m2s]
        roll = data.draw(st.integers(0, 9), label="pick consumer")
        stream = None
        if live and roll < 7:
            consumer = data.draw(st.sampled_from(live), label="consumer")
            model_id, name, stream = consumer.id, consumer.name, consumer.stream.name
        elif self.consumer_ids and roll < 8:
            model_id = data.draw(st.sampled_from(self.consumer_ids), label="old consumer")
            name = data.draw(st.sampled_from(CONSUMERS), label="consumer name")
        else:
            name = data.draw(st.sampled_from(CONSUMERS), label="consumer name")
            model_id = None
        if stream is None or data.draw(st.integers(0, 9), label="other stream") == 0:
            stream = self.stream_name(data)
        if model_id is None or data.draw(st.booleans(), label="by name"):
            return name, name, stream
        form = data.draw(st.sampled_from(ID_FORMS), label="id form")
        return id_form(model_id, form), id_form(self.to_server(model_id), form), stream

    def ack_ids_for(self, data: st.DataObject, pool: list[str]) -> tuple[list[str], list[str]]:
        """Some known ack ids (any consumer's), maybe a stale one, maybe upper-cased."""
        picked = data.draw(st.lists(st.sampled_from(pool), max_size=3), label="ack ids") if pool else []
        model_ids = list(picked)
        server_ids = [self.to_server(i) for i in picked]
        if not picked or data.draw(st.integers(0, 4), label="stale id") == 0:
            stale = str(uuid.UUID(int=data.draw(st.integers(0, 2**64), label="stale"), version=4))
            model_ids.append(stale)
            server_ids.append(stale)
        if data.draw(st.integers(0, 4), label="upper case") == 0:
            model_ids = [i.upper() for i in model_ids]
            server_ids = [i.upper() for i in server_ids]
        return model_ids, server_ids

    def settle(self, verb: str, model_ref: str, server_ref: str, model_ids: list, server_ids: list) -> None:
        act = self.model.ack if verb == "ack" else self.model.nack
        self.call(
            "POST",
            f"/api/streams/anything/consumers/{server_ref}/{verb}",
            act(model_ref, {"ack_ids": model_ids}),
            json={"ack_ids": server_ids},
        )

    # -- set-up ----------------------------------------------------------------------------

    @initialize(
        more_streams=st.sets(st.sampled_from(["s2", "s3"]), max_size=1),
        consumers=st.lists(
            st.tuples(
                st.sampled_from(["default", "default", "s1"]),
                st.sampled_from(FILTERS),
                st.sampled_from(ACK_WAITS),
                st.sampled_from(MAX_ACK_PENDINGS),
            ),
            min_size=1,
            max_size=3,
        ),
        batch=st.lists(
            st.tuples(st.sampled_from(KEYS), st.sampled_from(DATAS)),
            min_size=1,
            max_size=5,
            unique_by=lambda kd: kd[0],
        ),
        publish_first=st.booleans(),
    )
    def set_up(
        self,
        more_streams: set[str],
        consumers: list[tuple[str, str, Any, Any]],
        batch: list[tuple[str, str]],
        publish_first: bool,
    ) -> None:
        """Every run starts with streams, consumers and messages, so the rules do something."""
        for name in ["s1", *sorted(more_streams)]:
            self.call("POST", "/api/streams", self.model.create_stream({"name": name}), json={"name": name})
        steps = ["publish", "consumers"] if publish_first else ["consumers", "publish"]
        for step in steps:
            if step == "publish":
                body = {"messages": [{"key": k, "data": d} for k, d in batch]}
                self.call(
                    "POST", "/api/streams/default/messages", self.model.publish("default", body), json=body
                )
                continue
            for i, (stream, pattern, ack_wait, max_pending) in enumerate(consumers):
                body = {"name": CONSUMERS[i], "filter_key_pattern": pattern}
                if ack_wait is not None:
                    body["ack_wait_ms"] = ack_wait
                if max_pending is not None:
                    body["max_ack_pending"] = max_pending
                expected = self.model.create_consumer(stream, body)
                self.call("POST", f"/api/streams/{stream}/consumers", expected, json=body)

    # -- streams ---------------------------------------------------------------------------

    @rule(name=st.sampled_from(STREAMS), delete=st.sampled_from([False, False, True]))
    def stream_lifecycle(self, name: str, delete: bool) -> None:
        if delete:
            self.call("DELETE", f"/api/streams/{name}", self.model.delete_stream(name))
        else:
            self.call("POST", "/api/streams", self.model.create_stream({"name": name}), json={"name": name})

    # -- publish -------------------------------------------------------------------------------

    @rule(
        batch=st.lists(
            st.tuples(st.sampled_from(KEYS), st.sampled_from(DATAS)), max_size=5, unique_by=lambda kd: kd[0]
        ),
        data=st.data(),
    )
    def publish(self, batch: list[tuple[str, str]], data: st.DataObject) -> None:
        """Mostly to a stream with consumers, mostly re-publishing keys it already holds."""
        homes = [c.stream for c in self.model.consumers]
        if homes and data.draw(st.integers(0, 9), label="consumed stream") < 7:
            home = data.draw(st.sampled_from(homes), label="stream")
            stream = home.name
            held = sorted(m.key for m in home.messages)
            if held and data.draw(st.booleans(), label="re-publish"):
                keys = data.draw(st.lists(st.sampled_from(held), min_size=1, max_size=3, unique=True))
                batch = [(k, data.draw(st.sampled_from(DATAS), label=f"data of {k}")) for k in keys]
        else:
            stream = self.stream_name(data)
        body = {"messages": [{"key": k, "data": d} for k, d in batch]}
        self.call("POST", f"/api/streams/{stream}/messages", self.model.publish(stream, body), json=body)

    @rule(
        batch=st.lists(
            st.tuples(st.sampled_from(KEYS + BAD_KEYS), st.sampled_from(DATAS)), min_size=1, max_size=4
        ),
        data=st.data(),
    )
    def publish_maybe_invalid(self, batch: list[tuple[str, str]], data: st.DataObject) -> None:
        """Bad keys and repeated keys: 400s and the documented 500s, all or nothing."""
        stream = self.stream_name(data)
        body = {"messages": [{"key": k, "data": d} for k, d in batch]}
        self.call("POST", f"/api/streams/{stream}/messages", self.model.publish(stream, body), json=body)

    # -- consumers -------------------------------------------------------------------------

    @rule(
        name=st.sampled_from(CONSUMERS),
        pattern=st.sampled_from(FILTERS),
        ack_wait=st.sampled_from(ACK_WAITS),
        max_pending=st.sampled_from(MAX_ACK_PENDINGS),
        data=st.data(),
    )
    def create_consumer(
        self,
        name: str,
        pattern: str,
        ack_wait: Any,
        max_pending: Any,
        data: st.DataObject,
    ) -> None:
        stream = self.stream_name(data)
        body: dict[str, Any] = {"name": name, "filter_key_pattern": pattern, "kind": "pull"}
        backfill = data.draw(st.sampled_from([None] * 6 + ["old", "bad"]), label="backfill_completed_at")
        if backfill is not None:  # cast (a bad one is a 422), then overwritten by the backfill
            body["backfill_completed_at"] = "2001-01-01T00:00:00Z" if backfill == "old" else "soon"
        if ack_wait is not None:
            body["ack_wait_ms"] = ack_wait
        if max_pending is not None:
            body["max_ack_pending"] = max_pending
        self.call(
            "POST", f"/api/streams/{stream}/consumers", self.model.create_consumer(stream, body), json=body
        )

    @rule(
        how=st.sampled_from(["PUT", "PATCH", "POST"]),
        fields=st.dictionaries(
            st.sampled_from(["ack_wait_ms", "max_ack_pending", "max_waiting", "max_deliver", "name"]),
            st.sampled_from(UPDATE_VALUES),
            max_size=3,
        ),
        data=st.data(),
    )
    def update_consumer(self, how: str, fields: dict[str, Any], data: st.DataObject) -> None:
        """§3.5d: partial update of the settings (future receives only); name etc. ignored."""
        model_ref, server_ref, stream = self.consumer_and_stream(data)
        expected = self.model.update_consumer(stream, model_ref, fields)
        path = f"/api/streams/{stream}/consumers/{server_ref}"
        if how == "POST":  # §0 method override
            self.call("POST", path, expected, json={**fields, "_method": "patch"})
        else:
            self.call(how, path, expected, json=fields)

    @rule(
        by=st.sampled_from(["name", "id", "id", "upper"]),
        own_stream=st.sampled_from([True, True, True, False]),
        data=st.data(),
    )
    def delete_consumer(self, by: str, own_stream: bool, data: st.DataObject) -> None:
        """§3.5e/§4.10: a consumer and all its rows go; a new one of the same name starts over
        (new ack ids, backfill again). On another stream it is the consumer 404."""
        live = [c for c in self.model.consumers if c.id in self.ids.m2s]
        if not live:
            return
        consumer = data.draw(st.sampled_from(live), label="consumer")
        stream = consumer.stream.name if own_stream else self.stream_name(data)
        model_ref, server_ref = consumer.name, consumer.name
        if by != "name":
            model_ref, server_ref = consumer.id, self.to_server(consumer.id)
        if by == "upper":
            model_ref, server_ref = model_ref.upper(), server_ref.upper()
        expected = self.model.delete_consumer(stream, model_ref)
        self.call("DELETE", f"/api/streams/{stream}/consumers/{server_ref}", expected)

    @rule(
        field=st.sampled_from(["backfill_completed_at"] * 3 + ["status", "kind"]),
        value=st.sampled_from(["now", "now", "past", "future", "null", "blank", "seconds", "bad"]),
        enum=st.sampled_from(["active", "disabled", "pull", "push", "", None, "PULL"]),
        data=st.data(),
    )
    def update_hidden_or_enum(self, field: str, value: str, enum: Any, data: st.DataObject) -> None:
        """§7.4: backfill_completed_at is writable. Null stops fan-out and ack deletion (so a
        later receive can mark a stale row delivered without returning it, §4.1 step 5); a time
        more than 5 minutes ago makes acks delete rows and purges the kept ones; a recent time
        restarts the retention. Also status/kind, which change nothing for pull receive."""
        model_ref, server_ref, stream = self.consumer_and_stream(data)
        if field == "backfill_completed_at":
            moments = {"now": 0, "past": -301_000_000, "future": 60_000_000}
            if value in moments:
                body: dict[str, Any] = {field: fmt_us(self.model.now + moments[value])}
            elif value == "seconds":
                body = {field: fmt_s(self.model.now - 400_000_000)}
            else:
                body = {field: {"null": None, "blank": "  ", "bad": "yesterday"}[value]}
        else:
            body = {field: enum}
        expected = self.model.update_consumer(stream, model_ref, body)
        self.call("PUT", f"/api/streams/{stream}/consumers/{server_ref}", expected, json=body)

    # -- receive / ack / nack ----------------------------------------------------------------

    @rule(
        segment=st.sampled_from(STREAMS + ["no_such_stream"]),
        batch=st.one_of(st.none(), st.integers(1, 5)),
        how=st.sampled_from(["query", "body"]),
        then=st.sampled_from(["nothing", "nothing", "ack", "ack", "nack"]),
        data=st.data(),
    )
    def receive(self, segment: str, batch: Optional[int], how: str, then: str, data: st.DataObject) -> None:
        """A worker step: receive, then maybe ack or nack some of what came back."""
        model_ref, server_ref = self.consumer_ref(data)
        path = f"/api/streams/{segment}/consumers/{server_ref}/receive"
        if batch is None:
            body = self.call("GET", path, self.model.receive(model_ref, {}))
        elif how == "query":
            expected = self.model.receive(model_ref, {"batch_size": str(batch)})
            body = self.call("GET", path, expected, params={"batch_size": str(batch)})
        else:
            expected = self.model.receive(model_ref, {"batch_size": batch})
            body = self.call("POST", path, expected, json={"batch_size": batch})
        received = [item["ack_id"] for item in body.get("data", [])] if isinstance(body, dict) else []
        if then != "nothing" and received:
            picked = data.draw(st.lists(st.sampled_from(received), min_size=1, unique=True), label="settle")
            self.settle(then, model_ref, server_ref, picked, [self.to_server(i) for i in picked])

    @rule(
        batch=st.integers(1, 5),
        settle=st.sampled_from(["ack", "nack", "none"]),
        data=st.data(),
    )
    def deliver_then_change(self, batch: int, settle: str, data: st.DataObject) -> None:
        """Receive from a live consumer, re-publish some of what it holds (delivered rows become
        pending_redelivery, acked ones available again), then ack/nack what was received: the
        stale ack of a changed row (§4.4), the nack of one (§4.6), and the fan-out table (§4.7)."""
        live = [c for c in self.model.consumers if c.id in self.ids.m2s]
        if not live:
            return
        consumer = data.draw(st.sampled_from(live), label="consumer")
        server_ref = self.to_server(consumer.id)
        body = self.call(
            "GET",
            f"/api/streams/x/consumers/{server_ref}/receive",
            self.model.receive(consumer.id, {"batch_size": str(batch)}),
            params={"batch_size": str(batch)},
        )
        received = [item["ack_id"] for item in body.get("data", [])]
        held = sorted(r.key for r in consumer.rows)
        if held:
            keys = data.draw(
                st.lists(st.sampled_from(held), min_size=1, max_size=3, unique=True), label="keys"
            )
            batch_ = [{"key": k, "data": data.draw(st.sampled_from(DATAS), label=k)} for k in keys]
            stream = consumer.stream.name
            published = {"messages": batch_}
            expected = self.model.publish(stream, published)
            self.call("POST", f"/api/streams/{stream}/messages", expected, json=published)
        if received and settle != "none":
            picked = data.draw(st.lists(st.sampled_from(received), min_size=1, unique=True), label="settle")
            self.settle(settle, consumer.id, server_ref, picked, [self.to_server(i) for i in picked])

    @rule(data=st.data())
    def drain_window(self, data: st.DataObject) -> None:
        """Receive and ack everything a live consumer hands out, a few rounds: with a small
        max_ack_pending the kept acked rows fill the window and receive stalls (§4.2)."""
        live = [c for c in self.model.consumers if c.id in self.ids.m2s]
        if not live:
            return
        consumer = data.draw(st.sampled_from(live), label="consumer")
        server_ref = self.to_server(consumer.id)
        for _ in range(data.draw(st.integers(1, 3), label="rounds")):
            body = self.call(
                "POST",
                f"/api/streams/x/consumers/{server_ref}/receive",
                self.model.receive(consumer.id, {"batch_size": 5}),
                json={"batch_size": 5},
            )
            received = [item["ack_id"] for item in body.get("data", [])]
            if not received:
                break
            self.settle("ack", consumer.id, server_ref, received, [self.to_server(i) for i in received])

    @rule(
        odd=st.sampled_from(ODD_BATCHES),
        wait_for=st.sampled_from([None, None, "", "1000"]),
        data=st.data(),
    )
    def receive_odd_params(self, odd: tuple[str, Any], wait_for: Optional[str], data: st.DataObject) -> None:
        """§3.7a parameter checks: batch_size range and types (400 or 500), then wait_for."""
        model_ref, server_ref = self.consumer_ref(data)
        where, value = odd
        params: dict[str, Any] = {"batch_size": value}
        query = {"wait_for": wait_for} if wait_for is not None else {}
        if wait_for is not None:
            params["wait_for"] = wait_for
        path = f"/api/streams/default/consumers/{server_ref}/receive"
        expected = self.model.receive(model_ref, params)
        if where == "query":
            self.call("GET", path, expected, params={"batch_size": value, **query})
        else:
            self.call("POST", path, expected, params=query, json={"batch_size": value})

    @rule(verb=st.sampled_from(["ack", "nack"]), body=st.sampled_from(ODD_ACK_BODIES), data=st.data())
    def settle_odd_body(self, verb: str, body: dict[str, Any], data: st.DataObject) -> None:
        """§3.7b/c: malformed ack_ids lists (400 summary, or framework 400 for odd UUID forms)."""
        model_ref, server_ref = self.consumer_ref(data)
        act = self.model.ack if verb == "ack" else self.model.nack
        self.call("POST", f"/api/streams/s1/consumers/{server_ref}/{verb}", act(model_ref, body), json=body)

    @rule(verb=st.sampled_from(["ack", "nack"]), data=st.data())
    def ack_or_nack(self, verb: str, data: st.DataObject) -> None:
        """Acks and nacks of any ids seen so far (stale, foreign, already acked) and unknown ids."""
        model_ref, server_ref = self.consumer_ref(data)
        model_ids, server_ids = self.ack_ids_for(data, self.ack_ids)
        self.settle(verb, model_ref, server_ref, model_ids, server_ids)

    # -- time ------------------------------------------------------------------------------

    @rule(what=st.sampled_from(["0", "0.5", "1", "2.5", "ack_wait", "300", "301"]), data=st.data())
    def advance_clock(self, what: str, data: st.DataObject) -> None:
        if what == "ack_wait":
            waits = sorted({c.ack_wait_ms for c in self.model.consumers if c.ack_wait_ms >= 0})
            ms = data.draw(st.sampled_from(waits), label="ack_wait_ms") if waits else 1000
            micros = ms * 1000
        else:
            micros = round(float(what) * 1_000_000)
        self.model.advance(micros)
        code, _, text = self.request(
            "POST", "/_pytest_sequin/clock/advance", json={"seconds": micros / 1_000_000}
        )
        assert code == 200, text
        assert self.clock.now_us() == self.model.now

    # -- read-only views -----------------------------------------------------------------------

    @rule(
        view=st.sampled_from(
            ["peek", "consumer_info", "consumer_info", "list_messages", "streams", "consumers"]
        ),
        key=st.sampled_from(KEYS),
        visible=st.sampled_from([None, "true", "false"]),
        sort=st.sampled_from([None, "seq_asc", "seq_desc"]),
        limit=st.sampled_from([None, None, "1", "3"]),
        pattern=st.one_of(
            st.none(), st.none(), st.sampled_from(KEY_PATTERNS), st.sampled_from(ODD_KEY_PATTERNS)
        ),
        data=st.data(),
    )
    def observe(
        self,
        view: str,
        key: str,
        visible: Optional[str],
        sort: Optional[str],
        limit: Optional[str],
        pattern: Optional[str],
        data: st.DataObject,
    ) -> None:
        stream = self.stream_name(data)
        params = {"sort": sort, "limit": limit, "key_pattern": pattern}
        if view == "peek":
            params["visible"] = visible
            params = {k: v for k, v in params.items() if v is not None}
            model_ref, server_ref, stream = self.consumer_and_stream(data)
            self.call(
                "GET",
                f"/api/streams/{stream}/consumers/{server_ref}/messages",
                self.model.peek(stream, model_ref, params),
                params=params,
            )
        elif view == "consumer_info":
            # every key the stream holds, plus one it may not hold
            known = sorted(m.key for s in self.model.streams if s.name == stream for m in s.messages)
            for k in [*known, key] if key not in known else known:
                path = f"/api/streams/{stream}/messages/{k}"
                self.call("GET", f"{path}/consumer_info", self.model.consumer_info(stream, k))
                self.call("GET", path, self.model.get_message(stream, k))
        elif view == "list_messages":
            params = {k: v for k, v in params.items() if v is not None}
            self.call(
                "GET",
                f"/api/streams/{stream}/messages",
                self.model.list_messages(stream, params),
                params=params,
            )
        elif view == "streams":
            self.call("GET", "/api/streams", self.model.list_streams())
            self.call("GET", f"/api/streams/{stream}", self.model.get_stream(stream))
        else:
            self.call("GET", f"/api/streams/{stream}/consumers", self.model.list_consumers(stream))
            model_ref, server_ref, stream = self.consumer_and_stream(data)
            self.call(
                "GET",
                f"/api/streams/{stream}/consumers/{server_ref}",
                self.model.get_consumer(stream, model_ref),
            )

    @invariant()
    def clocks_agree(self) -> None:
        assert self.clock.now_us() == self.model.now

    @invariant()
    def every_consumer_peeks_the_same(self) -> None:
        """After every step, the full peek of every live consumer agrees (peek changes nothing)."""
        for consumer in list(self.model.consumers):
            if consumer.id not in self.ids.m2s:
                continue
            stream_id = self.to_server(consumer.stream.id)
            expected = self.model.peek(consumer.stream.id, consumer.id, {})
            self.call(
                "GET", f"/api/streams/{stream_id}/consumers/{self.to_server(consumer.id)}/messages", expected
            )


TestSequinStateful = SequinMachine.TestCase
TestSequinStateful.settings = settings(
    max_examples=1500 if LONG else 60,
    stateful_step_count=80 if LONG else 30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)


def test_model_numbering_example() -> None:
    """§4.7's worked example, as a sanity check of the model itself."""
    model = Model(0)
    assert (
        model.publish("default", {"messages": [{"key": "a", "data": "1"}, {"key": "b", "data": "1"}]})[0]
        == 200
    )
    seqs = {m.key: m.seq for m in model.streams[0].messages}
    assert seqs == {"b": 1, "a": 2}
    model.publish("default", {"messages": [{"key": "a", "data": "1"}, {"key": "b", "data": "2"}]})
    seqs = {m.key: m.seq for m in model.streams[0].messages}
    assert seqs == {"b": 4, "a": 2}  # b: counter 3 consumed, 4 used; a: 5 lost


def test_model_against_the_spec_tables() -> None:
    """The model's helpers reproduce the spec's own examples (§2.4a, §2.4b, §6.3)."""
    from .model import data_hash, filter_matches, key_pattern_matches

    table = [
        ("orders.*", ["orders.new", "orders.update"], ["orders", "orders.new.priority"]),
        ("orders.>", ["orders.new", "orders.new.priority"], ["orders"]),
        ("*", ["a", "orders"], ["a.b"]),
        (">", ["a", "a.b.c"], []),
        ("a.*.c.>", ["a.b.c.d.e"], ["a.b.c"]),
        ("*.b.*", ["a.b.c"], ["a.b"]),
        ("a.b.c", ["a.b.c"], ["a.b.d", "a.b.c.d"]),
    ]
    for pattern, yes, no in table:
        assert all(filter_matches(pattern, k) for k in yes), pattern
        assert not any(filter_matches(pattern, k) for k in no), pattern
    assert key_pattern_matches("orders.*", "orders")
    assert all(key_pattern_matches("a.*.*", k) for k in ("a", "a.b", "a.b.c"))
    assert not key_pattern_matches("a.*.*", "a.b.c.d")
    assert not key_pattern_matches("a.b.>", "a.b") and key_pattern_matches("a.b.>", "a.b.c.d")
    assert not key_pattern_matches("*.new", "orders") and key_pattern_matches("*.new", "x.new")
    assert data_hash("") == "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="
