"""The dashboards plugin: golden cases, tab and dashcard addresses, cycle-breaking refs, and an emulator export."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
from mbport_plugins.cards import Cards
from mbport_plugins.dashboards import Dashboards

from mbport.check import check
from mbport.client import MetabaseClient
from mbport.export import run_export
from mbport.kind import ExportContext
from mbport.refs import address
from mbport.registry import load_plugins
from mbport.testing import fake_index, load_case, numeric_ids_left, uncovered_fields
from tests.plugins.test_cards import KINDS, export_docs, ok, shop

ROOT = Path(__file__).resolve().parents[2]
CASES = sorted((ROOT / "fixtures" / "cases" / "dashboards").glob("*.json"))
KIND = Dashboards()


def case(stem):
    return load_case(ROOT / "fixtures" / "cases" / "dashboards" / f"{stem}.json")


def test_cases_include_both_recorded_eras():
    assert {"recorded-mbql4-dashboard-2", "recorded-mbql5-dashboard-2"} <= {p.stem for p in CASES}


@pytest.mark.parametrize("path", CASES, ids=lambda p: p.stem)
def test_golden_dashcards_are_covered(path):
    """Besides the shared golden checks (test_golden_cases.py): a dashcard or tab field nobody declared is caught
    like a dashboard's own."""
    raw = load_case(path)["raw"]
    assert uncovered_fields(KIND, raw) == set()
    dashcards = [{**dc, "new_field": 1} for dc in raw.get("dashcards") or raw.get("ordered_cards") or []]
    tabs = [{**tab, "tab_field": 2} for tab in raw.get("tabs") or []]
    expected = {"dashcards[].new_field"} if dashcards else set()
    expected |= {"tabs[].tab_field"} if tabs else set()
    key = "dashcards" if "dashcards" in raw else "ordered_cards"
    assert uncovered_fields(KIND, {**raw, key: dashcards, "tabs": tabs}) == expected


def test_tabs_in_position_order_and_dashcards_by_tab_row_col():
    doc = case("tabs-series-actions-links-clicks")["doc"]
    assert [t["name"] for t in doc["tabs"]] == ["Overview", "Details"]
    order = [(dc["tab"]["$ref"], dc["row"], dc["col"]) for dc in doc["dashcards"]]
    assert order == [("tabs/key-11", 0, 0), ("tabs/key-11", 6, 0), ("tabs/key-11", 6, 12),
                     ("tabs/key-12", 0, 0), ("tabs/key-12", 2, 0), ("tabs/key-12", 3, 0)]


def test_dashcard_slots():
    cards = {dc["entity_id"]: dc for dc in case("tabs-series-actions-links-clicks")["doc"]["dashcards"]}
    question = cards["dC_question_series_41"]
    assert question["series"] == [{"$ref": "cards/key-27"}, {"$ref": "cards/key-28"}]
    assert question["inline_parameters"] == ["p2"]
    assert question["parameter_mappings"][0]["card_id"] == {"$ref": "cards/key-101"}
    assert "card" not in cards["dC_text_heading_00044"]  # a virtual card has no card
    assert cards["dC_action_button_0043"]["action"] == {"$ref": "actions/key-3"}
    # Link cards keep what they point at; the name and collection GET hydrates are copies.
    assert cards["dC_link_dashboard_045"]["visualization_settings"]["link"]["entity"] == {
        "model": "dashboard", "id": {"$ref": "dashboards/key-8"}}
    assert cards["dC_link_table_0000046"]["visualization_settings"]["link"]["entity"] == {
        "model": "table", "id": {"$ref": "tables/key-10"}}
    sources = cards["dC_visualizer_000042"]["visualization_settings"]["visualization"]["columnValuesMapping"]
    assert sources["COLUMN_2"][0]["sourceId"] == "card:[cards/key-27]"


def test_pre_048_names_read_like_the_new_ones():
    old = case("pre-048-ordered-cards-archived")["doc"]
    new = case("recorded-mbql4-dashboard-2")["doc"]
    assert old["archived"] is True
    assert old["dashcards"] == new["dashcards"] and {"size_x", "size_y"} <= set(old["dashcards"][0])


