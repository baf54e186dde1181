"""Documents (0.57+): /api/document as documents/api/document.clj answers it, with the cards a document owns."""

from __future__ import annotations

import pytest

from mbport.emulator import Emulator, bootstrap
from tests.conftest import ADMIN_EMAIL, ADMIN_PASSWORD, make_client

QUERY = {"database": 1, "type": "native", "native": {"query": "select 1"}}
DRAFT = {"name": "Draft", "display": "table", "dataset_query": QUERY, "visualization_settings": {}}


def embed(card_id: int) -> dict:
    return {"type": "resizeNode", "content": [{"type": "cardEmbed", "attrs": {"id": card_id}}]}


def body(*nodes: dict) -> dict:
    return {"type": "doc", "content": list(nodes)}


def embedded(doc: dict) -> list[int]:
    return [n["content"][0]["attrs"]["id"] for n in doc["document"]["content"] if n.get("type") == "resizeNode"]


def cards_of(admin, doc_id: int) -> list[dict]:
    every = admin.get("/api/card", params={"f": "all"}).json() + admin.get("/api/card", params={"f": "archived"}).json()
    return sorted((c for c in every if c.get("document_id") == doc_id), key=lambda c: c["id"])


def test_post_creates_the_draft_cards_and_copies_foreign_ones(admin):
    coll = admin.post("/api/collection", json={"name": "C"}).json()
    saved = admin.post("/api/card", json={**DRAFT, "name": "Saved", "collection_id": coll["id"]}).json()
    resp = admin.post("/api/document", json={"name": "D", "collection_id": coll["id"],
                                             "document": body(embed(-1), embed(saved["id"])), "cards": {"-1": DRAFT}})
    assert resp.status_code == 200
    doc = resp.json()
    own = cards_of(admin, doc["id"])
    assert [c["name"] for c in own] == ["Saved", "Draft"]  # the copy is made before the drafts
    assert embedded(doc) == [own[1]["id"], own[0]["id"]] and saved["id"] not in embedded(doc)
    assert {c["type"] for c in own} == {"question"} and {c["collection_id"] for c in own} == {coll["id"]}
    assert doc["content_type"] == "application/json+vnd.prose-mirror"
    assert set(doc["creator"]) == {"id", "email", "first_name", "last_name"}
    assert {"can_write", "can_delete", "can_restore", "is_remote_synced", "entity_id"} <= set(doc)
    # Cards of a document are not collection items; the document is.
    items = admin.get(f"/api/collection/{coll['id']}/items").json()["data"]
    assert {(i["model"], i["name"]) for i in items} == {("card", "Saved"), ("document", "D")}


def test_list_is_an_items_envelope_of_live_documents(admin):
    live = admin.post("/api/document", json={"name": "Live", "document": body()}).json()
    gone = admin.post("/api/document", json={"name": "Gone", "document": body()}).json()
    assert admin.put(f"/api/document/{gone['id']}", json={"archived": True}).status_code == 200
    listed = admin.get("/api/document").json()
    assert list(listed) == ["items"] and [d["id"] for d in listed["items"]] == [live["id"]]
    assert "can_delete" not in listed["items"][0]  # the list hydrates creator, can_write, is_remote_synced only
    assert admin.get(f"/api/document/{gone['id']}").json()["archived"] is True  # still readable by id


def test_archived_documents_refuse_edits_and_only_they_can_be_deleted(admin):
    doc = admin.post("/api/document", json={"name": "D", "document": body(embed(-1)), "cards": {"-1": DRAFT}}).json()
    card_id = embedded(doc)[0]
    resp = admin.delete(f"/api/document/{doc['id']}")
    assert resp.status_code == 400 and resp.json() == {"errors": {"archived": "Document must be archived before it can be deleted."}}
    assert admin.put(f"/api/document/{doc['id']}", json={"archived": True}).status_code == 200
    assert admin.get(f"/api/card/{card_id}").json()["archived"] is True  # the document's cards follow it
    resp = admin.put(f"/api/document/{doc['id']}", json={"name": "renamed"})
    assert resp.status_code == 404 and resp.json()["error_code"] == "archived"
    assert admin.delete(f"/api/document/{doc['id']}").status_code == 204
    assert admin.get(f"/api/document/{doc['id']}").status_code == 404
    assert admin.get(f"/api/card/{card_id}").status_code == 404  # cascading FK


