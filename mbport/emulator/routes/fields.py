"""Field metadata: /api/field/{id} (read, edit), remappings (dimensions) and field values."""

from __future__ import annotations

from .. import errors
from ..app import NO_CONTENT, Ctx
from ..models.fields import (
    VALUES_ONLY_FOR_LISTS,
    coercion_for,
    discard,
    drop_stale_dimensions,
    ensure_field_values,
    get_field_or_404,
    has_list,
    keyword,
    rescan,
)
from ..router import route
from ..shapes import tables
from ..shapes.fields import dimensions, name_field, with_target

# Metabase's coercion strategies: strategy -> (base types it applies to, effective type it gives).


@route("GET", "/api/field/{id}")
def get_field(ctx: Ctx, id: int):
    # warehouse_schema/field.clj `get-field`: hydrates [:table :db], :has_field_values, :dimensions, :name_field
    # and then the FK `target`.
    field = get_field_or_404(ctx.state, id)
    table = ctx.state.table("metabase_table").get(field["table_id"])
    return {**with_target(ctx.state, field), "table": tables.table_with_db(ctx.state, ctx.user, table) if table else None,
            "dimensions": dimensions(ctx.state, id), "name_field": name_field(ctx.state, field)}


@route("PUT", "/api/field/{id}")
def update_field(ctx: Ctx, id: int):
    ctx.require_superuser()
    state, body = ctx.state, dict(ctx.body or {})
    field = get_field_or_404(state, id)
    for key in ("semantic_type", "coercion_strategy"):
        if key in body:
            body[key] = keyword(body[key])
    semantic = body.get("semantic_type", field["semantic_type"])
    if semantic is not None and not (isinstance(semantic, str) and semantic.startswith("type/")):
        text = "value must be a valid field semantic or relation type (keyword or string)."
        raise errors.invalid({"semantic_type": f"nullable {text}"}, {"semantic_type": [text]})
    effective, coercion = coercion_for(field, body)
    removed_fk = field["semantic_type"] == "type/FK" and semantic != "type/FK"
    fk_target = body.get("fk_target_field_id", field["fk_target_field_id"])
    if fk_target is not None and state.table("metabase_field").get(fk_target) is None:
        raise errors.checkp("fk_target_field_id", "Invalid target field")
    display_name = body.get("display_name")
    if display_name and not removed_fk and display_name != field["display_name"]:
        for dim in state.table("dimension").where(field_id=id):
            dim["name"] = display_name
    drop_stale_dimensions(state, field, semantic, removed_fk)
    changes = {k: body[k] for k in ("caveats", "description", "points_of_interest", "semantic_type", "has_field_values",
                                    "nfc_path", "json_unfolding") if k in body}
    changes.update({k: body[k] for k in ("display_name", "visibility_type", "settings") if body.get(k) is not None})
    changes.update(fk_target_field_id=None if removed_fk else fk_target, effective_type=effective,
                   coercion_strategy=coercion, updated_at=state.now())
    field.update(changes)
    return {**with_target(state, field), "dimensions": dimensions(state, id)}


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
    if not has_list(field):
        raise errors.bad_request(VALUES_ONLY_FOR_LISTS)
    pairs = (ctx.body or {})["values"]
    labelled = [len(p) > 1 for p in pairs]
    if any(labelled) and not all(labelled):
        raise errors.bad_request("If remapped values are specified, they must be specified for all field values")
    row = ensure_field_values(state, field)
    assert row is not None  # a list field always gets its values
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


