"""Users and group memberships: /api/user, plus the membership rules (magic groups, last admin) other areas share."""

from __future__ import annotations

from typing import Any

from .. import errors
from ..app import NO_CONTENT, SESSION_COOKIE, Ctx, Response
from ..models import tenants
from ..models.users import (
    ADMIN,
    ADMIN_VISIBLE,
    ALL_TENANT_USERS,
    ALL_USERS,
    COMMON_PASSWORDS,
    NON_ADMIN_VISIBLE,
    PASSWORD_ERROR,
    check_email,
    check_not_all_users,
    check_password,
    common_name,
    create_user,
    deactivate,
    email_taken,
    group_ids,
    magic_group,
    personal_collection_id,
    rename_personal_collection,
    reset_magic_membership,
    set_groups,
    set_password,
    set_superuser,
    stringify_attributes,
    touch,
)
from ..router import route
from ..shapes.users import admin_view, columns, list_item, structured_attributes, with_memberships
from ..store import Row, new_uuid

# ---- memberships: the PermissionsGroupMembership model's rules ----


# ---- response shapes ----


def _sort_key(*fields: str):
    # SQL's ORDER BY lower(x) puts NULL names last.
    def key(user: Row) -> tuple:
        parts = []
        for f in fields:
            value = user.get(f)
            parts.append((value is None, (value or "").lower()))
        return (*parts, user["id"])
    return key


def _check_self_or_superuser(ctx: Ctx, user_id: int) -> None:
    if not (ctx.is_superuser or (ctx.user and ctx.user["id"] == user_id)):
        raise errors.forbidden()


def _user_or_404(ctx: Ctx, user_id: int, **equals: Any) -> Row:
    user = ctx.state.table("user").get(user_id)
    if user is None or any(user.get(k) != v for k, v in equals.items()):
        raise errors.not_found()
    return user


def _membership_ids(body: dict) -> list[int] | None:
    memberships = body.get("user_group_memberships")
    return None if memberships is None else [m["id"] for m in memberships]


# ---- GET /api/user, /current, /recipients, /{id} ----

@route("GET", "/api/user")
def list_users(ctx: Ctx):
    ctx.require_superuser()
    q = ctx.query
    if q.get("tenancy") is not None and q.get("tenant_id") is not None:
        raise errors.bad_request("You cannot specify both `tenancy` and `tenant_id`")
    status = q.get("status")
    if status == "deactivated":
        active_filter: bool | None = False
    elif status == "all" or (status is None and q.get("include_deactivated")):
        active_filter = None
    else:
        active_filter = True
    text = (q.get("query") or "").lower()
    in_group: set[int] | None = None
    if q.get("group_id") is not None:
        in_group = {m["user_id"] for m in ctx.state.table("permissions_group_membership").where(group_id=q["group_id"])}

    def matches(user: Row) -> bool:
        if active_filter is not None and user["is_active"] != active_filter:
            return False
        if text and not any(text in (user.get(f) or "").lower() for f in ("first_name", "last_name", "email")):
            return False
        if in_group is not None and user["id"] not in in_group:
            return False
        return _tenancy_matches(user, q.get("tenancy"), q.get("tenant_id"))

    users = sorted(ctx.state.table("user").where(matches, type="personal"), key=_sort_key("first_name", "last_name"))
    return {
        "data": [list_item(ctx.state, u) for u in ctx.page(users)],
        "total": len(users),
        "limit": ctx.paging.limit if ctx.paging else None,
        "offset": ctx.paging.offset if ctx.paging else None,
    }


def _tenancy_matches(user: Row, tenancy: str | None, tenant_id: int | None) -> bool:
    if tenant_id is not None:
        return user.get("tenant_id") == tenant_id
    if tenancy == "all":
        return True
    if tenancy == "external":
        return user.get("tenant_id") is not None
    return user.get("tenant_id") is None


