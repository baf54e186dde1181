"""Dashboard subscriptions (/api/pulse) behave like Metabase's (api-surface §13, §1.2; conformance 37).

Also home of the small content helpers the snippet, timeline and notification tests share: they go through the
API where the owning area's routes exist and fall back to inserting rows otherwise.
"""

from __future__ import annotations

import pytest

from mbport.emulator.models import pulses as pulses_module
from mbport.emulator.models import users
from tests.conftest import make_client

# ---------------------------------------------------------------------------------------------------------------
# Shared helpers
# ---------------------------------------------------------------------------------------------------------------


def has_route(emulator, method: str, path: str) -> bool:
    return emulator.router.match(method, path)[0] is not None


def make_user(emulator, admin, email: str, password: str = "Us3r-passw0rd!", superuser: bool = False) -> dict:
    """A user who can log in with `password`."""
    if has_route(emulator, "POST", "/api/user") and not superuser:
        resp = admin.post("/api/user", json={"email": email, "first_name": email.split("@")[0], "last_name": "Tester",
                                             "password": password})
        assert resp.status_code == 200, resp.text
        return emulator.state.table("user").get(resp.json()["id"])
    return users.create_user(emulator.state, email=email, first_name=email.split("@")[0], last_name="Tester",
                             password=password, superuser=superuser)


def login(emulator, email: str, password: str = "Us3r-passw0rd!"):
    client = make_client(emulator)
    resp = client.post("/api/session", json={"username": email, "password": password})
    assert resp.status_code == 200, resp.text
    client.headers["X-Metabase-Session"] = resp.json()["id"]
    return client


def make_collection(emulator, admin, name: str, namespace: str | None = None) -> int:
    if has_route(emulator, "POST", "/api/collection"):
        body = {"name": name, **({"namespace": namespace} if namespace else {})}
        resp = admin.post("/api/collection", json=body)
        assert resp.status_code == 200, resp.text
        return resp.json()["id"]
    state = emulator.state
    return state.table("collection").insert({
        "name": name, "namespace": namespace, "location": "/", "archived": False, "personal_owner_id": None,
        "description": None, "authority_level": None, "type": None, "is_sample": False, "slug": name.lower(),
        "archive_operation_id": None, "archived_directly": None,
    }, now=state.now())["id"]


def make_card(emulator, admin, name: str, collection_id: int | None = None, display: str = "table") -> int:
    state = emulator.state
    if has_route(emulator, "POST", "/api/card"):
        database = next(iter(state.table("metabase_database")), None)
        resp = admin.post("/api/card", json={
            "name": name, "display": display, "visualization_settings": {}, "collection_id": collection_id,
            "dataset_query": {"database": database["id"] if database else 1, "type": "native",
                              "native": {"query": "select 1"}},
        })
        assert resp.status_code == 200, resp.text
        return resp.json()["id"]
    return state.table("card").insert({
        "name": name, "description": None, "display": display, "collection_id": collection_id, "archived": False,
        "type": "question", "dashboard_id": None, "visualization_settings": {}, "dataset_query": {},
        "creator_id": 1, "parameters": [], "parameter_mappings": [],
    }, now=state.now())["id"]


def make_dashboard(emulator, admin, name: str, card_ids: list[int], collection_id: int | None = None):
    """A dashboard with one dashcard per card; returns (dashboard id, [dashcard ids])."""
    resp = admin.post("/api/dashboard", json={"name": name, "collection_id": collection_id})
    assert resp.status_code == 200, resp.text
    dashboard_id = resp.json()["id"]
    dashcards = [{"id": -(i + 1), "card_id": cid, "row": i * 4, "col": 0, "size_x": 4, "size_y": 4}
                 for i, cid in enumerate(card_ids)]
    resp = admin.put(f"/api/dashboard/{dashboard_id}", json={"dashcards": dashcards})
    assert resp.status_code == 200, resp.text
    ids = [dc["id"] for dc in sorted(resp.json()["dashcards"], key=lambda d: d["row"])]
    return dashboard_id, ids


# ---------------------------------------------------------------------------------------------------------------
# Fixtures
# ---------------------------------------------------------------------------------------------------------------


