"""Settings: /api/setting. Values live in `state.settings`; env-var settings in `state.extra["env_settings"]`."""

from __future__ import annotations

from .. import errors, premium
from ..app import NO_CONTENT, Ctx, Response
from ..models import tenants
from ..models.settings import CATALOGUE, prepare, resolve, setting_info, user_facing_value, write_value
from ..models.versions import minor_version
from ..router import route


@route("GET", "/api/setting")
def list_settings(ctx: Ctx):
    ctx.require_superuser()
    return [setting_info(ctx.state, s) for s in CATALOGUE.values() if minor_version(ctx.state) >= s.since]


@route("GET", "/api/setting/{key}")
def get_setting(ctx: Ctx, key: str):
    setting = resolve(key)
    if not ctx.is_superuser and setting.visibility not in ("public", "authenticated"):
        raise errors.forbidden()
    value = user_facing_value(ctx.state, setting)
    if value is None:
        return NO_CONTENT  # Metabase answers a nil body with 204
    # A bare string body goes out as-is (text), like Metabase's plain-text error messages; other values as JSON.
    return Response(200, value) if isinstance(value, str) else value


@route("PUT", "/api/setting/{key}")
def put_setting(ctx: Ctx, key: str):
    ctx.require_superuser()
    setting = resolve(key)
    write, value = prepare(setting, ctx.body["value"], ctx.state.extra.get(premium.KEY, frozenset()))
    tenants.before_setting(ctx.state, setting.key, value)
    if write:
        write_value(ctx.state, setting, value)
        tenants.after_setting(ctx.state, setting.key, value)
    return NO_CONTENT


@route("PUT", "/api/setting")
def put_settings(ctx: Ctx):
    ctx.require_superuser()
    # All or nothing: Metabase sets them in one transaction.
    features = ctx.state.extra.get(premium.KEY, frozenset())
    prepared = [(resolve(k), *prepare(resolve(k), v, features)) for k, v in (ctx.body or {}).items()]
    for setting, _, value in prepared:
        tenants.before_setting(ctx.state, setting.key, value)
    for setting, write, value in prepared:
        if write:
            write_value(ctx.state, setting, value)
            tenants.after_setting(ctx.state, setting.key, value)
    return NO_CONTENT
