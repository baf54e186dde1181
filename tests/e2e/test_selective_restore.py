"""Restore one thing: `--select` imports the selection and what it needs that the target lacks or holds
differently, and nothing else; judged by the server's detail GETs of every object before and after."""

from __future__ import annotations

import json

import pytest

from mbport.check import load_tree
from mbport.client import MetabaseClient
from mbport.emulator import Emulator, bootstrap, seeds
from mbport.engine import Importer
from mbport.errors import MbportError
from mbport.export import run_export
from mbport.refs import address_kind, collect_refs
from mbport.selection import resolve_selection
from mbport.state import State
from tests.conftest import ADMIN_EMAIL, ADMIN_PASSWORD, writes_since

# (list endpoint, list params, detail endpoint): every object a restore could touch, read as the server holds it.
LISTED = (
    ("/api/card", ({"f": "all"}, {"f": "archived"}), "/api/card/{}"),
    ("/api/dashboard", ({"f": "all"}, {"f": "archived"}), "/api/dashboard/{}"),
    ("/api/collection", ({}, {"archived": "true"}), "/api/collection/{}"),
    ("/api/pulse", ({}, {"archived": "true"}), "/api/pulse/{}"),
    ("/api/alert", ({}, {"archived": "true"}), "/api/alert/{}"),
    ("/api/permissions/group", ({},), "/api/permissions/group/{}"),
    ("/api/user", ({"status": "all"},), "/api/user/{}"),
    ("/api/native-query-snippet", ({}, {"archived": "true"}), "/api/native-query-snippet/{}"),
    ("/api/segment", ({},), "/api/segment/{}"),
    ("/api/timeline", ({}, {"archived": "true"}), "/api/timeline/{}"),
    ("/api/database", ({},), "/api/database/{}"),
    ("/api/table", ({},), "/api/table/{}"),
)
GRAPHS = ("/api/permissions/graph", "/api/collection/graph", "/api/permissions/membership")
# Fields a read itself changes (view counters), timestamps, and the server's bookkeeping of how a query was
# written (clause uuids; a marker on queries it converted from MBQL 4): not what the object is.
VOLATILE = {"view_count", "last_viewed_at", "last_used_at", "updated_at", "last-edit-info", "revision", "lib/uuid",
            "lib.convert/converted?",
            "dashboard_count",  # derived from the dashboards: a card on a restored dashboard counts it again
            "legacy_query",  # derived from dataset_query, which is compared
            "archived_directly"}  # how it was archived: null on a seeded row, false once unarchived


def _clean(value):
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items() if k not in VOLATILE}
    if isinstance(value, list):
        return [_clean(v) for v in value]
    return value


def server_objects(api) -> dict[tuple[str, object], object]:
    """(detail endpoint, id) → the object's detail GET, for every object of every kind listed above."""
    held = {}
    for endpoint, params_list, detail in LISTED:
        ids = set()
        for params in params_list:
            rows = api.get(endpoint, params=params)
            rows = rows.get("data", rows) if isinstance(rows, dict) else rows
            ids |= {r["id"] for r in rows if isinstance(r.get("id"), int)}
        for ident in sorted(ids):
            held[(detail, ident)] = _clean(api.get(detail.format(ident)))
    for endpoint in GRAPHS:
        held[(endpoint, None)] = _clean(api.get(endpoint))
    return held


@pytest.fixture
def world(tmp_path, registry):
    """A seeded instance, its snapshot (tree) taken now, and an importer factory for selective restores."""
    emu = Emulator()
    session = bootstrap.setup_admin(emu, ADMIN_EMAIL, ADMIN_PASSWORD)
    seeds.load(emu, "sample", session)
    emu.wait_idle()
    api = MetabaseClient("http://m.test", session_token=session, transport=emu.transport())
    out = tmp_path / "snapshot"
    run_export(api, registry, out)
    tree = load_tree(out, registry)

    def importer(*selections, only=False):
        t = load_tree(out, registry)
        roots = resolve_selection(registry, t.docs, selections, t.paths, "in the tree")
        return Importer(api, registry, t, State.load(tmp_path / "state.json", api.url),
                        {"select": roots, "only": only})

    def snapshot_again():
        run_export(api, registry, out)
        return load_tree(out, registry)

    importer.snapshot_again = snapshot_again
    yield emu, api, tree, importer
    api.close()


