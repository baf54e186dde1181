"""The `current` seed's content kinds (documents with their cards, ...) round-trip 0.65 → 0.65, judged by what both
servers hold; a target too old for a kind refuses it in plan (or leaves it out with --skip-unsupported)."""

from __future__ import annotations

from typing import Any

import pytest

from mbport.check import load_tree
from mbport.client import MetabaseClient
from mbport.emulator import Emulator, bootstrap, seeds
from mbport.engine import Importer
from mbport.export import run_export
from mbport.state import State
from tests.conftest import ADMIN_EMAIL, ADMIN_PASSWORD, assert_settled


def instance(profile: str = "0.65", seed: str | None = None) -> tuple[Emulator, MetabaseClient]:
    emu = Emulator(profile, premium_features="all")
    session = bootstrap.setup_admin(emu, ADMIN_EMAIL, ADMIN_PASSWORD)
    if seed:
        seeds.load(emu, seed, session)
        emu.wait_idle()
    return emu, MetabaseClient("http://metabase.test", session_token=session, transport=emu.transport())


@pytest.fixture(scope="module")
def source(tmp_path_factory, registry):
    emu, api = instance(seed="current")
    out = tmp_path_factory.mktemp("current") / "tree"
    run_export(api, registry, out)
    return emu, api, out


def importer_for(api, registry, tree, tmp_path, **options) -> Importer:
    state = tmp_path / "state.json"
    return Importer(api, registry, load_tree(tree, registry), State.load(state, api.url), options)


@pytest.fixture(scope="module")
def imported(source, registry, tmp_path_factory):
    _, _, tree = source
    emu, api = instance()
    importer = importer_for(api, registry, tree, tmp_path_factory.mktemp("state"))
    plan = importer.plan()
    assert plan.problems == []
    result = importer.apply(plan)
    assert result.failed == {} and result.skipped == []
    emu.wait_idle()
    return emu, api, importer


# ---- what the servers hold, with ids replaced by what they name ----

def _names(api) -> dict[tuple[str, Any], str]:
    """(kind, id) → a name both instances share: cards, dashboards, tables, users, documents, collections."""
    out: dict[tuple[str, Any], str] = {}
    for card in api.get("/api/card", params={"f": "all"}) + api.get("/api/card", params={"f": "archived"}):
        out[("card", card["id"])] = f"card {card['name']}"
    for dash in api.get("/api/dashboard", params={"f": "all"}):
        out[("dashboard", dash["id"])] = f"dashboard {dash['name']}"
    for table in api.get("/api/table"):
        out[("table", table["id"])] = f"table {table['name']}"
    for user in api.get("/api/user", params={"status": "all"})["data"]:
        out[("user", user["id"])] = f"user {user['email']}"
    for coll in api.get("/api/collection", params={"archived": "true"}) + api.get("/api/collection"):
        out[("collection", coll["id"])] = f"collection {coll['name']}"
    return out


def _documents(api) -> dict[str, dict[str, Any]]:
    """Every document (live and trashed) by name, as its detail GET answers, with its cards' details."""
    names = _names(api)
    ids = [d["id"] for d in api.get("/api/document")["items"]]
    trash = api.get("/api/collection/trash")["id"]
    ids += [i["id"] for i in api.get(f"/api/collection/{trash}/items", params={"models": "document"})["data"]]
    docs = {}
    for doc_id in ids:
        doc = api.get(f"/api/document/{doc_id}")
        names[("document", doc_id)] = f"document {doc['name']}"
        docs[doc_id] = doc
    out = {}
    cards = api.get("/api/card", params={"f": "all"}) + api.get("/api/card", params={"f": "archived"})
    for doc_id, doc in docs.items():
        own = sorted((c for c in cards if c.get("document_id") == doc_id), key=lambda c: c["name"])
        out[doc["name"]] = {
            "collection": names.get(("collection", doc["collection_id"])), "archived": doc["archived"],
            "archived_directly": doc["archived_directly"], "content_type": doc["content_type"],
            "body": _named_ast(doc["document"], names),
            "cards": [{"name": c["name"], "display": c["display"], "type": c["type"], "archived": c["archived"],
                       "collection": names.get(("collection", c["collection_id"])),
                       "query": _named_query(c["dataset_query"], names)} for c in own],
            "embeds_own_cards": all(c in {x["id"] for x in own} for c in _embedded(doc["document"])),
        }
    return out


