"""Import of snippets, cards and dashboards: content built on emulator A, exported, imported into an empty
emulator B, exported again; the two trees agree doc by doc once B's entity_ids are mapped back to A's."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from mbport.api import template_tags_as
from mbport.check import check_refs, load_tree
from mbport.client import MetabaseClient
from mbport.emulator import Emulator, bootstrap
from mbport.engine import Importer
from mbport.export import run_export
from mbport.registry import load_plugins
from mbport.secrets import Secrets
from mbport.state import State
from tests.conftest import ADMIN_EMAIL, ADMIN_PASSWORD, WRITES, writes_since

KINDS = ["databases", "tables", "collections", "snippets", "cards", "dashboards"]
MINE = ("snippets/", "cards/", "dashboards/")
P_CAT, P_DATE, P_INLINE = "p-category", "p-date", "p-inline"


def new_emulator(profile: str | None = None) -> tuple[Emulator, str]:
    emu = Emulator(profile)
    return emu, bootstrap.setup_admin(emu, ADMIN_EMAIL, ADMIN_PASSWORD)


def new_instance(profile: str | None = None) -> tuple[Emulator, MetabaseClient]:
    emu, session = new_emulator(profile)
    return emu, MetabaseClient("http://metabase.test", session_token=session, transport=emu.transport())


def mbql(db: int, **query: Any) -> dict[str, Any]:
    return {"database": db, "type": "query", "query": query}


def build_content(api: MetabaseClient) -> dict[str, Any]:
    """Every import path of the three kinds: snippet folders, a model and questions on it, a native card with a
    `{{#N-name}}` tag and a snippet, series, parameters sourced from a card, inline parameters, click behaviours
    between two tabbed dashboards (a cycle), a link card, a dashboard question, archived objects."""
    ids: dict[str, Any] = {}
    db = ids["db"] = api.post("/api/database/sample_database")["id"]
    meta = api.get(f"/api/database/{db}/metadata")
    t = {tb["name"]: tb["id"] for tb in meta["tables"]}
    f = {(tb["name"], fd["name"]): fd["id"] for tb in meta["tables"] for fd in tb["fields"]}
    sales = api.post("/api/collection", json={"name": "Sales"})["id"]
    emea = api.post("/api/collection", json={"name": "EMEA", "parent_id": sales})["id"]
    folder = api.post("/api/collection", json={"name": "Shared SQL", "namespace": "snippets"})["id"]
    snippet = api.post("/api/native-query-snippet", json={
        "name": "Big orders", "content": "total > 100", "description": "Worth a look.", "collection_id": folder})
    old = api.post("/api/native-query-snippet", json={"name": "Old filter", "content": "1 = 1"})
    api.put(f"/api/native-query-snippet/{old['id']}", json={"archived": True})

    def card(key: str, name: str, query: dict, **extra: Any) -> int:
        body = {"name": name, "display": extra.pop("display", "table"), "dataset_query": query,
                "visualization_settings": extra.pop("visualization_settings", {}), **extra}
        ids[key] = api.post("/api/card", json=body)["id"]
        return ids[key]

    card("categories", "Categories", mbql(db, **{"source-table": t["products"],
                                                 "breakout": [["field", f["products", "category"], None]]}),
         collection_id=sales)
    model = card("model", "Orders model", mbql(db, **{"source-table": t["orders"]}), type="model", collection_id=sales,
                 result_metadata=[{"name": "total", "display_name": "Order total (EUR)", "base_type": "type/Float",
                                   "id": f["orders", "total"], "field_ref": ["field", f["orders", "total"], None],
                                   "description": "Gross value."}])
    card("on_model", "Orders per product", mbql(db, **{
        "source-table": f"card__{model}", "aggregation": [["count"]],
        "breakout": [["field", f["orders", "product_id"], None]]}), display="bar", collection_id=emea)
    card("by_month", "Orders by month", mbql(db, **{
        "source-table": t["orders"], "aggregation": [["count"]],
        "breakout": [["field", f["orders", "created_at"], {"temporal-unit": "month"}]]}),
        display="line", collection_id=sales)
    card("revenue_month", "Revenue by month", mbql(db, **{
        "source-table": t["orders"], "aggregation": [["sum", ["field", f["orders", "total"], None]]],
        "breakout": [["field", f["orders", "created_at"], {"temporal-unit": "month"}]]}),
        display="line", collection_id=sales, cache_ttl=12)
    tag = f"#{model}-orders-model"
    card("native", "Big orders (SQL)", {"database": db, "type": "native", "native": {
        "query": f"SELECT * FROM {{{{{tag}}}}} o WHERE {{{{snippet: Big orders}}}}",
        "template-tags": {
            tag: {"id": "t-model", "name": tag, "display-name": "Orders model", "type": "card", "card-id": model},
            "snippet: Big orders": {"id": "t-snip", "name": "snippet: Big orders", "display-name": "Big orders",
                                    "type": "snippet", "snippet-name": "Big orders", "snippet-id": snippet["id"]}}}},
        collection_id=emea)
    card("archived", "Old report", mbql(db, **{"source-table": t["people"]}), collection_id=sales)
    api.put(f"/api/card/{ids['archived']}", json={"archived": True})

    overview = api.post("/api/dashboard", json={"name": "Overview", "collection_id": sales})["id"]
    details = api.post("/api/dashboard", json={"name": "Details", "collection_id": sales})["id"]
    ids.update(overview=overview, details=details)
    details_raw = api.put(f"/api/dashboard/{details}", json={
        "tabs": [{"id": -1, "name": "Summary"}, {"id": -2, "name": "Drill"}],
        "dashcards": [
            {"id": -1, "card_id": ids["by_month"], "dashboard_tab_id": -1, "row": 0, "col": 0, "size_x": 12,
             "size_y": 6, "visualization_settings": {}},
            {"id": -2, "card_id": ids["native"], "dashboard_tab_id": -2, "row": 0, "col": 0, "size_x": 12,
             "size_y": 6, "visualization_settings": {}}]})
    drill_tab = sorted(details_raw["tabs"], key=lambda x: x["position"])[1]["id"]
    parameters = [
        {"id": P_CAT, "name": "Category", "slug": "category", "type": "string/=", "sectionId": "string",
         "values_query_type": "list", "values_source_type": "card",
         "values_source_config": {"card_id": ids["categories"],
                                  "value_field": ["field", f["products", "category"], None]}},
        {"id": P_DATE, "name": "Date", "slug": "date", "type": "date/all-options", "sectionId": "date"},
        {"id": P_INLINE, "name": "Month", "slug": "month", "type": "date/month-year", "sectionId": "date"},
    ]
    api.put(f"/api/dashboard/{overview}", json={
        "width": "full",
        "tabs": [{"id": -1, "name": "First"}, {"id": -2, "name": "Second"}],
        "dashcards": [
            {"id": -1, "card_id": None, "dashboard_tab_id": -1, "row": 0, "col": 0, "size_x": 24, "size_y": 1,
             "visualization_settings": {"virtual_card": {"display": "heading", "visualization_settings": {},
                                                         "dataset_query": {}, "archived": False}, "text": "Orders"}},
            {"id": -2, "card_id": ids["revenue_month"], "dashboard_tab_id": -1, "row": 1, "col": 0, "size_x": 12,
             "size_y": 6, "series": [{"id": ids["by_month"]}], "inline_parameters": [P_INLINE],
             "parameter_mappings": [
                 {"parameter_id": P_DATE, "card_id": ids["revenue_month"],
                  "target": ["dimension", ["field", f["orders", "created_at"], None]]},
                 {"parameter_id": P_INLINE, "card_id": ids["revenue_month"],
                  "target": ["dimension", ["field", f["orders", "created_at"], None]]},
                 {"parameter_id": P_CAT, "card_id": ids["revenue_month"],
                  "target": ["dimension", ["field", f["products", "category"],
                                           {"source-field": f["orders", "product_id"]}]]}],
             "visualization_settings": {"click_behavior": {
                 "type": "link", "linkType": "dashboard", "targetId": details, "tabId": drill_tab,
                 "parameterMapping": {}}}},
            {"id": -3, "card_id": ids["on_model"], "dashboard_tab_id": -2, "row": 0, "col": 0, "size_x": 12,
             "size_y": 6, "visualization_settings": {}},
            {"id": -4, "card_id": None, "dashboard_tab_id": -2, "row": 0, "col": 12, "size_x": 8, "size_y": 2,
             "visualization_settings": {"virtual_card": {"display": "link", "visualization_settings": {},
                                                         "dataset_query": {}, "archived": False},
                                        "link": {"entity": {"id": details, "model": "dashboard", "name": "Details"}}}},
        ]})
    # Alone, so the >= 0.58 prune does not drop the inline parameter on A (import must undo it on B).
    api.put(f"/api/dashboard/{overview}", json={"parameters": parameters})
    # The cycle: Details clicks back through to Overview.
    current = api.get(f"/api/dashboard/{details}")
    items = []
    for dc in current["dashcards"]:
        item = {k: dc.get(k) for k in ("id", "card_id", "dashboard_tab_id", "row", "col", "size_x", "size_y",
                                       "parameter_mappings", "visualization_settings")}
        if dc["card_id"] == ids["by_month"]:
            item["visualization_settings"] = {"click_behavior": {"type": "link", "linkType": "dashboard",
                                                                 "targetId": overview, "parameterMapping": {}}}
        items.append(item)
    api.put(f"/api/dashboard/{details}", json={"tabs": [{"id": x["id"], "name": x["name"]} for x in current["tabs"]],
                                                "dashcards": items})
    retired = api.post("/api/dashboard", json={"name": "Retired", "collection_id": emea,
                                               "description": "Kept for the record."})["id"]
    api.put(f"/api/dashboard/{retired}", json={"tabs": [], "dashcards": [
        {"id": -1, "card_id": ids["categories"], "row": 0, "col": 0, "size_x": 6, "size_y": 4,
         "visualization_settings": {"card.title": "Old categories"}}]})
    api.put(f"/api/dashboard/{retired}", json={"archived": True})
    # A dashboard question, auto-placed on Details' second tab.
    card("question", "Pending orders", mbql(db, **{"source-table": t["orders"],
                                                   "filter": [">", ["field", f["orders", "quantity"], None], 5]}),
         dashboard_id=details, dashboard_tab_id=drill_tab)
    return ids


@dataclass
class RoundTrip:
    tmp: Path
    emu_a: Emulator
    emu_b: Emulator
    api_b: MetabaseClient
    tree_a: dict[str, Any]
    tree_b: dict[str, Any]
    importer: Importer
    registry: Any


def export(api: MetabaseClient, registry, out: Path) -> dict[str, Any]:
    result = run_export(api, registry, out, kinds=KINDS)
    assert result.warnings == []
    tree = load_tree(out, registry)
    assert tree.problems + check_refs(tree, registry) == []
    return tree.docs


def importer_for(tmp: Path, api: MetabaseClient, registry) -> Importer:
    tree = load_tree(tmp / "a", registry)
    return Importer(api, registry, tree, State.load(tmp / "state.json", "http://b"), {"secrets": Secrets(env={})})


def round_trip(tmp: Path, profile_a: str | None = None, profile_b: str | None = None) -> RoundTrip:
    registry = load_plugins(KINDS)
    emu_a, api_a = new_instance(profile_a)
    build_content(api_a)
    emu_a.wait_idle()
    tree_a = export(api_a, registry, tmp / "a")
    emu_b, api_b = new_instance(profile_b)
    importer = importer_for(tmp, api_b, registry)
    plan = importer.plan()
    assert plan.problems == []
    result = importer.apply(plan)
    assert result.failed == {} and result.skipped == []
    emu_b.wait_idle()
    tree_b = export(api_b, registry, tmp / "b")
    return RoundTrip(tmp, emu_a, emu_b, api_b, tree_a, tree_b, importer, registry)


@pytest.fixture(scope="module")
def rt(tmp_path_factory) -> RoundTrip:
    return round_trip(tmp_path_factory.mktemp("content"))


def b_to_a_entity_ids(rt: RoundTrip) -> dict[str, str]:
    """B's entity_id → A's, for every collection, snippet, card, dashboard, tab and dashcard the importer wrote."""
    api = rt.api_b
    eid_of: dict[tuple[str, Any], str] = {}
    for params in ({}, {"namespace": "snippets"}):
        for c in api.get("/api/collection", params=params):
            eid_of["collections", c["id"]] = c.get("entity_id")
    for s in api.get("/api/native-query-snippet") + api.get("/api/native-query-snippet", params={"archived": "true"}):
        eid_of["snippets", s["id"]] = s["entity_id"]
    for c in api.get("/api/card", params={"f": "all"}) + api.get("/api/card", params={"f": "archived"}):
        eid_of["cards", c["id"]] = c["entity_id"]
    for d in api.get("/api/dashboard", params={"f": "all"}) + api.get("/api/dashboard", params={"f": "archived"}):
        full = api.get(f"/api/dashboard/{d['id']}")
        eid_of["dashboards", d["id"]] = full["entity_id"]
        eid_of.update({("tabs", x["id"]): x["entity_id"] for x in full["tabs"]})
        eid_of.update({("dashcards", x["id"]): x["entity_id"] for x in full["dashcards"]})
    mapping = {}
    for addr, tid in rt.importer.ids.items():
        kind, _, rest = addr.partition("/")
        if (kind, tid) in eid_of:
            mapping[eid_of[kind, tid]] = rest.rsplit("/", 1)[-1]
    return mapping


def mine(docs: dict[str, Any]) -> dict[str, Any]:
    return {a: d for a, d in docs.items() if a.startswith(MINE)}


def test_round_trip_gives_the_same_docs(rt):
    mapping = b_to_a_entity_ids(rt)
    text = json.dumps(mine(rt.tree_b), sort_keys=True)
    for b_eid, a_eid in mapping.items():
        text = text.replace(b_eid, a_eid)
    tree_b, tree_a = json.loads(text), mine(rt.tree_a)
    assert sorted(tree_b) == sorted(tree_a)
    for addr in sorted(tree_a):
        assert tree_b[addr] == tree_a[addr], addr
    assert len([a for a in tree_a if a.startswith("cards/")]) == 8
    assert sum(d.get("archived", False) for d in tree_a.values()) == 3  # a snippet, a card, a dashboard


def test_plan_after_apply_is_empty_and_a_second_apply_writes_nothing(rt):
    importer = importer_for(rt.tmp, rt.api_b, rt.registry)
    plan = importer.plan()
    assert not plan.has_changes, [c.line() for c in plan.changes if c.action != "noop"]
    before = len(rt.emu_b.request_log)
    importer.apply(plan)
    assert writes_since(rt.emu_b, before) == []


def test_a_fresh_run_without_state_adopts_everything(rt, tmp_path):
    """No state file: every object is found again by its natural key, nothing is created twice."""
    importer = Importer(rt.api_b, rt.registry, load_tree(rt.tmp / "a", rt.registry),
                        State.load(tmp_path / "other.json", "http://b"), {"secrets": Secrets(env={})})
    plan = importer.plan()
    assert not plan.has_changes, [c.line() for c in plan.changes if c.action != "noop"]


def test_the_layout_fixes_what_the_target_lost(rt):
    """Click behaviours cross the dashboard cycle, the inline parameter the >= 0.58 PUT prunes is put back, and
    the dashboard question's auto-placed dashcard is reused, not deleted and re-added."""
    api, ids = rt.api_b, rt.importer.ids
    by_name = {d["name"]: api.get(f"/api/dashboard/{d['id']}") for d in api.get("/api/dashboard")}
    overview, details = by_name["Overview"], by_name["Details"]
    assert P_INLINE in {p["id"] for p in overview["parameters"]}
    drill = sorted(details["tabs"], key=lambda t: t["position"])[1]
    clicks = [dc["visualization_settings"].get("click_behavior") for dc in overview["dashcards"]]
    assert {"type": "link", "linkType": "dashboard", "targetId": details["id"], "tabId": drill["id"],
            "parameterMapping": {}} in clicks
    back = [dc["visualization_settings"].get("click_behavior") for dc in details["dashcards"]]
    assert any(c and c["targetId"] == overview["id"] for c in back)
    links = [dc["visualization_settings"]["link"]["entity"]["id"] for dc in overview["dashcards"]
             if "link" in dc["visualization_settings"]]
    assert links == [details["id"]]
    question = next(dc for dc in details["dashcards"] if dc["card"]["name"] == "Pending orders")
    assert question["dashboard_tab_id"] == drill["id"]
    rows = list(rt.emu_b.state.table("dashboardcard"))
    assert sorted(r["id"] for r in rows) == list(range(1, len(rows) + 1))  # no dashcard was ever deleted
    assert set(ids.values()) >= {overview["id"], details["id"], drill["id"], question["id"]}


