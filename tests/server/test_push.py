"""Push delivery of the embedded server (spec §4.11): POSTs, ack/nack, back-off, lifecycle.

Each test runs its own :class:`EmbeddedSequinServer` and a tiny stdlib HTTP receiver that
records the POSTs and answers from a script of statuses. Waits poll with a deadline.
"""

from __future__ import annotations

import http.server
import json
import threading
import time
from typing import Any, Callable, Iterator

import pytest
import requests

from pytest_sequin.server import EmbeddedSequinServer


def poll(check: Callable[[], Any], timeout: float = 5.0, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.005)


class Receiver:
    """Records every POST (path, lower-case headers, raw body) and answers the next scripted
    status (200 once the script is used up); ``hold`` makes it stall until released."""

    def __init__(self, bind: bool = True) -> None:
        self.posts: list[tuple[str, dict[str, str], bytes]] = []
        self.times: list[float] = []
        self.statuses: list[int] = []
        self.hold = threading.Event()
        self.release = threading.Event()
        self.release.set()
        owner = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                owner.times.append(time.monotonic())
                owner.posts.append((self.path, {k.lower(): v for k, v in self.headers.items()}, body))
                if owner.hold.is_set():
                    owner.release.wait(10)
                status = owner.statuses.pop(0) if owner.statuses else 200
                self.send_response(status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler, bind_and_activate=False)
        self.httpd.daemon_threads = True
        # A push cut short by the server stopping (a test ending) is expected: no traceback.
        self.httpd.handle_error = lambda request, client_address: None  # type: ignore[method-assign]
        self.httpd.server_bind()
        self.port = self.httpd.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._thread: threading.Thread | None = None
        if bind:
            self.listen()

    def listen(self) -> None:
        """Until this is called the port is bound but not listening: connects are refused."""
        self.httpd.server_activate()
        self._thread = threading.Thread(target=self.httpd.serve_forever, args=(0.01,), daemon=True)
        self._thread.start()

    def bodies(self) -> list[dict[str, Any]]:
        return [json.loads(body) for _, _, body in list(self.posts)]

    def close(self) -> None:
        self.release.set()
        if self._thread is not None:
            self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    rx = Receiver()
    yield rx
    rx.close()


@pytest.fixture
def server() -> Iterator[EmbeddedSequinServer]:
    with EmbeddedSequinServer(seed_default_stream=False) as srv:
        srv.push.backoff_start = 0.01  # keep retries fast; the default back-off is tested below
        srv.push.backoff_max = 0.05
        yield srv


@pytest.fixture
def rest(server: EmbeddedSequinServer) -> Iterator[Callable[..., Any]]:
    session = requests.Session()
    session.trust_env = False

    def call(method: str, path: str, **kwargs: Any) -> Any:
        answer = session.request(method, server.url + path, timeout=10, **kwargs)
        assert answer.status_code == 200, answer.text
        return answer.json()

    call("POST", "/api/streams", json={"name": "s"})
    yield call
    session.close()


def publish(rest: Callable[..., Any], *pairs: tuple[str, str]) -> None:
    rest("POST", "/api/streams/s/messages", json={"messages": [{"key": k, "data": d} for k, d in pairs]})


def push_consumer(rest: Callable[..., Any], url: str, name: str = "p", **fields: Any) -> dict[str, Any]:
    body = {"name": name, "filter_key_pattern": ">", "kind": "push", "http_endpoint": {"base_url": url}}
    body.update(fields)
    return rest("POST", "/api/streams/s/consumers", json=body)


def info(rest: Callable[..., Any], key: str) -> dict[str, Any]:
    [entry] = rest("GET", f"/api/streams/s/messages/{key}/consumer_info")["data"]["consumer_info"]
    return entry


def test_each_message_is_posted_as_data_and_key_with_the_endpoint_headers_then_acked(rest, receiver):
    for key, data in (("orders.1", "one"), ("orders.2", 'two "quoted" ü'), ("orders.3", "")):
        publish(rest, (key, data))
    endpoint = {
        "base_url": f"{receiver.url}/hooks/sequin?tenant=7",
        "name": "h",
        "headers": {"X-Token": "s3"},
    }
    body = {"name": "p", "filter_key_pattern": ">", "kind": "push", "http_endpoint": endpoint}
    rest("POST", "/api/streams/s/consumers", json=body)
    poll(lambda: len(receiver.posts) == 3, what="3 POSTs")
    # One request per message, in seq order, body exactly {"data", "key"}.
    assert receiver.bodies() == [
        {"data": "one", "key": "orders.1"},
        {"data": 'two "quoted" ü', "key": "orders.2"},
        {"data": "", "key": "orders.3"},
    ]
    for path, headers, _ in receiver.posts:
        assert path == "/hooks/sequin?tenant=7"
        assert headers["content-type"] == "application/json"
        assert headers["x-token"] == "s3"
    for key in ("orders.1", "orders.2", "orders.3"):
        poll(lambda key=key: info(rest, key)["state"] == "acked", what=f"{key} acked")
        assert info(rest, key)["deliver_count"] == 1
    assert rest("GET", "/api/streams/s/consumers/p/messages")["data"] == []
    time.sleep(0.05)
    assert len(receiver.posts) == 3  # acked messages are not pushed again


