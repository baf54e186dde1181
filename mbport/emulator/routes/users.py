"""Users and group memberships: /api/user, plus the membership rules (magic groups, last admin) other areas share."""

from __future__ import annotations

import hashlib
import re
import secrets
from typing import Any

from .. import errors
from ..app import NO_CONTENT, SESSION_COOKIE, Ctx, Response
from ..router import route
from ..store import Row, State, new_uuid

ALL_USERS = "all-internal-users"
ADMIN = "admin"

ALL_USERS_LOCKED = "You cannot add or remove users to/from the 'All Users' group."
LAST_ADMIN = "You cannot remove the last member of the 'Admin' group!"
BAD_EMAIL = "value must be a valid email address."
EMAIL_RE = re.compile(
    r"[a-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[a-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
    r"@(?:[a-z0-9](?:[a-z0-9-]*[a-z0-9])?\.)+[a-z0-9](?:[a-z0-9-]*[a-z0-9])?",
    re.IGNORECASE,
)
# users/models/user.clj admin-or-self-visible-columns, plus the columns 0.61 adds to them.
ADMIN_VISIBLE = (
    "id", "email", "date_joined", "first_name", "last_name", "last_login", "is_superuser", "is_qbnewb", "tenant_id",
    "sso_source", "is_active", "updated_at", "login_attributes", "jwt_attributes", "locale", "is_data_analyst",
    "common_name",
)
NON_ADMIN_VISIBLE = ("id", "email", "first_name", "last_name", "common_name")


def init_state(state: State) -> None:
    """A fresh Metabase has exactly two groups: All Users and Administrators (magic_group_type set)."""
    groups = state.table("permissions_group")
    if not groups.rows:
        groups.insert({"name": "All Users", "magic_group_type": ALL_USERS, "is_tenant_group": False})
        groups.insert({"name": "Administrators", "magic_group_type": ADMIN, "is_tenant_group": False})


def magic_group(state: State, kind: str) -> Row:
    return state.table("permissions_group").first(magic_group_type=kind)


def _hash(password: str, salt: str) -> str:
    return hashlib.sha256((salt + password).encode()).hexdigest()


def check_password(user: Row, password: str) -> bool:
    return bool(password) and _hash(password, user["password_salt"]) == user["password_hash"]


def set_password(state: State, user: Row, password: str) -> None:
    """Store a new password and end the user's sessions, as Metabase's set-password! does."""
    user["password_salt"] = secrets.token_hex(8)
    user["password_hash"] = _hash(password, user["password_salt"])
    user["reset_token"] = None
    for key, user_id in list(state.sessions.items()):
        if user_id == user["id"]:
            del state.sessions[key]


def common_name(first_name: str | None, last_name: str | None, email: str) -> str:
    return " ".join(x for x in (first_name, last_name) if x).strip() or email


def create_user(
    state: State, *, email: str, first_name: str | None = None, last_name: str | None = None,
    password: str | None = None, superuser: bool = False, user_type: str = "personal",
    login_attributes: dict | None = None,
) -> Row:
    """Insert a user with an explicit All Users membership (and Administrators when superuser).

    Emails are stored lower-cased; personal users get their personal collection right away.
    """
    salt = secrets.token_hex(8)
    now = state.now()
    email = email.lower()
    user = state.table("user").insert({
        "email": email, "first_name": first_name, "last_name": last_name,
        "common_name": common_name(first_name, last_name, email),
        "password_salt": salt, "password_hash": _hash(password or secrets.token_urlsafe(24), salt),
        "is_superuser": superuser, "is_active": True, "is_qbnewb": True, "is_datasetnewb": True,
        "is_data_analyst": False, "type": user_type, "locale": None, "login_attributes": login_attributes,
        "jwt_attributes": None, "sso_source": None, "tenant_id": None, "date_joined": now, "last_login": None,
        "reset_token": None,
    }, now=now)
    memberships = state.table("permissions_group_membership")
    memberships.insert({"user_id": user["id"], "group_id": magic_group(state, ALL_USERS)["id"], "is_group_manager": False})
    if superuser:
        memberships.insert({"user_id": user["id"], "group_id": magic_group(state, ADMIN)["id"], "is_group_manager": False})
    if user_type == "personal":
        personal_collection_id(state, user)
    return user


