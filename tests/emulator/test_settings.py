"""/api/setting behaves like Metabase's (api-surface.md §11, §22; conformance item 38)."""

from tests.conftest import make_client
from tests.emulator.test_users import login, new_user

INFO_KEYS = {"key", "value", "is_env_setting", "env_name", "description", "default"}


def setting_info(admin, key):
    return next(s for s in admin.get("/api/setting").json() if s["key"] == key)


def test_list_is_a_sorted_array_of_setting_infos(admin):
    settings = admin.get("/api/setting").json()
    assert isinstance(settings, list) and all(set(s) == INFO_KEYS for s in settings)
    keys = [s["key"] for s in settings]
    assert keys == sorted(keys)
    assert {"site-name", "site-url", "admin-email", "report-timezone", "enable-embedding", "humanization-strategy",
            "custom-formatting", "application-name", "start-of-week", "site-locale", "site-uuid",
            "premium-embedding-token"} <= set(keys)
    start = setting_info(admin, "start-of-week")
    assert start == {**start, "value": None, "default": "sunday", "is_env_setting": False, "env_name": "MB_START_OF_WEEK"}


def test_put_one_setting_then_read_it(admin, anon):
    assert admin.put("/api/setting/site-name", json={"value": "Acme Analytics"}).status_code == 204
    resp = admin.get("/api/setting/site-name")
    assert resp.status_code == 200 and resp.text == "Acme Analytics"
    assert setting_info(admin, "site-name")["value"] == "Acme Analytics"
    assert admin.get("/api/session/properties").json()["site-name"] == "Acme Analytics"
    admin.put("/api/setting/enable-embedding", json={"value": "true"})
    assert admin.get("/api/setting/enable-embedding").json() is True


def test_default_values_read_as_null(admin):
    resp = admin.get("/api/setting/report-timezone")
    assert resp.status_code == 204 and resp.content == b""
    admin.put("/api/setting/start-of-week", json={"value": "sunday"})  # equal to the default
    assert setting_info(admin, "start-of-week")["value"] is None


def test_null_deletes(admin):
    admin.put("/api/setting/admin-email", json={"value": "ops@example.com"})
    assert setting_info(admin, "admin-email")["value"] == "ops@example.com"
    assert admin.put("/api/setting/admin-email", json={"value": None}).status_code == 204
    assert setting_info(admin, "admin-email")["value"] is None
    assert admin.get("/api/setting/admin-email").status_code == 204


def test_bulk_put_accepts_snake_case_keys(admin):
    resp = admin.put("/api/setting", json={"report_timezone": "Europe/Paris", "custom-formatting": {"type/Number": {"number_separators": ".,"}}})
    assert resp.status_code == 204
    assert admin.get("/api/setting/report-timezone").text == "Europe/Paris"
    assert admin.get("/api/setting/custom_formatting").json() == {"type/Number": {"number_separators": ".,"}}


def test_bulk_put_is_all_or_nothing(admin):
    resp = admin.put("/api/setting", json={"report-timezone": "UTC", "no-such-setting": 1})
    assert resp.status_code == 500 and resp.json()["message"] == "Unknown setting: :no-such-setting"
    assert admin.get("/api/setting/report-timezone").status_code == 204


def test_sensitive_settings_are_obfuscated(admin, emulator):
    token = "a" * 62 + "42"
    admin.put("/api/setting/premium-embedding-token", json={"value": token})
    assert setting_info(admin, "premium-embedding-token")["value"] == "**********42"
    assert admin.get("/api/setting/premium-embedding-token").text == "**********42"
    # Sending the obfuscated value back (a settings round trip) keeps the real one.
    admin.put("/api/setting", json={"premium-embedding-token": "**********42"})
    assert emulator.state.settings["premium-embedding-token"] == token


def test_env_settings_are_hidden_and_win(admin, emulator):
    emulator.state.extra["env_settings"] = {"site-name": "From Env"}
    info = setting_info(admin, "site-name")
    assert info["is_env_setting"] is True and info["value"] is None
    assert info["default"] == "Using value of env var $MB_SITE_NAME" and info["env_name"] == "MB_SITE_NAME"
    assert admin.get("/api/setting/site-name").status_code == 204
    admin.put("/api/setting/site-name", json={"value": "Stored"})
    assert setting_info(admin, "site-name")["value"] is None


def test_site_uuid_is_set_and_read_only(admin):
    uuid = admin.get("/api/setting/site-uuid").text
    assert len(uuid) == 36
    resp = admin.put("/api/setting/site-uuid", json={"value": "other"})
    assert resp.status_code == 500 and "read-only" in resp.json()["message"]
    assert admin.get("/api/setting/site-uuid").text == uuid


