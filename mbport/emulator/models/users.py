"""Users and group memberships: the User and PermissionsGroupMembership models' rules (magic groups, last admin)."""

from __future__ import annotations

import hashlib
import re
import secrets
from typing import Any

from .. import errors
from ..store import Row, State
from . import collections
from .groups import ADMIN, ALL_TENANT_USERS, ALL_USERS, find_magic_group, magic_group  # noqa: F401 (read through users by other areas)

ALL_USERS_LOCKED = "You cannot add or remove users to/from the 'All Users' group."
ALL_TENANT_USERS_LOCKED = "You cannot add or remove users to/from the 'All tenant users' group."
TENANCY_MISMATCH = "Cannot add non-tenant user to tenant-group or vice versa"


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
    login_attributes: dict | None = None, tenant_id: int | None = None,
) -> Row:
    """Insert a user with an explicit All Users membership (and Administrators when superuser); a tenant user joins
    All tenant users instead (users/api.clj `reset-magic-group-membership!`: one magic group by tenancy).

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
        "jwt_attributes": None, "sso_source": None, "tenant_id": tenant_id, "date_joined": now, "last_login": None,
        "reset_token": None,
    }, now=now)
    memberships = state.table("permissions_group_membership")
    memberships.insert({"user_id": user["id"], "group_id": default_group_id(state, user), "is_group_manager": False})
    if superuser:
        memberships.insert({"user_id": user["id"], "group_id": magic_group(state, ADMIN)["id"], "is_group_manager": False})
    if user_type == "personal":
        personal_collection_id(state, user)
    return user


def personal_collection_id(state: State, user: Row) -> int | None:
    """The user's personal collection id, creating the collection on first use like older builds do."""
    if user.get("type") != "personal":
        return None
    found = state.table("collection").first(personal_owner_id=user["id"])
    if found is None:
        found = collections.create_personal_collection(state, user)
    return found["id"] if found else None


def group_ids(state: State, user_id: int) -> list[int]:
    return sorted(m["group_id"] for m in state.table("permissions_group_membership").where(user_id=user_id))


def _is_admin_group(state: State, group_id: int) -> bool:
    return group_id == magic_group(state, ADMIN)["id"]


def default_group_id(state: State, user: Row) -> int:
    """The magic group every user is in: All Users, or All tenant users for a tenant user."""
    return magic_group(state, ALL_TENANT_USERS if user.get("tenant_id") is not None else ALL_USERS)["id"]


def check_not_all_users(state: State, group_id: int) -> None:
    """permissions_group_membership.clj `check-not-all-users-group`, `check-not-all-external-users-group`."""
    if group_id == magic_group(state, ALL_USERS)["id"]:
        raise errors.bad_request(ALL_USERS_LOCKED)
    tenant_users = find_magic_group(state, ALL_TENANT_USERS)
    if tenant_users is not None and group_id == tenant_users["id"]:
        raise errors.bad_request(ALL_TENANT_USERS_LOCKED)


def reset_magic_membership(state: State, user: Row) -> None:
    """users/api.clj `reset-magic-group-membership!` (a user's tenant changes): every membership goes, and the user
    joins the magic group of their tenancy."""
    memberships = state.table("permissions_group_membership")
    for m in memberships.where(user_id=user["id"]):
        memberships.delete(m["id"])
    memberships.insert({"user_id": user["id"], "group_id": default_group_id(state, user), "is_group_manager": False})


def check_not_last_admin(state: State, user_id: int) -> None:
    """Some other active user must stay in Administrators."""
    users = state.table("user")
    admin_id = magic_group(state, ADMIN)["id"]
    others = [
        m for m in state.table("permissions_group_membership").where(group_id=admin_id)
        if m["user_id"] != user_id and users.value(m["user_id"], "is_active")
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
    # permissions_group_membership.clj `add-users-to-groups!`: a tenant user joins tenant groups only, and vice versa.
    tenant_group = bool(state.table("permissions_group").existing(group_id).get("is_tenant_group"))
    if tenant_group != (state.table("user").existing(user_id).get("tenant_id") is not None):
        raise errors.bad_request(TENANCY_MISMATCH)


def add_membership(state: State, user_id: int, group_id: int, is_group_manager: bool = False) -> Row:
    """Join a group; joining Administrators makes the user a superuser. All Users cannot be joined by hand."""
    check_not_all_users(state, group_id)
    _check_can_insert(state, user_id, group_id)
    row = state.table("permissions_group_membership").insert(
        {"user_id": user_id, "group_id": group_id, "is_group_manager": is_group_manager})
    if _is_admin_group(state, group_id):
        touch(state, state.table("user").get(user_id), is_superuser=True)
    return row


def remove_membership(state: State, membership: Row) -> None:
    """Leave a group; leaving Administrators drops superuser, but the last admin cannot leave."""
    check_not_all_users(state, membership["group_id"])
    if _is_admin_group(state, membership["group_id"]):
        check_not_last_admin(state, membership["user_id"])
        touch(state, state.table("user").get(membership["user_id"]), is_superuser=False)
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
        touch(state, user, is_superuser=admin_id in target)


def touch(state: State, user: Row | None, **changes: Any) -> None:
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
    touch(state, user, is_superuser=superuser)


def deactivate(state: State, user: Row) -> None:
    """Deactivate (never delete) a user; the last admin cannot go, and subscriptions lose the recipient."""
    if not user["is_active"]:
        return
    if magic_group(state, ADMIN)["id"] in group_ids(state, user["id"]):
        check_not_last_admin(state, user["id"])
    touch(state, user, is_active=False)
    state.emit("user.deactivated", user=user)


def stringify_attributes(attrs: dict | None) -> dict | None:
    if attrs is None:
        return None
    return {k: v if isinstance(v, str) else ("true" if v is True else "false" if v is False else str(v))
            for k, v in attrs.items()}


def check_email(email: Any) -> str:
    if not isinstance(email, str) or not EMAIL_RE.fullmatch(email):
        raise errors.invalid({"email": BAD_EMAIL}, {"email": [BAD_EMAIL]})
    return email


def email_taken(state: State, email: str, except_id: int | None = None) -> bool:
    return state.table("user").first(lambda r: r["email"].lower() == email.lower() and r["id"] != except_id) is not None


def rename_personal_collection(state: State, user: Row) -> None:
    collection = state.table("collection").first(personal_owner_id=user["id"])
    if collection is not None:
        collection["name"] = f"{user['common_name']}'s Personal Collection"


COMMON_PASSWORDS = frozenset({"password1", "passw0rd", "123456", "12345678", "qwerty1", "letmein1", "abc123"})


PASSWORD_ERROR = "password is too common."
