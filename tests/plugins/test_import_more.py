"""Import of timelines, subscriptions, alerts, segments, measures, actions and both permission graphs: instance A
(built through the emulator's API) → export → import into a fresh instance B → export B equals A, plan again is
empty, a second apply writes nothing; drift on B is repaired in place; a 409 on a graph PUT is retried."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from mbport_plugins.alerts import Alerts
from mbport_plugins.data_permissions import changed_permissions, explicit

from mbport.capabilities import stages
from mbport.check import load_tree
from mbport.client import MetabaseVersion
from mbport.emulator.app import Response
from mbport.engine import Importer
from mbport.errors import MbportError
from mbport.hooks import WriteRequest
from mbport.refs import split_address
from mbport.registry import load_plugins
from mbport.resolve import Resolver
from mbport.state import State
from mbport.testing import entity_id_map, relabel, without_unwritable
from tests.conftest import WRITES
from tests.plugins.emulated_content import Instance, add_everything, new_instance, ok

KINDS = ("timelines", "pulses", "alerts", "segments", "measures", "actions", "data-permissions",
         "collection-permissions")
REGISTRY = load_plugins()


def of_kinds(docs: dict[str, Any], kinds=KINDS) -> dict[str, Any]:
    """The docs of `kinds`, without what no API request writes (an imported instance holds its own there)."""
    return without_unwritable({a: d for a, d in docs.items() if a.split("/", 1)[0] in kinds}, REGISTRY)


def importer_for(tree_dir: Path, inst: Instance, state: Path, **options: Any) -> Importer:
    api = inst.client()
    return Importer(api, REGISTRY, load_tree(tree_dir, REGISTRY), State.load(state, api.url), options)


def exported_back(inst: Instance, importer: Importer, out: Path) -> dict[str, Any]:
    """B's export with B's entity_ids renamed to the tree's (Metabase never keeps a client's entity_id)."""
    back = inst.export(out)
    return without_unwritable(relabel(back.docs, entity_id_map(importer.ids, back.index)), REGISTRY)


def writes_since(inst: Instance, start: int) -> list[tuple[str, str, int]]:
    return [r for r in inst.emu.request_log[start:] if r[0] in WRITES]


def add_more(inst: Instance) -> Instance:
    """Beyond `add_everything`: events sharing a timestamp and name, a segment with caveats (a PUT-only field)
    and an archived subscription."""
    ids, admin = inst.ids, inst.admin
    for description in ("first try", "second try"):
        ok(admin.post("/api/timeline-event", json={"timeline_id": ids["timeline"], "name": "hotfix",
                                                   "timestamp": "2024-04-01T00:00:00Z", "timezone": "UTC",
                                                   "description": description}))
    ok(admin.put(f"/api/segment/{ids['segment']}", json={"caveats": "Excludes refunds.",
                                                         "revision_message": "caveats"}))
    question_dc, _ = ids["dashcards"]
    old = ok(admin.post("/api/pulse", json={
        "name": "Old digest", "dashboard_id": ids["dashboard"],
        "cards": [{"id": ids["question"], "include_csv": False, "include_xls": False, "dashboard_card_id": question_dc}],
        "channels": [{"channel_type": "email", "enabled": True, "schedule_type": "monthly", "schedule_hour": 6,
                      "schedule_frame": "first", "recipients": [{"id": ids["bob"]}]}]}))
    ok(admin.put(f"/api/pulse/{old['id']}", json={"archived": True}))
    return inst


@pytest.fixture(scope="module")
def source(tmp_path_factory):
    inst = add_more(add_everything(new_instance()))
    out = tmp_path_factory.mktemp("a") / "tree"
    result = inst.export(out)
    assert inst.emu.spec_violations == []
    return inst, out, result


@pytest.fixture(scope="module")
def imported(source, tmp_path_factory):
    """The tree applied to an empty instance B."""
    _, out, _ = source
    inst = new_instance()
    state = tmp_path_factory.mktemp("state") / "b.json"
    importer = importer_for(out, inst, state)
    plan = importer.plan()
    result = importer.apply(plan)
    back = exported_back(inst, importer, tmp_path_factory.mktemp("b") / "tree")
    assert inst.emu.spec_violations == []
    return inst, importer, plan, result, back, state


def test_every_kind_is_written_without_failures(source, imported):
    _, _, a = source
    _, _, plan, result, _, _ = imported
    assert plan.problems == [] and result.failed == {} and result.skipped == []
    created = {c.address.split("/", 1)[0] for c in plan.of("create")}
    assert created >= {"timelines", "pulses", "alerts", "segments", "measures", "actions"}
    # the graphs are never created: the target has them; they name groups and collections still to be created, so
    # they are compared once those exist
    assert {c.address for c in plan.of("after-creates")} >= {"data-permissions/graph", "collection-permissions/default",
                                                             "collection-permissions/snippets"}
    assert {a.split("/", 1)[0] for a in of_kinds(a.docs)} == set(KINDS)


@pytest.mark.parametrize("kind", KINDS)
def test_round_trip_equals_the_source(source, imported, kind):
    _, _, a = source
    back = imported[4]
    want, got = of_kinds(a.docs, (kind,)), of_kinds(back, (kind,))
    assert want and sorted(want) == sorted(got)
    for addr, doc in want.items():
        assert got[addr] == doc, addr


def test_round_trip_keeps_what_only_a_second_write_can_set(source, imported):
    """Archived subscriptions and timelines, inactive alerts, PUT-only segment fields, events' archived flags."""
    inst, out, a = source
    back = imported[4]
    pulses = {d["name"]: d for d in of_kinds(back, ("pulses",)).values()}
    assert pulses["Old digest"]["archived"] is True and pulses["Daily sales"]["archived"] is False
    assert [c["channel_type"] for c in pulses["Daily sales"]["channels"]] == ["email", "slack"]
    alerts = of_kinds(back, ("alerts",))
    assert sorted(d["active"] for d in alerts.values()) == [False, True, True]
    assert next(iter(of_kinds(back, ("segments",)).values()))["caveats"] == "Excludes refunds."
    timelines = {d["name"]: d for d in of_kinds(back, ("timelines",)).values()}
    assert timelines["Old"]["archived"] is True and [e["archived"] for e in timelines["Old"]["events"]] == [False]
    assert [(e["name"], e.get("description")) for e in timelines["Releases"]["events"]][:2] == [
        ("v1", None), ("v2", None)]


