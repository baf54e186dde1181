"""The cards plugin: golden normalize cases (both query eras), the id contract, and an export from the emulator."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
from mbport_plugins.cards import Cards

from mbport.client import MetabaseClient
from mbport.emulator import Emulator, bootstrap, sample_db
from mbport.export import build_index, extract, normalize, place
from mbport.kind import ExportContext
from mbport.kindutil import canonical_query
from mbport.refs import address, collect_refs
from mbport.registry import load_plugins
from mbport.testing import load_case, normalize_case, numeric_ids_left, uncovered_fields
from tests.conftest import ADMIN_EMAIL, ADMIN_PASSWORD, make_client

ROOT = Path(__file__).resolve().parents[2]
CASES = sorted((ROOT / "fixtures" / "cases" / "cards").glob("*.json"))
WAREHOUSES = ROOT / "fixtures" / "warehouses"
KIND = Cards()


def test_cases_cover_both_recorded_eras_and_every_card_type():
    names = {p.stem for p in CASES}
    assert {f"recorded-{era}-card-{n}" for era in ("mbql4", "mbql5") for n in range(27, 34)} <= names
    types = {load_case(p)["doc"]["type"] for p in CASES}
    assert types == {"question", "model", "metric"}


def case(stem):
    return load_case(ROOT / "fixtures" / "cases" / "cards" / f"{stem}.json")


def test_query_noise_is_gone_but_user_names_stay():
    doc = case("dashboard-question-mbql4-idents")["doc"]
    query = doc["dataset_query"]["query"]
    assert "aggregation-idents" not in query and "breakout-idents" not in query
    assert "ident" not in query["joins"][0]
    assert "ident" in query["expressions"]  # an expression the user named "ident"
    mbql5 = case("recorded-mbql5-card-27")["doc"]["dataset_query"]
    text = str(mbql5)
    assert "lib/uuid" not in text and "lib.convert/converted?" not in mbql5


def test_transient_conversion_markers_are_never_in_a_doc_nor_a_difference():
    """Newer servers mark converted queries (`lib.convert/converted?`, `lib/transformation-added-base-type`
    on field refs): like `lib/uuid`, the same card with and without them is the same doc."""
    plain = case("recorded-mbql5-card-27")
    marked = copy.deepcopy(plain)

    def mark(node):
        if isinstance(node, list):
            if len(node) == 3 and node[0] == "field" and isinstance(node[1], dict):
                node[1]["lib/transformation-added-base-type"] = True
            for x in node:
                mark(x)
        elif isinstance(node, dict):
            for x in node.values():
                mark(x)

    query = marked["raw"]["dataset_query"]
    mark(query)
    query["stages"][0]["lib.convert/converted?"] = True
    assert "lib/transformation-added-base-type" in str(query)
    doc = normalize_case(KIND, marked)[0]
    assert "lib/transformation-added-base-type" not in str(doc) and "lib.convert/converted?" not in str(doc)
    assert doc == normalize_case(KIND, plain)[0]


def test_an_aggregation_uuid_an_order_by_names_is_kept_and_the_others_are_noise():
    """MBQL 5 sorts on an aggregation by its `lib/uuid`: stripping that uuid (as all others are) left the
    order-by naming an aggregation the target never had (found by `mbport verify` on the sample seed)."""
    agg = "0b5f1c7e-1111-4000-8000-000000000001"
    query = {"lib/type": "mbql/query", "database": 1, "stages": [{
        "lib/type": "mbql.stage/mbql", "source-table": 2,
        "aggregation": [["count", {"lib/uuid": agg}], ["sum", {"lib/uuid": "unreferenced"}, ["field", {"lib/uuid": "f"}, 3]]],
        "order-by": [["desc", {"lib/uuid": "o"}, ["aggregation", {"lib/uuid": "r"}, agg]]],
    }]}
    stage = canonical_query(query)["stages"][0]
    assert stage["aggregation"][0] == ["count", {"lib/uuid": agg}]
    assert stage["aggregation"][1] == ["sum", {}, ["field", {}, 3]]
    assert stage["order-by"] == [["desc", {}, ["aggregation", {}, agg]]]


def test_template_tag_list_becomes_the_map_older_servers_send():
    tags = case("native-mbql5-list-tags-archived")["doc"]["dataset_query"]["stages"][0]["template-tags"]
    assert isinstance(tags, dict) and set(tags) == {"#[cards/key-101]", "snippet: Paid", "status"}
    assert tags["#[cards/key-101]"]["card-id"] == {"$ref": "cards/key-101"}
    listed = {"stages": [{"template-tags": [{"name": "b", "type": "text"}, {"name": "a", "type": "text"}]}]}
    assert canonical_query(listed)["stages"][0]["template-tags"] == {"a": {"name": "a", "type": "text"},
                                                                      "b": {"name": "b", "type": "text"}}


def test_models_keep_edited_column_metadata_questions_do_not():
    model = case("model-mbql5-metadata-and-viz")["doc"]
    columns = model["result_metadata"]
    assert columns[0]["display_name"] == "Order #" and columns[0]["id"] == {"$ref": "fields/key-84"}
    assert columns[1]["fk_target_field_id"] == {"$ref": "fields/key-94"}
    assert all("fingerprint" not in c and not any(k.startswith("lib/") for k in c) for c in columns)
    for stem in ("recorded-mbql5-card-27", "native-mbql4-template-tags"):
        assert "result_metadata" not in case(stem)["doc"]
    assert case("model-pre-049-dataset-flag")["doc"]["type"] == "model"


def test_dashboard_question_and_click_targets_are_deferred():
    doc = case("dashboard-question-mbql4-idents")["doc"]
    assert doc["dashboard"] == {"$ref": "dashboards/key-7"} and doc["dashboard_tab"] == {"$ref": "tabs/key-11"}
    # ... and so is the card its click behaviour opens (click targets may point back).
    assert KIND.deferred_refs(doc) == {"dashboards/key-7", "tabs/key-11", "cards/key-102"}
    # A column click behaviour to a dashboard tab waits too; the field ref in the same column key does not.
    assert KIND.deferred_refs(case("model-mbql5-metadata-and-viz")["doc"]) == {"dashboards/key-7", "tabs/key-21"}
    assert KIND.deferred_refs(case("recorded-mbql5-card-28")["doc"]) == set()
    assert {"dashboards/key-7", "cards/key-101", "fields/key-78"} <= KIND.refs(doc)


def test_unknown_id_is_a_dangling_ref_and_a_warning():
    raw = copy.deepcopy(case("recorded-mbql5-card-28")["raw"])
    ctx = ExportContext(index={("databases", 2): "databases/Shop", ("fields", 78): "fields/Shop//orders/status"})
    doc = KIND.normalize(raw, ctx)
    assert doc["dataset_query"]["stages"][0]["source-card"] == {"$ref": "cards/missing-id-27"}
    assert len(ctx.warnings) == 1 and "cards id 27" in ctx.warnings[0]


class FakeApi:
    """Answers the two card list requests from canned rows."""

    def __init__(self, rows):
        self.rows, self.calls = rows, []

    def get(self, path, params=None):
        self.calls.append((path, params))
        f = (params or {}).get("f")
        return [r for r in self.rows if bool(r.get("archived")) == (f == "archived")]


def _row(id_, collection_id, archived=False, personal=False):
    return {"id": id_, "entity_id": f"e{id_}", "name": f"c{id_}", "archived": archived, "collection_id": collection_id,
            "collection": {"id": collection_id, "is_personal": personal}}


def test_list_reads_live_and_archived_cards_and_follows_the_collections_choice():
    rows = [_row(1, None), _row(2, 3), _row(3, 9, personal=True), _row(4, 3, archived=True), _row(5, 77)]
    api = FakeApi(rows)
    ctx = ExportContext(raw={"collections": [{"id": 3}]})
    assert [r["id"] for r in KIND.list(api, ctx)] == [1, 2, 4]
    assert api.calls == [("/api/card", {"f": "all"}), ("/api/card", {"f": "archived"})]
    # With include_personal the collections kind exports collection 9: its cards come along.
    ctx = ExportContext(raw={"collections": [{"id": 3}, {"id": 9}]}, options={"include_personal": True})
    assert [r["id"] for r in KIND.list(FakeApi(rows), ctx)] == [1, 2, 3, 4]
    # Without a collections kind, the hydrated collection's personal flag decides.
    assert [r["id"] for r in KIND.list(FakeApi(rows), ExportContext())] == [1, 2, 4, 5]


def test_archived_cards_reported_in_the_trash_go_home():
    trash = {"id": 1000, "type": "trash", "name": "Trash"}
    rows = [{**_row(1, 1000, archived=True), "collection": {"id": 3, "name": "Analytics"}},
            {**_row(2, 1000, archived=True), "collection": trash}]
    ctx = ExportContext(raw={"collections": [{"id": 3}]})
    listed = KIND.list(FakeApi(rows), ctx)
    assert [(r["id"], r["collection_id"]) for r in listed] == [(1, 3), (2, None)]
    assert len(ctx.warnings) == 1 and "'c2'" in ctx.warnings[0] and "root" in ctx.warnings[0]


# ---------------------------------------------------------------- export through the emulator

def shop(profile, tmp_path):
    emu = Emulator(profile)
    session = bootstrap.setup_admin(emu, ADMIN_EMAIL, ADMIN_PASSWORD)
    client = make_client(emu, **{"X-Metabase-Session": session})
    path = sample_db.build_from_script(WAREHOUSES / "warehouse_a.sql", tmp_path / "a.sqlite")
    db = client.post("/api/database", json={"name": "Shop", "engine": "sqlite", "details": {"db": str(path)}}).json()
    emu.wait_idle()
    meta = client.get(f"/api/database/{db['id']}/metadata").json()
    tables = {t["name"]: t for t in meta["tables"]}
    fields = {(t["name"], f["name"]): f["id"] for t in meta["tables"] for f in t["fields"]}
    return emu, session, client, db["id"], tables, fields


def ok(resp):
    assert resp.status_code == 200, resp.text
    return resp.json()


KINDS = ("users", "collections", "databases", "tables", "snippets", "cards", "dashboards")


def export_docs(emu, session, kinds=KINDS, **options):
    """Run the export stages (list, fetch, index, normalize, place) for a few kinds; returns docs, paths, warnings."""
    registry = load_plugins(list(kinds))
    assert set(registry.kinds) == set(kinds), registry.warnings
    ctx = ExportContext(options=options)
    with MetabaseClient("http://metabase.test", session_token=session, transport=emu.transport()) as api:
        extract(api, registry, list(kinds), ctx)
    build_index(registry, ctx)
    docs = normalize(registry, ctx)
    # Every field the server sent is kept, translated or dropped with a reason (dashcards and tabs included).
    for name in set(kinds) & {"cards", "dashboards", "snippets"}:
        kind = registry[name]
        for raw in ctx.raw[name]:
            assert uncovered_fields(kind, raw) == set(), (name, raw["id"])
    return docs, place(registry, docs), ctx.warnings


@pytest.mark.parametrize("profile", ["0.56", "0.61", "0.63"])
def test_export_from_the_emulator(profile, tmp_path):
    emu, session, client, db, tables, fields = shop(profile, tmp_path)
    analytics = ok(client.post("/api/collection", json={"name": "Analytics"}))
    folder = ok(client.post("/api/collection", json={"name": "SQL helpers", "namespace": "snippets"}))
    snippet = ok(client.post("/api/native-query-snippet", json={"name": "Shipped", "content": "status = 'shipped'",
                                                                  "collection_id": folder["id"]}))
    model = ok(client.post("/api/card", json={
        "name": "Orders model", "type": "model", "display": "table", "collection_id": analytics["id"],
        "dataset_query": {"database": db, "type": "query", "query": {
            "source-table": tables["orders"]["id"],
            "filter": ["=", ["field", fields[("customers", "plan")], {"source-field": fields[("orders", "customer_id")]}], "pro"]}},
        "visualization_settings": {"column_settings": {f'["ref",["field",{fields[("orders", "total")]},null]]': {"currency": "EUR"}}},
    }))
    tag = f"#{model['id']}-orders-model"
    native = ok(client.post("/api/card", json={
        "name": "Shipped pro orders", "display": "table", "collection_id": analytics["id"],
        "dataset_query": {"database": db, "type": "native", "native": {
            "query": f"select * from {{{{{tag}}}}} o where {{{{snippet: Shipped}}}} [[and {{{{status}}}}]]",
            "template-tags": {
                tag: {"id": "t1", "name": tag, "display-name": "Orders model", "type": "card", "card-id": model["id"]},
                "snippet: Shipped": {"id": "t2", "name": "snippet: Shipped", "display-name": "Shipped", "type": "snippet",
                                     "snippet-name": "Shipped", "snippet-id": snippet["id"]},
                "status": {"id": "t3", "name": "status", "display-name": "Status", "type": "dimension",
                           "widget-type": "string/=", "dimension": ["field", fields[("orders", "status")], None]}}}},
        "visualization_settings": {},
    }))
    metric = ok(client.post("/api/card", json={
        "name": "Revenue", "type": "metric", "display": "scalar", "visualization_settings": {},
        "dataset_query": {"database": db, "type": "query", "query": {
            "source-table": tables["orders"]["id"], "aggregation": [["sum", ["field", fields[("orders", "total")], None]]]}},
    }))
    gone = ok(client.post("/api/card", json={"name": "Old", "display": "table", "visualization_settings": {},
                                              "dataset_query": {"database": db, "type": "native", "native": {"query": "select 1"}}}))
    ok(client.put(f"/api/card/{gone['id']}", json={"archived": True}))
    me = ok(client.get("/api/user/current"))
    personal = ok(client.post("/api/card", json={"name": "Scratch", "display": "table", "visualization_settings": {},
                                                  "collection_id": me["personal_collection_id"],
                                                  "dataset_query": {"database": db, "type": "native", "native": {"query": "select 2"}}}))

    docs, paths, warnings = export_docs(emu, session)
    assert warnings == []
    cards = {d["name"]: d for a, d in docs.items() if a.startswith("cards/")}
    assert set(cards) == {"Orders model", "Shipped pro orders", "Revenue", "Old"}  # the personal card stays home
    for doc in cards.values():
        assert numeric_ids_left(doc) == []
    shop_db = address("databases", "Shop")
    m = cards["Orders model"]
    assert m["type"] == "model" and m["collection"] == {"$ref": f"collections/{analytics['entity_id']}"}
    plan = {"$ref": address("fields", "Shop", "", "customers", "plan")}
    assert m["dataset_query"]["database"] == {"$ref": shop_db}
    assert plan in _field_refs(m["dataset_query"])
    assert any("fields/Shop//orders/total" in key for key in m["visualization_settings"]["column_settings"])
    n = docs[f"cards/{native['entity_id']}"]
    assert n == cards["Shipped pro orders"]
    eid = f"[cards/{model['entity_id']}]"
    query_text, tags = _native_parts(n["dataset_query"])
    assert f"{{{{#{eid}-orders-model}}}}" in query_text
    assert isinstance(tags, dict) and tags[f"#{eid}-orders-model"]["card-id"] == {"$ref": f"cards/{model['entity_id']}"}
    assert tags["snippet: Shipped"]["snippet-id"] == {"$ref": f"snippets/{snippet['entity_id']}"}
    assert cards["Revenue"]["type"] == "metric" and "collection" not in cards["Revenue"]
    assert cards["Old"]["archived"] is True and cards["Revenue"]["archived"] is False
    # MBQL 4 before 0.57, MBQL 5 after: the server's dialect is kept.
    assert ("stages" in m["dataset_query"]) == (profile != "0.56")
    assert all(r.split("/", 1)[0] in {"databases", "tables", "fields", "cards", "snippets", "collections"}
               for d in cards.values() for r in collect_refs(d))
    assert paths[f"cards/{model['entity_id']}"] == "cards/analytics/orders-model.json"
    assert paths[f"cards/{metric['entity_id']}"] == "cards/revenue.json"

    docs, _, warnings = export_docs(emu, session, include_personal=True)
    assert f"cards/{personal['entity_id']}" in docs and warnings == []


def _field_refs(node):
    return [r for r in _walk(node) if isinstance(r, dict) and r.get("$ref", "").startswith("fields/")]


def _walk(node):
    yield node
    if isinstance(node, dict):
        for v in node.values():
            yield from _walk(v)
    elif isinstance(node, list):
        for v in node:
            yield from _walk(v)


def _native_parts(query):
    if "stages" in query:
        stage = query["stages"][0]
        return stage["native"], stage["template-tags"]
    return query["native"]["query"], query["native"]["template-tags"]
