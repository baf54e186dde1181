"""The `current` seed's content kinds (documents with their cards, notification channels, the glossary) round-trip 0.65 → 0.65,
judged by what both servers hold; a target too old for a kind refuses it in plan (or leaves it out with
--skip-unsupported); a webhook's auth never lands in the tree and is supplied at import time."""

from __future__ import annotations

from typing import Any

import pytest

from mbport.check import load_tree
from mbport.client import MetabaseClient
from mbport.emulator import Emulator, bootstrap, seeds
from mbport.engine import Importer
from mbport.export import run_export
from mbport.secrets import Secrets
from mbport.state import State
from tests.conftest import ADMIN_EMAIL, ADMIN_PASSWORD, assert_settled, transforms_on


def instance(profile: str = "0.65", seed: str | None = None) -> tuple[Emulator, MetabaseClient]:
    emu = transforms_on(Emulator(profile, premium_features="all"))
    session = bootstrap.setup_admin(emu, ADMIN_EMAIL, ADMIN_PASSWORD)
    if seed:
        seeds.load(emu, seed, session)
        emu.wait_idle()
    return emu, MetabaseClient("http://metabase.test", session_token=session, transport=emu.transport())


HOOK_KEY = "hook-s3cret-0001"  # the auth value the tree must never hold (a secret supplied at import time)
HOOK_SECRET = "channels/Paging hook/auth-info/X-Api-Key"


@pytest.fixture(scope="module")
def source(tmp_path_factory, registry):
    emu, api = instance(seed="current")
    # On top of the seed (whose imports need no secret): a webhook with header auth.
    api.post("/api/channel", json={"name": "Paging hook", "type": "channel/http", "details": {
        "url": "https://hooks.example.com/page", "auth-method": "header", "fe-form-type": "api-key",
        "auth-info": {"X-Api-Key": HOOK_KEY}}})
    out = tmp_path_factory.mktemp("current") / "tree"
    run_export(api, registry, out)
    return emu, api, out


def importer_for(api, registry, tree, tmp_path, **options) -> Importer:
    state = tmp_path / "state.json"
    options.setdefault("secrets", Secrets({HOOK_SECRET: HOOK_KEY}, env={}))
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
    again = Importer(api, registry, load_tree(tree, registry), first.state, {"secrets": Secrets(env={})})
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


# ---- notification channels ----

def _channels(api) -> dict[str, dict[str, Any]]:
    """Every channel (deactivated ones too) by the name it was given, with what alerts and subscriptions send to it."""
    rows = api.request("GET", "/api/channel", json={"include_inactive": True})
    out = {}
    for ch in rows:
        name = ch["name"].split(" ", 1)[1] if ch["name"].startswith("DEACTIVATED_") else ch["name"]
        out[name] = {k: ch.get(k) for k in ("type", "description", "active", "details")}
        out[name]["renamed"] = ch["name"] != name
        out[name]["alerts"] = sorted(
            n["payload"]["card_id"] and _names(api)[("card", n["payload"]["card_id"])]
            for n in api.get("/api/notification", params={"payload_type": "notification/card"})
            for h in n["handlers"] if h.get("channel_id") == ch["id"])
        out[name]["subscriptions"] = sorted(p["name"] for p in api.get("/api/pulse") for c in p["channels"]
                                            if c.get("channel_id") == ch["id"])
    return out


def test_channels_round_trip_with_their_secrets_and_the_alerts_and_subscriptions_that_use_them(source, imported):
    _, src, _ = source
    _, dst, _ = imported
    held, got = _channels(src), _channels(dst)
    assert got == held
    assert got["Paging hook"]["details"]["auth-info"] == {"X-Api-Key": HOOK_KEY}
    assert got["Ops webhook"]["alerts"] == ["card Orders by product"]
    assert got["Ops webhook"]["subscriptions"] == ["Sales to ops"]
    assert got["Old hook"]["active"] is False and got["Old hook"]["renamed"]


def test_a_webhook_auth_value_never_lands_in_the_tree(source):
    _, _, tree = source
    texts = [p.read_text() for p in tree.rglob("*.json")]
    assert texts and not [t for t in texts if HOOK_KEY in t]
    paging = tree / "channels" / "paging-hook.json"
    assert '"$secret": "channels/Paging hook/auth-info/X-Api-Key"' in paging.read_text()


def test_a_channel_to_create_without_its_secret_stops_the_plan(source, registry, tmp_path):
    _, _, tree = source
    emu, api = instance()
    plan = importer_for(api, registry, tree, tmp_path, secrets=Secrets(env={})).plan()
    assert [p for p in plan.problems if p.startswith("channels/")] == [
        "channels/Paging hook: secret 'channels/Paging hook/auth-info/X-Api-Key' is missing: set "
        "MBPORT_SECRET_CHANNELS_PAGING_HOOK_AUTH_INFO_X_API_KEY or add it to the --secrets file"]


# ---- glossary ----

def test_the_glossary_round_trips_and_a_second_import_writes_nothing(source, imported):
    from mbport.emulator.seeds.current.glossary import TERMS

    _, src, _ = source
    _, dst, _ = imported
    held = {e["term"]: e["definition"] for e in src.get("/api/glossary")["data"]}
    assert held == TERMS
    assert {e["term"]: e["definition"] for e in dst.get("/api/glossary")["data"]} == held


def test_a_changed_definition_is_planned_as_an_update_and_prune_deletes_an_extra_term(source, registry, tmp_path):
    _, _, tree = source
    emu, api = instance()
    first = importer_for(api, registry, tree, tmp_path)
    first.apply(first.plan())
    (tree_copy := tmp_path / "tree").mkdir()
    import shutil
    shutil.copytree(tree, tree_copy, dirs_exist_ok=True)
    arr = tree_copy / "glossary" / "arr.json"
    arr.write_text(arr.read_text().replace("Annual recurring revenue", "Yearly recurring revenue"))
    (tree_copy / "glossary" / "churn.json").unlink()
    again = Importer(api, registry, load_tree(tree_copy, registry), first.state, {"prune": True,
                                                                                 "secrets": Secrets(env={})})
    plan = again.plan()
    assert sorted((c.action, c.address) for c in plan.changes if c.address.startswith("glossary/")) == [
        ("archive", "glossary/Churn"), ("update", "glossary/ARR")]
    again.apply(plan)
    assert {e["term"]: e["definition"][:6] for e in api.get("/api/glossary")["data"]} == {"ARR": "Yearly"}


def test_verify_compares_the_glossary_and_deactivated_channels(source, tmp_path):
    from mbport.import_options import ImportOptions
    from mbport.importing import open_import

    _, src, tree = source
    emu, api = instance()
    run = open_import(api, tree, ImportOptions(secrets=Secrets({HOOK_SECRET: HOOK_KEY}, env={}),
                                               state=tmp_path / "state.json"))
    run.apply(run.plan())
    arr = next(e for e in api.get("/api/glossary")["data"] if e["term"] == "ARR")
    api.put(f"/api/glossary/{arr['id']}", json={"term": "ARR", "definition": "Changed on the target"})
    old = next(c for c in api.request("GET", "/api/channel", json={"include_inactive": True}) if not c["active"])
    api.put(f"/api/channel/{old['id']}", json={"description": "touched"})
    lines = [d.line() for d in run.verify(src).differences if not d.kind.startswith("rows of ")]
    assert any(line.startswith("glossary term 'ARR': description:") for line in lines), lines
    assert any(line.startswith("channel 'Old hook': description:") for line in lines), lines
