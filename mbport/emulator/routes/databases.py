"""Database connections: /api/database (create with an asynchronous SQLite sync, secrets, metadata, schemas)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .. import errors, premium, sample_db, sync
from ..app import NO_CONTENT, Ctx, Response
from ..router import route
from ..store import Row, State
from . import fields as field_api
from . import tables as table_api

PROTECTED_PASSWORD = "**MetabasePass**"
SENSITIVE_KEYS = frozenset({
    "password", "pass", "tunnel-pass", "tunnel-private-key", "tunnel-private-key-passphrase", "access-token",
    "refresh-token", "service-account-json",
})
SAVED_QUESTIONS_DB_ID = -1337
SAMPLE_NAME = "Sample Database"
DEFAULT_SYNC_CRON = "0 11 * * * ? *"
DEFAULT_VALUES_CRON = "0 0 5 * * ? *"

_FEATURES_COMMON = [
    "basic-aggregations", "standard-deviation-aggregations", "expression-aggregations", "expressions",
    "native-parameters", "nested-queries", "binning", "case-sensitivity-string-filter-options", "left-join",
    "right-join", "inner-join", "full-join", "regex", "temporal-extract", "date-arithmetics", "datetime-diff", "now",
    "describe-fields", "describe-fks", "metadata/key-constraints", "native-parameter-card-reference",
    "window-functions/cumulative", "window-functions/offset", "expressions/date", "expressions/datetime",
    "expressions/integer", "expressions/float", "expressions/text", "expressions/today", "expression-literals",
    "identifiers-with-spaces", "distinct-where", "split-part", "parameterized-sql",
]
ENGINE_FEATURES: dict[str, list[str]] = {
    "sqlite": _FEATURES_COMMON,
    "postgres": [*_FEATURES_COMMON, "schemas", "percentile-aggregations", "set-timezone", "convert-timezone",
                 "uploads", "actions", "actions/custom", "persist-models", "uuid-type", "connection-impersonation"],
    "h2": [*_FEATURES_COMMON, "schemas", "actions", "actions/custom", "uploads"],
    "mysql": [*_FEATURES_COMMON, "schemas", "percentile-aggregations", "set-timezone", "convert-timezone", "uploads",
              "actions", "actions/custom", "persist-models"],
}
# What Emulator(sqlite_actions=True) adds to SQLite databases (Metabase's SQLite driver has neither).
SQLITE_ACTION_FEATURES = ["actions", "actions/custom"]


@dataclass(frozen=True)
class DatabaseSetting:
    """A database-local setting as `defsetting` declares it: its default, the driver feature it needs
    (`:driver-feature`) and the premium feature it needs (`:feature`)."""

    default: Any = None
    driver_feature: str | None = None
    premium_feature: str | None = None


# Database-local settings the emulator knows (metabase.actions.settings, metabase.query-processor.settings,
# metabase.sync.settings ...); any other key that is no site setting either is "Unknown setting".
DATABASE_SETTINGS: dict[str, DatabaseSetting] = {
    "database-enable-actions": DatabaseSetting(False, driver_feature="actions"),
    "database-enable-table-editing": DatabaseSetting(False, premium_feature="table-data-editing"),
    "unaggregated-query-row-limit": DatabaseSetting(None),
    "aggregated-query-row-limit": DatabaseSetting(None),
    "auto-cruft-tables": DatabaseSetting(None),
    "auto-cruft-columns": DatabaseSetting(None),
    "persist-models-enabled": DatabaseSetting(False),
}


# ---- rendering ----

def engine_features(state: State, engine: str) -> list[str]:
    """The driver's features (`driver.u/supports?`), plus actions on SQLite when the emulator was told so."""
    features = list(ENGINE_FEATURES.get(engine, _FEATURES_COMMON))
    if engine == "sqlite" and state.extra.get("sqlite_actions"):
        features += SQLITE_ACTION_FEATURES
    return features


def refresh_features(state: State) -> None:
    """Databases report their driver's features; the sqlite_actions switch changes SQLite's."""
    for db in state.table("metabase_database"):
        if db["engine"] == "sqlite":
            db["features"] = engine_features(state, "sqlite")


