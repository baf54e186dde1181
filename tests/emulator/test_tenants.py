"""Tenants (0.58+, Enterprise `tenants`): /api/ee/tenant, tenant users, shared tenant collections, as Metabase's
source has them (models/tenants.py cites it)."""

from __future__ import annotations

import sqlite3

import pytest

from mbport.emulator import Emulator, bootstrap
from tests.conftest import ADMIN_EMAIL, ADMIN_PASSWORD, make_client


def instance(profile: str = "0.65", premium: str | None = "all"):
    emu = Emulator(profile, premium_features=premium)
    session = bootstrap.setup_admin(emu, ADMIN_EMAIL, ADMIN_PASSWORD)
    return make_client(emu, **{"X-Metabase-Session": session})


@pytest.fixture
def api():
    return instance()


@pytest.mark.allow_invalid_requests  # a slug the spec's pattern refuses
def test_a_tenant_has_a_unique_name_and_slug_and_its_own_collection(api):
    made = api.post("/api/ee/tenant", json={"name": "Acme", "slug": "acme", "attributes": {"region": "EU"}})
    assert made.status_code == 200, made.text
    tenant = made.json()
    assert set(tenant) == {"id", "name", "slug", "is_active", "member_count", "attributes", "tenant_collection_id"}
    assert (tenant["is_active"], tenant["member_count"]) == (True, 0)
    assert api.get(f"/api/collection/{tenant['tenant_collection_id']}").json()["namespace"] == "tenant-specific"
    again = api.post("/api/ee/tenant", json={"name": "Other", "slug": "acme"})
    assert (again.status_code, again.text) == (400, "This tenant name or slug is already taken.")
    assert api.post("/api/ee/tenant", json={"name": "Bad", "slug": "Not A Slug"}).status_code == 400
    assert api.get("/api/ee/tenant").json() == {"data": [tenant]}
    assert api.get("/api/ee/tenant", params={"status": "deactivated"}).json() == {"data": []}


def test_a_tenants_own_collection_is_named_after_it_and_only_its_deactivation_changes_it(api):
    """tenants/model.clj `define-before-insert` names it; collections_rest/api.clj `PUT /:id` refuses any change;
    collections/create.clj `apply-defaults-to-collection` gives its children its namespace, not its type."""
    tenant = api.post("/api/ee/tenant", json={"name": "Acme", "slug": "acme"}).json()
    root_id = tenant["tenant_collection_id"]
    root = api.get(f"/api/collection/{root_id}").json()
    assert (root["name"], root["type"], root["location"]) == (
        "Tenant Collection: Acme", "tenant-specific-root-collection", "/")
    for change in ({"name": "Renamed"}, {"archived": True}, {"description": "words"}):
        assert api.put(f"/api/collection/{root_id}", json=change).status_code == 400, change
    assert api.get(f"/api/collection/{root_id}").json()["name"] == "Tenant Collection: Acme"
    child = api.post("/api/collection", json={"name": "Drafts", "parent_id": root_id}).json()
    assert (child["namespace"], child["type"], child["location"]) == ("tenant-specific", None, f"/{root_id}/")
    listed = {c["name"] for c in api.get("/api/collection", params={"namespace": "tenant-specific"}).json()}
    assert {"Tenant Collection: Acme", "Drafts"} <= listed
    assert not {"Tenant Collection: Acme", "Drafts"} & {c["name"] for c in api.get("/api/collection").json()}


def test_tenant_users_need_use_tenants_and_go_with_their_tenant(api):
    tenant = api.post("/api/ee/tenant", json={"name": "Acme", "slug": "acme"}).json()
    user = {"email": "alice@acme.example", "first_name": "Alice", "tenant_id": tenant["id"]}
    refused = api.post("/api/user", json=user)
    assert refused.status_code == 400 and "Tenants are not enabled" in refused.text
    assert api.put("/api/setting/use-tenants", json={"value": True}).status_code == 204
    alice = api.post("/api/user", json=user).json()
    assert alice["tenant_id"] == tenant["id"]
    internal = [u["email"] for u in api.get("/api/user").json()["data"]]
    assert "alice@acme.example" not in internal  # the list shows internal users unless asked
    assert [u["email"] for u in api.get("/api/user", params={"tenancy": "external"}).json()["data"]] == [
        "alice@acme.example"]
    assert api.get(f"/api/ee/tenant/{tenant['id']}").json()["member_count"] == 1
    api.put(f"/api/ee/tenant/{tenant['id']}", json={"is_active": False})
    assert api.get(f"/api/user/{alice['id']}").json()["is_active"] is False
    assert api.get(f"/api/collection/{tenant['tenant_collection_id']}").json()["archived"] is True
    api.put(f"/api/ee/tenant/{tenant['id']}", json={"is_active": True})
    assert api.get(f"/api/user/{alice['id']}").json()["is_active"] is True
    assert api.get(f"/api/collection/{tenant['tenant_collection_id']}").json()["archived"] is False
    assert api.put("/api/setting/use-tenants", json={"value": False}).status_code == 204  # update-use-tenants!
    assert api.get(f"/api/user/{alice['id']}").json()["is_active"] is False
    assert api.get(f"/api/ee/tenant/{tenant['id']}").json()["is_active"] is False
    api.put("/api/setting/use-tenants", json={"value": True})
    api.put(f"/api/ee/tenant/{tenant['id']}", json={"is_active": True})  # brings back who went with it
    assert api.get(f"/api/user/{alice['id']}").json()["is_active"] is True


