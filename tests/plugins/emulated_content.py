"""Shared by the tests of timelines, subscriptions, alerts, segments, measures, actions and both permission graphs:
golden cases (normalized by `mbport.testing.normalize_case`), and content created through the emulator's API
(helpers from the emulator tests) then exported with the real registry, so the docs are what a user would find in their tree.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mbport.client import MetabaseClient
from mbport.emulator import Emulator, bootstrap
from mbport.export import run_export
from mbport.kind import Kind
from mbport.registry import load_plugins
from mbport.testing import load_case, normalize_case
from tests.conftest import ADMIN_EMAIL, ADMIN_PASSWORD, make_client
from tests.emulator.test_permissions_graph import add_database, add_field, add_group
from tests.emulator.test_pulses import make_collection, make_dashboard, make_user

ROOT = Path(__file__).resolve().parents[2]


def cases(kind: str) -> list[Path]:
    return sorted((ROOT / "fixtures" / "cases" / kind).glob("*.json"))


def golden(kind: Kind, path: Path) -> tuple[dict[str, Any], dict[str, Any], list[str]]:
    """(case, normalized doc, warnings) for one golden case file."""
    case = load_case(path)
    doc, warnings = normalize_case(kind, case)
    return case, doc, warnings


@dataclass
class Instance:
    emu: Emulator
    session: str
    admin: Any  # httpx client logged in as the admin
    ids: dict[str, Any] = field(default_factory=dict)

    def state_row(self, table: str, id_: int) -> dict[str, Any]:
        return self.emu.state.table(table).get(id_)

    def eid(self, table: str, id_: int) -> str:
        return self.state_row(table, id_)["entity_id"]

    def client(self) -> MetabaseClient:
        return MetabaseClient("http://metabase.test", session_token=self.session, transport=self.emu.transport())

    def export(self, out: Path, kinds: list[str] | None = None, **options: Any):
        with self.client() as api:
            return run_export(api, load_plugins(), out, kinds=kinds, options=options)


def new_instance(profile: str | None = None) -> Instance:
    # The content has model actions on a SQLite warehouse: the emulator must let SQLite hold them.
    emu = Emulator(profile, sqlite_actions=True)
    session = bootstrap.setup_admin(emu, ADMIN_EMAIL, ADMIN_PASSWORD)
    return Instance(emu, session, make_client(emu, **{"X-Metabase-Session": session}))


def ok(resp) -> dict[str, Any]:
    assert resp.status_code == 200, resp.text
    return resp.json()


def add_shop(inst: Instance, *, enable_actions: bool = False) -> None:
    """Database `Shop` with tables `orders` (id, total) and `people`, collection `Reports`."""
    db, tables = add_database(inst.emu, inst.admin, "Shop", ((None, "orders"), (None, "people")),
                              enable_actions=enable_actions)
    inst.ids.update(db=db["id"], orders=tables[0]["id"], people=tables[1]["id"],
                    total=add_field(inst.emu, tables[0], "total")["id"],
                    reports=make_collection(inst.emu, inst.admin, "Reports"))


def add_card(inst: Instance, name: str, *, card_type: str = "question", collection: int | None = None) -> int:
    body = {"name": name, "display": "table", "visualization_settings": {}, "type": card_type,
            "collection_id": collection if collection is not None else inst.ids["reports"],
            "dataset_query": {"database": inst.ids["db"], "type": "query",
                              "query": {"source-table": inst.ids["orders"]}}}
    return ok(inst.admin.post("/api/card", json=body))["id"]


@dataclass
class Exported:
    """An instance with everything in it, exported once into `out`."""

    inst: Instance
    out: Path
    result: Any  # ExportResult

    def file(self, rel: str) -> dict[str, Any]:
        return json.loads((self.out / rel).read_text())

    def docs(self, kind: str) -> dict[str, dict[str, Any]]:
        """address → doc of one kind, as the export produced them."""
        return {a: d for a, d in self.result.docs.items() if a.split("/", 1)[0] == kind}

    def paths(self, kind: str) -> list[str]:
        return sorted(p for a, p in self.result.paths.items() if a.split("/", 1)[0] == kind)


def export_everything(tmp_path_factory) -> Exported:
    """For module-scoped fixtures; the spec check is asserted here because conftest's only sees test scope."""
    inst = add_everything(new_instance())
    out = tmp_path_factory.mktemp("tree") / "tree"
    result = inst.export(out)
    assert inst.emu.spec_violations == []
    return Exported(inst, out, result)


def group_id(inst: Instance, name: str) -> int:
    return next(g["id"] for g in ok(inst.admin.get("/api/permissions/group")) if g["name"] == name)


