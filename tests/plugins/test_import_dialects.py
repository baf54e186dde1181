"""A tree exported from a 0.56 instance (MBQL 4 queries) imported into a >= 0.57 target (MBQL 5): the plan
compares the target's cards in MBQL 4 (`Cards.comparable_raw`), so nothing is left to update afterwards."""

from __future__ import annotations

import json
import re

import httpx
import pytest

from mbport.client import MetabaseClient
from mbport.emulator import Emulator, bootstrap
from mbport.export import run_export
from mbport.registry import load_plugins
from tests.conftest import ADMIN_EMAIL, ADMIN_PASSWORD, assert_settled, make_client, writes_since
from tests.plugins.test_import_content import assert_verified, importer_for, new_instance, round_trip
from tests.verify.judge import judged
from tests.verify.test_version_matrix import allowed

CARD_GET = re.compile(r"^/api/card/\d+$")


def run_all(api, ids: dict[str, int]) -> dict[str, tuple[str, list]]:
    """card name → (status, rows) of running every card through POST /api/card/:id/query."""
    out = {}
    for name, cid in ids.items():
        result = api.post(f"/api/card/{cid}/query")
        out[name] = (result.get("status"), result.get("data", {}).get("rows"))
    return out


def card_ids(api) -> dict[str, int]:
    return {c["name"]: c["id"] for c in api.get("/api/card", params={"f": "all"})}


@pytest.mark.parametrize("target", ["0.61", "0.63"])
def test_mbql4_tree_into_mbql5_target_replans_empty(target, tmp_path):
    rt = round_trip(tmp_path, "0.56", target)
    queries = [d["dataset_query"] for a, d in rt.tree_a.items() if a.startswith("cards/")]
    assert queries and all(q.get("type") in ("query", "native") for q in queries)  # the tree is MBQL 4
    stored = rt.api_b.get("/api/card", params={"f": "all"})
    assert stored and all("stages" in c["dataset_query"] for c in stored)  # the target answers MBQL 5

    importer = importer_for(rt.tmp, rt.api_b, rt.registry)
    before = len(rt.emu_b.request_log)
    plan = importer.plan()
    assert not plan.has_changes, [c.line() for c in plan.changes if c.action != "noop"]
    fetched = [r for r in rt.emu_b.request_log[before:] if r[0] == "GET" and CARD_GET.match(r[1])]
    # 0.57-0.61 list rows carry `legacy_query`: free; later versions cost one ?legacy-mbql=true read per card
    assert len(fetched) == (0 if target == "0.61" else len(queries))  # archived cards too
    before = len(rt.emu_b.request_log)
    importer.apply(plan)
    assert writes_since(rt.emu_b, before) == []
    assert_verified(rt)  # MBQL 4 on the source, MBQL 5 on the target: the same queries and rows


def test_imported_queries_run_on_the_target_like_on_the_source(tmp_path):
    rt = round_trip(tmp_path, "0.56", "0.61")
    assert not importer_for(rt.tmp, rt.api_b, rt.registry).plan().has_changes
    session = make_client(rt.emu_a).post("/api/session", json={"username": ADMIN_EMAIL, "password": ADMIN_PASSWORD})
    api_a = MetabaseClient("http://metabase.test", session_token=session.json()["id"], transport=rt.emu_a.transport())
    on_a, on_b = run_all(api_a, card_ids(api_a)), run_all(rt.api_b, card_ids(rt.api_b))
    assert sorted(on_a) == sorted(on_b)
    ran = {n for n, (status, _rows) in on_a.items() if status == "completed"}
    assert {"Big orders (SQL)", "Orders model"} <= ran  # a native card and an MBQL model the emulator can run
    for name in ran:
        assert on_b[name] == on_a[name], name


