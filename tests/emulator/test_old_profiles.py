"""The old end of the version profiles (versions.md §3 P50, P54 and 0.56 before .13), each its own contract:
0.50's legacy metrics, pulse-shaped alerts, cards without dashboard questions and "none" in the collection graph;
0.54's notifications beside a read-only /api/alert, dashboard questions and server-added idents in MBQL 4."""

from __future__ import annotations

import pytest

from mbport.emulator import Emulator, bootstrap, seeds
from mbport.emulator.profiles import get_profile, with_overrides
from tests.conftest import ADMIN_EMAIL, ADMIN_PASSWORD, make_client

NATIVE = {"type": "native", "native": {"query": "select 1", "template-tags": {}}}


def instance(profile, seed: str | None = "handmade"):
    emu = Emulator(profile)
    session = bootstrap.setup_admin(emu, ADMIN_EMAIL, ADMIN_PASSWORD)
    if seed:
        seeds.load(emu, seed, session)
        emu.wait_idle()
    return emu, make_client(emu, **{"X-Metabase-Session": session})


def ok(resp):
    assert resp.status_code < 400, f"{resp.request.method} {resp.request.url.path}: {resp.status_code} {resp.text}"
    return resp.json() if resp.content else None


def table_id(client, name: str) -> int:
    return next(t["id"] for t in ok(client.get("/api/table")) if t["name"] == name)


def field_id(client, table: int, name: str) -> int:
    return next(f["id"] for f in ok(client.get(f"/api/table/{table}/query_metadata"))["fields"] if f["name"] == name)


def native_card(client, name: str, **body):
    db = ok(client.get("/api/database"))["data"][0]["id"]
    return ok(client.post("/api/card", json={"name": name, "display": "table", "visualization_settings": {},
                                             "dataset_query": {"database": db, **NATIVE}, **body}))


# ---------------------------------------------------------------- 0.50

@pytest.fixture(scope="module")
def p50():
    return instance("0.50")


def test_050_reports_its_version_and_has_no_notification_api(p50):
    _, client = p50
    assert ok(client.get("/api/session/properties"))["version"]["tag"].startswith("v0.50.")
    assert client.get("/api/notification").status_code == 404
    assert client.post("/api/notification", json={"payload_type": "notification/card"}).status_code == 404


def test_050_legacy_metrics_are_crud_and_run_in_a_query(p50):
    emu, client = p50
    orders = table_id(client, "orders")
    total = field_id(client, orders, "total")
    metric = ok(client.post("/api/legacy-metric", json={
        "name": "Revenue", "table_id": orders, "description": "All order totals.",
        "definition": {"source-table": orders, "aggregation": [["sum", ["field", total, None]]]}}))
    assert len(metric["entity_id"]) == 21 and metric["creator"]["email"] == ADMIN_EMAIL
    assert ok(client.get(f"/api/legacy-metric/{metric['id']}"))["name"] == "Revenue"
    assert metric["id"] in [m["id"] for m in ok(client.get("/api/legacy-metric"))]
    ok(client.put(f"/api/legacy-metric/{metric['id']}", json={"caveats": "Gross.", "revision_message": "note"}))
    assert ok(client.get(f"/api/legacy-metric/{metric['id']}"))["caveats"] == "Gross."
    # A question aggregating with it: ["metric", id] on the metric's table, expanded from its definition.
    db = ok(client.get(f"/api/table/{orders}"))["db_id"]
    query = {"database": db, "type": "query", "query": {"source-table": orders, "aggregation": [["metric", metric["id"]]]}}
    by_metric = ok(client.post("/api/dataset", json=query))["data"]
    plain = ok(client.post("/api/dataset", json={**query, "query": {
        "source-table": orders, "aggregation": [["sum", ["field", total, None]]]}}))["data"]
    assert by_metric["rows"] == plain["rows"] and by_metric["cols"][0]["display_name"] == "Revenue"
    ok(client.delete(f"/api/legacy-metric/{metric['id']}", params={"revision_message": "retired"}))
    assert metric["id"] not in [m["id"] for m in ok(client.get("/api/legacy-metric"))]
    assert ok(client.get(f"/api/legacy-metric/{metric['id']}"))["archived"] is True


