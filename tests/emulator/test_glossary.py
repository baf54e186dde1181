"""The glossary (0.61+): /api/glossary as glossary/api.clj answers it."""

from __future__ import annotations

import pytest

from mbport.emulator import Emulator, bootstrap
from tests.conftest import ADMIN_EMAIL, ADMIN_PASSWORD, make_client


def test_entries_are_listed_by_term_in_a_data_envelope_with_their_creator(admin):
    for term in ("Churn", "ARR"):
        assert admin.post("/api/glossary", json={"term": term, "definition": f"{term} means"}).status_code == 200
    body = admin.get("/api/glossary").json()
    assert list(body) == ["data"] and [e["term"] for e in body["data"]] == ["ARR", "Churn"]
    assert body["data"][0]["creator"]["email"] == ADMIN_EMAIL
    assert [e["term"] for e in admin.get("/api/glossary", params={"search": "CHURN"}).json()["data"]] == ["Churn"]


def test_put_replaces_both_fields_and_delete_removes_the_entry(admin):
    entry = admin.post("/api/glossary", json={"term": "ARR", "definition": "x"}).json()
    updated = admin.put(f"/api/glossary/{entry['id']}", json={"term": "ARR", "definition": "y"}).json()
    assert updated["definition"] == "y" and updated["id"] == entry["id"] and "creator" in updated
    assert admin.delete(f"/api/glossary/{entry['id']}").status_code == 204
    assert admin.get("/api/glossary").json() == {"data": []}
    missing = admin.put("/api/glossary/999", json={"term": "a", "definition": "b"})
    assert missing.status_code == 404 and missing.text == "Not found."
    assert admin.delete("/api/glossary/999").status_code == 404


@pytest.mark.allow_invalid_requests
def test_both_fields_are_required_and_non_blank(admin):
    resp = admin.post("/api/glossary", json={"definition": "no term"})  # the spec check answers first
    assert resp.status_code == 400 and list(resp.json()["errors"]) == ["term"]
    resp = admin.post("/api/glossary", json={"term": "x", "definition": " "})  # blank: NonBlankString's message
    assert resp.status_code == 400 and resp.json()["errors"] == {"definition": "value must be a non-blank string."}


def test_everyone_reads_only_admins_write(emulator, admin):
    from tests.emulator.test_pulses import login, make_user

    entry = admin.post("/api/glossary", json={"term": "ARR", "definition": "x"}).json()
    make_user(emulator, admin, "erin@example.com")
    erin = login(emulator, "erin@example.com")
    assert [e["term"] for e in erin.get("/api/glossary").json()["data"]] == ["ARR"]
    assert erin.post("/api/glossary", json={"term": "b", "definition": "c"}).status_code == 403
    assert erin.put(f"/api/glossary/{entry['id']}", json={"term": "b", "definition": "c"}).status_code == 403
    assert erin.delete(f"/api/glossary/{entry['id']}").status_code == 403


def test_releases_before_0_61_have_no_glossary():
    emu = Emulator("0.56")
    api = make_client(emu, **{"X-Metabase-Session": bootstrap.setup_admin(emu, ADMIN_EMAIL, ADMIN_PASSWORD)})
    assert api.get("/api/glossary").status_code == 404