def test_events_get_target_ids_for_refs(source, imported):
    """`events/<timeline>/<key>` addresses resolve (cards' excluded timeline events point at them)."""
    _, _, a = source
    inst, importer, *_ = imported
    for addr, doc in of_kinds(a.docs, ("timelines",)).items():
        events = REGISTRY["timelines"].contains(doc)
        assert events and events <= set(importer.ids)
        for event in events:
            row = inst.emu.state.table("timeline_event").get(importer.ids[event])
            assert row["timeline_id"] == importer.ids[addr]
            assert split_address(event)[1][1].split(" ~")[0] == f"{row['timestamp']} {row['name']}"


def test_plan_again_is_empty_and_a_second_apply_writes_nothing(imported, source):
    _, out, _ = source
    inst, _, _, _, _, state = imported
    importer = importer_for(out, inst, state)
    plan = importer.plan()
    assert not plan.has_changes, [c.line() for c in plan.changes if c.action != "noop"]
    start = len(inst.emu.request_log)
    importer.apply(plan)
    assert writes_since(inst, start) == []


def test_a_second_run_without_state_adopts_everything(imported, source, tmp_path):
    """Natural keys find every object again (no duplicates), even without the state file."""
    _, out, _ = source
    inst = imported[0]
    importer = importer_for(out, inst, tmp_path / "fresh-state.json")
    plan = importer.plan()
    assert [c.line() for c in plan.changes if c.action != "noop"] == []


# ---------------------------------------------------------------- drift on the target is repaired in place

