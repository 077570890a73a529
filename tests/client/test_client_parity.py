"""Side by side with sequin-py 0.1.0: same scenario, same (result, error) results.

Generated values are normalised before comparing: ids and ack ids become ``<id N>`` in order of
first appearance (so "the same ack id comes back" is still checked), timestamps ``<ts>``, seqs
``<seq N>`` in order of first appearance, ``storage_size`` ``<size>``, and the per-run stream and
consumer names their role. Receive batches are compared in ascending seq, the only order promised.
"""

from __future__ import annotations

import math
import re
from typing import Any, Callable, Dict, List, Tuple

import pytest
from sequin.client import Client as SdkClient

from pytest_sequin.client import Client

UUID_RE = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
TS_RE = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z")
SEQ_TEXT_RE = re.compile(r"'seq': (\d+)")
UNKNOWN_ACK_ID = "07240856-96cb-4305-9b2f-620f4b1528a4"

Step = Tuple[str, Any]


class Normaliser:
    def __init__(self, names: Dict[str, str]) -> None:
        self.names = names
        self.ids: Dict[str, str] = {}
        self.seqs: Dict[int, str] = {}

    def _id(self, value: str) -> str:
        return self.ids.setdefault(value.lower(), f"<id {len(self.ids)}>")

    def _seq(self, value: int) -> str:
        return self.seqs.setdefault(value, f"<seq {len(self.seqs)}>")

    def text(self, value: str) -> str:
        for name, role in self.names.items():
            value = value.replace(name, role)
        value = UUID_RE.sub(lambda m: self._id(m.group()), value)
        value = TS_RE.sub("<ts>", value)
        return SEQ_TEXT_RE.sub(lambda m: f"'seq': {self._seq(int(m.group(1)))}", value)

    def __call__(self, value: Any, key: str = "") -> Any:
        if isinstance(value, dict):
            return {k: self(v, k) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            items = list(value)
            if items and all(isinstance(i, dict) and isinstance(i.get("message"), dict) for i in items):
                items.sort(key=lambda i: i["message"]["seq"])
            out = [self(i) for i in items]
            return tuple(out) if isinstance(value, tuple) else out
        if key == "seq" and isinstance(value, int):
            return self._seq(value)
        if key == "storage_size":
            return "<size>"
        if isinstance(value, str):
            return self.names.get(value) or self.text(value)
        return value


def full_scenario(c: Any, stream: str, consumer: str, other: str, missing: str) -> List[Step]:
    """Every SDK method, success and error paths, in one deterministic story."""
    steps: List[Step] = []

    def step(label: str, pair: Any) -> Any:
        steps.append((label, pair))
        return pair[0]

    step("create stream", c.create_stream(stream, {"one_message_per_key": True}))
    step("create stream again", c.create_stream(stream))
    step("create stream bad name", c.create_stream("bad-name"))
    step("create consumer", c.create_consumer(stream, consumer, "test.>"))
    step("create consumer again", c.create_consumer(stream, consumer, "test.>"))
    step("create consumer missing stream", c.create_consumer(missing, consumer, "test.>"))
    step("send", c.send_message(stream, "test.1", "Hello, Sequin!"))
    step("send unchanged", c.send_message(stream, "test.1", "Hello, Sequin!"))
    batch = [
        {"key": "test.2", "data": "two"},
        {"key": "test.3", "data": "three"},
        {"key": "other.1", "data": "not for test.>"},
    ]
    step("send batch", c.send_messages(stream, batch))
    step("send empty batch", c.send_messages(stream, []))
    step("send non-string data", c.send_message(stream, "test.9", {"a": 1}))
    step("send non-string key", c.send_message(stream, 9, "x"))
    step("send bad key", c.send_message(stream, "bad key", "x"))
    step("send bad batch", c.send_messages(stream, "nope"))
    step("send missing stream", c.send_message(missing, "test.1", "x"))
    step("send nan", c.send_message(stream, "test.1", math.nan))
    first = step("receive one", c.receive_message(stream, consumer))
    rest = step("receive default batch", c.receive_messages(stream, consumer))
    step("receive nothing left", c.receive_message(stream, consumer))
    step("receive batch nothing left", c.receive_messages(stream, consumer, {"batch_size": 3}))
    step("receive bad batch size", c.receive_messages(stream, consumer, {"batch_size": 0}))
    # Passed through as text, like the SDK's f-string: None is "None" (a 400), not "not sent".
    step("receive batch size None", c.receive_messages(stream, consumer, {"batch_size": None}))
    step("receive batch size True", c.receive_messages(stream, consumer, {"batch_size": True}))
    step("receive batch size text", c.receive_messages(stream, consumer, {"batch_size": "3"}))
    step("receive missing consumer", c.receive_messages(stream, missing))
    step("receive one missing consumer", c.receive_message(stream, missing))
    step("nack one", c.nack_message(stream, consumer, first["ack_id"]))
    again = step("receive after nack", c.receive_messages(stream, consumer, {"batch_size": 5}))
    ids = [first["ack_id"]] + [item["ack_id"] for item in rest]
    step("nack many", c.nack_messages(stream, consumer, ids[1:]))
    step("receive after nack many", c.receive_messages(stream, consumer, {"batch_size": 5}))
    step("ack one", c.ack_message(stream, consumer, again[0]["ack_id"]))
    step("ack many", c.ack_messages(stream, consumer, ids))
    step("ack unknown id", c.ack_message(stream, consumer, UNKNOWN_ACK_ID))
    step("ack empty", c.ack_messages(stream, consumer, []))
    step("ack invalid", c.ack_message(stream, consumer, "not-a-uuid"))
    step("nack invalid", c.nack_messages(stream, consumer, ["x"]))
    step("ack missing consumer", c.ack_message(stream, missing, UNKNOWN_ACK_ID))
    step("nack missing consumer", c.nack_message(stream, missing, UNKNOWN_ACK_ID))
    step("re-publish changed", c.send_message(stream, "test.1", "Changed"))
    step("receive re-published", c.receive_message(stream, consumer))
    step("create second consumer", c.create_consumer(stream, other, "other.*", {"ack_wait_ms": 1000}))
    step("second consumer backfill", c.receive_messages(stream, other, {"batch_size": 10}))
    step("delete second consumer", c.delete_consumer(stream, other))
    step("delete second consumer again", c.delete_consumer(stream, other))
    step("delete consumer", c.delete_consumer(stream, consumer))
    step("delete consumer missing stream", c.delete_consumer(missing, consumer))
    step("delete stream", c.delete_stream(stream))
    step("delete stream again", c.delete_stream(stream))
    return steps


def run_side_by_side(
    scenario: Callable[..., List[Step]], sequin_base_url: str, unique: Callable[[str], str], roles: List[str]
) -> Tuple[List[Step], List[Step]]:
    results = []
    for client in (SdkClient(sequin_base_url), Client(sequin_base_url)):
        names = {unique(role.strip("<>")[:1] or "n"): role for role in roles}
        try:
            steps = scenario(client, *names)
        finally:
            for name in names:  # whatever the scenario left behind
                client.delete_stream(name)
        normalise = Normaliser(names)  # one per run: ids keep their numbers across steps
        results.append([(label, normalise(pair)) for label, pair in steps])
    return results[0], results[1]


def test_full_scenario_same_results_as_sequin_py(sequin_base_url, unique, no_proxy_env):
    theirs, ours = run_side_by_side(
        full_scenario, sequin_base_url, unique, ["<stream>", "<consumer>", "<other>", "<missing>"]
    )
    assert ours == theirs
    # ...and the story itself went as the spec says (guards against two equally broken runs).
    results = dict(ours)
    assert results["create stream"][1] is None
    assert results["send batch"] == ({"published": 3}, None)
    assert results["send non-string data"] == (None, {"status": 400, "summary": "Invalid message format"})
    assert results["receive nothing left"] == (None, None)
    assert len(results["receive default batch"][0]) == 2
    assert results["receive re-published"][0]["ack_id"] == results["receive one"][0]["ack_id"]
    assert results["receive re-published"][0]["message"]["data"] == "Changed"
    assert [i["message"]["key"] for i in results["second consumer backfill"][0]] == ["other.1"]
    assert results["delete stream again"][1]["status"] == 404
    assert results["send nan"][1]["status"] == 500
    summary = "Invalid `batch_size`. `batch_size` must be an integer between 1 and 1000."
    bad_batch = {"status": 400, "summary": summary}
    assert results["receive batch size None"] == (None, bad_batch)
    assert results["receive batch size True"] == (None, bad_batch)
    assert results["receive batch size text"] == ([], None)


# -- the sequin-py README, run through both clients --------------------------------------------


def readme_testing_example(sequin: Any, stream_name: str, consumer_name: str) -> List[Step]:
    """The README's "Testing" example, verbatim apart from recording each result."""
    steps: List[Step] = []

    # Create a new stream
    stream, error = sequin.create_stream(stream_name)
    steps.append(("create_stream", (stream, error)))
    assert error is None
    assert stream["name"] == stream_name

    # Create a consumer
    consumer, error = sequin.create_consumer(stream_name, consumer_name, "test.>")
    steps.append(("create_consumer", (consumer, error)))
    assert error is None
    assert consumer["name"] == consumer_name

    # Send a message
    res, error = sequin.send_message(stream_name, "test.1", "Hello, Sequin!")
    steps.append(("send_message", (res, error)))
    assert error is None
    assert res["published"] == 1

    # Receive and ack a message
    message, error = sequin.receive_message(stream_name, consumer_name)
    steps.append(("receive_message", (message, error)))
    assert error is None
    assert message is not None

    res, error = sequin.ack_message(stream_name, consumer_name, message["ack_id"])
    steps.append(("ack_message", (res, error)))
    assert error is None

    # Delete the consumer
    res, error = sequin.delete_consumer(stream_name, consumer_name)
    steps.append(("delete_consumer", (res, error)))
    assert error is None
    assert res["deleted"] is True

    # Delete the stream
    res, error = sequin.delete_stream(stream_name)
    steps.append(("delete_stream", (res, error)))
    assert error is None
    assert res["deleted"] is True
    return steps


def test_readme_testing_example_through_both_clients(sequin_base_url, unique, no_proxy_env):
    # Underscore names: the README's "test-stream-<ts>" is rejected by the real server.
    theirs, ours = run_side_by_side(
        readme_testing_example, sequin_base_url, unique, ["<stream>", "<consumer>"]
    )
    assert ours == theirs
    assert [label for label, _ in ours][-1] == "delete_stream"


@pytest.mark.parametrize("client_class", [SdkClient, Client], ids=["sequin-py", "pytest-sequin"])
def test_readme_testing_example_with_hyphens_fails_the_same_way(sequin_base_url, client_class, no_proxy_env):
    stream_name = f"test-stream-{unique_suffix()}"
    sequin = client_class(sequin_base_url)
    assert sequin.create_stream(stream_name) == (None, {"status": 422, "summary": "Validation failed"})
    with pytest.raises(AssertionError):
        readme_testing_example(sequin, stream_name, f"test-consumer-{unique_suffix()}")


def unique_suffix() -> str:
    import uuid

    return uuid.uuid4().hex[:10]


def readme_usage_example(sequin: Any, stream: str, consumer: str) -> List[Step]:
    """The README's "Usage" example, with ``print`` recorded instead of written."""
    printed: List[str] = []
    print = printed.append  # the README calls print(); capture it

    # Send a message
    res, error = sequin.send_message(stream, "test.1", "Hello, Sequin!")
    if error:
        print(f"Error sending message: {error['summary']}")
    else:
        print(f"Message sent successfully: {res}")

    # Receive a message
    message, error = sequin.receive_message(stream, consumer)
    if error:
        print(f"Error receiving message: {error['summary']}")
    elif message is None:
        print("No messages available")
    else:
        print(f"Received message: {message}")
        # Don't forget to acknowledge the message
        ack_res, ack_error = sequin.ack_message(stream, consumer, message["ack_id"])
        if ack_error:
            print(f"Error acking message: {ack_error['summary']}")
        else:
            print("Message acked")
    return [("printed", printed)]


def usage_with_setup(sequin: Any, stream: str, consumer: str, missing: str) -> List[Step]:
    steps = [("create_stream", sequin.create_stream(stream))]
    steps.append(("create_consumer", sequin.create_consumer(stream, consumer, "test.>")))
    steps += readme_usage_example(sequin, stream, consumer)  # a message to receive and ack
    steps += readme_usage_example(sequin, stream, consumer)  # unchanged data: nothing to receive
    steps += readme_usage_example(sequin, missing, missing)  # the error branches
    return steps


def test_readme_usage_example_through_both_clients(sequin_base_url, unique, no_proxy_env):
    theirs, ours = run_side_by_side(
        usage_with_setup, sequin_base_url, unique, ["<stream>", "<consumer>", "<missing>"]
    )
    assert ours == theirs
    printed = [lines for label, lines in ours if label == "printed"]
    assert printed[0][0] == "Message sent successfully: {'published': 1}"
    assert printed[0][1].startswith("Received message: {")
    assert printed[0][2] == "Message acked"
    assert printed[1] == ["Message sent successfully: {'published': 0}", "No messages available"]
    assert printed[2][0].startswith("Error sending message: Not found: No `stream`")
