"""SQLite introspection and Metabase-style sync: tables and fields rows with inferred types, keys and values."""

from __future__ import annotations

import re
import sqlite3
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .store import Row, State

# Metabase's SQLite driver maps declared column types by substring, first match wins.
_SQLITE_TYPES = [
    ("BIGINT", "type/BigInteger"), ("BIG INT", "type/BigInteger"), ("INT", "type/Integer"),
    ("CHAR", "type/Text"), ("TEXT", "type/Text"), ("CLOB", "type/Text"), ("BLOB", "type/*"),
    ("REAL", "type/Float"), ("DOUB", "type/Float"), ("FLOA", "type/Float"), ("NUMERIC", "type/Float"),
    ("DECIMAL", "type/Decimal"), ("BOOLEAN", "type/Boolean"), ("TIMESTAMP", "type/DateTime"),
    ("DATETIME", "type/DateTime"), ("DATE", "type/Date"), ("TIME", "type/Time"),
]
TEMPORAL = {"type/DateTime", "type/Date", "type/Time"}
NUMERIC = {"type/BigInteger", "type/Integer", "type/Float", "type/Decimal"}

# Metabase's name classifiers (analyze/classifiers/name.clj), most specific first.
_NAME_SEMANTICS: list[tuple[str, set[str] | None, str]] = [
    (r"^(created_?at|creation_?(date|time)|date_?created)$", TEMPORAL, "type/CreationTimestamp"),
    (r"^(updated_?at|modified_?at|last_?modified)$", TEMPORAL, "type/UpdatedTimestamp"),
    (r"^(birth_?date|birthday|date_?of_?birth|dob)$", TEMPORAL, "type/Birthdate"),
    (r"^(deleted_?at|cancell?ed_?at)$", TEMPORAL, "type/CancelationTimestamp"),
    (r"e?-?mail", {"type/Text"}, "type/Email"),
    (r"(^|_)(url|website|homepage|link)$", {"type/Text"}, "type/URL"),
    (r"^(lat|latitude)$", NUMERIC, "type/Latitude"),
    (r"^(lon|lng|long|longitude)$", NUMERIC, "type/Longitude"),
    (r"^(zip|zip_?code|postal_?code|postcode)$", None, "type/ZipCode"),
    (r"^city$", {"type/Text"}, "type/City"),
    (r"^(state|province|region)$", {"type/Text"}, "type/State"),
    (r"^country$", {"type/Text"}, "type/Country"),
    (r"^(first_?name|last_?name|full_?name|name|username)$", {"type/Text"}, "type/Name"),
    (r"^title$", {"type/Text"}, "type/Title"),
    (r"^(description|body|comment|notes?)$", {"type/Text"}, "type/Description"),
    (r"(^|_)(category|type|status|source|plan|kind|method|vendor)$", {"type/Text"}, "type/Category"),
    (r"(^|_)(price|cost)$", NUMERIC, "type/Price"),
    (r"(^|_)discount$", NUMERIC, "type/Discount"),
    (r"(^|_)income$", NUMERIC, "type/Income"),
    (r"(^|_)(score|rating)$", NUMERIC, "type/Score"),
    (r"(^|_)(quantity|count)$|^number_of_", NUMERIC, "type/Quantity"),
    (r"(^|_)(subtotal|total|amount)$", NUMERIC, "type/Currency"),
]

# Metabase's table entity-type patterns (analyze/classifiers/name.clj).
_ENTITY_TYPES = [
    ("order", "entity/TransactionTable"), ("transaction", "entity/TransactionTable"), ("sale", "entity/TransactionTable"),
    ("product", "entity/ProductTable"), ("user", "entity/UserTable"), ("account", "entity/UserTable"),
    ("people", "entity/UserTable"), ("person", "entity/UserTable"), ("employee", "entity/UserTable"),
    ("event", "entity/EventTable"), ("checkin", "entity/EventTable"), ("log", "entity/EventTable"),
    ("subscription", "entity/SubscriptionTable"), ("compan", "entity/CompanyTable"), ("vendor", "entity/CompanyTable"),
]

