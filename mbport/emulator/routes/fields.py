"""Field metadata: /api/field/{id} (read, edit), remappings (dimensions) and field values."""

from __future__ import annotations

import sqlite3
from typing import Any

from .. import errors, sync
from ..app import NO_CONTENT, Ctx
from ..router import route
from ..store import Row, State

# Metabase's coercion strategies: strategy -> (base types it applies to, effective type it gives).
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


def field_out(field: Row) -> dict:
    return dict(field)


def with_target(state: State, field: Row) -> dict:
    """The field with its `target` (the FK's destination field), as /metadata and query_metadata show it."""
    target = state.table("metabase_field").get(field["fk_target_field_id"]) if field["fk_target_field_id"] else None
    return {**field_out(field), "target": field_out(target) if target else None}


def dimensions(state: State, field_id: int) -> list[dict]:
    return [dict(d) for d in state.table("dimension").where(field_id=field_id)]


def name_field(state: State, field: Row) -> dict | None:
    """For a PK, the entity-name field of its table (what Metabase shows instead of the id)."""
    if field["semantic_type"] != "type/PK":
        return None
    found = state.table("metabase_field").first(
        lambda f: f["semantic_type"] in ("type/Name", "type/Title"), table_id=field["table_id"], active=True)
    return field_out(found) if found else None


def query_field(state: State, field: Row) -> dict:
    """The field as table query_metadata returns it: target, dimensions and name_field hydrated."""
    return {**with_target(state, field), "dimensions": dimensions(state, field["id"]), "name_field": name_field(state, field)}


def _keyword(value: Any) -> Any:
    # Metabase accepts keywords written either way (":type/PK" or "type/PK").
    return value[1:] if isinstance(value, str) and value.startswith(":") else value


@route("GET", "/api/field/{id}")
def get_field(ctx: Ctx, id: int):
    from . import tables

    # warehouse_schema/field.clj `get-field`: hydrates [:table :db], :has_field_values, :dimensions, :name_field
    # and then the FK `target`.
    field = get_field_or_404(ctx.state, id)
    table = ctx.state.table("metabase_table").get(field["table_id"])
    return {**with_target(ctx.state, field), "table": tables.table_with_db(ctx, table) if table else None,
            "dimensions": dimensions(ctx.state, id), "name_field": name_field(ctx.state, field)}


@route("PUT", "/api/field/{id}")
def update_field(ctx: Ctx, id: int):
    ctx.require_superuser()
    state, body = ctx.state, dict(ctx.body or {})
    field = get_field_or_404(state, id)
    for key in ("semantic_type", "coercion_strategy"):
        if key in body:
            body[key] = _keyword(body[key])
    semantic = body.get("semantic_type", field["semantic_type"])
    if semantic is not None and not (isinstance(semantic, str) and semantic.startswith("type/")):
        text = "value must be a valid field semantic or relation type (keyword or string)."
        raise errors.invalid({"semantic_type": f"nullable {text}"}, {"semantic_type": [text]})
    effective, coercion = _coercion(field, body)
    removed_fk = field["semantic_type"] == "type/FK" and semantic != "type/FK"
    fk_target = body.get("fk_target_field_id", field["fk_target_field_id"])
    if fk_target is not None and state.table("metabase_field").get(fk_target) is None:
        raise errors.checkp("fk_target_field_id", "Invalid target field")
    display_name = body.get("display_name")
    if display_name and not removed_fk and display_name != field["display_name"]:
        for dim in state.table("dimension").where(field_id=id):
            dim["name"] = display_name
    _drop_stale_dimensions(state, field, semantic, removed_fk)
    changes = {k: body[k] for k in ("caveats", "description", "points_of_interest", "semantic_type", "has_field_values",
                                    "nfc_path", "json_unfolding") if k in body}
    changes.update({k: body[k] for k in ("display_name", "visibility_type", "settings") if body.get(k) is not None})
    changes.update(fk_target_field_id=None if removed_fk else fk_target, effective_type=effective,
                   coercion_strategy=coercion, updated_at=state.now())
    field.update(changes)
    return {**with_target(state, field), "dimensions": dimensions(state, id)}


def _coercion(field: Row, body: dict) -> tuple[str, str | None]:
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


