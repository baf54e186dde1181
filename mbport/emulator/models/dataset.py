"""Running queries on the emulator's SQLite warehouses: compile (query/), run, read result metadata, and record it on a card like the query processor."""

from __future__ import annotations

import sqlite3
from typing import Any

from .. import errors, sync
from ..query import Compiled, QueryError, compile_query
from ..query.base import value_type
from ..store import Row, State

MAX_RESULTS = 2000  # Metabase's cap on ad-hoc and saved-question results


def _base_type(values: list[Any]) -> str:
    return value_type(next((v for v in values if v is not None), None))


def _native_col(name: str, values: list[Any]) -> dict:
    base = _base_type(values)
    return {"display_name": name, "source": "native", "field_ref": ["field", name, {"base-type": base}],
            "name": name, "base_type": base, "effective_type": base}


def connect(db: Row) -> sqlite3.Connection:
    path = sync.sqlite_file(db)
    if path is None:
        raise QueryError(f"The emulator cannot connect to a {db['engine']} database; only SQLite warehouses run queries.",
                         "driver", "class java.net.ConnectException")
    try:
        return sync.connect(path)
    except sync.SyncError as exc:
        raise QueryError(str(exc), "driver", "class java.sql.SQLException") from exc


def sql_error(exc: Exception) -> QueryError:
    return QueryError(f"[SQLITE_ERROR] SQL error or missing database ({exc})", "invalid-query",
                      "class org.sqlite.SQLiteException")


def compile_for(state: State, db: Row, query: dict, parameters: list[dict] | None) -> Compiled:
    """Compile a query for a warehouse; a native source query's columns are read from the warehouse."""

    def probe(sql: str, params: list) -> list[str]:
        try:
            with connect(db) as conn:
                cursor = conn.execute(f"SELECT * FROM ({sql}) LIMIT 0", params)
                return [d[0] for d in cursor.description or []]
        except (sqlite3.Error, OverflowError) as exc:
            raise sql_error(exc) from exc

    return compile_query(state, query, parameters, probe=probe)


def run(db: Row, compiled: Compiled, limit: int = MAX_RESULTS) -> tuple[list[dict], list[list[Any]], bool]:
    try:
        with connect(db) as conn:
            cursor = conn.execute(compiled.sql, compiled.params)
            names = [d[0] for d in cursor.description or []]
            rows = [list(r) for r in cursor.fetchmany(limit + 1)]
    except (sqlite3.Error, OverflowError) as exc:
        raise sql_error(exc) from exc
    truncated = len(rows) > limit
    rows = rows[:limit]
    if compiled.cols is not None and len(compiled.cols) == len(names):
        cols = compiled.cols
    else:
        cols = [_native_col(n, [r[i] for r in rows]) for i, n in enumerate(names)]
    return cols, rows, truncated


def columns_metadata(cols: list[dict]) -> list[dict]:
    """The results metadata of a run's columns (what Metabase returns and records on the card)."""
    return [{k: c[k] for k in ("display_name", "field_ref", "name", "base_type", "effective_type")}
            | {"semantic_type": c.get("semantic_type"), "fingerprint": c.get("fingerprint")} for c in cols]


def query_metadata_by_running(state: State, query: dict) -> list[dict] | None:
    """A native query's result metadata, found by running it (None when it fails): what
    queries/models/card/metadata.clj `maybe-async-result-metadata` stores on a card created without any.
    Metabase runs it asynchronously with a time limit; the emulator's warehouses answer at once."""
    try:
        db = state.table("metabase_database").get(query.get("database"))
        if db is None:
            return None
        return columns_metadata(run(db, compile_for(state, db, query, None))[0])
    except (QueryError, errors.ApiError):
        return None


# What a user edits in a model's columns: kept when a run records the model's metadata again (the QP merges the
# model's stored metadata into its results before `record-metadata!` saves them).
MODEL_EDITS = ("display_name", "description", "semantic_type", "fk_target_field_id", "settings", "visibility_type", "id")


def record_metadata(state: State, card: Row, response: Any) -> None:
    """query_processor/middleware/results_metadata.clj `record-metadata!`: a completed run of a card's own query
    saves its columns' metadata on the card when it changed (without touching `updated_at`)."""
    body = response.body if isinstance(response.body, dict) else {}
    if body.get("status") != "completed":
        return
    metadata = body["data"]["results_metadata"]["columns"]
    if card.get("type") == "model":
        edited = {c.get("name"): c for c in card.get("result_metadata") or [] if isinstance(c, dict)}
        metadata = [{**c, **{k: edited[c["name"]][k] for k in MODEL_EDITS if k in edited.get(c["name"], {})}}
                    for c in metadata]
    if metadata != card.get("result_metadata"):
        card["result_metadata"] = metadata
