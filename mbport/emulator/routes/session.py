"""Setup, sessions and public properties: /api/session, /api/setup."""

from __future__ import annotations

from .. import errors, premium
from ..app import NO_CONTENT, SESSION_COOKIE, Ctx, Response
from ..models import settings, users
from ..models.versions import minor_version
from ..router import route
from ..store import new_uuid


def _properties(ctx: Ctx) -> dict:
    """session/api.clj GET /properties: `setting/user-readable-values-map` of `current-user-readable-visibilities`
    (settings/models/setting.clj): the settings of each visibility the caller may read — public for anyone,
    authenticated for a signed-in user, settings-manager and admin for a superuser — with their effective values
    (env vars included), never a sensitive one; then the public settings whose getters compute a value."""
    state = ctx.state
    readable = {"public"}
    if ctx.signed_in:
        readable.add("authenticated")
        if ctx.is_superuser:
            readable.update(("settings-manager", "admin"))
    minor = minor_version(state)
    props: dict = {s.key: settings.get_value(state, s.key) for s in settings.CATALOGUE.values()
                   if s.visibility in readable and not s.sensitive and minor >= s.since}
    has_user = len(state.table("user").where(type="personal")) > 0
    token = state.setup_token
    if has_user and not ctx.profile.setup_token_after_setup:
        token = None
    props.update({
        "version": ctx.profile.version,
        "setup-token": token,
        "has-user-setup": has_user,
        "token-features": premium.token_features(state),
        "engines": {"sqlite": {"driver-name": "SQLite"}, "h2": {"driver-name": "H2"}, "postgres": {"driver-name": "PostgreSQL"}},
        "password-complexity": {"total": 6, "digit": 1},
        "enable-password-login": True,
        "available-locales": [["en", "English"]],
    })
    return props


# server/routes.clj `routes`: served outside the /api context (no session, no setup needed); 503 while the
# server initializes, which the emulator never does.
@route("GET", "/api/health", public=True)
def health(ctx: Ctx):
    return {"status": "ok"}


@route("GET", "/api/session/properties", public=True)
def properties(ctx: Ctx):
    # site-uuid (system/settings.clj, :visibility :authenticated) is made once, on the instance's first read: a
    # rebuilt instance at the same URL has another one (mbport's state tells instances apart by it).
    return _properties(ctx)


def _new_session(ctx: Ctx, user_id: int) -> Response:
    key = new_uuid()
    ctx.state.sessions[key] = user_id
    # A new session publishes :event/user-login (session/models/session.clj, define-after-insert), whose handler
    # sets last_login (users/events/last_login.clj: t2/update! :model/User {:last_login :%now}, so updated_at too).
    user = ctx.state.table("user").get(user_id)
    if user is not None:
        now = ctx.state.now()
        user.update(last_login=now, updated_at=now)
    resp = Response(200, {"id": key})
    resp.headers["set-cookie"] = f"{SESSION_COOKIE}={key}; Path=/; HttpOnly; SameSite=Lax"
    return resp


@route("POST", "/api/setup", public=True)
def setup(ctx: Ctx):
    state = ctx.state
    if state.table("user").where(type="personal"):
        raise errors.forbidden()
    body = ctx.body or {}
    if body.get("token") != state.setup_token:
        raise errors.checkp("token", "Token does not match the setup token.")
    u = body["user"]
    if not u.get("email") or not u.get("password"):
        raise errors.invalid({"user": "value must be a map with email and password"})
    user = users.create_user(
        ctx.state, email=u["email"], first_name=u.get("first_name"), last_name=u.get("last_name"),
        password=u["password"], superuser=True,
    )
    prefs = body.get("prefs") or {}
    if prefs.get("site_name"):
        state.settings["site-name"] = prefs["site_name"]
    if prefs.get("site_locale"):
        state.settings["site-locale"] = prefs["site_locale"]
    return _new_session(ctx, user["id"])


@route("POST", "/api/session", public=True)
def login(ctx: Ctx):
    body = ctx.body or {}
    user = ctx.state.table("user").first(lambda r: r["email"].lower() == str(body.get("username", "")).lower(), type="personal")
    if user is None or not users.check_password(user, body.get("password", "")):
        raise errors.ApiError(401, {"errors": {"password": "did not match stored password"}})
    if not user["is_active"]:
        raise errors.ApiError(401, {"errors": {"_error": "Your account is disabled."}})
    return _new_session(ctx, user["id"])


@route("DELETE", "/api/session")
def logout(ctx: Ctx):
    key = ctx.request.headers.get("x-metabase-session") or ctx.request.cookies.get(SESSION_COOKIE)
    if not key or key not in ctx.state.sessions:
        raise errors.not_found()
    del ctx.state.sessions[key]
    return NO_CONTENT
