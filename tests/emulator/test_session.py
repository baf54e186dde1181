"""Setup, sessions and auth behave like Metabase's (conformance items 1-5, 9)."""

import pytest

from tests.conftest import ADMIN_EMAIL, ADMIN_PASSWORD, make_client


def test_properties_before_setup_are_public(anon):
    props = anon.get("/api/session/properties").json()
    assert props["version"]["tag"].startswith("v0.")
    assert props["has-user-setup"] is False
    assert len(props["setup-token"]) == 36


@pytest.mark.allow_invalid_requests
def test_setup_then_login(anon, emulator):
    token = anon.get("/api/session/properties").json()["setup-token"]
    body = {"token": "wrong", "user": {"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}, "prefs": {"site_name": "x"}}
    bad = anon.post("/api/setup", json=body)
    assert bad.status_code == 400 and "token" in bad.json()["errors"]
    ok = anon.post("/api/setup", json={**body, "token": token})
    assert ok.status_code == 200 and len(ok.json()["id"]) == 36
    assert "metabase.SESSION" in ok.headers["set-cookie"]
    assert anon.post("/api/setup", json={**body, "token": token}).status_code == 403
    assert anon.get("/api/session/properties").json()["has-user-setup"] is True

    wrong = make_client(emulator).post("/api/session", json={"username": ADMIN_EMAIL, "password": "nope"})
    assert wrong.status_code == 401
    assert wrong.json() == {"errors": {"password": "did not match stored password"}}
    right = make_client(emulator).post("/api/session", json={"username": ADMIN_EMAIL, "password": ADMIN_PASSWORD})
    assert right.status_code == 200


def test_no_credentials_is_plain_text_401(anon):
    resp = anon.get("/api/user/current")
    assert resp.status_code == 401
    assert resp.text == "Unauthenticated"
    assert resp.headers["content-type"].startswith("text/plain")


def test_session_from_header_and_cookie(emulator, admin_session):
    by_header = make_client(emulator, **{"X-Metabase-Session": admin_session})
    assert by_header.delete("/api/session").status_code == 204
    assert by_header.delete("/api/session").status_code == 401


@pytest.mark.allow_invalid_requests
def test_unknown_route_is_404_plain_text(admin):
    resp = admin.get("/api/no-such-thing")
    assert resp.status_code == 404
    assert resp.text == "Not found."


@pytest.mark.allow_invalid_requests
def test_malformed_json_is_400(admin):
    resp = admin.post("/api/session", content=b"{not json", headers={"content-type": "application/json"})
    assert resp.status_code == 400


def test_health_answers_ok_without_a_session_before_and_after_setup(anon, emulator):
    # server/routes.clj `routes`: clients and CI poll it before anything else, with no session.
    resp = anon.get("/api/health")
    assert (resp.status_code, resp.json()) == (200, {"status": "ok"})