def test_native_cards_get_the_targets_card_and_snippet_ids(rt):
    api = rt.api_b
    cards = {c["name"]: c for c in api.get("/api/card")}
    snippet = next(s for s in api.get("/api/native-query-snippet") if s["name"] == "Big orders")
    stage = cards["Big orders (SQL)"]["dataset_query"]["stages"][0]
    model = cards["Orders model"]["id"]
    assert f"{{{{#{model}-orders-model}}}}" in stage["native"]
    tags = stage["template-tags"]
    tags = tags if isinstance(tags, list) else list(tags.values())
    assert {t.get("card-id") or t.get("snippet-id") for t in tags} == {model, snippet["id"]}
    assert cards["Orders per product"]["dataset_query"]["stages"][0]["source-card"] == model


def test_graph_orders_shell_questions_layout_and_defers_the_cycle(rt):
    graph, docs = rt.importer.graph, rt.importer.tree.docs
    by_name = {d["name"]: a for a, d in docs.items() if a.startswith(("cards/", "dashboards/"))}
    details, overview, question = by_name["Details"], by_name["Overview"], by_name["Pending orders"]
    assert graph.has_edge((details, "shell"), (question, "main"))
    assert graph.has_edge((question, "main"), (details, "layout"))
    # Click behaviours and the link card between the two dashboards are second-pass refs, not edges.
    assert not graph.has_edge((details, "layout"), (overview, "layout"))
    assert not graph.has_edge((overview, "layout"), (details, "layout"))
    assert not graph.has_edge((overview, "shell"), (details, "layout"))


