"""EE sandboxes, /api/mt/gtap, and the premium-feature knob: shapes, filters, 402 without the feature, the graph."""

from __future__ import annotations

import pytest

from mbport.emulator import Emulator, bootstrap, premium, server
from tests.conftest import ADMIN_EMAIL, ADMIN_PASSWORD, make_client
from tests.e2e.instances import mbport
from tests.emulator.test_permissions_graph import add_database, add_field, add_group, add_user

PAID = ("Sandboxes is a paid feature not currently available to your instance. "
        "Please upgrade to use it. Learn more at metabase.com/upgrade/")
FIELDS = {"id", "group_id", "table_id", "card_id", "attribute_remappings", "permission_id"}


@pytest.fixture
def shop(ee):
    """A database `Shop` (orders, people), a group `Sellers` and a question on orders."""
    emu, admin = ee
    db, (orders, people) = add_database(emu, admin, "Shop", ((None, "orders"), (None, "people")))
    card = admin.post("/api/card", json={
        "name": "My orders", "display": "table", "visualization_settings": {},
        "dataset_query": {"database": db["id"], "type": "query", "query": {"source-table": orders["id"]}}}).json()
    return {"db": db["id"], "orders": orders["id"], "people": people["id"], "card": card["id"],
            "group": add_group(emu, admin, "Sellers"), "total": add_field(emu, orders, "total")["id"]}


def gtap(admin, **body):
    resp = admin.post("/api/mt/gtap", json=body)
    assert resp.status_code == 200, resp.text
    return resp.json()


def view_data(admin, group: int, db: int):
    return admin.get("/api/permissions/graph").json()["groups"].get(str(group), {}).get(str(db), {}).get("view-data")


# ---------------------------------------------------------------- the premium knob

def test_an_emulator_is_oss_unless_given_premium_features(emulator, anon):
    props = anon.get("/api/session/properties").json()
    assert props["version"]["tag"].startswith("v0.") and not any(props["token-features"].values())
    emu = Emulator(premium_features=["sandboxes"])
    props = make_client(emu).get("/api/session/properties").json()
    assert props["version"]["tag"].startswith("v1.")  # only Enterprise builds have premium features
    assert props["token-features"] == {"advanced_permissions": False, "ai_controls": False,
                                       "cache_granular_controls": False, "content_verification": False,
                                       "library": False, "official_collections": False, "sandboxes": True,
                                       "tenants": False, "transforms": False, "transforms-basic": False,
                                       "transforms-python": False, "whitelabel": False}
    emu.premium_features = None
    assert make_client(emu).get("/api/session/properties").json()["version"]["tag"].startswith("v0.")


def test_premium_feature_names_are_checked():
    assert premium.parse("all") == set(premium.FEATURES)
    assert premium.parse(" sandboxes, ") == {"sandboxes"}
    with pytest.raises(ValueError, match="unknown premium feature 'audit_app'"):
        premium.parse("sandboxes,audit_app")


def test_serve_takes_premium_features(monkeypatch):
    served = []
    monkeypatch.setattr(server, "serve", lambda emu, **kw: served.append(emu))
    run = mbport("emulator", "serve", "--premium-features", "sandboxes", "--port", "0")
    assert run.code == 0 and served[0].premium_features == {"sandboxes"}
    assert "premium features: sandboxes" in run.err
    bad = mbport("emulator", "serve", "--premium-features", "sandbox")
    assert bad.code == 2 and "unknown premium feature 'sandbox'" in bad.err and "Traceback" not in bad.err


# ---------------------------------------------------------------- without the feature

@pytest.mark.parametrize(("method", "path"), [
    ("GET", "/api/mt/gtap"), ("GET", "/api/mt/gtap/1"), ("PUT", "/api/mt/gtap/1"), ("DELETE", "/api/mt/gtap/1"),
    ("POST", "/api/mt/gtap"), ("POST", "/api/mt/gtap/validate"),
])
def test_every_route_is_402_without_the_feature(admin, method, path):
    body = {"table_id": 1, "group_id": 1} if method == "POST" else ({} if method == "PUT" else None)
    resp = admin.request(method, path, json=body)
    assert resp.status_code == 402
    assert resp.json() == {"message": PAID, "status": "error-premium-feature-not-available"}


