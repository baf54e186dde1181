"""`mbport graph`: a known small tree rendered as dot, SVG and HTML, with the nodes and edges it must have."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from html.parser import HTMLParser

import pytest

from mbport.check import load_tree
from mbport.graph import dependency_graph, layout, to_dot, to_html, to_svg
from mbport.registry import load_plugins
from tests.e2e.instances import mbport

DB, TABLE = "databases/Shop", "tables/Shop/public/orders"
MODEL, QUESTION, OTHER = "cards/CardModel000000000001", "cards/CardQuestion0000000001", "cards/CardOther00000000000001"
SNIPPET, DASHBOARD, COLLECTION = "snippets/SnippetRecent000000001", "dashboards/DashOps0000000000001", "collections/CollSales000000000001"


def ref(addr):
    return {"$ref": addr}


FILES = {
    "databases/shop.json": {"name": "Shop", "engine": "postgres"},
    "tables/shop/public/orders.json": {"database": ref(DB), "schema": "public", "name": "orders",
                                       "fields": [{"name": "id"}, {"name": "total"}]},
    "collections/sales.json": {"entity_id": "CollSales000000000001", "name": "Sales"},
    "snippets/recent.json": {"entity_id": "SnippetRecent000000001", "name": "recent", "content": "created_at > now() - 7"},
    "cards/sales/orders-model.json": {
        "entity_id": "CardModel000000000001", "name": "Orders model", "type": "model", "collection": ref(COLLECTION),
        "dataset_query": {"database": ref(DB), "type": "query",
                          "query": {"source-table": ref(TABLE),
                                    "fields": [["field", ref("fields/Shop/public/orders/total"), None]]}}},
    "cards/sales/recent-orders.json": {
        "entity_id": "CardQuestion0000000001", "name": "Recent orders", "type": "question", "collection": ref(COLLECTION),
        "dataset_query": {"database": ref(DB), "type": "native",
                          "native": {"query": "select * from {{#1-orders-model}} where {{snippet: recent}}",
                                     "template-tags": {"recent": {"snippet-id": ref(SNIPPET)},
                                                       "#1-orders-model": {"card-id": ref(MODEL)}}}}},
    "cards/other.json": {"entity_id": "CardOther00000000000001", "name": "Unrelated", "type": "question",
                         "dataset_query": {"database": ref(DB), "type": "query", "query": {"source-table": ref(TABLE)}}},
    "dashboards/sales/ops.json": {
        "entity_id": "DashOps0000000000001", "name": "Ops", "collection": ref(COLLECTION),
        "dashcards": [{"entity_id": "DashcardOne0000000001", "card": ref(QUESTION), "row": 0, "col": 0}]},
}
EDGES = {(MODEL, DB), (MODEL, TABLE), (MODEL, COLLECTION), (TABLE, DB), (QUESTION, DB), (QUESTION, MODEL),
         (QUESTION, SNIPPET), (QUESTION, COLLECTION), (OTHER, DB), (OTHER, TABLE), (DASHBOARD, QUESTION),
         (DASHBOARD, COLLECTION)}


@pytest.fixture(scope="module")
def registry():
    return load_plugins()


@pytest.fixture
def tree_dir(tmp_path):
    root = tmp_path / "tree"
    for rel, doc in FILES.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(doc))
    (root / "mbport.json").write_text(json.dumps({"format": 1}))
    return root


def test_the_graph_has_every_object_and_every_dependency(registry, tree_dir):
    tree = load_tree(tree_dir, registry)
    assert tree.problems == [] and len(tree.docs) == len(FILES)
    graph = dependency_graph(registry, tree.docs)
    assert set(graph.nodes) == set(tree.docs)
    assert set(graph.edges) == EDGES  # the field ref points at its table; nothing points at itself
    assert graph.nodes[DASHBOARD]["label"] == "dashboard: Ops"
    assert graph.nodes[SNIPPET]["label"].endswith(": recent")


def test_a_selection_keeps_what_it_depends_on_only(registry, tree_dir):
    from mbport.selection import resolve_selection

    tree = load_tree(tree_dir, registry)
    graph = dependency_graph(registry, tree.docs, resolve_selection(registry, tree.docs, ["dashboard:Ops"]))
    assert set(graph.nodes) == {DASHBOARD, QUESTION, MODEL, SNIPPET, DB, TABLE, COLLECTION}  # not "Unrelated"


def test_dot_names_every_node_and_edge(registry, tree_dir):
    graph = dependency_graph(registry, load_tree(tree_dir, registry).docs)
    dot = to_dot(graph)
    assert dot.startswith("digraph mbport {") and dot.rstrip().endswith("}")
    assert f'"{DASHBOARD}" [label="dashboard: Ops"' in dot
    assert {tuple(m) for m in re.findall(r'^\s*"([^"]+)" -> "([^"]+)"', dot, re.M)} == EDGES


def test_svg_is_well_formed_and_draws_each_node_and_edge_once(registry, tree_dir):
    graph = dependency_graph(registry, load_tree(tree_dir, registry).docs)
    root = ET.fromstring(to_svg(graph, engine="python"))
    ns = "{http://www.w3.org/2000/svg}"
    nodes = {g.get("data-address"): g for g in root.iter(ns + "g") if g.get("class") == "node"}
    edges = {(p.get("data-from"), p.get("data-to")) for p in root.iter(ns + "path") if p.get("class") == "edge"}
    assert set(nodes) == set(FILES_ADDRS()) and edges == EDGES
    assert nodes[DASHBOARD].find(ns + "text").text == "dashboard: Ops"
    pos = layout(graph)
    assert pos[DASHBOARD][0] < pos[QUESTION][0] < pos[MODEL][0] < pos[TABLE][0] < pos[DB][0]  # users left of used
    boxes = sorted((x, y) for x, y, _w in pos.values())
    assert len(set(boxes)) == len(boxes)  # no two boxes on top of each other


def FILES_ADDRS():
    return {DB, TABLE, COLLECTION, SNIPPET, MODEL, QUESTION, OTHER, DASHBOARD}


def test_html_is_one_self_contained_page(registry, tree_dir):
    graph = dependency_graph(registry, load_tree(tree_dir, registry).docs)
    page = to_html(graph, "mbport: shop")
    assert page.startswith("<!DOCTYPE html>") and "<svg" in page and "<script>" in page
    assert not re.search(r'(src|href)\s*=\s*"(https?:)?//', page)  # nothing fetched from the network

    class Collect(HTMLParser):
        scripts = []

        def handle_starttag(self, tag, attrs):
            if tag in ("script", "link", "img", "iframe"):
                self.scripts.append(dict(attrs))

    parser = Collect()
    parser.feed(page)
    assert all("src" not in a and "href" not in a for a in parser.scripts)
    data = json.loads(re.search(r"const graph = (\{.*?\});", page, re.S).group(1))
    assert data["uses"][DASHBOARD] == sorted([COLLECTION, QUESTION]) and data["usedBy"][SNIPPET] == [QUESTION]


def test_the_command_writes_each_format(tree_dir, tmp_path):
    dot = mbport("graph", tree_dir)
    assert dot.code == 0 and dot.out.startswith("digraph mbport {"), dot.err
    for fmt in ("svg", "html"):
        out = tmp_path / f"g.{fmt}"
        run = mbport("graph", tree_dir, "--format", fmt, "--select", "dashboard:Ops", "--out", out)
        assert run.code == 0 and run.out == "" and "7 objects" in run.err, run.err
        assert "Unrelated" not in out.read_text() and "dashboard: Ops" in out.read_text()
    as_json = mbport("--json", "graph", tree_dir)
    summary = json.loads(as_json.out.splitlines()[-1])
    assert summary["type"] == "summary" and summary["nodes"][0]["address"] and len(summary["edges"]) == len(EDGES)
    missing = mbport("graph", tree_dir, "--select", "dashboard:Nope")
    assert missing.code == 2 and "named 'Nope'" in missing.err