def drift(inst: Instance, ids: dict[str, Any]) -> dict[str, Any]:
    """Change one thing of every kind on B, the way an admin would; returns ids to check afterwards."""
    admin = inst.admin
    by_kind = {k: {a_addr: tid for a_addr, tid in ids.items() if a_addr.startswith(k + "/")} for k in KINDS + ("events",)}
    releases = next(t for t in by_kind["timelines"] if ok(admin.get(f"/api/timeline/{ids[t]}"))["name"] == "Releases")
    v2 = next(e for e in by_kind["events"] if e.startswith(f"events/{releases.split('/')[1]}/") and e.endswith(" v2"))
    ok(admin.put(f"/api/timeline-event/{ids[v2]}", json={"description": "drifted"}))
    ok(admin.post("/api/timeline-event", json={"timeline_id": ids[releases], "name": "B only",
                                               "timestamp": "2024-06-01T00:00:00Z", "timezone": "UTC"}))
    pulse_id = next(tid for addr, tid in by_kind["pulses"].items()
                    if ok(admin.get(f"/api/pulse/{tid}"))["name"] == "Daily sales")
    pulse = ok(admin.get(f"/api/pulse/{pulse_id}"))
    channels = [{**c, "schedule_hour": 11} if c["channel_type"] == "email" else c for c in pulse["channels"]]
    ok(admin.put(f"/api/pulse/{pulse_id}", json={"name": "Daily sales", "skip_if_empty": True, "channels": channels}))
    alert_id = ids[min(by_kind["alerts"])]
    alert = ok(admin.get(f"/api/notification/{alert_id}"))
    ok(admin.put(f"/api/notification/{alert_id}", json={**alert, "payload": {**alert["payload"], "send_once":
                                                                              not alert["payload"]["send_once"]}}))
    for tid in by_kind["segments"].values():
        ok(admin.put(f"/api/segment/{tid}", json={"name": "Huge orders", "revision_message": "drift"}))
    for tid in by_kind["measures"].values():
        ok(admin.put(f"/api/measure/{tid}", json={"description": "drifted", "revision_message": "drift"}))
    bump = next(tid for tid in by_kind["actions"].values() if ok(admin.get(f"/api/action/{tid}"))["name"] == "Bump")
    ok(admin.put(f"/api/action/{bump}", json={"name": "Bump it"}))
    analysts, db = ids["groups/Analysts"], ids["databases/Shop"]
    graph = ok(admin.get("/api/collection/graph"))
    ok(admin.put("/api/collection/graph", json={"revision": graph["revision"],
                                                "groups": {str(analysts): {"root": "write"}}}))
    tables = {addr.rsplit("/", 1)[1]: tid for addr, tid in ids.items() if addr.startswith("tables/Shop/")}
    data = ok(admin.get("/api/permissions/graph"))
    ok(admin.put("/api/permissions/graph", json={"revision": data["revision"], "groups": {str(analysts): {str(db): {
        "create-queries": {"": {str(tables["orders"]): "query-builder", str(tables["people"]): "query-builder"}}}}}}))
    return {"pulse": pulse_id, "channels": sorted(c["id"] for c in pulse["channels"]), "alert": alert_id,
            "handlers": sorted(h["id"] for h in alert["handlers"]), "releases": ids[releases]}


