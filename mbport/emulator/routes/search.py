"""Search: GET /api/search (src/metabase/search/api.clj GET "/"): saved questions, models, metrics and dashboards,
live or archived, and the verified ones.

Emulated: `verified`, `archived` (default false), `include_dashboard_questions` (default false), `models`; every
other filter and model gives an empty result, which no caller relies on. The rows are the columns of search/config.clj
`columns-for-model "card"` (and "dashboard") that a caller may read (`moderated_status` is the newest review's
status); ranking is not emulated (rows come by name).
- Dashboards: dashboards/models/dashboard/search.clj `(search/define-spec "dashboard" ...)` has `:where []`: every
  dashboard the user may read (its collection's read permission, search/permissions.clj), live or archived by the
  `:archived` attr like cards, with the collection's name, type and authority level and its newest review's
  `moderated-status` among the render terms.

- `verified` is `true` or absent (`false` is a 400: the schema is `[:maybe true?]`); `verified=true` keeps only the models the filter supports (search/in_place/filter.clj
  `search-context->applicable-models`: the models with a `build-optional-filter-query [:verified model]`, i.e.
  "card", "dataset", "metric"), joins the newest review and keeps `status = "verified"`
  (`build-optional-filter-query [:verified "card"]`). Without `content_verification` the filter is a false clause:
  no row, no error (the appdb engine does the same: search/filter.clj `where-clause* :verified`). The appdb engine
  of some releases also gives dashboards the `:verified` attr (its dashboard search spec); others and the in-place
  engine do not, so a caller cannot rely on verified dashboards from search: the emulator gives none.
- The response is capped: search/config.clj `max-filtered-results` (1000) results are kept after ranking
  (in_place `search` → `scoring/top-results`, the appdb engine's `*db-max-results*` limit), paging applies inside
  them, and `total` counts the capped list, so `total` 1000 means "maybe more": a caller must not take it as all.
"""

from __future__ import annotations

from typing import Any

from .. import errors, premium
from ..app import Ctx
from ..models.cards import collection_row
from ..models.collections import can_read
from ..models.moderation import FEATURE, status
from ..router import route

MAX_RESULTS = 1000  # search/config.clj `max-filtered-results` (and `*db-max-results*`)
CARD_MODELS = {"card": "question", "dataset": "model", "metric": "metric"}  # search model → card type
VERIFIABLE = tuple(CARD_MODELS)  # in_place/filter.clj: `[:verified "card"]`, `"dataset"`, `"metric"`
ALL_MODELS = ("dashboard", "metric", "segment", "indexed-entity", "card", "dataset", "collection", "table",
              "action", "database")  # search/config.clj `models-search-order`


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, list | tuple) else [value]


def _collection(ctx: Ctx, cid: int | None) -> dict[str, Any]:
    row = ctx.state.table("collection").get(cid) if cid is not None else None
    if row is None:
        return {"id": "root", "name": "Our analytics", "authority_level": None, "type": None}
    return {"id": row["id"], "name": row.get("name"), "authority_level": row.get("authority_level"),
            "type": row.get("type")}


def _row(ctx: Ctx, model: str, item: dict[str, Any]) -> dict[str, Any]:
    return {"id": item["id"], "model": model, "name": item.get("name"), "description": item.get("description"),
            "archived": bool(item.get("archived")), "updated_at": item.get("updated_at"),
            "collection_position": item.get("collection_position"), "dashboard_id": item.get("dashboard_id"),
            "collection": _collection(ctx, item.get("collection_id")),
            "moderated_status": status(ctx.state, "dashboard" if model == "dashboard" else "card", item["id"])}


def _items(ctx: Ctx, model: str, archived: bool, dashboard_questions: bool) -> list[dict[str, Any]]:
    """The rows of one model the user may read, live or archived; dashboard questions only when asked for."""
    if model == "dashboard":
        rows = ctx.state.table("dashboard").where(lambda d: bool(d.get("archived")) == archived)
    elif model in CARD_MODELS:
        rows = ctx.state.table("card").where(lambda c: bool(c.get("archived")) == archived and (
            dashboard_questions or not c.get("dashboard_id")), type=CARD_MODELS[model])
    else:
        return []
    return [row for row in rows if can_read(ctx.state, ctx.user, collection_row(ctx.state, row.get("collection_id")))]


@route("GET", "/api/search")
def search(ctx: Ctx):
    q = ctx.query
    models = [m for m in ALL_MODELS if m in set(_as_list(q.get("models")))] or list(ALL_MODELS)
    if q.get("verified") is False:  # api.clj `[:verified {:optional true} [:maybe true?]]`: true or nothing
        raise errors.invalid({"verified": "nullable true?"}, {"verified": ["should be true"]})
    verified = q.get("verified") is True
    if verified:
        models = [m for m in models if m in VERIFIABLE]  # search-context->applicable-models
    archived = bool(q.get("archived"))
    rows: list[dict[str, Any]] = []
    if not verified or premium.enabled(ctx.state, FEATURE):  # else `false-clause`
        for model in models:
            for item in _items(ctx, model, archived, bool(q.get("include_dashboard_questions"))):
                row = _row(ctx, model, item)
                if not verified or row["moderated_status"] == "verified":
                    rows.append(row)
    rows.sort(key=lambda r: ((r["name"] or "").lower(), r["model"], r["id"]))
    rows = rows[:MAX_RESULTS]  # top-results: the best 1000, then the page
    return {"data": ctx.page(rows), "total": len(rows), "models": models, "table_db_id": None,
            "limit": ctx.paging.limit if ctx.paging else None, "offset": ctx.paging.offset if ctx.paging else None}