def _embedded(node: Any) -> list[int]:
    if isinstance(node, list):
        return [i for x in node for i in _embedded(x)]
    if not isinstance(node, dict):
        return []
    here = [node["attrs"]["id"]] if node.get("type") == "cardEmbed" else []
    return here + _embedded(node.get("content"))


def _named_ast(node: Any, names) -> Any:
    if isinstance(node, list):
        return [_named_ast(x, names) for x in node]
    if not isinstance(node, dict):
        return node
    out = {k: _named_ast(v, names) for k, v in node.items()}
    attrs = node.get("attrs") or {}
    if node.get("type") == "cardEmbed":
        out["attrs"] = {**attrs, "id": names.get(("card", attrs.get("id")))}
    elif node.get("type") == "smartLink":
        model = {"dataset": "card", "metric": "card"}.get(attrs.get("model"), attrs.get("model"))
        out["attrs"] = {**attrs, "entityId": names.get((model, attrs.get("entityId")), "?")}
    return out


def _named_query(query: Any, names) -> Any:
    """Only what differs by instance matters here: the source table's and fields' ids, by name."""
    if isinstance(query, list):
        return [_named_query(x, names) for x in query]
    if isinstance(query, dict):
        return {k: (names.get(("table", v), v) if k in ("source-table", "source_table") else _named_query(v, names))
                for k, v in query.items() if k not in ("lib/uuid", "database", "lib.convert/converted?")}
    return query


def test_documents_round_trip_with_their_own_cards(source, imported):
    _, src, _ = source
    _, dst, _ = imported
    held, got = _documents(src), _documents(dst)
    assert set(held) == {"Quarterly review", "Old notes"}
    assert got == held
    review = got["Quarterly review"]
    assert [c["name"] for c in review["cards"]] == ["Big orders", "Orders per customer"] and review["embeds_own_cards"]
    links = [n["attrs"]["entityId"] for p in review["body"]["content"] for n in p.get("content") or []
             if n.get("type") == "smartLink"]
    assert links == ["card Orders by product", "dashboard Sales", "table orders", "user rita@handmade.example",
                     "document Old notes"]
    assert got["Old notes"]["archived"] and all(c["archived"] for c in got["Old notes"]["cards"])


def test_a_second_import_of_documents_changes_nothing(source, imported, registry, tmp_path):
    _, _, tree = source
    emu, api, first = imported
    again = Importer(api, registry, load_tree(tree, registry), first.state, {})
    assert_settled(again, emu)


def test_a_target_without_documents_refuses_them_in_plan(source, registry, tmp_path):
    _, _, tree = source
    emu, api = instance("0.56")
    plan = importer_for(api, registry, tree, tmp_path).plan()
    refused = [p for p in plan.problems if p.startswith("documents/")]
    assert len(refused) == 2 and all("has no documents (they exist from 0.57 on)" in p for p in refused)
    assert any("documents/analytics/quarterly-review.json" in p for p in refused), refused


def test_skip_unsupported_leaves_documents_and_their_cards_out(source, registry, tmp_path):
    _, _, tree = source
    emu, api = instance("0.56")
    importer = importer_for(api, registry, tree, tmp_path, skip_unsupported=True)
    plan = importer.plan()
    assert plan.problems == []
    docs = load_tree(tree, registry).docs
    left_out = set(plan.unsupported)
    own_cards = {a for a, d in docs.items() if a.startswith("cards/") and d.get("document")}
    assert {a for a in docs if a.startswith("documents/")} | own_cards <= left_out and len(own_cards) == 3
    result = importer.apply(plan)
    assert result.failed == {}
    names = {c["name"] for c in api.get("/api/card", params={"f": "all"})}
    assert "Big orders" in names and "Orders per customer" not in names
