"""Databases: the Database model's rules (driver features, database-local settings, schedules, connection checks, sync) and its cascades."""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import Any

from .. import errors, premium, sync
from ..store import Row, State
from . import settings as site_settings

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
                 "uploads", "actions", "actions/custom", "persist-models", "uuid-type", "connection-impersonation",
                 "transforms/table", "transforms/python"],
    "h2": [*_FEATURES_COMMON, "schemas", "actions", "actions/custom", "uploads"],
    "mysql": [*_FEATURES_COMMON, "schemas", "percentile-aggregations", "set-timezone", "convert-timezone", "uploads",
              "actions", "actions/custom", "persist-models", "transforms/table", "transforms/python"],
}


# What Emulator(sqlite_actions=True) adds to SQLite databases (Metabase's SQLite driver has neither).
SQLITE_ACTION_FEATURES = ["actions", "actions/custom"]
# What Emulator(sqlite_transforms=True) adds: the driver features transforms need (crud.clj
# `check-database-feature`), which the SQLite driver does not declare.
SQLITE_TRANSFORM_FEATURES = ["transforms/table", "transforms/python"]


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


def engine_features(state: State, engine: str) -> list[str]:
    """The driver's features (`driver.u/supports?`), plus actions or transforms on SQLite when the emulator was told
    so."""
    features = list(ENGINE_FEATURES.get(engine, _FEATURES_COMMON))
    if engine == "sqlite" and state.extra.get("sqlite_actions"):
        features += SQLITE_ACTION_FEATURES
    if engine == "sqlite" and state.extra.get("sqlite_transforms"):
        features += SQLITE_TRANSFORM_FEATURES
    return features


def refresh_features(state: State) -> None:
    """Databases report their driver's features; the sqlite_actions and sqlite_transforms switches change SQLite's."""
    for db in state.table("metabase_database"):
        if db["engine"] == "sqlite":
            db["features"] = engine_features(state, "sqlite")


def supports(state: State, db: Row, feature: str) -> bool:
    return feature in engine_features(state, db["engine"])


def validate_settings(state: State, db: Row, engine: str, settings: dict[str, Any]) -> None:
    """`PUT /api/database/:id`'s loop over `settings` (warehouses_rest/api.clj, the PUT "/:id" endpoint): every
    non-nil value that is neither the setting's default nor the stored value goes through
    `setting/validate-settable-for-db!` (settings/models/setting.clj), whose exceptions become 400s with data."""

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


def get_db_or_404(state: State, db_id: int) -> Row:
    db = state.table("metabase_database").get(db_id)
    if db is None:
        raise errors.not_found()
    return db


def schedule_map(cron: str | None) -> dict | None:
    if not cron:
        return None
    parts = cron.split()
    if len(parts) < 6:
        return None
    _, minute, hour, dom, _, dow = parts[:6]
    out: dict[str, Any] = {"schedule_type": "hourly", "schedule_minute": None, "schedule_hour": None, "schedule_day": None,
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


def schedule_columns(schedules: dict | None) -> dict:
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


def connection_error(engine: str, details: dict) -> dict | None:
    """Metabase's failed connection test body (400 on create/update), or None. Only SQLite files are checked."""
    if engine != "sqlite":
        return None
    message = sync.check_connection(details)
    return {"message": message} if message else None


def insert_database(state: State, *, name: str, engine: str, details: dict, creator_id: int | None,
                    is_full_sync: bool = True, is_on_demand: bool = False, is_sample: bool = False,
                    extra: dict | None = None) -> Row:
    """Store a database row the way Metabase does, announce it (the permissions graph subscribes), and sync it in the background."""
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
    state.emit("database.created", db=db)
    return db


def start_resync(state: State, db_id: int) -> None:
    """POST .../sync_schema: a database that cannot be reached answers 422 with the connection error."""
    db = get_db_or_404(state, db_id)
    problem = connection_error(db["engine"], db.get("details") or {})
    if problem:
        raise errors.ApiError(422, problem)
    sync.start_sync(state, db_id)


def schema_names(state: State, db_id: int, include_hidden: bool) -> list[str]:
    tables = state.table("metabase_table").where(
        lambda t: include_hidden or t["visibility_type"] is None, db_id=db_id, active=True)
    return sorted({t["schema"] or "" for t in tables})


def fields_of_database(state: State, db_id: int, *, active_tables: bool = False,
                     **field_equals: Any) -> tuple[dict[int, Row], list[Row]]:
    """A database's tables by id (only active ones with `active_tables`) and their fields matching `field_equals`,
    in field id order; 404 for an unknown database."""
    get_db_or_404(state, db_id)
    only_active: dict[str, Any] = {"active": True} if active_tables else {}
    tables = {t["id"]: t for t in state.table("metabase_table").where(db_id=db_id, **only_active)}
    fields = state.table("metabase_field")
    return tables, sorted((f for tid in tables for f in fields.where(table_id=tid, **field_equals)),
                          key=lambda f: f["id"])


def _value_in(column: str, values: set[Any], row: Row) -> bool:
    return row[column] in values


def delete_database(state: State, db_id: int) -> None:
    """DELETE /api/database/{id}: the database with its tables, fields, field values and remappings."""
    get_db_or_404(state, db_id)
    table_ids = {t["id"] for t in state.table("metabase_table").where(db_id=db_id)}
    field_ids = {f["id"] for f in state.table("metabase_field").where(lambda f: f["table_id"] in table_ids)}
    for name, column, ids in (("field_values", "field_id", field_ids), ("dimension", "field_id", field_ids),
                              ("metabase_field", "id", field_ids), ("metabase_table", "id", table_ids)):
        for row in state.table(name).where(partial(_value_in, column, ids)):
            state.table(name).delete(row["id"])
    state.table("metabase_database").delete(db_id)
    state.emit("database.deleted", db_id=db_id)
