"""/api/metabot/metabot as metabot/api/metabot.clj serves it: the two built-in instances (fixed entity ids), admins
only, PUT takes only `use_verified_content` and `collection_id`, verified content needs `content_verification`."""

from __future__ import annotations

import pytest

from mbport.emulator import Emulator, bootstrap
from tests.conftest import ADMIN_EMAIL, ADMIN_PASSWORD, make_client


def _admin(emu: Emulator):
    return make_client(emu, **{"X-Metabase-Session": bootstrap.setup_admin(emu, ADMIN_EMAIL, ADMIN_PASSWORD)})


def test_the_built_in_metabots_listed_by_name():
    admin = _admin(Emulator("0.65"))
    items = admin.get("/api/metabot/metabot").json()["items"]
    assert [(m["name"], m["entity_id"], m["use_verified_content"], m["collection_id"]) for m in items] == [
        ("Embedded Metabot", "embeddedmetabotmetabo", False, None), ("Metabot", "metabotmetabotmetabot", False, None)]
    assert set(items[0]) == {"id", "entity_id", "name", "description", "use_verified_content", "collection_id",
                             "created_at", "updated_at"}
    assert admin.get("/api/metabot/metabot/999").status_code == 404


@pytest.mark.allow_invalid_requests
def test_put_takes_two_fields_and_verified_content_needs_the_feature():
    emu = Emulator("0.65")
    admin = _admin(emu)
    metabot = admin.get("/api/metabot/metabot").json()["items"][1]
    coll = admin.post("/api/collection", json={"name": "Curated"}).json()
    put = admin.put(f"/api/metabot/metabot/{metabot['id']}", json={"collection_id": coll["id"]})
    assert put.status_code == 200 and put.json()["collection_id"] == coll["id"]
    refused = admin.put(f"/api/metabot/metabot/{metabot['id']}", json={"use_verified_content": True})
    assert refused.status_code == 402 and refused.json()["message"].startswith("Content verification is a paid")
    assert admin.put(f"/api/metabot/metabot/{metabot['id']}", json={"name": "Bob"}).status_code == 400  # closed map
    emu.premium_features = "content_verification"
    assert admin.put(f"/api/metabot/metabot/{metabot['id']}",
                     json={"use_verified_content": True}).json()["use_verified_content"] is True


def test_older_releases_have_no_open_source_metabot_api():
    admin = _admin(Emulator("0.56"))
    assert admin.get("/api/metabot/metabot").status_code == 404
