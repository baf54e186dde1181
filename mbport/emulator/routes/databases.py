"""Database connections: /api/database (create with an asynchronous SQLite sync, secrets, metadata, schemas)."""

from __future__ import annotations

from typing import Any

from .. import errors, premium, sample_db, sync
from ..app import NO_CONTENT, Ctx, Response
from ..models import databases as model
from ..models import fields as field_model
from ..models import tables as table_model
from ..models.databases import (
    PROTECTED_PASSWORD,
    SAMPLE_NAME,
    SAVED_QUESTIONS_DB_ID,
    SENSITIVE_KEYS,
    connection_error,
    expanded_schedules,
    fields_of_database,
    get_db_or_404,
    insert_database,
    schedule_columns,
    schema_names,
    start_resync,
    validate_settings,
)
from ..router import route
from ..shapes import fields as field_shape
from ..shapes import tables as table_shape
from ..shapes.databases import db_out, present_db, schema_str, visible_tables

# ---- rendering ----


# ---- schedules (cron strings <-> Metabase's expanded schedule maps) ----


# ---- creation and sync ----


# ---- routes ----

@route("GET", "/api/database")
def list_databases(ctx: Ctx):
    state, q = ctx.state, ctx.query
    rows = [d for d in state.table("metabase_database") if q.get("include_analytics") or not d.get("is_audit")]
    rows.sort(key=lambda d: (d["name"].lower(), d["id"]))
    data: list[dict] = []
    for db in rows:
        item = present_db(ctx.state, ctx.user, db)
        if q.get("include") == "tables":
            item["tables"] = [schema_str(table_shape.table_out(t)) for t in visible_tables(state, db["id"])]
        data.append(item)
    if q.get("saved") and any(not c.get("archived") for c in state.table("card")):
        data.append({"name": "Saved Questions", "id": SAVED_QUESTIONS_DB_ID, "features": ["basic-aggregations"],
                     "is_saved_questions": True})
    return {"data": data, "total": len(data)}


@route("POST", "/api/database")
def create_database(ctx: Ctx):
    ctx.require_superuser()
    body = ctx.body or {}
    if body.get("is_stub") is True:
        raise errors.bad_request("is_stub may not be set via the API")
    engine, details = body["engine"], dict(body["details"])
    problem = connection_error(engine, details)
    if problem:
        return Response(400, problem)
    extra = {"provider_name": body.get("provider_name"), **schedule_columns(body.get("schedules"))}
    if body.get("auto_run_queries") is not None:
        extra["auto_run_queries"] = body["auto_run_queries"]
    db = insert_database(
        ctx.state, name=body["name"], engine=engine, details=details, creator_id=ctx.user["id"],
        is_full_sync=body.get("is_full_sync") is not False, is_on_demand=bool(body.get("is_on_demand")), extra=extra)
    sync.start_sync(ctx.state, db["id"])
    return db_out(ctx.user, db)


@route("POST", "/api/database/validate")
def validate_database(ctx: Ctx):
    ctx.require_superuser()
    spec = (ctx.body or {})["details"]
    problem = connection_error(spec["engine"], spec["details"])
    if problem:
        return {**problem, "valid": False}
    return {**spec["details"], "valid": True}


@route("POST", "/api/database/sample_database")
def add_sample_database(ctx: Ctx):
    ctx.require_superuser()
    state = ctx.state
    db = state.table("metabase_database").first(is_sample=True)
    if db is None:
        path = str(sample_db.sample_database_path())
        # sample_data/impl.clj `extract-and-sync-sample-database!`: the engine of the bundled file (H2 before 0.63)
        db = insert_database(state, name=SAMPLE_NAME, engine=state.profile.sample_database_engine,
                             details={"db": path}, creator_id=None, is_sample=True)
        # Metabase extracts and syncs the sample database before answering.
        state.extra.setdefault("sample_database_path", path)
        sync.apply_sync(state, db["id"], sync.introspect(path))
        db["initial_sync_status"] = "complete"
    return db_out(ctx.user, db)


