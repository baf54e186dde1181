"""/api/user behaves like Metabase's (api-surface.md §6, §22; conformance items 6, 15-18)."""

import importlib

import pytest

import mbport.emulator.models as models_package
from tests.conftest import ADMIN_EMAIL, ADMIN_PASSWORD, make_client

ALL_USERS, ADMINS = 1, 2


@pytest.fixture
def fake_area(monkeypatch):
    """Give another area's models module the functions a test needs."""
    def install(name, **functions):
        module = importlib.import_module(f"{models_package.__name__}.{name}")
        for attr, fn in functions.items():
            monkeypatch.setattr(module, attr, fn, raising=False)
        return module
    return install


def new_user(admin, email, password="Passw0rd-x", **fields):
    resp = admin.post("/api/user", json={"email": email, "password": password, **fields})
    assert resp.status_code == 200, resp.text
    return resp.json()


def login(emulator, email, password="Passw0rd-x"):
    resp = make_client(emulator).post("/api/session", json={"username": email, "password": password})
    assert resp.status_code == 200, resp.text
    return make_client(emulator, **{"X-Metabase-Session": resp.json()["id"]})


# ---- listing ----

def test_list_is_an_envelope_of_personal_users_ordered_by_name(admin):
    new_user(admin, "zed@example.com", first_name="zed")
    new_user(admin, "amy@example.com", first_name="Amy", last_name="Zhu")
    new_user(admin, "amy2@example.com", first_name="amy", last_name="Adams")
    body = admin.get("/api/user").json()
    assert set(body) == {"data", "total", "limit", "offset"}
    assert body["limit"] is None and body["offset"] is None and body["total"] == 4
    assert [u["email"] for u in body["data"]] == [
        "admin@example.com", "amy2@example.com", "amy@example.com", "zed@example.com"]
    item = body["data"][0]
    assert item["group_ids"] == [ALL_USERS, ADMINS] and "personal_collection_id" in item
    assert "user_group_memberships" not in item
    assert item["common_name"] == "Admin User" and item["is_superuser"] is True


def test_list_pages_with_limit_and_offset(admin):
    for i in range(3):
        new_user(admin, f"u{i}@example.com", first_name=f"U{i}")
    body = admin.get("/api/user", params={"limit": 2, "offset": 1}).json()
    assert body["total"] == 4 and body["limit"] == 2 and body["offset"] == 1
    assert [u["email"] for u in body["data"]] == ["u0@example.com", "u1@example.com"]


def test_list_status_and_include_deactivated(admin):
    gone = new_user(admin, "gone@example.com")
    assert admin.delete(f"/api/user/{gone['id']}").json() == {"success": True}

    def emails(**params):
        return {u["email"] for u in admin.get("/api/user", params=params).json()["data"]}

    assert emails() == {ADMIN_EMAIL}
    assert emails(status="all") == {ADMIN_EMAIL, "gone@example.com"}
    assert emails(include_deactivated="true") == {ADMIN_EMAIL, "gone@example.com"}
    assert emails(status="deactivated") == {"gone@example.com"}
    assert emails(status="active", include_deactivated="true") == {ADMIN_EMAIL}


def test_list_filters_by_query_and_group(admin):
    lucky = new_user(admin, "lucky@example.com", first_name="Lucky", last_name="Pigeon")
    new_user(admin, "rasta@example.com", first_name="Rasta")
    assert [u["id"] for u in admin.get("/api/user", params={"query": "pIGe"}).json()["data"]] == [lucky["id"]]
    assert [u["email"] for u in admin.get("/api/user", params={"group_id": ADMINS}).json()["data"]] == [ADMIN_EMAIL]


def test_api_key_users_are_never_listed(admin):
    assert admin.post("/api/api-key", json={"name": "ci", "group_id": ADMINS}).status_code == 200
    body = admin.get("/api/user", params={"status": "all"}).json()
    assert body["total"] == 1 and [u["email"] for u in body["data"]] == [ADMIN_EMAIL]


# ---- reading one user ----

