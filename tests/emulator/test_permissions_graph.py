"""The data permissions graph behaves like Metabase's (api-surface §8, §22; conformance 40, 41)."""

from __future__ import annotations

import sqlite3
import tempfile
from pathlib import Path

import pytest

from mbport.emulator import Emulator, bootstrap, sample_db
from tests.conftest import make_client

STALE = "Looks like someone else edited the permissions and your data is out of date. Please fetch new data and try again."


# ---- helpers shared by the permission, segment and action tests ----

def has_route(emu: Emulator, method: str, path: str) -> bool:
    return any(r.method == method and r.path == path for r in emu.router.routes)


def add_database(emu: Emulator, admin, name: str = "Shop",
                 tables: tuple[tuple[str | None, str], ...] = ((None, "orders"),), *,
                 enable_actions: bool = False) -> tuple[dict, list[dict]]:
    """A database with tables: a synced SQLite file through POST /api/database when the databases area serves it;
    stored rows plus the permissions hook otherwise, and for schemas, which SQLite cannot have."""
    if has_route(emu, "POST", "/api/database") and all(schema is None for schema, _ in tables):
        path = Path(tempfile.mkdtemp(prefix="perm-", dir=sample_db.cache_dir())) / f"{name}.sqlite"
        with sqlite3.connect(path) as conn:
            for _, table in tables:
                conn.execute(f"CREATE TABLE {table} (id INTEGER PRIMARY KEY, total INTEGER)")
        resp = admin.post("/api/database", json={"name": name, "engine": "sqlite", "details": {"db": str(path)}})
        assert resp.status_code == 200, resp.text
        db_id = resp.json()["id"]
        emu.wait_idle()
        if enable_actions:
            admin.put(f"/api/database/{db_id}", json={"settings": {"database-enable-actions": True}}).raise_for_status()
        by_name = {t["name"]: t for t in emu.state.table("metabase_table").where(db_id=db_id)}
        return emu.state.table("metabase_database").get(db_id), [by_name[t] for _, t in tables]
    from mbport.emulator.models import permissions_graph

    state = emu.state
    db = state.table("metabase_database").insert({
        "name": name, "engine": "sqlite", "details": {"db": ":memory:"}, "is_sample": False, "is_audit": False,
        "router_database_id": None, "settings": {"database-enable-actions": True} if enable_actions else {},
    }, now=state.now())
    rows = [state.table("metabase_table").insert({
        "db_id": db["id"], "schema": schema, "name": table, "display_name": table.title(), "active": True,
        "visibility_type": None,
    }, now=state.now()) for schema, table in tables]
    permissions_graph.on_database_created(state, db)
    return db, rows


def add_field(emu: Emulator, table: dict, name: str) -> dict:
    """The table's field `name` (synced ones exist already)."""
    found = emu.state.table("metabase_field").first(table_id=table["id"], name=name)
    return found or emu.state.table("metabase_field").insert({
        "table_id": table["id"], "name": name, "display_name": name.replace("_", " ").title(),
        "base_type": "type/Integer", "active": True,
    })


def add_group(emu: Emulator, admin, name: str) -> int:
    if has_route(emu, "POST", "/api/permissions/group"):
        resp = admin.post("/api/permissions/group", json={"name": name})
        assert resp.status_code == 200, resp.text
        return resp.json()["id"]
    from mbport.emulator.models import permissions_graph

    group = emu.state.table("permissions_group").insert({"name": name, "magic_group_type": None,
                                                        "is_tenant_group": False})
    permissions_graph.on_group_created(emu.state, group)
    return group["id"]


def add_user(emu: Emulator, email: str, group_ids: tuple[int, ...] = ()) -> object:
    """A non-admin user (optionally in extra groups) and a client logged in as them."""
    from mbport.emulator.models import users

    user = users.create_user(emu.state, email=email, first_name="Rasta", last_name="Toucan", password="Pa55word!x")
    for gid in group_ids:
        emu.state.table("permissions_group_membership").insert(
            {"user_id": user["id"], "group_id": gid, "is_group_manager": False})
    session = make_client(emu).post("/api/session", json={"username": email, "password": "Pa55word!x"})
    return make_client(emu, **{"X-Metabase-Session": session.json()["id"]})


def group_ids(emu: Emulator) -> tuple[int, int]:
    from mbport.emulator.models import users

    return users.magic_group(emu.state, users.ALL_USERS)["id"], users.magic_group(emu.state, users.ADMIN)["id"]


FULL_ADMIN = {
    "view-data": "unrestricted", "create-queries": "query-builder-and-native", "download": {"schemas": "full"},
    "data-model": {"schemas": "all"}, "details": "yes",
}