@route("GET", "/api/user/current")
def current_user(ctx: Ctx):
    state, user = ctx.state, ctx.user
    cards = state.table("card").where(archived=False)
    dashboards = state.table("dashboard").where(archived=False)
    return {
        **admin_view(user),
        "personal_collection_id": personal_collection_id(state, user),
        "group_ids": group_ids(state, user["id"]),
        "is_installer": user["id"] == 1,
        "has_invited_second_user": user["id"] == 1 and len(state.table("user")) > 1,
        "tenant_collection_id": None,
        "has_question_and_dashboard": bool(cards) and bool(dashboards),
        "has_model": any(c.get("type") == "model" for c in cards),
        "first_login": user.get("last_login") or state.now(),
        "permissions": {"can_create_queries": True, "can_create_native_queries": True},
        "custom_homepage": None,
        "can_write_any_collection": True,
    }


@route("GET", "/api/user/recipients")
def recipients(ctx: Ctx):
    # OSS ignores the user-visibility setting: everyone sees every active user; non-admins see fewer columns.
    keys = ADMIN_VISIBLE if ctx.is_superuser else NON_ADMIN_VISIBLE
    users = sorted(ctx.state.table("user").where(type="personal", is_active=True), key=_sort_key("last_name", "first_name"))
    return {
        "data": [columns(u, keys) for u in users],
        "total": len(users),
        "limit": ctx.paging.limit if ctx.paging else None,
        "offset": ctx.paging.offset if ctx.paging else None,
    }


@route("GET", "/api/user/{id}")
def get_user(ctx: Ctx, id: int):
    _check_self_or_superuser(ctx, id)
    user = _user_or_404(ctx, id)
    return {**with_memberships(ctx.state, user), "structured_attributes": structured_attributes(user)}


# ---- create, update, deactivate, reactivate ----

@route("POST", "/api/user")
def create(ctx: Ctx):
    ctx.require_superuser()
    body, state = ctx.body, ctx.state
    email = check_email(body.get("email"))
    if email_taken(state, email):
        raise errors.checkp("email", "Email address already in use.")
    tenants.check_tenant_user(state, body.get("tenant_id"))
    wanted = _membership_ids(body)
    all_users_id = magic_group(state, ALL_USERS)["id"]
    default_id = magic_group(state, ALL_TENANT_USERS if body.get("tenant_id") is not None else ALL_USERS)["id"]
    # Metabase creates the user then sets the groups inside one transaction; check first so a failure leaves no user.
    if wanted is not None and set(wanted) != {default_id}:
        for gid in set(wanted) ^ {default_id}:
            check_not_all_users(state, gid)
            if state.table("permissions_group").get(gid) is None:
                raise errors.server_error("Error inserting Permissions Group Membership")
    password = body.get("password")  # undeclared in the spec, honoured by invite-user
    user = create_user(
        state, email=email, first_name=body.get("first_name"), last_name=body.get("last_name"),
        password=password if isinstance(password, str) and password else None,
        login_attributes=stringify_attributes(body.get("login_attributes")), tenant_id=body.get("tenant_id"),
    )
    if wanted is not None:
        set_groups(state, user, wanted)
    if body.get("source") == "setup":
        set_groups(state, user, [all_users_id, magic_group(state, ADMIN)["id"]])
    return with_memberships(state, user)