def test_drift_on_the_target_is_repaired_in_place(source, tmp_path):
    _, out, exported = source
    inst = new_instance()
    first = importer_for(out, inst, tmp_path / "state.json")
    assert first.apply(first.plan()).failed == {}
    seen = drift(inst, dict(first.ids))

    importer = importer_for(out, inst, tmp_path / "state.json")
    plan = importer.plan()
    changed = {c.address.split("/", 1)[0] for c in plan.changes if c.action != "noop"}
    assert all(c.action == "update" for c in plan.changes if c.action != "noop")
    assert changed == set(KINDS)
    assert importer.apply(plan).failed == {}

    # updated, not recreated: the subscription keeps its channels, the alert its handlers
    assert sorted(c["id"] for c in ok(inst.admin.get(f"/api/pulse/{seen['pulse']}"))["channels"]) == seen["channels"]
    assert sorted(h["id"] for h in ok(inst.admin.get(f"/api/notification/{seen['alert']}"))["handlers"]) == seen["handlers"]
    # the collection grant the tree does not have was revoked with an explicit "none"; Administrators untouched
    graph = ok(inst.admin.get("/api/collection/graph"))["groups"]
    assert "root" not in graph.get(str(importer.ids["groups/Analysts"]), {})
    assert graph[str(importer.ids["groups/Administrators"])]["root"] == "write"

    back = exported_back(inst, importer, tmp_path / "b")
    for addr, doc in of_kinds(exported.docs).items():
        if addr.startswith("timelines/") and doc["name"] == "Releases":
            # the event B alone had is archived (never deleted); the tree's events are as they were
            extra = [e for e in back[addr]["events"] if e["name"] == "B only"]
            assert [e["archived"] for e in extra] == [True]
            assert [e for e in back[addr]["events"] if e["name"] != "B only"] == doc["events"]
        else:
            assert back[addr] == doc, addr
    again = importer_for(out, inst, tmp_path / "state.json").plan()
    assert not again.has_changes, [c.line() for c in again.changes if c.action != "noop"]


# ---------------------------------------------------------------- 409 on a permissions graph PUT

class ConcurrentEdit:
    """An emulator fault hook: right before the first PUT of `path`, someone else saves that graph."""

    STORES = {"/api/permissions/graph": "data_permissions", "/api/collection/graph": "collection_permissions"}

    def __init__(self, emu, path: str):
        self.emu, self.path, self.fired = emu, path, False

    def before(self, req) -> Response | None:
        if req.method == "PUT" and req.path == self.path and not self.fired:
            self.fired = True
            self.emu.state.extra[self.STORES[self.path]]["revision"] += 1
        return None

    def after(self, req, resp: Response) -> Response:
        return resp


@pytest.mark.parametrize("path", ["/api/permissions/graph", "/api/collection/graph"])
def test_a_409_on_the_graph_put_is_retried_with_a_fresh_graph(source, tmp_path, path):
    _, out, exported = source
    inst = new_instance()
    importer = importer_for(out, inst, tmp_path / "state.json")
    plan = importer.plan()
    # someone edits the graph between plan and apply: the import reads the revision when it writes
    graph = ok(inst.admin.get(path))
    ok(inst.admin.put(path, json={"revision": graph["revision"], "groups": {}}))
    inst.emu.faults = ConcurrentEdit(inst.emu, path)
    result = importer.apply(plan)
    inst.emu.faults = None
    assert result.failed == {}
    puts = [status for method, p, status in inst.emu.request_log if method == "PUT" and p == path]
    # One 409, then the retry and the graph's other doc (collection graph: one per namespace, sharing one
    # revision) succeed: the docs of one graph take turns, so the second does not meet a 409 of the first.
    imports = puts[1:]  # after the test's own PUT
    assert imports[0] == 409 and imports.count(409) == 1 and set(imports[1:]) == {200}, puts
    back = exported_back(inst, importer, tmp_path / "b")
    kind = "data-permissions" if "permissions" in path else "collection-permissions"
    for addr, doc in of_kinds(exported.docs, (kind,)).items():
        assert back[addr] == doc
    assert not importer_for(out, inst, tmp_path / "state.json").plan().has_changes


@pytest.mark.parametrize("path", ["/api/permissions/graph", "/api/collection/graph"])
def test_the_graph_kinds_themselves_retry_a_409(source, tmp_path, path):
    """The kind's own update refetches and retries (whatever the engine's retry policy is)."""
    _, out, _ = source
    inst = new_instance()
    importer = importer_for(out, inst, tmp_path / "state.json")
    importer.apply(importer.plan())
    analysts = str(importer.ids["groups/Analysts"])
    graph = ok(inst.admin.get(path))
    if "permissions" in path:
        drifted = {analysts: {str(importer.ids["databases/Shop"]): {"create-queries": "query-builder"}}}
    else:
        drifted = {analysts: {"root": "write"}}
    ok(inst.admin.put(path, json={"revision": graph["revision"], "groups": drifted}))
    name = "data-permissions" if "permissions" in path else "collection-permissions"
    kind = REGISTRY[name]
    addr = "data-permissions/graph" if name == "data-permissions" else "collection-permissions/default"
    doc = importer.tree.docs[addr]
    payload = kind.payload(doc, Resolver(importer.ids), stages(kind)[0])
    inst.emu.faults = ConcurrentEdit(inst.emu, path)
    start = len(inst.emu.request_log)
    kind.update(WriteRequest(importer.api, doc, payload, importer.target, stages(kind)[0], importer.ids[addr]))
    inst.emu.faults = None
    assert [s for m, p, s in inst.emu.request_log[start:] if m == "PUT"] == [409, 200]
    assert not importer_for(out, inst, tmp_path / "state.json").plan().has_changes


