"""Tenants of the `current` seed (0.65 Enterprise): tenants, their users, tenant groups (the magic "All tenant users"
among them), the shared tenant collection and each tenant's own collection (made with the tenant: adopted, never made
a second time) with what is in it round-trip equal on both servers (tenants are written before their users); a target
without tenants refuses them in plan."""

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
        own = [c for archived in ("false", "true") for c in api.get("/api/collection", params={
            "namespace": "tenant-specific", "archived": archived}).json() if isinstance(c.get("id"), int)]
        cards = api.get("/api/card", params={"f": "all"}).json()
        setting = api.get("/api/setting/use-tenants").json()
        groups = api.get("/api/permissions/group").json()
        by_user = api.get("/api/permissions/membership").json()
    names = {c["id"]: c["name"] for c in shared if isinstance(c.get("id"), int)}
    root_of = {t["tenant_collection_id"]: t["slug"] for t in tenants}
    own_name = {c["id"]: root_of.get(c["id"]) or c["name"] for c in own}  # a root by its tenant, others by name
    group_name = {g["id"]: g["name"] for g in groups}
    email = {u["id"]: u["email"] for u in users}
    return {
        "use-tenants": setting,
        "tenants": sorted((t["name"], t["slug"], t["attributes"], t["is_active"], t["member_count"]) for t in tenants),
        "tenant users": sorted((u["email"], slug.get(u["tenant_id"]), u["is_active"]) for u in users),
        "shared collections": sorted(names.values()),
        "cards in them": sorted(c["name"] for c in cards if c.get("collection_id") in names),
        "tenants' own collections": sorted(("/".join(own_name[int(p)] for p in c["location"].strip("/").split("/") if p),
                                            own_name[c["id"]], c["archived"]) for c in own),
        "cards in tenants' own": sorted((own_name[c["collection_id"]], c["name"]) for c in cards
                                        if c.get("collection_id") in own_name),
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
    assert wanted["tenants' own collections"] == [("", "acme", False), ("", "globex", True), ("acme", "Acme drafts", False)]
    assert wanted["cards in tenants' own"] == [("Acme drafts", "Acme draft orders"), ("acme", "Acme orders")]
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
    assert any("collection 'Acme drafts'" in p and "tenant collections" in p for p in problems), problems
    assert any(p.startswith("Problem: groups/All tenant users:") and doc_why in p for p in problems), problems


def test_pruning_a_tenant_deactivates_it_and_leaves_its_own_collection_to_metabase(instances, tmp_path):
    """A tenant gone from the tree is deactivated by --prune, which archives its own collection (tenants/api.clj
    `update-tenant!`); mbport never archives that collection itself (Metabase refuses: collections_rest/api.clj)."""
    source = instances.add("small", profile="0.65", premium="all")
    with source.api() as api:
        api.put("/api/setting/use-tenants", json={"value": True})
        root = api.post("/api/ee/tenant", json={"name": "Initech", "slug": "initech"}).json()["tenant_collection_id"]
        api.post("/api/collection", json={"name": "Initech drafts", "parent_id": root})
    tree = tmp_path / "tree"
    assert mbport("export", "--url", source.url, "--session-token", source.session, "--out", tree).code == 0
    target = instances.add("small-target", profile="0.65", premium="all")
    assert mbport("import", tree, *flags(target, tmp_path)).code == 0
    (tree / "tenants" / "initech.json").unlink()
    (tree / "collections" / "@tenants" / "initech.json").unlink()
    (tree / "collections" / "@tenants" / "initech" / "initech-drafts.json").unlink()
    run = mbport("import", tree, *flags(target, tmp_path, "--prune"))
    assert run.code == 0, run.out + run.err
    with target.api() as api:
        tenant = api.get("/api/ee/tenant").json()["data"][0]
        own = api.get(f"/api/collection/{tenant['tenant_collection_id']}").json()
        drafts = [c for c in api.get("/api/collection", params={"namespace": "tenant-specific", "archived": "true"}).json()
                  if c.get("name") == "Initech drafts"]
    assert (tenant["is_active"], own["archived"], [c["archived"] for c in drafts]) == (False, True, [True])
