"""What user maps look like in answers: the admin/self view, memberships, the `creator` other kinds carry."""

from __future__ import annotations

from typing import Any

from ..models.users import ADMIN_VISIBLE, group_ids, personal_collection_id
from ..store import Row, State


def creator(state: State, user_id: int | None) -> dict[str, Any] | None:
    """The hydrated `creator` map that cards, dashboards, snippets, pulses ... carry (recorded shape)."""
    user = state.table("user").get(user_id) if user_id else None
    if user is None:
        return None
    keys = ("email", "first_name", "last_login", "is_qbnewb", "is_superuser", "id", "last_name", "tenant_id",
            "date_joined", "common_name")
    return {k: user.get(k) for k in keys}


def columns(user: Row, keys: tuple[str, ...]) -> dict[str, Any]:
    return {k: user.get(k) for k in keys}


def user_group_memberships(state: State, user_id: int) -> list[dict[str, int]]:
    # is_group_manager only appears with advanced-permissions (EE), so OSS answers bare ids.
    return [{"id": gid} for gid in group_ids(state, user_id)]


def admin_view(user: Row) -> dict[str, Any]:
    return columns(user, ADMIN_VISIBLE)


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


def list_item(state: State, user: Row) -> dict[str, Any]:
    return {**admin_view(user), "group_ids": group_ids(state, user["id"]),
            "personal_collection_id": personal_collection_id(state, user), "tenant_collection_id": None}