# ---------------------------------------------------------------- clear errors

def test_actions_turn_on_the_setting_they_need_even_when_the_database_doc_lacks_it(source, tmp_path):
    """Model actions need `database-enable-actions` on their database: the plan says so and the import sets it,
    instead of failing at the first action after dozens of writes."""
    _, out, _ = source
    inst = new_instance()
    importer = importer_for(out, inst, tmp_path / "state.json")
    importer.tree.docs["databases/Shop"].pop("settings", None)  # actions were turned off after they were made
    plan = importer.plan()
    assert plan.problems == []
    result = importer.apply(plan)
    assert result.failed == {}
    shop = next(d for d in ok(inst.admin.get("/api/database"))["data"] if d["name"] == "Shop")
    assert shop["settings"] == {"database-enable-actions": True}
    assert len([a for a in ok(inst.admin.get("/api/action")) if a["model_id"]]) == 2
    again = importer_for(out, inst, tmp_path / "state.json")
    again.tree.docs["databases/Shop"].pop("settings", None)
    assert not again.plan().has_changes  # the setting the content needs is what the tree means


def test_alerts_into_a_target_before_0_54_are_written_on_api_alert_in_the_pulse_shape():
    sent = []

    class OldApi:
        version = MetabaseVersion.parse("v0.53.9")

        def post(self, path, json):
            sent.append((path, json))
            return {"id": 7}

    payload = {"payload_type": "notification/card", "active": False,
               "payload": {"card_id": 12, "send_condition": "goal_below", "send_once": True},
               "subscriptions": [{"type": "notification-subscription/cron", "cron_schedule": "0 0 8 ? * 6L *"}],
               "handlers": [{"channel_type": "channel/email", "active": True, "recipients": [
                   {"type": "notification-recipient/user", "user_id": 3},
                   {"type": "notification-recipient/raw-value", "details": {"value": "ops@example.com"}}]},
                   {"channel_type": "channel/slack", "active": False, "recipients": [
                       {"type": "notification-recipient/raw-value", "details": {"value": "#alerts"}}]}]}
    Alerts().create(WriteRequest(OldApi(), {}, payload, None, "main"))
    schedule = {"schedule_type": "monthly", "schedule_hour": 8, "schedule_day": "fri", "schedule_frame": "last"}
    assert sent == [("/api/alert", {
        "alert_condition": "goal", "alert_above_goal": False, "alert_first_only": True, "archived": True,
        "card": {"id": 12, "include_csv": False, "include_xls": False},
        "channels": [{"channel_type": "email", "enabled": True, **schedule,
                      "recipients": [{"id": 3}, {"email": "ops@example.com"}]},
                     {"channel_type": "slack", "enabled": False, **schedule, "recipients": [],
                      "details": {"channel": "#alerts"}}]})]


def test_a_missing_webhook_channel_is_named(source, tmp_path):
    _, out, _ = source
    inst = new_instance()
    importer = importer_for(out, inst, tmp_path / "state.json", continue_on_error=True)
    pulse = next(d for a, d in importer.tree.docs.items() if a.startswith("pulses/") and d["name"] == "Daily sales")
    pulse["channels"].append({"channel_type": "http", "channel": "Ops webhook", "enabled": True,
                              "schedule_type": "daily", "schedule_hour": 7})
    result = importer.apply(importer.plan())
    errors = [e for a, e in result.failed.items() if a.startswith("pulses/")]
    assert len(errors) == 1 and "'Ops webhook'" in errors[0] and "do not exist on the target" in errors[0]