def supports(state: State, db: Row, feature: str) -> bool:
    return feature in engine_features(state, db["engine"])


def validate_settings(state: State, db: Row, engine: str, settings: dict[str, Any]) -> None:
    """`PUT /api/database/:id`'s loop over `settings` (warehouses_rest/api.clj, the PUT "/:id" endpoint): every
    non-nil value that is neither the setting's default nor the stored value goes through
    `setting/validate-settable-for-db!` (settings/models/setting.clj), whose exceptions become 400s with data."""
    from ..models import settings as site_settings

    existing = db.get("settings") or {}
    for key, value in settings.items():
        known = DATABASE_SETTINGS.get(key)
        default = known.default if known else getattr(site_settings.CATALOGUE.get(key), "default", None)
        if value is None or value == default or value == existing.get(key):
            continue
        if known is None and key not in site_settings.CATALOGUE:
            # resolve-setting: (tru "Unknown setting: {0}" k), k a keyword
            raise errors.ApiError(400, {"message": f"Unknown setting: :{key}",
                                        "metabase.settings.models.setting/unknown-setting-error": True,
                                        "via": [{"type": "clojure.lang.ExceptionInfo",
                                                 "message": f"Unknown setting: :{key}"}], "trace": []})
        if known is None:
            continue
        if known.premium_feature and not premium.enabled(state, known.premium_feature.replace("-", "_")):
            # validate-settable!: (tru "Setting {0} is not enabled because feature {1} is not available" ...)
            raise errors.ApiError(400, {"message": f"Setting {key} is not enabled because feature "
                                                   f":{known.premium_feature} is not available"})
        if known.driver_feature and known.driver_feature not in engine_features(state, engine):
            # validate-settable-for-db!
            raise errors.ApiError(400, {
                "message": f"Setting {key} requires driver feature :{known.driver_feature}, but the database does "
                           "not support it",
                "setting": key, "required-feature": known.driver_feature, "database-id": db["id"]})


def redact(details: dict[str, Any] | None) -> dict[str, Any] | None:
    if details is None:
        return None
    return {k: (PROTECTED_PASSWORD if k in SENSITIVE_KEYS and v is not None else v) for k, v in details.items()}


def db_out(ctx: Ctx, db: Row) -> dict:
    """The stored database with secrets replaced; users who cannot edit it get no details or settings at all."""
    out = dict(db)
    if ctx.is_superuser:
        out["details"] = redact(db.get("details"))
    else:
        out.pop("details", None)
        out.pop("settings", None)
    return out


def present_db(ctx: Ctx, db: Row) -> dict:
    """A database as GET /api/database lists it: + native_permissions, can_upload, router_user_attribute."""
    return {**db_out(ctx, db), "native_permissions": _native_permissions(ctx, db["id"]), "can_upload": False,
            "router_user_attribute": None}


def _native_permissions(ctx: Ctx, db_id: int) -> str:
    """`write` when one of the user's groups may write SQL against the database (admins always may)."""
    if ctx.is_superuser or ctx.user is None:
        return "write"
    try:
        from . import permissions_graph

        graph = permissions_graph.api_graph(ctx.state, db_id=db_id)
    except (ImportError, AttributeError):
        return "write"
    memberships = ctx.state.table("permissions_group_membership").where(user_id=ctx.user["id"])
    group_ids = {str(m["group_id"]) for m in memberships}
    for group_id, dbs in graph.get("groups", {}).items():
        perms = {str(k): v for k, v in dbs.items()}.get(str(db_id)) or {}
        if str(group_id) in group_ids and perms.get("create-queries") == "query-builder-and-native":
            return "write"
    return "none"


def _visible_tables(state: State, db_id: int) -> list[Row]:
    rows = state.table("metabase_table").where(lambda t: t["visibility_type"] is None, db_id=db_id, active=True)
    return sorted(rows, key=lambda t: ((t["display_name"] or t["name"]).lower(), t["id"]))


