"""Permission groups and memberships: /api/permissions/group*, /api/permissions/membership*."""

from __future__ import annotations

from typing import Any

from .. import errors
from ..app import NO_CONTENT, Ctx
from ..models import users
from ..router import route
from ..store import Row, State

PREMIUM_GROUP_MANAGER = (
    "Group manager is a paid feature not currently available to your instance. "
    "Please upgrade to use it. Learn more at metabase.com/upgrade/"
)


def _premium_error(message: str) -> errors.ApiError:
    return errors.ApiError(402, {"message": message, "status": "error-premium-feature-not-available"})


def group_row(group: Row) -> dict[str, Any]:
    return {k: group.get(k) for k in ("id", "name", "entity_id", "magic_group_type", "is_tenant_group")}


def members(state: State, group_id: int) -> list[dict[str, Any]]:
    """Active members of a group, ordered by first then last name (the `members` hydration)."""
    user_table = state.table("user")
    out = []
    for m in state.table("permissions_group_membership").where(group_id=group_id):
        user = user_table.get(m["user_id"])
        if user and user["is_active"]:
            out.append((user, m))
    out.sort(key=lambda um: ((um[0].get("first_name") or "").lower(), (um[0].get("last_name") or "").lower()))
    return [
        {"id": u["id"], "user_id": u["id"], "first_name": u.get("first_name"), "last_name": u.get("last_name"),
         "email": u["email"], "is_superuser": u["is_superuser"], "group_id": group_id, "membership_id": m["id"]}
        for u, m in out
    ]


def _member_counts(state: State) -> dict[int, int]:
    user_table = state.table("user")
    counts: dict[int, int] = {}
    for m in state.table("permissions_group_membership"):
        if (user_table.get(m["user_id"]) or {}).get("is_active"):
            counts[m["group_id"]] = counts.get(m["group_id"], 0) + 1
    return counts


def _group_or_404(state: State, group_id: int) -> Row:
    group = state.table("permissions_group").get(group_id)
    if group is None:
        raise errors.not_found()
    return group


def _check_not_magic(group: Row) -> None:
    if group.get("magic_group_type"):
        raise errors.bad_request(f"You cannot edit or delete the '{group['name']}' permissions group!")


def _check_name_free(state: State, name: str) -> None:
    # Case-insensitive, and a group's own name counts: renaming "Sales" to "sales" is refused too.
    if state.table("permissions_group").first(lambda g: g["name"].lower() == name.lower()):
        raise errors.bad_request("A group with that name already exists.")


# ---- groups ----

@route("GET", "/api/permissions/group")
def list_groups(ctx: Ctx):
    ctx.require_superuser()
    tenancy = ctx.query.get("tenancy")
    if tenancy == "external":
        return []  # tenants are not enabled on this instance
    groups = [g for g in ctx.state.table("permissions_group") if not g.get("is_tenant_group")]
    groups.sort(key=lambda g: g["name"].lower())
    counts = _member_counts(ctx.state)
    # Paged by limit/offset, yet still a bare array.
    return [{**group_row(g), "member_count": counts.get(g["id"], 0)} for g in ctx.page(groups)]


@route("GET", "/api/permissions/group/{id}")
def get_group(ctx: Ctx, id: int):
    ctx.require_superuser()
    group = _group_or_404(ctx.state, id)
    return {**group_row(group), "members": members(ctx.state, id)}


@route("POST", "/api/permissions/group")
def create_group(ctx: Ctx):
    ctx.require_superuser()
    body = ctx.body
    if body.get("is_tenant_group"):
        raise _premium_error(
            "Tenants is a paid feature not currently available to your instance. "
            "Please upgrade to use it. Learn more at metabase.com/upgrade/")
    _check_name_free(ctx.state, body["name"])
    group = ctx.state.table("permissions_group").insert(
        {"name": body["name"], "magic_group_type": None, "is_tenant_group": False})
    ctx.state.emit("group.created", group=group)
    return group_row(group)


@route("PUT", "/api/permissions/group/{group-id}")
def rename_group(ctx: Ctx, group_id: int):
    ctx.require_superuser()
    group = _group_or_404(ctx.state, group_id)
    name = ctx.body["name"]
    if name != group["name"]:
        _check_not_magic(group)
        _check_name_free(ctx.state, name)
        group["name"] = name
    return group_row(group)


@route("DELETE", "/api/permissions/group/{group-id}")
def delete_group(ctx: Ctx, group_id: int):
    ctx.require_superuser()
    group = ctx.state.table("permissions_group").get(group_id)
    if group is None:
        return NO_CONTENT  # Metabase deletes nothing and still answers 204
    _check_not_magic(group)
    memberships = ctx.state.table("permissions_group_membership")
    for m in memberships.where(group_id=group_id):
        memberships.delete(m["id"])
    ctx.state.table("permissions_group").delete(group_id)
    ctx.state.emit("group.deleted", group=group)
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
        raise _premium_error(PREMIUM_GROUP_MANAGER)
    users.add_membership(ctx.state, body["user_id"], body["group_id"])
    return members(ctx.state, body["group_id"])


@route("PUT", "/api/permissions/membership/{id}")
def update_member(ctx: Ctx, id: int):
    # Only is_group_manager can change here, and group managers are an Enterprise feature.
    raise _premium_error(PREMIUM_GROUP_MANAGER)


@route("PUT", "/api/permissions/membership/{group-id}/clear")
def clear_group(ctx: Ctx, group_id: int):
    ctx.require_superuser()
    _group_or_404(ctx.state, group_id)
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
