"""Running queries: POST /api/dataset and saved native cards on SQLite warehouses (conformance item 28)."""

from pathlib import Path

import pytest

from mbport.emulator import Emulator, bootstrap, sample_db
from tests.conftest import ADMIN_EMAIL, ADMIN_PASSWORD, make_client

WAREHOUSES = Path(__file__).resolve().parents[2] / "fixtures" / "warehouses"


@pytest.fixture
def shop_db(admin, emulator, tmp_path) -> int:
    path = sample_db.build_from_script(WAREHOUSES / "warehouse_a.sql", tmp_path / "a.sqlite")
    db = admin.post("/api/database", json={"name": "Shop", "engine": "sqlite", "details": {"db": str(path)}}).json()
    emulator.wait_idle()
    return db["id"]


def _native(db_id: int, sql: str, **native) -> dict:
    return {"database": db_id, "type": "native", "native": {"query": sql, **native}}


def test_native_query_mbql4(admin, shop_db):
    resp = admin.post("/api/dataset", json=_native(shop_db, "SELECT id, name FROM customers ORDER BY id"))
    assert resp.status_code == 202
    body = resp.json()
    assert body["status"] == "completed" and body["row_count"] == 3 and body["database_id"] == shop_db
    assert body["context"] == "ad-hoc" and body["started_at"].endswith("Z")
    assert body["data"]["rows"] == [[1, "Ada Lovelace"], [2, "Grace Hopper"], [3, "Alan Turing"]]
    cols = body["data"]["cols"]
    assert [(c["name"], c["base_type"], c["source"]) for c in cols] == \
        [("id", "type/Integer", "native"), ("name", "type/Text", "native")]
    assert cols[1]["field_ref"] == ["field", "name", {"base-type": "type/Text"}]
    assert body["data"]["native_form"]["query"] == "SELECT id, name FROM customers ORDER BY id"
    assert [c["name"] for c in body["data"]["results_metadata"]["columns"]] == ["id", "name"]


def test_native_query_mbql5_stage(admin, shop_db):
    query = {"lib/type": "mbql/query", "database": shop_db,
             "stages": [{"lib/type": "mbql.stage/native", "native": "SELECT count(*) AS n, max(ordered_on) AS last FROM orders"}]}
    body = admin.post("/api/dataset", json=query).json()
    assert body["status"] == "completed" and body["data"]["rows"] == [[4, "2024-04-09"]]
    assert [c["base_type"] for c in body["data"]["cols"]] == ["type/Integer", "type/Date"]


def test_sql_error_is_a_failed_query_with_202(admin, shop_db):
    resp = admin.post("/api/dataset", json=_native(shop_db, "SELECT * FROM nowhere"))
    assert resp.status_code == 202
    body = resp.json()
    assert body["status"] == "failed" and "no such table: nowhere" in body["error"]
    assert body["error_type"] == "invalid-query" and body["row_count"] == 0
    assert body["data"] == {"rows": [], "cols": []} and body["json_query"]["native"]["query"] == "SELECT * FROM nowhere"
    assert body["via"][0]["error"] == body["error"]


def test_mbql_source_table_runs_as_select(admin, shop_db):
    tables = {t["name"]: t for t in admin.get("/api/table").json()}
    q4 = {"database": shop_db, "type": "query", "query": {"source-table": tables["products"]["id"], "limit": 2}}
    body = admin.post("/api/dataset", json=q4).json()
    assert body["status"] == "completed" and body["row_count"] == 2
    assert [c["name"] for c in body["data"]["cols"]] == ["id", "title", "category", "price"]
    assert body["data"]["cols"][0]["source"] == "fields" and body["data"]["cols"][0]["semantic_type"] == "type/PK"
    q5 = {"lib/type": "mbql/query", "database": shop_db,
          "stages": [{"lib/type": "mbql.stage/mbql", "source-table": tables["customers"]["id"]}]}
    assert admin.post("/api/dataset", json=q5).json()["row_count"] == 3
    aggregated = {"database": shop_db, "type": "query",
                  "query": {"source-table": tables["orders"]["id"], "aggregation": [["count"]]}}
    failed = admin.post("/api/dataset", json=aggregated).json()
    assert failed["status"] == "failed" and "aggregation" in failed["error"]


def test_unknown_database_is_404(admin):
    assert admin.post("/api/dataset", json=_native(4242, "select 1")).status_code == 404


def test_non_sqlite_engine_fails_to_connect(admin, emulator):
    db = admin.post("/api/database", json={"name": "pg", "engine": "postgres", "details": {"host": "x"}}).json()
    emulator.wait_idle()
    body = admin.post("/api/dataset", json=_native(db["id"], "select 1")).json()
    assert body["status"] == "failed" and "postgres" in body["error"]


