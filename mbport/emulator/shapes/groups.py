"""What group answers look like: the group's columns, its active members, member counts."""

from __future__ import annotations

from typing import Any

from ..store import Row, State


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



def member_counts(state: State) -> dict[int, int]:
    user_table = state.table("user")
    counts: dict[int, int] = {}
    for m in state.table("permissions_group_membership"):
        if user_table.value(m["user_id"], "is_active"):
            counts[m["group_id"]] = counts.get(m["group_id"], 0) + 1
    return counts
