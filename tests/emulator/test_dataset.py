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
    median = {"database": shop_db, "type": "query",
              "query": {"source-table": tables["orders"]["id"], "aggregation": [["median", ["field", 1, None]]]}}
    failed = admin.post("/api/dataset", json=median).json()  # the SQLite driver has no percentile aggregations
    assert failed["status"] == "failed" and "percentile-aggregations" in failed["error"]


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


def _saved(admin, query, **extra) -> dict:
    body = {"name": extra.pop("name", "Q"), "display": "table", "visualization_settings": {}, "dataset_query": query}
    resp = admin.post("/api/card", json={**body, **extra})
    assert resp.status_code == 200, resp.text
    return resp.json()


def test_a_native_card_saved_without_metadata_gets_its_columns(admin, shop_db):
    # queries/models/card/metadata.clj `maybe-async-result-metadata`: the query is run for its columns.
    card = _saved(admin, _native(shop_db, "SELECT id, name FROM customers"))
    stored = admin.get(f"/api/card/{card['id']}").json()["result_metadata"]
    assert [(c["name"], c["base_type"]) for c in stored] == [("id", "type/Integer"), ("name", "type/Text")]
    broken = _saved(admin, _native(shop_db, "SELECT * FROM nowhere"), name="Broken")
    assert admin.get(f"/api/card/{broken['id']}").json()["result_metadata"] is None


def test_running_a_card_records_its_metadata_and_a_model_keeps_its_edits(admin, shop_db):
    # query_processor/middleware/results_metadata.clj `record-metadata!`
    tables = {t["name"]: t for t in admin.get("/api/table").json()}
    mbql = {"database": shop_db, "type": "query", "query": {"source-table": tables["products"]["id"]}}
    card = _saved(admin, mbql)
    # queries/models/card/metadata.clj `populate-result-metadata`: an MBQL card's columns are inferred on save
    saved = admin.get(f"/api/card/{card['id']}").json()["result_metadata"]
    assert [c["name"] for c in saved] == ["id", "title", "category", "price"]
    admin.put(f"/api/card/{card['id']}", json={"result_metadata": saved[:1]})  # given metadata is kept as given
    assert len(admin.get(f"/api/card/{card['id']}").json()["result_metadata"]) == 1
    before = admin.get(f"/api/card/{card['id']}").json()["updated_at"]
    assert admin.post(f"/api/card/{card['id']}/query").json()["status"] == "completed"
    after = admin.get(f"/api/card/{card['id']}").json()
    assert [c["name"] for c in after["result_metadata"]] == ["id", "title", "category", "price"]
    assert after["updated_at"] == before
    model = _saved(admin, _native(shop_db, "SELECT id, title FROM products"), name="M", type="model")
    columns = admin.get(f"/api/card/{model['id']}").json()["result_metadata"]
    columns[1] = {**columns[1], "display_name": "Product title", "description": "what we sell"}
    admin.put(f"/api/card/{model['id']}", json={"result_metadata": columns})
    admin.post(f"/api/card/{model['id']}/query")
    kept = admin.get(f"/api/card/{model['id']}").json()["result_metadata"][1]
    assert (kept["display_name"], kept["description"]) == ("Product title", "what we sell")


@pytest.mark.allow_invalid_requests  # an unknown format, refused by the spec's enum
def test_a_card_downloads_as_json_and_csv(admin, shop_db):
    # queries_rest/api/card.clj `POST /:card-id/query/:export-format`; streaming/json.clj and streaming/csv.clj
    card = _saved(admin, _native(shop_db, "SELECT id, name FROM customers ORDER BY id LIMIT 2"))
    as_json = admin.post(f"/api/card/{card['id']}/query/json", json={})
    assert as_json.status_code == 200 and as_json.headers["content-type"].startswith("application/json")
    assert as_json.json() == [{"id": 1, "name": "Ada Lovelace"}, {"id": 2, "name": "Grace Hopper"}]
    assert as_json.headers["content-disposition"].startswith('attachment; filename="q_')
    as_csv = admin.post(f"/api/card/{card['id']}/query/csv", json={})
    assert as_csv.status_code == 200 and as_csv.headers["content-type"] == "text/csv"
    assert as_csv.text == "id,name\n1,Ada Lovelace\n2,Grace Hopper\n"
    api = admin.post(f"/api/card/{card['id']}/query/api", json={})
    assert api.status_code == 200 and api.json()["data"]["rows"] == [[1, "Ada Lovelace"], [2, "Grace Hopper"]]
    assert admin.post(f"/api/card/{card['id']}/query/pdf", json={}).status_code == 400
    assert admin.post("/api/card/9999/query/csv", json={}).status_code == 404
def test_dashcard_query_runs_the_card_with_the_dashboards_mapped_filters(profiled):
    """POST /api/dashboard/:id/dashcard/:dashcard-id/card/:card-id/query (qp.dashboard/process-query-for-dashcard):
    the card's rows in context "dashboard"; a dashboard filter applies through this dashcard's mapping, its default
    when the request gives no value; an unknown filter is a 400; a card not on the dashcard is a 404."""
    emu, client, db_id = profiled
    card = _card(client, db_id, "by quantity", "SELECT id FROM orders WHERE quantity >= {{q}} ORDER BY id", {
        "q": {"name": "q", "display-name": "Q", "type": "number"}})
    other = _card(client, db_id, "other", "SELECT 1")
    dash = client.post("/api/dashboard", json={"name": "D", "parameters": [
        {"id": "pq", "name": "Q", "slug": "q", "type": "number/=", "default": 2}]}).json()
    put = client.put(f"/api/dashboard/{dash['id']}", json={"dashcards": [
        {"id": -1, "card_id": card["id"], "row": 0, "col": 0, "size_x": 4, "size_y": 4, "parameter_mappings": [
            {"parameter_id": "pq", "card_id": card["id"], "target": ["variable", ["template-tag", "q"]]}]}]})
    assert put.status_code == 200, put.text
    dashcard = put.json()["dashcards"][0]["id"]
    path = f"/api/dashboard/{dash['id']}/dashcard/{dashcard}/card/{card['id']}/query"
    resp = client.post(path, json={})
    assert resp.status_code == 202
    body = resp.json()
    assert body["status"] == "completed" and body["context"] == "dashboard", body.get("error")
    assert body["data"]["rows"] == [[1], [4]]  # the filter's default (quantity >= 2)
    given = client.post(path, json={"parameters": [{"id": "pq", "type": "number/=", "value": 4}]}).json()
    assert given["data"]["rows"] == [[4]]
    unknown = client.post(path, json={"parameters": [{"id": "nope", "value": 1}]})
    assert unknown.status_code == 400 and "does not have a parameter with ID" in unknown.text
    assert client.post(f"/api/dashboard/{dash['id']}/dashcard/{dashcard}/card/{other['id']}/query", json={}).status_code == 404
    assert client.post(f"/api/dashboard/{dash['id']}/dashcard/9999/card/{card['id']}/query", json={}).status_code == 404
