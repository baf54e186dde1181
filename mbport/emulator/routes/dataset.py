"""Running queries: POST /api/dataset, POST /api/card/{card-id}/query (HTTP 202, like Metabase) and its downloads,
and a dashcard's query, on SQLite warehouses."""

from __future__ import annotations

import csv
import io
import time
from typing import Any

import orjson

from .. import errors
from ..app import Ctx, Response
from ..models.dataset import MAX_RESULTS, columns_metadata, compile_for, record_metadata, run
from ..query import Compiled, QueryError
from ..router import route
from ..store import Row, State

# ---- running and answering ----


def execute(state: State, db: Row, query: dict, parameters: list[dict] | None, context: str) -> Response:
    """Compile and run a query; Metabase answers 202 whether the query completed or failed."""
    started_at, clock = state.now(), time.monotonic()
    json_query = {**query, "parameters": parameters or [],
                  "middleware": {"js-int-to-string?": True, "add-default-userland-constraints?": True}}
    base = {"database_id": db["id"], "started_at": started_at, "json_query": json_query, "context": context}
    compiled: Compiled | None = None
    try:
        compiled = compile_for(state, db, query, parameters)
        cols, rows, truncated = run(db, compiled)
    except QueryError as exc:
        return Response(202, _failed(base, exc, compiled))
    metadata = columns_metadata(cols)
    data = {"rows": rows, "cols": cols, "native_form": {"query": compiled.sql, "params": compiled.params or None},
            "format-rows?": True, "results_timezone": "UTC", "requested_timezone": "UTC",
            "results_metadata": {"columns": metadata}, "insights": None}
    if truncated:
        data["rows_truncated"] = MAX_RESULTS
    return Response(202, {"data": data, "cached": None, **base, "average_execution_time": None, "status": "completed",
                          "row_count": len(rows), "running_time": int((time.monotonic() - clock) * 1000)})


def _failed(base: dict, exc: QueryError, compiled: Compiled | None) -> dict:
    cls = exc.cls if exc.cls.startswith("class ") else f"class {exc.cls}"
    error = {"status": "failed", "class": cls, "error": str(exc), "stacktrace": [], "error_type": exc.error_type}
    out = {"data": {"rows": [], "cols": []}, **base, **error, "via": [error], "row_count": 0, "running_time": 0}
    if compiled is not None:
        out["native"] = {"query": compiled.sql, "params": compiled.params or None}
    return out


def _database(state: State, db_id: Any) -> Row:
    db = state.table("metabase_database").get(db_id) if isinstance(db_id, int) else None
    if db is None:
        raise errors.not_found()
    return db


@route("POST", "/api/dataset")
def run_dataset(ctx: Ctx):
    body = dict(ctx.body or {})
    parameters = body.pop("parameters", None)
    return execute(ctx.state, _database(ctx.state, body.get("database")), body, parameters, "ad-hoc")


@route("POST", "/api/card/{card-id}/query")
def run_card(ctx: Ctx, card_id: Any):
    state = ctx.state
    card = state.table("card").get(card_id)
    if card is None:
        raise errors.not_found()
    query = card.get("dataset_query") or {}
    db = _database(state, query.get("database") or card.get("database_id"))
    response = execute(state, db, query, (ctx.body or {}).get("parameters"), "question")
    record_metadata(state, card, response)
    return response


# Downloads run without the 2,000-row userland constraint, up to a spreadsheet's row count
# (query_processor/middleware/constraints.clj; `:constraints nil` in the download endpoints).
MAX_DOWNLOAD_ROWS = 1_048_575