def creator(state: State, user_id: int | None) -> Row | None:
    """The hydrated `creator` map that cards, dashboards, snippets, pulses ... carry (recorded shape)."""
    user = state.table("user").get(user_id) if user_id else None
    if user is None:
        return None
    keys = ("email", "first_name", "last_login", "is_qbnewb", "is_superuser", "id", "last_name", "tenant_id",
            "date_joined", "common_name")
    return {k: user.get(k) for k in keys}


def personal_collection_id(state: State, user: Row) -> int | None:
    """The user's personal collection id, creating the collection on first use like older builds do."""
    if user.get("type") != "personal":
        return None
    found = state.table("collection").first(personal_owner_id=user["id"])
    if found is None:
        try:
            from . import collections
        except ImportError:
            return None
        create = getattr(collections, "create_personal_collection", None)
        found = create(state, user) if create else None
    return found["id"] if found else None


# ---- memberships: the PermissionsGroupMembership model's rules ----

def group_ids(state: State, user_id: int) -> list[int]:
    return sorted(m["group_id"] for m in state.table("permissions_group_membership").where(user_id=user_id))


def _is_admin_group(state: State, group_id: int) -> bool:
    return group_id == magic_group(state, ADMIN)["id"]


def check_not_all_users(state: State, group_id: int) -> None:
    if group_id == magic_group(state, ALL_USERS)["id"]:
        raise errors.bad_request(ALL_USERS_LOCKED)


def check_not_last_admin(state: State, user_id: int) -> None:
    """Some other active user must stay in Administrators."""
    users = state.table("user")
    admin_id = magic_group(state, ADMIN)["id"]
    others = [
        m for m in state.table("permissions_group_membership").where(group_id=admin_id)
        if m["user_id"] != user_id and (users.get(m["user_id"]) or {}).get("is_active")
    ]
    if not others:
        raise errors.bad_request(LAST_ADMIN)


def _check_can_insert(state: State, user_id: int, group_id: int) -> None:
    if state.table("permissions_group").get(group_id) is None or state.table("user").get(user_id) is None:
        # Metabase inserts with INSERT ... SELECT and fails the transaction when a row is missing.
        raise errors.server_error("Error inserting Permissions Group Membership")
    if state.table("permissions_group_membership").first(user_id=user_id, group_id=group_id):
        raise errors.server_error(
            "ERROR: duplicate key value violates unique constraint "
            "\"unique_permissions_group_membership_user_id_group_id\""
        )


def add_membership(state: State, user_id: int, group_id: int, is_group_manager: bool = False) -> Row:
    """Join a group; joining Administrators makes the user a superuser. All Users cannot be joined by hand."""
    check_not_all_users(state, group_id)
    _check_can_insert(state, user_id, group_id)
    row = state.table("permissions_group_membership").insert(
        {"user_id": user_id, "group_id": group_id, "is_group_manager": is_group_manager})
    if _is_admin_group(state, group_id):
        _touch(state, state.table("user").get(user_id), is_superuser=True)
    return row


def remove_membership(state: State, membership: Row) -> None:
    """Leave a group; leaving Administrators drops superuser, but the last admin cannot leave."""
    check_not_all_users(state, membership["group_id"])
    if _is_admin_group(state, membership["group_id"]):
        check_not_last_admin(state, membership["user_id"])
        _touch(state, state.table("user").get(membership["user_id"]), is_superuser=False)
    state.table("permissions_group_membership").delete(membership["id"])


