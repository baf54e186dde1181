"""Shared content using a question from someone's personal collection (a common sight: a team dashboard showing a
question its author kept in their own collection), exported without --include-personal: the export cannot hold that
question, and its warning says why and what takes it along (it said the question did not exist)."""

from __future__ import annotations

from mbport.check import check
from mbport.client import MetabaseClient
from mbport.export import run_export
from tests.conftest import seeded_emulator


def _shared_dashboard_on_a_personal_question(emu, session) -> str:
    with MetabaseClient("http://metabase.test", session_token=session, transport=emu.transport()) as api:
        personal = {c["id"] for c in api.get("/api/collection") if c.get("personal_owner_id")}
        card = next(c for c in api.get("/api/card", params={"f": "all"}) if c.get("collection_id") in personal)
        dashboard = api.post("/api/dashboard", json={"name": "Team board"})
        api.put(f"/api/dashboard/{dashboard['id']}", json={"dashcards": [
            {"id": -1, "card_id": card["id"], "row": 0, "col": 0, "size_x": 6, "size_y": 4}]})
        return card["id"]


def test_a_ref_to_a_personal_question_names_the_flag_that_takes_it_along(registry, tmp_path):
    emu, session = seeded_emulator("sample")
    card_id = _shared_dashboard_on_a_personal_question(emu, session)
    with MetabaseClient("http://metabase.test", session_token=session, transport=emu.transport()) as api:
        without = run_export(api, registry, tmp_path / "shared")
        with_personal = run_export(api, registry, tmp_path / "all", options={"include_personal": True})
    about = [w for w in without.warnings if f"refers to cards id {card_id}," in w]
    assert len(about) == 1 and "personal collection" in about[0] and "--include-personal" in about[0], without.warnings
    assert check(tmp_path / "shared", registry)  # the tree lacks it: check says so before any import
    assert not [w for w in with_personal.warnings if f"cards id {card_id}" in w]
    assert check(tmp_path / "all", registry) == []
