"""Database connections behave like Metabase's /api/database (conformance items 8, 10-12)."""

from pathlib import Path

import pytest

from mbport.emulator import sample_db
from tests.conftest import make_client

WAREHOUSES = Path(__file__).resolve().parents[2] / "fixtures" / "warehouses"


def _warehouse(tmp_path: Path, name: str = "warehouse_a") -> str:
    return str(sample_db.build_from_script(WAREHOUSES / f"{name}.sql", tmp_path / f"{name}.sqlite"))


def _add(admin, emulator, path: str, name: str = "Shop", **extra) -> dict:
    resp = admin.post("/api/database", json={"name": name, "engine": "sqlite", "details": {"db": path}, **extra})
    assert resp.status_code == 200, resp.text
    emulator.wait_idle()
    return resp.json()


def _non_admin(admin, emulator):
    user = admin.post("/api/user", json={"email": "analyst@example.com", "password": "An4lyst-pass!"})
    assert user.status_code == 200, user.text
    login = make_client(emulator).post("/api/session", json={"username": "analyst@example.com", "password": "An4lyst-pass!"})
    return make_client(emulator, **{"X-Metabase-Session": login.json()["id"]})


def test_sqlite_database_syncs_asynchronously(admin, emulator, tmp_path):
    created = admin.post("/api/database", json={"name": "Shop", "engine": "sqlite", "details": {"db": _warehouse(tmp_path)}})
    assert created.status_code == 200
    db = created.json()
    # is_full_sync / is_on_demand / connection_source were omitted: the defaults apply
    assert db["initial_sync_status"] == "incomplete" and db["is_full_sync"] is True and db["is_on_demand"] is False
    assert db["engine"] == "sqlite" and db["is_sample"] is False and db["creator_id"] == 1
    emulator.wait_idle()
    db = admin.get(f"/api/database/{db['id']}").json()
    assert db["initial_sync_status"] == "complete"
    tables = {t["name"]: t for t in admin.get(f"/api/database/{db['id']}/metadata").json()["tables"]}
    assert set(tables) == {"customers", "orders", "products"}
    assert tables["orders"]["initial_sync_status"] == "complete" and tables["orders"]["display_name"] == "Orders"
    fields = {f["name"]: f for f in tables["orders"]["fields"]}
    assert fields["id"]["semantic_type"] == "type/PK" and fields["id"]["base_type"] == "type/Integer"
    assert fields["customer_id"]["semantic_type"] == "type/FK"
    assert fields["customer_id"]["display_name"] == "Customer ID"
    customer_pk = next(f for f in tables["customers"]["fields"] if f["name"] == "id")
    assert fields["customer_id"]["fk_target_field_id"] == customer_pk["id"]
    assert fields["customer_id"]["target"]["id"] == customer_pk["id"]
    assert fields["total"]["base_type"] == "type/Float" and fields["ordered_on"]["base_type"] == "type/Date"
    assert fields["status"]["database_type"] == "TEXT" and fields["status"]["semantic_type"] == "type/Category"
    assert [f["position"] for f in tables["orders"]["fields"]] == list(range(7))
    customers = {f["name"]: f for f in tables["customers"]["fields"]}
    assert customers["email"]["semantic_type"] == "type/Email"
    assert customers["created_at"]["semantic_type"] == "type/CreationTimestamp"
    assert customers["created_at"]["base_type"] == "type/DateTime"


@pytest.mark.allow_invalid_requests
def test_missing_sqlite_file_is_a_connection_error(admin, tmp_path):
    resp = admin.post("/api/database", json={"name": "Gone", "engine": "sqlite", "details": {"db": str(tmp_path / "no.db")}})
    assert resp.status_code == 400
    assert "message" in resp.json()
    assert admin.get("/api/database").json()["total"] == 0
    assert admin.post("/api/database", json={"name": "x", "engine": "sqlite"}).status_code == 400  # no details


def test_other_engines_are_stored_without_tables(admin, emulator):
    resp = admin.post("/api/database", json={
        "name": "Warehouse", "engine": "postgres",
        "details": {"host": "pg", "port": 5432, "dbname": "dw", "user": "mb", "password": "s3cret"},
    })
    assert resp.status_code == 200
    emulator.wait_idle()
    got = admin.get(f"/api/database/{resp.json()['id']}?include=tables").json()
    assert got["tables"] == [] and got["engine"] == "postgres" and got["initial_sync_status"] == "complete"