def test_get_user_has_memberships_and_recorded_keys(admin):
    user = new_user(admin, "bob@example.com", first_name="Bob", login_attributes={"region": "EU", "level": 3})
    got = admin.get(f"/api/user/{user['id']}").json()
    recorded = {"email", "first_name", "locale", "structured_attributes", "last_login", "is_active",
                "user_group_memberships", "is_qbnewb", "jwt_attributes", "updated_at", "is_superuser",
                "login_attributes", "id", "last_name", "tenant_id", "date_joined", "sso_source", "common_name"}
    assert recorded <= set(got) and "personal_collection_id" not in got
    assert got["user_group_memberships"] == [{"id": ALL_USERS}]
    assert got["login_attributes"] == {"region": "EU", "level": "3"}
    assert got["structured_attributes"]["region"] == {"source": "user", "frozen": False, "value": "EU"}


def test_current_user(admin):
    me = admin.get("/api/user/current").json()
    assert me["email"] == ADMIN_EMAIL and me["is_superuser"] is True and me["is_installer"] is True
    assert me["group_ids"] == [ALL_USERS, ADMINS] and "personal_collection_id" in me


def test_missing_user_is_404(admin):
    resp = admin.get("/api/user/999")
    assert resp.status_code == 404 and resp.text == "Not found."


def test_non_admin_reads_only_themselves(admin, emulator):
    bob = new_user(admin, "bob@example.com")
    bob_client = login(emulator, "bob@example.com")
    assert bob_client.get(f"/api/user/{bob['id']}").json()["email"] == "bob@example.com"
    assert bob_client.get("/api/user/current").json()["id"] == bob["id"]
    for resp in (bob_client.get("/api/user/1"), bob_client.get("/api/user"),
                 bob_client.post("/api/user", json={"email": "x@example.com"}),
                 bob_client.delete("/api/user/1")):
        assert resp.status_code == 403
        assert resp.text == "You don't have permissions to do that."


# ---- creating ----

def test_create_honours_password_and_lowercases_email(admin, emulator):
    user = new_user(admin, "Carol@Example.COM", password="S3cret-pass", first_name="Carol")
    assert user["email"] == "carol@example.com" and user["user_group_memberships"] == [{"id": ALL_USERS}]
    assert login(emulator, "carol@example.com", "S3cret-pass").get("/api/user/current").json()["id"] == user["id"]


def test_create_ignores_is_superuser_and_makes_admins_via_the_group(admin):
    plain = admin.post("/api/user", json={"email": "p@example.com", "is_superuser": True}).json()
    assert plain["is_superuser"] is False and plain["user_group_memberships"] == [{"id": ALL_USERS}]
    boss = admin.post("/api/user", json={
        "email": "boss@example.com", "user_group_memberships": [{"id": ALL_USERS}, {"id": ADMINS}]}).json()
    assert boss["is_superuser"] is True
    assert boss["user_group_memberships"] == [{"id": ALL_USERS}, {"id": ADMINS}]


def test_create_duplicate_email_is_case_insensitive(admin):
    new_user(admin, "dup@example.com")
    resp = admin.post("/api/user", json={"email": "DUP@example.com"})
    assert resp.status_code == 400
    assert resp.json() == {"errors": {"email": "Email address already in use."}}


@pytest.mark.allow_invalid_requests
def test_create_needs_a_valid_email(admin):
    for body in ({"first_name": "x"}, {"email": "not-an-email"}):
        resp = admin.post("/api/user", json=body)
        assert resp.status_code == 400 and resp.json()["errors"]["email"] == "value must be a valid email address."


def test_create_without_all_users_in_memberships_fails_whole(admin):
    group = admin.post("/api/permissions/group", json={"name": "Sales"}).json()
    resp = admin.post("/api/user", json={"email": "s@example.com", "user_group_memberships": [{"id": group["id"]}]})
    assert resp.status_code == 400 and resp.text == "You cannot add or remove users to/from the 'All Users' group."
    assert admin.get("/api/user", params={"query": "s@example"}).json()["total"] == 0


