"""Table and field metadata: /metadata visibility (item 13), re-sync, /api/table and /api/field edits."""

import sqlite3
from pathlib import Path

import pytest

from mbport.emulator import sample_db

WAREHOUSES = Path(__file__).resolve().parents[2] / "fixtures" / "warehouses"


@pytest.fixture
def shop(admin, emulator, tmp_path):
    """The warehouse_a fixture connected and synced: {"db", "path", "tables": {name: table}, "fields": {t.c: field}}."""
    path = sample_db.build_from_script(WAREHOUSES / "warehouse_a.sql", tmp_path / "a.sqlite")
    db = admin.post("/api/database", json={"name": "Shop", "engine": "sqlite", "details": {"db": str(path)}}).json()
    emulator.wait_idle()
    meta = admin.get(f"/api/database/{db['id']}/metadata").json()
    return {
        "db": db, "path": path, "tables": {t["name"]: t for t in meta["tables"]},
        "fields": {f"{t['name']}.{f['name']}": f for t in meta["tables"] for f in t["fields"]},
    }


def _metadata(admin, db_id, **params):
    return admin.get(f"/api/database/{db_id}/metadata", params=params).json()


def test_hidden_tables_and_sensitive_fields_leave_metadata(admin, shop):
    db_id, products = shop["db"]["id"], shop["tables"]["products"]
    assert admin.put(f"/api/table/{products['id']}", json={"visibility_type": "hidden"}).status_code == 200
    email = shop["fields"]["customers.email"]
    admin.put(f"/api/field/{email['id']}", json={"visibility_type": "sensitive"})
    default = _metadata(admin, db_id)
    assert {t["name"] for t in default["tables"]} == {"customers", "orders"}
    customers = next(t for t in default["tables"] if t["name"] == "customers")
    assert "email" not in {f["name"] for f in customers["fields"]}
    everything = _metadata(admin, db_id, include_hidden="true")
    assert {t["name"] for t in everything["tables"]} == {"customers", "orders", "products"}
    customers = next(t for t in everything["tables"] if t["name"] == "customers")
    assert "email" in {f["name"] for f in customers["fields"]}
    # hidden tables still come back from GET /api/table (all active tables)
    assert "products" in {t["name"] for t in admin.get("/api/table").json()}
    assert admin.get("/api/table", params={"visibility-type": "hidden"}).json()[0]["name"] == "products"


def test_metadata_shape_and_skip_fields(admin, shop):
    meta = _metadata(admin, shop["db"]["id"])
    assert meta["id"] == shop["db"]["id"] and meta["details"]["db"] == str(shop["path"])
    table = meta["tables"][0]
    assert {"segments", "metrics", "fields", "db_id", "entity_type", "field_order", "active"} <= set(table)
    field = table["fields"][0]
    for key in ("base_type", "effective_type", "semantic_type", "database_type", "position", "database_position",
                "has_field_values", "fk_target_field_id", "target", "visibility_type", "fingerprint", "custom_position"):
        assert key in field
    skipped = _metadata(admin, shop["db"]["id"], skip_fields="true")
    assert all("fields" not in t for t in skipped["tables"])


