"""Permission groups and memberships behave like Metabase's (api-surface.md §7, §22; conformance 6, 8, 14, 18, 19)."""

import pytest

from mbport.emulator import events
from tests.conftest import make_client
from tests.emulator.test_users import ADMINS, ALL_USERS, login, new_user


def test_fresh_instance_has_exactly_the_two_magic_groups(admin):
    groups = admin.get("/api/permissions/group").json()
    assert isinstance(groups, list)
    assert [(g["id"], g["name"], g["magic_group_type"], g["member_count"]) for g in groups] == [
        (ADMINS, "Administrators", "admin", 1), (ALL_USERS, "All Users", "all-internal-users", 1)]
    assert len(groups[0]["entity_id"]) == 21 and groups[0]["is_tenant_group"] is False


def test_groups_ordered_by_lower_name_and_paged_as_a_bare_array(admin):
    for name in ("beta", "Alpha", "zeta"):
        assert admin.post("/api/permissions/group", json={"name": name}).status_code == 200
    names = [g["name"] for g in admin.get("/api/permissions/group").json()]
    assert names == ["Administrators", "All Users", "Alpha", "beta", "zeta"]
    page = admin.get("/api/permissions/group", params={"limit": 2, "offset": 2}).json()
    assert [g["name"] for g in page] == ["Alpha", "beta"]


def test_member_count_counts_active_members_only(admin):
    gone = new_user(admin, "gone@example.com")
    new_user(admin, "here@example.com")
    admin.delete(f"/api/user/{gone['id']}")
    counts = {g["name"]: g["member_count"] for g in admin.get("/api/permissions/group").json()}
    assert counts == {"Administrators": 1, "All Users": 2}


def test_create_group_shape_uniqueness_and_graph_hook(admin, emulator):
    seen = []

    def record(state, group):
        seen.append(group["name"])

    events.on("group.created")(record)
    try:
        group = admin.post("/api/permissions/group", json={"name": "Sales"}).json()
    finally:
        events.off("group.created", record)
    assert set(group) >= {"id", "name", "entity_id", "magic_group_type", "is_tenant_group"}
    assert group["magic_group_type"] is None and seen == ["Sales"]
    dup = admin.post("/api/permissions/group", json={"name": "sALES"})
    assert dup.status_code == 400 and dup.text == "A group with that name already exists."


def test_magic_groups_cannot_be_renamed_or_deleted(admin):
    for gid, name in ((ALL_USERS, "All Users"), (ADMINS, "Administrators")):
        message = f"You cannot edit or delete the '{name}' permissions group!"
        renamed = admin.put(f"/api/permissions/group/{gid}", json={"name": "Renamed"})
        assert renamed.status_code == 400 and renamed.text == message
        deleted = admin.delete(f"/api/permissions/group/{gid}")
        assert deleted.status_code == 400 and deleted.text == message
    assert len(admin.get("/api/permissions/group").json()) == 2


def test_rename_and_delete_a_group(admin):
    sales = admin.post("/api/permissions/group", json={"name": "Sales"}).json()
    admin.post("/api/permissions/group", json={"name": "Ops"})
    assert admin.put(f"/api/permissions/group/{sales['id']}", json={"name": "Revenue"}).json()["name"] == "Revenue"
    taken = admin.put(f"/api/permissions/group/{sales['id']}", json={"name": "OPS"})
    assert taken.status_code == 400 and taken.text == "A group with that name already exists."
    assert admin.put("/api/permissions/group/999", json={"name": "x"}).status_code == 404
    user = new_user(admin, "s@example.com", user_group_memberships=[{"id": ALL_USERS}, {"id": sales["id"]}])
    assert admin.delete(f"/api/permissions/group/{sales['id']}").status_code == 204
    assert admin.get(f"/api/permissions/group/{sales['id']}").status_code == 404
    assert admin.get(f"/api/user/{user['id']}").json()["user_group_memberships"] == [{"id": ALL_USERS}]


def test_get_group_lists_members(admin):
    sales = admin.post("/api/permissions/group", json={"name": "Sales"}).json()
    bob = new_user(admin, "bob@example.com", first_name="Bob", user_group_memberships=[{"id": ALL_USERS}, {"id": sales["id"]}])
    got = admin.get(f"/api/permissions/group/{sales['id']}").json()
    assert got["name"] == "Sales" and len(got["members"]) == 1
    member = got["members"][0]
    assert {k: member[k] for k in ("user_id", "first_name", "email", "group_id")} == {
        "user_id": bob["id"], "first_name": "Bob", "email": "bob@example.com", "group_id": sales["id"]}
    assert isinstance(member["membership_id"], int)
    assert admin.get("/api/permissions/group/999").status_code == 404


