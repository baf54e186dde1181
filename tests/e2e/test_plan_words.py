"""A plan says what apply then writes, on the `current` seed's content holding objects Metabase makes itself (users'
personal collections, tenants' own collections, the Library's Data, Metrics and Dashboards, All tenant users and its
members): each `+` is a write that makes the object, an adopted object (`=`) is never POSTed, and each `-` of --prune
is a write (a pruned user's personal collection and a pruned tenant's own collection are left to Metabase)."""

from __future__ import annotations

import json
import shutil

import pytest

from mbport.check import load_tree
from mbport.client import MetabaseClient
from mbport.emulator import Emulator, bootstrap, seeds
from mbport.engine import Importer
from mbport.export import run_export
from mbport.secrets import Secrets
from mbport.state import State
from tests.conftest import ADMIN_EMAIL, ADMIN_PASSWORD, transforms_on, writes_since


def makes(write: tuple) -> bool:
    """A write that makes an object: a POST, or one of the PUTs Metabase makes objects with: its cache configuration
    is an upsert (cache/api.clj `PUT /`), and a document's new cards go in its body (documents/api.clj
    `PUT /:document-id`, `cards` with negative ids)."""
    method, path = write[:2]
    return method == "POST" or method == "PUT" and (path == "/api/cache" or path.startswith("/api/document/"))


ADOPTED = {  # the `=` lines: what Metabase makes with the user, the tenant, the Library, the tenants setting
    "collection 'Alice Customer's Personal Collection'", "collection 'Gus Customer's Personal Collection'",
    "collection 'Rita Reporter's Personal Collection'", "collection 'Tom Triage's Personal Collection'",
    "collection 'Uma Upstairs's Personal Collection'", "collection 'Tenant Collection: Acme'",
    "collection 'Tenant Collection: Globex'", "collection 'Data'", "collection 'Metrics'", "collection 'Dashboards'",
    "group 'All tenant users'", "membership 'All tenant users'"}


def instance(seed: str | None = None) -> tuple[Emulator, MetabaseClient]:
    emu = transforms_on(Emulator("0.65", premium_features="all", sqlite_actions=True))
    session = bootstrap.setup_admin(emu, ADMIN_EMAIL, ADMIN_PASSWORD)
    if seed:
        seeds.load(emu, seed, session)
        emu.wait_idle()
    # one request at a time: the writes between two progress calls are the object's that reported last
    return emu, MetabaseClient("http://metabase.test", session_token=session, transport=emu.transport(), concurrency=1)


@pytest.fixture(scope="module")
def tree(tmp_path_factory, registry):
    _, source = instance("current")
    out = tmp_path_factory.mktemp("words") / "tree"
    run_export(source, registry, out, options={"include_personal": True})
    return out


def importer(api, registry, tree, state, **options) -> Importer:
    return Importer(api, registry, load_tree(tree, registry), State.load(state, api.url), {"secrets": Secrets(env={}),
                                                                                          **options})


def applied(imp: Importer, emu: Emulator, plan) -> tuple[dict[str, list[tuple]], list[tuple]]:
    """Apply `plan`: ({address: the writes made for it}, the writes after the last object's: deferred refs,
    positions, archives)."""
    per: dict[str, list[tuple]] = {}
    mark = [len(emu.request_log)]

    def progress(addr: str, _action: str) -> None:
        per.setdefault(addr, []).extend(writes_since(emu, mark[0]))
        mark[0] = len(emu.request_log)

    result = imp.apply(plan, progress)
    assert result.failed == {} and result.skipped == []
    return per, writes_since(emu, mark[0])