def _schema_str(table: dict) -> dict:
    # Metabase renders a null schema as "" where it hydrates tables onto a database (`(update table :schema str)`).
    return {**table, "schema": table["schema"] or ""}


def get_db_or_404(state: State, db_id: int) -> Row:
    db = state.table("metabase_database").get(db_id)
    if db is None:
        raise errors.not_found()
    return db


# ---- schedules (cron strings <-> Metabase's expanded schedule maps) ----


def schedule_map(cron: str | None) -> dict | None:
    if not cron:
        return None
    parts = cron.split()
    if len(parts) < 6:
        return None
    _, minute, hour, dom, _, dow = parts[:6]
    out = {"schedule_type": "hourly", "schedule_minute": None, "schedule_hour": None, "schedule_day": None,
           "schedule_frame": None}
    if hour == "*":
        out["schedule_minute"] = int(minute) if minute.isdigit() else 0
        return out
    out["schedule_hour"] = int(hour) if hour.isdigit() else 0
    if dow not in ("?", "*"):
        day = dow.split("#")[0].lower()[:3]
        frame = {"1": "first", "L": "last"}.get(dow.split("#")[1] if "#" in dow else "", None)
        if dow.endswith("L"):
            day, frame = dow[:-1].lower()[:3], "last"
        out.update(schedule_type="monthly" if frame else "weekly", schedule_day=day, schedule_frame=frame)
    elif dom not in ("?", "*"):
        out.update(schedule_type="monthly", schedule_frame={"1": "first", "15": "mid", "L": "last"}.get(dom, "first"))
    else:
        out["schedule_type"] = "daily"
    return out


def schedule_cron(m: dict) -> str:
    kind = m.get("schedule_type") or "daily"
    minute = m.get("schedule_minute") or 0
    hour = m.get("schedule_hour") or 0
    if kind == "hourly":
        return f"0 {minute} * * * ? *"
    if kind == "weekly":
        return f"0 0 {hour} ? * {(m.get('schedule_day') or 'mon').upper()} *"
    if kind == "monthly":
        day, frame = m.get("schedule_day"), m.get("schedule_frame") or "first"
        if day:
            return f"0 0 {hour} ? * {day.upper()}{'L' if frame == 'last' else '#1'} *"
        day_of_month = {"first": "1", "mid": "15", "last": "L"}.get(frame, "1")
        return f"0 0 {hour} {day_of_month} * ? *"
    return f"0 0 {hour} * * ? *"


def _schedule_columns(schedules: dict | None) -> dict:
    out = {}
    if schedules:
        if schedules.get("metadata_sync"):
            out["metadata_sync_schedule"] = schedule_cron(schedules["metadata_sync"])
        if schedules.get("cache_field_values"):
            out["cache_field_values_schedule"] = schedule_cron(schedules["cache_field_values"])
    return out


def expanded_schedules(db: Row) -> dict:
    return {"metadata_sync": schedule_map(db.get("metadata_sync_schedule")),
            "cache_field_values": schedule_map(db.get("cache_field_values_schedule"))}


# ---- creation and sync ----

def connection_error(engine: str, details: dict) -> dict | None:
    """Metabase's failed connection test body (400 on create/update), or None. Only SQLite files are checked."""
    if engine != "sqlite":
        return None
    message = sync.check_connection(details)
    return {"message": message} if message else None


def insert_database(state: State, *, name: str, engine: str, details: dict, creator_id: int | None,
                    is_full_sync: bool = True, is_on_demand: bool = False, is_sample: bool = False,
                    extra: dict | None = None) -> Row:
    """Store a database row the way Metabase does, announce it to the permissions graph, and sync it in the background."""
    now = state.now()
    db = state.table("metabase_database").insert({
        "name": name, "engine": engine, "details": details, "description": None,
        "features": engine_features(state, engine), "uploads_schema_name": None,
        "uploads_table_prefix": None, "uploads_enabled": False, "cache_field_values_schedule": DEFAULT_VALUES_CRON,
        "metadata_sync_schedule": DEFAULT_SYNC_CRON, "timezone": "UTC" if engine == "sqlite" else None,
        "is_attached_dwh": False, "auto_run_queries": True, "settings": None, "caveats": None,
        "creator_id": creator_id, "is_full_sync": is_full_sync, "provider_name": None, "cache_ttl": None,
        "is_sample": is_sample, "is_on_demand": is_on_demand, "initial_sync_status": "incomplete",
        "is_audit": False, "dbms_version": sync.sqlite_version() if engine == "sqlite" else None,
        "refingerprint": False, "router_database_id": None, "points_of_interest": None,
        **(extra or {}),
    }, now=now)
    _announce(state, db)
    return db