def test_template_tags_take_the_targets_shape():
    tags = {"x": {"name": "x", "type": "text"}, "snippet: S": {"name": "snippet: S", "type": "snippet"}}
    query = {"lib/type": "mbql/query", "database": 1, "stages": [{"lib/type": "mbql.stage/native", "native": "x",
                                                                  "template-tags": tags}]}
    as_list = template_tags_as(query, as_list=True)
    assert as_list["stages"][0]["template-tags"] == list(tags.values())
    assert template_tags_as(as_list, as_list=False) == query
    legacy = {"database": 1, "type": "native", "native": {"query": "x", "template-tags": tags}}
    assert template_tags_as(legacy, as_list=True) == legacy  # MBQL 4 only ever had the map


def test_verify_finds_no_difference(rt):
    assert_verified(rt)


def assert_verified(rt: RoundTrip) -> None:
    """Judged by what both servers hold (`mbport verify`): every object and every card's and dashcard's rows."""
    from tests.verify.judge import client_of, judged

    objects, rows, result = judged(client_of(rt.emu_a), rt.api_b, rt.importer.ids, kinds=KINDS)
    assert result.counts["cards"].paired >= 8 and result.counts["rows of cards"].paired >= 7
    assert objects == [] and rows == []


@pytest.mark.parametrize("profile", ["0.56", "0.63"])
def test_round_trip_on_other_versions(profile, tmp_path):
    """MBQL 4 (0.56) and list-shaped template tags (0.63): same docs, and nothing left to do afterwards."""
    rt = round_trip(tmp_path, profile, profile)
    test_round_trip_gives_the_same_docs(rt)
    test_plan_after_apply_is_empty_and_a_second_apply_writes_nothing(rt)
    assert_verified(rt)  # last: running a card records its result metadata, as Metabase does (then B is not the tree)