@route("GET", "/api/database/metadata")
def bulk_metadata(ctx: Ctx):
    state = ctx.state
    dbs = sorted(state.table("metabase_database").where(lambda d: not d.get("is_audit")), key=lambda d: d["id"])
    db_ids = {d["id"] for d in dbs}
    tables = [t for t in state.table("metabase_table").where(active=True) if t["db_id"] in db_ids]
    table_ids = {t["id"] for t in tables}
    field_keys = ("id", "table_id", "name", "base_type", "database_type", "effective_type", "semantic_type",
                  "coercion_strategy", "description", "fk_target_field_id", "parent_id")
    return {
        "databases": [{"id": d["id"], "name": d["name"], "engine": d["engine"]} for d in dbs],
        "tables": [{k: t[k] for k in ("id", "db_id", "name", "schema", "description")} for t in tables],
        "fields": [{k: f[k] for k in field_keys} for f in state.table("metabase_field").where(active=True)
                   if f["table_id"] in table_ids],
    }


@route("GET", "/api/database/{id}")
def get_database(ctx: Ctx, id: int):
    state = ctx.state
    db = get_db_or_404(state, id)
    out = {**present_db(ctx.state, ctx.user, db), "schedules": expanded_schedules(db)}
    include = ctx.query.get("include")
    if include in ("tables", "tables.fields"):
        tables = []
        for t in visible_tables(state, id):
            item = schema_str(table_shape.table_out(t))
            if include == "tables.fields":
                item["fields"] = [field_shape.with_target(state, f) for f in table_model.table_fields(state, t)
                                  if f["visibility_type"] != "sensitive"]
            tables.append(item)
        out["tables"] = tables
    if ctx.is_superuser:
        out["can-manage"] = True
    return out


@route("PUT", "/api/database/{id}")
def update_database(ctx: Ctx, id: int):
    ctx.require_superuser()
    state, body = ctx.state, ctx.body or {}
    db = get_db_or_404(state, id)
    if body.get("is_stub") is True:
        raise errors.bad_request("is_stub may not be set via the API")
    engine = body.get("engine") or db["engine"]
    engine_changed = engine != db["engine"]
    details = None
    if body.get("details") is not None:
        incoming = dict(body["details"])
        for key in SENSITIVE_KEYS:
            if incoming.get(key) == PROTECTED_PASSWORD:
                incoming[key] = (db.get("details") or {}).get(key)
        # submitted details are merged over the stored ones (unless the engine changes: other driver, other keys)
        details = incoming if engine_changed else {**(db.get("details") or {}), **incoming}
    if (details is not None and details != db.get("details")) or engine_changed:
        problem = connection_error(engine, details if details is not None else db.get("details") or {})
        if problem:
            return Response(400, problem)
    # u/select-keys-when :non-nil: description, caveats and points_of_interest cannot be cleared through the API.
    changes: dict[str, Any] = {k: body[k] for k in ("name", "engine", "refingerprint", "description", "caveats",
                                                    "points_of_interest", "auto_run_queries")
                               if body.get(k) is not None}
    if details is not None:
        changes["details"] = details
    if body.get("is_full_sync") is not None:
        changes["is_full_sync"] = bool(body["is_full_sync"])
    changes["is_on_demand"] = bool(body.get("is_on_demand"))  # (boolean is_on_demand): omitted means false
    if body.get("settings"):
        validate_settings(state, db, engine, body["settings"])
        merged = {**(db.get("settings") or {}), **body["settings"]}
        changes["settings"] = {k: v for k, v in merged.items() if v is not None}
    if premium.enabled(state, "cache_granular_controls"):  # cache_ttl only with enable-cache-granular-controls?
        changes["cache_ttl"] = body.get("cache_ttl")
    if "provider_name" in body:
        changes["provider_name"] = body["provider_name"]
    changes.update(schedule_columns(body.get("schedules")))
    db.update(changes, updated_at=state.now())
    return {**db_out(ctx.user, db), "schedules": expanded_schedules(db)}


@route("DELETE", "/api/database/{id}")
def delete_database(ctx: Ctx, id: int):
    ctx.require_superuser()
    model.delete_database(ctx.state, id)
    return NO_CONTENT


