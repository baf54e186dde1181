"""Notifications, the legacy alert view and channels behave like Metabase's (api-surface §13, §22)."""

from __future__ import annotations

import pytest

from mbport.emulator.models import users
from tests.emulator.test_pulses import login, make_card, make_collection, make_user

CRON_DAILY_8 = "0 0 8 * * ? *"


@pytest.fixture
def card_id(emulator, admin):
    return make_card(emulator, admin, "Orders", make_collection(emulator, admin, "Reports"), display="table")


@pytest.fixture
def bob(emulator, admin):
    return make_user(emulator, admin, "bob@example.com")


def alert_body(card_id, recipients, **extra):
    return {
        "payload_type": "notification/card",
        "payload": {"card_id": card_id},
        "subscriptions": [{"type": "notification-subscription/cron", "cron_schedule": CRON_DAILY_8,
                           "ui_display_type": "cron/builder"}],
        "handlers": [{"channel_type": "channel/email", "recipients": recipients}],
        **extra,
    }


@pytest.fixture
def alert(admin, card_id, bob):
    recipients = [{"type": "notification-recipient/user", "user_id": bob["id"]},
                  {"type": "notification-recipient/raw-value", "details": {"value": "ext@partner.io"}}]
    resp = admin.post("/api/notification", json=alert_body(card_id, recipients))
    assert resp.status_code == 200, resp.text
    return resp.json()


# ---------------------------------------------------------------------------------------------------------------
# /api/notification
# ---------------------------------------------------------------------------------------------------------------


def test_create_returns_fully_hydrated_notification(alert, card_id, bob):
    assert alert["payload_type"] == "notification/card" and alert["active"] is True
    assert alert["creator"]["email"] == "admin@example.com" and alert["creator_id"] == alert["creator"]["id"]
    assert "internal_id" not in alert and "entity_id" not in alert
    payload = alert["payload"]
    assert payload["id"] == alert["payload_id"] and payload["card_id"] == card_id
    assert payload["send_condition"] == "has_result" and payload["send_once"] is False
    assert payload["card"]["name"] == "Orders"
    (sub,) = alert["subscriptions"]
    assert sub["notification_id"] == alert["id"] and sub["cron_schedule"] == CRON_DAILY_8
    assert sub["type"] == "notification-subscription/cron" and sub["event_name"] is None
    assert sub["ui_display_type"] == "cron/builder" and "created_at" in sub
    (handler,) = alert["handlers"]
    assert handler["channel_type"] == "channel/email" and handler["active"] is True
    assert handler["channel"] is None and handler["template"] is None and handler["notification_id"] == alert["id"]
    user_r, raw_r = handler["recipients"]
    assert user_r["type"] == "notification-recipient/user" and user_r["user_id"] == bob["id"]
    assert user_r["user"]["email"] == "bob@example.com" and user_r["notification_handler_id"] == handler["id"]
    assert raw_r["details"] == {"value": "ext@partner.io"} and raw_r["user_id"] is None


def test_group_recipients_are_hydrated_with_members(emulator, admin, card_id):
    group = users.magic_group(emulator.state, users.ADMIN)
    body = alert_body(card_id, [{"type": "notification-recipient/group", "permissions_group_id": group["id"]}])
    created = admin.post("/api/notification", json=body).json()
    recipient = created["handlers"][0]["recipients"][0]
    assert recipient["permissions_group"]["name"] == "Administrators"
    assert [m["email"] for m in recipient["permissions_group"]["members"]] == ["admin@example.com"]


def test_send_options_are_kept(admin, card_id):
    body = alert_body(card_id, [])
    body["payload"].update(send_condition="goal_above", send_once=True)
    payload = admin.post("/api/notification", json=body).json()["payload"]
    assert payload["send_condition"] == "goal_above" and payload["send_once"] is True


def test_list_is_plain_with_system_events_for_admins_only(emulator, admin, alert, bob):
    everything = admin.get("/api/notification").json()
    assert isinstance(everything, list)
    kinds = [n["payload_type"] for n in everything]
    assert "notification/system-event" in kinds and kinds.count("notification/card") == 1
    system = next(n for n in everything if n["payload_type"] == "notification/system-event")
    assert system["payload"] is None and system["creator"] is None
    assert system["subscriptions"][0]["event_name"] == "event/user-invited"
    assert system["handlers"][0]["template"]["channel_type"] == "channel/email"
    cards_only = admin.get("/api/notification", params={"payload_type": "notification/card"}).json()
    assert [n["id"] for n in cards_only] == [alert["id"]]
    bob_client = login(emulator, "bob@example.com")
    assert [n["id"] for n in bob_client.get("/api/notification").json()] == [alert["id"]]  # a recipient, no system