def own_index_ctx(raw):
    """An index where the dashboard's own tabs and dashcards get their real addresses, others `K/key-N`."""
    c = case("tabs-series-actions-links-clicks")
    index = fake_index({k: v for k, v in c["index"].items() if k != "tabs"} | {"tabs": [21]})
    index.update({(k, i): a for k, i, a in KIND.index(raw)})
    return ExportContext(index=index)


def test_index_contains_and_refs_agree():
    raw = case("tabs-series-actions-links-clicks")["raw"]
    eid = raw["entity_id"]
    indexed = list(KIND.index(raw))
    assert indexed[0] == ("dashboards", 7, f"dashboards/{eid}")
    assert ("tabs", 11, f"tabs/{eid}/tAb_overview_00000011") in indexed
    assert ("dashcards", 41, f"dashcards/{eid}/dC_question_series_41") in indexed
    ctx = own_index_ctx(raw)
    doc = KIND.normalize(raw, ctx)
    assert ctx.warnings == []
    inside = KIND.contains(doc)
    assert inside == {a for k, _, a in indexed if k != "dashboards"}
    assert {dc["tab"]["$ref"] for dc in doc["dashcards"]} <= inside
    refs = KIND.refs(doc)
    assert {"cards/key-101", "cards/key-27", "collections/key-3", "fields/key-78", "actions/key-3"} <= refs
    # Click behaviours and link cards are filled in after every dashboard exists: they may form cycles.
    assert KIND.deferred_refs(doc) == {"dashboards/key-8", "tabs/key-21", "cards/key-27"}


def test_sub_kinds_resolve_to_their_dashboard():
    from mbport.registry import Registry

    reg = Registry()
    reg.add(KIND)
    assert reg.owner(address("dashcards", "dAsH", "dc1")) == "dashboards/dAsH"
    assert reg.owner(address("tabs", "dAsH", "t1")) == "dashboards/dAsH"


class FakeApi:
    def __init__(self, summaries, details):
        self.summaries, self.details = summaries, details

    def get(self, path, params=None, shape=None):
        if path == "/api/dashboard":
            archived = (params or {}).get("f") == "archived"
            return [s for s in self.summaries if bool(s["archived"]) == archived]
        return copy.deepcopy(self.details[int(path.rsplit("/", 1)[1])])


def test_list_and_fetch_keep_the_real_home_of_trashed_dashboards():
    summaries = [{"id": 1, "archived": False, "collection_id": None}, {"id": 2, "archived": True, "collection_id": 3},
                 {"id": 3, "archived": False, "collection_id": 9}]
    api = FakeApi(summaries, {2: {"id": 2, "archived": True, "archived_directly": True, "collection_id": 1000}})
    rows = KIND.list(api, ExportContext(raw={"collections": [{"id": 3}]}))
    assert [r["id"] for r in rows] == [1, 2]  # collection 9 (personal) is not exported
    assert all(KIND.needs_fetch(r) for r in rows)
    assert KIND.fetch(api, rows[1])["collection_id"] == 3  # GET says Trash (1000); restore goes back to 3


# ---------------------------------------------------------------- export through the emulator

