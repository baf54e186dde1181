"""Sandboxes (row-level security, EE): the GroupTableAccessPolicy rows, their checks, and their part of the data permissions graph."""

from __future__ import annotations

from typing import Any

from .. import errors, premium
from ..store import Row, State

TABLE = "sandboxes"

FEATURE, FEATURE_NAME = "sandboxes", "Sandboxes"


FIELDS = ("id", "group_id", "table_id", "card_id", "attribute_remappings", "permission_id")


UNIQUE = "unique_gtap_table_id_group_id"


COLUMN_TYPES = "Sandbox Questions can't return columns that have different types than the Table they are sandboxing."


# Enough of Metabase's base-type hierarchy to tell whether a question's column may stand for a table's column.
_PARENT = {
    "type/BigInteger": "type/Integer", "type/Integer": "type/Number", "type/Decimal": "type/Float",
    "type/Float": "type/Number", "type/DateTimeWithLocalTZ": "type/DateTimeWithTZ",
    "type/DateTimeWithTZ": "type/DateTime", "type/DateTime": "type/Temporal", "type/Date": "type/Temporal",
    "type/Time": "type/Temporal",
}


def sandbox_out(row: Row) -> dict[str, Any]:
    """The model's columns, as `t2/select :model/Sandbox` returns them (no hydration)."""
    return {k: row.get(k) for k in FIELDS}


def sandbox_or_404(state: State, sandbox_id: int) -> Row:
    row = state.table(TABLE).get(sandbox_id)
    if row is None:
        raise errors.not_found()
    return row


def _isa(child: str | None, ancestor: str) -> bool:
    seen = child
    while seen is not None:
        if seen == ancestor:
            return True
        seen = _PARENT.get(seen)
    return False


def check_columns_match_table(state: State, table_id: int | None, card_id: int | None) -> None:
    """A sandboxing question may drop or add columns, but a column it shares with the table keeps its type."""
    card = state.table("card").get(card_id) if card_id else None
    if not card or not card.get("result_metadata"):
        return  # not every sandbox has a question, not every question has saved result metadata
    table_types = {f["name"]: f.get("base_type") for f in state.table("metabase_field").where(table_id=table_id)}
    for col in card["result_metadata"]:
        expected = table_types.get(col.get("name"))
        if expected and not _isa(col.get("base_type"), expected):
            raise errors.ApiError(400, {"message": COLUMN_TYPES, "type": "bad-configuration",
                                        "expected": expected, "actual": col.get("base_type")})


def _check_refs(state: State, body: dict[str, Any]) -> None:
    """The foreign keys of a new row: Metabase's insert fails on the database's constraints."""
    for key, table in (("group_id", "permissions_group"), ("table_id", "metabase_table"), ("card_id", "card")):
        if body.get(key) is not None and state.table(table).get(body[key]) is None:
            raise errors.server_error(f"ERROR: insert or update on table \"sandboxes\" violates foreign key "
                                      f"constraint on \"{key}\": Key ({key})=({body[key]}) is not present.")
    if state.table(TABLE).first(group_id=body["group_id"], table_id=body["table_id"]):
        raise errors.server_error(f"ERROR: duplicate key value violates unique constraint \"{UNIQUE}\": Key "
                                  f"(table_id, group_id)=({body['table_id']}, {body['group_id']}) already exists.")


def create(state: State, body: dict[str, Any]) -> Row:
    """Insert a sandbox (POST /api/mt/gtap and the graph PUT's `sandboxes` items without an id)."""
    _check_refs(state, body)
    check_columns_match_table(state, body["table_id"], body.get("card_id"))
    # Like Metabase's before-insert: a sandboxed group loses native querying on the table's database (the data
    # permissions graph subscribes).
    table = state.table("metabase_table").existing(body["table_id"])  # _check_refs: it exists
    state.emit("sandbox.created", group_id=body["group_id"], db_id=table["db_id"])
    return state.table(TABLE).insert({
        "group_id": body["group_id"], "table_id": body["table_id"], "card_id": body.get("card_id"),
        "attribute_remappings": body.get("attribute_remappings"), "permission_id": None,
    })


def update(state: State, row: Row, body: dict[str, Any]) -> Row:
    """Only `card_id` and `attribute_remappings` change, and only those present in the body (null clears)."""
    changes = {k: body[k] for k in ("card_id", "attribute_remappings") if k in body}
    if changes.get("card_id"):
        check_columns_match_table(state, row["table_id"], changes["card_id"])
    if changes:
        row.update(changes)
    return row