def test_secrets_are_masked_and_kept_on_put(admin, emulator, tmp_path):
    path = _warehouse(tmp_path)
    resp = admin.post("/api/database", json={
        "name": "Shop", "engine": "sqlite",
        "details": {"db": path, "password": "hunter2", "tunnel-private-key": "KEY", "note": "plain"},
    })
    db = resp.json()
    assert db["details"] == {"db": path, "password": "**MetabasePass**", "tunnel-private-key": "**MetabasePass**",
                             "note": "plain"}
    listed = admin.get("/api/database").json()["data"][0]
    assert listed["details"]["password"] == "**MetabasePass**"
    # a PUT carrying the placeholder keeps the stored secret; details are merged over the stored ones
    put = admin.put(f"/api/database/{db['id']}", json={"details": {"password": "**MetabasePass**", "extra": 1}})
    assert put.status_code == 200
    assert put.json()["details"] == {**db["details"], "extra": 1}
    stored = emulator.state.table("metabase_database").get(db["id"])["details"]
    assert stored["password"] == "hunter2" and stored["tunnel-private-key"] == "KEY" and stored["note"] == "plain"
    admin.put(f"/api/database/{db['id']}", json={"details": {"password": "new-one"}})
    assert emulator.state.table("metabase_database").get(db["id"])["details"]["password"] == "new-one"


def test_put_updates_fields_and_rejects_a_broken_path(admin, emulator, tmp_path):
    db = _add(admin, emulator, _warehouse(tmp_path))
    put = admin.put(f"/api/database/{db['id']}", json={
        "name": "Renamed", "description": "the shop", "caveats": "beware",
        "schedules": {"metadata_sync": {"schedule_type": "daily", "schedule_hour": 4}},
    })
    assert put.status_code == 200
    got = admin.get(f"/api/database/{db['id']}").json()
    assert (got["name"], got["description"], got["caveats"]) == ("Renamed", "the shop", "beware")
    assert got["metadata_sync_schedule"] == "0 0 4 * * ? *"
    assert got["schedules"]["metadata_sync"]["schedule_type"] == "daily"
    assert got["schedules"]["metadata_sync"]["schedule_hour"] == 4
    bad = admin.put(f"/api/database/{db['id']}", json={"details": {"db": str(tmp_path / "missing.db")}})
    assert bad.status_code == 400 and "message" in bad.json()
    assert admin.get(f"/api/database/{db['id']}").json()["details"]["db"].endswith("warehouse_a.sqlite")


def test_list_is_an_envelope_with_tables_and_saved(admin, emulator, tmp_path):
    _add(admin, emulator, _warehouse(tmp_path, "warehouse_b"), name="b-shop")
    _add(admin, emulator, _warehouse(tmp_path), name="A-shop")
    listed = admin.get("/api/database").json()
    assert set(listed) == {"data", "total"} and listed["total"] == 2
    assert [d["name"] for d in listed["data"]] == ["A-shop", "b-shop"]  # ordered by name, case-insensitively
    item = listed["data"][0]
    assert item["native_permissions"] == "write" and item["can_upload"] is False and "tables" not in item
    with_tables = admin.get("/api/database?include=tables").json()["data"][0]
    assert sorted(t["name"] for t in with_tables["tables"]) == ["customers", "orders", "products"]
    assert with_tables["tables"][0]["schema"] == ""  # a null schema rendered as Metabase does on hydration
    # the Saved Questions virtual database appears only when a card exists
    assert admin.get("/api/database?saved=true").json()["total"] == 2
    emulator.state.table("card").insert({"name": "q", "archived": False, "dataset_query": {}})
    saved = admin.get("/api/database?saved=true").json()
    assert saved["total"] == 3 and saved["data"][-1]["id"] == -1337 and saved["data"][-1]["is_saved_questions"]


def test_get_one_with_tables_and_fields(admin, emulator, tmp_path):
    db = _add(admin, emulator, _warehouse(tmp_path))
    plain = admin.get(f"/api/database/{db['id']}").json()
    assert "tables" not in plain and plain["can-manage"] is True and "schedules" in plain
    full = admin.get(f"/api/database/{db['id']}?include=tables.fields").json()
    orders = next(t for t in full["tables"] if t["name"] == "orders")
    assert [f["name"] for f in orders["fields"]][:3] == ["id", "customer_id", "product_id"]
    assert admin.get("/api/database/999").status_code == 404


def test_delete_removes_database_and_metadata(admin, emulator, tmp_path):
    db = _add(admin, emulator, _warehouse(tmp_path))
    table_id = admin.get("/api/table").json()[0]["id"]
    assert admin.delete(f"/api/database/{db['id']}").status_code == 204
    assert admin.get(f"/api/database/{db['id']}").status_code == 404
    assert admin.get(f"/api/table/{table_id}").status_code == 404
    assert admin.get("/api/table").json() == []
    assert admin.delete(f"/api/database/{db['id']}").status_code == 404