def by_name(tree, kind, name):
    return next(a for a, d in tree.docs.items() if a.startswith(kind + "/") and d.get("name") == name)


def restore(importer, api, expected: set[str], actions: dict[str, str] | None = None):
    """Plan (exactly `expected` changes), apply, and return the server's objects before and after."""
    plan = importer.plan()
    assert plan.problems == []
    changed = {c.address: c.action for c in plan.changes if c.action != "noop"}
    assert set(changed) == expected, "\n".join(c.line() for c in plan.changes if c.action != "noop")
    for addr, action in (actions or {}).items():
        assert changed[addr] == action
    before = server_objects(api)
    result = importer.apply(plan)
    assert result.failed == {} and result.skipped == []
    return plan, before, server_objects(api)


def assert_untouched_except(before, after, touched: set[tuple[str, object]]):
    """Every object outside `touched` reads the same before and after; nothing else appeared or vanished."""
    assert {k for k in before if k not in after} <= touched
    assert {k for k in after if k not in before} <= touched
    differ = sorted((k for k in before.keys() & after.keys() if k not in touched and before[k] != after[k]), key=repr)
    assert differ == [], [(k, sorted(f for f in set(before[k]) | set(after[k]) if before[k].get(f) != after[k].get(f)))
                          for k in differ[:3]]


def test_a_deleted_dashboard_and_its_deleted_card_come_back_and_nothing_else_changes(world, registry):
    emu, api, tree, importer = world
    dash_addr = by_name(tree, "dashboards", "Sales overview")
    dash = next(api.get(f"/api/dashboard/{d['id']}") for d in api.get("/api/dashboard")
                if d["name"] == "Sales overview")
    refs = {u: {registry.owner(r) for r in registry[address_kind(u)].refs(d)} for u, d in tree.docs.items()}
    users = {a: {u for u in tree.docs if a in refs[u]} for a in tree.docs}
    card = next(c for dc in dash["dashcards"] if dc.get("card_id") and not (c := api.get(f"/api/card/{dc['card_id']}"))
                .get("dashboard_id") and {a.split("/")[0] for a in users[f"cards/{c['entity_id']}"]} <= {"dashboards", "pulses"})
    card_addr = f"cards/{card['entity_id']}"
    pulse = next(p for p in api.get("/api/pulse") if p["dashboard_id"] == dash["id"])
    api.delete(f"/api/card/{card['id']}")
    api.delete(f"/api/dashboard/{dash['id']}")
    assert api.get("/api/pulse") == [p for p in api.get("/api/pulse") if p["id"] != pulse["id"]]  # died with it

    # Metabase deleted the dashboard's subscription and its dashboard question with it: parts of the selection.
    question = next(a for a, d in tree.docs.items() if d.get("dashboard") == {"$ref": dash_addr})
    plan, before, after = restore(importer("dashboard:Sales overview"), api,
                                  {dash_addr, card_addr, question, f"pulses/{pulse['entity_id']}"},
                                  {dash_addr: "create", card_addr: "create"})
    needed = next(c for c in plan.changes if c.address == card_addr).needed_by
    assert f"{dash_addr} (Sales overview)" in needed

    new = next(d for d in api.get("/api/dashboard") if d["name"] == "Sales overview")
    new = api.get(f"/api/dashboard/{new['id']}")
    assert new["entity_id"] != dash["entity_id"] or new["id"] != dash["id"]
    assert new["parameters"] == dash["parameters"]
    shape = lambda d: sorted(((dc.get("card") or {}).get("name") or "", dc["row"], dc["col"], dc["size_x"])  # noqa: E731
                             for dc in d["dashcards"])
    assert shape(new) == shape(dash)
    wiring = lambda d: sorted(str(m.get("target")) for dc in d["dashcards"] for m in dc["parameter_mappings"])  # noqa: E731
    assert wiring(new) == wiring(dash)
    recreated = next(dc["card"] for dc in new["dashcards"] if (dc.get("card") or {}).get("name") == card["name"])
    assert _clean(recreated["dataset_query"]) == _clean(card["dataset_query"])
    pulses = [p for p in api.get("/api/pulse") if p["dashboard_id"] == new["id"]]
    assert [p["name"] for p in pulses] == [pulse["name"]]
    assert [c["name"] for c in pulses[0]["cards"]] == [c["name"] for c in pulse["cards"]]

    touched = {k for k in after if k not in before}  # the recreated dashboard, card and subscription
    assert sorted(k[0] for k in touched) == ["/api/card/{}", "/api/card/{}", "/api/dashboard/{}", "/api/pulse/{}"]
    assert_untouched_except(before, after, touched)
    assert not importer("dashboard:Sales overview").plan().has_changes