def field_filter_content(api) -> None:
    """A native question with a field filter (a `dimension` tag) and an MBQL question sorted by its aggregation."""
    db = api.post("/api/database/sample_database")["id"]
    meta = api.get(f"/api/database/{db}/metadata")
    f = {(t["name"], fd["name"]): fd["id"] for t in meta["tables"] for fd in t["fields"]}
    t = {tb["name"]: tb["id"] for tb in meta["tables"]}
    tag = {"id": "7f1c", "name": "category", "display-name": "Category", "type": "dimension",
           "widget-type": "string/=", "dimension": ["field", f["products", "category"], None]}
    api.post("/api/card", json={"name": "Products by category (SQL)", "display": "scalar", "visualization_settings": {},
                                "dataset_query": {"database": db, "type": "native", "native": {
                                    "query": "select count(*) from products where {{category}}",
                                    "template-tags": {"category": tag}}}})
    api.post("/api/card", json={"name": "Top categories", "display": "bar", "visualization_settings": {},
                                "dataset_query": {"database": db, "type": "query", "query": {
                                    "source-table": t["products"], "aggregation": [["count"]],
                                    "breakout": [["field", f["products", "category"], None]],
                                    "order-by": [["desc", ["aggregation", 0]]]}}})


class Recording(httpx.BaseTransport):
    """The emulator's transport, keeping every card write's JSON body."""

    def __init__(self, inner):
        self.inner, self.card_writes = inner, []

    def handle_request(self, request):
        if request.method in ("POST", "PUT") and re.match(r"^/api/card(/\d+)?$", request.url.path):
            self.card_writes.append(json.loads(request.content or b"{}"))
        return self.inner.handle_request(request)


@pytest.mark.parametrize(("source", "target"), [
    ("0.61", "0.56"), ("0.56", "0.61"), ("0.56", "0.62"), ("0.65", "0.61")])
def test_queries_cross_mbql_versions_and_the_0_61_quirks(source, target, tmp_path):
    """MBQL 5 into 0.56: written as MBQL 4 (the native stage rebuilt as {type: native, native: {query, template-tags}},
    classic dimension refs); into 0.61/0.62: dimension refs classic, every stored query whole; planning again finds
    nothing (the target's MBQL 4 view of 0.61 carries MBQL 5 dimension refs), and verify finds no difference."""
    registry = load_plugins(["databases", "tables", "collections", "cards"])
    emu_a, api_a = new_instance(source)
    field_filter_content(api_a)
    tree = tmp_path / "a"
    run_export(api_a, registry, tree)
    emu_b = Emulator(target)
    session = bootstrap.setup_admin(emu_b, ADMIN_EMAIL, ADMIN_PASSWORD)
    recording = Recording(emu_b.transport())
    api_b = MetabaseClient("http://metabase.test", session_token=session, transport=recording)
    importer = importer_for(tmp_path, api_b, registry)
    applied = importer.apply(importer.plan())
    assert applied.failed == {}
    written = [w["dataset_query"] for w in recording.card_writes if w.get("dataset_query")]
    assert len(written) == 2
    for query in written:
        if target == "0.56":
            assert query["type"] in ("query", "native") and "stages" not in query
        tags = (query.get("native") or {}).get("template-tags") or {}
        for tag in tags.values() if isinstance(tags, dict) else tags:
            assert not isinstance(tag["dimension"][1], dict)  # classic: ["field", id, opts]
    if target == "0.56":
        native = next(q for q in written if q["type"] == "native")
        assert set(native["native"]) == {"query", "template-tags"} and "{{category}}" in native["native"]["query"]
        sorted_by_count = next(q for q in written if q["type"] == "query")
        assert sorted_by_count["query"]["order-by"] == [["desc", ["aggregation", 0]]]  # classic, by index
    stored = [c["dataset_query"] for c in api_b.get("/api/card")]
    assert len(stored) == 2 and all(stored)  # nothing stored empty
    assert_settled(importer_for(tmp_path, api_b, registry), emu_b)
    objects, rows, _ = judged(api_a, api_b, importer.ids)
    assert [line for line in objects if not allowed(line, source, target)] == [] and rows == []