@route("GET", "/api/database/{id}/metadata")
def database_metadata(ctx: Ctx, id: int):
    state, q = ctx.state, ctx.query
    db = get_db_or_404(state, id)
    tables = state.table("metabase_table").where(db_id=id)
    if not q.get("include_hidden"):
        tables = [t for t in tables if t["visibility_type"] is None]
    if q.get("remove_inactive"):
        tables = [t for t in tables if t["active"]]
    out_tables = []
    for t in sorted(tables, key=lambda t: ((t["display_name"] or t["name"]).lower(), t["id"])):
        item = {**schema_str(table_shape.table_out(t)), "segments": table_shape.segments_for(state, t["id"]), "metrics": []}
        if not q.get("skip_fields"):
            fields = table_model.table_fields(state, t)
            if not q.get("include_hidden"):
                fields = [f for f in fields if f["visibility_type"] != "sensitive"]
            item["fields"] = [field_shape.with_target(state, f) for f in fields]
        out_tables.append(item)
    return {**db_out(ctx.user, db), "tables": out_tables}


@route("GET", "/api/database/{id}/fields")
def database_fields(ctx: Ctx, id: int):
    tables, rows = fields_of_database(ctx.state, id, active=True)
    rows = [f for f in rows if f["visibility_type"] != "sensitive"]
    return [{"id": f["id"], "name": f["name"], "display_name": f["display_name"], "base_type": f["base_type"],
             "semantic_type": f["semantic_type"], "table_name": tables[f["table_id"]]["name"],
             "table_id": f["table_id"], "schema": tables[f["table_id"]]["schema"]} for f in rows]


@route("GET", "/api/database/{id}/idfields")
def database_id_fields(ctx: Ctx, id: int):
    tables, pks = fields_of_database(ctx.state, id, active=True, semantic_type="type/PK")
    pks.sort(key=lambda f: tables[f["table_id"]]["name"].lower())
    return [{**field_shape.field_out(f), "table": table_shape.table_out(tables[f["table_id"]])} for f in pks]


@route("GET", "/api/database/{id}/schemas")
def database_schemas(ctx: Ctx, id: int):
    get_db_or_404(ctx.state, id)
    return schema_names(ctx.state, id, bool(ctx.query.get("include_hidden")))


@route("GET", "/api/database/{id}/schema/{schema}")
def schema_tables(ctx: Ctx, id: int, schema: str):
    return _tables_in_schema(ctx, id, schema)


@route("GET", "/api/database/{id}/schema")
def schema_less_tables(ctx: Ctx, id: int):
    # tables without a schema (SQLite) live under the empty schema name; `?schema=` may name another
    return _tables_in_schema(ctx, id, ctx.query.get("schema"))


@route("POST", "/api/database/{id}/sync_schema")
def sync_schema(ctx: Ctx, id: int):
    ctx.require_superuser()
    start_resync(ctx.state, id)
    return {"status": "ok"}


@route("POST", "/api/database/{id}/rescan_values")
def rescan_values(ctx: Ctx, id: int):
    ctx.require_superuser()
    field_model.rescan(ctx.state, fields_of_database(ctx.state, id, active_tables=True, active=True)[1])
    return {"status": "ok"}


@route("POST", "/api/database/{id}/discard_values")
def discard_values(ctx: Ctx, id: int):
    ctx.require_superuser()
    field_model.discard(ctx.state, [f["id"] for f in fields_of_database(ctx.state, id)[1]])
    return {"status": "ok"}


def _tables_in_schema(ctx: Ctx, db_id: int, schema: str | None) -> list[dict]:
    get_db_or_404(ctx.state, db_id)
    include_hidden = ctx.query.get("include_hidden")
    rows = ctx.state.table("metabase_table").where(
        lambda t: (t["schema"] or "") == (schema or "") and (include_hidden or t["visibility_type"] is None),
        db_id=db_id, active=True)
    if not rows:
        raise errors.not_found()
    return [table_shape.table_out(t) for t in sorted(rows, key=lambda t: (t["name"], t["id"]))]
