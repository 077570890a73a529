"""Streams: list, show, create, update (500), delete; names (§2.1) and id-or-name (§2.2)."""

from __future__ import annotations

import uuid

import pytest

from ._api import (
    BLANK,
    INVALID,
    NAME_FORMAT,
    UUID4,
    assert_422,
    assert_500,
    assert_framework,
    assert_not_found,
    stream_body,
    unique,
)


def test_default_stream_exists_and_cannot_be_created_again(api):
    names = [s["name"] for s in api.ok(api.get("/api/streams"))["data"]]
    assert names.count("default") == 1
    body = api.get_stream("default")
    stats = body["stats"]
    assert body == stream_body("default", stats["message_count"], stats["consumer_count"])
    assert_422(api.post("/api/streams", json={"name": "default"}), {"name": ["has already been taken"]})


def test_create_returns_the_bare_stream_with_stats(api, streams):
    name = unique()
    response = api.post("/api/streams", json={"name": name})
    streams.track_response(response)
    body = api.ok(response)
    assert body == stream_body(name)
    assert body["stats"]["storage_size"] == 163840 or body["stats"]["storage_size"] >= 0
    assert body["inserted_at"] == body["updated_at"]
    assert api.get_stream(name) == body
    assert api.get_stream(body["id"]) == body


def test_create_ignores_extra_fields_and_policies(api, streams):
    name = unique()
    forged = str(uuid.uuid4())
    response = api.post(
        "/api/streams",
        json={
            "name": name,
            "id": forged,
            "account_id": forged,
            "one_message_per_key": False,
            "process_unmodified": True,
            "max_storage_gb": 1,
            "retain_up_to": "1 day",
            "retain_at_least": "1 hour",
        },
    )
    streams.track_response(response)
    body = api.ok(response)
    assert body == stream_body(name)
    assert forged not in (body["id"], body["account_id"])


def test_account_id_is_shared_by_streams_and_consumers(api, streams):
    a, b = streams(), streams()
    assert a["account_id"] == b["account_id"]
    consumer = api.create_consumer(a["name"], "w")
    assert consumer["account_id"] == a["account_id"]


def test_list_streams_newest_first_with_stats(api, streams):
    first = streams()
    api.publish(first["name"], [("k.1", "x"), ("k.2", "y")])
    api.create_consumer(first["name"], "w")
    second = streams()
    listed = api.ok(api.get("/api/streams", params={"limit": "1", "sort": "bogus"}))["data"]
    by_id = {s["id"]: s for s in listed}
    assert by_id[first["id"]] == stream_body(first["name"], 2, 1)
    assert by_id[second["id"]] == stream_body(second["name"])
    ids = [s["id"] for s in listed]
    # Same-second ties have no defined order on the real server; the emulator uses newest first.
    if first["inserted_at"] != second["inserted_at"]:
        assert ids.index(second["id"]) < ids.index(first["id"])


def test_stats_count_messages_and_consumers(api, stream):
    name = stream["name"]
    api.publish(name, [("a", "1"), ("b", "2"), ("c", "3")])
    api.publish(name, [("a", "changed")])
    api.create_consumer(name, "c1")
    api.create_consumer(name, "c2", "a")
    got = api.get_stream(name)
    assert got["stats"]["message_count"] == 3
    assert got["stats"]["consumer_count"] == 2
    assert got["stats"]["storage_size"] >= stream["stats"]["storage_size"]
    assert got["updated_at"] == stream["updated_at"]


@pytest.mark.parametrize(
    "body, errors",
    [
        ({}, {"name": [BLANK]}),
        ({"name": None}, {"name": [BLANK]}),
        ({"name": ""}, {"name": [BLANK]}),
        ({"name": "   \t"}, {"name": [BLANK]}),
        ({"name": 5}, {"name": [INVALID]}),
        ({"name": ["x"]}, {"name": [INVALID]}),
        ({"name": {"a": 1}}, {"name": [INVALID]}),
        ({"name": True}, {"name": [INVALID]}),
        ({"name": "with-hyphen"}, {"name": [NAME_FORMAT]}),
        ({"name": "with space"}, {"name": [NAME_FORMAT]}),
        ({"name": "dot.ted"}, {"name": [NAME_FORMAT]}),
        ({"name": "café"}, {"name": [NAME_FORMAT]}),
        ({"name": "x\n\n"}, {"name": [NAME_FORMAT]}),
        ({"name": "\nx"}, {"name": [NAME_FORMAT]}),
    ],
)
def test_create_validation_errors(api, body, errors):
    assert_422(api.post("/api/streams", json=body), errors)
    # Nothing was created. (Compared by name, not as a whole-server snapshot: in a conformance
    # run the server is shared with other workers creating streams meanwhile.)
    names = [s["name"] for s in api.ok(api.get("/api/streams"))["data"]]
    assert body.get("name") not in names


def test_name_with_one_trailing_newline_passes_the_format_check(api, streams):
    name = unique() + "\n"
    response = api.post("/api/streams", json={"name": name})
    streams.track_response(response)
    assert api.ok(response)["name"] == name


