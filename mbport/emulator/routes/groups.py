"""Permission groups and memberships: /api/permissions/group*, /api/permissions/membership*."""

from __future__ import annotations

from typing import Any

from .. import errors, premium
from ..app import NO_CONTENT, Ctx
from ..models import groups as model
from ..models import tenants, users
from ..models.groups import (
    PREMIUM_GROUP_MANAGER,
    check_name_free,
    check_not_magic,
    group_or_404,
    premium_error,
)
from ..router import route
from ..shapes.groups import group_row, member_counts, members

# ---- groups ----

def _shown(group: dict[str, Any], using_tenants: bool) -> dict[str, Any]:
    """permissions_rest/api.clj `maybe-fix-name`: with tenants on, All Users reads "All internal users"."""
    if using_tenants and group.get("magic_group_type") == users.ALL_USERS:
        return {**group, "name": "All internal users"}
    return group


@route("GET", "/api/permissions/group")
def list_groups(ctx: Ctx):
    """permissions_rest/api.clj `GET /group`: tenant groups only while tenants are on; `tenancy` filters by kind."""
    ctx.require_superuser()
    tenancy = ctx.query.get("tenancy")
    on = tenants.use_tenants(ctx.state)
    groups = [g for g in ctx.state.table("permissions_group") if on or not g.get("is_tenant_group")]
    if tenancy in ("external", "internal"):
        groups = [g for g in groups if bool(g.get("is_tenant_group")) == (tenancy == "external")]
    groups.sort(key=lambda g: g["name"].lower())
    counts = member_counts(ctx.state)
    # Paged by limit/offset, yet still a bare array.
    return [_shown({**group_row(g), "member_count": counts.get(g["id"], 0)}, on) for g in ctx.page(groups)]


@route("GET", "/api/permissions/group/{id}")
def get_group(ctx: Ctx, id: int):
    ctx.require_superuser()
    group = group_or_404(ctx.state, id)
    return _shown({**group_row(group), "members": members(ctx.state, id)}, tenants.use_tenants(ctx.state))


@route("POST", "/api/permissions/group")
def create_group(ctx: Ctx):
    """permissions_rest/api.clj `POST /group`: a tenant group needs the tenants feature (402 otherwise)."""
    ctx.require_superuser()
    body = ctx.body
    if body.get("is_tenant_group") and not premium.enabled(ctx.state, tenants.FEATURE):
        raise premium_error(
            "Tenants is a paid feature not currently available to your instance. "
            "Please upgrade to use it. Learn more at metabase.com/upgrade/")
    group = model.create_group(ctx.state, body["name"], is_tenant_group=bool(body.get("is_tenant_group")))
    return group_row(group)


@route("PUT", "/api/permissions/group/{group-id}")
def rename_group(ctx: Ctx, group_id: int):
    ctx.require_superuser()
    group = group_or_404(ctx.state, group_id)
    name = ctx.body["name"]
    if name != group["name"]:
        check_not_magic(group)
        check_name_free(ctx.state, name)
        group["name"] = name
    return group_row(group)


@route("DELETE", "/api/permissions/group/{group-id}")
def delete_group(ctx: Ctx, group_id: int):
    ctx.require_superuser()
    model.delete_group(ctx.state, group_id)
    return NO_CONTENT


# ---- memberships ----

@route("GET", "/api/permissions/membership")
def list_memberships(ctx: Ctx):
    ctx.require_superuser()
    out: dict[int, list[dict[str, Any]]] = {}
    for m in ctx.state.table("permissions_group_membership"):
        out.setdefault(m["user_id"], []).append({
            "membership_id": m["id"], "group_id": m["group_id"], "user_id": m["user_id"],
            "is_group_manager": bool(m.get("is_group_manager")),
        })
    return out


@route("POST", "/api/permissions/membership")
def add_member(ctx: Ctx):
    ctx.require_superuser()
    body = ctx.body
    if body.get("is_group_manager"):
        raise premium_error(PREMIUM_GROUP_MANAGER)
    users.add_membership(ctx.state, body["user_id"], body["group_id"])
    return members(ctx.state, body["group_id"])


@route("PUT", "/api/permissions/membership/{id}")
def update_member(ctx: Ctx, id: int):
    # Only is_group_manager can change here, and group managers are an Enterprise feature.
    raise premium_error(PREMIUM_GROUP_MANAGER)


@route("PUT", "/api/permissions/membership/{group-id}/clear")
def clear_group(ctx: Ctx, group_id: int):
    ctx.require_superuser()
    group_or_404(ctx.state, group_id)
    if group_id == users.magic_group(ctx.state, users.ADMIN)["id"]:
        raise errors.bad_request()
    users.check_not_all_users(ctx.state, group_id)
    memberships = ctx.state.table("permissions_group_membership")
    for m in memberships.where(group_id=group_id):
        memberships.delete(m["id"])
    return NO_CONTENT


@route("DELETE", "/api/permissions/membership/{id}")
def remove_member(ctx: Ctx, id: int):
    membership = ctx.state.table("permissions_group_membership").get(id)
    if membership is None:
        raise errors.not_found()
    ctx.require_superuser()
    users.remove_membership(ctx.state, membership)
    return NO_CONTENT
