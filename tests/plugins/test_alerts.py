"""The alerts plugin: golden cases (notifications and pre-0.54 alerts), keys, and exports from the emulator."""

from __future__ import annotations

import copy

import pytest
from mbport_plugins.alerts import Alerts

from mbport.api import alert_problems, cron_to_schedule, notification_of_alert, schedule_to_cron
from mbport.check import check
from mbport.client import MetabaseVersion
from mbport.kind import ExportContext
from mbport.registry import load_plugins
from mbport.testing import uncovered_fields
from tests.plugins.emulated_content import (
    add_card,
    add_shop,
    cases,
    export_everything,
    golden,
    load_case,
    new_instance,
    ok,
)

KIND = Alerts()
CASES = cases("alerts")


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    return export_everything(tmp_path_factory)


@pytest.mark.parametrize("path", CASES, ids=lambda p: p.stem)
def test_golden_nested_fields_are_covered_and_the_key_is_card_and_ordinal(path):
    """Besides the shared golden checks (test_golden_cases.py)."""
    case, doc, _ = golden(KIND, path)
    raw = case["raw"]
    if "payload_type" in raw:  # the notification's nested objects are covered field by field too
        assert uncovered_fields(KIND, raw) == set()
        handler = {**raw["handlers"][0], "h_new": 1, "recipients": [{"type": "x", "r_new": 2}]}
        changed = {**raw, "payload": {**raw["payload"], "p_new": 3}, "handlers": [handler],
                   "subscriptions": [{"s_new": 4}]}
        assert uncovered_fields(KIND, changed) == {"payload.p_new", "handlers[].h_new",
                                                   "handlers[].recipients[].r_new", "subscriptions[].s_new"}
    assert KIND.address_of(raw) == KIND.address_of(doc) == f"alerts/{raw['card_entity_id']}/{raw['ordinal']}"


def test_pre_054_alert_becomes_the_same_doc_as_a_notification():
    """A 0.53 export must import into a notification-era instance: same fields, same vocabulary."""
    legacy = golden(KIND, next(p for p in CASES if "legacy" in p.stem))[1]
    modern = golden(KIND, next(p for p in CASES if "email-user-group" in p.stem))[1]
    assert set(legacy) == set(modern)
    assert set(legacy["payload"]) == set(modern["payload"])
    assert {h["channel_type"] for h in legacy["handlers"]} == {"channel/email", "channel/slack"}


@pytest.mark.parametrize("schedule, cron", [
    ({"schedule_type": "hourly"}, "0 0 * * * ? *"),
    ({"schedule_type": "daily", "schedule_hour": 8}, "0 0 8 * * ? *"),
    ({"schedule_type": "weekly", "schedule_hour": 7, "schedule_day": "tue"}, "0 0 7 ? * 3 *"),
    ({"schedule_type": "monthly", "schedule_hour": 6, "schedule_frame": "first"}, "0 0 6 1 * ? *"),
    ({"schedule_type": "monthly", "schedule_hour": 6, "schedule_frame": "mid"}, "0 0 6 15 * ? *"),
    ({"schedule_type": "monthly", "schedule_hour": 6, "schedule_frame": "last", "schedule_day": "fri"}, "0 0 6 ? * 6L *"),
])
def test_legacy_schedules_become_quartz_crons(schedule, cron):
    assert schedule_to_cron(schedule) == cron


class FakeApi:
    """Just enough of MetabaseClient for `list` on an old release: a version and canned GETs."""

    def __init__(self, tag: str, answers: dict):
        self.version = MetabaseVersion.parse(tag)
        self.answers, self.calls = answers, []

    def get(self, path, params=None):
        self.calls.append((path, params))
        return copy.deepcopy(self.answers[(path, tuple(sorted((params or {}).items())))])


def test_a_pre_054_alert_is_listed_as_the_notification_it_becomes():
    """The recorded 0.53 answer, read through the crossing, is the notification-shaped raw the golden case normalizes
    (goal below, send once, a weekly schedule, email users and addresses, a Slack channel)."""
    case = load_case(next(p for p in CASES if "legacy" in p.stem))
    keys = {k: case["raw"][k] for k in ("card_entity_id", "ordinal")}
    assert {**notification_of_alert(case["recorded"]), **keys} == case["raw"]


def test_before_054_list_reads_api_alert_and_numbers_alerts_per_card():
    raw = load_case(next(p for p in CASES if "legacy" in p.stem))["recorded"]
    older = {**raw, "id": 3, "created_at": "2023-01-01T00:00:00Z", "archived": True}
    api = FakeApi("v0.53.9", {("/api/alert", ()): [raw], ("/api/alert", (("archived", "true"),)): [older]})
    ctx = ExportContext(raw={"cards": [{"id": 33, "entity_id": "CardThirtyThree______"},
                                       {"id": 34, "entity_id": "CardThirtyFour_______"}]})
    rows = KIND.list(api, ctx)
    assert [p for p, _ in api.calls] == ["/api/alert", "/api/alert"]
    assert [(r["id"], r["card_entity_id"], r["ordinal"]) for r in rows] == [
        (3, "CardThirtyThree______", 1), (5, "CardThirtyThree______", 2)]  # creation order, archived included
    # an alert on a card the export leaves out (personal collection) stays out with it
    ctx.raw["cards"] = [{"id": 34, "entity_id": "CardThirtyFour_______"}]
    assert KIND.list(api, ctx) == []