def test_filters(emulator, admin, alert, card_id, bob):
    other_card = make_card(emulator, admin, "Other")
    other = admin.post("/api/notification", json=alert_body(other_card, [])).json()
    params = {"payload_type": "notification/card"}
    assert [n["id"] for n in admin.get("/api/notification", params={**params, "card_id": card_id}).json()] \
        == [alert["id"]]
    assert [n["id"] for n in admin.get("/api/notification", params={**params, "recipient_id": bob["id"]}).json()] \
        == [alert["id"]]
    admin_id = alert["creator_id"]
    assert [n["id"] for n in admin.get("/api/notification", params={**params, "creator_id": admin_id}).json()] \
        == [alert["id"], other["id"]]
    assert admin.get("/api/notification", params={**params, "creator_id": bob["id"]}).json() == []
    mine = admin.get("/api/notification", params={**params, "creator_or_recipient_id": bob["id"]}).json()
    assert [n["id"] for n in mine] == [alert["id"]]


def test_put_active_false_archives(admin, alert):
    updated = admin.put(f"/api/notification/{alert['id']}", json={**alert, "active": False})
    assert updated.status_code == 200 and updated.json()["active"] is False
    params = {"payload_type": "notification/card"}
    assert admin.get("/api/notification", params=params).json() == []
    inactive = admin.get("/api/notification", params={**params, "include_inactive": "true"}).json()
    assert [n["id"] for n in inactive] == [alert["id"]]
    assert admin.get(f"/api/notification/{alert['id']}").json()["active"] is False


@pytest.mark.parametrize("key,value", [("payload_type", "notification/testing"), ("payload_id", 999),
                                       ("creator_id", 999)])
def test_immutable_fields(admin, alert, key, value):
    resp = admin.put(f"/api/notification/{alert['id']}", json={**alert, key: value})
    assert resp.status_code == 400 and resp.json()["message"] == f"Update {key} is not allowed."


def test_put_diffs_subscriptions_handlers_and_recipients(admin, alert, bob):
    handler = alert["handlers"][0]
    user_r = handler["recipients"][0]
    body = {
        **alert,
        "payload": {**alert["payload"], "send_condition": "goal_below"},
        "subscriptions": [{"type": "notification-subscription/cron", "cron_schedule": "0 0 9 ? * 2 *"}],
        "handlers": [
            {**handler, "recipients": [user_r, {"type": "notification-recipient/raw-value",
                                                "details": {"value": "new@partner.io"}}]},
            {"channel_type": "channel/slack",
             "recipients": [{"type": "notification-recipient/raw-value", "details": {"value": "#alerts"}}]},
        ],
    }
    updated = admin.put(f"/api/notification/{alert['id']}", json=body).json()
    assert updated["payload"]["send_condition"] == "goal_below" and updated["payload"]["id"] == alert["payload_id"]
    assert [s["cron_schedule"] for s in updated["subscriptions"]] == ["0 0 9 ? * 2 *"]
    assert updated["subscriptions"][0]["id"] != alert["subscriptions"][0]["id"]
    email, slack = updated["handlers"]
    assert email["id"] == handler["id"] and slack["channel_type"] == "channel/slack"
    assert email["recipients"][0]["id"] == user_r["id"]
    assert [r["details"] for r in email["recipients"][1:]] == [{"value": "new@partner.io"}]
    dropped = admin.put(f"/api/notification/{alert['id']}", json={**updated, "handlers": [slack]}).json()
    assert [h["channel_type"] for h in dropped["handlers"]] == ["channel/slack"]


def test_invalid_inputs(admin, card_id):
    bad_type = alert_body(card_id, [])
    bad_type["handlers"][0]["channel_type"] = "email"
    resp = admin.post("/api/notification", json=bad_type)
    assert resp.status_code == 400 and "handlers" in resp.json()["errors"]
    no_payload = {k: v for k, v in alert_body(card_id, []).items() if k != "payload"}
    assert admin.post("/api/notification", json=no_payload).status_code == 400
    mismatched = alert_body(card_id, [{"type": "notification-recipient/user", "permissions_group_id": 1,
                                       "user_id": 1, "details": {"value": "x"}}])
    assert admin.post("/api/notification", json=mismatched).status_code == 400
    assert admin.post("/api/notification", json=alert_body(99999, [])).status_code == 404
    assert admin.get("/api/notification/999").status_code == 404
    assert admin.get("/api/notification", params={"payload_type": "notification/card"}).json() == []


