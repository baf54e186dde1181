"""Search: GET /api/search (src/metabase/search/api.clj GET "/"), as far as mbport reads it: the verified saved
questions, models and metrics, live or archived.

Emulated: `verified`, `archived` (default false), `include_dashboard_questions` (default false), `models`; every
other filter and model gives an empty result, which no caller relies on. The rows are the card columns of
search/config.clj `columns-for-model "card"` that a caller may read (`moderated_status` is the newest review's
status); ranking is not emulated (rows come by name).

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
from ..models.cards import can_read_card
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


def _row(ctx: Ctx, model: str, card: dict[str, Any]) -> dict[str, Any]:
    return {"id": card["id"], "model": model, "name": card.get("name"), "description": card.get("description"),
            "archived": bool(card.get("archived")), "updated_at": card.get("updated_at"),
            "collection_position": card.get("collection_position"), "dashboard_id": card.get("dashboard_id"),
            "collection": _collection(ctx, card.get("collection_id")),
            "moderated_status": status(ctx.state, "card", card["id"])}


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
            for card in ctx.state.table("card").where(type=CARD_MODELS.get(model)) if model in CARD_MODELS else ():
                if (bool(card.get("archived")) != archived or not can_read_card(ctx.state, ctx.user, card)
                        or (card.get("dashboard_id") and not q.get("include_dashboard_questions"))):
                    continue
                if verified and status(ctx.state, "card", card["id"]) != "verified":
                    continue
                rows.append(_row(ctx, model, card))
    rows.sort(key=lambda r: ((r["name"] or "").lower(), r["model"], r["id"]))
    rows = rows[:MAX_RESULTS]  # top-results: the best 1000, then the page
    return {"data": ctx.page(rows), "total": len(rows), "models": models, "table_db_id": None,
            "limit": ctx.paging.limit if ctx.paging else None, "offset": ctx.paging.offset if ctx.paging else None}