# ---- GET ----

def test_fresh_database_gives_all_users_full_access_and_admins_everything(emulator, admin):
    db, _ = add_database(emulator, admin)
    all_users, admins = group_ids(emulator)
    graph = admin.get("/api/permissions/graph").json()
    assert isinstance(graph["revision"], int)
    assert graph["groups"][str(all_users)][str(db["id"])] == {
        "view-data": "unrestricted", "create-queries": "query-builder-and-native", "download": {"schemas": "full"},
    }
    admin_perms = graph["groups"][str(admins)][str(db["id"])]
    assert {k: v for k, v in admin_perms.items() if k != "transforms"} == FULL_ADMIN
    assert admin_perms.get("transforms") == "yes"  # 0.61 builds list transforms too


def test_admins_are_synthesised_for_every_database_without_any_write(emulator, admin):
    db1, _ = add_database(emulator, admin, "One")
    db2, _ = add_database(emulator, admin, "Two")
    _, admins = group_ids(emulator)
    graph = admin.get("/api/permissions/graph").json()
    assert set(graph["groups"][str(admins)]) == {str(db1["id"]), str(db2["id"])}


def test_old_profile_admin_has_no_transforms():
    emu = Emulator("0.56")
    session = bootstrap.setup_admin(emu, "a@example.com", "Passw0rd!x")
    client = make_client(emu, **{"X-Metabase-Session": session})
    db, _ = add_database(emu, client)
    _, admins = group_ids(emu)
    assert client.get("/api/permissions/graph").json()["groups"][str(admins)][str(db["id"])] == FULL_ADMIN


def test_partial_graphs_by_group_and_by_database(emulator, admin):
    db1, _ = add_database(emulator, admin, "One")
    db2, _ = add_database(emulator, admin, "Two")
    all_users, admins = group_ids(emulator)
    by_group = admin.get(f"/api/permissions/graph/group/{all_users}").json()
    assert set(by_group["groups"]) == {str(all_users)}  # no Administrators when asking for another group
    assert set(by_group["groups"][str(all_users)]) == {str(db1["id"]), str(db2["id"])}
    by_admin = admin.get(f"/api/permissions/graph/group/{admins}").json()
    assert set(by_admin["groups"]) == {str(admins)}
    by_db = admin.get(f"/api/permissions/graph/db/{db2['id']}").json()
    assert set(by_db["groups"]) == {str(all_users), str(admins)}
    assert all(set(dbs) == {str(db2["id"])} for dbs in by_db["groups"].values())


def test_new_group_copies_all_users_permissions(emulator, admin):
    db, _ = add_database(emulator, admin)
    all_users, _ = group_ids(emulator)
    admin.put("/api/permissions/graph", json={
        "revision": admin.get("/api/permissions/graph").json()["revision"],
        "groups": {str(all_users): {str(db["id"]): {"create-queries": "query-builder"}}},
    }).raise_for_status()
    gid = add_group(emulator, admin, "Analysts")
    graph = admin.get("/api/permissions/graph").json()
    assert graph["groups"][str(gid)][str(db["id"])] == {
        "view-data": "unrestricted", "create-queries": "query-builder", "download": {"schemas": "full"},
    }


def test_new_database_takes_each_groups_lowest_level(emulator, admin):
    db1, _ = add_database(emulator, admin, "One")
    gid = add_group(emulator, admin, "Viewers")
    admin.put("/api/permissions/graph", json={
        "revision": admin.get("/api/permissions/graph").json()["revision"],
        "groups": {str(gid): {str(db1["id"]): {"create-queries": "no", "download": {"schemas": "none"}}}},
    }).raise_for_status()
    db2, _ = add_database(emulator, admin, "Two")
    graph = admin.get("/api/permissions/graph").json()
    # create-queries "no" and download "none" are the least values: elided, only view-data is left.
    assert graph["groups"][str(gid)][str(db2["id"])] == {"view-data": "unrestricted"}


def test_non_admin_gets_403(emulator, admin):
    rasta = add_user(emulator, "rasta@example.com")
    resp = rasta.get("/api/permissions/graph")
    assert resp.status_code == 403
    assert resp.text == "You don't have permissions to do that."


# ---- PUT ----