def test_membership_map_is_keyed_by_user_id(admin):
    bob = new_user(admin, "bob@example.com")
    memberships = admin.get("/api/permissions/membership").json()
    assert set(memberships) == {"1", str(bob["id"])}
    assert memberships[str(bob["id"])] == [
        {"membership_id": memberships[str(bob["id"])][0]["membership_id"], "group_id": ALL_USERS,
         "user_id": bob["id"], "is_group_manager": False}]


def test_add_membership_returns_members_and_admin_join_makes_superuser(admin):
    bob = new_user(admin, "bob@example.com", first_name="Bob")
    # is_group_manager has a default, so it may be left out.
    members = admin.post("/api/permissions/membership", json={"group_id": ADMINS, "user_id": bob["id"]}).json()
    assert {m["user_id"] for m in members} == {1, bob["id"]}
    assert admin.get(f"/api/user/{bob['id']}").json()["is_superuser"] is True
    membership_id = next(m["membership_id"] for m in members if m["user_id"] == bob["id"])
    assert admin.delete(f"/api/permissions/membership/{membership_id}").status_code == 204
    assert admin.get(f"/api/user/{bob['id']}").json()["is_superuser"] is False


def test_last_admin_membership_cannot_be_removed(admin):
    admin_membership = admin.get("/api/permissions/membership").json()["1"][1]
    assert admin_membership["group_id"] == ADMINS
    resp = admin.delete(f"/api/permissions/membership/{admin_membership['membership_id']}")
    assert resp.status_code == 400 and resp.text == "You cannot remove the last member of the 'Admin' group!"
    assert admin.delete("/api/permissions/membership/999").status_code == 404


def test_all_users_membership_is_fixed(admin):
    bob = new_user(admin, "bob@example.com")
    message = "You cannot add or remove users to/from the 'All Users' group."
    membership = admin.get("/api/permissions/membership").json()[str(bob["id"])][0]
    removed = admin.delete(f"/api/permissions/membership/{membership['membership_id']}")
    assert removed.status_code == 400 and removed.text == message
    cleared = admin.put(f"/api/permissions/membership/{ALL_USERS}/clear")
    assert cleared.status_code == 400 and cleared.text == message


def test_clear_group(admin):
    sales = admin.post("/api/permissions/group", json={"name": "Sales"}).json()
    for i in range(2):
        new_user(admin, f"s{i}@example.com", user_group_memberships=[{"id": ALL_USERS}, {"id": sales["id"]}])
    assert admin.put(f"/api/permissions/membership/{sales['id']}/clear").status_code == 204
    assert admin.get(f"/api/permissions/group/{sales['id']}").json()["members"] == []
    refused = admin.put(f"/api/permissions/membership/{ADMINS}/clear")
    assert refused.status_code == 400 and refused.text == "Invalid Request."
    assert admin.put("/api/permissions/membership/999/clear").status_code == 404


def test_group_managers_are_enterprise_only(admin):
    bob = new_user(admin, "bob@example.com")
    sales = admin.post("/api/permissions/group", json={"name": "Sales"}).json()
    resp = admin.post("/api/permissions/membership", json={"group_id": sales["id"], "user_id": bob["id"], "is_group_manager": True})
    assert resp.status_code == 402 and resp.json()["status"] == "error-premium-feature-not-available"
    membership_id = admin.get("/api/permissions/membership").json()[str(bob["id"])][0]["membership_id"]
    assert admin.put(f"/api/permissions/membership/{membership_id}", json={"is_group_manager": True}).status_code == 402


def test_non_admins_get_403_plain_text(admin, emulator):
    new_user(admin, "bob@example.com")
    bob = login(emulator, "bob@example.com")
    for resp in (bob.get("/api/permissions/group"), bob.get("/api/permissions/membership"),
                 bob.post("/api/permissions/group", json={"name": "Mine"}),
                 bob.post("/api/permissions/membership", json={"group_id": ADMINS, "user_id": 2})):
        assert resp.status_code == 403 and resp.text == "You don't have permissions to do that."
        assert resp.headers["content-type"].startswith("text/plain")


@pytest.mark.allow_invalid_requests
def test_blank_group_name_is_rejected(admin):
    assert admin.post("/api/permissions/group", json={"name": ""}).status_code == 400


def test_anonymous_is_401(emulator):
    assert make_client(emulator).get("/api/permissions/group").status_code == 401


def test_deleting_a_group_drops_its_collection_grants(admin, emulator):
    """The `group.deleted` event reaches the collection graph, not only the data permissions graph."""
    gid = admin.post("/api/permissions/group", json={"name": "Temp"}).json()["id"]
    revision = admin.get("/api/collection/graph").json()["revision"]
    resp = admin.put("/api/collection/graph", json={"revision": revision, "groups": {str(gid): {"root": "read"}}})
    assert resp.status_code == 200, resp.text
    grants = emulator.state.extra["collection_permissions"]["perms"]
    assert gid in grants
    assert admin.delete(f"/api/permissions/group/{gid}").status_code == 204
    assert gid not in grants