def test_export_keys_alerts_by_card_and_creation_order(exported):
    inst, ids = exported.inst, exported.inst.ids
    question, model = inst.eid("card", ids["question"]), inst.eid("card", ids["model"])
    docs = exported.docs("alerts")
    assert set(docs) == {f"alerts/{question}/1", f"alerts/{question}/2", f"alerts/{model}/1"}
    first, second = docs[f"alerts/{question}/1"], docs[f"alerts/{question}/2"]
    assert first["payload"] == {"card": {"$ref": f"cards/{question}"}, "send_condition": "goal_above",
                                "send_once": True}
    assert first["active"] is True and second["active"] is False  # inactive alerts are exported too
    assert first["handlers"][0]["recipients"] == [
        {"group": {"$ref": "groups/Analysts"}}, {"user": {"$ref": "users/bob@example.com"}},
        {"value": "ops@partner.io"}]
    assert second["handlers"] == [{"active": True, "channel_type": "channel/slack",
                                   "recipients": [{"value": "#alerts"}]}]
    assert first["subscriptions"] == [{"cron_schedule": "0 0 8 * * ? *", "type": "notification-subscription/cron",
                                       "ui_display_type": "cron/builder"}]
    assert all(p.startswith("alerts/") and p.endswith(".json") for p in exported.paths("alerts"))
    assert check(exported.out, load_plugins()) == []


def test_system_notifications_are_not_alerts_on_056(tmp_path):
    """0.56 already has notifications (and a built-in user-invited one): only card alerts are exported."""
    inst = new_instance("0.56")
    add_shop(inst)
    card = add_card(inst, "Orders")
    ok(inst.admin.post("/api/notification", json={
        "payload_type": "notification/card", "payload": {"card_id": card},
        "subscriptions": [{"type": "notification-subscription/cron", "cron_schedule": "0 0 9 ? * 2 *"}],
        "handlers": [{"channel_type": "channel/email", "recipients": [
            {"type": "notification-recipient/user", "user_id": 1}]}]}))
    result = inst.export(tmp_path / "tree", kinds=["alerts"])
    (doc,) = result.docs.values()
    assert doc["payload"]["send_condition"] == "has_result" and doc["ordinal"] == 1
    assert doc["handlers"][0]["recipients"] == [{"user": {"$ref": "users/admin@example.com"}}]
    assert result.warnings == [] and inst.emu.spec_violations == []


@pytest.mark.parametrize("channel", [
    {"schedule_type": "hourly"}, {"schedule_type": "daily", "schedule_hour": 6},
    {"schedule_type": "weekly", "schedule_hour": 9, "schedule_day": "mon"},
    {"schedule_type": "monthly", "schedule_hour": 0, "schedule_frame": "first"},
    {"schedule_type": "monthly", "schedule_hour": 5, "schedule_frame": "mid"},
    {"schedule_type": "monthly", "schedule_hour": 23, "schedule_frame": "last"},
    {"schedule_type": "monthly", "schedule_hour": 7, "schedule_day": "tue", "schedule_frame": "first"},
    {"schedule_type": "monthly", "schedule_hour": 7, "schedule_day": "sun", "schedule_frame": "last"},
])
def test_a_pulse_schedule_survives_the_round_trip_through_cron(channel):
    """Into a release before 0.54 an alert's cron goes back to the pulse channel's schedule it came from."""
    back = cron_to_schedule(schedule_to_cron(channel))
    assert back == {"schedule_hour": None, "schedule_day": None, "schedule_frame": None, **channel}


def test_what_api_alert_cannot_hold_is_named():
    """Schedules beyond the pulse forms, several schedules, groups and webhooks: each a reason of its own."""
    def doc(*crons, handlers=()):
        return {"subscriptions": [{"type": "notification-subscription/cron", "cron_schedule": c} for c in crons],
                "handlers": list(handlers)}

    assert cron_to_schedule("0 0 9 ? * MON *") == cron_to_schedule("0 0 9 ? * 2 *")
    assert alert_problems(doc("0 0 9 ? * 2 *")) == []
    assert "no hourly, daily, weekly or monthly" in alert_problems(doc("0 30 9 ? * 2,4 *"))[0]
    assert "2 schedules" in alert_problems(doc("0 0 9 * * ? *", "0 0 17 * * ? *"))[0]
    grouped = doc("0 0 9 * * ? *", handlers=[{"channel_type": "channel/email", "recipients": [{"group": {"$ref": "g"}}]}])
    assert "group" in alert_problems(grouped)[0]
    hook = doc("0 0 9 * * ? *", handlers=[{"channel_type": "channel/http", "channel": "Ops", "recipients": []}])
    assert "channel/http handler (Ops)" in alert_problems(hook)[0]


def test_a_cron_spelled_another_way_is_no_change():
    """0.50 gives a weekly alert's schedule back as `0 0 9 ? * 2 *`; a tree from a newer release holds `MON`: plan
    compares the schedule, not its spelling (a second import into 0.50 writes nothing)."""
    def doc(cron):
        return {"ordinal": 1, "active": True, "payload": {"card": {"$ref": "cards/x"}},
                "subscriptions": [{"type": "notification-subscription/cron", "cron_schedule": cron}]}

    assert KIND.compare(doc("0 0 9 ? * MON *"), doc("0 0 9 ? * 2 *"), None) == []
    assert KIND.compare(doc("0 0 9 ? * MON *"), doc("0 0 10 ? * 2 *"), None) == ["subscriptions"]
