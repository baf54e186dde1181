"""Timelines and events (/api/timeline, /api/timeline-event) behave like Metabase's (api-surface §14)."""

from __future__ import annotations

import pytest

from tests.emulator.test_pulses import make_collection


def new_timeline(admin, name="Launches", **extra):
    resp = admin.post("/api/timeline", json={"name": name, **extra})
    assert resp.status_code == 200, resp.text
    return resp.json()


def new_event(admin, timeline_id, name="v1", timestamp="2024-03-01", **extra):
    resp = admin.post("/api/timeline-event", json={"timeline_id": timeline_id, "name": name, "timestamp": timestamp,
                                                   "timezone": "UTC", **extra})
    assert resp.status_code == 200, resp.text
    return resp.json()


def test_create_defaults_and_read_shape(admin):
    created = new_timeline(admin)
    assert created["icon"] == "star" and created["default"] is False and created["archived"] is False
    assert created["collection_id"] is None and created["description"] is None
    assert len(created["entity_id"]) == 21 and created["creator_id"] > 0
    got = admin.get(f"/api/timeline/{created['id']}").json()
    assert got["creator"]["email"] == "admin@example.com"
    assert got["collection"]["id"] == "root" and got["collection"]["name"] == "Our analytics"
    assert got["collection"]["can_write"] is True
    assert "events" not in got and got["is_remote_synced"] is False
    assert admin.get("/api/timeline/999").status_code == 404


def test_timeline_in_a_collection(emulator, admin):
    coll = make_collection(emulator, admin, "Ops")
    created = new_timeline(admin, collection_id=coll, icon="cake", default=True)
    got = admin.get(f"/api/timeline/{created['id']}").json()
    assert got["collection_id"] == coll and got["collection"]["id"] == coll and got["collection"]["name"] == "Ops"
    assert got["icon"] == "cake" and got["default"] is True
    assert admin.post("/api/timeline", json={"name": "x", "collection_id": 99999}).status_code == 404


def test_list_is_ordered_and_filters_archived(admin):
    for name in ("beta", "Alpha", "gamma"):
        new_timeline(admin, name)
    listed = admin.get("/api/timeline").json()
    assert [t["name"] for t in listed] == ["Alpha", "beta", "gamma"]
    assert all("events" not in t and "collection" in t and "creator" in t for t in listed)
    beta = next(t for t in listed if t["name"] == "beta")
    admin.put(f"/api/timeline/{beta['id']}", json={"archived": True})
    assert [t["name"] for t in admin.get("/api/timeline").json()] == ["Alpha", "gamma"]
    assert [t["name"] for t in admin.get("/api/timeline", params={"archived": "true"}).json()] == ["beta"]


def test_events_only_with_include(admin):
    tl = new_timeline(admin)
    live = new_event(admin, tl["id"], "live")
    old = new_event(admin, tl["id"], "old", archived=True)
    listed = admin.get("/api/timeline", params={"include": "events"}).json()
    assert [e["name"] for e in listed[0]["events"]] == ["live"]
    assert listed[0]["events"][0]["creator"]["email"] == "admin@example.com"
    one = admin.get(f"/api/timeline/{tl['id']}", params={"include": "events"}).json()
    assert [e["id"] for e in one["events"]] == [live["id"]]
    everything = admin.get(f"/api/timeline/{tl['id']}", params={"include": "events", "archived": "true"}).json()
    assert sorted(e["id"] for e in everything["events"]) == [live["id"], old["id"]]
    empty = new_timeline(admin, "Empty")
    assert admin.get(f"/api/timeline/{empty['id']}", params={"include": "events"}).json()["events"] == []


def test_event_window(admin):
    tl = new_timeline(admin)
    for day in ("2024-01-10", "2024-02-10", "2024-03-10"):
        new_event(admin, tl["id"], day, timestamp=day)
    got = admin.get(f"/api/timeline/{tl['id']}",
                    params={"include": "events", "start": "2024-02-01", "end": "2024-02-28"}).json()
    assert [e["name"] for e in got["events"]] == ["2024-02-10"]


def test_archiving_a_timeline_archives_its_events(admin):
    tl = new_timeline(admin)
    events = [new_event(admin, tl["id"], n) for n in ("a", "b")]
    updated = admin.put(f"/api/timeline/{tl['id']}", json={"archived": True})
    assert updated.status_code == 200 and updated.json()["archived"] is True and "events" not in updated.json()
    assert all(admin.get(f"/api/timeline-event/{e['id']}").json()["archived"] for e in events)
    admin.put(f"/api/timeline/{tl['id']}", json={"archived": False})
    assert not any(admin.get(f"/api/timeline-event/{e['id']}").json()["archived"] for e in events)


def test_put_updates_present_fields(admin):
    tl = new_timeline(admin, description="d", icon="bell")
    updated = admin.put(f"/api/timeline/{tl['id']}", json={"name": None, "description": None, "icon": "mail"}).json()
    assert updated["name"] == "Launches" and updated["description"] is None and updated["icon"] == "mail"
    assert updated["creator"]["email"] == "admin@example.com" and updated["collection"]["id"] == "root"