def _announce(state: State, db: Row) -> None:
    try:
        from . import permissions_graph
    except ImportError:
        return
    hook = getattr(permissions_graph, "on_database_created", None)
    if hook is not None:
        hook(state, db)


def start_resync(ctx: Ctx, db_id: int) -> None:
    """POST .../sync_schema: a database that cannot be reached answers 422 with the connection error."""
    db = get_db_or_404(ctx.state, db_id)
    problem = connection_error(db["engine"], db.get("details") or {})
    if problem:
        raise errors.ApiError(422, problem)
    sync.start_sync(ctx.state, db_id)


# ---- routes ----

@route("GET", "/api/database")
def list_databases(ctx: Ctx):
    state, q = ctx.state, ctx.query
    rows = [d for d in state.table("metabase_database") if q.get("include_analytics") or not d.get("is_audit")]
    rows.sort(key=lambda d: (d["name"].lower(), d["id"]))
    data: list[dict] = []
    for db in rows:
        item = present_db(ctx, db)
        if q.get("include") == "tables":
            item["tables"] = [_schema_str(table_api.table_out(t)) for t in _visible_tables(state, db["id"])]
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
    extra = {"provider_name": body.get("provider_name"), **_schedule_columns(body.get("schedules"))}
    if body.get("auto_run_queries") is not None:
        extra["auto_run_queries"] = body["auto_run_queries"]
    db = insert_database(
        ctx.state, name=body["name"], engine=engine, details=details, creator_id=ctx.user["id"],
        is_full_sync=body.get("is_full_sync") is not False, is_on_demand=bool(body.get("is_on_demand")), extra=extra)
    sync.start_sync(ctx.state, db["id"])
    return db_out(ctx, db)


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
        db = insert_database(state, name=SAMPLE_NAME, engine="sqlite", details={"db": path},
                             creator_id=None, is_sample=True)
        # Metabase extracts and syncs the sample database before answering.
        state.extra.setdefault("sample_database_path", path)
        sync.apply_sync(state, db["id"], sync.introspect(path))
        db["initial_sync_status"] = "complete"
    return db_out(ctx, db)


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
    out = {**present_db(ctx, db), "schedules": expanded_schedules(db)}
    include = ctx.query.get("include")
    if include in ("tables", "tables.fields"):
        tables = []
        for t in _visible_tables(state, id):
            item = _schema_str(table_api.table_out(t))
            if include == "tables.fields":
                item["fields"] = [field_api.with_target(state, f) for f in table_api.table_fields(state, t)
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
    changes.update(_schedule_columns(body.get("schedules")))
    db.update(changes, updated_at=state.now())
    return {**db_out(ctx, db), "schedules": expanded_schedules(db)}


@route("DELETE", "/api/database/{id}")
def delete_database(ctx: Ctx, id: int):
    ctx.require_superuser()
    state = ctx.state
    get_db_or_404(state, id)
    table_ids = {t["id"] for t in state.table("metabase_table").where(db_id=id)}
    field_ids = {f["id"] for f in state.table("metabase_field").where(lambda f: f["table_id"] in table_ids)}
    for name, column, ids in (("field_values", "field_id", field_ids), ("dimension", "field_id", field_ids),
                              ("metabase_field", "id", field_ids), ("metabase_table", "id", table_ids)):
        for row in state.table(name).where(lambda r, c=column, i=ids: r[c] in i):
            state.table(name).delete(row["id"])
    state.table("metabase_database").delete(id)
    try:
        from . import permissions_graph
    except ImportError:
        permissions_graph = None
    hook = getattr(permissions_graph, "on_database_deleted", None)
    if hook is not None:
        hook(state, id)
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
        item = {**_schema_str(table_api.table_out(t)), "segments": table_api.segments_for(state, t["id"]), "metrics": []}
        if not q.get("skip_fields"):
            fields = table_api.table_fields(state, t)
            if not q.get("include_hidden"):
                fields = [f for f in fields if f["visibility_type"] != "sensitive"]
            item["fields"] = [field_api.with_target(state, f) for f in fields]
        out_tables.append(item)
    return {**db_out(ctx, db), "tables": out_tables}


@route("GET", "/api/database/{id}/fields")
def database_fields(ctx: Ctx, id: int):
    tables, rows = _database_fields(ctx.state, id, active=True)
    rows = [f for f in rows if f["visibility_type"] != "sensitive"]
    return [{"id": f["id"], "name": f["name"], "display_name": f["display_name"], "base_type": f["base_type"],
             "semantic_type": f["semantic_type"], "table_name": tables[f["table_id"]]["name"],
             "table_id": f["table_id"], "schema": tables[f["table_id"]]["schema"]} for f in rows]


@route("GET", "/api/database/{id}/idfields")
def database_id_fields(ctx: Ctx, id: int):
    tables, pks = _database_fields(ctx.state, id, active=True, semantic_type="type/PK")
    pks.sort(key=lambda f: tables[f["table_id"]]["name"].lower())
    return [{**field_api.field_out(f), "table": table_api.table_out(tables[f["table_id"]])} for f in pks]


def _schema_names(state: State, db_id: int, include_hidden: bool) -> list[str]:
    tables = state.table("metabase_table").where(
        lambda t: include_hidden or t["visibility_type"] is None, db_id=db_id, active=True)
    return sorted({t["schema"] or "" for t in tables})


@route("GET", "/api/database/{id}/schemas")
def database_schemas(ctx: Ctx, id: int):
    get_db_or_404(ctx.state, id)
    return _schema_names(ctx.state, id, bool(ctx.query.get("include_hidden")))


def _tables_in_schema(ctx: Ctx, db_id: int, schema: str | None) -> list[dict]:
    get_db_or_404(ctx.state, db_id)
    include_hidden = ctx.query.get("include_hidden")
    rows = ctx.state.table("metabase_table").where(
        lambda t: (t["schema"] or "") == (schema or "") and (include_hidden or t["visibility_type"] is None),
        db_id=db_id, active=True)
    if not rows:
        raise errors.not_found()
    return [table_api.table_out(t) for t in sorted(rows, key=lambda t: (t["name"], t["id"]))]


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
    start_resync(ctx, id)
    return {"status": "ok"}


@route("POST", "/api/database/{id}/rescan_values")
def rescan_values(ctx: Ctx, id: int):
    ctx.require_superuser()
    field_api.rescan(ctx.state, _database_fields(ctx.state, id, active_tables=True, active=True)[1])
    return {"status": "ok"}


@route("POST", "/api/database/{id}/discard_values")
def discard_values(ctx: Ctx, id: int):
    ctx.require_superuser()
    field_api.discard(ctx.state, [f["id"] for f in _database_fields(ctx.state, id)[1]])
    return {"status": "ok"}


def _database_fields(state: State, db_id: int, *, active_tables: bool = False,
                     **field_equals: Any) -> tuple[dict[int, Row], list[Row]]:
    """A database's tables by id (only active ones with `active_tables`) and their fields matching `field_equals`,
    in field id order; 404 for an unknown database."""
    get_db_or_404(state, db_id)
    tables = {t["id"]: t for t in state.table("metabase_table").where(
        db_id=db_id, **({"active": True} if active_tables else {}))}
    fields = state.table("metabase_field")
    return tables, sorted((f for tid in tables for f in fields.where(table_id=tid, **field_equals)),
                          key=lambda f: f["id"])