def test_put_returns_only_submitted_groups_and_bumps_revision(emulator, admin):
    db, _ = add_database(emulator, admin)
    all_users, _ = group_ids(emulator)
    gid = add_group(emulator, admin, "Analysts")
    before = admin.get("/api/permissions/graph").json()
    resp = admin.put("/api/permissions/graph", json={
        "revision": before["revision"],
        "groups": {str(gid): {str(db["id"]): {"create-queries": "no"}}},
    })
    assert resp.status_code == 200
    body = resp.json()
    assert body["revision"] == before["revision"] + 1
    assert set(body["groups"]) == {str(gid)}
    assert body["groups"][str(gid)][str(db["id"])] == {"view-data": "unrestricted", "download": {"schemas": "full"}}
    after = admin.get("/api/permissions/graph").json()
    assert after["revision"] == body["revision"]
    assert after["groups"][str(all_users)] == before["groups"][str(all_users)]


def test_unchanged_put_still_counts_as_a_revision(emulator, admin):
    add_database(emulator, admin)
    graph = admin.get("/api/permissions/graph").json()
    resp = admin.put("/api/permissions/graph", json=graph)
    assert resp.status_code == 200
    assert resp.json()["revision"] == graph["revision"] + 1
    assert resp.json()["groups"] == graph["groups"]


def test_stale_revision_is_409_unless_forced(emulator, admin):
    db, _ = add_database(emulator, admin)
    gid = add_group(emulator, admin, "Analysts")
    graph = admin.get("/api/permissions/graph").json()
    change = {"groups": {str(gid): {str(db["id"]): {"create-queries": "query-builder"}}}}
    assert admin.put("/api/permissions/graph", json={**change, "revision": graph["revision"]}).status_code == 200
    stale = admin.put("/api/permissions/graph", json={**change, "revision": graph["revision"]})
    assert stale.status_code == 409
    assert stale.text == STALE
    assert stale.headers["content-type"].startswith("text/plain")
    forced = admin.put("/api/permissions/graph", params={"force": "true"},
                       json={"groups": {str(gid): {str(db["id"]): {"create-queries": "no"}}}})
    assert forced.status_code == 200
    assert forced.json()["revision"] == graph["revision"] + 2
    assert "create-queries" not in forced.json()["groups"][str(gid)][str(db["id"])]


def test_skip_graph_returns_only_the_revision(emulator, admin):
    db, _ = add_database(emulator, admin)
    all_users, _ = group_ids(emulator)
    graph = admin.get("/api/permissions/graph").json()
    resp = admin.put("/api/permissions/graph", params={"skip-graph": "true"}, json={
        "revision": graph["revision"], "groups": {str(all_users): {str(db["id"]): {"create-queries": "query-builder"}}},
    })
    assert resp.json() == {"revision": graph["revision"] + 1}


def test_table_level_create_queries_and_schema_collapse(emulator, admin):
    db, tables = add_database(emulator, admin, tables=(("public", "orders"), ("public", "people"), ("audit", "log")))
    orders, people, log = tables
    gid = add_group(emulator, admin, "Analysts")
    graph = admin.get("/api/permissions/graph").json()
    resp = admin.put("/api/permissions/graph", json={"revision": graph["revision"], "groups": {str(gid): {str(db["id"]): {
        "create-queries": {"public": {str(orders["id"]): "query-builder", str(people["id"]): "no"},
                           "audit": {str(log["id"]): "query-builder"}},
    }}}})
    assert resp.status_code == 200, resp.text
    # "no" tables are left out; a schema whose tables agree collapses to one value.
    assert resp.json()["groups"][str(gid)][str(db["id"])]["create-queries"] == {
        "public": {str(orders["id"]): "query-builder"}, "audit": "query-builder",
    }
    everything = admin.put("/api/permissions/graph", json={"revision": graph["revision"] + 1, "groups": {str(gid): {
        str(db["id"]): {"create-queries": {"public": "query-builder"}}}}})
    assert everything.status_code == 200, everything.text
    assert everything.json()["groups"][str(gid)][str(db["id"])]["create-queries"] == {
        "public": "query-builder", "audit": "query-builder",
    }


def test_schemaless_database_uses_empty_schema_key(emulator, admin):
    db, tables = add_database(emulator, admin, tables=((None, "orders"), (None, "people")))
    gid = add_group(emulator, admin, "Analysts")
    graph = admin.get("/api/permissions/graph").json()
    resp = admin.put("/api/permissions/graph", json={"revision": graph["revision"], "groups": {str(gid): {
        str(db["id"]): {"create-queries": {"": {str(tables[0]["id"]): "query-builder", str(tables[1]["id"]): "no"}}}}}})
    assert resp.json()["groups"][str(gid)][str(db["id"])]["create-queries"] == {"": {str(tables[0]["id"]): "query-builder"}}