def test_resync_adds_deactivates_and_keeps_user_edits(admin, emulator, shop):
    orders, status = shop["tables"]["orders"], shop["fields"]["orders.status"]
    admin.put(f"/api/table/{orders['id']}", json={"display_name": "Sales", "description": "all sales"})
    admin.put(f"/api/field/{status['id']}", json={"display_name": "State", "description": "order state",
                                                  "visibility_type": "details-only"})
    with sqlite3.connect(shop["path"]) as conn:
        conn.execute("ALTER TABLE orders ADD COLUMN channel TEXT")
        conn.execute("ALTER TABLE orders DROP COLUMN quantity")
        conn.execute("DROP TABLE products")
        conn.execute("CREATE TABLE returns (id INTEGER PRIMARY KEY, order_id INTEGER REFERENCES orders(id))")
    assert admin.post(f"/api/database/{shop['db']['id']}/sync_schema").json() == {"status": "ok"}
    emulator.wait_idle()
    meta = _metadata(admin, shop["db"]["id"])
    tables = {t["name"]: t for t in meta["tables"]}
    assert tables["products"]["active"] is False and tables["products"]["id"] == shop["tables"]["products"]["id"]
    assert tables["returns"]["active"] is True
    assert next(f for f in tables["returns"]["fields"] if f["name"] == "order_id")["fk_target_field_id"] == \
        shop["fields"]["orders.id"]["id"]
    assert (tables["orders"]["display_name"], tables["orders"]["description"]) == ("Sales", "all sales")
    order_fields = {f["name"]: f for f in tables["orders"]["fields"]}
    assert "channel" in order_fields and "quantity" not in order_fields
    assert order_fields["status"]["id"] == status["id"]
    assert (order_fields["status"]["display_name"], order_fields["status"]["description"]) == ("State", "order state")
    assert order_fields["status"]["visibility_type"] == "details-only"
    assert admin.get(f"/api/field/{shop['fields']['orders.quantity']['id']}").json()["active"] is False
    active = _metadata(admin, shop["db"]["id"], remove_inactive="true")
    assert "products" not in {t["name"] for t in active["tables"]}
    assert "products" not in {t["name"] for t in admin.get("/api/table").json()}
    # a deleted table that comes back is reactivated with its old id
    with sqlite3.connect(shop["path"]) as conn:
        conn.execute("CREATE TABLE products (id INTEGER PRIMARY KEY, title TEXT)")
    admin.post(f"/api/table/{tables['orders']['id']}/sync_schema")
    emulator.wait_idle()
    assert admin.get(f"/api/table/{shop['tables']['products']['id']}").json()["active"] is True


def test_table_get_and_put(admin, shop):
    orders = shop["tables"]["orders"]
    got = admin.get(f"/api/table/{orders['id']}").json()
    assert got["db"]["id"] == shop["db"]["id"] and got["pk_field"] == shop["fields"]["orders.id"]["id"]
    assert got["schema"] is None and got["entity_type"] == "entity/TransactionTable" and "fields" not in got
    put = admin.put(f"/api/table/{orders['id']}", json={
        "display_name": "Sales", "description": "d", "caveats": "c", "points_of_interest": "p",
        "entity_type": "entity/EventTable", "show_in_getting_started": True,
    })
    assert put.status_code == 200
    body = put.json()
    assert (body["display_name"], body["description"], body["caveats"], body["entity_type"]) == \
        ("Sales", "d", "c", "entity/EventTable")
    assert admin.put(f"/api/table/{orders['id']}", json={"description": None}).json()["description"] is None
    assert admin.get("/api/table/9999").status_code == 404
    listed = admin.get("/api/table").json()
    assert [t["name"] for t in listed] == ["customers", "orders", "products"] and "db" in listed[0]


def test_field_order(admin, shop):
    orders = shop["tables"]["orders"]
    fields = [f for f in shop["tables"]["orders"]["fields"]]
    reversed_ids = [f["id"] for f in reversed(fields)]
    assert admin.put(f"/api/table/{orders['id']}/fields/order", json=reversed_ids).json() == {"success": True}
    meta = admin.get(f"/api/table/{orders['id']}/query_metadata").json()
    assert [f["id"] for f in meta["fields"]] == reversed_ids and meta["field_order"] == "custom"
    alpha = admin.put(f"/api/table/{orders['id']}", json={"field_order": "alphabetical"}).json()
    assert [f["name"] for f in alpha["fields"]] == sorted(f["name"] for f in fields)