def test_personal_collection_created_for_people_not_api_keys(admin, emulator, fake_area):
    created = []

    def create_personal_collection(state, user):
        created.append(user["email"])
        return state.table("collection").insert({"name": "pc", "personal_owner_id": user["id"]})

    fake_area("collections", create_personal_collection=create_personal_collection)
    user = new_user(admin, "pc@example.com")
    admin.post("/api/api-key", json={"name": "k", "group_id": ALL_USERS})
    assert "pc@example.com" in created and not any(e.endswith("api-key.invalid") for e in created)
    item = next(u for u in admin.get("/api/user").json()["data"] if u["id"] == user["id"])
    assert item["personal_collection_id"] == emulator.state.table("collection").first(personal_owner_id=user["id"])["id"]


# ---- updating ----

def test_put_sets_the_complete_membership_set(admin):
    group = admin.post("/api/permissions/group", json={"name": "Sales"}).json()
    user = new_user(admin, "m@example.com")
    got = admin.put(f"/api/user/{user['id']}", json={
        "user_group_memberships": [{"id": ALL_USERS}, {"id": group["id"]}, {"id": ADMINS}]}).json()
    assert got["is_superuser"] is True
    assert got["user_group_memberships"] == [{"id": ALL_USERS}, {"id": ADMINS}, {"id": group["id"]}]
    got = admin.put(f"/api/user/{user['id']}", json={"user_group_memberships": [{"id": ALL_USERS}]}).json()
    assert got["is_superuser"] is False and got["user_group_memberships"] == [{"id": ALL_USERS}]


def test_put_is_superuser_toggles_the_admin_group(admin):
    user = new_user(admin, "t@example.com", first_name="T")
    assert admin.put(f"/api/user/{user['id']}", json={"is_superuser": True}).json()["user_group_memberships"] == [
        {"id": ALL_USERS}, {"id": ADMINS}]
    got = admin.put(f"/api/user/{user['id']}", json={"is_superuser": False, "last_name": "Rex"}).json()
    assert got["is_superuser"] is False and got["common_name"] == "T Rex"
    assert got["user_group_memberships"] == [{"id": ALL_USERS}]


def test_put_rejects_is_superuser_disagreeing_with_memberships(admin):
    user = new_user(admin, "d@example.com")
    resp = admin.put(f"/api/user/{user['id']}", json={"is_superuser": True, "user_group_memberships": [{"id": ALL_USERS}]})
    assert resp.status_code == 400 and "is_superuser" in resp.json()["errors"]


def test_put_only_active_users_and_unique_emails(admin):
    user = new_user(admin, "a@example.com")
    new_user(admin, "b@example.com")
    resp = admin.put(f"/api/user/{user['id']}", json={"email": "B@example.com"})
    assert resp.status_code == 400 and resp.json() == {"errors": {"email": "Email address already associated to another user."}}
    admin.delete(f"/api/user/{user['id']}")
    assert admin.put(f"/api/user/{user['id']}", json={"first_name": "X"}).status_code == 404


def test_non_admin_can_rename_self_but_not_change_groups(admin, emulator):
    bob = new_user(admin, "bob@example.com")
    bob_client = login(emulator, "bob@example.com")
    assert bob_client.put(f"/api/user/{bob['id']}", json={"first_name": "Robert"}).json()["first_name"] == "Robert"
    resp = bob_client.put(f"/api/user/{bob['id']}", json={"user_group_memberships": [{"id": ALL_USERS}, {"id": ADMINS}]})
    assert resp.status_code == 403
    assert bob_client.put("/api/user/1", json={"first_name": "Evil"}).status_code == 403


# ---- deactivation ----

def test_delete_deactivates_and_blocks_login(admin, emulator):
    # Leaving the subscriptions (the `user.deactivated` event): test_pulses.py's deactivation test.
    user = new_user(admin, "leaver@example.com")
    assert admin.delete(f"/api/user/{user['id']}").json() == {"success": True}
    assert admin.get(f"/api/user/{user['id']}").json()["is_active"] is False
    resp = make_client(emulator).post("/api/session", json={"username": "leaver@example.com", "password": "Passw0rd-x"})
    assert resp.status_code == 401 and resp.json() == {"errors": {"_error": "Your account is disabled."}}