def test_header_values_that_are_not_strings_are_sent_as_their_json_text(rest, receiver):
    """The endpoint's headers are any JSON object (an Ecto :map); delivery still works."""
    publish(rest, ("a", "1"))
    headers = {"X-Retries": 3, "X-On": True, "X-Name": "n"}
    push_consumer(rest, receiver.url, http_endpoint={"base_url": receiver.url, "headers": headers})
    poll(lambda: info(rest, "a")["state"] == "acked", what="a acked")
    [(_, sent, _)] = receiver.posts
    assert (sent["x-retries"], sent["x-on"], sent["x-name"]) == ("3", "true", "n")


def test_a_500_nacks_and_the_message_is_pushed_again_until_a_2xx(rest, receiver):
    receiver.statuses = [500, 503]
    publish(rest, ("a", "1"))
    push_consumer(rest, receiver.url)
    poll(lambda: info(rest, "a")["state"] == "acked", what="ack after two failures")
    assert receiver.bodies() == [{"data": "1", "key": "a"}] * 3
    assert info(rest, "a")["deliver_count"] == 3


def test_delivery_records_say_how_each_push_consumer_fared(rest, server, receiver):
    receiver.statuses = [503]
    publish(rest, ("a", "1"))
    consumer = push_consumer(rest, receiver.url)
    poll(lambda: info(rest, "a")["state"] == "acked", what="ack after one failure")
    expected = {
        consumer["id"]: {
            "base_url": receiver.url,
            "delivered": 1,
            "failed": 1,
            "failures_in_a_row": 0,
            "last_key": "a",
            "last_outcome": "HTTP 200",
        }
    }
    assert server.push.records() == expected
    assert rest("GET", "/_pytest_sequin/push") == {"data": expected}  # the failure report's source
    rest("DELETE", f"/api/streams/s/consumers/{consumer['id']}")
    poll(lambda: server.push.records() == {}, what="the record of a deleted consumer to go")


def test_a_refused_connection_is_recorded_with_its_reason(rest, server):
    closed = Receiver(bind=False)
    try:
        publish(rest, ("a", "1"))
        consumer = push_consumer(rest, closed.url)
        poll(lambda: server.push.records().get(consumer["id"], {}).get("failures_in_a_row", 0) >= 2,
             what="two failed attempts")
        record = server.push.records()[consumer["id"]]
        assert (record["delivered"], record["last_key"]) == (0, "a")
        assert record["last_outcome"].startswith("ConnectionRefusedError")
    finally:
        closed.close()


def test_a_transport_error_nacks_and_delivery_resumes_when_the_endpoint_listens(rest, server):
    closed = Receiver(bind=False)  # port bound, not listening: connection refused
    try:
        publish(rest, ("a", "1"))
        push_consumer(rest, closed.url)
        poll(lambda: (info(rest, "a")["deliver_count"] or 0) >= 2, what="retries after refused connects")
        # Nacked (available at once), not left to a 30 s visibility timeout.
        poll(lambda: info(rest, "a")["state"] == "available", what="nacked between attempts")
        closed.listen()
        poll(lambda: info(rest, "a")["state"] == "acked", what="ack once the endpoint listens")
        assert closed.bodies()[-1] == {"data": "1", "key": "a"}
    finally:
        closed.close()


def test_failures_back_off_instead_of_hammering_the_endpoint(rest, server, receiver):
    server.push.backoff_start, server.push.backoff_max = 0.1, 5.0  # the defaults
    receiver.statuses = [500] * 100
    publish(rest, ("a", "1"))
    push_consumer(rest, receiver.url)
    poll(lambda: len(receiver.times) >= 3, what="three attempts")
    # Waits of 0.1 s then 0.2 s between attempts (more under load, never less): no hot loop.
    first, second, third = receiver.times[:3]
    assert second - first >= 0.09 and third - second >= 0.19


def test_new_publishes_fan_out_to_matching_push_consumers(rest, receiver):
    push_consumer(rest, receiver.url, filter_key_pattern="orders.*")
    publish(rest, ("orders.1", "a"), ("other.1", "x"), ("orders.2", "b"))
    poll(lambda: len(receiver.posts) == 2, what="2 POSTs")
    assert sorted(b["key"] for b in receiver.bodies()) == ["orders.1", "orders.2"]
    poll(lambda: info(rest, "orders.1")["state"] == "acked", what="ack")
    publish(rest, ("orders.1", "a2"))  # new data: pushed again
    poll(lambda: len(receiver.posts) == 3, what="re-publish pushed")
    assert receiver.bodies()[-1] == {"data": "a2", "key": "orders.1"}