def test_query_metadata_and_fks(admin, shop):
    orders, customers = shop["tables"]["orders"], shop["tables"]["customers"]
    status = shop["fields"]["orders.status"]
    admin.put(f"/api/field/{status['id']}", json={"visibility_type": "hidden"})
    meta = admin.get(f"/api/table/{orders['id']}/query_metadata").json()
    assert meta["db"]["id"] == shop["db"]["id"] and meta["segments"] == [] and meta["metrics"] == []
    names = [f["name"] for f in meta["fields"]]
    assert "status" not in names and names[0] == "id"
    fk = next(f for f in meta["fields"] if f["name"] == "customer_id")
    assert fk["target"]["name"] == "id" and fk["dimensions"] == [] and "name_field" in fk
    with_hidden = admin.get(f"/api/table/{orders['id']}/query_metadata", params={"include_hidden_fields": "true"}).json()
    assert "status" in [f["name"] for f in with_hidden["fields"]]
    pk = next(f for f in admin.get(f"/api/table/{customers['id']}/query_metadata").json()["fields"] if f["name"] == "id")
    assert pk["name_field"]["name"] == "name"
    fks = admin.get(f"/api/table/{customers['id']}/fks").json()
    assert len(fks) == 1 and fks[0]["relationship"] == "Mt1"
    assert fks[0]["origin"]["name"] == "customer_id" and fks[0]["origin"]["table"]["name"] == "orders"
    assert fks[0]["destination_id"] == pk["id"]


def test_field_get_and_put(admin, shop):
    plan = shop["fields"]["customers.plan"]
    got = admin.get(f"/api/field/{plan['id']}").json()
    assert got["table"]["name"] == "customers" and got["table"]["db"]["id"] == shop["db"]["id"]
    assert got["dimensions"] == [] and got["has_field_values"] == "list"
    put = admin.put(f"/api/field/{plan['id']}", json={
        "display_name": "Subscription", "description": "the plan", "semantic_type": "type/Name",
        "has_field_values": "search", "settings": {"column_title": "Plan"},
    }).json()
    assert (put["display_name"], put["description"], put["semantic_type"], put["has_field_values"]) == \
        ("Subscription", "the plan", "type/Name", "search")
    assert put["settings"] == {"column_title": "Plan"}
    # semantic type and FK target together; an FK to a missing field is refused
    total = shop["fields"]["orders.total"]
    set_fk = admin.put(f"/api/field/{total['id']}", json={"semantic_type": "type/FK",
                                                           "fk_target_field_id": shop["fields"]["products.id"]["id"]})
    assert set_fk.json()["fk_target_field_id"] == shop["fields"]["products.id"]["id"]
    bad = admin.put(f"/api/field/{total['id']}", json={"fk_target_field_id": 99999})
    assert bad.status_code == 400 and bad.json() == {"errors": {"fk_target_field_id": "Invalid target field"}}
    # dropping the FK semantic type clears the target
    cleared = admin.put(f"/api/field/{total['id']}", json={"semantic_type": "type/Currency"}).json()
    assert cleared["fk_target_field_id"] is None


def test_coercion_strategy(admin, shop):
    created_at = shop["fields"]["customers.name"]
    iso = admin.put(f"/api/field/{created_at['id']}", json={"coercion_strategy": "Coercion/ISO8601->DateTime"}).json()
    assert iso["effective_type"] == "type/DateTime" and iso["coercion_strategy"] == "Coercion/ISO8601->DateTime"
    reset = admin.put(f"/api/field/{created_at['id']}", json={"coercion_strategy": None}).json()
    assert reset["effective_type"] == "type/Text" and reset["coercion_strategy"] is None
    wrong = admin.put(f"/api/field/{created_at['id']}", json={"coercion_strategy": "Coercion/Float->Integer"})
    assert wrong.status_code == 400 and wrong.json()["message"] == "Incompatible coercion strategy."