def test_the_graph_refuses_sandboxes_without_the_feature(emulator, admin):
    db, (orders,) = add_database(emulator, admin)
    group = add_group(emulator, admin, "Sellers")
    graph = admin.get("/api/permissions/graph").json()
    resp = admin.put("/api/permissions/graph", json={"revision": graph["revision"], "groups": {},
                                                     "sandboxes": [{"group_id": group, "table_id": orders["id"]}]})
    assert resp.status_code == 402 and resp.json()["message"] == PAID
    sandboxed = {str(group): {str(db["id"]): {"view-data": {"": {str(orders["id"]): "sandboxed"}}}}}
    resp = admin.put("/api/permissions/graph", json={"revision": graph["revision"], "groups": sandboxed})
    assert resp.status_code == 402 and "sandboxed permissions functionality" in resp.text


# ---------------------------------------------------------------- /api/mt/gtap

def test_create_get_and_list_answer_the_model_columns(ee, shop):
    _, admin = ee
    created = gtap(admin, group_id=shop["group"], table_id=shop["orders"], card_id=shop["card"],
                   attribute_remappings={"shop": ["dimension", ["field", shop["total"], None]]})
    assert set(created) == FIELDS and created["permission_id"] is None
    assert created["attribute_remappings"] == {"shop": ["dimension", ["field", shop["total"], None]]}
    assert admin.get(f"/api/mt/gtap/{created['id']}").json() == created
    bare = gtap(admin, group_id=shop["group"], table_id=shop["people"])
    assert (bare["card_id"], bare["attribute_remappings"]) == (None, None)
    assert [s["id"] for s in admin.get("/api/mt/gtap").json()] == [created["id"], bare["id"]]


def test_list_filters_need_both_group_and_table(ee, shop):
    _, admin = ee
    one = gtap(admin, group_id=shop["group"], table_id=shop["orders"])
    gtap(admin, group_id=shop["group"], table_id=shop["people"])
    both = admin.get("/api/mt/gtap", params={"group_id": shop["group"], "table_id": shop["orders"]})
    assert both.json() == one
    none = admin.get("/api/mt/gtap", params={"group_id": shop["group"] + 100, "table_id": shop["orders"]})
    assert none.status_code == 204 and none.content == b""
    # Either filter alone is ignored, as in Metabase: the whole list.
    assert len(admin.get("/api/mt/gtap", params={"table_id": shop["orders"]}).json()) == 2


def test_put_writes_only_what_the_body_has_and_null_clears(ee, shop):
    _, admin = ee
    created = gtap(admin, group_id=shop["group"], table_id=shop["orders"], card_id=shop["card"],
                   attribute_remappings={"shop": ["variable", ["template-tag", "shop"]]})
    remapped = admin.put(f"/api/mt/gtap/{created['id']}", json={"attribute_remappings": {"id": shop["total"]}}).json()
    assert (remapped["card_id"], remapped["attribute_remappings"]) == (shop["card"], {"id": shop["total"]})
    cleared = admin.put(f"/api/mt/gtap/{created['id']}", json={"card_id": None}).json()
    assert (cleared["card_id"], cleared["attribute_remappings"]) == (None, {"id": shop["total"]})
    assert admin.put(f"/api/mt/gtap/{created['id']}", json={"table_id": shop["people"]}).json()["table_id"] == shop["orders"]


def test_delete_then_not_found(ee, shop):
    _, admin = ee
    created = gtap(admin, group_id=shop["group"], table_id=shop["orders"])
    assert admin.delete(f"/api/mt/gtap/{created['id']}").status_code == 204
    for resp in (admin.get(f"/api/mt/gtap/{created['id']}"), admin.delete(f"/api/mt/gtap/{created['id']}"),
                 admin.put(f"/api/mt/gtap/{created['id']}", json={})):
        assert resp.status_code == 404 and resp.text == "Not found."


def test_only_admins(ee, shop):
    emu, _ = ee
    user = add_user(emu, "seller@example.com", (shop["group"],))
    resp = user.get("/api/mt/gtap")
    assert resp.status_code == 403 and resp.text == "You don't have permissions to do that."


