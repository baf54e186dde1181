"""Fields: the Field model's rules (coercions, remappings, field values scanned from the warehouse on first use)."""

from __future__ import annotations

import sqlite3
from typing import Any

from .. import errors, sync
from ..store import Row, State

_TEXT, _INTS = {"type/Text"}, {"type/Integer", "type/BigInteger"}
COERCIONS: dict[str, tuple[set[str], str]] = {
    "Coercion/UNIXSeconds->DateTime": (_INTS | {"type/Float", "type/Decimal"}, "type/Instant"),
    "Coercion/UNIXMilliSeconds->DateTime": (_INTS | {"type/Float", "type/Decimal"}, "type/Instant"),
    "Coercion/UNIXMicroSeconds->DateTime": (_INTS | {"type/Float", "type/Decimal"}, "type/Instant"),
    "Coercion/UNIXNanoSeconds->DateTime": (_INTS | {"type/Float", "type/Decimal"}, "type/Instant"),
    "Coercion/ISO8601->DateTime": (_TEXT, "type/DateTime"),
    "Coercion/ISO8601->Date": (_TEXT, "type/Date"),
    "Coercion/ISO8601->Time": (_TEXT, "type/Time"),
    "Coercion/YYYYMMDDHHMMSSString->Temporal": (_TEXT, "type/DateTime"),
    "Coercion/String->Float": (_TEXT, "type/Float"),
    "Coercion/String->Integer": (_TEXT, "type/Integer"),
    "Coercion/Float->Integer": ({"type/Float", "type/Decimal"}, "type/Integer"),
    "Coercion/DateTime->Date": ({"type/DateTime", "type/Instant"}, "type/Date"),
}


VALUES_ONLY_FOR_LISTS = ("You can only update the human readable values of a mapped values of a Field whose value of "
                         "`has_field_values` is `list` or whose 'base_type' is 'type/Boolean'.")


def get_field_or_404(state: State, field_id: int) -> Row:
    field = state.table("metabase_field").get(field_id)
    if field is None:
        raise errors.not_found()
    return field


def keyword(value: Any) -> Any:
    # Metabase accepts keywords written either way (":type/PK" or "type/PK").
    return value[1:] if isinstance(value, str) and value.startswith(":") else value


def coercion_for(field: Row, body: dict) -> tuple[str, str | None]:
    """(effective_type, coercion_strategy) after a PUT, checked like Metabase (400 when incompatible)."""
    if "coercion_strategy" not in body:
        return field["effective_type"] or field["base_type"], field["coercion_strategy"]
    strategy = body["coercion_strategy"]
    if strategy is None:
        return field["base_type"], None
    if strategy not in COERCIONS:
        text = "value must be a valid coercion strategy (keyword or string)."
        raise errors.invalid({"coercion_strategy": f"nullable {text}"}, {"coercion_strategy": [text]})
    bases, effective = COERCIONS[strategy]
    if field["base_type"] not in bases:
        raise errors.ApiError(400, {"message": "Incompatible coercion strategy.", "base-type": field["base_type"],
                                    "coercion-strategy": strategy, "effective-type": effective})
    return effective, strategy


def drop_stale_dimensions(state: State, field: Row, new_semantic: str | None, removed_fk: bool) -> None:
    """An FK remapping goes when the FK does; an internal one when the type no longer allows it."""
    internal_ok = field["base_type"] in ("type/Integer", "type/BigInteger") and new_semantic in (None, "type/Category", "type/Enum")
    for dim in state.table("dimension").where(field_id=field["id"]):
        if (removed_fk and dim["type"] == "external") or (dim["type"] == "internal" and not internal_ok):
            state.table("dimension").delete(dim["id"])


def has_list(field: Row) -> bool:
    return field["has_field_values"] == "list" or field["base_type"] == "type/Boolean"


def _field_location(state: State, field: Row) -> tuple[Row, Row] | None:
    table = state.table("metabase_table").get(field["table_id"])
    db = state.table("metabase_database").get(table["db_id"]) if table else None
    return (table, db) if table and db else None


def ensure_field_values(state: State, field: Row) -> Row | None:
    """The field's stored values, scanned from the warehouse on first use (as Metabase creates them lazily)."""
    values = state.table("field_values").first(field_id=field["id"], type="full")
    if values is not None or not has_list(field):
        return values
    scanned: list[Any] = []
    has_more = False
    located = _field_location(state, field)
    path = sync.sqlite_file(located[1]) if located else None
    if located and path:
        try:
            scanned, has_more = sync.distinct_values(path, located[0]["name"], field["name"])
        except (sync.SyncError, sqlite3.Error):
            pass
    return state.table("field_values").insert({
        "field_id": field["id"], "type": "full", "values": scanned, "human_readable_values": [],
        "has_more_values": has_more, "hash_key": None, "last_used_at": state.now(),
    }, now=state.now())


def rescan(state: State, fields: list[Row]) -> None:
    """Re-read the values of list fields, keeping the human-readable labels users set for values still present."""
    for field in fields:
        old = state.table("field_values").first(field_id=field["id"], type="full")
        labels = dict(zip(old["values"], old.get("human_readable_values") or [], strict=False)) if old else {}
        if old:
            state.table("field_values").delete(old["id"])
        fresh = ensure_field_values(state, field)
        if fresh is not None and labels and all(v in labels for v in fresh["values"]):
            fresh["human_readable_values"] = [labels[v] for v in fresh["values"]]


def discard(state: State, field_ids: list[int]) -> None:
    wanted = set(field_ids)
    for row in state.table("field_values").where(lambda r: r["field_id"] in wanted):
        state.table("field_values").delete(row["id"])