def test_moving_a_document_moves_its_cards_and_needs_a_live_target(admin):
    a = admin.post("/api/collection", json={"name": "A"}).json()
    b = admin.post("/api/collection", json={"name": "B"}).json()
    doc = admin.post("/api/document", json={"name": "D", "collection_id": a["id"], "document": body(embed(-1)),
                                            "cards": {"-1": DRAFT}}).json()
    assert admin.put(f"/api/document/{doc['id']}", json={"collection_id": b["id"]}).status_code == 200
    assert [c["collection_id"] for c in cards_of(admin, doc["id"])] == [b["id"]]
    admin.put(f"/api/collection/{a['id']}", json={"archived": True})
    assert admin.put(f"/api/document/{doc['id']}", json={"collection_id": a["id"]}).status_code == 400


def test_a_trashed_collection_takes_its_documents_along(admin):
    coll = admin.post("/api/collection", json={"name": "C"}).json()
    doc = admin.post("/api/document", json={"name": "D", "collection_id": coll["id"], "document": body()}).json()
    admin.put(f"/api/collection/{coll['id']}", json={"archived": True})
    got = admin.get(f"/api/document/{doc['id']}").json()
    assert got["archived"] is True and got["archived_directly"] is False
    assert admin.get("/api/document").json() == {"items": []}
    admin.put(f"/api/collection/{coll['id']}", json={"archived": False})
    assert admin.get(f"/api/document/{doc['id']}").json()["archived"] is False


def test_put_with_new_drafts_adds_cards(admin):
    doc = admin.post("/api/document", json={"name": "D", "document": body()}).json()
    resp = admin.put(f"/api/document/{doc['id']}", json={"document": body(embed(-1)), "cards": {"-1": DRAFT}})
    assert resp.status_code == 200
    [card] = cards_of(admin, doc["id"])
    assert embedded(resp.json()) == [card["id"]]


def test_documents_follow_collection_permissions(emulator, admin):
    from tests.emulator.test_pulses import login, make_user

    personal = admin.get("/api/user/current").json()["personal_collection_id"]
    private = admin.post("/api/document", json={"name": "P", "collection_id": personal, "document": body()}).json()
    make_user(emulator, admin, "erin@example.com")
    erin = login(emulator, "erin@example.com")
    assert erin.get("/api/document").json() == {"items": []}
    assert erin.get(f"/api/document/{private['id']}").status_code == 403
    assert erin.post("/api/document", json={"name": "x", "collection_id": personal, "document": body()}).status_code == 403
    assert erin.put(f"/api/document/{private['id']}", json={"name": "mine"}).status_code == 403


@pytest.mark.allow_invalid_requests
def test_names_must_be_non_blank(admin):
    assert admin.post("/api/document", json={"name": " ", "document": body()}).status_code == 400
    assert admin.post("/api/document", json={"document": body()}).status_code == 400


@pytest.mark.allow_invalid_requests  # bodies the spec refuses, sent to a release without the route
def test_releases_before_0_57_have_no_documents():
    emu = Emulator("0.56")
    api = make_client(emu, **{"X-Metabase-Session": bootstrap.setup_admin(emu, ADMIN_EMAIL, ADMIN_PASSWORD)})
    assert api.get("/api/document").status_code == 404
    assert api.post("/api/document", json={"name": "x", "document": body()}).status_code == 404
    # an unknown route: 404 before any look at the body (which 0.57+ refuses with a 400)
    assert api.post("/api/document", json={"document": body()}).status_code == 404
    assert api.put("/api/document/1", json={"name": ""}).status_code == 404