@pytest.mark.allow_invalid_requests
def test_bodies_are_validated_against_the_spec(ee, shop):
    _, admin = ee
    missing = admin.post("/api/mt/gtap", json={"group_id": shop["group"]})
    assert missing.status_code == 400 and "table_id" in missing.json()["errors"]
    wrong = admin.post("/api/mt/gtap", json={"group_id": shop["group"], "table_id": shop["orders"],
                                             "attribute_remappings": ["shop"]})
    assert wrong.status_code == 400 and "attribute_remappings" in wrong.json()["errors"]
    zero = admin.put("/api/mt/gtap/1", json={"card_id": 0})
    assert zero.status_code == 400 and "card_id" in zero.json()["errors"]
    assert admin.get("/api/mt/gtap").json() == []


def test_a_question_must_keep_the_tables_column_types(ee, shop):
    emu, admin = ee
    metadata = [{"name": "total", "base_type": "type/Text", "display_name": "Total"}]
    card = admin.post("/api/card", json={
        "name": "Bad", "display": "table", "visualization_settings": {}, "result_metadata": metadata,
        "dataset_query": {"database": shop["db"], "type": "query", "query": {"source-table": shop["orders"]}}}).json()
    emu.state.table("metabase_field").get(shop["total"])["base_type"] = "type/Integer"
    for path in ("/api/mt/gtap", "/api/mt/gtap/validate"):
        resp = admin.post(path, json={"group_id": shop["group"], "table_id": shop["orders"], "card_id": card["id"]})
        assert resp.status_code == 400
        assert resp.json()["message"].startswith("Sandbox Questions can't return columns that have different types")
        assert (resp.json()["expected"], resp.json()["actual"]) == ("type/Integer", "type/Text")
    ok = admin.post("/api/mt/gtap/validate", json={"table_id": shop["orders"], "card_id": shop["card"]})
    assert ok.status_code == 204
    assert admin.get("/api/mt/gtap").json() == []


def test_one_sandbox_per_group_and_table(ee, shop):
    _, admin = ee
    gtap(admin, group_id=shop["group"], table_id=shop["orders"])
    again = admin.post("/api/mt/gtap", json={"group_id": shop["group"], "table_id": shop["orders"]})
    assert again.status_code == 500 and "unique_gtap_table_id_group_id" in again.json()["message"]
    missing = admin.post("/api/mt/gtap", json={"group_id": shop["group"], "table_id": 9999})
    assert missing.status_code == 500 and "foreign key" in missing.json()["message"]


# ---------------------------------------------------------------- the permissions graph

def test_the_graph_shows_a_sandboxed_table_and_keeps_the_others(ee, shop):
    _, admin = ee
    assert view_data(admin, shop["group"], shop["db"]) == "unrestricted"
    gtap(admin, group_id=shop["group"], table_id=shop["orders"])
    assert view_data(admin, shop["group"], shop["db"]) == {
        "": {str(shop["orders"]): "sandboxed", str(shop["people"]): "unrestricted"}}
    by_db = admin.get(f"/api/permissions/graph/db/{shop['db']}").json()["groups"][str(shop["group"])]
    assert by_db[str(shop["db"])]["view-data"][""][str(shop["orders"])] == "sandboxed"


def test_a_sandbox_ends_native_querying_on_its_database(ee, shop):
    _, admin = ee
    graph = admin.get("/api/permissions/graph").json()
    assert graph["groups"][str(shop["group"])][str(shop["db"])]["create-queries"] == "query-builder-and-native"
    gtap(admin, group_id=shop["group"], table_id=shop["orders"])
    after = admin.get("/api/permissions/graph").json()
    assert after["groups"][str(shop["group"])][str(shop["db"])]["create-queries"] == "query-builder"
    assert after["revision"] == graph["revision"]  # no PermissionsRevision for it