def test_names_are_case_sensitive_for_uniqueness_but_collide_as_tables(api, streams):
    lower = streams()
    # The upper-case name is not "taken" (422) but its table collides (500, §7.2).
    assert_500(api.post("/api/streams", json={"name": lower["name"].upper()}))


def test_duplicate_name_is_rejected_and_nothing_changes(api, stream):
    before = api.get_stream(stream["name"])
    assert_422(api.post("/api/streams", json={"name": stream["name"]}), {"name": ["has already been taken"]})
    assert api.get_stream(stream["name"]) == before


def test_long_names_are_accepted(api, streams):
    name = "t" + uuid.uuid4().hex + "x" * 200
    response = api.post("/api/streams", json={"name": name})
    streams.track_response(response)
    assert api.ok(response)["name"] == name


# -- id-or-name resolution (§2.2) -------------------------------------------------------------


def test_lookup_by_id_in_any_case(api, stream):
    for variant in (stream["id"], stream["id"].upper(), stream["id"][:9] + stream["id"][9:].upper()):
        assert api.get_stream(variant) == stream


def test_non_canonical_uuid_forms_are_a_framework_400(api, stream):
    compact = stream["id"].replace("-", "")
    for variant in (compact, compact.upper(), f"urn:uuid:{stream['id']}", f"URN:UUID:{stream['id'].upper()}"):
        assert_framework(api.get(f"/api/streams/{variant}"), 400, "Bad Request")
        assert_framework(api.delete(f"/api/streams/{variant}"), 400, "Bad Request")
    assert api.get_stream(stream["id"]) == stream


def test_other_uuid_versions_are_names_and_never_found(api):
    for value in (
        str(uuid.uuid1()),
        "00000000-0000-0000-0000-000000000000",
        str(uuid.uuid4()).replace("-4", "-7", 1),
    ):
        assert_not_found(api.get(f"/api/streams/{value}"), "stream")


def test_unknown_v4_id_and_unknown_name_are_404(api):
    assert_not_found(api.get(f"/api/streams/{uuid.uuid4()}"), "stream")
    assert_not_found(api.get(f"/api/streams/{unique()}"), "stream")


def test_names_are_matched_case_sensitively(api, stream):
    assert_not_found(api.get(f"/api/streams/{stream['name'].upper()}"), "stream")


def test_a_name_shaped_like_a_compact_v4_uuid_is_reachable_only_by_id(api, streams):
    name = uuid.uuid4().hex  # 32 hex digits with version 4 and variant 8-b: classified as an id
    created = streams(name)
    assert_framework(api.get(f"/api/streams/{name}"), 400, "Bad Request")
    assert api.get_stream(created["id"]) == created


def test_a_compact_hex_name_that_is_not_v4_is_a_name(api, streams):
    name = "0123456789ab1def8123456789abcdef"[:-6] + uuid.uuid4().hex[:6]
    created = streams(name)
    assert api.get_stream(name) == created


# -- update (always 500) and delete -----------------------------------------------------------


@pytest.mark.parametrize("method", ["PUT", "PATCH"])
def test_update_stream_is_always_500(api, stream, method):
    for target in (stream["name"], stream["id"], unique(), "x" * 3):
        assert_500(api.request(method, f"/api/streams/{target}", json={"name": unique()}))
    assert api.get_stream(stream["id"]) == stream


def test_delete_returns_id_and_removes_everything(api, streams):
    stream = streams()
    name = stream["name"]
    api.publish(name, [("a", "1")])
    consumer = api.create_consumer(name, "w")
    body = api.ok(api.delete(f"/api/streams/{name}"))
    assert body == {"id": stream["id"], "deleted": True}
    assert_not_found(api.get(f"/api/streams/{name}"), "stream")
    assert_not_found(api.get(f"/api/streams/{stream['id']}"), "stream")
    assert_not_found(api.delete(f"/api/streams/{stream['id']}"), "stream")
    assert_not_found(api.get(f"/api/streams/any/consumers/{consumer['id']}/receive"), "consumer")
    assert_not_found(api.get(f"/api/streams/any/consumers/{consumer['id']}/receive"), "consumer")
    assert stream["id"] not in {s["id"] for s in api.ok(api.get("/api/streams"))["data"]}


def test_a_deleted_name_can_be_reused_at_once_and_starts_empty(api, streams):
    stream = streams()
    name = stream["name"]
    api.publish(name, [("a", "1")])
    api.create_consumer(name, "w")
    api.ok(api.delete(f"/api/streams/{stream['id']}"))
    again = streams(name)
    assert again == stream_body(name)
    assert again["id"] != stream["id"]
    assert api.list_messages(name) == []
    assert api.ok(api.get(f"/api/streams/{name}/consumers"))["data"] == []
    assert api.create_consumer(name, "w")["id"] == UUID4


def test_delete_by_upper_case_id(api, streams):
    stream = streams()
    assert api.ok(api.delete(f"/api/streams/{stream['id'].upper()}")) == {"id": stream["id"], "deleted": True}
