"""The `current` seed's Enterprise content (cache policies, verification, Metabot, settings) round-trips 0.65 → 0.65,
judged by what both servers answer; an OSS target refuses the premium kinds at plan time, before any write."""

from __future__ import annotations

from typing import Any

import pytest

from mbport.check import load_tree
from mbport.client import MetabaseClient
from mbport.emulator import Emulator, bootstrap, seeds
from mbport.engine import Importer
from mbport.export import run_export
from mbport.state import State
from tests.conftest import ADMIN_EMAIL, ADMIN_PASSWORD, transforms_on, writes_since


def _instance(seed: str | None = None, **kw: Any) -> tuple[Emulator, MetabaseClient]:
    emu = transforms_on(Emulator("0.65", **kw))  # the seed's transforms need them turned on, as its source had
    session = bootstrap.setup_admin(emu, ADMIN_EMAIL, ADMIN_PASSWORD)
    if seed:
        seeds.load(emu, seed, session)
        emu.wait_idle()
    return emu, MetabaseClient("http://metabase.test", session_token=session, transport=emu.transport())


@pytest.fixture(scope="module")
def source(tmp_path_factory, registry):
    emu, api = _instance("current", premium_features="all")
    out = tmp_path_factory.mktemp("current") / "tree"
    result = run_export(api, registry, out)
    return emu, api, out, result


@pytest.fixture(scope="module")
def imported(source, registry, tmp_path_factory):
    _, _, out, _ = source
    emu, api = _instance(premium_features="all")
    state = tmp_path_factory.mktemp("state") / "b.json"
    importer = Importer(api, registry, load_tree(out, registry), State.load(state, api.url), {})
    plan = importer.plan()
    assert plan.problems == []
    result = importer.apply(plan)
    emu.wait_idle()
    assert result.failed == {}
    return emu, api, importer, state


def _names(api: MetabaseClient) -> dict[tuple[str, Any], str]:
    """(model, id) → the item's name, so both instances' policies compare by what they are for."""
    out: dict[tuple[str, Any], str] = {("root", 0): "root"}
    out.update({("database", d["id"]): d["name"] for d in api.get("/api/database")["data"]})
    out.update({("dashboard", d["id"]): d["name"] for d in api.get("/api/dashboard")})
    out.update({("question", c["id"]): c["name"] for c in api.get("/api/card")})
    return out


def _policies(api: MetabaseClient) -> dict[tuple[str, str], dict[str, Any]]:
    names = _names(api)
    rows = [*api.get("/api/cache", params={"model": "root"})["data"],
            *api.get("/api/cache", params={"model": ["database", "dashboard", "question"]})["data"]]
    return {(r["model"], names[(r["model"], r["model_id"])]): r["strategy"] for r in rows}


def test_cache_policies_are_on_the_target_as_on_the_source(source, imported):
    _, src, _, _ = source
    _, tgt, _, _ = imported
    want = _policies(src)
    assert {m for m, _ in want} == {"root", "database", "dashboard", "question"}
    assert _policies(tgt) == want


def test_a_second_import_plans_and_writes_nothing(source, imported, registry):
    _, _, out, _ = source
    emu, api, _, state = imported
    importer = Importer(api, registry, load_tree(out, registry), State.load(state, api.url), {})
    plan = importer.plan()
    assert not plan.has_changes, [c.line() for c in plan.changes if c.action != "noop"]
    before = len(emu.request_log)
    importer.apply(plan)
    assert writes_since(emu, before) == []


def test_a_changed_policy_is_planned_and_written_back(source, imported, registry):
    _, _, out, _ = source
    emu, api, _, state = imported
    dash = next(d for d in api.get("/api/dashboard") if d["name"] == "Sales")
    api.put("/api/cache", json={"model": "dashboard", "model_id": dash["id"], "strategy": {"type": "nocache"}})
    importer = Importer(api, registry, load_tree(out, registry), State.load(state, api.url), {})
    plan = importer.plan()
    changed = [c for c in plan.changes if c.action != "noop"]
    assert [(c.address.split("/")[0], c.action, c.fields) for c in changed] == [("cache-policies", "update", ["strategy"])]
    assert "dashboard 'Sales'" in changed[0].line()
    importer.apply(plan)
    assert _policies(api)[("dashboard", "Sales")]["type"] == "schedule"


def test_verify_pairs_every_policy_and_finds_no_difference(source, imported):
    from tests.verify.judge import judged

    _, src, _, _ = source
    _, tgt, importer, _ = imported
    objects, _, result = judged(src, tgt, importer.ids, queries=False)
    assert result.counts["cache-policies"].paired == 4 and result.counts["metabots"].paired == 1
    assert objects == []