def test_dimensions_remap_fields(admin, shop):
    fk = shop["fields"]["orders.customer_id"]
    name = shop["fields"]["customers.name"]
    missing = admin.post(f"/api/field/{fk['id']}/dimension", json={"type": "external", "name": "Customer"})
    assert missing.status_code == 400
    assert missing.text == "Foreign key based remappings require a human readable field id"
    dim = admin.post(f"/api/field/{fk['id']}/dimension", json={
        "type": "external", "name": "Customer", "human_readable_field_id": name["id"]}).json()
    assert dim["field_id"] == fk["id"] and dim["human_readable_field_id"] == name["id"] and len(dim["entity_id"]) == 21
    shown = admin.get(f"/api/field/{fk['id']}").json()["dimensions"]
    assert [(d["type"], d["name"], d["human_readable_field_id"]) for d in shown] == [("external", "Customer", name["id"])]
    again = admin.post(f"/api/field/{fk['id']}/dimension", json={"type": "internal", "name": "Who"}).json()
    assert again["id"] == dim["id"] and again["type"] == "internal"
    assert admin.delete(f"/api/field/{fk['id']}/dimension").status_code == 204
    assert admin.get(f"/api/field/{fk['id']}").json()["dimensions"] == []


def test_remappings_are_served_by_query_metadata_and_the_field_never_by_database_metadata(admin, shop):
    # warehouses_rest/api.clj `db-metadata` hydrates no :dimensions; warehouse_schema/table.clj
    # `fetch-query-metadata*` and warehouse_schema/field.clj `get-field` do, and the field GET has the FK target.
    fk, name = shop["fields"]["orders.customer_id"], shop["fields"]["customers.name"]
    admin.post(f"/api/field/{fk['id']}/dimension", json={
        "type": "external", "name": "Customer", "human_readable_field_id": name["id"]})
    meta = _metadata(admin, shop["db"]["id"], include_hidden="true")
    assert all("dimensions" not in f for t in meta["tables"] for f in t["fields"])
    query_metadata = admin.get(f"/api/table/{shop['tables']['orders']['id']}/query_metadata").json()
    dims = next(f for f in query_metadata["fields"] if f["id"] == fk["id"])["dimensions"]
    field = admin.get(f"/api/field/{fk['id']}").json()
    assert field["dimensions"] == dims and [d["human_readable_field_id"] for d in dims] == [name["id"]]
    assert field["target"]["id"] == shop["fields"]["customers.id"]["id"] and field["target"]["name"] == "id"
    assert admin.get(f"/api/field/{name['id']}").json()["target"] is None


def test_field_values_and_human_readable_labels(admin, shop):
    status, total = shop["fields"]["orders.status"], shop["fields"]["orders.total"]
    values = admin.get(f"/api/field/{status['id']}/values").json()
    assert values == {"values": [["cancelled"], ["pending"], ["shipped"]], "field_id": status["id"], "has_more_values": False}
    labels = [["cancelled", "Cancelled"], ["pending", "Pending"], ["shipped", "Shipped"]]
    assert admin.post(f"/api/field/{status['id']}/values", json={"values": labels}).json() == {"status": "success"}
    assert admin.get(f"/api/field/{status['id']}/values").json()["values"] == labels
    mixed = admin.post(f"/api/field/{status['id']}/values", json={"values": [["a", "A"], ["b"]]})
    assert mixed.status_code == 400
    assert admin.get(f"/api/field/{total['id']}/values").json()["values"] == []  # not a list field
    assert admin.post(f"/api/field/{total['id']}/values", json={"values": [[1]]}).status_code == 400
    # a rescan keeps labels for values that are still there; discard drops them
    assert admin.post(f"/api/field/{status['id']}/rescan_values").json() == {"status": "success"}
    assert admin.get(f"/api/field/{status['id']}/values").json()["values"] == labels
    admin.post(f"/api/table/{shop['tables']['orders']['id']}/discard_values")
    assert admin.get(f"/api/field/{status['id']}/values").json()["values"] == [["cancelled"], ["pending"], ["shipped"]]


def test_bad_semantic_type_and_missing_field(admin, shop):
    plan = shop["fields"]["customers.plan"]
    bad = admin.put(f"/api/field/{plan['id']}", json={"semantic_type": "Category"})
    assert bad.status_code == 400 and "semantic_type" in bad.json()["errors"]
    assert admin.get("/api/field/99999").status_code == 404
    assert admin.put("/api/field/99999", json={"description": "x"}).status_code == 404