def test_fetch_leaves_out_the_hydrated_copies_and_keeps_the_rest(tmp_path):
    """GET copies each dashcard's card and its filters' fields into a dashboard (85% of its bytes at bench-L):
    the fetched raw has neither (nothing reads them), and holds everything else the answer says."""
    emu, session, client, db, tables, fields = shop("0.61", tmp_path)
    card = ok(client.post("/api/card", json={
        "name": "Orders", "display": "table", "visualization_settings": {},
        "dataset_query": {"database": db, "type": "query", "query": {"source-table": tables["orders"]["id"]}}}))
    dash = ok(client.post("/api/dashboard", json={"name": "Sales", "parameters": [
        {"id": "p1", "name": "Status", "slug": "status", "type": "string/="}]}))
    ok(client.put(f"/api/dashboard/{dash['id']}", json={"dashcards": [
        {"id": -1, "card_id": card["id"], "row": 0, "col": 0, "size_x": 12, "size_y": 6,
         "parameter_mappings": [{"parameter_id": "p1", "card_id": card["id"],
                                 "target": ["dimension", ["field", fields[("orders", "status")], None]]}]}]}))
    with MetabaseClient("http://metabase.test", session_token=session, transport=emu.transport()) as api:
        fetched = KIND.fetch(api, {"id": dash["id"]})
        whole = api.get(f"/api/dashboard/{dash['id']}")
    assert whole["param_fields"] and whole["dashcards"][0]["card"]["name"] == "Orders"
    viewed = ("view_count", "last_viewed_at")  # every GET counts a view
    expected = {k: v for k, v in whole.items() if k != "param_fields" and k not in viewed}
    expected["dashcards"] = [{k: v for k, v in dc.items() if k != "card"} for dc in whole["dashcards"]]
    assert {k: v for k, v in fetched.items() if k not in viewed} == expected