CATEGORY_THRESHOLD = 30  # distinct values below which an untyped field becomes type/Category
LIST_THRESHOLD = 1000  # distinct values below which a field gets a values list (auto-list)
FINGERPRINT_VERSION = 5


@dataclass
class ColumnInfo:
    name: str
    database_type: str
    position: int
    not_null: bool
    default: Any
    is_pk: bool
    fk: tuple[str, str | None] | None = None  # (target table, target column or None = its PK)
    stats: dict[str, Any] = field(default_factory=dict)


@dataclass
class TableInfo:
    name: str
    columns: list[ColumnInfo]
    row_count: int | None = None


class SyncError(Exception):
    """The database file cannot be opened."""


def base_type_for(database_type: str) -> str:
    upper = (database_type or "").upper()
    return next((base for pattern, base in _SQLITE_TYPES if pattern in upper), "type/*")


def humanize(name: str) -> str:
    """Metabase's simple humanization: separators to spaces, words capitalised, `id` as `ID`."""
    words = [w for w in re.split(r"[_\-\s]+", name.strip()) if w]
    return " ".join("ID" if w.lower() == "id" else w[:1].upper() + w[1:] for w in words) or name


def entity_type_for(table_name: str) -> str:
    lower = table_name.lower()
    return next((etype for pattern, etype in _ENTITY_TYPES if pattern in lower), "entity/GenericTable")


def connect(path: str | Path, readonly: bool = True) -> sqlite3.Connection:
    """Open a SQLite file; a file that does not exist is an error (never created)."""
    p = Path(path)
    if not p.is_file():
        raise SyncError(f"Database file {path} does not exist.")
    uri = f"file:{p.resolve().as_posix()}?mode={'ro' if readonly else 'rw'}"
    return sqlite3.connect(uri, uri=True, check_same_thread=False)


def check_connection(details: dict[str, Any]) -> str | None:
    """None when a SQLite `details.db` can be opened, else the error message."""
    path = details.get("db")
    if not isinstance(path, str) or not path:
        return "Unable to connect to database: no database file given (details.db)."
    try:
        with connect(path) as conn:
            conn.execute("select count(*) from sqlite_master").fetchone()
    except (SyncError, sqlite3.Error) as exc:
        return f"Unable to connect to database: {exc}"
    return None


def _quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def introspect(path: str | Path) -> list[TableInfo]:
    """Tables and views of a SQLite file with columns, keys and fingerprint statistics."""
    with connect(path) as conn:
        names = [r[0] for r in conn.execute(
            "select name from sqlite_master where type in ('table', 'view') and name not like 'sqlite_%' order by name")]
        tables = []
        for name in names:
            cols = [
                ColumnInfo(r[1], (r[2] or "").upper(), r[0], bool(r[3]), r[4], bool(r[5]))
                for r in conn.execute(f"pragma table_info({_quote(name)})")
            ]
            by_name = {c.name: c for c in cols}
            for r in conn.execute(f"pragma foreign_key_list({_quote(name)})"):
                if r[3] in by_name:
                    by_name[r[3]].fk = (r[2], r[4])
            info = TableInfo(name, cols)
            _fingerprint(conn, info)
            tables.append(info)
    return tables