# ---------------------------------------------------------------- graph comparison and ordering

def test_data_permissions_compare_by_meaning_not_by_form():
    """Absent = least permissive; uniform table maps = the schema-level value; unknown tables are ignored."""
    tables = {"": ["orders", "people"]}
    qb = "query-builder"
    assert changed_permissions({"create-queries": {"": {"orders": qb, "people": qb}}},
                               {"create-queries": {"": qb}}, tables) == []
    assert changed_permissions({"create-queries": {"": {"orders": qb, "people": "no"}}},
                               {"create-queries": {"": {"orders": qb, "elsewhere": qb}}}, tables) == []
    assert changed_permissions({"details": "no", "download": {"schemas": "none"}}, {}, tables) == []
    assert changed_permissions({"create-queries": "query-builder-and-native"},
                               {"create-queries": {"": qb}}, tables) == ["create-queries"]
    assert changed_permissions({}, {"view-data": "unrestricted"}, tables) == ["view-data"]
    # what a PUT sends: every least-permissive value the doc leaves out, explicitly
    assert explicit("create-queries", {"": {"orders": qb}}, None, tables) == {"": {"orders": qb, "people": "no"}}
    assert explicit("download", None, {"schemas": "full", "native": "full"}, tables) == {"native": "none",
                                                                                         "schemas": "none"}


def test_permission_graphs_wait_for_every_group_database_table_and_collection(source, tmp_path):
    _, out, _ = source
    importer = importer_for(out, new_instance(), tmp_path / "state.json")
    graph = importer.graph
    # the data graph doc does not name `people` (its value there is the elided least one), yet waits for it
    assert graph.has_edge(("tables/Shop//people", "main"), ("data-permissions/graph", "main"))
    for addr in importer.tree.docs:
        if addr.startswith(("collections/", "groups/")):
            last = stages(importer.kind(addr))[-1]  # a collection's is its archive
            assert graph.has_edge((addr, last), ("collection-permissions/snippets", "main"))


def test_verify_finds_no_difference(source, imported):
    """Judged by what both servers hold (`mbport verify`), objects and rows, not by mbport's own exports."""
    from tests.verify.judge import judged

    inst_a, *_ = source
    inst_b, importer, *_ = imported
    objects, rows, result = judged(inst_a.client(), inst_b.client(), importer.ids)
    assert result.counts["alerts"].paired and result.counts["pulses"].paired and result.counts["timelines"].paired
    assert objects == [] and rows == []


def test_a_kind_the_target_release_lacks_stops_the_plan_or_is_skipped_with_its_dependents(source, tmp_path):
    """Measures exist from 0.59 (`Measures.since`): a 0.56 target has no /api/measure (POST answers 404), so plan
    stops before the first write; --skip-unsupported leaves them and what uses them out, and says so."""
    _, out, _ = source
    old = new_instance("0.56")
    importer = importer_for(out, old, tmp_path / "state.json")
    plan = importer.plan()
    measures = [a for a in importer.tree.docs if a.startswith("measures/")]
    assert measures
    assert {p.split(":")[0] for p in plan.problems} == set(measures)
    assert all("Metabase v0.56.13 has no measures (they exist from 0.59 on)" in p for p in plan.problems)
    before = len(old.emu.request_log)
    with pytest.raises(MbportError, match="problem"):
        importer.apply(plan)
    assert [r for r in old.emu.request_log[before:] if r[0] in WRITES] == []
    skipping = importer_for(out, old, tmp_path / "state.json", skip_unsupported=True)
    plan = skipping.plan()
    assert plan.problems == []
    users = {a for a, d in skipping.tree.docs.items() if any(m in str(d) for m in measures)}
    assert set(measures) | users <= set(plan.unsupported)
    assert all("depends on measures/" in plan.unsupported[a] for a in users)
    result = skipping.apply(plan)
    assert result.failed == {}
    assert not any(a in skipping.ids for a in plan.unsupported)