def set_groups(state: State, user: Row, wanted: list[int], *, allow_all_users: bool = False) -> None:
    """Make the user's memberships exactly `wanted` (set-permissions-groups!), checking every rule before writing."""
    current = set(group_ids(state, user["id"]))
    target = set(wanted)
    to_remove, to_add = current - target, target - current
    for gid in to_remove | to_add:
        if not allow_all_users:
            check_not_all_users(state, gid)
    for gid in to_add:
        _check_can_insert(state, user["id"], gid)
    admin_id = magic_group(state, ADMIN)["id"]
    if admin_id in to_remove:
        check_not_last_admin(state, user["id"])
    memberships = state.table("permissions_group_membership")
    for m in memberships.where(lambda r: r["group_id"] in to_remove, user_id=user["id"]):
        memberships.delete(m["id"])
    for gid in sorted(to_add):
        memberships.insert({"user_id": user["id"], "group_id": gid, "is_group_manager": False})
    if admin_id in to_add or admin_id in to_remove:
        _touch(state, user, is_superuser=admin_id in target)


def _touch(state: State, user: Row | None, **changes: Any) -> None:
    if user is None:
        return
    if any(user.get(k) != v for k, v in changes.items()):
        user.update(changes)
        user["updated_at"] = state.now()


def set_superuser(state: State, user: Row, superuser: bool) -> None:
    """is_superuser and Administrators membership are one fact: changing one changes the other."""
    admin_id = magic_group(state, ADMIN)["id"]
    membership = state.table("permissions_group_membership").first(user_id=user["id"], group_id=admin_id)
    if superuser and membership is None:
        add_membership(state, user["id"], admin_id)
    elif not superuser and membership is not None:
        remove_membership(state, membership)
    _touch(state, user, is_superuser=superuser)


def deactivate(state: State, user: Row) -> None:
    """Deactivate (never delete) a user; the last admin cannot go, and subscriptions lose the recipient."""
    if not user["is_active"]:
        return
    if magic_group(state, ADMIN)["id"] in group_ids(state, user["id"]):
        check_not_last_admin(state, user["id"])
    _touch(state, user, is_active=False)
    try:
        from . import pulses
    except ImportError:
        return
    remove_recipient = getattr(pulses, "remove_recipient", None)
    if remove_recipient:
        remove_recipient(state, user["id"])


# ---- response shapes ----

def _columns(user: Row, keys: tuple[str, ...]) -> dict[str, Any]:
    return {k: user.get(k) for k in keys}


def user_group_memberships(state: State, user_id: int) -> list[dict[str, int]]:
    # is_group_manager only appears with advanced-permissions (EE), so OSS answers bare ids.
    return [{"id": gid} for gid in group_ids(state, user_id)]


def admin_view(user: Row) -> dict[str, Any]:
    return _columns(user, ADMIN_VISIBLE)


def with_memberships(state: State, user: Row) -> dict[str, Any]:
    return {**admin_view(user), "user_group_memberships": user_group_memberships(state, user["id"])}


def structured_attributes(user: Row) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for source, attrs in (("jwt", user.get("jwt_attributes")), ("user", user.get("login_attributes"))):
        for key, value in (attrs or {}).items():
            entry = {"source": source, "frozen": False, "value": value}
            if key in out:
                entry["original"] = out[key]
            out[key] = entry
    return out


def _list_item(state: State, user: Row) -> dict[str, Any]:
    return {**admin_view(user), "group_ids": group_ids(state, user["id"]),
            "personal_collection_id": personal_collection_id(state, user), "tenant_collection_id": None}


def _sort_key(*fields: str):
    # SQL's ORDER BY lower(x) puts NULL names last.
    def key(user: Row) -> tuple:
        parts = []
        for f in fields:
            value = user.get(f)
            parts.append((value is None, (value or "").lower()))
        return (*parts, user["id"])
    return key