def _drop_stale_dimensions(state: State, field: Row, new_semantic: str | None, removed_fk: bool) -> None:
    """An FK remapping goes when the FK does; an internal one when the type no longer allows it."""
    internal_ok = field["base_type"] in ("type/Integer", "type/BigInteger") and new_semantic in (None, "type/Category", "type/Enum")
    for dim in state.table("dimension").where(field_id=field["id"]):
        if (removed_fk and dim["type"] == "external") or (dim["type"] == "internal" and not internal_ok):
            state.table("dimension").delete(dim["id"])


@route("POST", "/api/field/{id}/dimension")
def set_dimension(ctx: Ctx, id: int):
    ctx.require_superuser()
    state, body = ctx.state, ctx.body or {}
    get_field_or_404(state, id)
    human_readable = body.get("human_readable_field_id")
    if body["type"] == "external" and not human_readable:
        raise errors.bad_request("Foreign key based remappings require a human readable field id")
    values = {"type": body["type"], "name": body["name"], "human_readable_field_id": human_readable}
    dim = state.table("dimension").first(field_id=id)
    if dim is None:
        dim = state.table("dimension").insert({"field_id": id, **values}, now=state.now())
    else:
        dim.update(values, updated_at=state.now())
    return dict(dim)


@route("DELETE", "/api/field/{id}/dimension")
def delete_dimension(ctx: Ctx, id: int):
    ctx.require_superuser()
    get_field_or_404(ctx.state, id)
    for dim in ctx.state.table("dimension").where(field_id=id):
        ctx.state.table("dimension").delete(dim["id"])
    return NO_CONTENT


def _has_list(field: Row) -> bool:
    return field["has_field_values"] == "list" or field["base_type"] == "type/Boolean"


def _field_location(state: State, field: Row) -> tuple[Row, Row] | None:
    table = state.table("metabase_table").get(field["table_id"])
    db = state.table("metabase_database").get(table["db_id"]) if table else None
    return (table, db) if table and db else None


def ensure_field_values(state: State, field: Row) -> Row | None:
    """The field's stored values, scanned from the warehouse on first use (as Metabase creates them lazily)."""
    values = state.table("field_values").first(field_id=field["id"], type="full")
    if values is not None or not _has_list(field):
        return values
    scanned: list[Any] = []
    has_more = False
    located = _field_location(state, field)
    if located and located[1]["engine"] == "sqlite":
        try:
            scanned, has_more = sync.distinct_values(located[1]["details"].get("db"), located[0]["name"], field["name"])
        except (sync.SyncError, sqlite3.Error):
            pass
    return state.table("field_values").insert({
        "field_id": field["id"], "type": "full", "values": scanned, "human_readable_values": [],
        "has_more_values": has_more, "hash_key": None, "last_used_at": state.now(),
    }, now=state.now())


@route("GET", "/api/field/{id}/values")
def get_values(ctx: Ctx, id: int):
    field = get_field_or_404(ctx.state, id)
    values = ensure_field_values(ctx.state, field)
    if values is None:
        return {"values": [], "field_id": id, "has_more_values": False}
    labels = values.get("human_readable_values") or []
    pairs = [[v, labels[i]] if i < len(labels) else [v] for i, v in enumerate(values["values"])]
    return {"values": pairs, "field_id": id, "has_more_values": bool(values.get("has_more_values"))}


@route("POST", "/api/field/{id}/values")
def set_values(ctx: Ctx, id: int):
    ctx.require_superuser()
    state = ctx.state
    field = get_field_or_404(state, id)
    if not _has_list(field):
        raise errors.bad_request(VALUES_ONLY_FOR_LISTS)
    pairs = (ctx.body or {})["values"]
    labelled = [len(p) > 1 for p in pairs]
    if any(labelled) and not all(labelled):
        raise errors.bad_request("If remapped values are specified, they must be specified for all field values")
    row = ensure_field_values(state, field)
    row.update(values=[p[0] for p in pairs], human_readable_values=[p[1] for p in pairs] if all(labelled) and pairs else [],
               updated_at=state.now())
    return {"status": "success"}


@route("POST", "/api/field/{id}/rescan_values")
def rescan_values(ctx: Ctx, id: int):
    ctx.require_superuser()
    field = get_field_or_404(ctx.state, id)
    rescan(ctx.state, [field])
    return {"status": "success"}


@route("POST", "/api/field/{id}/discard_values")
def discard_values(ctx: Ctx, id: int):
    ctx.require_superuser()
    get_field_or_404(ctx.state, id)
    discard(ctx.state, [id])
    return {"status": "success"}


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
