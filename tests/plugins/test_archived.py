"""Archived content round-trips as the server holds it (handmade seed, part `archived`): what the TARGET server
answers (detail GETs, the Trash, alerts, subscriptions) is compared with the source, then the archived tree is
restored from the Trash on the target and its contents must come back with it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from mbport.check import load_tree
from mbport.client import MetabaseClient
from mbport.emulator import Emulator
from mbport.engine import Importer
from mbport.export import run_export
from mbport.hooks import DiagnoseContext, Phase
from mbport.registry import load_plugins
from mbport.secrets import Secrets
from mbport.state import State
from tests.conftest import assert_settled, seeded_instance

KINDS = ["databases", "tables", "groups", "users", "collections", "snippets", "cards", "dashboards", "pulses",
         "alerts", "timelines"]
SEEDED = ("Old Campaigns", "2024 Wave", "Live Reports", "Seasonal", "Old snippets")


def held(api: MetabaseClient) -> dict[str, Any]:
    """What a server holds of the seeded archived content, by name: each item's detail GET (archived flags, where GET
    presents it, its real home), the Trash listing, alerts per card, subscriptions, timelines and snippets."""
    trash = api.get("/api/collection/trash")["id"]
    colls = {c["id"]: c for c in api.get("/api/collection", params={"archived": "true"})
             + api.get("/api/collection") + api.get("/api/collection", params={"namespace": "snippets"})
             + api.get("/api/collection", params={"namespace": "snippets", "archived": "true"})
             if isinstance(c.get("id"), int)}
    name = {**{i: c["name"] for i, c in colls.items()}, trash: "Trash", None: "root"}
    out: dict[str, Any] = {}

    def state(kind: str, item: dict[str, Any]) -> None:
        out[f"{kind}:{item['name']}"] = {
            "archived": item["archived"], "archived_directly": bool(item.get("archived_directly")),
            "shown in": name.get(item.get("collection_id")),
            "home": (item.get("collection") or {}).get("name", "root"),
        }

    for coll in colls.values():
        if coll["name"] in SEEDED:
            detail = api.get(f"/api/collection/{coll['id']}")
            out[f"collection:{coll['name']}"] = {"archived": detail["archived"],
                                                "archived_directly": bool(detail.get("archived_directly")),
                                                "parent": name.get(detail.get("parent_id"))}
    cards = {c["id"]: c for f in ("all", "archived") for c in api.get("/api/card", params={"f": f})}
    for card in cards.values():
        state("card", api.get(f"/api/card/{card['id']}"))
    for f in ("all", "archived"):
        for dash in api.get("/api/dashboard", params={"f": f}):
            state("dashboard", api.get(f"/api/dashboard/{dash['id']}"))
    out["trash"] = sorted(f"{i['model']}:{i['name']}" for i in api.get(f"/api/collection/{trash}/items")["data"])
    alerts = api.get("/api/notification", params={"payload_type": "notification/card", "include_inactive": "true"})
    out["alerts"] = sorted((cards[a["payload"]["card_id"]]["name"], a["active"]) for a in alerts)
    out["subscriptions"] = sorted(p["name"] for a in ("false", "true") for p in api.get("/api/pulse", params={"archived": a}))
    for tl in api.get("/api/timeline", params={"archived": "true"}) + api.get("/api/timeline"):
        events = api.get(f"/api/timeline/{tl['id']}", params={"include": "events", "archived": "true"})["events"]
        out[f"timeline:{tl['name']}"] = (tl["archived"], sorted((e["name"], e["archived"]) for e in events))
    for archived in ("false", "true"):
        for snippet in api.get("/api/native-query-snippet", params={"archived": archived}):
            out[f"snippet:{snippet['name']}"] = (snippet["archived"], name.get(snippet.get("collection_id")))
    return out


@dataclass
class RoundTrip:
    source: MetabaseClient
    target: MetabaseClient
    emu_target: Emulator
    tmp: Path
    registry: Any

    def importer(self) -> Importer:
        """A new run of the same import (tree, state file) into the target."""
        return Importer(self.target, self.registry, load_tree(self.tmp / "tree", self.registry),
                        State.load(self.tmp / "state.json", "http://t"), {"secrets": Secrets(env={})})


@pytest.fixture(scope="module")
def rt(tmp_path_factory) -> RoundTrip:
    tmp: Path = tmp_path_factory.mktemp("archived")
    registry = load_plugins(KINDS)
    _emu_source, source = seeded_instance("handmade")
    # The whole instance, personal collections too (the handmade seed has some): the servers are compared whole.
    result = run_export(source, registry, tmp / "tree", kinds=KINDS, options={"include_personal": True})
    assert result.warnings == []
    emu_target, target = seeded_instance()
    run = RoundTrip(source, target, emu_target, tmp, registry)
    importer = run.importer()
    plan = importer.plan()
    assert plan.problems == []
    applied = importer.apply(plan)
    assert applied.failed == {} and applied.skipped == []
    emu_target.wait_idle()
    return run


def test_the_seed_holds_what_metabase_cascades_leave(rt):
    got = held(rt.source)
    # Archived with the collection: not directly, still shown in its real collection.
    assert got["card:Wave orders"] == {"archived": True, "archived_directly": False, "shown in": "2024 Wave",
                                       "home": "2024 Wave"}
    assert got["collection:2024 Wave"] == {"archived": True, "archived_directly": False, "parent": "Old Campaigns"}
    # Archived on its own: GET shows the Trash, `collection` keeps the real home; it stays so after a restore.
    assert got["card:Winter promo"] == {"archived": True, "archived_directly": True, "shown in": "Trash",
                                        "home": "Seasonal"}
    assert got["collection:Seasonal"]["archived"] is False
    # The cascades: the active alert of the card directly in the archived collection and the subscription are gone.
    assert got["alerts"].count(("Campaign reach", True)) == 1 and got["subscriptions"] == []
    assert ("Wave orders", True) in got["alerts"] and ("Retired margin", False) in got["alerts"]
    assert got["timeline:Campaign launches"][0] is True and got["snippet:Old discount rule"] == (True, "Old snippets")
    # Restored in place while the collection stays archived; an alert made after the archive on a card in it.
    assert got["timeline:Open questions"][0] is False and got["card:Evergreen list"]["archived"] is False
    assert ("Campaign reach", True) in got["alerts"]


def test_the_target_holds_what_the_source_holds(rt):
    source, target = held(rt.source), held(rt.target)
    assert {k: v for k, v in target.items() if k in source} == source
    assert set(target) == set(source)


def test_plan_after_apply_is_empty_and_a_second_apply_writes_nothing(rt):
    assert_settled(rt.importer(), rt.emu_target)


def test_restoring_the_archived_tree_on_the_target_brings_its_contents_back(rt, tmp_path):
    target = rt.target
    old = next(c for c in target.get("/api/collection", params={"archived": "true"}) if c["name"] == "Old Campaigns")
    target.put(f"/api/collection/{old['id']}", json={"archived": False})
    got = held(target)
    for key in ("card:Campaign reach", "card:Wave orders", "dashboard:Campaign board", "collection:2024 Wave"):
        assert got[key]["archived"] is False, key
    assert got["timeline:Campaign launches"][0] is False
    assert got["card:Retired margin"]["archived"] is True  # archived on its own elsewhere: untouched


def test_check_reports_what_metabase_would_not_keep():
    registry = load_plugins(["collections", "cards", "dashboards", "pulses"])
    live, trashed = {"name": "Live", "entity_id": "c1"}, {"name": "Gone", "entity_id": "c2", "archived": True}
    dash = {"name": "Board", "entity_id": "d1", "collection": {"$ref": "collections/c2"}, "archived": True,
            "archived_directly": False, "parameters": [{"id": "p1", "type": "category"}]}
    docs = {"collections/c1": live, "collections/c2": trashed, "dashboards/d1": dash}
    card = {"name": "Q", "entity_id": "k1", "archived": True, "archived_directly": False,
            "collection": {"$ref": "collections/c1"}}
    assert "archived with its container" in registry["cards"].diagnose(card, Phase.TREE, DiagnoseContext(docs))[0]
    assert registry["dashboards"].diagnose(dash, Phase.TREE, DiagnoseContext(docs)) == []  # its collection is archived
    sub = {"name": "Weekly", "entity_id": "s1", "dashboard": {"$ref": "dashboards/d1"}}
    assert "its dashboard is archived" in registry["pulses"].diagnose(sub, Phase.TREE, DiagnoseContext(docs))[0]
    docs["dashboards/d1"] = {**dash, "archived": False, "archived_directly": None}
    broken = {**sub, "parameters": [{"id": "p2", "value": ["x"]}]}
    assert "p2" in registry["pulses"].diagnose(broken, Phase.TREE, DiagnoseContext(docs))[0]
    assert registry["pulses"].diagnose({**broken, "archived": True}, Phase.TREE, DiagnoseContext(docs)) == []


def test_importing_again_after_a_restore_on_the_target_archives_the_tree_again_and_keeps_what_follows(rt):
    """The import archives the restored collection again; what that archive would delete or archive (an alert on a
    card in it, a timeline restored in place) is found again afterwards and written back."""
    target = rt.target
    trashed = [c for c in target.get("/api/collection", params={"archived": "true"}) if c["name"] == "Old Campaigns"]
    for old in trashed:  # the test above restored it already when it ran first
        target.put(f"/api/collection/{old['id']}", json={"archived": False})
    importer = rt.importer()
    plan = importer.plan()
    assert plan.problems == []
    updated = {c.address for c in plan.of("update")}
    assert any(a.startswith("alerts/") for a in updated) and any(a.startswith("timelines/") for a in updated)
    result = importer.apply(plan)
    assert result.failed == {}
    assert held(target) == held(rt.source)
    assert_settled(rt.importer(), rt.emu_target)


def test_archiving_on_the_source_between_two_imports_archives_the_same_way_on_the_target(tmp_path):
    """The usual update: the target got the collection live; the source archived it since; the next import archives
    it on the target with its contents, and what the source still holds after its cascades is there too."""
    registry = load_plugins(KINDS)
    _emu, source = seeded_instance("handmade")
    old = next(c for c in source.get("/api/collection", params={"archived": "true"}) if c["name"] == "Old Campaigns")
    source.put(f"/api/collection/{old['id']}", json={"archived": False})
    emu_target, target = seeded_instance()
    run = RoundTrip(source, target, emu_target, tmp_path, registry)
    for archived in (False, True):
        source.put(f"/api/collection/{old['id']}", json={"archived": archived})
        tree = run_export(source, registry, tmp_path / "tree", kinds=KINDS, options={"include_personal": True})
        assert tree.warnings == []  # the whole instance: the servers are compared whole
        importer = run.importer()
        plan = importer.plan()
        assert plan.problems == []
        assert importer.apply(plan).failed == {}
        assert held(target) == held(source)
    assert_settled(run.importer(), emu_target)


def test_an_import_that_archives_a_card_keeps_the_alert_the_tree_has_on_it(tmp_path):
    """The target has the card live with its alert; the source archived the card since and then set the alert up
    again (Metabase takes alerts on archived cards). Archiving the card on the target deletes its alert: the
    import finds that out after the card's write and creates the alert again."""
    registry = load_plugins(KINDS)
    _emu, source = seeded_instance("handmade")
    card = next(c for c in source.get("/api/card") if c["name"] == "Daily orders")
    alert = {"payload_type": "notification/card", "payload": {"card_id": card["id"], "send_condition": "has_result"},
             "subscriptions": [{"type": "notification-subscription/cron", "cron_schedule": "0 0 7 * * ? *"}],
             "handlers": [{"channel_type": "channel/email",
                           "recipients": [{"type": "notification-recipient/raw-value", "details": {"value": "o@x.io"}}]}]}
    source.post("/api/notification", json=alert)
    emu_target, target = seeded_instance()
    run = RoundTrip(source, target, emu_target, tmp_path, registry)
    for step in ("live", "archived"):
        if step == "archived":
            source.put(f"/api/card/{card['id']}", json={"archived": True})  # deletes the alert on the source
            source.post("/api/notification", json=alert)  # set up again on the archived card
        tree = run_export(source, registry, tmp_path / "tree", kinds=KINDS, options={"include_personal": True})
        assert tree.warnings == []  # the whole instance: the servers are compared whole
        importer = run.importer()
        plan = importer.plan()
        assert importer.apply(plan).failed == {}
        assert held(target) == held(source)
    assert ("Daily orders", True) in held(target)["alerts"]
    assert_settled(run.importer(), emu_target)
