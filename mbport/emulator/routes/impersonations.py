"""EE connection impersonation: /api/ee/advanced-permissions/impersonation, and its part in the permissions graph.

Metabase serves these routes only with the `advanced_permissions` token feature (402 otherwise), and only to
admins. An impersonation makes a group's queries on one database run as the database role named by a user
attribute (`attribute`). There is no create or update route: they are written through `impersonations` in the
graph PUT (each item replaces the pair's row, so a new id). What the emulator does not do is switch roles.
"""

from __future__ import annotations

from typing import Any

from .. import errors, premium
from ..app import NO_CONTENT, Ctx
from ..router import route
from ..store import Row, State

FEATURE, FEATURE_NAME = "advanced_permissions", "Connection impersonation"
TABLE = "connection_impersonations"
FIELDS = ("id", "db_id", "group_id", "attribute")


def impersonation_out(row: Row) -> dict[str, Any]:
    return {k: row.get(k) for k in FIELDS}


def _check(ctx: Ctx) -> None:
    premium.require(ctx.state, FEATURE, FEATURE_NAME)
    ctx.require_superuser()


# ---------------------------------------------------------------- /api/ee/advanced-permissions/impersonation

@route("GET", "/api/ee/advanced-permissions/impersonation")
def list_impersonations(ctx: Ctx):
    """Every impersonation by id; with both `group_id` and `db_id`, that one (no content if none).
    Either filter alone is ignored, as in Metabase."""
    _check(ctx)
    group_id, db_id = ctx.query.get("group_id"), ctx.query.get("db_id")
    rows = ctx.state.table(TABLE)
    if group_id and db_id:
        found = rows.first(group_id=group_id, db_id=db_id)
        return impersonation_out(found) if found else NO_CONTENT
    return [impersonation_out(r) for r in sorted(rows, key=lambda r: r["id"])]


@route("DELETE", "/api/ee/advanced-permissions/impersonation/{id}")
def delete_impersonation(ctx: Ctx, id: int):  # noqa: A002 - the spec's path parameter
    _check(ctx)
    if ctx.state.table(TABLE).get(id) is None:
        raise errors.not_found()
    ctx.state.table(TABLE).delete(id)
    return NO_CONTENT


# ---------------------------------------------------------------- the permissions graph's side

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