@pytest.fixture
def content(emulator, admin):
    """Two cards on a dashboard in a collection, plus a second dashboard and a recipient user."""
    coll = make_collection(emulator, admin, "Reports")
    cards = [make_card(emulator, admin, n, coll) for n in ("Orders", "Revenue")]
    dashboard_id, dashcards = make_dashboard(emulator, admin, "Sales", cards, coll)
    other_card = make_card(emulator, admin, "Other", coll)
    other_dashboard, other_dashcards = make_dashboard(emulator, admin, "Elsewhere", [other_card], coll)
    bob = make_user(emulator, admin, "bob@example.com")
    return {"collection": coll, "cards": cards, "dashboard": dashboard_id, "dashcards": dashcards, "bob": bob,
            "other_dashboard": other_dashboard, "other_dashcards": other_dashcards, "other_card": other_card}


def card_refs(content, **extra):
    return [{"id": cid, "include_csv": False, "include_xls": False, "dashboard_card_id": dcid, **extra}
            for cid, dcid in zip(content["cards"], content["dashcards"], strict=True)]


def email_channel(recipients, **extra):
    return {"channel_type": "email", "enabled": True, "schedule_type": "daily", "schedule_hour": 8,
            "recipients": recipients, **extra}


def subscription(content, name="Daily sales", **extra):
    bob = content["bob"]
    return {"name": name, "dashboard_id": content["dashboard"], "cards": card_refs(content),
            "channels": [email_channel([{"id": bob["id"], "email": bob["email"]}, {"email": "ext@partner.io"}])],
            **extra}


@pytest.fixture
def pulse(admin, content):
    resp = admin.post("/api/pulse", json=subscription(content))
    assert resp.status_code == 200, resp.text
    return resp.json()


# ---------------------------------------------------------------------------------------------------------------
# Create and read
# ---------------------------------------------------------------------------------------------------------------


def test_create_returns_hydrated_subscription(pulse, content, emulator):
    assert pulse["name"] == "Daily sales" and pulse["dashboard_id"] == content["dashboard"]
    assert pulse["collection_id"] == content["collection"]  # taken from the dashboard
    assert pulse["archived"] is False and pulse["skip_if_empty"] is False and pulse["parameters"] == []
    assert len(pulse["entity_id"]) == 21 and pulse["can_write"] is True
    assert pulse["creator"]["email"] == "admin@example.com"
    assert not {"alert_condition", "alert_first_only", "alert_above_goal"} & set(pulse)
    assert [c["id"] for c in pulse["cards"]] == content["cards"]
    card = pulse["cards"][0]
    assert card == {"id": content["cards"][0], "name": "Orders", "description": None,
                    "collection_id": content["collection"], "display": "table", "include_csv": False,
                    "include_xls": False, "format_rows": True, "pivot_results": False,
                    "dashboard_card_id": content["dashcards"][0], "dashboard_id": content["dashboard"],
                    "parameter_mappings": None}
    (channel,) = pulse["channels"]
    assert channel["channel_type"] == "email" and channel["schedule_hour"] == 8 and channel["enabled"] is True
    assert channel["schedule_day"] is None and channel["schedule_frame"] is None
    assert len(channel["entity_id"]) == 21 and channel["details"] == {}
    bob = content["bob"]
    assert channel["recipients"] == [
        {"email": "ext@partner.io"},
        {"id": bob["id"], "email": bob["email"], "first_name": bob["first_name"], "last_name": bob["last_name"],
         "common_name": bob["common_name"]},
    ]
    pulse_cards = emulator.state.table("pulse_card").where(pulse_id=pulse["id"])
    assert [pc["position"] for pc in pulse_cards] == [0, 1]
    assert all(len(pc["entity_id"]) == 21 for pc in pulse_cards)


def test_get_and_list_are_plain_and_ordered(admin, content, pulse):
    admin.post("/api/pulse", json=subscription(content, name="another one"))
    admin.post("/api/pulse", json=subscription(content, name="Zed"))
    listed = admin.get("/api/pulse").json()
    assert isinstance(listed, list)
    assert [p["name"] for p in listed] == ["another one", "Daily sales", "Zed"]
    assert all(c["download_perms"] == "full" for c in listed[0]["cards"])
    one = admin.get(f"/api/pulse/{pulse['id']}").json()
    assert one["channels"][0]["recipients"] == pulse["channels"][0]["recipients"]
    assert admin.get("/api/pulse/9999").status_code == 404
    assert [p["name"] for p in admin.get("/api/pulse", params={"dashboard_id": content["other_dashboard"]}).json()] == []
    assert len(admin.get("/api/pulse", params={"dashboard_id": content["dashboard"]}).json()) == 3