def test_sample_database(admin):
    resp = admin.post("/api/database/sample_database")
    assert resp.status_code == 200
    db = resp.json()
    assert db["is_sample"] is True and db["name"] == "Sample Database" and db["initial_sync_status"] == "complete"
    assert admin.post("/api/database/sample_database").json()["id"] == db["id"]  # idempotent
    tables = {t["name"]: t for t in admin.get(f"/api/database/{db['id']}/metadata").json()["tables"]}
    assert set(tables) == {"orders", "people", "products", "reviews"}
    assert db["engine"] == "h2" and all(t["schema"] == "PUBLIC" for t in tables.values())  # 0.61: the H2 sample
    assert tables["orders"]["estimated_row_count"] >= 100
    orders = {f["name"]: f for f in tables["orders"]["fields"]}
    people_id = next(f["id"] for f in tables["people"]["fields"] if f["name"] == "id")
    assert orders["user_id"]["fk_target_field_id"] == people_id
    assert tables["people"]["entity_type"] == "entity/UserTable"


def test_sample_database_file_has_the_fixture_schema_and_rows():
    import sqlite3

    path = sample_db.sample_database_path()
    with sqlite3.connect(path) as conn:
        tables = {name for (name,) in conn.execute("select name from sqlite_master where type = 'table'")}
        counts = {t: conn.execute(f"select count(*) from {t}").fetchone()[0] for t in tables}
    assert tables == {"orders", "people", "products", "reviews"}
    assert all(counts[t] > 0 for t in tables)
    assert "CREATE TABLE orders" in (WAREHOUSES / "sample.sql").read_text()


def test_validate_connection_details(admin, tmp_path):
    ok = admin.post("/api/database/validate", json={"details": {"engine": "sqlite", "details": {"db": _warehouse(tmp_path)}}})
    assert ok.status_code == 200 and ok.json()["valid"] is True
    bad = admin.post("/api/database/validate", json={"details": {"engine": "sqlite", "details": {"db": "/nope.db"}}})
    assert bad.json()["valid"] is False and bad.json()["message"]


def test_schemas_fields_and_idfields(admin, emulator, tmp_path):
    db = _add(admin, emulator, _warehouse(tmp_path))
    assert admin.get(f"/api/database/{db['id']}/schemas").json() == [""]
    tables = admin.get(f"/api/database/{db['id']}/schema").json()
    assert sorted(t["name"] for t in tables) == ["customers", "orders", "products"]
    assert admin.get(f"/api/database/{db['id']}/schema/public").status_code == 404
    fields = admin.get(f"/api/database/{db['id']}/fields").json()
    email = next(f for f in fields if f["name"] == "email")
    assert email["table_name"] == "customers" and email["schema"] is None and email["semantic_type"] == "type/Email"
    pks = admin.get(f"/api/database/{db['id']}/idfields").json()
    assert [f["table"]["name"] for f in pks] == ["customers", "orders", "products"]
    assert all(f["semantic_type"] == "type/PK" for f in pks)


def test_bulk_metadata_is_flat(admin, emulator, tmp_path):
    db = _add(admin, emulator, _warehouse(tmp_path))
    bulk = admin.get("/api/database/metadata").json()
    assert bulk["databases"] == [{"id": db["id"], "name": "Shop", "engine": "sqlite"}]
    assert {t["name"] for t in bulk["tables"]} == {"customers", "orders", "products"}
    fk = next(f for f in bulk["fields"] if f["name"] == "customer_id")
    assert set(fk) == {"id", "table_id", "name", "base_type", "database_type", "effective_type", "semantic_type",
                       "coercion_strategy", "description", "fk_target_field_id", "parent_id"}
    assert fk["fk_target_field_id"] is not None


def test_values_rescan_and_discard(admin, emulator, tmp_path):
    db = _add(admin, emulator, _warehouse(tmp_path))
    status = next(f for f in admin.get(f"/api/database/{db['id']}/fields").json() if f["name"] == "status")
    assert admin.post(f"/api/database/{db['id']}/rescan_values").json() == {"status": "ok"}
    assert len(emulator.state.table("field_values")) > 0
    assert admin.post(f"/api/database/{db['id']}/discard_values").json() == {"status": "ok"}
    assert len(emulator.state.table("field_values")) == 0
    assert admin.get(f"/api/field/{status['id']}/values").json()["values"] == [["cancelled"], ["pending"], ["shipped"]]