def test_export_from_the_emulator(tmp_path):
    emu, session, client, db, tables, fields = shop("0.61", tmp_path)
    analytics = ok(client.post("/api/collection", json={"name": "Analytics"}))
    q = ok(client.post("/api/card", json={
        "name": "Orders", "display": "table", "collection_id": analytics["id"], "visualization_settings": {},
        "dataset_query": {"database": db, "type": "query", "query": {"source-table": tables["orders"]["id"]}}}))
    q2 = ok(client.post("/api/card", json={
        "name": "Customers", "display": "table", "collection_id": analytics["id"], "visualization_settings": {},
        "dataset_query": {"database": db, "type": "query", "query": {"source-table": tables["customers"]["id"]}}}))
    main = ok(client.post("/api/dashboard", json={"name": "Sales", "collection_id": analytics["id"], "parameters": [
        {"id": "p1", "name": "Status", "slug": "status", "type": "string/=", "sectionId": "string",
         "values_source_type": "card", "values_source_config": {"card_id": q["id"], "value_field": ["field", fields[("orders", "status")], None]}}]}))
    other = ok(client.post("/api/dashboard", json={"name": "Ops", "collection_id": analytics["id"]}))
    # A dashboard question: Metabase places it on the dashboard itself.
    inner = ok(client.post("/api/card", json={
        "name": "Pending", "display": "scalar", "dashboard_id": main["id"], "visualization_settings": {},
        "dataset_query": {"database": db, "type": "native", "native": {"query": "select count(*) from orders where status = 'pending'"}}}))
    placed = ok(client.get(f"/api/dashboard/{main['id']}"))["dashcards"]
    inner_dc = next(dc for dc in placed if dc["card_id"] == inner["id"])
    ok(client.put(f"/api/dashboard/{main['id']}", json={
        "tabs": [{"id": -1, "name": "Overview"}, {"id": -2, "name": "Details"}],
        "dashcards": [
            {**{k: inner_dc[k] for k in ("id", "card_id", "row", "col", "size_x", "size_y")}, "dashboard_tab_id": -1},
            {"id": -1, "card_id": q["id"], "dashboard_tab_id": -1, "row": 4, "col": 0, "size_x": 12, "size_y": 6,
             "series": [{"id": q2["id"]}],
             "parameter_mappings": [{"parameter_id": "p1", "card_id": q["id"],
                                     "target": ["dimension", ["field", fields[("orders", "status")], None]]}],
             "visualization_settings": {"click_behavior": {"type": "link", "linkType": "dashboard", "targetId": other["id"]}}},
            {"id": -2, "card_id": None, "dashboard_tab_id": -2, "row": 0, "col": 0, "size_x": 24, "size_y": 1,
             "visualization_settings": {"virtual_card": {"display": "heading"}, "text": "Details"}},
            {"id": -3, "card_id": None, "dashboard_tab_id": -2, "row": 1, "col": 0, "size_x": 8, "size_y": 1,
             "visualization_settings": {"virtual_card": {"display": "link"}, "link": {"entity": {"id": other["id"], "model": "dashboard"}}}},
        ]}))
    # Ops links back to Sales: the two dashboards refer to each other.
    ok(client.put(f"/api/dashboard/{other['id']}", json={"tabs": [], "dashcards": [
        {"id": -1, "card_id": q2["id"], "row": 0, "col": 0, "size_x": 12, "size_y": 6,
         "visualization_settings": {"click_behavior": {"type": "link", "linkType": "dashboard", "targetId": main["id"]}}}]}))
    # Orders drills through to Sales, which shows Orders: a cycle Metabase allows.
    ok(client.put(f"/api/card/{q['id']}", json={"visualization_settings": {"column_settings": {
        f'["ref",["field",{fields[("orders", "id")]},null]]': {
            "click_behavior": {"type": "link", "linkType": "dashboard", "targetId": main["id"]}}}}}))
    old = ok(client.post("/api/dashboard", json={"name": "Old", "collection_id": analytics["id"]}))
    ok(client.put(f"/api/dashboard/{old['id']}", json={"archived": True}))
    me = ok(client.get("/api/user/current"))
    ok(client.post("/api/dashboard", json={"name": "Mine", "collection_id": me["personal_collection_id"]}))

    docs, paths, warnings = export_docs(emu, session)
    assert warnings == []
    dashes = {d["name"]: d for a, d in docs.items() if a.startswith("dashboards/")}
    assert set(dashes) == {"Sales", "Ops", "Old"}  # the personal one stays home
    for doc in dashes.values():
        assert numeric_ids_left(doc) == []
    sales, ops = dashes["Sales"], dashes["Ops"]
    sales_addr, ops_addr = f"dashboards/{main['entity_id']}", f"dashboards/{other['entity_id']}"
    coll = {"$ref": f"collections/{analytics['entity_id']}"}
    assert sales["collection"] == coll and dashes["Old"]["collection"] == coll and dashes["Old"]["archived"] is True
    assert [t["name"] for t in sales["tabs"]] == ["Overview", "Details"]
    tab_addrs = [address("tabs", main["entity_id"], t["entity_id"]) for t in sales["tabs"]]
    assert [dc["tab"]["$ref"] for dc in sales["dashcards"]] == [tab_addrs[0]] * 2 + [tab_addrs[1]] * 2
    by_card = {dc.get("card", {}).get("$ref"): dc for dc in sales["dashcards"]}
    assert by_card[f"cards/{q['entity_id']}"]["series"] == [{"$ref": f"cards/{q2['entity_id']}"}]
    assert by_card[f"cards/{inner['entity_id']}"]["size_x"] == 6  # the autoplaced scalar
    assert sales["parameters"][0]["values_source_config"]["card_id"] == {"$ref": f"cards/{q['entity_id']}"}
    # The dashboard question and its dashboard point at each other; both sides say which ref waits.
    inner_doc = docs[f"cards/{inner['entity_id']}"]
    assert inner_doc["dashboard"] == {"$ref": sales_addr}
    assert KIND.deferred_refs(sales) == {ops_addr} and KIND.deferred_refs(ops) == {sales_addr}
    assert f"cards/{inner['entity_id']}" in KIND.refs(sales)
    assert KIND.contains(sales) == set(tab_addrs) | {
        address("dashcards", main["entity_id"], dc["entity_id"]) for dc in sales["dashcards"]}
    assert paths[sales_addr] == "dashboards/analytics/sales.json"
    assert Cards().deferred_refs(docs[f"cards/{q['entity_id']}"]) == {sales_addr}

    # The written tree is complete and its only cycles are the deferred ones.
    registry = load_plugins(list(KINDS))
    with MetabaseClient("http://metabase.test", session_token=session, transport=emu.transport()) as api:
        result = run_export(api, registry, tmp_path / "tree")
    assert result.warnings == [] and result.counts["dashboards"] == 3
    assert check(tmp_path / "tree", registry) == []
