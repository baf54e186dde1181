"""The timelines plugin: golden cases, stable event keys, and an export from the emulator (archived events too)."""

from __future__ import annotations

import pytest
from mbport_plugins.timelines import Timelines

from mbport.check import check
from mbport.refs import address
from mbport.registry import load_plugins
from mbport.testing import uncovered_fields
from tests.plugins.emulated_content import (
    add_shop,
    cases,
    export_everything,
    golden,
    make_user,
    new_instance,
    ok,
)

KIND = Timelines()
CASES = cases("timelines")


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    return export_everything(tmp_path_factory)


@pytest.mark.parametrize("path", CASES, ids=lambda p: p.stem)
def test_golden_events_are_covered(path):
    """Besides the shared golden checks (test_golden_cases.py): the embedded events, field by field."""
    raw = golden(KIND, path)[0]["raw"]
    assert uncovered_fields(KIND, raw) == set()
    if raw["events"]:  # an event field nobody declared is caught like a timeline's own
        events = [{**raw["events"][0], "new_field": 1}, *raw["events"][1:]]
        assert uncovered_fields(KIND, {**raw, "events": events}) == {"events[].new_field"}


@pytest.mark.parametrize("path", CASES, ids=lambda p: p.stem)
def test_event_addresses_from_raw_and_from_doc_agree(path):
    """Refs to events (cards' excluded timeline events) resolve only if index (raw) and contains (doc) agree."""
    case, doc, _ = golden(KIND, path)
    indexed = {addr for kind, _, addr in KIND.index(case["raw"]) if kind == "events"}
    assert indexed == KIND.contains(doc)
    assert len(indexed) == len(case["raw"]["events"])


def test_same_timestamp_and_name_get_distinct_keys():
    case, doc, _ = golden(KIND, next(p for p in CASES if "duplicate" in p.stem))
    eid = case["raw"]["entity_id"]
    assert KIND.contains(doc) == {
        address("events", eid, "2019-12-31T23:00:00Z Pricing page"),
        address("events", eid, "2020-05-05T10:00:00Z launch"),
        address("events", eid, "2020-05-05T10:00:00Z launch ~2"),
    }
    assert doc["events"][0]["question"] == {"$ref": "cards/key-33"}


def test_export_keeps_archived_events_of_active_timelines_and_archived_timelines(exported):
    inst = exported.inst
    releases = exported.file("timelines/reports/releases.json")
    assert releases["collection"] == {"$ref": f"collections/{inst.eid('collection', inst.ids['reports'])}"}
    assert [(e["name"], e["archived"]) for e in releases["events"]] == [("v1", True), ("v2", False)]
    assert releases["icon"] == "cake" and "description" not in releases
    old = exported.file("timelines/old.json")  # a root timeline sits at the top of the kind's folder
    assert old["archived"] is True and "collection" not in old
    assert [e["name"] for e in old["events"]] == ["launch"]
    assert exported.paths("timelines") == ["timelines/old.json", "timelines/reports/releases.json"]


def test_exported_tree_resolves_and_is_deterministic(exported, tmp_path):
    assert exported.result.warnings == []
    assert check(exported.out, load_plugins()) == []
    again = exported.inst.export(tmp_path / "again", kinds=["timelines"])
    assert again.docs == exported.docs("timelines")


def test_timelines_in_personal_collections_stay_out_unless_asked(tmp_path):
    inst = new_instance()
    add_shop(inst)
    user = make_user(inst.emu, inst.admin, "dana@example.com")
    personal = inst.emu.state.table("collection").first(personal_owner_id=user["id"])
    if personal is None:  # older builds create personal collections lazily
        personal = {"id": ok(inst.admin.get(f"/api/user/{user['id']}"))["personal_collection_id"]}
    ok(inst.admin.post("/api/timeline", json={"name": "Dana's", "collection_id": personal["id"]}))
    ok(inst.admin.post("/api/timeline", json={"name": "Shared", "collection_id": inst.ids["reports"]}))
    plain = inst.export(tmp_path / "plain", kinds=["timelines", "collections"])
    assert [d["name"] for d in plain.docs.values() if "events" in d] == ["Shared"]
    everything = inst.export(tmp_path / "all", kinds=["timelines", "collections"], include_personal=True)
    assert sorted(d["name"] for d in everything.docs.values() if "events" in d) == ["Dana's", "Shared"]
    assert inst.emu.spec_violations == []
