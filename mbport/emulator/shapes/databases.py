"""What database answers look like: connection secrets redacted, native permissions for the caller."""

from __future__ import annotations

from typing import Any

from ..models import permissions_graph
from ..models.databases import PROTECTED_PASSWORD, SENSITIVE_KEYS
from ..store import Row, State


def redact(details: dict[str, Any] | None) -> dict[str, Any] | None:
    if details is None:
        return None
    return {k: (PROTECTED_PASSWORD if k in SENSITIVE_KEYS and v is not None else v) for k, v in details.items()}



def db_out(user: Row | None, db: Row) -> dict:
    """The stored database with secrets replaced; users who cannot edit it get no details or settings at all."""
    out = dict(db)
    if user and user.get("is_superuser"):
        out["details"] = redact(db.get("details"))
    else:
        out.pop("details", None)
        out.pop("settings", None)
    return out



def present_db(state: State, user: Row | None, db: Row) -> dict:
    """A database as GET /api/database lists it: + native_permissions, can_upload, router_user_attribute."""
    return {**db_out(user, db), "native_permissions": _native_permissions(state, user, db["id"]), "can_upload": False,
            "router_user_attribute": None}



def _native_permissions(state: State, user: Row | None, db_id: int) -> str:
    """`write` when one of the user's groups may write SQL against the database (admins always may)."""
    if user is None or user.get("is_superuser"):
        return "write"
    graph = permissions_graph.api_graph(state, db_id=db_id)
    memberships = state.table("permissions_group_membership").where(user_id=user["id"])
    group_ids = {str(m["group_id"]) for m in memberships}
    for group_id, dbs in graph.get("groups", {}).items():
        perms = {str(k): v for k, v in dbs.items()}.get(str(db_id)) or {}
        if str(group_id) in group_ids and perms.get("create-queries") == "query-builder-and-native":
            return "write"
    return "none"



def visible_tables(state: State, db_id: int) -> list[Row]:
    rows = state.table("metabase_table").where(lambda t: t["visibility_type"] is None, db_id=db_id, active=True)
    return sorted(rows, key=lambda t: ((t["display_name"] or t["name"]).lower(), t["id"]))



def schema_str(table: dict) -> dict:
    # Metabase renders a null schema as "" where it hydrates tables onto a database (`(update table :schema str)`).
    return {**table, "schema": table["schema"] or ""}