def named(api, endpoint, name, params=None):
    rows = api.get(endpoint, params=params or {})
    return next(r for r in (rows.get("data", rows) if isinstance(rows, dict) else rows) if r.get("name") == name)


def test_an_archived_card_is_brought_back_not_duplicated(world):
    emu, api, tree, importer = world
    card = named(api, "/api/card", "Revenue by product category", {"f": "all"})
    was = server_objects(api)
    api.put(f"/api/card/{card['id']}", json={"archived": True})
    addr = f"cards/{card['entity_id']}"
    _, before, after = restore(importer("card:Revenue by product category"), api, {addr}, {addr: "update"})
    assert before[("/api/card/{}", card["id"])]["archived"]
    # The same card, unarchived in its collection; every other object (and what they show of it) as before.
    assert_untouched_except(was, after, set())


def test_a_changed_dashboard_is_rolled_back_to_the_snapshot(world):
    emu, api, tree, importer = world
    dash = named(api, "/api/dashboard", "Sales overview")
    was = api.get(f"/api/dashboard/{dash['id']}")
    pulse = next(p for p in api.get("/api/pulse") if p["dashboard_id"] == dash["id"])
    api.put(f"/api/dashboard/{dash['id']}", json={
        "name": "Sales (broken)", "parameters": was["parameters"][1:], "tabs": was["tabs"],
        "dashcards": [{k: dc[k] for k in ("id", "card_id", "row", "col", "size_x", "size_y", "dashboard_tab_id")}
                      | {"parameter_mappings": [], "visualization_settings": {}} for dc in was["dashcards"][2:]]})
    addr = by_name(tree, "dashboards", "Sales overview")
    # Metabase took the removed dashcards out of the dashboard's subscription too: a part of the dashboard.
    _, before, after = restore(importer(tree.paths[addr]), api, {addr, f"pulses/{pulse['entity_id']}"},  # by path
                               {addr: "update"})
    now = api.get(f"/api/dashboard/{dash['id']}")
    assert now["name"] == "Sales overview" and now["parameters"] == was["parameters"]

    def layout(d):
        return sorted((dc.get("card_id") and api.get(f"/api/card/{dc['card_id']}")["name"] or "", dc["row"], dc["col"],
                       dc["size_x"], dc["size_y"], json.dumps(_clean(dc["parameter_mappings"]), sort_keys=True),
                       json.dumps(_clean(dc["visualization_settings"]), sort_keys=True)) for dc in d["dashcards"])

    assert layout(now) == layout(was)
    assert [c["name"] for c in api.get(f"/api/pulse/{pulse['id']}")["cards"]] == [c["name"] for c in pulse["cards"]]
    for held in (before, after):  # its questions show the dashboard (its name): that is the restored dashboard
        for key in held:
            if key[0] == "/api/card/{}" and held[key].get("dashboard_id") == dash["id"]:
                held[key].pop("dashboard")
    assert_untouched_except(before, after, {("/api/dashboard/{}", dash["id"]), ("/api/pulse/{}", pulse["id"])})


