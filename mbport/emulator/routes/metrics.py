"""Read-only metrics: GET /api/metric and /api/metric/{id} (cards of type metric; written through /api/card)."""

from __future__ import annotations

from typing import Any

from .. import errors
from ..app import Ctx
from ..models import dimensions
from ..models.versions import MEASURES_SINCE, since
from ..router import route
from ..store import Row, State


def _collection(state: State, collection_id: int | None) -> dict[str, Any] | None:
    collection = state.table("collection").get(collection_id) if collection_id else None
    return {"id": collection["id"], "name": collection["name"]} if collection else None


def _summary(state: State, card: Row) -> dict[str, Any]:
    return {
        "id": card["id"], "name": card["name"], "description": card.get("description"),
        "collection_id": card.get("collection_id"), "collection": _collection(state, card.get("collection_id")),
    }


@route("GET", "/api/metric", available=since(MEASURES_SINCE))
def list_metrics(ctx: Ctx):
    cards = ctx.state.table("card").where(type="metric", archived=False)
    return {
        "data": [_summary(ctx.state, c) for c in ctx.page(cards)],
        "total": len(cards),
        "limit": ctx.paging.limit if ctx.paging else None,
        "offset": ctx.paging.offset if ctx.paging else None,
    }


@route("GET", "/api/metric/{id}", available=since(MEASURES_SINCE))
def get_metric(ctx: Ctx, id: int):
    card = ctx.state.table("card").get(id)
    if card is None or card.get("type") != "metric":
        raise errors.not_found()
    dimensions.seed(ctx.state, card, card.get("dataset_query"))  # metrics/api.clj `hydrated-metric` (0.65)
    return {
        **_summary(ctx.state, card),
        "database_id": card.get("database_id"),
        "dataset_query": card.get("dataset_query"),
        "dimensions": card.get("dimensions") or [],
        "dimension_mappings": card.get("dimension_mappings") or [],
    }