def test_a_shared_tenant_collection_needs_tenants_on(api):
    body = {"name": "Customer reports", "namespace": "shared-tenant-collection"}
    assert api.post("/api/collection", json=body).status_code == 400
    api.put("/api/setting/use-tenants", json={"value": True})
    made = api.post("/api/collection", json=body)
    assert made.status_code == 200 and made.json()["namespace"] == "shared-tenant-collection"
    listed = api.get("/api/collection", params={"namespace": "shared-tenant-collection"}).json()
    assert "Customer reports" in {c["name"] for c in listed}
    assert "Customer reports" not in {c["name"] for c in api.get("/api/collection").json()}


def test_tenants_are_enterprise_and_0_58_on():
    oss = instance(premium=None)
    assert oss.get("/api/ee/tenant").status_code == 402
    assert oss.put("/api/setting/use-tenants", json={"value": True}).status_code == 500
    assert instance(profile="0.56").get("/api/ee/tenant").status_code == 404


def test_turning_tenants_on_makes_the_all_tenant_users_group_tenant_users_join_instead_of_all_users(api):
    assert api.get("/api/permissions/group", params={"tenancy": "external"}).json() == []
    api.put("/api/setting/use-tenants", json={"value": True})
    groups = {g["magic_group_type"]: g for g in api.get("/api/permissions/group").json()}
    tenant_users = groups["all-external-users"]
    assert (tenant_users["name"], tenant_users["is_tenant_group"]) == ("All tenant users", True)
    assert groups["all-internal-users"]["name"] == "All internal users"  # maybe-fix-name, tenants on
    assert [g["id"] for g in api.get("/api/permissions/group", params={"tenancy": "external"}).json()] == [
        tenant_users["id"]]
    tenant = api.post("/api/ee/tenant", json={"name": "Acme", "slug": "acme"}).json()
    alice = api.post("/api/user", json={"email": "alice@acme.example", "tenant_id": tenant["id"]}).json()
    assert [m["id"] for m in alice["user_group_memberships"]] == [tenant_users["id"]]
    locked = api.post("/api/permissions/membership", json={"group_id": tenant_users["id"], "user_id": 1})
    assert (locked.status_code, locked.text) == (400, "You cannot add or remove users to/from the 'All tenant users' group.")
    assert api.delete(f"/api/permissions/group/{tenant_users['id']}").status_code == 400
    internal = api.post("/api/permissions/group", json={"name": "Analysts"}).json()
    mixed = api.post("/api/permissions/membership", json={"group_id": internal["id"], "user_id": alice["id"]})
    assert (mixed.status_code, mixed.text) == (400, "Cannot add non-tenant user to tenant-group or vice versa")
    customers = api.post("/api/permissions/group", json={"name": "Customers", "is_tenant_group": True}).json()
    assert customers["is_tenant_group"] is True
    assert api.post("/api/permissions/membership", json={"group_id": customers["id"],
                                                          "user_id": alice["id"]}).status_code == 200


def test_tenant_groups_are_hidden_while_tenants_are_off(api):
    api.put("/api/setting/use-tenants", json={"value": True})
    api.put("/api/setting/use-tenants", json={"value": False})
    groups = api.get("/api/permissions/group").json()
    assert {g["name"] for g in groups} == {"All Users", "Administrators"}
    api.put("/api/setting/use-tenants", json={"value": True})
    assert [g["name"] for g in api.get("/api/permissions/group", params={"tenancy": "external"}).json()] == [
        "All tenant users"]  # made once, found again


def test_a_tenant_group_needs_the_tenants_feature():
    oss = instance(premium=None)
    assert oss.post("/api/permissions/group", json={"name": "Customers", "is_tenant_group": True}).status_code == 402


MALFORMED = [  # each refused by the newer release's body or path checks
    ("POST", "/api/ee/tenant", {"slug": "acme"}),
    ("PUT", "/api/ee/tenant/1", {"name": 7}),
    ("POST", "/api/ee/data-studio/table/publish-tables", {"table_ids": "all"}),
    ("POST", "/api/measure", {"name": "Revenue"}),
    ("PUT", "/api/measure/1", {"name": 7}),
    ("GET", "/api/metric/not-a-number", None),
]


@pytest.mark.allow_invalid_requests  # malformed on purpose
@pytest.mark.parametrize(("method", "path", "body"), MALFORMED)
def test_a_release_before_the_route_answers_404_before_looking_at_the_body(method, path, body):
    current = instance().request(method, path, json=body)
    assert current.status_code == 400, current.text
    older = instance(profile="0.56").request(method, path, json=body)
    assert older.status_code == 404, older.text


def test_a_tenant_group_gets_the_least_data_permissions_on_every_database(api, tmp_path):
    """data_permissions.clj `set-external-group-permissions!` (permissions_group.clj `set-default-permission-values!`
    for a tenant group, database.clj for a new database): not All Users' levels, the least of each."""
    api.put("/api/setting/use-tenants", json={"value": True})
    analysts = api.post("/api/permissions/group", json={"name": "Customer analysts", "is_tenant_group": True}).json()
    staff = api.post("/api/permissions/group", json={"name": "Staff"}).json()
    sqlite3.connect(tmp_path / "later.db").execute("CREATE TABLE t (id INTEGER)")
    db = api.post("/api/database", json={"engine": "sqlite", "name": "Later", "details": {"db": str(tmp_path / "later.db")}})
    assert db.status_code == 200, db.text
    graph = api.get("/api/permissions/graph").json()["groups"]
    tenants = {g["magic_group_type"]: g["id"] for g in api.get("/api/permissions/group").json()}["all-external-users"]
    for gid in (analysts["id"], tenants):  # the least of everything, which the graph leaves out (blocked, no, none)
        assert str(gid) not in graph, graph
    assert {p["view-data"] for p in graph[str(staff["id"])].values()} == {"unrestricted"}