def test_050_alerts_are_written_on_api_alert_in_the_pulse_shape(p50):
    emu, client = p50
    card = native_card(client, "Alerted")
    users = {u["email"]: u["id"] for u in ok(client.get("/api/user"))["data"]}
    rita = next(uid for email, uid in users.items() if email.startswith("rita"))
    alert = ok(client.post("/api/alert", json={
        "alert_condition": "goal", "alert_first_only": True, "alert_above_goal": True,
        "card": {"id": card["id"], "include_csv": True, "include_xls": False},
        "channels": [{"channel_type": "email", "enabled": True, "schedule_type": "daily", "schedule_hour": 7,
                      "recipients": [{"id": rita}, {"email": "ops@example.com"}]}]}))
    assert (alert["alert_condition"], alert["alert_above_goal"], alert["alert_first_only"]) == ("goal", True, True)
    assert alert["card"]["id"] == card["id"] and alert["name"] is None and alert["skip_if_empty"] is True
    channel = alert["channels"][0]
    assert (channel["schedule_type"], channel["schedule_hour"]) == ("daily", 7)
    assert {r.get("id") for r in channel["recipients"]} == {rita, None}
    assert {"email": "ops@example.com"} in channel["recipients"]
    assert alert["id"] in [a["id"] for a in ok(client.get("/api/alert"))]
    # Alerts are not pulses: /api/pulse lists subscriptions only.
    assert alert["id"] not in [p["id"] for p in ok(client.get("/api/pulse"))]
    # PUT changes the keys it is sent; channels without recipients (and no Slack) archive the alert.
    ok(client.put(f"/api/alert/{alert['id']}", json={"alert_first_only": False}))
    assert ok(client.get(f"/api/alert/{alert['id']}"))["alert_first_only"] is False
    gone = ok(client.put(f"/api/alert/{alert['id']}", json={"channels": [
        {"channel_type": "email", "enabled": True, "schedule_type": "daily", "schedule_hour": 7, "recipients": []}]}))
    assert gone["archived"] is True and alert["id"] in [a["id"] for a in ok(client.get("/api/alert?archived=true"))]


def hourly_rows_alert(card_id: int) -> dict:
    """A POST /api/alert body: an hourly e-mail to one address when the card has rows."""
    return {"alert_condition": "rows", "alert_first_only": False,
            "card": {"id": card_id, "include_csv": False, "include_xls": False},
            "channels": [{"channel_type": "email", "enabled": True, "schedule_type": "hourly",
                          "recipients": [{"email": "x@example.com"}]}]}


def test_050_archiving_a_card_deletes_its_active_alerts(p50):
    _, client = p50
    card = native_card(client, "Short-lived")
    body = hourly_rows_alert(card["id"])
    alert = ok(client.post("/api/alert", json=body))
    ok(client.put(f"/api/card/{card['id']}", json={"archived": True}))
    assert client.get(f"/api/alert/{alert['id']}").status_code == 404


def test_050_an_alert_on_an_archived_card_is_kept_but_never_shown(p50):
    """models/pulse.clj (0.50): card hydration leaves archived cards out, `retrieve-alerts` drops an alert without
    a card, and GET/PUT of one fail in `alert->card` / the PUT's assert; restoring the card shows it again."""
    _, client = p50
    card = native_card(client, "Paused then archived")
    body = hourly_rows_alert(card["id"])
    paused = ok(client.post("/api/alert", json=body))
    ok(client.put(f"/api/alert/{paused['id']}", json={"archived": True}))
    ok(client.put(f"/api/card/{card['id']}", json={"archived": True}))  # deletes only the active alerts
    after = ok(client.post("/api/alert", json=body))  # read-check of an archived card passes
    assert after["card"] is None
    listed = [a["id"] for flag in ("false", "true") for a in ok(client.get(f"/api/alert?archived={flag}"))]
    assert paused["id"] not in listed and after["id"] not in listed
    for alert in (paused, after):
        got = client.get(f"/api/alert/{alert['id']}")
        assert got.status_code == 500 and "does not have a Card" in got.json()["message"]
        assert client.put(f"/api/alert/{alert['id']}", json={"alert_first_only": True}).status_code == 500
    ok(client.put(f"/api/card/{card['id']}", json={"archived": False}))
    assert ok(client.get(f"/api/alert/{after['id']}"))["card"]["id"] == card["id"]
    assert paused["id"] in [a["id"] for a in ok(client.get("/api/alert?archived=true"))]


