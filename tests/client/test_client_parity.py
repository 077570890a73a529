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


# -- every per-method "Example" of the sequin-py README, verbatim, through both clients ----------

#: The README's "Initializing" block with its import replaced (``{import}``): the README's own
#: ``from sequin_py import Client`` does not work (spec Appendix A).
README_INIT = """
{import}

base_url = os.environ.get('SEQUIN_URL', 'http://localhost:7376')

sequin = Client(base_url)
"""

#: The "Example" blocks of the README, in its order, verbatim apart from one fix: the
#: create_consumer example's error branch is a syntax error there (``{error creating consumer:``).
README_METHOD_EXAMPLES = {
    "send_message": """
res, error = sequin.send_message('my_stream', 'greeting.1', 'Hello, Sequin!')
if error:
    print(f"Error sending message: {error['summary']}")
    # Handle the error appropriately
else:
    print(f"Message sent successfully: {res['published']}")
""",
    "send_messages": """
messages = [
    {
        "key": "test.1",
        "data": "Hello, Sequin!"
    },
    {
        "key": "test.2",
        "data": "Greetings from Sequin!"
    }
]

res, error = sequin.send_messages('my_stream', messages)
if error:
    print(f"Error sending messages: {error['summary']}")
    # Handle the error appropriately
else:
    print(f"Messages sent successfully: {res['published']}")
""",
    "receive_message": """
message, error = sequin.receive_message('my_stream', 'my_consumer')
if error:
    print(f"Error receiving message: {error['summary']}")
    # Handle the error appropriately
elif message is None:
    print("No messages available")
else:
    print(f"Message received successfully: {message}")
""",
    "receive_messages": """
messages, error = sequin.receive_messages('my_stream', 'my_consumer', options={'batch_size': 100})
if error:
    print(f"Error receiving messages: {error['summary']}")
    # Handle the error appropriately
elif not messages:
    print("No messages available")
else:
    print(f"Messages received successfully: {len(messages)}")
""",
    "ack_message": """
res, error = sequin.ack_message('my_stream', 'my_consumer', '07240856-96cb-4305-9b2f-620f4b1528a4')
if error:
    print(f"Error acknowledging message: {error['summary']}")
    # Handle the error appropriately
else:
    print("Message acknowledged successfully")
""",
    "ack_messages": """
ack_ids = ['07240856-96cb-4305-9b2f-620f4b1528a4', '18351967-07dc-5416-0c2e-731f5b2638b5']
res, error = sequin.ack_messages('my_stream', 'my_consumer', ack_ids)
if error:
    print(f"Error acknowledging messages: {error['summary']}")
    # Handle the error appropriately
else:
    print("Messages acknowledged successfully")
""",
    "nack_message": """
res, error = sequin.nack_message('my_stream', 'my_consumer', '07240856-96cb-4305-9b2f-620f4b1528a4')
if error:
    print(f"Error nacking message: {error['summary']}")
    # Handle the error appropriately
else:
    print("Message nacked successfully")
""",
    "nack_messages": """
ack_ids = ['07240856-96cb-4305-9b2f-620f4b1528a4', '18351967-07dc-5416-0c2e-731f5b2638b5']
res, error = sequin.nack_messages('my_stream', 'my_consumer', ack_ids)
if error:
    print(f"Error nacking messages: {error['summary']}")
    # Handle the error appropriately
else:
    print("Messages nacked successfully")
""",
    "create_stream": """
stream, error = sequin.create_stream('my_stream')
if error:
    print(f"Error creating stream: {error['summary']}")
    # Handle the error appropriately
else:
    print(f"Stream created successfully: {stream}")
""",
    "delete_stream": """
res, error = sequin.delete_stream('my_stream')
if error:
    print(f"Error deleting stream: {error['summary']}")
    # Handle the error appropriately
else:
    print(f"Stream deleted successfully: {res}")
""",
    "create_consumer": """
consumer, error = sequin.create_consumer('my_stream', 'my_consumer', 'test.>')
if error:
    print(f"Error creating consumer: {error['summary']}")
    # Handle the error appropriately
else:
    print(f"Consumer created successfully: {consumer}")
""",
    "delete_consumer": """
res, error = sequin.delete_consumer('my_stream', 'my_consumer')
if error:
    print(f"Error deleting consumer: {error['summary']}")
    # Handle the error appropriately
else:
    print(f"Consumer deleted successfully: {res}")
""",
}