def test_every_create_is_a_write_that_makes_it_and_an_adopted_object_is_never_posted(tree, registry, tmp_path):
    emu, api = instance()
    imp = importer(api, registry, tree, tmp_path / "state.json")
    plan = imp.plan()
    assert plan.problems == []
    adopted = {c.line().split(" (")[0][2:] for c in plan.of("adopt")}
    assert adopted == ADOPTED
    assert "12 to adopt (=)" in plan.summary() and any(n.startswith("= = not on the target yet") for n in plan.notes())
    # The permission graphs name groups and collections still to be created: known once they exist (their grants are
    # what Metabase gives new ones, so nothing is written), never a sure '~'.
    assert {c.address for c in plan.of("after-creates")} == {
        "data-permissions/graph", "collection-permissions/default", "collection-permissions/snippets"}
    assert "3 to compare after creating (~?)" in plan.summary() and any(n.startswith("~? = ") for n in plan.notes())
    updates = plan.of("update")
    per, _ = applied(imp, emu, plan)
    for change in updates:  # each '~' is a write
        assert per.get(change.address), f"{change.line()}: apply wrote nothing"
    for change in plan.of("after-creates"):
        assert per.get(change.address, []) == [], change.line()
    for change in plan.of("create"):
        assert any(makes(w) for w in per.get(change.address, [])), \
            f"{change.line()}: apply made no write that creates it: {per.get(change.address)}"
    for change in plan.of("adopt"):  # as Metabase made them (the Library's Data, Metrics, Dashboards too): no write
        assert per.get(change.address, []) == [], change.line()
    assert not importer(api, registry, tree, tmp_path / "state.json").plan().has_changes


def without_gus_and_globex(tree, pruned, *more: str):
    """A copy of the tree without Gus (a tenant user) and his tenant Globex, their own collections, and `more`."""
    shutil.copytree(tree, pruned)
    for rel in ("tenants/globex.json", "collections/@tenants/globex.json", "users/gus-globex-example.json",
                "collections/@personal/gus-globex-example.json", *more):
        (pruned / rel).unlink()
    for path in (pruned / "memberships").glob("*.json"):
        doc = json.loads(path.read_text())
        doc["members"] = [m for m in doc.get("members", []) if m["user"]["$ref"] != "users/gus@globex.example"]
        path.write_text(json.dumps(doc))
    return pruned


@pytest.mark.parametrize("old_state", [False, True], ids=["state", "state-of-an-earlier-mbport"])
def test_prune_lists_only_what_it_writes(tree, registry, tmp_path, old_state):
    """Gus (a tenant user) and his tenant Globex leave the tree with their own collections: --prune deactivates the
    user and the tenant, and lists neither the personal collection (Metabase refuses to archive it) nor the tenant's
    own (archived by the tenant's deactivation), even with a state whose earlier import recorded them as created."""
    emu, api = instance()
    first = importer(api, registry, tree, tmp_path / "state.json")
    applied(first, emu, first.plan())
    api.put("/api/user/6/reactivate")  # the tree has both deactivated: someone turned them on again on the target
    api.put("/api/ee/tenant/2", json={"is_active": True})
    if old_state:
        for addr in first.tree.docs:  # an earlier mbport recorded what it adopted as created
            first.state.record(addr, first.state.ids[addr], created=True)
        first.state.save()
    pruned = without_gus_and_globex(tree, tmp_path / "pruned")
    imp = importer(api, registry, pruned, tmp_path / "state.json", prune=True)
    plan = imp.plan()
    assert [c.line() for c in plan.changes if c.action != "noop"] == [
        "- tenant 'Globex' (tenants/globex)", "- user 'gus@globex.example' (users/gus@globex.example)"]
    per, archives = applied(imp, emu, plan)
    assert per == {} and [w[:2] for w in archives] == [("PUT", "/api/ee/tenant/2"), ("DELETE", "/api/user/6")]


