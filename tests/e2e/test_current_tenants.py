"""Tenants of the `current` seed (0.65 Enterprise): tenants, their users, tenant groups (the magic "All tenant users"
among them) and the shared tenant collection round-trip equal on both servers (tenants are written before their users);
a target without tenants refuses them in plan."""

from __future__ import annotations

import pytest

from tests.e2e.instances import Instance, mbport, routed_instances
from tests.e2e.test_current_studio import current_instance, export_current, flags, refused


@pytest.fixture
def instances(monkeypatch):
    return routed_instances(monkeypatch)


@pytest.fixture
def exported(instances, tmp_path):
    return export_current(instances, tmp_path)



def tenant_view(inst: Instance) -> dict:
    with inst.api() as api:
        tenants = api.get("/api/ee/tenant").json()["data"]
        slug = {t["id"]: t["slug"] for t in tenants}
        users = api.get("/api/user", params={"status": "all", "tenancy": "external"}).json()["data"]
        shared = api.get("/api/collection", params={"namespace": "shared-tenant-collection"}).json()
        cards = api.get("/api/card", params={"f": "all"}).json()
        setting = api.get("/api/setting/use-tenants").json()
        groups = api.get("/api/permissions/group").json()
        by_user = api.get("/api/permissions/membership").json()
    names = {c["id"]: c["name"] for c in shared if isinstance(c.get("id"), int)}
    group_name = {g["id"]: g["name"] for g in groups}
    email = {u["id"]: u["email"] for u in users}
    return {
        "use-tenants": setting,
        "tenants": sorted((t["name"], t["slug"], t["attributes"], t["is_active"], t["member_count"]) for t in tenants),
        "tenant users": sorted((u["email"], slug.get(u["tenant_id"]), u["is_active"]) for u in users),
        "shared collections": sorted(names.values()),
        "cards in them": sorted(c["name"] for c in cards if c.get("collection_id") in names),
        "groups": sorted((g["name"], g["magic_group_type"], g["is_tenant_group"], g["member_count"]) for g in groups),
        "tenant users' groups": sorted((email[int(u)], sorted(group_name[m["group_id"]] for m in ms))
                                       for u, ms in by_user.items() if int(u) in email),
    }


def test_tenants_their_users_and_shared_collections_round_trip(exported, instances, tmp_path):
    source, tree = exported
    assert (tree / "tenants" / "acme.json").is_file()
    target = current_instance(instances, "target")
    run = mbport("import", tree, *flags(target, tmp_path))
    assert run.code == 0, run.err
    wanted = tenant_view(source)
    assert wanted["tenants"] == [("Acme", "acme", {"region": "EU"}, True, 1), ("Globex", "globex", None, False, 0)]
    assert wanted["tenant users"] == [("alice@acme.example", "acme", True), ("gus@globex.example", "globex", False)]
    assert wanted["cards in them"] == ["Order volume"]
    assert ("All tenant users", "all-external-users", True, 1) in wanted["groups"]  # Gus is inactive: not counted
    assert ("Customer analysts", None, True, 1) in wanted["groups"]
    assert wanted["tenant users' groups"] == [("alice@acme.example", ["All tenant users", "Customer analysts"]),
                                              ("gus@globex.example", ["All tenant users"])]
    assert tenant_view(target) == wanted  # the same groups: All tenant users matched, not made a second time
    again = mbport("plan", tree, *flags(target, tmp_path))
    assert again.code == 0 and "Plan: 0 to create, 0 to update" in again.out, again.out


@pytest.mark.parametrize(("profile", "premium", "kind_why", "doc_why"), [
    ("0.65", None, "its token has no tenants feature", "its token has no tenants feature, which tenants need"),
    ("0.56", "all", "has no tenants (they exist from 0.58 on)", "has no tenants (they exist from 0.58 on)"),
])
def test_a_target_without_tenants_refuses_them_in_plan_by_name(exported, instances, tmp_path, profile, premium,
                                                              kind_why, doc_why):
    problems = refused(instances, exported[1], tmp_path, profile, premium)
    assert any(p.startswith("Problem: tenants/acme: the target cannot hold tenants") and kind_why in p
               for p in problems), problems
    assert any("users/alice@acme.example: the target cannot hold user 'alice@acme.example'" in p and doc_why in p
               for p in problems), problems
    assert any("collection 'Customer reports'" in p for p in problems), problems
    assert any(p.startswith("Problem: groups/All tenant users:") and doc_why in p for p in problems), problems