#: README order first (nothing exists yet: every error branch), then a working order.
README_EXAMPLE_ORDER = list(README_METHOD_EXAMPLES) + [
    "create_stream",
    "create_stream",  # again: the duplicate-name error
    "create_consumer",
    "send_message",
    "send_messages",
    "receive_message",
    "receive_messages",
    "receive_messages",  # nothing left
    "ack_message",
    "ack_messages",
    "nack_message",
    "nack_messages",
    "send_message",  # unchanged data: published 0
    "delete_consumer",
    "delete_consumer",
    "delete_stream",
    "delete_stream",
]


def run_readme_method_examples(import_line: str, stream: str, consumer: str) -> List[str]:
    """Exec each example with the README's names replaced by unique ones; return what it printed."""
    printed: List[str] = []
    namespace: Dict[str, Any] = {
        "os": __import__("os"),
        "print": lambda *args: printed.append(" ".join(map(str, args))),
    }
    exec(README_INIT.replace("{import}", import_line), namespace)
    for name in README_EXAMPLE_ORDER:
        code = README_METHOD_EXAMPLES[name].replace("my_stream", stream).replace("my_consumer", consumer)
        before = len(printed)
        exec(code, namespace)
        assert len(printed) == before + 1, name
        printed[-1] = f"{name}: {printed[-1]}"
    return printed


def test_readme_method_examples_through_both_clients(sequin_base_url, unique, no_proxy_env, monkeypatch):
    monkeypatch.setenv("SEQUIN_URL", sequin_base_url)
    runs = []
    for import_line in ("from sequin.client import Client", "from pytest_sequin.client import Client"):
        stream, consumer = unique("s"), unique("c")
        try:
            printed = run_readme_method_examples(import_line, stream, consumer)
        finally:
            SdkClient(sequin_base_url).delete_stream(stream)
        normalise = Normaliser({stream: "<stream>", consumer: "<consumer>"})
        runs.append([normalise(line) for line in printed])
    theirs, ours = runs
    assert ours == theirs
    n = len(README_METHOD_EXAMPLES)
    stream_404 = "Not found: No `stream` found matching the provided ID or name"
    assert ours[0] == f"send_message: Error sending message: {stream_404}"
    assert ours[n - 4] == "create_stream: Stream created successfully: " + ours[n - 4].split(": ", 2)[2]
    assert ours[n - 3].startswith("delete_stream: Stream deleted successfully: {'id': '<id")
    assert ours[n + 1] == "create_stream: Error creating stream: Validation failed"
    assert ours[n + 3 :] == [
        "send_message: Message sent successfully: 1",
        "send_messages: Messages sent successfully: 2",
        ours[n + 5],
        "receive_messages: Messages received successfully: 1",
        "receive_messages: No messages available",
        "ack_message: Message acknowledged successfully",
        # The README's second ack id is not a v4 UUID (version 5, variant 0): a 400 (spec 3.7b).
        f"ack_messages: Error acknowledging messages: {BAD_ACK_IDS}",
        "nack_message: Message nacked successfully",
        f"nack_messages: Error nacking messages: {BAD_ACK_IDS}",
        "send_message: Message sent successfully: 0",
        ours[n + 13],
        f"delete_consumer: Error deleting consumer: {CONSUMER_404}",
        ours[n + 15],
        f"delete_stream: Error deleting stream: {stream_404}",
    ]
    # Seqs within one publish go in reverse array order (spec, batch rules): test.2 comes first.
    received = "receive_message: Message received successfully: {'ack_id': '<id"
    assert ours[n + 5].startswith(received) and "'key': 'test.2'" in ours[n + 5]


CONSUMER_404 = "Not found: No `consumer` found matching the provided ID or name"
BAD_ACK_IDS = (
    "Invalid ack_ids. Must send a top-level `ack_ids` property that is a non-empty list of valid UUID strings"
)