def test_subscriptions_of_archived_dashboards_and_archived_pulses_are_left_out(admin, emulator, content, pulse):
    admin.put(f"/api/pulse/{pulse['id']}", json={"archived": True})
    assert admin.get("/api/pulse").json() == []
    assert [p["id"] for p in admin.get("/api/pulse", params={"archived": "true"}).json()] == [pulse["id"]]
    admin.put(f"/api/pulse/{pulse['id']}", json={})
    emulator.state.table("dashboard").get(content["dashboard"])["archived"] = True
    assert admin.get("/api/pulse").json() == []


def test_archived_cards_are_omitted_on_read(admin, emulator, content, pulse):
    emulator.state.table("card").get(content["cards"][0])["archived"] = True
    assert [c["id"] for c in admin.get(f"/api/pulse/{pulse['id']}").json()["cards"]] == [content["cards"][1]]


def test_form_input(admin, emulator):
    channels = admin.get("/api/pulse/form_input").json()["channels"]
    assert set(channels) == {"email", "slack", "http"}
    assert channels["email"]["recipients"] == ["user", "email"] and channels["email"]["configured"] is False
    assert channels["slack"]["fields"][0]["name"] == "channel"
    assert channels["http"]["configured"] is False
    admin.post("/api/channel", json={"name": "hook", "type": "channel/http",
                                     "details": {"url": "https://x.io", "auth-method": "none"}})
    assert admin.get("/api/pulse/form_input").json()["channels"]["http"]["configured"] is True


# ---------------------------------------------------------------------------------------------------------------
# Validation
# ---------------------------------------------------------------------------------------------------------------


def test_cards_need_include_csv_and_include_xls(admin, content):
    body = subscription(content)
    body["cards"] = [{"id": content["cards"][0], "dashboard_card_id": content["dashcards"][0]}]
    resp = admin.post("/api/pulse", json=body)
    assert resp.status_code == 400 and "cards" in resp.json()["errors"]
    assert admin.post("/api/pulse", json={**subscription(content), "cards": []}).status_code == 400
    assert admin.post("/api/pulse", json={**subscription(content), "channels": []}).status_code == 400
    assert admin.get("/api/pulse").json() == []


@pytest.mark.parametrize("bad", [
    {"schedule_type": "daily", "schedule_hour": None},
    {"schedule_type": "daily", "schedule_hour": 24},
    {"schedule_type": "weekly", "schedule_hour": 8},
    {"schedule_type": "monthly", "schedule_hour": 8},
    {"schedule_type": "monthly", "schedule_hour": 8, "schedule_frame": "mid", "schedule_day": "mon"},
    {"schedule_type": "yearly"},
    {"enabled": "yes"},
    {"channel_type": "pigeon"},
])
def test_invalid_channels_are_assertion_500s(admin, content, bad):
    body = subscription(content)
    body["channels"] = [{**email_channel([]), **bad}]
    resp = admin.post("/api/pulse", json=body)
    assert resp.status_code == 500
    assert "Assert failed" in resp.json()["message"]
    assert admin.get("/api/pulse").json() == []


def test_valid_schedules_keep_only_their_fields(admin, content):
    body = subscription(content)
    body["channels"] = [
        email_channel([], schedule_type="hourly", schedule_hour=5, schedule_day="mon"),
        {"channel_type": "slack", "enabled": True, "schedule_type": "monthly", "schedule_hour": 6,
         "schedule_frame": "first", "schedule_day": "mon", "details": {"channel": "#sales"}, "recipients": []},
    ]
    created = admin.post("/api/pulse", json=body).json()
    email, slack = created["channels"]
    assert (email["schedule_type"], email["schedule_hour"], email["schedule_day"]) == ("hourly", None, None)
    assert (slack["schedule_hour"], slack["schedule_day"], slack["schedule_frame"]) == (6, "mon", "first")
    assert slack["details"] == {"channel": "#sales"} and slack["recipients"] == []