def test_delete_cascades_to_events(admin):
    tl = new_timeline(admin)
    event = new_event(admin, tl["id"])
    assert admin.delete(f"/api/timeline/{tl['id']}").status_code == 204
    assert admin.get(f"/api/timeline/{tl['id']}").status_code == 404
    assert admin.get(f"/api/timeline-event/{event['id']}").status_code == 404
    assert admin.delete(f"/api/timeline/{tl['id']}").status_code == 404


def test_collection_timelines(emulator, admin):
    coll = make_collection(emulator, admin, "Ops")
    root_tl = new_timeline(admin, "Root one")
    coll_tl = new_timeline(admin, "In ops", collection_id=coll)
    new_event(admin, coll_tl["id"], "deploy")
    new_timeline(admin, "Archived in ops", collection_id=coll, archived=True)
    root = admin.get("/api/timeline/collection/root").json()
    assert [t["id"] for t in root] == [root_tl["id"]] and root[0]["collection"]["id"] == "root"
    in_coll = admin.get(f"/api/timeline/collection/{coll}", params={"include": "events"}).json()
    assert [t["name"] for t in in_coll] == ["In ops"] and [e["name"] for e in in_coll[0]["events"]] == ["deploy"]
    archived = admin.get(f"/api/timeline/collection/{coll}", params={"archived": "true"}).json()
    assert [t["name"] for t in archived] == ["Archived in ops"] and "events" not in archived[0]
    assert admin.get("/api/timeline/collection/99999").status_code == 404


def test_event_fields_and_defaults(admin):
    tl = new_timeline(admin, icon="cloud")
    event = new_event(admin, tl["id"], timestamp="2024-03-01T10:30:00+02:00", description="launch",
                      time_matters=True, question_id=7, source="question")
    assert event["timestamp"] == "2024-03-01T08:30:00Z" and event["timezone"] == "UTC"
    assert event["icon"] == "cloud"  # the timeline's icon
    assert event["time_matters"] is True and event["archived"] is False and event["description"] == "launch"
    assert event["timeline_id"] == tl["id"] and event["creator_id"] > 0
    assert "question_id" not in event and "source" not in event and "entity_id" not in event
    plain = new_event(admin, tl["id"], timestamp="2024-03-02", icon="bell")
    assert plain["timestamp"] == "2024-03-02T00:00:00Z" and plain["icon"] == "bell" and plain["time_matters"] is False
    assert admin.get(f"/api/timeline-event/{event['id']}").json() == event


def test_event_errors(admin):
    missing = admin.post("/api/timeline-event", json={"timeline_id": 999, "name": "x", "timestamp": "2024-01-01",
                                                      "timezone": "UTC"})
    assert missing.status_code == 404 and missing.text == "Timeline with id 999 not found"
    tl = new_timeline(admin)
    bad = admin.post("/api/timeline-event", json={"timeline_id": tl["id"], "name": "x", "timestamp": "yesterday",
                                                  "timezone": "UTC"})
    assert bad.status_code == 400 and "timestamp" in bad.json()["errors"]
    assert admin.get("/api/timeline-event/999").status_code == 404


def test_put_moves_an_event_and_delete_removes_it(admin):
    first, second = new_timeline(admin, "First"), new_timeline(admin, "Second")
    event = new_event(admin, first["id"])
    moved = admin.put(f"/api/timeline-event/{event['id']}",
                      json={"timeline_id": second["id"], "name": "renamed", "timestamp": "2025-01-01"}).json()
    assert moved["timeline_id"] == second["id"] and moved["name"] == "renamed"
    assert moved["timestamp"] == "2025-01-01T00:00:00Z"
    assert admin.get(f"/api/timeline/{first['id']}", params={"include": "events"}).json()["events"] == []
    assert [e["id"] for e in admin.get(f"/api/timeline/{second['id']}", params={"include": "events"}).json()["events"]] \
        == [event["id"]]
    assert admin.put(f"/api/timeline-event/{event['id']}", json={"timeline_id": 999}).status_code == 404
    assert admin.delete(f"/api/timeline-event/{event['id']}").status_code == 204
    assert admin.get(f"/api/timeline-event/{event['id']}").status_code == 404


@pytest.mark.allow_invalid_requests
def test_spec_rejects_unknown_icons(admin):
    resp = admin.post("/api/timeline", json={"name": "x", "icon": "balloons"})
    assert resp.status_code == 400 and "icon" in resp.json()["errors"]


def test_timelines_follow_collection_permissions(emulator, admin):
    from tests.emulator.test_pulses import login, make_user

    personal = admin.get("/api/user/current").json().get("personal_collection_id")
    assert personal is not None
    private = new_timeline(admin, "Private", collection_id=personal)
    event = new_event(admin, private["id"])
    shared = new_timeline(admin, "Shared")
    make_user(emulator, admin, "erin@example.com")
    erin = login(emulator, "erin@example.com")
    assert [t["id"] for t in erin.get("/api/timeline").json()] == [shared["id"]]
    assert erin.get(f"/api/timeline/{private['id']}").status_code == 403
    assert erin.get(f"/api/timeline-event/{event['id']}").status_code == 403
    assert erin.post("/api/timeline", json={"name": "x", "collection_id": personal}).status_code == 403
    assert erin.put(f"/api/timeline/{private['id']}", json={"name": "mine"}).status_code == 403
