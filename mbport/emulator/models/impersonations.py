"""Connection impersonations (EE): one database role attribute per group and database, and their part of the data permissions graph."""

from __future__ import annotations

from typing import Any

from .. import errors, premium
from ..store import Row, State

TABLE = "connection_impersonations"

FEATURE, FEATURE_NAME = "advanced_permissions", "Connection impersonation"


FIELDS = ("id", "db_id", "group_id", "attribute")


def impersonation_out(row: Row) -> dict[str, Any]:
    return {k: row.get(k) for k in FIELDS}


def check_items(state: State, items: Any) -> None:
    """A graph PUT's `impersonations` before anything is written (Metabase rolls the whole PUT back on an error)."""
    if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
        raise errors.bad_request("Cannot parse permissions graph because it is invalid: impersonations must be a "
                                 "list of maps.")
    premium.require(state, FEATURE, FEATURE_NAME)
    for item in items:
        if (not isinstance(item.get("group_id"), int) or not isinstance(item.get("db_id"), int)
                or not isinstance(item.get("attribute"), str)):
            raise errors.bad_request("Cannot parse permissions graph because it is invalid: an impersonation needs "
                                     "group_id, db_id and attribute.")
        for key, table in (("group_id", "permissions_group"), ("db_id", "metabase_database")):
            if state.table(table).get(item[key]) is None:
                raise errors.server_error(f"ERROR: insert or update on table \"{TABLE}\" violates foreign key "
                                          f"constraint on \"{key}\": Key ({key})=({item[key]}) is not present.")


def insert(state: State, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """insert-impersonations!: each item replaces the (group, database) pair's row, so it gets a new id."""
    rows = state.table(TABLE)
    out = []
    for item in items:
        for old in rows.where(group_id=item["group_id"], db_id=item["db_id"]):
            rows.delete(old["id"])
        out.append(impersonation_out(rows.insert(
            {"group_id": item["group_id"], "db_id": item["db_id"], "attribute": item["attribute"]})))
    return out


def merge_into_graph(state: State, groups: dict[str, Any], *, group_ids: set[int] | None = None,
                     db_id: int | None = None, db_ids: set[int] | None = None) -> None:
    """Show each impersonation in an API graph as database-level `view-data: impersonated`
    (add-impersonations-to-permissions-graph). Only an instance with the feature does this."""
    if not premium.enabled(state, FEATURE):
        return
    for row in state.table(TABLE):
        if group_ids is not None and row["group_id"] not in group_ids:
            continue
        if (db_id is not None and row["db_id"] != db_id) or (db_ids is not None and row["db_id"] not in db_ids):
            continue
        groups.setdefault(str(row["group_id"]), {}).setdefault(str(row["db_id"]), {})["view-data"] = "impersonated"


def after_graph_change(state: State, changes: dict[str, Any]) -> None:
    """delete-impersonations-if-needed-after-permissions-change!: a (group, database) whose view-data changes to
    anything but `impersonated` (another value, or per-schema/table values) loses its impersonation."""
    if not premium.enabled(state, FEATURE):
        return
    rows = state.table(TABLE)
    for gid, dbs in changes.items():
        for dbid, perms in (dbs or {}).items():
            view = perms.get("view-data") if isinstance(perms, dict) else None
            if view is not None and view != "impersonated":
                for row in rows.where(group_id=int(gid), db_id=int(dbid)):
                    rows.delete(row["id"])


def on_deleted(state: State, *, group_id: int | None = None, db_id: int | None = None) -> None:
    """A deleted group's or database's impersonations go with it (foreign keys with cascade)."""
    rows = state.table(TABLE)
    for row in list(rows):
        if row["group_id"] == group_id or row["db_id"] == db_id:
            rows.delete(row["id"])