@pytest.mark.allow_invalid_requests
def test_invalid_graphs_are_plain_400(emulator, admin):
    db, _ = add_database(emulator, admin)
    all_users, _ = group_ids(emulator)
    revision = admin.get("/api/permissions/graph").json()["revision"]
    for groups in (
        {str(all_users): {str(db["id"]): {"view-data": "everything"}}},
        {str(all_users): {str(db["id"]): {"no-such-permission": "yes"}}},
        {"not-a-group": {str(db["id"]): {"view-data": "unrestricted"}}},
        {str(all_users): {str(db["id"]): {"view-data": "blocked", "create-queries": "query-builder-and-native"}}},
        {str(all_users): {str(db["id"]): {"create-queries": {"": {"1": "query-builder-and-native"}}}}},
    ):
        resp = admin.put("/api/permissions/graph", json={"revision": revision, "groups": groups})
        assert resp.status_code == 400, groups
        assert resp.text.startswith("Cannot parse permissions graph because it is invalid: ")
    assert admin.get("/api/permissions/graph").json()["revision"] == revision


@pytest.mark.allow_invalid_requests
def test_native_with_blocked_view_data_is_rejected(emulator, admin):
    db, _ = add_database(emulator, admin)
    all_users, _ = group_ids(emulator)
    resp = admin.put("/api/permissions/graph", json={"revision": 0, "groups": {str(all_users): {str(db["id"]): {
        "view-data": "blocked", "create-queries": "query-builder-and-native"}}}})
    assert resp.status_code == 400
    assert "you must have data access to all schemas" in resp.text


@pytest.mark.parametrize("perms, feature", [
    ({"view-data": "blocked", "create-queries": "no"}, "blocked"),
    ({"view-data": "sandboxed"}, "sandboxed"),
    ({"view-data": "impersonated"}, "impersonated"),
    ({"data-model": {"schemas": "all"}}, "data model"),
    ({"download": {"schemas": {"": "limited"}}}, "download"),
    ({"details": "yes"}, "details"),
])
def test_enterprise_values_are_402_on_oss(emulator, admin, perms, feature):
    db, _ = add_database(emulator, admin)
    gid = add_group(emulator, admin, "Analysts")
    graph = admin.get("/api/permissions/graph").json()
    resp = admin.put("/api/permissions/graph", json={"revision": graph["revision"],
                                                     "groups": {str(gid): {str(db["id"]): perms}}})
    assert resp.status_code == 402
    assert resp.text == (f"The {feature} permissions functionality is only enabled if you have a premium token "
                         "with the advanced-permissions feature.")
    assert admin.get("/api/permissions/graph").json() == graph  # nothing written, no revision


def test_sandboxes_key_is_402_json(emulator, admin):
    db, tables = add_database(emulator, admin)
    gid = add_group(emulator, admin, "Analysts")
    graph = admin.get("/api/permissions/graph").json()
    resp = admin.put("/api/permissions/graph", json={
        "revision": graph["revision"], "groups": {},
        "sandboxes": [{"group_id": gid, "table_id": tables[0]["id"]}],
    })
    assert resp.status_code == 402
    assert resp.json()["status"] == "error-premium-feature-not-available"
    assert "Sandboxes is a paid feature" in resp.json()["message"]


def test_resending_admin_and_elided_values_is_accepted(emulator, admin):
    """A graph read back and re-sent, plus explicit least values, is not an EE change."""
    db, _ = add_database(emulator, admin)
    gid = add_group(emulator, admin, "Analysts")
    graph = admin.get("/api/permissions/graph").json()
    graph["groups"][str(gid)][str(db["id"])].update({"details": "no", "data-model": {"schemas": "none"}})
    resp = admin.put("/api/permissions/graph", json=graph)
    assert resp.status_code == 200, resp.text
    assert "details" not in resp.json()["groups"][str(gid)][str(db["id"])]


def test_deleted_groups_and_databases_leave_the_graph(emulator, admin):
    db1, _ = add_database(emulator, admin, "One")
    db2, _ = add_database(emulator, admin, "Two")
    gid = add_group(emulator, admin, "Temporary")
    if has_route(emulator, "DELETE", "/api/database/{id}"):
        assert admin.delete(f"/api/database/{db2['id']}").status_code == 204
    else:
        emulator.state.table("metabase_database").delete(db2["id"])
    if has_route(emulator, "DELETE", "/api/permissions/group/{group-id}"):
        assert admin.delete(f"/api/permissions/group/{gid}").status_code == 204
    else:
        emulator.state.table("permissions_group").delete(gid)
    graph = admin.get("/api/permissions/graph").json()
    assert str(gid) not in graph["groups"]
    assert all(set(dbs) == {str(db1["id"])} for dbs in graph["groups"].values())