def _fingerprint(conn: sqlite3.Connection, table: TableInfo) -> None:
    """One aggregate query per table: row count, distinct and null counts, numeric and temporal ranges."""
    if not table.columns:
        return
    parts = ["count(*)"]
    for c in table.columns:
        q = _quote(c.name)
        parts += [f"count(distinct {q})", f"sum({q} is null)", f"min({q})", f"max({q})", f"avg(length({q}))"]
        parts.append(f"avg({q})" if base_type_for(c.database_type) in NUMERIC else "null")
    try:
        row = conn.execute(f"select {', '.join(parts)} from {_quote(table.name)}").fetchone()
    except sqlite3.Error:
        return
    total = row[0] or 0
    table.row_count = total
    for i, c in enumerate(table.columns):
        distinct, nulls, lo, hi, avg_len, avg = row[1 + i * 6: 7 + i * 6]
        c.stats = {"distinct": distinct or 0, "nil%": (nulls or 0) / total if total else 0.0,
                   "min": lo, "max": hi, "avg_length": avg_len, "avg": avg}


def _fingerprint_json(base_type: str, stats: dict[str, Any]) -> dict[str, Any] | None:
    if not stats:
        return None
    fp: dict[str, Any] = {"global": {"distinct-count": stats["distinct"], "nil%": stats["nil%"]}}
    if base_type in NUMERIC and stats["avg"] is not None:
        fp["type"] = {"type/Number": {"min": _num(stats["min"]), "max": _num(stats["max"]), "avg": stats["avg"]}}
    elif base_type == "type/Text":
        fp["type"] = {"type/Text": {"percent-json": 0.0, "percent-url": 0.0, "percent-email": 0.0,
                                    "percent-state": 0.0, "average-length": stats["avg_length"] or 0.0}}
    elif base_type in TEMPORAL:
        fp["type"] = {"type/DateTime": {"earliest": stats["min"], "latest": stats["max"]}}
    return fp