def test_recipient_checks(admin, content):
    bob = content["bob"]
    body = subscription(content)
    body["channels"] = [email_channel([{"id": 9999}])]
    unknown = admin.post("/api/pulse", json=body)
    assert unknown.status_code == 404 and unknown.text == "User 9999 does not exist."
    body["channels"] = [email_channel([{"id": bob["id"], "email": "someone@else.io"}])]
    wrong = admin.post("/api/pulse", json=body)
    assert wrong.status_code == 403 and wrong.text == f"Wrong email address for User {bob['id']}."
    assert admin.get("/api/pulse").json() == []


def test_dashboard_card_id_must_belong_to_the_dashboard(admin, content):
    body = subscription(content)
    body["cards"][0]["dashboard_card_id"] = content["other_dashcards"][0]
    assert admin.post("/api/pulse", json=body).status_code == 500
    body["cards"][0]["dashboard_card_id"] = 99999
    assert admin.post("/api/pulse", json=body).status_code == 500
    assert admin.get("/api/pulse").json() == []


def test_missing_card_or_dashboard_is_404(admin, content):
    body = subscription(content)
    body["cards"][0]["id"] = 99999
    assert admin.post("/api/pulse", json=body).status_code == 404
    assert admin.post("/api/pulse", json={**subscription(content), "dashboard_id": 99999}).status_code == 404


def test_legacy_pulse_collection_must_be_default_namespace(admin, emulator, content):
    snippets = make_collection(emulator, admin, "Snippet folder", namespace="snippets")
    body = {"name": "Legacy", "collection_id": snippets, "channels": [email_channel([])],
            "cards": [{"id": content["cards"][0], "include_csv": True, "include_xls": False}]}
    resp = admin.post("/api/pulse", json=body)
    assert resp.status_code == 400 and "collection_id" in resp.json()["errors"]
    ok = admin.post("/api/pulse", json={**body, "collection_id": content["collection"]})
    assert ok.status_code == 200 and ok.json()["dashboard_id"] is None
    assert ok.json()["cards"][0]["include_csv"] is True and ok.json()["cards"][0]["dashboard_id"] is None


# ---------------------------------------------------------------------------------------------------------------
# Update
# ---------------------------------------------------------------------------------------------------------------


def test_put_without_archived_or_skip_if_empty_writes_false(admin, pulse):
    pid = pulse["id"]
    archived = admin.put(f"/api/pulse/{pid}", json={"archived": True, "skip_if_empty": True}).json()
    assert archived["archived"] is True and archived["skip_if_empty"] is True
    assert all(ch["enabled"] is False for ch in archived["channels"])  # archiving disables the channels
    renamed = admin.put(f"/api/pulse/{pid}", json={"name": "Renamed"}).json()
    assert renamed["name"] == "Renamed"
    assert renamed["archived"] is False and renamed["skip_if_empty"] is False
    assert all(ch["enabled"] is True for ch in renamed["channels"])


def test_cards_list_is_definitive(admin, emulator, content, pulse):
    first, second = card_refs(content)
    updated = admin.put(f"/api/pulse/{pulse['id']}", json={"cards": [{**second, "include_xls": True}]}).json()
    assert [(c["id"], c["include_xls"]) for c in updated["cards"]] == [(content["cards"][1], True)]
    updated = admin.put(f"/api/pulse/{pulse['id']}", json={"cards": [second, first]}).json()
    assert [c["id"] for c in updated["cards"]] == [content["cards"][1], content["cards"][0]]
    rows = emulator.state.table("pulse_card").where(pulse_id=pulse["id"])
    assert sorted((r["position"], r["card_id"]) for r in rows) == [(0, content["cards"][1]), (1, content["cards"][0])]
    missing = {k: v for k, v in first.items() if k != "include_xls"}
    assert admin.put(f"/api/pulse/{pulse['id']}", json={"cards": [missing]}).status_code == 400