def test_template_tags_in_ad_hoc_queries(admin, shop_db):
    sql = "SELECT id FROM orders WHERE status = {{status}} [[AND quantity >= {{min_qty}}]] ORDER BY id"
    tags = {"status": {"name": "status", "type": "text", "display-name": "Status"},
            "min_qty": {"name": "min_qty", "type": "number", "display-name": "Min"}}
    query = _native(shop_db, sql, **{"template-tags": tags})

    def run(*params):
        return admin.post("/api/dataset", json={**query, "parameters": list(params)}).json()

    status = {"type": "category", "target": ["variable", ["template-tag", "status"]], "value": "shipped"}
    assert run(status)["data"]["rows"] == [[1], [2]]  # the optional clause is dropped without a value
    min_qty = {"type": "number/=", "target": ["variable", ["template-tag", "min_qty"]], "value": ["2"]}
    filtered = run(status, min_qty)
    assert filtered["data"]["rows"] == [[1]] and filtered["data"]["native_form"]["params"] == ["shipped", 2]
    missing = run()
    assert missing["status"] == "failed" and missing["error_type"] == "missing-required-parameter"


def test_field_filter_tag(admin, shop_db):
    status_field = next(f for f in admin.get(f"/api/database/{shop_db}/fields").json() if f["name"] == "status"
                        and f["table_name"] == "orders")
    tags = {"s": {"name": "s", "type": "dimension", "dimension": ["field", status_field["id"], None],
                  "widget-type": "string/="}}
    query = _native(shop_db, "SELECT count(*) FROM orders WHERE {{s}}", **{"template-tags": tags})
    assert admin.post("/api/dataset", json=query).json()["data"]["rows"] == [[4]]
    param = {"type": "string/=", "target": ["dimension", ["template-tag", "s"]], "value": ["pending", "cancelled"]}
    assert admin.post("/api/dataset", json={**query, "parameters": [param]}).json()["data"]["rows"] == [[2]]


@pytest.fixture(params=["0.56", "0.61", "0.63"])
def profiled(request, tmp_path):
    """An admin client on each query-format era: MBQL 4, MBQL 5 with tag maps, MBQL 5 with tag lists."""
    emu = Emulator(request.param)
    session = bootstrap.setup_admin(emu, ADMIN_EMAIL, ADMIN_PASSWORD)
    client = make_client(emu, **{"X-Metabase-Session": session})
    path = sample_db.build_from_script(WAREHOUSES / "warehouse_a.sql", tmp_path / "a.sqlite")
    db = client.post("/api/database", json={"name": "Shop", "engine": "sqlite", "details": {"db": str(path)}}).json()
    emu.wait_idle()
    return emu, client, db["id"]


def _card(client, db_id: int, name: str, sql: str, tags: dict | None = None) -> dict:
    resp = client.post("/api/card", json={
        "name": name, "display": "table", "visualization_settings": {}, "type": "question",
        "dataset_query": _native(db_id, sql, **({"template-tags": tags} if tags else {})),
    })
    assert resp.status_code == 200, resp.text
    return resp.json()


def test_saved_card_with_tags_card_references_and_snippets(profiled):
    emu, client, db_id = profiled
    snippet = client.post("/api/native-query-snippet", json={"name": "Shipped", "content": "status = 'shipped'"})
    assert snippet.status_code == 200
    base = _card(client, db_id, "shipped orders", "SELECT * FROM orders WHERE {{snippet: Shipped}}", {
        "snippet: Shipped": {"name": "snippet: Shipped", "display-name": "Shipped", "type": "snippet",
                             "snippet-name": "Shipped", "snippet-id": snippet.json()["id"]}})
    ref = f"#{base['id']}-shipped-orders"
    card = _card(client, db_id, "big shipped", f"SELECT id FROM {{{{{ref}}}}} AS o WHERE quantity >= {{{{q}}}} ORDER BY id", {
        ref: {"name": ref, "display-name": ref, "type": "card", "card-id": base["id"]},
        "q": {"name": "q", "display-name": "Q", "type": "number", "default": "1"},
    })
    stored = emu.state.table("card").get(card["id"])["dataset_query"]
    if emu.state.profile.template_tags_list:
        assert isinstance(stored["stages"][0]["template-tags"], list)
    resp = client.post(f"/api/card/{card['id']}/query", json={})
    assert resp.status_code == 202
    body = resp.json()
    assert body["status"] == "completed" and body["context"] == "question", body.get("error")
    assert body["data"]["rows"] == [[1], [2]]  # the default (1) applies
    param = {"type": "number/=", "target": ["variable", ["template-tag", "q"]], "value": 2}
    assert client.post(f"/api/card/{card['id']}/query", json={"parameters": [param]}).json()["data"]["rows"] == [[1]]
    by_entity_id = client.post(f"/api/card/{card['entity_id']}/query", json={})
    assert by_entity_id.json()["row_count"] == 2


def test_unknown_card_is_404(admin):
    assert admin.post("/api/card/777/query", json={}).status_code == 404