def test_apply_restores_what_was_changed_on_the_target(tmp_path):
    """Edits made on B after an import (renames, a lost tab, a moved and an archived card) are planned as
    updates of exactly those objects and undone by the next apply, reusing the existing tabs and dashcards."""
    rt = round_trip(tmp_path)
    api = rt.api_b
    cards = {c["name"]: c["id"] for c in api.get("/api/card")}
    dashboards = {d["name"]: d["id"] for d in api.get("/api/dashboard")}
    snippet = next(s for s in api.get("/api/native-query-snippet") if s["name"] == "Big orders")
    api.put(f"/api/card/{cards['Orders model']}", json={"name": "Renamed model"})
    api.put(f"/api/card/{cards['Orders by month']}", json={"archived": True})
    api.put(f"/api/native-query-snippet/{snippet['id']}", json={"content": "total > 1000"})
    overview = api.get(f"/api/dashboard/{dashboards['Overview']}")
    first = min(overview["tabs"], key=lambda t: t["position"])
    kept = [{k: dc.get(k) for k in ("id", "card_id", "dashboard_tab_id", "row", "col", "size_x", "size_y",
                                    "parameter_mappings", "visualization_settings", "series")}
            for dc in overview["dashcards"] if dc["dashboard_tab_id"] == first["id"]]
    kept[0]["row"] = 30
    api.put(f"/api/dashboard/{overview['id']}", json={"tabs": [{"id": first["id"], "name": "Renamed"}],
                                                      "dashcards": kept})
    importer = importer_for(rt.tmp, api, rt.registry)
    plan = importer.plan()
    changed = {c.name: (c.action, c.fields) for c in plan.changes if c.action != "noop"}
    assert changed == {
        "Orders model": ("update", ["name"]),
        "Orders by month": ("update", ["archived"]),
        "Big orders": ("update", ["content"]),
        "Overview": ("update", ["dashcards", "tabs"]),
        "Details": ("update", ["dashcards"]),  # the archived card's dashcard is hidden
    }
    deleted_before = len(list(rt.emu_b.state.table("dashboardcard")))
    importer.apply(plan)
    rt.emu_b.wait_idle()
    rows = list(rt.emu_b.state.table("dashboardcard"))
    assert {r["id"] for r in rows} >= {dc["id"] for dc in kept}  # the dashcards still there were kept
    assert len(rows) >= deleted_before
    rt.tree_b, rt.importer = export(api, rt.registry, tmp_path / "b2"), importer
    test_round_trip_gives_the_same_docs(rt)
    test_plan_after_apply_is_empty_and_a_second_apply_writes_nothing(rt)