def test_prune_leaves_alone_what_the_target_has_archived_or_deactivated_already(tree, registry, tmp_path):
    """What --prune would archive or deactivate and the target has so already (Gus and Globex, deactivated in the
    tree; the deactivated webhook; a question someone archived on the target) is neither listed nor written; a
    transform job, which --prune deletes, is, though it is disabled. A second plan is empty."""
    emu, api = instance()
    first = importer(api, registry, tree, tmp_path / "state.json")
    applied(first, emu, first.plan())
    job = json.loads((tree / "transform-jobs/weekly-archive.json").read_text())
    job_id = first.state.ids[f"transform-jobs/{job['entity_id']}"]
    pruned = without_gus_and_globex(tree, tmp_path / "pruned", "channels/old-hook.json",
                                    "transform-jobs/weekly-archive.json")
    live = next(p for p in (pruned / "cards").rglob("*.json")
                if not json.loads(p.read_text()).get("archived")
                and not any(json.loads(p.read_text())["entity_id"] in q.read_text()
                            for q in pruned.rglob("*.json") if q != p))
    gone = json.loads(live.read_text())
    live.unlink()
    api.put(f"/api/card/{first.state.ids['cards/' + gone['entity_id']]}", json={"archived": True})
    imp = importer(api, registry, pruned, tmp_path / "state.json", prune=True)
    plan = imp.plan()
    assert [c.line() for c in plan.changes if c.action != "noop"] == [
        f"- transform-job 'Weekly archive' (transform-jobs/{job['entity_id']})"]
    per, archives = applied(imp, emu, plan)
    assert per == {} and [w[:2] for w in archives] == [("DELETE", f"/api/transform-job/{job_id}")]
    assert api.get(f"/api/user/{first.state.ids['users/gus@globex.example']}")["is_active"] is False
    assert not importer(api, registry, pruned, tmp_path / "state.json", prune=True).plan().has_changes


def test_a_grant_of_a_group_and_collection_the_target_has_is_a_sure_update(tree, registry, tmp_path):
    """All Users may only read 'Our analytics' in this tree: a fresh target has that pair already (write, Metabase's
    default), so the graph is a '~' apply writes, whatever it creates; the pairs of new groups and collections are
    compared once they exist. A second plan is empty."""
    emu, api = instance()
    edited = tmp_path / "tree"
    shutil.copytree(tree, edited)
    path = edited / "collection-permissions/default.json"
    doc = json.loads(path.read_text())
    for grant in doc["grants"]:
        if grant["group"] == {"$ref": "groups/All Users"} and grant["collection"] == "root":
            grant["access"] = "read"
    path.write_text(json.dumps(doc))
    imp = importer(api, registry, edited, tmp_path / "state.json")
    plan = imp.plan()
    assert [c.line() for c in plan.changes if "permission" in c.address] == [
        "~? data-permission 'graph' (data-permissions/graph): grants",
        "~ collection-permission 'default' (collection-permissions/default): grants",
        "~? collection-permission 'snippets' (collection-permissions/snippets): grants"]
    per, _ = applied(imp, emu, plan)
    all_users = next(g["id"] for g in api.get("/api/permissions/group") if g.get("magic_group_type") == "all-internal-users")
    assert [w[:2] for w in per["collection-permissions/default"]] == [("PUT", "/api/collection/graph")]
    assert api.get("/api/collection/graph")["groups"][str(all_users)]["root"] == "read"
    assert not per.get("data-permissions/graph") and not per.get("collection-permissions/snippets")
    assert not importer(api, registry, edited, tmp_path / "state.json").plan().has_changes


def test_a_new_group_without_members_is_one_write(registry, tmp_path):
    """A group someone made and gave no one: its import is the group's POST. Its empty member list comes with it
    ('=', never a '+' apply writes nothing for), and the graphs, which name it, are compared once it exists: Metabase
    gives a new group no collection grants and All Users' data permissions, as the source had them."""
    _, source = instance()
    source.post("/api/permissions/group", json={"name": "Auditors"})
    run_export(source, registry, tmp_path / "tree")
    emu, api = instance()
    imp = importer(api, registry, tmp_path / "tree", tmp_path / "state.json")
    plan = imp.plan()
    assert sorted(c.line() for c in plan.changes if c.action != "noop") == [
        "+ group 'Auditors' (groups/Auditors)",
        "= membership 'Auditors' (memberships/Auditors)",
        "~? collection-permission 'default' (collection-permissions/default): grants",
        "~? collection-permission 'snippets' (collection-permissions/snippets): grants",
        "~? data-permission 'graph' (data-permissions/graph): grants"]
    before = len(emu.request_log)
    imp.apply(plan)
    assert [w[:2] for w in writes_since(emu, before)] == [("POST", "/api/permissions/group")]
    assert not importer(api, registry, tmp_path / "tree", tmp_path / "state.json").plan().has_changes