@pytest.mark.allow_invalid_requests
def test_unknown_send_conditions_are_rejected(admin, card_id):
    body = alert_body(card_id, [])
    body["payload"]["send_condition"] = "sometimes"
    resp = admin.post("/api/notification", json=body)
    assert resp.status_code == 400 and "payload" in resp.json()["errors"]
    body["payload"] = {"card_id": card_id, "send_once": "yes"}
    assert admin.post("/api/notification", json=body).status_code == 400


def test_permissions(emulator, admin, alert, bob):
    make_user(emulator, admin, "carol@example.com")
    carol = login(emulator, "carol@example.com")
    assert carol.get(f"/api/notification/{alert['id']}").status_code == 403
    assert carol.put(f"/api/notification/{alert['id']}", json={**alert, "active": False}).status_code == 403
    bob_client = login(emulator, "bob@example.com")
    assert bob_client.get(f"/api/notification/{alert['id']}").status_code == 200
    assert bob_client.put(f"/api/notification/{alert['id']}", json=alert).status_code == 403
    # Unsubscribing removes only the caller; a second try is no longer a recipient.
    assert bob_client.post(f"/api/notification/{alert['id']}/unsubscribe").status_code == 204
    assert bob_client.get(f"/api/notification/{alert['id']}").status_code == 403
    recipients = admin.get(f"/api/notification/{alert['id']}").json()["handlers"][0]["recipients"]
    assert [r["type"] for r in recipients] == ["notification-recipient/raw-value"]


# ---------------------------------------------------------------------------------------------------------------
# /api/alert (read-only legacy view)
# ---------------------------------------------------------------------------------------------------------------


def test_alerts_are_the_pulse_shaped_view_of_card_notifications(admin, alert, bob):
    (legacy,) = admin.get("/api/alert").json()
    assert legacy["id"] == alert["id"] and legacy["name"] is None and legacy["archived"] is False
    assert legacy["alert_condition"] == "rows" and legacy["alert_above_goal"] is None
    assert legacy["alert_first_only"] is False and legacy["skip_if_empty"] is True
    assert legacy["creator"]["email"] == "admin@example.com" and legacy["parameters"] == []
    assert legacy["card"] == {"name": "Orders", "description": None, "collection_id": alert["payload"]["card"][
        "collection_id"], "display": "table", "format_rows": True, "include_xls": False, "include_csv": True,
        "pivot_results": False, "dashboard_id": None, "dashboard_card_id": None, "parameter_mappings": None}
    (channel,) = legacy["channels"]
    assert channel["channel_type"] == "email" and channel["enabled"] is True
    assert (channel["schedule_type"], channel["schedule_hour"]) == ("daily", 8)
    assert channel["recipients"] == [
        {"email": "ext@partner.io"},
        {"email": "bob@example.com", "last_name": "Tester", "first_name": "bob", "id": bob["id"],
         "common_name": "bob Tester"},
    ]
    assert channel["details"] == {"emails": ["ext@partner.io"]}
    assert admin.get(f"/api/alert/{alert['id']}").json() == legacy
    assert admin.get("/api/alert/999").status_code == 404


def test_alert_archived_and_user_filters(emulator, admin, alert, bob):
    admin.put(f"/api/notification/{alert['id']}", json={**alert, "active": False})
    assert admin.get("/api/alert").json() == []
    assert [a["id"] for a in admin.get("/api/alert", params={"archived": "true"}).json()] == [alert["id"]]
    admin.put(f"/api/notification/{alert['id']}", json={**alert, "active": True})
    assert [a["id"] for a in admin.get("/api/alert", params={"user_id": bob["id"]}).json()] == [alert["id"]]
    make_user(emulator, admin, "carol@example.com")
    carol = login(emulator, "carol@example.com")
    assert admin.get("/api/alert", params={"user_id": 999}).json() == []
    assert carol.get("/api/alert").json() == []
    assert carol.get(f"/api/alert/{alert['id']}").status_code == 403


@pytest.mark.parametrize("cron,expected", [
    ("0 0 * * * ? *", ("hourly", None, None, None)),
    ("0 0 8 ? * 2 *", ("weekly", 8, "mon", None)),
    ("0 0 7 1 * ? *", ("monthly", 7, None, "first")),
    ("0 0 7 15 * ? *", ("monthly", 7, None, "mid")),
    ("0 0 7 ? * 6L *", ("monthly", 7, "fri", "last")),
])
def test_alert_schedules_come_from_the_cron(admin, card_id, cron, expected):
    body = alert_body(card_id, [])
    body["subscriptions"][0]["cron_schedule"] = cron
    created = admin.post("/api/notification", json=body).json()
    channel = admin.get(f"/api/alert/{created['id']}").json()["channels"][0]
    assert tuple(channel[k] for k in ("schedule_type", "schedule_hour", "schedule_day", "schedule_frame")) == expected