def add_everything(inst: Instance) -> Instance:
    """Shop, cards, a dashboard, a user and a group, then one or more objects of every kind under test."""
    add_shop(inst, enable_actions=True)
    ids, admin = inst.ids, inst.admin
    ids["question"] = add_card(inst, "Orders")
    ids["model"] = add_card(inst, "Orders model", card_type="model")
    ids["dashboard"], ids["dashcards"] = make_dashboard(inst.emu, admin, "Sales", [ids["question"], ids["model"]],
                                                        ids["reports"])
    ids["bob"] = make_user(inst.emu, admin, "bob@example.com")["id"]
    ids["analysts"] = add_group(inst.emu, admin, "Analysts")
    ids["admins"], ids["all_users"] = group_id(inst, "Administrators"), group_id(inst, "All Users")
    # timelines: an active one with an archived event, an archived one
    ids["timeline"] = ok(admin.post("/api/timeline", json={"name": "Releases", "collection_id": ids["reports"],
                                                          "icon": "cake"}))["id"]
    for body in ({"name": "v2", "timestamp": "2024-03-01T00:00:00Z", "timezone": "UTC", "time_matters": True},
                 {"name": "v1", "timestamp": "2024-01-01", "timezone": "Europe/Paris", "archived": True}):
        ok(admin.post("/api/timeline-event", json={"timeline_id": ids["timeline"], **body}))
    ids["old_timeline"] = ok(admin.post("/api/timeline", json={"name": "Old", "archived": True}))["id"]
    ok(admin.post("/api/timeline-event", json={"timeline_id": ids["old_timeline"], "name": "launch",
                                               "timestamp": "2020-05-05T10:00:00Z", "timezone": "UTC"}))
    # a dashboard subscription
    question_dc, model_dc = ids["dashcards"]
    ids["pulse"] = ok(admin.post("/api/pulse", json={
        "name": "Daily sales", "dashboard_id": ids["dashboard"], "skip_if_empty": True,
        "cards": [{"id": ids["question"], "include_csv": True, "include_xls": False, "dashboard_card_id": question_dc},
                  {"id": ids["model"], "include_csv": False, "include_xls": True, "dashboard_card_id": model_dc}],
        "channels": [
            {"channel_type": "slack", "enabled": True, "schedule_type": "weekly", "schedule_hour": 9,
             "schedule_day": "mon", "recipients": [], "details": {"channel": "#sales"}},
            {"channel_type": "email", "enabled": True, "schedule_type": "daily", "schedule_hour": 8,
             "recipients": [{"email": "zed@partner.io"}, {"id": ids["bob"]}, {"email": "amy@partner.io"}]},
        ],
    }))["id"]
    # two alerts on the question (the second one switched off), one on the model
    def alert(card_id: int, handlers: list[dict], **payload: Any) -> int:
        return ok(admin.post("/api/notification", json={
            "payload_type": "notification/card", "payload": {"card_id": card_id, **payload},
            "subscriptions": [{"type": "notification-subscription/cron", "cron_schedule": "0 0 8 * * ? *",
                               "ui_display_type": "cron/builder"}],
            "handlers": handlers}))["id"]

    email = {"channel_type": "channel/email", "recipients": [
        {"type": "notification-recipient/raw-value", "details": {"value": "ops@partner.io"}},
        {"type": "notification-recipient/group", "permissions_group_id": ids["analysts"]},
        {"type": "notification-recipient/user", "user_id": ids["bob"]}]}
    ids["alert1"] = alert(ids["question"], [email], send_condition="goal_above", send_once=True)
    ids["alert2"] = alert(ids["question"], [{"channel_type": "channel/slack", "recipients": [
        {"type": "notification-recipient/raw-value", "details": {"value": "#alerts"}}]}])
    # PUT takes the whole (fully hydrated) notification, as the UI sends it
    off = {**ok(admin.get(f"/api/notification/{ids['alert2']}")), "active": False}
    ok(admin.put(f"/api/notification/{ids['alert2']}", json=off))
    ids["alert3"] = alert(ids["model"], [email])
    # a segment and a measure on orders
    total = ["field", ids["total"], None]
    ids["segment"] = ok(admin.post("/api/segment", json={
        "name": "Big orders", "table_id": ids["orders"], "description": "Over 50",
        "definition": {"source-table": ids["orders"], "filter": [">", total, 50]}}))["id"]
    ids["measure"] = ok(admin.post("/api/measure", json={
        "name": "Revenue", "table_id": ids["orders"],
        "definition": {"source-table": ids["orders"], "aggregation": [["sum", total]]}}))["id"]
    # a query action and an implicit action on the model
    ids["action"] = ok(admin.post("/api/action", json={
        "name": "Bump", "type": "query", "model_id": ids["model"], "database_id": ids["db"],
        "dataset_query": {"database": ids["db"], "type": "native",
                          "native": {"query": "update orders set total = total + 1 where id = {{id}}",
                                     "template-tags": {"id": {"id": "t1", "name": "id", "display-name": "ID",
                                                              "type": "number"}}}},
        "parameters": [{"id": "id", "type": "number/=", "target": ["variable", ["template-tag", "id"]]}],
        "visualization_settings": {"confirmMessage": "Sure?"}}))["id"]
    ids["implicit"] = ok(admin.post("/api/action", json={
        "name": "Delete order", "type": "implicit", "kind": "row/delete", "model_id": ids["model"]}))["id"]
    # permissions: Analysts get query-builder on orders only; read on Reports and on a snippet folder
    graph = ok(admin.get("/api/permissions/graph"))
    ok(admin.put("/api/permissions/graph", json={"revision": graph["revision"], "groups": {
        str(ids["analysts"]): {str(ids["db"]): {
            "view-data": "unrestricted",
            "create-queries": {"": {str(ids["orders"]): "query-builder", str(ids["people"]): "no"}}}}}}))
    ids["snippet_folder"] = make_collection(inst.emu, admin, "SQL bits", namespace="snippets")
    for namespace, cid in ((None, ids["reports"]), ("snippets", ids["snippet_folder"])):
        cgraph = ok(admin.get("/api/collection/graph", params={"namespace": namespace} if namespace else None))
        body = {"revision": cgraph["revision"], "groups": {str(ids["analysts"]): {str(cid): "read"}}}
        ok(admin.put("/api/collection/graph", json={**body, **({"namespace": namespace} if namespace else {})}))
    return inst


__all__ = [
    "ROOT", "Exported", "Instance", "add_card", "add_everything", "add_field", "add_group", "add_shop", "cases",
    "export_everything", "golden", "group_id", "load_case", "make_collection", "make_dashboard", "make_user",
    "new_instance", "ok",
]