def upsert(state: State, items: list[dict[str, Any]]) -> list[dict[str, Any] | None]:
    """The graph PUT's `sandboxes`: an item with an id updates that sandbox, one without creates one."""
    out: list[dict[str, Any] | None] = []
    for item in items:
        if item.get("id") is not None:
            row = state.table(TABLE).get(item["id"])
            out.append(sandbox_out(update(state, row, item)) if row else None)
        else:
            out.append(sandbox_out(create(state, item)))
    return out


def check_items(state: State, items: Any) -> None:
    """A graph PUT's `sandboxes` before anything is written (Metabase rolls the whole PUT back on an error)."""
    if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
        raise errors.bad_request("Cannot parse permissions graph because it is invalid: sandboxes must be a list of maps.")
    premium.require(state, FEATURE, FEATURE_NAME)
    for item in items:
        if item.get("id") is None:
            if not isinstance(item.get("group_id"), int) or not isinstance(item.get("table_id"), int):
                raise errors.bad_request("Cannot parse permissions graph because it is invalid: a new sandbox needs "
                                         "group_id and table_id.")
            _check_refs(state, item)
        table_id = item.get("table_id") or state.table(TABLE).value(item["id"], "table_id")
        check_columns_match_table(state, table_id, item.get("card_id"))


def tables_by_db(state: State, db_id: int) -> list[Row]:
    return [t for t in state.table("metabase_table").where(db_id=db_id) if t.get("active", True)]


def merge_into_graph(state: State, groups: dict[str, Any], *, group_ids: set[int] | None = None,
                     db_id: int | None = None) -> None:
    """Show each sandbox in an API graph as `view-data: sandboxed` on its table (add-sandboxes-to-permissions-graph).

    A database- or schema-level value is first spread over the tables it covers, so the others keep theirs.
    Only an instance with the feature does this; without it the graph shows what is stored.
    """
    if not premium.enabled(state, FEATURE):
        return
    table_rows = state.table("metabase_table")
    for sandbox in state.table(TABLE):
        table = table_rows.get(sandbox["table_id"])
        if table is None or (group_ids is not None and sandbox["group_id"] not in group_ids):
            continue
        if db_id is not None and table["db_id"] != db_id:
            continue
        perms = groups.setdefault(str(sandbox["group_id"]), {}).setdefault(str(table["db_id"]), {})
        schema = table.get("schema") or ""
        view = perms.get("view-data")
        if isinstance(view, str):
            spread: dict[str, dict[str, str]] = {}
            for t in tables_by_db(state, table["db_id"]):
                spread.setdefault(t.get("schema") or "", {})[str(t["id"])] = view
            view = spread
        elif isinstance(view, dict) and isinstance(view.get(schema), str):
            view = {**view, schema: {str(t["id"]): view[schema] for t in tables_by_db(state, table["db_id"])
                                     if (t.get("schema") or "") == schema}}
        view = dict(view or {})
        view[schema] = {**(view.get(schema) or {}), str(table["id"]): "sandboxed"}
        perms["view-data"] = view


def after_graph_change(state: State, changes: dict[str, Any]) -> None:
    """Sandboxes a graph PUT makes pointless are deleted (delete-gtaps-if-needed-after-permissions-change!):
    a database- or schema-level view-data value ends every sandbox under it, a table-level value other than
    `sandboxed` ends that table's."""
    if not premium.enabled(state, FEATURE):
        return
    table_rows = state.table("metabase_table")

    def drop(group_id: int, keep) -> None:
        for sandbox in state.table(TABLE).where(group_id=group_id):
            table = table_rows.get(sandbox["table_id"])
            if table is not None and not keep(table):
                state.table(TABLE).delete(sandbox["id"])

    for gid, dbs in changes.items():
        for dbid, perms in (dbs or {}).items():
            view = perms.get("view-data") if isinstance(perms, dict) else None
            if view is None:
                continue
            if not isinstance(view, dict):
                drop(int(gid), lambda t, d=int(dbid): t["db_id"] != d)
                continue
            for schema, value in view.items():
                if not isinstance(value, dict):
                    drop(int(gid), lambda t, d=int(dbid), s=schema: t["db_id"] != d or (t.get("schema") or "") != s)
                    continue
                ended = {int(tid) for tid, v in value.items() if v != "sandboxed"}
                drop(int(gid), lambda t, e=ended: t["id"] not in e)


def on_group_deleted(state: State, group: Row) -> None:
    """Called by the groups area: a group's sandboxes go with it (a foreign key with cascade)."""
    for sandbox in state.table(TABLE).where(group_id=group["id"]):
        state.table(TABLE).delete(sandbox["id"])


def on_tables_deleted(state: State) -> None:
    """Called after a database (and its tables) is deleted: their sandboxes go with them."""
    tables = state.table("metabase_table")
    for sandbox in state.table(TABLE).where(lambda s: tables.get(s["table_id"]) is None):
        state.table(TABLE).delete(sandbox["id"])
