"""EE connection impersonation: the routes, 402 without the feature, writes through the graph and what deletes one."""

from __future__ import annotations

import pytest

from tests.emulator.test_permissions_graph import add_database, add_group

PAID = ("Connection impersonation is a paid feature not currently available to your instance. "
        "Please upgrade to use it. Learn more at metabase.com/upgrade/")
ROUTE = "/api/ee/advanced-permissions/impersonation"


@pytest.fixture
def shop(ee):
    """Two databases `Shop` and `Books`, and two groups `Sellers` and `Buyers`."""
    emu, admin = ee
    shop, _ = add_database(emu, admin, "Shop")
    books, _ = add_database(emu, admin, "Books")
    return {"db": shop["id"], "books": books["id"], "group": add_group(emu, admin, "Sellers"),
            "buyers": add_group(emu, admin, "Buyers")}


def impersonate(admin, *items: tuple[int, int, str], view: str = "impersonated", **more):
    """One graph PUT: `view` for each (group, database) and the impersonation items."""
    graph = admin.get("/api/permissions/graph").json()
    groups: dict = {}
    for group, db, _ in items:
        groups.setdefault(str(group), {})[str(db)] = {"view-data": view}
    resp = admin.put("/api/permissions/graph", json={
        "revision": graph["revision"], "groups": groups,
        "impersonations": [{"group_id": g, "db_id": d, "attribute": a} for g, d, a in items], **more})
    assert resp.status_code == 200, resp.text
    return resp.json()


def view_data(admin, group: int, db: int):
    return admin.get("/api/permissions/graph").json()["groups"].get(str(group), {}).get(str(db), {}).get("view-data")


def put_view(admin, group: int, db: int, view):
    graph = admin.get("/api/permissions/graph").json()
    resp = admin.put("/api/permissions/graph", json={"revision": graph["revision"],
                                                     "groups": {str(group): {str(db): {"view-data": view}}}})
    assert resp.status_code == 200, resp.text


# ---------------------------------------------------------------- without the feature

@pytest.mark.parametrize(("method", "path"), [("GET", ROUTE), ("DELETE", f"{ROUTE}/1")])
def test_every_route_is_402_without_the_feature(admin, method, path):
    resp = admin.request(method, path)
    assert resp.status_code == 402
    assert resp.json() == {"message": PAID, "status": "error-premium-feature-not-available"}


def test_the_graph_refuses_impersonations_without_the_feature(emulator, admin):
    db, _ = add_database(emulator, admin)
    group = add_group(emulator, admin, "Sellers")
    graph = admin.get("/api/permissions/graph").json()
    resp = admin.put("/api/permissions/graph", json={"revision": graph["revision"], "groups": {}, "impersonations": [
        {"group_id": group, "db_id": db["id"], "attribute": "role"}]})
    assert resp.status_code == 402 and resp.json()["message"] == PAID
    resp = admin.put("/api/permissions/graph", json={"revision": graph["revision"], "groups": {
        str(group): {str(db["id"]): {"view-data": "impersonated"}}}})
    assert resp.status_code == 402 and "impersonated permissions functionality" in resp.text


# ---------------------------------------------------------------- the routes and the graph

def test_the_graph_put_creates_and_the_list_shows_them(ee, shop):
    _, admin = ee
    answer = impersonate(admin, (shop["group"], shop["db"], "role"), (shop["buyers"], shop["books"], "db_role"))
    rows = answer["impersonations"]
    assert [set(r) for r in rows] == [{"id", "group_id", "db_id", "attribute"}] * 2
    assert admin.get(ROUTE).json() == rows
    assert view_data(admin, shop["group"], shop["db"]) == "impersonated"
    assert view_data(admin, shop["group"], shop["books"]) == "unrestricted"
    by_db = admin.get(f"/api/permissions/graph/db/{shop['books']}").json()["groups"]
    assert by_db[str(shop["buyers"])][str(shop["books"])]["view-data"] == "impersonated"
    assert str(shop["db"]) not in by_db.get(str(shop["group"]), {})