def test_an_archived_collection_comes_back_with_its_contents(world):
    emu, api, tree, importer = world
    coll = named(api, "/api/collection", "Marketing")
    inside = {a for a, d in tree.docs.items() if d.get("collection") == {"$ref": f"collections/{coll['entity_id']}"}}
    assert inside
    was = {k: v for k, v in server_objects(api).items()}
    api.put(f"/api/collection/{coll['id']}", json={"archived": True})
    # Metabase's collection graph leaves archived collections out: the plan puts their grants back (the write
    # then finds them there again, once the collection is unarchived).
    plan, before, after = restore(importer(coll["entity_id"]), api,  # selected by entity id
                                  {f"collections/{coll['entity_id']}", "collection-permissions/default"} | inside)
    assert_untouched_except(was, after, set())  # the collection and everything in it as before; nothing else


def test_a_deleted_group_comes_back_with_its_members_and_permissions(world):
    emu, api, tree, importer = world
    group = named(api, "/api/permissions/group", "Sales")
    members = sorted(m["email"] for m in api.get(f"/api/permissions/group/{group['id']}")["members"])
    data_before = api.get("/api/permissions/graph")["groups"]
    coll_before = api.get("/api/collection/graph")["groups"]
    assert data_before[str(group["id"])]
    api.delete(f"/api/permissions/group/{group['id']}")
    plan, before, after = restore(importer("group:Sales"), api, {
        "groups/Sales", "memberships/Sales", "data-permissions/graph"}
        | ({"collection-permissions/default"} if coll_before.get(str(group["id"])) else set()))
    new = named(api, "/api/permissions/group", "Sales")
    assert sorted(m["email"] for m in api.get(f"/api/permissions/group/{new['id']}")["members"]) == members
    data_after = api.get("/api/permissions/graph")["groups"]
    coll_after = api.get("/api/collection/graph")["groups"]
    assert data_after[str(new["id"])] == data_before[str(group["id"])]
    assert coll_after.get(str(new["id"])) == coll_before.get(str(group["id"]))
    others = lambda g, gid: {k: v for k, v in g.items() if k != str(gid)}  # noqa: E731
    assert others(data_after, new["id"]) == others(data_before, group["id"])
    assert others(coll_after, new["id"]) == others(coll_before, group["id"])
    for key, held in after.items():  # the members show their group again: that is the restored group
        if key[0] == "/api/user/{}":
            held["user_group_memberships"] = [m for m in held["user_group_memberships"] if m["id"] != new["id"]]
    touched = {("/api/permissions/group/{}", new["id"])} | {(g, None) for g in GRAPHS}
    assert_untouched_except(before, after, touched)


def test_only_imports_the_selection_and_stops_on_what_the_target_lacks(world, registry):
    emu, api, tree, importer = world
    dash = named(api, "/api/dashboard", "Sales overview")
    card = next(dc["card_id"] for dc in api.get(f"/api/dashboard/{dash['id']}")["dashcards"] if dc.get("card_id"))
    api.delete(f"/api/card/{card}")
    api.delete(f"/api/dashboard/{dash['id']}")
    start = len(emu.request_log)
    plan = importer("dashboard:Sales overview", only=True).plan()
    assert any("which the target lacks; select it too, or leave out --only" in p for p in plan.problems)
    selection = resolve_selection(registry, tree.docs, ["dashboard:Sales overview"])
    assert {c.address for c in plan.changes if c.action != "noop"} <= selection  # the deleted card is not in it
    with pytest.raises(MbportError, match="problem"):
        importer("dashboard:Sales overview", only=True).apply(plan)
    assert writes_since(emu, start) == []


