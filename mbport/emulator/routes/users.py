"""Users: /api/user (the people area helper fills in the endpoints; create_user is used by setup)."""

from __future__ import annotations

import hashlib
import secrets

from ..store import Row, State

ALL_USERS = "all-internal-users"
ADMIN = "admin"


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


def create_user(
    state: State, *, email: str, first_name: str | None = None, last_name: str | None = None,
    password: str | None = None, superuser: bool = False, user_type: str = "personal",
    login_attributes: dict | None = None,
) -> Row:
    """Insert a user with an explicit All Users membership (and Administrators when superuser)."""
    salt = secrets.token_hex(8)
    now = state.now()
    user = state.table("user").insert({
        "email": email, "first_name": first_name, "last_name": last_name,
        "common_name": " ".join(x for x in (first_name, last_name) if x) or email,
        "password_salt": salt, "password_hash": _hash(password or secrets.token_urlsafe(24), salt),
        "is_superuser": superuser, "is_active": True, "is_qbnewb": True, "is_data_analyst": False,
        "type": user_type, "locale": None, "login_attributes": login_attributes, "jwt_attributes": None,
        "sso_source": None, "tenant_id": None, "date_joined": now, "last_login": None,
    }, now=now)
    memberships = state.table("permissions_group_membership")
    memberships.insert({"user_id": user["id"], "group_id": magic_group(state, ALL_USERS)["id"], "is_group_manager": False})
    if superuser:
        memberships.insert({"user_id": user["id"], "group_id": magic_group(state, ADMIN)["id"], "is_group_manager": False})
    return user