class Interrupted(Exception):
    """The run was killed before this write reached the target."""


class KilledAfter(httpx.BaseTransport):
    """Passes requests to the emulator until `budget` writes went through, then refuses every write."""

    def __init__(self, emu: Emulator, budget: int):
        self.inner, self.budget = emu.transport(), budget

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if request.method in WRITES and not request.url.path.startswith("/api/session"):
            if self.budget <= 0:
                raise Interrupted(f"{request.method} {request.url.path}")
            self.budget -= 1
        return self.inner.handle_request(request)


def interrupted(exc: BaseException | None) -> bool:
    """Whether the kill is among the error's causes."""
    while exc is not None:
        if isinstance(exc, Interrupted):
            return True
        exc = exc.__cause__ or exc.__context__
    return False


def test_an_interrupted_apply_resumes_without_duplicates(rt, tmp_path):
    """Killed after N writes (for many N), then run again: the same objects as an uninterrupted run."""
    writes = sum(1 for r in rt.emu_b.request_log if r[0] in WRITES and not r[1].startswith(("/api/session",
                                                                                            "/api/setup"))
                 and not r[1].endswith("/query"))  # queries verify ran on B are not writes of the import
    counts = {t: len(list(rt.emu_b.state.table(t))) for t in ("card", "dashboard", "dashboardcard",
                                                             "dashboard_tab", "native_query_snippet")}
    for budget in range(1, writes, 2):
        emu, session = new_emulator()
        api = MetabaseClient("http://metabase.test", session_token=session, transport=emu.transport())
        killed = MetabaseClient("http://metabase.test", session_token=session, transport=KilledAfter(emu, budget))
        state = tmp_path / f"state-{budget}.json"
        first = Importer(killed, rt.registry, load_tree(rt.tmp / "a", rt.registry), State.load(state, "http://b"),
                         {"secrets": Secrets(env={})})
        with pytest.raises(Exception) as killed_run:  # noqa: B017 - the engine may wrap it with the object's name
            first.apply(first.plan())
        assert interrupted(killed_run.value), budget
        again = Importer(api, rt.registry, load_tree(rt.tmp / "a", rt.registry), State.load(state, "http://b"),
                         {"secrets": Secrets(env={})})
        result = again.apply(again.plan())
        assert result.failed == {}, budget
        emu.wait_idle()
        assert {t: len(list(emu.state.table(t))) for t in counts} == counts, budget
        resumed = RoundTrip(tmp_path, rt.emu_a, emu, api, rt.tree_a, export(api, rt.registry, tmp_path / f"b{budget}"),
                            again, rt.registry)
        test_round_trip_gives_the_same_docs(resumed)
