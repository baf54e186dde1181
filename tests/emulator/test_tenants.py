"""Tenants (0.58+, Enterprise `tenants`): /api/ee/tenant, tenant users, shared tenant collections, as Metabase's
source has them (models/tenants.py cites it)."""

from __future__ import annotations

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
    off = api.put("/api/setting/use-tenants", json={"value": False})
    assert off.status_code == 500 and "a tenant user exists" in off.text


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