def test_pins_outside_the_selection_stay_as_the_target_has_them(world):
    emu, api, tree, importer = world
    pinned, deleted = [c for c in api.get("/api/card", params={"f": "all"})
                       if c["collection_id"] and not c.get("dashboard_id") and not c["archived"]
                       and c["type"] == "question"][:2]
    assert pinned["collection_id"] == deleted["collection_id"]
    api.put(f"/api/card/{pinned['id']}", json={"collection_position": 1})
    api.put(f"/api/card/{deleted['id']}", json={"collection_position": 2})
    importer.snapshot_again()  # the snapshot has both pinned
    api.put(f"/api/card/{pinned['id']}", json={"collection_position": None})  # unpinned since: not selected
    api.delete(f"/api/card/{deleted['id']}")
    restoring = importer(f"cards/{deleted['entity_id']}")
    plan = restoring.plan()
    assert [c.address for c in plan.changes if c.action != "noop"] == [f"cards/{deleted['entity_id']}"]
    restoring.apply(plan)
    assert api.get(f"/api/card/{pinned['id']}")["collection_position"] is None
    assert named(api, "/api/card", deleted["name"], {"f": "all"})["collection_position"] == 2


def test_a_deleted_card_brings_back_the_archived_snippet_it_uses(world):
    emu, api, tree, importer = world
    card = named(api, "/api/card", "Orders by status (SQL)", {"f": "all"})
    card_addr = f"cards/{card['entity_id']}"
    snippet_addr = next(r for r in collect_refs(tree.docs[card_addr]) if r.startswith("snippets/"))
    snippet = next(s for s in api.get("/api/native-query-snippet") if f"snippets/{s['name']}" == snippet_addr
                   or s.get("entity_id") == snippet_addr.split("/", 1)[1])
    was = server_objects(api)
    api.put(f"/api/native-query-snippet/{snippet['id']}", json={"archived": True})
    api.delete(f"/api/card/{card['id']}")
    plan, before, after = restore(importer("card:Orders by status (SQL)"), api, {card_addr, snippet_addr},
                                  {card_addr: "create", snippet_addr: "update"})
    assert next(c for c in plan.changes if c.address == snippet_addr).needed_by == [
        f"{card_addr} (Orders by status (SQL))"]
    new = named(api, "/api/card", "Orders by status (SQL)", {"f": "all"})
    tags = new["dataset_query"]["stages"][0]["template-tags"]
    assert [t["snippet-id"] for t in tags.values() if t.get("type") == "snippet"] == [snippet["id"]]
    recreated = after[("/api/card/{}", new["id"])]
    assert recreated["name"] == card["name"] and recreated["collection_id"] == card["collection_id"]
    key = ("/api/native-query-snippet/{}", snippet["id"])
    assert after[key] == was[key]  # the same snippet, unarchived
    # Nothing else touched (the dashboard that showed the card is not selected: it stays without it).
    assert_untouched_except(before, after, {key, ("/api/card/{}", new["id"])})


def test_an_archived_dashboard_comes_back_with_the_subscription_metabase_deleted(world):
    emu, api, tree, importer = world
    dash = named(api, "/api/dashboard", "Sales overview")
    pulse = next(p for p in api.get("/api/pulse") if p["dashboard_id"] == dash["id"])
    was = server_objects(api)
    api.put(f"/api/dashboard/{dash['id']}", json={"archived": True})
    assert not [p for p in api.get("/api/pulse") if p["dashboard_id"] == dash["id"]]
    addr = by_name(tree, "dashboards", "Sales overview")
    question = next(a for a, d in tree.docs.items() if d.get("dashboard") == {"$ref": addr})  # archived with it
    _, before, after = restore(importer("dashboard:Sales overview"), api,
                               {addr, question, f"pulses/{pulse['entity_id']}"},
                               {addr: "update", f"pulses/{pulse['entity_id']}": "create"})
    new_pulse = next(p for p in api.get("/api/pulse") if p["dashboard_id"] == dash["id"])
    recreated = after.pop(("/api/pulse/{}", new_pulse["id"]))
    old = was.pop(("/api/pulse/{}", pulse["id"]))
    assert [c["name"] for c in recreated["cards"]] == [c["name"] for c in old["cards"]]
    assert [ch["channel_type"] for ch in recreated["channels"]] == [ch["channel_type"] for ch in old["channels"]]
    assert_untouched_except(was, after, set())  # the same dashboard, unarchived; everything else as before