def test_deleting_the_consumer_stops_delivery_and_its_thread(rest, server, receiver):
    consumer = push_consumer(rest, receiver.url)
    publish(rest, ("a", "1"))
    poll(lambda: len(receiver.posts) == 1, what="first POST")
    assert len(server.push.threads()) == 1
    rest("DELETE", f"/api/streams/s/consumers/{consumer['id']}")
    poll(lambda: not server.push.threads(), what="push thread to end")
    publish(rest, ("b", "2"))
    time.sleep(0.1)
    assert len(receiver.posts) == 1


def test_disabled_consumers_are_not_pushed_until_activated(rest, receiver):
    push_consumer(rest, receiver.url, status="disabled")
    publish(rest, ("a", "1"))
    time.sleep(0.1)
    assert receiver.posts == []
    rest("PATCH", "/api/streams/s/consumers/p", json={"status": "active"})
    poll(lambda: len(receiver.posts) == 1, what="POST after activation")


def test_redelivery_after_a_visibility_timeout_follows_the_server_clock(rest, server, receiver):
    consumer = push_consumer(rest, receiver.url, status="disabled")
    publish(rest, ("a", "1"))
    # A pull receive on the push consumer takes the message for ack_wait_ms (30 s).
    taken = rest("POST", f"/api/streams/s/consumers/{consumer['id']}/receive", json={"batch_size": 1})
    assert len(taken["data"]) == 1
    rest("PATCH", "/api/streams/s/consumers/p", json={"status": "active"})
    time.sleep(0.1)
    assert receiver.posts == []  # still invisible
    server.advance_clock(31)
    poll(lambda: len(receiver.posts) == 1, timeout=2, what="POST after the clock moved")
    poll(lambda: info(rest, "a")["state"] == "acked", what="ack")
    assert info(rest, "a")["deliver_count"] == 2


def test_stop_cuts_a_request_in_flight_and_leaves_no_thread(receiver):
    before = set(threading.enumerate())
    srv = EmbeddedSequinServer(seed_default_stream=False).start()
    try:
        session = requests.Session()
        session.trust_env = False
        session.post(f"{srv.url}/api/streams", json={"name": "s"}, timeout=5)
        session.post(
            f"{srv.url}/api/streams/s/messages", json={"messages": [{"key": "a", "data": "1"}]}, timeout=5
        )
        receiver.hold.set()
        receiver.release.clear()
        body = {
            "name": "p",
            "filter_key_pattern": ">",
            "kind": "push",
            "http_endpoint": {"base_url": receiver.url},
        }
        assert session.post(f"{srv.url}/api/streams/s/consumers", json=body, timeout=5).status_code == 200
        session.close()
        poll(lambda: receiver.posts, what="the stalled POST")
        started = time.monotonic()
    finally:
        srv.stop()
    assert time.monotonic() - started < 2.0  # the receiver holds the POST for 10 s
    left = [t.name for t in set(threading.enumerate()) - before if t.name.startswith("sequin-")]
    assert left == []


def test_push_delivery_can_be_turned_off(receiver):
    with EmbeddedSequinServer(push_delivery=False) as srv:
        body = {
            "name": "p",
            "filter_key_pattern": ">",
            "kind": "push",
            "http_endpoint": {"base_url": receiver.url},
        }
        srv.engine.create_consumer("default", body)
        srv.engine.publish("default", {"messages": [{"key": "a", "data": "1"}]})
        time.sleep(0.05)
        assert receiver.posts == [] and srv.push.threads() == []


def test_push_consumers_that_exist_before_start_are_delivered(receiver):
    srv = EmbeddedSequinServer()
    srv.engine.create_consumer(
        "default",
        {"name": "p", "filter_key_pattern": ">", "kind": "push", "http_endpoint": {"base_url": receiver.url}},
    )
    srv.engine.publish("default", {"messages": [{"key": "a", "data": "1"}]})
    with srv:
        poll(lambda: receiver.posts, what="POST of a consumer made before start")
        threads = srv.push.threads()
    assert threads and not any(t.is_alive() for t in threads)


def test_a_window_full_of_kept_acked_rows_waits_for_the_purge_on_the_server_clock(rest, server, receiver):
    push_consumer(rest, receiver.url, max_ack_pending=1)
    publish(rest, ("a", "1"))
    poll(lambda: info(rest, "a")["state"] == "acked", what="a acked")
    publish(rest, ("b", "2"))
    time.sleep(0.1)
    assert [body["key"] for body in receiver.bodies()] == ["a"]  # b waits outside the window (§4.2)
    server.advance_clock(301)  # past the 5-minute retention: the acked row is purged
    poll(lambda: len(receiver.posts) == 2, timeout=2, what="b after the purge")
    assert receiver.bodies()[1] == {"data": "2", "key": "b"}