@route("PUT", "/api/user/{id}")
def update(ctx: Ctx, id: int):
    _check_self_or_superuser(ctx, id)
    state, body = ctx.state, ctx.body or {}
    user = _user_or_404(ctx, id, is_active=True)
    email = body.get("email")
    if email is not None:
        check_email(email)
        if email_taken(state, email, except_id=id):
            raise errors.checkp("email", "Email address already associated to another user.")
    wanted = _membership_ids(body)
    admin_id = magic_group(state, ADMIN)["id"]
    if wanted is not None and body.get("is_superuser") is not None and body["is_superuser"] != (admin_id in wanted):
        raise errors.checkp(
            "is_superuser", "Value of is_superuser must correspond to presence of Admin group ID in group_ids.")
    if wanted is not None and set(wanted) != set(group_ids(state, id)):
        ctx.require_superuser()
    if body.get("tenant_id") is not None and ctx.is_superuser and not tenants.use_tenants(state):
        raise errors.bad_request("Cannot add a user to a tenant as Tenants are not enabled for this instance.")
    if body.get("tenant_id") is not None and ctx.is_superuser:
        tenants.get(state, body["tenant_id"])

    changes = {k: body[k] for k in ("first_name", "last_name", "locale") if k in body}
    if ctx.is_superuser and "login_attributes" in body:
        changes["login_attributes"] = stringify_attributes(body["login_attributes"])
    if email is not None:
        changes["email"] = email.lower()
    if ctx.is_superuser and "tenant_id" in body and body["tenant_id"] != user.get("tenant_id"):
        # before the wanted groups are set: the reset drops every membership
        touch(state, user, tenant_id=body["tenant_id"])
        reset_magic_membership(state, user)
    if ctx.is_superuser and body.get("is_superuser") is not None and wanted is None:
        set_superuser(state, user, body["is_superuser"])
    if wanted is not None:
        set_groups(state, user, wanted)
    if changes:
        touch(state, user, **changes)
        user["common_name"] = common_name(user["first_name"], user["last_name"], user["email"])
        rename_personal_collection(state, user)
    return with_memberships(state, user)


@route("DELETE", "/api/user/{id}")
def deactivate_user(ctx: Ctx, id: int):
    ctx.require_superuser()
    user = _user_or_404(ctx, id)
    if user["type"] == "personal":
        deactivate(ctx.state, user)
    return {"success": True}


@route("PUT", "/api/user/{id}/reactivate")
def reactivate(ctx: Ctx, id: int):
    ctx.require_superuser()
    user = _user_or_404(ctx, id, type="personal")
    if user["is_active"]:
        raise errors.ApiError(400, {"message": "Not able to reactivate an active user"})
    # A reactivated user comes back without admin rights.
    set_superuser(ctx.state, user, False)
    touch(ctx.state, user, is_active=True)
    return admin_view(user)


# ---- passwords and small flags ----


@route("PUT", "/api/user/{id}/password")
def change_password(ctx: Ctx, id: int):
    _check_self_or_superuser(ctx, id)
    body = ctx.body
    password = body["password"]
    # Metabase's default complexity (:normal): at least 6 characters with a digit, and not a common password.
    if len(password) < 6 or not any(c.isdigit() for c in password) or password.lower() in COMMON_PASSWORDS:
        raise errors.invalid({"password": PASSWORD_ERROR}, {"password": [PASSWORD_ERROR]})
    user = _user_or_404(ctx, id, type="personal", is_active=True)
    if not ctx.is_superuser and not check_password(user, body.get("old_password") or ""):
        raise errors.checkp("old_password", "Invalid password")
    set_password(ctx.state, user, password)
    if id != ctx.user["id"]:
        return NO_CONTENT
    # Changing your own password ends your sessions and hands you a fresh one.
    key = new_uuid()
    ctx.state.sessions[key] = id
    resp = Response(200, {"success": True, "session_id": key})
    resp.headers["set-cookie"] = f"{SESSION_COOKIE}={key}; Path=/; HttpOnly; SameSite=Lax"
    return resp


@route("POST", "/api/user/{id}/password-reset-url")
def password_reset_url(ctx: Ctx, id: int):
    ctx.require_superuser()
    user = _user_or_404(ctx, id, type="personal", is_active=True)
    token = f"{id}_{new_uuid()}"
    user["reset_token"] = token
    site_url = ctx.state.settings.get("site-url") or "http://localhost:3000"
    return {"password_reset_url": f"{site_url}/auth/reset_password/{token}"}


@route("PUT", "/api/user/{id}/modal/{modal}")
def dismiss_modal(ctx: Ctx, id: int, modal: str):
    _check_self_or_superuser(ctx, id)
    user = _user_or_404(ctx, id, type="personal")
    touch(ctx.state, user, **{"is_qbnewb" if modal == "qbnewb" else "is_datasetnewb": False})
    return {"success": True}