def test_list_filters_need_both_group_and_database(ee, shop):
    _, admin = ee
    one, _ = impersonate(admin, (shop["group"], shop["db"], "role"),
                         (shop["group"], shop["books"], "role"))["impersonations"]
    assert admin.get(ROUTE, params={"group_id": shop["group"], "db_id": shop["db"]}).json() == one
    none = admin.get(ROUTE, params={"group_id": shop["buyers"], "db_id": shop["db"]})
    assert none.status_code == 204 and none.content == b""
    # Either filter alone is ignored, as in Metabase: the whole list.
    assert len(admin.get(ROUTE, params={"db_id": shop["db"]}).json()) == 2


def test_a_second_write_replaces_the_row_with_a_new_id(ee, shop):
    _, admin = ee
    (first,) = impersonate(admin, (shop["group"], shop["db"], "role"))["impersonations"]
    (second,) = impersonate(admin, (shop["group"], shop["db"], "other_role"))["impersonations"]
    assert second["id"] != first["id"] and admin.get(ROUTE).json() == [second]


def test_delete_leaves_the_stored_unrestricted_value(ee, shop):
    """Metabase stores an impersonated database's view-data as unrestricted: deleting the row opens it."""
    _, admin = ee
    (row,) = impersonate(admin, (shop["group"], shop["db"], "role"))["impersonations"]
    assert admin.delete(f"{ROUTE}/{row['id']}").status_code == 204
    assert admin.get(ROUTE).json() == []
    assert view_data(admin, shop["group"], shop["db"]) == "unrestricted"
    assert admin.delete(f"{ROUTE}/{row['id']}").status_code == 404


@pytest.mark.parametrize("view", ["blocked", "unrestricted", {"": "unrestricted"}])
def test_a_graph_change_away_from_impersonated_deletes_it(ee, shop, view):
    _, admin = ee
    impersonate(admin, (shop["group"], shop["db"], "role"), (shop["group"], shop["books"], "role"))
    put_view(admin, shop["group"], shop["db"], view)
    assert [(r["group_id"], r["db_id"]) for r in admin.get(ROUTE).json()] == [(shop["group"], shop["books"])]


def test_a_graph_put_without_view_data_changes_keeps_it(ee, shop):
    _, admin = ee
    impersonate(admin, (shop["group"], shop["db"], "role"))
    put_view(admin, shop["group"], shop["db"], "impersonated")
    graph = admin.get("/api/permissions/graph").json()
    resp = admin.put("/api/permissions/graph", json={"revision": graph["revision"], "groups": {
        str(shop["group"]): {str(shop["db"]): {"create-queries": "query-builder"}}}})
    assert resp.status_code == 200, resp.text
    assert len(admin.get(ROUTE).json()) == 1


def test_a_bad_item_fails_the_whole_put(ee, shop):
    _, admin = ee
    graph = admin.get("/api/permissions/graph").json()
    resp = admin.put("/api/permissions/graph", json={"revision": graph["revision"], "groups": {
        str(shop["group"]): {str(shop["db"]): {"view-data": "blocked"}}},
        "impersonations": [{"group_id": shop["group"], "db_id": shop["db"]}]})
    assert resp.status_code == 400 and "needs group_id, db_id and attribute" in resp.text
    assert admin.get("/api/permissions/graph").json()["revision"] == graph["revision"]
    resp = admin.put("/api/permissions/graph", json={"revision": graph["revision"], "groups": {},
                                                     "impersonations": [{"group_id": shop["group"], "db_id": 999,
                                                                         "attribute": "role"}]})
    assert resp.status_code == 500 and admin.get(ROUTE).json() == []


def test_deleting_the_group_or_the_database_deletes_its_impersonations(ee, shop):
    _, admin = ee
    impersonate(admin, (shop["group"], shop["db"], "role"), (shop["buyers"], shop["books"], "role"))
    assert admin.delete(f"/api/permissions/group/{shop['group']}").status_code == 204
    assert [r["group_id"] for r in admin.get(ROUTE).json()] == [shop["buyers"]]
    assert admin.delete(f"/api/database/{shop['books']}").status_code == 204
    assert admin.get(ROUTE).json() == []