def _stringify_attributes(attrs: dict | None) -> dict | None:
    if attrs is None:
        return None
    return {k: v if isinstance(v, str) else ("true" if v is True else "false" if v is False else str(v))
            for k, v in attrs.items()}


def _check_email(email: Any) -> str:
    if not isinstance(email, str) or not EMAIL_RE.fullmatch(email):
        raise errors.invalid({"email": BAD_EMAIL}, {"email": [BAD_EMAIL]})
    return email


def _email_taken(state: State, email: str, except_id: int | None = None) -> bool:
    return state.table("user").first(lambda r: r["email"].lower() == email.lower() and r["id"] != except_id) is not None


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
        "data": [_list_item(ctx.state, u) for u in ctx.page(users)],
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
        "data": [_columns(u, keys) for u in users],
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
    email = _check_email(body.get("email"))
    if _email_taken(state, email):
        raise errors.checkp("email", "Email address already in use.")
    if body.get("tenant_id") is not None:
        raise errors.checkp("tenant_id", "Cannot create a Tenant User as Tenants are not enabled for this instance.")
    wanted = _membership_ids(body)
    all_users_id = magic_group(state, ALL_USERS)["id"]
    # Metabase creates the user then sets the groups inside one transaction; check first so a failure leaves no user.
    if wanted is not None and set(wanted) != {all_users_id}:
        for gid in set(wanted) ^ {all_users_id}:
            check_not_all_users(state, gid)
            if state.table("permissions_group").get(gid) is None:
                raise errors.server_error("Error inserting Permissions Group Membership")
    password = body.get("password")  # undeclared in the spec, honoured by invite-user
    user = create_user(
        state, email=email, first_name=body.get("first_name"), last_name=body.get("last_name"),
        password=password if isinstance(password, str) and password else None,
        login_attributes=_stringify_attributes(body.get("login_attributes")),
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
        _check_email(email)
        if _email_taken(state, email, except_id=id):
            raise errors.checkp("email", "Email address already associated to another user.")
    wanted = _membership_ids(body)
    admin_id = magic_group(state, ADMIN)["id"]
    if wanted is not None and body.get("is_superuser") is not None and body["is_superuser"] != (admin_id in wanted):
        raise errors.checkp(
            "is_superuser", "Value of is_superuser must correspond to presence of Admin group ID in group_ids.")
    if wanted is not None and set(wanted) != set(group_ids(state, id)):
        ctx.require_superuser()
    if body.get("tenant_id") is not None and ctx.is_superuser:
        raise errors.bad_request("Cannot add a user to a tenant as Tenants are not enabled for this instance.")

    changes = {k: body[k] for k in ("first_name", "last_name", "locale") if k in body}
    if ctx.is_superuser and "login_attributes" in body:
        changes["login_attributes"] = _stringify_attributes(body["login_attributes"])
    if email is not None:
        changes["email"] = email.lower()
    if ctx.is_superuser and body.get("is_superuser") is not None and wanted is None:
        set_superuser(state, user, body["is_superuser"])
    if wanted is not None:
        set_groups(state, user, wanted)
    if changes:
        _touch(state, user, **changes)
        user["common_name"] = common_name(user["first_name"], user["last_name"], user["email"])
        _rename_personal_collection(state, user)
    return with_memberships(state, user)


def _rename_personal_collection(state: State, user: Row) -> None:
    collection = state.table("collection").first(personal_owner_id=user["id"])
    if collection is not None:
        collection["name"] = f"{user['common_name']}'s Personal Collection"


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
    _touch(ctx.state, user, is_active=True)
    return admin_view(user)


# ---- passwords and small flags ----

COMMON_PASSWORDS = frozenset({"password1", "passw0rd", "123456", "12345678", "qwerty1", "letmein1", "abc123"})
PASSWORD_ERROR = "password is too common."


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
    _touch(ctx.state, user, **{"is_qbnewb" if modal == "qbnewb" else "is_datasetnewb": False})
    return {"success": True}
