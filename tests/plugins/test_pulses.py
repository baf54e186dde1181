"""The pulses plugin (dashboard subscriptions): golden cases and exports from the emulator."""

from __future__ import annotations

import pytest
from mbport_plugins.pulses import Pulses

from mbport.check import check
from mbport.registry import load_plugins
from mbport.testing import uncovered_fields
from tests.plugins.emulated_content import (
    add_card,
    add_shop,
    cases,
    export_everything,
    golden,
    make_dashboard,
    new_instance,
    ok,
)

KIND = Pulses()
CASES = cases("pulses")


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    return export_everything(tmp_path_factory)


@pytest.mark.parametrize("path", CASES, ids=lambda p: p.stem)
def test_golden_cards_and_channels_are_covered(path):
    """Besides the shared golden checks (test_golden_cases.py): the nested raw objects, field by field."""
    raw = golden(KIND, path)[0]["raw"]
    assert uncovered_fields(KIND, raw) == set()
    channel = {**raw["channels"][0], "new_field": 1, "recipients": [{"email": "a@b.c", "user_new": 2}]}
    card = {**raw["cards"][0], "card_new": 3}
    assert uncovered_fields(KIND, {**raw, "channels": [channel], "cards": [card]}) == {
        "channels[].new_field", "channels[].recipients[].user_new", "cards[].card_new"}


def test_export_of_a_dashboard_subscription(exported):
    inst, ids = exported.inst, exported.inst.ids
    assert exported.paths("pulses") == ["pulses/reports/daily-sales.json"]
    doc = exported.file("pulses/reports/daily-sales.json")
    dash = inst.eid("dashboard", ids["dashboard"])
    assert doc["dashboard"] == {"$ref": f"dashboards/{dash}"}
    assert [c["card"]["$ref"] for c in doc["cards"]] == [
        f"cards/{inst.eid('card', ids['question'])}", f"cards/{inst.eid('card', ids['model'])}"]
    assert [c["dashcard"]["$ref"] for c in doc["cards"]] == [
        f"dashcards/{dash}/{inst.eid('dashboardcard', dc)}" for dc in ids["dashcards"]]
    assert [(c["include_csv"], c["include_xls"]) for c in doc["cards"]] == [(True, False), (False, True)]
    email, slack = doc["channels"]  # sorted by type, whatever order they were created in
    assert email["recipients"] == [{"user": {"$ref": "users/bob@example.com"}},
                                   {"email": "amy@partner.io"}, {"email": "zed@partner.io"}]
    assert (email["schedule_type"], email["schedule_hour"]) == ("daily", 8) and "schedule_day" not in email
    assert slack["details"] == {"channel": "#sales"} and "recipients" not in slack
    assert doc["skip_if_empty"] is True


def test_dashcard_refs_resolve_inside_the_dashboard_doc(exported):
    assert exported.result.warnings == []
    assert check(exported.out, load_plugins()) == []


def test_archived_subscriptions_and_webhook_channels_as_refs(tmp_path):
    inst = new_instance()
    add_shop(inst)
    card = add_card(inst, "Orders")
    dashboard, (dashcard,) = make_dashboard(inst.emu, inst.admin, "Ops", [card], inst.ids["reports"])
    hooks = [ok(inst.admin.post("/api/channel", json={"name": name, "type": "channel/http", "details": {
        "url": f"https://hooks.example/{name}", "auth-method": "none"}}))["id"] for name in ("Ops hook", "Old hook")]
    cards = [{"id": card, "include_csv": False, "include_xls": False, "dashboard_card_id": dashcard}]

    def subscription(name: str, hook: int) -> int:
        return ok(inst.admin.post("/api/pulse", json={"name": name, "dashboard_id": dashboard, "cards": cards,
                  "channels": [{"channel_type": "http", "channel_id": hook, "enabled": True,
                                "schedule_type": "hourly", "recipients": []}]}))["id"]

    subscription("Live", hooks[0])
    ok(inst.admin.put(f"/api/pulse/{subscription('Retired', hooks[0])}", json={"archived": True}))
    # An inactive channel is missing from GET /api/channel and renamed `DEACTIVATED_<id> ...`.
    ok(inst.admin.put(f"/api/channel/{hooks[1]}", json={"active": False}))
    subscription("Orphan", hooks[1])
    result = inst.export(tmp_path / "tree", kinds=["pulses"])
    by_name = {d["name"]: d for d in result.docs.values()}
    assert by_name["Live"]["archived"] is False and by_name["Retired"]["archived"] is True
    hook = {"channel": {"$ref": "channels/Ops hook"}, "channel_type": "http", "enabled": True, "schedule_type": "hourly"}
    assert by_name["Live"]["channels"] == [hook]
    assert by_name["Retired"]["channels"] == [{**hook, "enabled": False}]  # archiving disables the channels
    # A deactivated channel is the channels doc of the name it had.
    assert by_name["Orphan"]["channels"][0]["channel"] == {"$ref": "channels/Old hook"}
    assert result.warnings == []
    assert inst.emu.spec_violations == []