def test_050_keeps_an_mbql5_query_as_it_comes(p50):
    """models/interface.clj (0.50) `maybe-normalize-query`: an MBQL 5 query is stored as given (only :lib/metadata
    dropped) and read back as MBQL 5, while a legacy one stays legacy: 0.50 converts neither way."""
    _, client = p50
    db = ok(client.get("/api/database"))["data"][0]["id"]
    mbql5 = {"lib/type": "mbql/query", "database": db,
             "stages": [{"lib/type": "mbql.stage/native", "native": "select 1", "template-tags": {}}]}
    card = ok(client.post("/api/card", json={"name": "Five", "display": "table", "visualization_settings": {},
                                             "dataset_query": mbql5}))
    held = ok(client.get(f"/api/card/{card['id']}"))["dataset_query"]
    assert held["lib/type"] == "mbql/query" and held["stages"][0]["native"] == "select 1" and "type" not in held
    legacy = native_card(client, "Four")
    assert ok(client.get(f"/api/card/{legacy['id']}"))["dataset_query"]["type"] == "native"


def test_050_saves_an_order_by_with_an_options_map_as_it_is_and_fails_to_run_it(p50):
    """legacy_mbql/normalize.cljc `canonicalize-order-by` keeps `["desc", {}, ["aggregation", 0]]` (an MBQL 5 clause
    in a legacy query) as it is; the OrderBy schema refuses it when the query runs: no unsorted rows."""
    _, client = p50
    orders = table_id(client, "orders")
    total = field_id(client, orders, "total")
    db = ok(client.get(f"/api/table/{orders}"))["db_id"]
    inner = {"source-table": orders, "aggregation": [["sum", ["field", total, None]]],
             "breakout": [["field", field_id(client, orders, "status"), None]]}
    good = {"database": db, "type": "query", "query": {**inner, "order-by": [["desc", ["aggregation", 0]]]}}
    bad = {"database": db, "type": "query", "query": {**inner, "order-by": [["desc", {}, ["aggregation", 0]]]}}
    card = ok(client.post("/api/card", json={"name": "Malformed sort", "display": "table",
                                             "visualization_settings": {}, "dataset_query": bad}))
    assert ok(client.get(f"/api/card/{card['id']}"))["dataset_query"]["query"]["order-by"] == [
        ["desc", {}, ["aggregation", 0]]]
    ran = client.post(f"/api/card/{card['id']}/query").json()
    assert ran["status"] == "failed" and "order-by" in ran["error"]
    sums = [r[1] for r in ok(client.post("/api/dataset", json=good))["data"]["rows"]]
    assert sums == sorted(sums, reverse=True)


def test_050_cards_have_no_dashboard_questions(p50):
    _, client = p50
    dash = ok(client.post("/api/dashboard", json={"name": "Board"}))
    card = native_card(client, "Not inside", dashboard_id=dash["id"])
    # The key went through the open body schema and was never read: the card is an ordinary one.
    assert "dashboard_id" not in card and "dashboard" not in card
    assert ok(client.get(f"/api/dashboard/{dash['id']}"))["dashcards"] == []
    assert "card_schema" not in card and "source_card_id" not in card and "legacy_query" not in card


def test_050_collection_graph_lists_none_for_every_pair(p50):
    _, client = p50
    coll = ok(client.post("/api/collection", json={"name": "Graph check"}))
    group = ok(client.post("/api/permissions/group", json={"name": "Graph group"}))
    graph = ok(client.get("/api/collection/graph"))
    assert graph["groups"][str(group["id"])][str(coll["id"])] == "none"
    assert graph["groups"][str(group["id"])]["root"] == "none"
    ok(client.put("/api/collection/graph", json={"revision": graph["revision"],
                                                 "groups": {str(group["id"]): {str(coll["id"]): "read"}}}))
    assert ok(client.get("/api/collection/graph"))["groups"][str(group["id"])][str(coll["id"])] == "read"


def test_050_dashcards_have_no_inline_parameters(p50):
    _, client = p50
    card = native_card(client, "On a board")
    dash = ok(client.post("/api/dashboard", json={"name": "Inline"}))
    item = {"id": -1, "card_id": card["id"], "row": 0, "col": 0, "size_x": 4, "size_y": 4}
    saved = ok(client.put(f"/api/dashboard/{dash['id']}", json={"dashcards": [item]}))
    assert "inline_parameters" not in saved["dashcards"][0]
    # The item's keys are inserted as columns: one the release lacks fails the insert.
    resp = client.put(f"/api/dashboard/{dash['id']}", json={"dashcards": [{**item, "id": -2, "inline_parameters": []}]})
    assert resp.status_code == 500 and "inline_parameters" in resp.text


