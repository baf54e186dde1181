"""/api/api-key behaves like Metabase's (api-surface.md §10, §22; conformance items 4, 17, 36)."""

import re

import pytest

from tests.conftest import make_client
from tests.emulator.test_users import ADMINS, ALL_USERS, login, new_user


def create_key(admin, name="ci", group_id=ADMINS):
    resp = admin.post("/api/api-key", json={"name": name, "group_id": group_id})
    assert resp.status_code == 200, resp.text
    return resp.json()


def test_create_shows_the_key_once(admin):
    created = create_key(admin)
    key = created["unmasked_key"]
    assert re.fullmatch(r"mb_[A-Za-z0-9+/]{43}=", key) and len(key) == 47
    assert created["masked_key"] == key[:7] + "*" * 40
    assert created["group"] == {"id": ADMINS, "name": "Administrators"}
    assert created["updated_by"] == {"common_name": "Admin User", "id": 1}
    assert created["name"] == "ci" and {"created_at", "updated_at", "id"} <= set(created)
    listed = admin.get("/api/api-key").json()
    assert listed == [{k: v for k, v in created.items() if k != "unmasked_key"}]
    assert admin.get("/api/api-key/count").json() == 1


def test_key_authenticates_as_its_group(admin, emulator):
    admin_key = create_key(admin, "admin-key")["unmasked_key"]
    plain_key = create_key(admin, "plain-key", ALL_USERS)["unmasked_key"]
    for header in ("X-API-Key", "x-api-key", "X-API-KEY"):
        as_admin = make_client(emulator, **{header: admin_key})
        assert as_admin.get("/api/user/current").json()["is_superuser"] is True
        assert as_admin.get("/api/user").status_code == 200
    as_plain = make_client(emulator, **{"X-API-Key": plain_key})
    assert as_plain.get("/api/user/current").json()["is_superuser"] is False
    assert as_plain.get("/api/user").status_code == 403
    assert make_client(emulator, **{"X-API-Key": admin_key[:-2] + "xx"}).get("/api/user/current").status_code == 401


def test_key_user_is_hidden_and_sits_in_all_users_and_the_group(admin, emulator):
    sales = admin.post("/api/permissions/group", json={"name": "Sales"}).json()
    created = create_key(admin, "reporting", sales["id"])
    me = make_client(emulator, **{"X-API-Key": created["unmasked_key"]}).get("/api/user/current").json()
    assert me["first_name"] == "reporting" and me["last_name"] == ""
    assert re.fullmatch(r"api-key-user-[0-9a-f-]{36}@api-key\.invalid", me["email"])
    assert me["group_ids"] == [ALL_USERS, sales["id"]]
    assert emulator.state.table("user").get(me["id"])["type"] == "api-key"
    assert me["id"] not in {u["id"] for u in admin.get("/api/user", params={"status": "all"}).json()["data"]}
    assert me["personal_collection_id"] is None


def test_duplicate_name_is_400(admin):
    create_key(admin, "dup")
    resp = admin.post("/api/api-key", json={"name": "dup", "group_id": ALL_USERS})
    assert resp.status_code == 400
    assert resp.json() == {"errors": {"name": "An API key with this name already exists."}}


def test_put_renames_and_regroups(admin, emulator):
    sales = admin.post("/api/permissions/group", json={"name": "Sales"}).json()
    created = create_key(admin, "old", ADMINS)
    updated = admin.put(f"/api/api-key/{created['id']}", json={"name": "new", "group_id": sales["id"]}).json()
    assert updated["name"] == "new" and updated["group"] == {"id": sales["id"], "name": "Sales"}
    as_key = make_client(emulator, **{"X-API-Key": created["unmasked_key"]})
    me = as_key.get("/api/user/current").json()
    assert me["first_name"] == "new" and me["is_superuser"] is False and me["group_ids"] == [ALL_USERS, sales["id"]]
    assert admin.put("/api/api-key/999", json={"name": "x"}).status_code == 404


def test_regenerate_replaces_the_secret(admin, emulator):
    created = create_key(admin)
    fresh = admin.put(f"/api/api-key/{created['id']}/regenerate").json()
    assert set(fresh) == {"id", "unmasked_key", "masked_key", "prefix"}
    assert fresh["prefix"] == fresh["unmasked_key"][:7] and fresh["masked_key"].startswith(fresh["prefix"] + "***")
    assert make_client(emulator, **{"X-API-Key": created["unmasked_key"]}).get("/api/user/current").status_code == 401
    assert make_client(emulator, **{"X-API-Key": fresh["unmasked_key"]}).get("/api/user/current").status_code == 200
    assert admin.get("/api/api-key").json()[0]["masked_key"] == fresh["masked_key"]


def test_delete_revokes_the_key_and_deactivates_its_user(admin, emulator):
    created = create_key(admin)
    user_id = make_client(emulator, **{"X-API-Key": created["unmasked_key"]}).get("/api/user/current").json()["id"]
    assert admin.delete(f"/api/api-key/{created['id']}").status_code == 204
    assert make_client(emulator, **{"X-API-Key": created["unmasked_key"]}).get("/api/user/current").status_code == 401
    assert admin.get(f"/api/user/{user_id}").json()["is_active"] is False
    assert admin.get("/api/api-key").json() == [] and admin.get("/api/api-key/count").json() == 0
    assert admin.delete(f"/api/api-key/{created['id']}").status_code == 404


def test_non_admins_cannot_manage_keys(admin, emulator):
    new_user(admin, "bob@example.com")
    bob = login(emulator, "bob@example.com")
    for resp in (bob.get("/api/api-key"), bob.get("/api/api-key/count"),
                 bob.post("/api/api-key", json={"name": "mine", "group_id": ADMINS})):
        assert resp.status_code == 403 and resp.text == "You don't have permissions to do that."


@pytest.mark.allow_invalid_requests
def test_create_needs_name_and_group(admin):
    resp = admin.post("/api/api-key", json={"name": "x"})
    assert resp.status_code == 400 and "group_id" in resp.json()["errors"]