def test_last_admin_cannot_be_deactivated(admin):
    resp = admin.delete("/api/user/1")
    assert resp.status_code == 400 and resp.text == "You cannot remove the last member of the 'Admin' group!"
    other = new_user(admin, "second@example.com", user_group_memberships=[{"id": ALL_USERS}, {"id": ADMINS}])
    assert admin.delete(f"/api/user/{other['id']}").status_code == 200


def test_reactivate(admin):
    user = new_user(admin, "back@example.com", user_group_memberships=[{"id": ALL_USERS}, {"id": ADMINS}])
    resp = admin.put(f"/api/user/{user['id']}/reactivate")
    assert resp.status_code == 400 and resp.json() == {"message": "Not able to reactivate an active user"}
    admin.delete(f"/api/user/{user['id']}")
    back = admin.put(f"/api/user/{user['id']}/reactivate").json()
    assert back["is_active"] is True and back["is_superuser"] is False
    assert admin.get(f"/api/user/{user['id']}").json()["user_group_memberships"] == [{"id": ALL_USERS}]


# ---- passwords, reset urls, recipients ----

def test_admin_resets_a_password(admin, emulator):
    user = new_user(admin, "pw@example.com")
    old_client = login(emulator, "pw@example.com")
    resp = admin.put(f"/api/user/{user['id']}/password", json={"password": "N3w-password"})
    assert resp.status_code == 204
    assert old_client.get("/api/user/current").status_code == 401  # sessions end with the old password
    login(emulator, "pw@example.com", "N3w-password")


def test_changing_your_own_password_needs_the_old_one(admin, emulator):
    user = new_user(admin, "me@example.com")
    me = login(emulator, "me@example.com")
    wrong = me.put(f"/api/user/{user['id']}/password", json={"password": "N3w-password", "old_password": "nope"})
    assert wrong.status_code == 400 and wrong.json() == {"errors": {"old_password": "Invalid password"}}
    weak = me.put(f"/api/user/{user['id']}/password", json={"password": "short", "old_password": "Passw0rd-x"})
    assert weak.status_code == 400 and weak.json()["errors"]["password"] == "password is too common."
    ok = me.put(f"/api/user/{user['id']}/password", json={"password": "N3w-password", "old_password": "Passw0rd-x"})
    assert ok.status_code == 200 and ok.json()["success"] is True
    fresh = make_client(emulator, **{"X-Metabase-Session": ok.json()["session_id"]})
    assert fresh.get("/api/user/current").json()["id"] == user["id"]


def test_password_reset_url_uses_site_url(admin):
    admin.put("/api/setting/site-url", json={"value": "https://mb.example.com"})
    user = new_user(admin, "r@example.com")
    url = admin.post(f"/api/user/{user['id']}/password-reset-url").json()["password_reset_url"]
    assert url.startswith(f"https://mb.example.com/auth/reset_password/{user['id']}_")


def test_recipients_lists_active_people_for_everyone(admin, emulator):
    new_user(admin, "r1@example.com", first_name="Ann", last_name="Zed")
    gone = new_user(admin, "r2@example.com")
    admin.delete(f"/api/user/{gone['id']}")
    body = login(emulator, "r1@example.com").get("/api/user/recipients").json()
    assert set(body) == {"data", "total", "limit", "offset"} and body["total"] == 2
    assert {u["email"] for u in body["data"]} == {ADMIN_EMAIL, "r1@example.com"}
    assert set(body["data"][0]) == {"id", "email", "first_name", "last_name", "common_name"}
    assert "is_superuser" in admin.get("/api/user/recipients").json()["data"][0]


def test_admin_login_still_works_after_all_this(emulator, admin):
    assert login(emulator, ADMIN_EMAIL, ADMIN_PASSWORD).get("/api/user/current").status_code == 200
