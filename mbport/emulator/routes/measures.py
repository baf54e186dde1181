"""Measures: /api/measure (named aggregations on a table, stored as full MBQL 5 queries; Metabase >= 0.59)."""

from __future__ import annotations

from typing import Any

from .. import errors
from ..app import Ctx
from ..models import dimensions
from ..models.versions import MEASURES_SINCE, since
from ..router import route
from ..shapes import segments
from ..shapes.users import creator
from ..store import Row, State

_AGGREGATION_PHRASES = {
    "sum": "Sum of", "avg": "Average of", "min": "Min of", "max": "Max of", "distinct": "Distinct values of",
    "cum-sum": "Cumulative sum of", "median": "Median of", "stddev": "Standard deviation of", "var": "Variance of",
}


def to_full_mbql5(state: State, table_id: int, definition: dict[str, Any]) -> dict[str, Any]:
    """A measure definition as Metabase stores it: MBQL 4 queries and fragments become a full MBQL 5 query."""
    if "stages" in definition or "lib/type" in definition:
        return definition
    try:
        from ... import mbql
    except ImportError:
        return definition
    if "query" not in definition:
        definition = {"database": state.table("metabase_table").value(table_id, "db_id"), "type": "query",
                      "query": {"source-table": table_id, **definition}}
    return mbql.to_mbql5(definition, state.profile)


def describe_aggregation(state: State, clause: Any) -> str:
    if not isinstance(clause, list) or not clause:
        return str(clause)
    op, args = clause[0], segments.clause_args(clause)
    if op == "count":
        return "Count"
    if op == "cum-count":
        return "Cumulative count"
    if op in _AGGREGATION_PHRASES and args:
        return f"{_AGGREGATION_PHRASES[op]} {segments.describe_column(state, args[0])}"
    return op


def hydrate(state: State, measure: Row, *, description: bool = False) -> dict[str, Any]:
    dimensions.seed(state, measure, measure.get("definition"))  # measures/api.clj `hydrate-dimensions` (0.65)
    out = dict(measure)
    out["creator"] = creator(state, measure.get("creator_id"))
    if description:
        aggregations = segments.query_part(measure.get("definition"), "aggregation", "aggregation")
        out["definition_description"] = (
            ", ".join(describe_aggregation(state, a) for a in aggregations) if aggregations else None
        )
    return out


def _get(state: State, measure_id: int) -> Row:
    measure = state.table("measure").get(measure_id)
    if measure is None:
        raise errors.not_found()
    return measure


@route("GET", "/api/measure", available=since(MEASURES_SINCE))
def list_measures(ctx: Ctx):
    rows = sorted(ctx.state.table("measure").where(archived=False), key=lambda m: m["name"].lower())
    return [hydrate(ctx.state, m, description=True) for m in rows]


@route("POST", "/api/measure", available=since(MEASURES_SINCE))
def create_measure(ctx: Ctx):
    ctx.require_superuser()
    body = ctx.body
    if ctx.state.table("metabase_table").get(body["table_id"]) is None:
        raise errors.not_found()
    measure = ctx.state.table("measure").insert({
        "name": body["name"], "description": body.get("description"), "table_id": body["table_id"],
        "definition": to_full_mbql5(ctx.state, body["table_id"], body["definition"]),
        "creator_id": ctx.user["id"], "archived": False,
    }, now=ctx.state.now())
    return hydrate(ctx.state, measure)


@route("GET", "/api/measure/{id}", available=since(MEASURES_SINCE))
def get_measure(ctx: Ctx, id: int):
    return hydrate(ctx.state, _get(ctx.state, id))


@route("PUT", "/api/measure/{id}", available=since(MEASURES_SINCE))
def put_measure(ctx: Ctx, id: int):
    ctx.require_superuser()
    measure = _get(ctx.state, id)
    body = ctx.body
    changes = {"description": body["description"]} if "description" in body else {}
    changes |= {k: body[k] for k in ("archived", "name") if body.get(k) is not None}
    if body.get("definition") is not None:
        changes["definition"] = to_full_mbql5(ctx.state, measure["table_id"], body["definition"])
    if any(measure.get(k) != v for k, v in changes.items()):
        measure.update(changes, updated_at=ctx.state.now())
    return hydrate(ctx.state, measure)