def test_an_oss_target_refuses_the_granular_policies_before_writing(source, registry, tmp_path):
    _, _, out, _ = source
    emu, api = _instance()
    importer = Importer(api, registry, load_tree(out, registry), State.load(tmp_path / "s.json", api.url), {})
    before = len(emu.request_log)
    plan = importer.plan()
    assert any("cache-policies" in p and "cache_granular_controls" in p for p in plan.problems), plan.problems
    assert writes_since(emu, before) == []
    skipping = Importer(api, registry, load_tree(out, registry), State.load(tmp_path / "t.json", api.url),
                        {"skip_unsupported": True})
    plan = skipping.plan()
    assert not [p for p in plan.problems if "cache" in p]
    assert {a.split("/")[0] for a in skipping.unsupported} >= {"cache-policies"}


def _settings(api: MetabaseClient) -> dict[str, Any]:
    from mbport_plugins.settings import WHITELIST

    dashboards = {d["id"]: d["name"] for d in api.get("/api/dashboard")}
    values = {s["key"]: s["value"] for s in api.get("/api/setting") if s["key"] in WHITELIST and s["value"] is not None}
    if "custom-homepage-dashboard" in values:
        values["custom-homepage-dashboard"] = dashboards[values["custom-homepage-dashboard"]]
    values.pop("site-name", None)  # each emulator names itself
    return values


def test_content_settings_are_on_the_target_as_on_the_source(source, imported):
    _, src, _, _ = source
    _, tgt, _, _ = imported
    want = _settings(src)
    assert want["custom-homepage-dashboard"] == "Sales" and want["csv-field-separator"] == ";"
    assert {"application-colors", "metabot-name", "enable-pivoted-exports"} <= set(want)
    assert _settings(tgt) == want
    # the homepage is the target's own `Sales` dashboard, not the source's id
    homepage = tgt.get("/api/setting/custom-homepage-dashboard")
    assert homepage == next(d["id"] for d in tgt.get("/api/dashboard") if d["name"] == "Sales")


def test_an_oss_target_is_told_which_settings_need_a_feature_before_writing(source, registry, tmp_path):
    _, _, out, _ = source
    emu, api = _instance()
    importer = Importer(api, registry, load_tree(out, registry), State.load(tmp_path / "s.json", api.url), {})
    before = len(emu.request_log)
    problems = importer.plan().problems
    assert any("'application-colors'" in p and "needs the whitelabel feature" in p for p in problems), problems
    assert any("'metabot-name'" in p and "needs the ai_controls feature" in p for p in problems), problems
    assert not any("csv-field-separator" in p for p in problems)
    assert writes_since(emu, before) == []


def _metabots(api: MetabaseClient) -> dict[str, tuple[bool, str | None]]:
    collections = {c["id"]: c["name"] for c in api.get("/api/collection") if isinstance(c.get("id"), int)}
    return {m["entity_id"]: (m["use_verified_content"], collections.get(m["collection_id"]))
            for m in api.get("/api/metabot/metabot")["items"]}


def test_metabot_configuration_is_on_the_target_as_on_the_source(source, imported):
    _, src, out, result = source
    _, tgt, _, _ = imported
    want = _metabots(src)
    assert want["metabotmetabotmetabot"] == (True, "Analytics")
    assert want["embeddedmetabotmetabo"] == (False, None)
    assert _metabots(tgt) == want
    # a Metabot left at Metabase's defaults has no doc (like a setting at its default)
    assert sorted(p.name for p in (out / "metabots").iterdir()) == ["metabot.json"]


def test_an_oss_target_is_told_verified_content_needs_the_feature(source, registry, tmp_path):
    _, _, out, _ = source
    emu, api = _instance()
    importer = Importer(api, registry, load_tree(out, registry), State.load(tmp_path / "s.json", api.url), {})
    problems = importer.plan().problems
    assert any("metabots/metabotmetabotmetabot" in p and "content_verification" in p for p in problems), problems


def _verified(api: MetabaseClient) -> dict[tuple[str, str], tuple[str | None, str]]:
    """(item type, name) → (note, moderator's email) of every card and dashboard verified now, read from each one's
    details as Metabase hydrates them (its newest review decides)."""
    out = {}
    for item_type in ("card", "dashboard"):
        for item in [i for f in ("all", "archived") for i in api.get(f"/api/{item_type}", params={"f": f})]:
            reviews = api.get(f"/api/{item_type}/{item['id']}")["moderation_reviews"]
            latest = next((r for r in reviews if r["most_recent"]), None)
            if latest and latest["status"] == "verified":
                out[(item_type, item["name"])] = (latest["text"], latest["user"]["email"])
    return out


def test_verifications_are_on_the_target_as_on_the_source(source, imported):
    _, src, out, _ = source
    _, tgt, _, _ = imported
    want = _verified(src)
    # `Large orders` was verified, then its query changed: Metabase unverified it, so the tree has no doc for it
    assert want == {("card", "Orders by product"): ("Checked against the finance report", ADMIN_EMAIL),
                    ("dashboard", "Sales"): (None, ADMIN_EMAIL)}
    assert sorted(str(p.relative_to(out / "verifications")) for p in (out / "verifications").rglob("*.json")) == [
        "card/analytics/orders-by-product.json", "dashboard/analytics/sales.json"]
    assert _verified(tgt) == want


