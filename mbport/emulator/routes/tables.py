"""Table metadata: /api/table (list, read, edit), query_metadata, field order and foreign keys."""

from __future__ import annotations

from .. import errors
from ..app import Ctx
from ..models import databases
from ..models import fields as field_model
from ..models.tables import data_studio_changes, get_table_or_404, table_fields, update_positions
from ..models.versions import LIBRARY_SINCE, minor_version
from ..router import route
from ..shapes import fields as field_shape
from ..shapes.tables import segments_for, table_out, table_with_db
from ..store import Row


@route("GET", "/api/table")
def list_tables(ctx: Ctx):
    term = (ctx.query.get("term") or "").lower().replace("*", "")
    visibility = ctx.query.get("visibility-type")

    def keep(t: Row) -> bool:
        if visibility is not None and t["visibility_type"] != visibility:
            return False
        return not term or term in t["name"].lower() or term in (t["display_name"] or "").lower()

    rows = sorted(ctx.state.table("metabase_table").where(keep, active=True), key=lambda t: (t["name"], t["id"]))
    return [table_with_db(ctx.state, ctx.user, t) for t in rows]


@route("GET", "/api/table/{id}")
def get_table(ctx: Ctx, id: int):
    table = get_table_or_404(ctx.state, id)
    pk = ctx.state.table("metabase_field").first(semantic_type="type/PK", table_id=id, active=True)
    return {**table_with_db(ctx.state, ctx.user, table), "pk_field": pk["id"] if pk else None}


@route("PUT", "/api/table/{id}")
def update_table(ctx: Ctx, id: int):
    ctx.require_superuser()
    state, body = ctx.state, ctx.body or {}
    table = get_table_or_404(state, id)
    old_order = table["field_order"]
    changes = {k: body[k] for k in ("display_name", "show_in_getting_started", "entity_type", "field_order")
               if body.get(k) is not None}
    changes.update({k: body[k] for k in ("description", "caveats", "points_of_interest", "visibility_type",
                                         "data_authority", "data_layer", "data_source", "owner_email", "owner_user_id")
                    if k in body})
    if isinstance(changes.get("entity_type"), str):
        changes["entity_type"] = changes["entity_type"].lstrip(":")
    if minor_version(state) >= LIBRARY_SINCE:
        changes = data_studio_changes(table, changes)
    table.update(changes, updated_at=state.now())
    if table["field_order"] != old_order:
        update_positions(state, table)
        return {**table_out(table), "fields": [field_shape.query_field(state, f) for f in table_fields(state, table)]}
    return table_out(table)


@route("GET", "/api/table/{id}/query_metadata")
def query_metadata(ctx: Ctx, id: int):
    state = ctx.state
    table = get_table_or_404(state, id)
    hidden_ok, sensitive_ok = ctx.query.get("include_hidden_fields"), ctx.query.get("include_sensitive_fields")

    def shown(f: Row) -> bool:
        return (hidden_ok or f["visibility_type"] != "hidden") and (sensitive_ok or f["visibility_type"] != "sensitive")

    return {
        **table_with_db(ctx.state, ctx.user, table),
        "fields": [field_shape.query_field(state, f) for f in table_fields(state, table) if shown(f)],
        "segments": segments_for(state, id),
        "metrics": [],
    }


@route("PUT", "/api/table/{id}/fields/order")
def reorder_fields(ctx: Ctx, id: int):
    ctx.require_superuser()
    state = ctx.state
    table = get_table_or_404(state, id)
    ids = list(ctx.body or [])
    own = {f["id"]: f for f in state.table("metabase_field").where(table_id=id, active=True, parent_id=None)}
    if sorted(ids) != sorted(own):
        raise errors.bad_request("Invalid Request.")
    for i, field_id in enumerate(ids):
        own[field_id].update(custom_position=i, position=i)
    table.update(field_order="custom", updated_at=state.now())
    return {"success": True}


@route("GET", "/api/table/{id}/fks")
def table_fks(ctx: Ctx, id: int):
    state = ctx.state
    get_table_or_404(state, id)
    own = {f["id"] for f in state.table("metabase_field").where(lambda f: f["visibility_type"] != "retired", table_id=id, active=True)}
    out = []
    for origin in state.table("metabase_field").where(lambda f: f["fk_target_field_id"] in own, active=True):
        origin_table = state.table("metabase_table").get(origin["table_id"])
        if not origin_table or not origin_table["active"]:
            continue
        destination = state.table("metabase_field").existing(origin["fk_target_field_id"])
        out.append({
            "relationship": "Mt1", "origin_id": origin["id"],
            "origin": {**field_shape.field_out(origin), "table": table_with_db(ctx.state, ctx.user, origin_table)},
            "destination_id": destination["id"],
            "destination": {**field_shape.field_out(destination), "table": table_out(get_table_or_404(state, destination["table_id"]))},
        })
    return out


@route("POST", "/api/table/{id}/sync_schema")
def sync_table_schema(ctx: Ctx, id: int):
    ctx.require_superuser()
    table = get_table_or_404(ctx.state, id)
    databases.start_resync(ctx.state, table["db_id"])
    return {"status": "ok"}


@route("POST", "/api/table/{id}/rescan_values")
def rescan_table_values(ctx: Ctx, id: int):
    ctx.require_superuser()
    get_table_or_404(ctx.state, id)
    field_model.rescan(ctx.state, ctx.state.table("metabase_field").where(table_id=id, active=True))
    return {"status": "success"}


@route("POST", "/api/table/{id}/discard_values")
def discard_table_values(ctx: Ctx, id: int):
    ctx.require_superuser()
    get_table_or_404(ctx.state, id)
    field_model.discard(ctx.state, [f["id"] for f in ctx.state.table("metabase_field").where(table_id=id)])
    return {"status": "success"}
