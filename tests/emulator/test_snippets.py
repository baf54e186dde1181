"""Native query snippets (/api/native-query-snippet) behave like Metabase's (api-surface §12; conformance 34)."""

from __future__ import annotations

import pytest

from tests.emulator.test_pulses import login, make_collection, make_user

DUPLICATE = "A snippet with that name already exists. Please pick a different name."


def create(admin, name, content="1 = 1", **extra):
    return admin.post("/api/native-query-snippet", json={"name": name, "content": content, **extra})


def test_create_get_and_list_shapes(admin):
    created = create(admin, "Active orders", "status = 'active'", description="only active")
    assert created.status_code == 200
    snippet = created.json()
    assert snippet["name"] == "Active orders" and snippet["content"] == "status = 'active'"
    assert snippet["description"] == "only active" and snippet["collection_id"] is None
    assert snippet["archived"] is False and len(snippet["entity_id"]) == 21
    assert "creator" not in snippet  # POST returns the bare row
    got = admin.get(f"/api/native-query-snippet/{snippet['id']}").json()
    assert got["creator"]["email"] == "admin@example.com" and got["creator_id"] == got["creator"]["id"]
    assert got["is_remote_synced"] is False and got["created_at"] == snippet["created_at"]
    listed = admin.get("/api/native-query-snippet").json()
    assert isinstance(listed, list) and listed == [got]
    assert admin.get("/api/native-query-snippet/999").status_code == 404


def test_list_is_ordered_by_name_and_filters_archived(admin):
    ids = {n: create(admin, n).json()["id"] for n in ("beta", "Alpha", "gamma")}
    assert [s["name"] for s in admin.get("/api/native-query-snippet").json()] == ["Alpha", "beta", "gamma"]
    archived = admin.put(f"/api/native-query-snippet/{ids['beta']}", json={"archived": True})
    assert archived.status_code == 200 and archived.json()["archived"] is True
    assert [s["name"] for s in admin.get("/api/native-query-snippet").json()] == ["Alpha", "gamma"]
    only_archived = admin.get("/api/native-query-snippet", params={"archived": "true"}).json()
    assert [s["name"] for s in only_archived] == ["beta"]


@pytest.mark.parametrize("name", ["has } brace", " leading space", "\ttab first"])
def test_bad_names_are_rejected(admin, name):
    resp = create(admin, name)
    assert resp.status_code == 400
    assert resp.json()["errors"] == {"name": "snippet names cannot include '}' or start with spaces"}
    good = create(admin, "fine").json()
    assert admin.put(f"/api/native-query-snippet/{good['id']}", json={"name": name}).status_code == 400


def test_duplicate_names_are_plain_text_400(admin):
    first = create(admin, "Filter").json()
    dup = create(admin, "Filter", "2 = 2")
    assert dup.status_code == 400 and dup.text == DUPLICATE
    assert dup.headers["content-type"].startswith("text/plain")
    # Archived snippets still hold their names.
    admin.put(f"/api/native-query-snippet/{first['id']}", json={"archived": True})
    assert create(admin, "Filter").status_code == 400
    other = create(admin, "Other").json()
    renamed = admin.put(f"/api/native-query-snippet/{other['id']}", json={"name": "Filter"})
    assert renamed.status_code == 400 and renamed.text == DUPLICATE
    # Sending the snippet's own name is no change, so no conflict.
    same = admin.put(f"/api/native-query-snippet/{other['id']}", json={"name": "Other", "content": "3 = 3"})
    assert same.status_code == 200 and same.json()["content"] == "3 = 3"


def test_collection_must_be_a_snippet_folder(emulator, admin):
    folder = make_collection(emulator, admin, "Snippet folder", namespace="snippets")
    regular = make_collection(emulator, admin, "Regular")
    wrong = create(admin, "in regular", collection_id=regular)
    assert wrong.status_code == 400
    assert wrong.json()["errors"]["collection_id"] == (
        "A NativeQuerySnippet can only go in Collections in the :snippets namespace.")
    assert create(admin, "nowhere", collection_id=99999).status_code == 404
    ok = create(admin, "in folder", collection_id=folder)
    assert ok.status_code == 200 and ok.json()["collection_id"] == folder
    moved = admin.put(f"/api/native-query-snippet/{ok.json()['id']}", json={"collection_id": regular})
    assert moved.status_code == 400
    out = admin.put(f"/api/native-query-snippet/{ok.json()['id']}", json={"collection_id": None})
    assert out.status_code == 200 and out.json()["collection_id"] is None


def test_put_writes_present_nullable_fields_and_ignores_null_required_ones(admin):
    snippet = create(admin, "Named", "x = 1", description="desc").json()
    updated = admin.put(f"/api/native-query-snippet/{snippet['id']}",
                        json={"description": None, "name": None, "content": None}).json()
    assert updated["description"] is None
    assert updated["name"] == "Named" and updated["content"] == "x = 1"
    assert updated["creator"]["email"] == "admin@example.com"
    assert admin.put("/api/native-query-snippet/999", json={"name": "x"}).status_code == 404


@pytest.mark.allow_invalid_requests
def test_there_is_no_delete(admin):
    snippet = create(admin, "Keep me").json()
    resp = admin.delete(f"/api/native-query-snippet/{snippet['id']}")
    assert resp.status_code == 404 and resp.text == "Not found."
    assert admin.get(f"/api/native-query-snippet/{snippet['id']}").status_code == 200


@pytest.mark.allow_invalid_requests
def test_content_is_required_by_the_spec(admin):
    resp = admin.post("/api/native-query-snippet", json={"name": "no content"})
    assert resp.status_code == 400 and "content" in resp.json()["errors"]


def test_other_users_share_snippets(emulator, admin):
    make_user(emulator, admin, "dana@example.com")
    dana = login(emulator, "dana@example.com")
    created = create(dana, "Dana's")
    assert created.status_code == 200
    assert [s["name"] for s in admin.get("/api/native-query-snippet").json()] == ["Dana's"]
    assert admin.get("/api/native-query-snippet").json()[0]["creator"]["email"] == "dana@example.com"
