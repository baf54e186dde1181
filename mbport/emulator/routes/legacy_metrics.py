"""Legacy metrics: /api/legacy-metric (0.50 only; named aggregations on a table, archived instead of deleted).

0.50 renamed `/api/metric` to `/api/legacy-metric` (metabase#38981); 0.51 removed it (api-changelog 0.51). The
endpoints mirror /api/segment, as `api/legacy_metric.clj` of 0.50 mirrors `api/segment.clj`: admins write, every
PUT and DELETE carries a revision message, `GET /` lists the unarchived ones.
"""

from __future__ import annotations

from typing import Any

from .. import errors
from ..app import NO_CONTENT, Ctx
from ..router import route
from ..shapes.segments import hydrate
from ..store import Row, State

TABLE = "legacy_metric"
LEGACY_METRICS = lambda profile: profile.legacy_metrics  # noqa: E731


def _get(state: State, metric_id: int) -> Row:
    metric = state.table(TABLE).get(metric_id)
    if metric is None:
        raise errors.not_found()
    return metric


@route("GET", "/api/legacy-metric", available=LEGACY_METRICS)
def list_legacy_metrics(ctx: Ctx):
    rows = sorted(ctx.state.table(TABLE).where(archived=False), key=lambda m: m["name"].lower())
    return [hydrate(ctx.state, m) for m in rows]


@route("POST", "/api/legacy-metric", available=LEGACY_METRICS)
def create_legacy_metric(ctx: Ctx):
    ctx.require_superuser()
    body = ctx.body
    if ctx.state.table("metabase_table").get(body["table_id"]) is None:
        raise errors.not_found()
    metric = ctx.state.table(TABLE).insert({
        "name": body["name"], "description": body.get("description"), "table_id": body["table_id"],
        "definition": body["definition"], "creator_id": ctx.user["id"], "archived": False, "caveats": None,
        "how_is_this_calculated": None, "points_of_interest": None, "show_in_getting_started": False,
    }, now=ctx.state.now())
    return hydrate(ctx.state, metric)


@route("GET", "/api/legacy-metric/{id}", available=LEGACY_METRICS)
def get_legacy_metric(ctx: Ctx, id: int):
    return hydrate(ctx.state, _get(ctx.state, id))


def _update(ctx: Ctx, metric: Row, body: dict[str, Any]) -> dict[str, Any]:
    """Like segments: keys present (the texts) or non-null (the rest) are written."""
    ctx.require_superuser()
    changes: dict[str, Any] = {k: body[k] for k in ("description", "caveats", "points_of_interest", "how_is_this_calculated")
               if k in body}
    changes |= {k: body[k] for k in ("archived", "definition", "name", "show_in_getting_started")
                if body.get(k) is not None}
    if any(metric.get(k) != v for k, v in changes.items()):
        metric.update(changes, updated_at=ctx.state.now())
    return hydrate(ctx.state, metric)


@route("PUT", "/api/legacy-metric/{id}", available=LEGACY_METRICS)
def put_legacy_metric(ctx: Ctx, id: int):
    return _update(ctx, _get(ctx.state, id), ctx.body)


@route("DELETE", "/api/legacy-metric/{id}", available=LEGACY_METRICS)
def delete_legacy_metric(ctx: Ctx, id: int):
    _update(ctx, _get(ctx.state, id), {"archived": True})
    return NO_CONTENT