@pytest.mark.allow_invalid_requests
def test_alerts_are_read_only(admin):
    assert admin.post("/api/alert", json={}).status_code == 404
    assert admin.put("/api/alert/1", json={}).status_code == 404


# ---------------------------------------------------------------------------------------------------------------
# /api/channel
# ---------------------------------------------------------------------------------------------------------------


def new_channel(admin, name="Hook", **extra):
    return admin.post("/api/channel", json={"name": name, "type": "channel/http",
                                            "details": {"url": "https://hooks.example.com/x", "auth-method": "none"},
                                            **extra})


def test_channel_create_read_update(admin):
    created = new_channel(admin, description="ops hook")
    assert created.status_code == 200
    channel = created.json()
    assert channel["active"] is True and channel["type"] == "channel/http" and channel["description"] == "ops hook"
    assert channel["details"]["url"] == "https://hooks.example.com/x"
    assert admin.get(f"/api/channel/{channel['id']}").json() == channel
    details = {"url": "https://y.io", "auth-method": "header", "auth-info": {"X-Key": "k"}, "method": "put"}
    updated = admin.put(f"/api/channel/{channel['id']}", json={"name": "Renamed", "details": details})
    assert updated.json()["name"] == "Renamed" and updated.json()["details"] == details
    assert admin.get("/api/channel/999").status_code == 404


def test_webhook_details_are_checked_against_http_details(admin):
    """channel/impl/http.clj `HTTPDetails` is a closed map with `url` and `auth-method`: POST answers malli's 400;
    a PUT without `type` checks them against the stored type and answers "Invalid channel details"."""
    for details in ({"url": "https://x.io"}, {"url": "https://x.io", "auth-method": "none", "secret": "x"},
                    {"url": "not a url", "auth-method": "none"}, {"url": "https://x.io", "auth-method": "magic"}):
        resp = new_channel(admin, details=details)
        assert resp.status_code == 400 and "details" in resp.json()["errors"], details
    channel = new_channel(admin).json()
    resp = admin.put(f"/api/channel/{channel['id']}", json={"details": {"url": "https://y.io"}})
    assert resp.status_code == 400 and resp.text == "Invalid channel details"


def test_duplicate_channel_name_is_409_json(admin):
    new_channel(admin)
    dup = new_channel(admin)
    assert dup.status_code == 409
    assert dup.json() == {"errors": {"name": "Channel with that name already exists"}}


def test_channel_type_must_be_namespaced(admin):
    resp = new_channel(admin, type="http")
    assert resp.status_code == 400 and "type" in resp.json()["errors"]


def test_channel_list_hides_inactive_unless_asked_in_the_body(admin):
    live = new_channel(admin, "Live").json()
    dead = new_channel(admin, "Dead", active=False).json()
    listed = admin.get("/api/channel").json()
    assert isinstance(listed, list) and [c["id"] for c in listed] == [live["id"]]
    everything = admin.request("GET", "/api/channel", json={"include_inactive": True}).json()
    assert [c["id"] for c in everything] == [live["id"], dead["id"]]
    # Metabase reads include_inactive from the body only; as a query parameter it changes nothing.
    assert [c["id"] for c in admin.get("/api/channel", params={"include_inactive": "true"}).json()] == [live["id"]]
    admin.put(f"/api/channel/{live['id']}", json={"active": False})
    assert admin.get("/api/channel").json() == []


def test_channels_are_admin_only(emulator, admin, bob):
    channel = new_channel(admin).json()
    bob_client = login(emulator, "bob@example.com")
    assert new_channel(bob_client, "Mine").status_code == 403
    assert bob_client.put(f"/api/channel/{channel['id']}", json={"name": "x"}).status_code == 403
    assert bob_client.get(f"/api/channel/{channel['id']}").status_code == 403
    assert bob_client.get("/api/channel").json() == []


def test_deactivating_a_channel_frees_its_name(admin):
    channel = new_channel(admin).json()
    deactivated = admin.put(f"/api/channel/{channel['id']}", json={"active": False}).json()
    assert deactivated["name"] == f"DEACTIVATED_{channel['id']} Hook" and deactivated["active"] is False
    assert new_channel(admin).status_code == 200


def test_handlers_hydrate_their_channel(admin, card_id):
    channel = new_channel(admin).json()
    body = alert_body(card_id, [])
    body["handlers"] = [{"channel_type": "channel/http", "channel_id": channel["id"]}]
    handler = admin.post("/api/notification", json=body).json()["handlers"][0]
    assert handler["channel"]["name"] == "Hook" and handler["channel_id"] == channel["id"]