@route("POST", "/api/card/{card-id}/query/{export-format}")
def download_card(ctx: Ctx, card_id: Any, export_format: str):
    """queries_rest/api/card.clj `POST /:card-id/query/:export-format`: the card's results as a file. `json` is an
    array of objects keyed by column title (query_processor/streaming/json.clj), `csv` a header row of titles and
    then the rows (streaming/csv.clj), `api` the usual query answer with status 200. Titles are the columns'
    display names (streaming/common.clj `column-titles`); `format_rows` (default false) is not applied: values
    are written as the warehouse returns them. xlsx is not emulated."""
    state = ctx.state
    card = state.table("card").get(card_id)
    if card is None:
        raise errors.not_found()
    if export_format == "xlsx":
        raise errors.bad_request("The emulator does not write xlsx files; use csv or json.")
    query = card.get("dataset_query") or {}
    db = _database(state, query.get("database") or card.get("database_id"))
    parameters = (ctx.body or {}).get("parameters")
    if isinstance(parameters, str):  # sent as a form field: a JSON string
        parameters = orjson.loads(parameters or "[]")
    if export_format == "api":
        answer = execute(state, db, query, parameters, "question")
        return Response(200, answer.body)
    try:
        cols, rows, _ = run(db, compile_for(state, db, query, parameters), MAX_DOWNLOAD_ROWS)
    except QueryError as exc:
        return Response(500, {"status": "failed", "error": str(exc), "error_type": exc.error_type})
    titles = [c.get("display_name") or c["name"] for c in cols]
    stamp = state.now().replace(":", "").replace("-", "")[:15]
    name = f"{card['name'].lower().replace(' ', '_')}_{stamp}.{export_format}"
    headers = {"content-disposition": f'attachment; filename="{name}"'}
    if export_format == "json":
        body = orjson.dumps([dict(zip(titles, row, strict=True)) for row in rows])
        return Response(200, body, {**headers, "content-type": "application/json; charset=utf-8"})
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(titles)
    writer.writerows(rows)
    return Response(200, out.getvalue().encode(), {**headers, "content-type": "text/csv"})


@route("POST", "/api/dashboard/{dashboard-id}/dashcard/{dashcard-id}/card/{card-id}/query")
def run_dashcard(ctx: Ctx, dashboard_id: Any, dashcard_id: Any, card_id: Any):
    """The card's query in its dashboard: metabase.query-processor.dashboard/process-query-for-dashcard. The card must
    be the dashcard's own or one of its series (check-card-and-dashcard-are-in-dashboard: else 404); each request
    parameter must be a dashboard parameter (else 400) and applies only through this dashcard's mapping for this
    card (resolve-param-for-card); a dashboard parameter's `default` applies when the request gives no value
    (dashboard-param-defaults). Answers like the card query, with context "dashboard"."""
    state = ctx.state
    dashboard = state.table("dashboard").get(dashboard_id)
    dashcard = state.table("dashboardcard").get(dashcard_id)
    if dashboard is None or dashcard is None or dashcard["dashboard_id"] != dashboard_id:
        raise errors.not_found()
    in_series = any(r["card_id"] == card_id for r in state.table("dashboardcard_series").where(dashboardcard_id=dashcard_id))
    card = state.table("card").get(card_id)
    if card is None or (dashcard.get("card_id") != card_id and not in_series):
        raise errors.not_found()
    by_id = {p["id"]: p for p in dashboard.get("parameters") or [] if isinstance(p, dict) and "id" in p}
    mappings = {m.get("parameter_id"): m for m in dashcard.get("parameter_mappings") or []
                if isinstance(m, dict) and m.get("card_id") == card_id}
    merged = {pid: {"id": pid, "default": p["default"]} for pid, p in by_id.items()
              if p.get("default") is not None and pid in mappings}
    for param in (ctx.body or {}).get("parameters") or []:
        if param.get("id") not in by_id:
            raise errors.bad_request(f"Dashboard does not have a parameter with ID {param.get('id')!r}.")
        merged[param["id"]] = {k: v for k, v in param.items() if k != "default"}
    resolved = []
    for pid, param in merged.items():
        mapping = mappings.get(pid)
        if mapping is None:
            continue  # no mapping for this card on this dashcard: ignored
        value = param.get("value", param.get("default"))
        resolved.append({"type": by_id[pid].get("type"), **param, "value": value, "target": mapping.get("target")})
    query = card.get("dataset_query") or {}
    db = _database(state, query.get("database") or card.get("database_id"))
    response = execute(state, db, query, resolved, "dashboard")
    record_metadata(state, card, response)  # through qp.card/process-query-for-card, like the card's own query
    return response
