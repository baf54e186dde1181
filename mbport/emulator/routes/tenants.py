"""Tenants: /api/ee/tenant (Enterprise `tenants` feature, Metabase >= 0.58)."""

from __future__ import annotations

from .. import premium
from ..app import Ctx
from ..models import tenants as model
from ..models.versions import TENANTS_SINCE, since
from ..router import route


def _check(ctx: Ctx) -> None:
    premium.require(ctx.state, model.FEATURE, "Tenants")


@route("GET", "/api/ee/tenant", available=since(TENANTS_SINCE))
def list_tenants(ctx: Ctx):
    """tenants/api.clj `GET /`: `{"data": [...]}` by id, filtered by `status` (all, active, deactivated)."""
    _check(ctx)
    status = ctx.query.get("status") or "all"
    rows = sorted(ctx.state.table("tenant"), key=lambda t: t["id"])
    if status != "all":
        rows = [t for t in rows if t["is_active"] == (status == "active")]
    return {"data": [model.present(ctx.state, t) for t in ctx.page(rows)]}


@route("POST", "/api/ee/tenant", available=since(TENANTS_SINCE))
def create_tenant(ctx: Ctx):
    _check(ctx)
    ctx.require_superuser()
    return model.present(ctx.state, model.create(ctx.state, ctx.body))


@route("GET", "/api/ee/tenant/{id}", available=since(TENANTS_SINCE))
def get_tenant(ctx: Ctx, id: int):  # noqa: A002 - the spec's path parameter
    _check(ctx)
    return model.present(ctx.state, model.get(ctx.state, id))


@route("PUT", "/api/ee/tenant/{id}", available=since(TENANTS_SINCE))
def update_tenant(ctx: Ctx, id: int):  # noqa: A002
    _check(ctx)
    ctx.require_superuser()
    return model.present(ctx.state, model.update(ctx.state, model.get(ctx.state, id), ctx.body or {}))