def test_session_properties_carry_site_uuid_for_a_signed_in_user_only(admin, anon):
    # system/settings.clj `site-uuid` :visibility :authenticated; session/api.clj GET /properties
    uuid = admin.get("/api/setting/site-uuid").text
    assert admin.get("/api/session/properties").json()["site-uuid"] == uuid
    assert "site-uuid" not in anon.get("/api/session/properties").json()


def test_session_properties_hold_every_setting_the_caller_may_read(admin, anon, emulator):
    """session/api.clj GET /properties = `user-readable-values-map` of `current-user-readable-visibilities`
    (settings/models/setting.clj): public ones for anyone, authenticated ones for a signed-in user, admin and
    settings-manager ones for a superuser; effective values (env vars too); never a sensitive setting."""
    admin.put("/api/setting/start-of-week", json={"value": "monday"})
    admin.put("/api/setting/email-smtp-password", json={"value": "hunter22"})
    emulator.state.extra["env_settings"] = {"check-for-updates": False}
    new_user(admin, "bob@example.com")
    seen = {"anonymous": anon.get("/api/session/properties").json(),
            "user": login(emulator, "bob@example.com").get("/api/session/properties").json(),
            "admin": admin.get("/api/session/properties").json()}
    assert all(props["start-of-week"] == "monday" for props in seen.values())  # public
    assert ["site-uuid" in props for props in seen.values()] == [False, True, True]  # authenticated
    assert ["site-name" in props for props in seen.values()] == [False, False, True]  # settings-manager
    assert [props.get("check-for-updates") for props in seen.values()] == [None, None, False]  # admin, from env
    assert not any("email-smtp-password" in props for props in seen.values())  # sensitive


def test_enterprise_settings_cannot_be_written_on_oss(admin):
    resp = admin.put("/api/setting/application-name", json={"value": "Acme BI"})
    assert resp.status_code == 500 and "whitelabel" in resp.json()["message"]


def test_site_url_is_normalised(admin):
    admin.put("/api/setting/site-url", json={"value": "mb.example.com/"})
    assert admin.get("/api/setting/site-url").text == "http://mb.example.com"


def test_unknown_setting(admin):
    resp = admin.get("/api/setting/no-such-setting")
    assert resp.status_code == 500 and resp.json()["message"] == "Unknown setting: :no-such-setting"


def test_non_admins(admin, emulator):
    new_user(admin, "bob@example.com")
    bob = login(emulator, "bob@example.com")
    for resp in (bob.get("/api/setting"), bob.put("/api/setting/site-name", json={"value": "x"}),
                 bob.put("/api/setting", json={"site-name": "x"}), bob.get("/api/setting/email-smtp-host")):
        assert resp.status_code == 403 and resp.text == "You don't have permissions to do that."
    admin.put("/api/setting/admin-email", json={"value": "help@example.com"})
    assert bob.get("/api/setting/admin-email").text == "help@example.com"  # :visibility :authenticated
    assert bob.get("/api/setting/site-name").status_code == 403  # :visibility :settings-manager
    assert make_client(emulator).get("/api/setting").status_code == 401


def test_content_settings_of_the_serialization_list_are_known_with_their_defaults(admin):
    """appearance/settings.clj, query_processor/settings.clj, metabot/settings.clj: types, defaults, features."""
    infos = {s["key"]: s for s in admin.get("/api/setting").json()}
    assert infos["csv-field-separator"]["default"] == "," and infos["enable-pivoted-exports"]["default"] is True
    assert infos["custom-homepage-dashboard"]["default"] is None and infos["breakout-bins-num"]["default"] == 8
    assert infos["metabot-enabled?"]["env_name"] == "MB_METABOT_ENABLED"
    assert admin.put("/api/setting/custom-homepage-dashboard", json={"value": "7"}).status_code == 204
    assert admin.get("/api/setting/custom-homepage-dashboard").json() == 7  # an integer setting
    refused = admin.put("/api/setting/metabot-name", json={"value": "Ask"})
    assert refused.status_code == 500 and "ai-controls" in refused.json()["message"]


def test_feature_settings_are_written_with_the_feature(ee):
    _, client = ee
    assert client.put("/api/setting", json={"application-colors": {"brand": "#123456"},
                                            "metabot-name": "Ask"}).status_code == 204
    assert client.get("/api/setting/application-colors").json() == {"brand": "#123456"}
    assert client.get("/api/setting/metabot-name").text == "Ask"