def test_channels_are_matched_by_id_then_by_type(admin, pulse):
    pid, email = pulse["id"], pulse["channels"][0]
    by_id = admin.put(f"/api/pulse/{pid}", json={"channels": [{**email, "schedule_hour": 9}]}).json()
    assert [(c["id"], c["schedule_hour"]) for c in by_id["channels"]] == [(email["id"], 9)]
    assert by_id["channels"][0]["recipients"] == email["recipients"]
    by_type = admin.put(f"/api/pulse/{pid}", json={"channels": [email_channel([{"email": "x@y.io"}])]}).json()
    assert [c["id"] for c in by_type["channels"]] == [email["id"]]
    assert by_type["channels"][0]["recipients"] == [{"email": "x@y.io"}]
    slack = {"channel_type": "slack", "enabled": True, "schedule_type": "hourly", "details": {"channel": "#a"}}
    replaced = admin.put(f"/api/pulse/{pid}", json={"channels": [slack]}).json()
    assert [c["channel_type"] for c in replaced["channels"]] == ["slack"]
    assert replaced["channels"][0]["id"] != email["id"]
    assert admin.put(f"/api/pulse/{pid}", json={"channels": [{**slack, "schedule_type": "daily"}]}).status_code == 500


def test_subscription_collection_and_dashboard_cannot_change(admin, content, pulse):
    other = content["collection"] + 1000
    resp = admin.put(f"/api/pulse/{pulse['id']}", json={"collection_id": other})
    assert resp.status_code == 500
    assert "collection ID of a dashboard subscription cannot be directly modified" in resp.json()["message"]
    kept = admin.put(f"/api/pulse/{pulse['id']}", json={"dashboard_id": content["other_dashboard"]})
    assert kept.status_code == 200 and kept.json()["dashboard_id"] == content["dashboard"]


def test_put_unknown_pulse_is_404(admin):
    assert admin.put("/api/pulse/4242", json={"name": "x"}).status_code == 404


# ---------------------------------------------------------------------------------------------------------------
# Recipients and permissions
# ---------------------------------------------------------------------------------------------------------------


def test_unsubscribe_removes_only_the_current_user(emulator, admin, content, pulse):
    bob = login(emulator, "bob@example.com")
    assert bob.delete(f"/api/pulse/{pulse['id']}/subscription").status_code == 204
    assert bob.delete(f"/api/pulse/{pulse['id']}/subscription").status_code == 404
    recipients = admin.get(f"/api/pulse/{pulse['id']}").json()["channels"][0]["recipients"]
    assert recipients == [{"email": "ext@partner.io"}]
    assert admin.delete("/api/pulse/999/subscription").status_code == 404


def test_remove_recipient_and_inactive_users(emulator, admin, content, pulse):
    state = emulator.state
    bob_id = content["bob"]["id"]
    state.table("user").get(bob_id)["is_active"] = False
    assert admin.get(f"/api/pulse/{pulse['id']}").json()["channels"][0]["recipients"] == [{"email": "ext@partner.io"}]
    state.table("user").get(bob_id)["is_active"] = True
    pulses_module.remove_recipient(state, bob_id)
    assert admin.get(f"/api/pulse/{pulse['id']}").json()["channels"][0]["recipients"] == [{"email": "ext@partner.io"}]


def test_deactivating_a_user_drops_them_from_subscriptions(emulator, admin, content, pulse):
    assert admin.delete(f"/api/user/{content['bob']['id']}").status_code == 200
    assert not emulator.state.table("pulse_channel_recipient").where(user_id=content["bob"]["id"])


def test_non_admins_see_and_edit_only_their_own(emulator, admin, content, pulse):
    make_user(emulator, admin, "carol@example.com")
    carol = login(emulator, "carol@example.com")
    bob = login(emulator, "bob@example.com")
    assert carol.get("/api/pulse").json() == []
    assert carol.get(f"/api/pulse/{pulse['id']}").status_code == 403
    assert carol.put(f"/api/pulse/{pulse['id']}", json={"name": "mine"}).status_code == 403
    # Bob receives the subscription: he can read it but not edit it, and it is in his notifications list.
    assert bob.get(f"/api/pulse/{pulse['id']}").status_code == 200
    assert bob.get("/api/pulse").json() == []
    mine = bob.get("/api/pulse", params={"creator_or_recipient": "true"}).json()
    assert [p["id"] for p in mine] == [pulse["id"]] and mine[0]["can_write"] is False
    assert bob.put(f"/api/pulse/{pulse['id']}", json={"name": "mine"}).status_code == 403