def test_050_has_no_newer_apis(p50):
    _, client = p50
    assert client.get("/api/measure").status_code == 404
    assert client.get("/api/metric").status_code == 404


# ---------------------------------------------------------------- 0.54

@pytest.fixture(scope="module")
def p54():
    return instance("0.54")


def test_054_alert_api_is_read_only_beside_notifications(p54):
    _, client = p54
    card = native_card(client, "Alert me")
    body = hourly_rows_alert(card["id"])
    assert client.post("/api/alert", json=body).status_code == 404
    made = ok(client.post("/api/notification", json={
        "payload_type": "notification/card", "payload": {"card_id": card["id"], "send_condition": "has_result"},
        "subscriptions": [{"type": "notification-subscription/cron", "cron_schedule": "0 0 9 * * ? *"}],
        "handlers": [{"channel_type": "channel/email", "recipients": [
            {"type": "notification-recipient/raw-value", "details": {"value": "x@example.com"}}]}]}))
    legacy = ok(client.get(f"/api/alert/{made['id']}"))
    assert legacy["card"]["name"] == "Alert me" and legacy["channels"][0]["schedule_type"] == "daily"
    assert client.put(f"/api/alert/{made['id']}", json={"archived": True}).status_code == 404
    assert client.get("/api/legacy-metric").status_code == 404


def test_054_dashboard_questions_and_mbql4_idents(p54):
    _, client = p54
    dash = ok(client.post("/api/dashboard", json={"name": "Home of a question"}))
    inside = native_card(client, "Inside", dashboard_id=dash["id"])
    assert inside["dashboard_id"] == dash["id"]
    assert [dc["card_id"] for dc in ok(client.get(f"/api/dashboard/{dash['id']}"))["dashcards"]] == [inside["id"]]
    orders = table_id(client, "orders")
    db = ok(client.get(f"/api/table/{orders}"))["db_id"]
    created = ok(client.post("/api/card", json={
        "name": "Counted", "display": "table", "visualization_settings": {},
        "dataset_query": {"database": db, "type": "query", "query": {
            "source-table": orders, "aggregation": [["count"]],
            "breakout": [["field", field_id(client, orders, "status"), None]]}}}))
    inner = created["dataset_query"]["query"]
    assert set(inner["aggregation-idents"]) == {"0"} and len(inner["aggregation-idents"]["0"]) == 21
    assert set(inner["breakout-idents"]) == {"0"}
    # Saving the query back as read keeps the idents; the card still runs.
    again = ok(client.put(f"/api/card/{created['id']}", json={"dataset_query": created["dataset_query"]}))
    assert again["dataset_query"]["query"]["aggregation-idents"] == inner["aggregation-idents"]
    assert ok(client.post(f"/api/card/{created['id']}/query"))["row_count"] > 0
    assert "card_schema" not in created and "source_card_id" in created


def test_054_collection_graph_still_lists_none(p54):
    _, client = p54
    group = ok(client.post("/api/permissions/group", json={"name": "Nobody"}))
    assert set(ok(client.get("/api/collection/graph"))["groups"][str(group["id"])].values()) == {"none"}


# ---------------------------------------------------------------- 0.56: before and after .13

def test_056_before_point_13_lists_none_and_from_13_leaves_it_out():
    for profile, expected in ((with_overrides(get_profile("0.56"), collection_graph_none=True), {"none"}),
                              ("0.56", None)):
        _, client = instance(profile, seed=None)
        group = ok(client.post("/api/permissions/group", json={"name": "Quiet"}))
        entries = ok(client.get("/api/collection/graph"))["groups"].get(str(group["id"]))
        assert (set(entries.values()) if entries else None) == expected


@pytest.mark.parametrize("profile", ["0.50", "0.54"])
@pytest.mark.parametrize("seed", ["sample", "handmade"])
def test_the_seeds_load_on_the_old_profiles(profile, seed):
    emu, _ = instance(profile, seed)
    assert emu.spec_violations == []