def _num(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def infer_semantic_type(name: str, base_type: str, is_pk: bool, is_fk: bool, stats: dict[str, Any]) -> str | None:
    if is_pk:
        return "type/PK"
    if is_fk:
        return "type/FK"
    lower = name.lower()
    if lower == "id":
        return "type/PK"
    for pattern, bases, semantic in _NAME_SEMANTICS:
        if (bases is None or base_type in bases) and re.search(pattern, lower):
            return semantic
    if not _cannot_be_list(base_type, None) and stats and 0 < stats["distinct"] < CATEGORY_THRESHOLD \
            and base_type in {"type/Text", "type/Integer", "type/BigInteger", "type/Boolean"}:
        return "type/Category"
    return None


def _cannot_be_list(base_type: str, semantic_type: str | None) -> bool:
    return base_type in TEMPORAL or base_type in {"type/Float", "type/Decimal"} or semantic_type == "type/PK"


def infer_has_field_values(base_type: str, semantic_type: str | None, stats: dict[str, Any]) -> str:
    if base_type == "type/Boolean":
        return "list"
    if _cannot_be_list(base_type, semantic_type):
        return "none"
    if stats and stats["distinct"] < LIST_THRESHOLD:
        return "list"
    return "search" if base_type == "type/Text" else "none"


# ---- applying a sync to the state ----

def new_table_row(db_id: int, name: str, now: str, schema: str | None = None) -> dict[str, Any]:
    return {
        "description": None, "entity_type": entity_type_for(name), "view_count": 0, "schema": schema,
        "is_writable": None, "database_require_filter": None, "show_in_getting_started": False, "name": name,
        "caveats": None, "active": True, "db_id": db_id, "archived_at": None, "visibility_type": None,
        "field_order": "database", "deactivated_at": None, "data_authority": "unconfigured", "is_upload": False,
        "initial_sync_status": "incomplete", "display_name": humanize(name), "estimated_row_count": None,
        "points_of_interest": None, "created_at": now, "updated_at": now,
    }


# state.extra[NEW_TABLE_COLUMNS]: columns the emulated release adds to every new table row (models/tables.py sets them).
NEW_TABLE_COLUMNS = "new_table_columns"
H2_SAMPLE_SCHEMA = "PUBLIC"  # the H2 sample database's one schema (Metabase before 0.63)


def sqlite_file(db: Row) -> str | None:
    """The SQLite file a database is synced and queried from: a SQLite database's, and the sample database's whatever
    engine the profile reports (before 0.63 Metabase bundles an H2 sample; the emulator's is the same data in SQLite)."""
    if db["engine"] == "sqlite" or db.get("is_sample"):
        return (db.get("details") or {}).get("db")
    return None


def table_schema(db: Row) -> str | None:
    """The schema sync gives a database's tables: PUBLIC for the H2 sample database, none for SQLite files."""
    return H2_SAMPLE_SCHEMA if db.get("is_sample") and db["engine"] == "h2" else None


def new_field_row(table_id: int, col: ColumnInfo, now: str) -> dict[str, Any]:
    base = base_type_for(col.database_type)
    semantic = infer_semantic_type(col.name, base, col.is_pk, col.fk is not None, col.stats)
    return {
        "description": None, "database_type": col.database_type or "", "semantic_type": semantic, "table_id": table_id,
        "coercion_strategy": None, "database_indexed": True if col.is_pk else None, "name": col.name,
        "fingerprint_version": FINGERPRINT_VERSION if col.stats else 0,
        "has_field_values": infer_has_field_values(base, semantic, col.stats), "database_is_pk": col.is_pk,
        "settings": None, "caveats": None, "fk_target_field_id": None, "custom_position": 0,
        "database_default": None if col.default is None else str(col.default), "effective_type": base,
        "active": True, "nfc_path": None, "parent_id": None, "last_analyzed": now if col.stats else None,
        "database_partitioned": None, "database_is_auto_increment": col.is_pk and base in NUMERIC,
        "json_unfolding": False, "position": col.position, "visibility_type": "normal", "preview_display": True,
        "database_is_generated": False, "display_name": humanize(col.name), "database_position": col.position,
        "database_required": col.not_null and col.default is None and not col.is_pk,
        "database_is_nullable": not col.not_null and not col.is_pk,
        "fingerprint": _fingerprint_json(base, col.stats), "base_type": base, "points_of_interest": None,
        "created_at": now, "updated_at": now,
    }


def apply_sync(state: State, db_id: int, tables: list[TableInfo]) -> None:
    """Upsert tables and fields of a database from an introspection, keeping the edits users made.

    New tables and columns appear; vanished ones become inactive (never deleted, so ids stay stable);
    display names, descriptions, visibility and semantic types set by users survive.
    """
    now = state.now()
    table_rows = state.table("metabase_table")
    field_rows = state.table("metabase_field")
    existing = {t["name"]: t for t in table_rows.where(db_id=db_id)}
    db = state.table("metabase_database").get(db_id)
    schema = table_schema(db) if db is not None else None
    seen_tables = set()
    pending_fks: list[tuple[Row, str, str | None]] = []
    for info in tables:
        seen_tables.add(info.name)
        trow = existing.get(info.name)
        if trow is None:
            trow = table_rows.insert(new_table_row(db_id, info.name, now, schema)
                                     | state.extra.get(NEW_TABLE_COLUMNS, {}))
        elif not trow["active"]:
            trow.update(active=True, deactivated_at=None, updated_at=now)
        trow["estimated_row_count"] = info.row_count
        fields = {f["name"]: f for f in field_rows.where(table_id=trow["id"], parent_id=None)}
        next_position = max((f["position"] for f in fields.values()), default=-1) + 1
        seen_fields = set()
        for col in info.columns:
            seen_fields.add(col.name)
            frow = fields.get(col.name)
            if frow is None:
                frow = field_rows.insert(new_field_row(trow["id"], col, now))
                if fields and trow["field_order"] != "database":
                    # a new column goes last in a custom order
                    frow["position"] = frow["custom_position"] = next_position
                    next_position += 1
            else:
                base = base_type_for(col.database_type)
                if frow["base_type"] != base and frow["coercion_strategy"] is None:
                    frow["effective_type"] = base
                frow.update(database_type=col.database_type, base_type=base, database_position=col.position,
                            database_is_pk=col.is_pk, active=True, updated_at=now,
                            fingerprint=_fingerprint_json(base, col.stats) or frow["fingerprint"])
                if trow["field_order"] == "database":
                    frow["position"] = col.position
                if col.is_pk and frow["semantic_type"] is None:
                    frow["semantic_type"] = "type/PK"
            if col.fk is not None and frow["fk_target_field_id"] is None and frow["semantic_type"] in (None, "type/FK"):
                pending_fks.append((frow, *col.fk))
        for name, frow in fields.items():
            if name not in seen_fields and frow["active"]:
                frow.update(active=False, updated_at=now)
        trow["initial_sync_status"] = "complete"
    for name, trow in existing.items():
        if name not in seen_tables and trow["active"]:
            trow.update(active=False, deactivated_at=now, updated_at=now)
    for frow, target_table, target_column in pending_fks:
        target = _resolve_fk_target(state, db_id, target_table, target_column)
        if target is not None:
            frow.update(semantic_type="type/FK", fk_target_field_id=target["id"])
            if frow["has_field_values"] == "none" and frow["base_type"] not in TEMPORAL:
                frow["has_field_values"] = "list"


def _resolve_fk_target(state: State, db_id: int, table_name: str, column: str | None) -> Row | None:
    table = state.table("metabase_table").first(lambda t: t["name"].lower() == table_name.lower(), db_id=db_id)
    if table is None:
        return None
    fields = state.table("metabase_field").where(table_id=table["id"], active=True)
    if column is None:
        return next((f for f in fields if f["database_is_pk"]), None)
    return next((f for f in fields if f["name"].lower() == column.lower()), None)


def sync_database(state: State, db_id: int) -> None:
    """Introspect (outside the lock, it reads a file) and apply (under the lock); then mark the sync complete."""
    try:
        _sync_database(state, db_id)
    finally:
        with state.lock:
            jobs = state.extra.get("background_jobs", [])
            if threading.current_thread() in jobs:
                jobs.remove(threading.current_thread())  # finished jobs leave the list (wait_idle joins a copy)


def _sync_database(state: State, db_id: int) -> None:
    with state.lock:
        db = state.table("metabase_database").get(db_id)
        if db is None:
            return
        path = sqlite_file(db)
    tables: list[TableInfo] | None = None
    if path:
        try:
            tables = introspect(path)
        except (SyncError, sqlite3.Error):
            tables = None  # like Metabase: a failed sync leaves the metadata as it was
    with state.lock:
        db = state.table("metabase_database").get(db_id)
        if db is None:
            return  # deleted while syncing
        if tables is not None:
            apply_sync(state, db_id, tables)
        db["initial_sync_status"] = "complete"
        db["updated_at"] = state.now()


def start_sync(state: State, db_id: int) -> threading.Thread:
    """Run `sync_database` in a background thread, registered so `Emulator.wait_idle()` can join it."""
    thread = threading.Thread(target=sync_database, args=(state, db_id), name=f"sync-db-{db_id}", daemon=True)
    state.extra.setdefault("background_jobs", []).append(thread)
    thread.start()
    return thread


def sqlite_version() -> dict[str, Any]:
    parts = [int(p) for p in sqlite3.sqlite_version.split(".")[:2]]
    return {"flavor": "SQLite", "version": sqlite3.sqlite_version, "semantic-version": parts}


def distinct_values(path: str | Path, table: str, column: str, limit: int = LIST_THRESHOLD) -> tuple[list[Any], bool]:
    """A column's distinct non-null values in order, and whether there were more than `limit`."""
    with connect(path) as conn:
        rows = conn.execute(
            f"select distinct {_quote(column)} from {_quote(table)} where {_quote(column)} is not null "
            f"order by 1 limit {int(limit) + 1}").fetchall()
    return [r[0] for r in rows[:limit]], len(rows) > limit