def test_a_fresh_target_is_told_the_moderator_and_time_cannot_be_restored(source, registry, tmp_path):
    _, _, out, _ = source
    emu, api = _instance(premium_features="all")
    plan = Importer(api, registry, load_tree(out, registry), State.load(tmp_path / "s.json", api.url), {}).plan()
    notes = {label: parts for label, parts in plan.unrestorable.items() if "verifications/" in label}
    assert len(notes) == 2 and all(sorted(p.split(" (")[0] for p in parts) == ["moderator", "verified_at"]
                                   for parts in notes.values()), notes
    assert plan.problems == []


def test_a_card_whose_query_the_import_changes_is_verified_again(source, imported, registry):
    _, _, out, _ = source
    emu, api, _, state = imported
    card = next(c for c in api.get("/api/card") if c["name"] == "Orders by product")
    query = {"database": card["database_id"], "type": "native", "native": {"query": "SELECT 1"}}
    api.put(f"/api/card/{card['id']}", json={"dataset_query": query})  # Metabase unverifies it ...
    api.post("/api/moderation-review", json={"moderated_item_type": "card", "moderated_item_id": card["id"],
                                             "status": "verified", "text": "Checked against the finance report"})
    assert _verified(api)[("card", "Orders by product")][0] == "Checked against the finance report"  # ... re-verified
    importer = Importer(api, registry, load_tree(out, registry), State.load(state, api.url), {})
    plan = importer.plan()
    changed = {c.address.split("/")[0]: c for c in plan.changes if c.action != "noop"}
    assert set(changed) == {"cards", "verifications"}
    assert "rewritten after cards/" in changed["verifications"].line()
    importer.apply(plan)  # the card's query goes back, which unverifies it; the verification is posted after it
    reviews = api.get(f"/api/card/{card['id']}")["moderation_reviews"]
    assert [(r["status"], r["text"]) for r in reviews[:2]] == [
        ("verified", "Checked against the finance report"), (None, "Unverified due to edit")]
    assert not Importer(api, registry, load_tree(out, registry), State.load(state, api.url), {}).plan().has_changes


def test_an_oss_target_refuses_verifications_by_name_before_writing(source, registry, tmp_path):
    _, _, out, _ = source
    emu, api = _instance()
    before = len(emu.request_log)
    problems = Importer(api, registry, load_tree(out, registry), State.load(tmp_path / "s.json", api.url), {}).plan().problems
    refused = [p for p in problems if p.startswith("verifications/")]
    assert len(refused) == 2 and all("content_verification" in p for p in refused), problems
    assert writes_since(emu, before) == []
    skipping = Importer(api, registry, load_tree(out, registry), State.load(tmp_path / "t.json", api.url),
                        {"skip_unsupported": True})
    plan = skipping.plan()
    assert not [p for p in plan.problems if "verifications" in p]
    assert {a for a in skipping.unsupported if a.startswith("verifications/")} == {
        a for a in load_tree(out, registry).docs if a.startswith("verifications/")}


def test_a_release_before_0_52_refuses_a_dashboards_verification_by_name(source, registry, tmp_path):
    _, _, out, _ = source
    emu = Emulator("0.50", premium_features="all")
    session = bootstrap.setup_admin(emu, ADMIN_EMAIL, ADMIN_PASSWORD)
    api = MetabaseClient("http://old.test", session_token=session, transport=emu.transport())
    problems = Importer(api, registry, load_tree(out, registry), State.load(tmp_path / "s.json", api.url), {}).plan().problems
    refused = [p for p in problems if p.startswith("verifications/")]
    assert len(refused) == 1 and refused[0].startswith("verifications/dashboard/"), problems
    assert "no verified dashboards (they exist from 0.52 on)" in refused[0]


def test_verify_finds_a_verification_the_target_lost(source, imported):
    from tests.verify.judge import judged

    _, src, _, _ = source
    _, tgt, importer, _ = imported
    dash = next(d for d in tgt.get("/api/dashboard") if d["name"] == "Sales")
    tgt.post("/api/moderation-review", json={"moderated_item_type": "dashboard", "moderated_item_id": dash["id"],
                                             "status": None, "text": "under review"})
    try:
        objects, _, _ = judged(src, tgt, importer.ids, queries=False)
        assert objects == ["dashboard 'Sales': verified: verified → null"], objects
    finally:
        tgt.post("/api/moderation-review", json={"moderated_item_type": "dashboard", "moderated_item_id": dash["id"],
                                                 "status": "verified", "text": None})