def test_graph_put_creates_and_updates_sandboxes_and_returns_them(ee, shop):
    _, admin = ee
    group, db, orders = str(shop["group"]), str(shop["db"]), str(shop["orders"])
    graph = admin.get("/api/permissions/graph").json()
    resp = admin.put("/api/permissions/graph", json={
        "revision": graph["revision"], "groups": {group: {db: {"view-data": {"": {orders: "sandboxed"}}}}},
        "sandboxes": [{"group_id": shop["group"], "table_id": shop["orders"], "card_id": shop["card"]}]})
    assert resp.status_code == 200, resp.text
    body = resp.json()
    [created] = body["sandboxes"]
    assert set(created) == FIELDS and created["card_id"] == shop["card"]
    assert body["groups"][group][db]["view-data"][""][orders] == "sandboxed"
    resp = admin.put("/api/permissions/graph", params={"skip-graph": "true"}, json={
        "revision": body["revision"], "groups": {},
        "sandboxes": [{"id": created["id"], "attribute_remappings": {"a": ["variable", ["template-tag", "a"]]}}]})
    assert set(resp.json()) == {"revision", "sandboxes"}
    assert resp.json()["sandboxes"][0]["card_id"] == shop["card"]  # only what the item has is written
    assert admin.get(f"/api/mt/gtap/{created['id']}").json()["attribute_remappings"] == {
        "a": ["variable", ["template-tag", "a"]]}


def test_a_graph_change_away_from_sandboxed_deletes_the_sandbox(ee, shop):
    _, admin = ee
    group, db = str(shop["group"]), str(shop["db"])
    on_orders = gtap(admin, group_id=shop["group"], table_id=shop["orders"])
    on_people = gtap(admin, group_id=shop["group"], table_id=shop["people"])
    graph = admin.get("/api/permissions/graph").json()
    # A table-level change other than `sandboxed` ends that table's sandbox only.
    admin.put("/api/permissions/graph", json={"revision": graph["revision"], "groups": {
        group: {db: {"view-data": {"": {str(shop["orders"]): "sandboxed", str(shop["people"]): "unrestricted"}}}}}})
    assert [s["id"] for s in admin.get("/api/mt/gtap").json()] == [on_orders["id"]]
    assert on_people["id"] != on_orders["id"]
    # Unchanged values leave it; a database-level value ends every sandbox in the database.
    graph = admin.get("/api/permissions/graph").json()
    admin.put("/api/permissions/graph", json=graph)
    assert len(admin.get("/api/mt/gtap").json()) == 1
    admin.put("/api/permissions/graph", json={"revision": graph["revision"] + 1, "groups": {
        group: {db: {"view-data": "unrestricted"}}}})
    assert admin.get("/api/mt/gtap").json() == []
    assert view_data(admin, shop["group"], shop["db"]) == "unrestricted"


def test_deleting_the_group_deletes_its_sandboxes(ee, shop):
    _, admin = ee
    gtap(admin, group_id=shop["group"], table_id=shop["orders"])
    assert admin.delete(f"/api/permissions/group/{shop['group']}").status_code == 204
    assert admin.get("/api/mt/gtap").json() == []


def test_the_enterprise_seed_needs_the_feature(emulator, admin_session):
    from mbport.emulator import seeds

    with pytest.raises(seeds.SeedError, match="seed enterprise needs the sandboxes premium feature"):
        seeds.load(emulator, "enterprise", admin_session)
    assert "enterprise" in seeds.names()


def test_advanced_permissions_alone_allow_blocked_but_not_sandboxed():
    emu = Emulator(premium_features="advanced_permissions")
    admin = make_client(emu, **{"X-Metabase-Session": bootstrap.setup_admin(emu, ADMIN_EMAIL, ADMIN_PASSWORD)})
    db, (orders,) = add_database(emu, admin)
    group = str(add_group(emu, admin, "Sellers"))
    graph = admin.get("/api/permissions/graph").json()
    blocked = admin.put("/api/permissions/graph", json={"revision": graph["revision"], "groups": {
        group: {str(db["id"]): {"view-data": "blocked", "create-queries": "no"}}}})
    assert blocked.status_code == 200, blocked.text
    sandboxed = admin.put("/api/permissions/graph", json={"revision": blocked.json()["revision"], "groups": {
        group: {str(db["id"]): {"view-data": {"": {str(orders["id"]): "sandboxed"}}}}}})
    assert sandboxed.status_code == 402 and "sandboxed permissions functionality" in sandboxed.text
    assert admin.get("/api/mt/gtap").status_code == 402
    official = admin.post("/api/collection", json={"name": "Official", "authority_level": "official"})
    assert official.status_code == 402  # official collections are another feature