def test_non_admins_get_no_details_and_cannot_create(admin, emulator, tmp_path):
    _add(admin, emulator, _warehouse(tmp_path))
    analyst = _non_admin(admin, emulator)
    listed = analyst.get("/api/database").json()["data"][0]
    assert "details" not in listed and "settings" not in listed
    assert listed["native_permissions"] == "write"  # All Users may write SQL on a new database by default
    created = analyst.post("/api/database", json={"name": "x", "engine": "sqlite", "details": {"db": "/x"}})
    assert created.status_code == 403 and created.text == "You don't have permissions to do that."


def test_sync_schema_on_unreachable_database_is_422(admin, emulator, tmp_path):
    path = tmp_path / "gone.sqlite"
    db = _add(admin, emulator, str(sample_db.build_from_script(WAREHOUSES / "warehouse_b.sql", path)))
    path.unlink()
    resp = admin.post(f"/api/database/{db['id']}/sync_schema")
    assert resp.status_code == 422 and "message" in resp.json()


def test_new_databases_enter_the_permissions_graph(admin, emulator):
    db = admin.post("/api/database", json={"name": "pg", "engine": "postgres", "details": {}}).json()
    all_users = next(g for g in admin.get("/api/permissions/group").json() if g["name"] == "All Users")
    graph = admin.get("/api/permissions/graph").json()
    assert graph["groups"][str(all_users["id"])][str(db["id"])]["view-data"] == "unrestricted"
    admin.delete(f"/api/database/{db['id']}")
    graph = admin.get("/api/permissions/graph").json()
    assert str(db["id"]) not in graph["groups"].get(str(all_users["id"]), {})


def test_put_validates_settings_like_validate_settable_for_db(admin, emulator, tmp_path):
    """warehouses_rest PUT "/:id": each changed, non-default setting goes through `validate-settable-for-db!`."""
    db = _add(admin, emulator, _warehouse(tmp_path))
    unknown = admin.put(f"/api/database/{db['id']}", json={"settings": {"database-enable-actoins": True}})
    assert unknown.status_code == 400 and unknown.json()["message"] == "Unknown setting: :database-enable-actoins"
    refused = admin.put(f"/api/database/{db['id']}", json={"settings": {"database-enable-actions": True}})
    assert refused.status_code == 400 and refused.json()["required-feature"] == "actions"
    # The default value, nil (unset) and a value already stored are never validated.
    assert admin.put(f"/api/database/{db['id']}", json={"settings": {"database-enable-actions": False,
                                                                       "database-enable-actoins": None}}).status_code == 200
    on = admin.put(f"/api/database/{db['id']}", json={"settings": {"unaggregated-query-row-limit": 500}})
    assert on.status_code == 200 and on.json()["settings"] == {"database-enable-actions": False,
                                                              "unaggregated-query-row-limit": 500}
    editing = admin.put(f"/api/database/{db['id']}", json={"settings": {"database-enable-table-editing": True}})
    assert editing.status_code == 400 and "feature :table-data-editing is not available" in editing.json()["message"]


def test_put_writes_only_non_null_texts_resets_on_demand_and_cache_ttl_needs_the_feature(admin, emulator, tmp_path):
    """`u/select-keys-when :non-nil` (description, caveats, points_of_interest), `(boolean is_on_demand)`, and
    cache_ttl only with `enable-cache-granular-controls?`."""
    db = _add(admin, emulator, _warehouse(tmp_path), is_on_demand=True)
    assert db["is_on_demand"] is True
    put = admin.put(f"/api/database/{db['id']}", json={"description": "Sales data", "caveats": "late by a day",
                                                        "points_of_interest": "orders", "is_on_demand": True,
                                                        "cache_ttl": 24}).json()
    assert (put["description"], put["caveats"], put["points_of_interest"], put["is_on_demand"]) == (
        "Sales data", "late by a day", "orders", True)
    assert put["cache_ttl"] is None  # an OSS build ignores it
    put = admin.put(f"/api/database/{db['id']}", json={"description": None, "caveats": None,
                                                        "points_of_interest": None}).json()
    assert (put["description"], put["caveats"], put["points_of_interest"]) == ("Sales data", "late by a day", "orders")
    assert put["is_on_demand"] is False  # omitted: (boolean nil)
    emulator.premium_features = "cache_granular_controls"
    assert admin.put(f"/api/database/{db['id']}", json={"cache_ttl": 24}).json()["cache_ttl"] == 24
    assert admin.put(f"/api/database/{db['id']}", json={}).json()["cache_ttl"] is None  # nil clears it on EE
