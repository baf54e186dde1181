"""Cards (questions, models, metrics): /api/card, /api/cards, with MBQL 5 storage and dashboard questions."""

from __future__ import annotations

from typing import Any

from .. import errors
from ..app import NO_CONTENT, Ctx
from ..models import cards as model
from ..models import collections
from ..router import route
from ..shapes import cards as shape
from ..store import Row


def _get_readable(ctx: Ctx, id_or_eid: Any) -> Row:
    card = ctx.state.table("card").get(id_or_eid)
    if card is None:
        raise errors.not_found()
    if not model.can_read_card(ctx.state, ctx.user, card):
        raise errors.forbidden()
    return card


def _body(ctx: Ctx) -> dict[str, Any]:
    """Before dashboard questions (0.50-0.52) a card had no dashboard_id column: POST/PUT /api/card's open body
    schema let the key through and `card/create-card!` / `update-card!` never read it (versions.md §3 P50)."""
    body = dict(ctx.body or {})
    if not ctx.state.profile.dashboard_questions:
        body.pop("dashboard_id", None)
        body.pop("dashboard_tab_id", None)
    return body


# ---------------------------------------------------------------- routes

@route("GET", "/api/card")
def list_cards(ctx: Ctx):
    cards = model.listed(ctx.state, ctx.user, ctx.query.get("f") or "all", ctx.query.get("model_id"))
    cards.sort(key=lambda c: (c["name"].lower(), c["id"]))
    return [shape.list_row(ctx.state, c) for c in cards]


@route("POST", "/api/card")
def post_card(ctx: Ctx):
    card = model.create_card(ctx.state, ctx.user, _body(ctx))
    return shape.hydrate_card(ctx.state, card, user=ctx.user)


@route("GET", "/api/card/{id}")
def get_card(ctx: Ctx, id: Any):  # noqa: A002 - the spec's path parameter
    card = _get_readable(ctx, id)
    out = shape.hydrate_card(ctx.state, card, legacy_mbql=bool(ctx.query.get("legacy-mbql")), user=ctx.user)
    if card.get("archived_directly"):
        # The stored collection_id is kept (the Trash is no real parent); GET presents the card in the Trash.
        out["collection_id"] = collections.trash_id(ctx.state)
    return out


@route("PUT", "/api/card/{id}")
def put_card(ctx: Ctx, id: int):  # noqa: A002
    card = model.update_card(ctx.state, ctx.user, id, _body(ctx), bool(ctx.query.get("delete_old_dashcards")))
    return shape.hydrate_card(ctx.state, card, user=ctx.user)


@route("DELETE", "/api/card/{id}")
def delete_card(ctx: Ctx, id: int):  # noqa: A002
    model.delete_card(ctx.state, ctx.user, id)
    return NO_CONTENT


@route("GET", "/api/card/{id}/dashboards")
def get_card_dashboards(ctx: Ctx, id: int):  # noqa: A002
    card = _get_readable(ctx, id)
    dashboards = model.card_dashboards(ctx.state, card["id"])
    for dash in dashboards:
        if not collections.can_write(ctx.state, ctx.user, model.collection_row(ctx.state, dash.get("collection_id"))):
            raise errors.forbidden()
    return [{"id": d["id"], "name": d.get("name")} for d in dashboards]


@route("POST", "/api/card/{id}/copy")
def copy_card(ctx: Ctx, id: int):  # noqa: A002
    original = _get_readable(ctx, id)
    keys = ("description", "display", "dataset_query", "visualization_settings", "parameters", "parameter_mappings",
            "collection_id", "collection_position", "result_metadata", "type", "cache_ttl", "dashboard_id")
    body = {k: original.get(k) for k in keys}
    body["name"] = f"Copy of {original['name']}"
    if body.get("dashboard_id") is None:
        body.pop("dashboard_id")
    card = model.create_card(ctx.state, ctx.user, body)
    return shape.hydrate_card(ctx.state, card, user=ctx.user)


@route("POST", "/api/card/collections")
def move_cards_to_collection(ctx: Ctx):
    body = ctx.body or {}
    model.move_to_collection(ctx.state, ctx.user, body["card_ids"], body.get("collection_id"))
    return {"status": "ok"}


@route("POST", "/api/cards/move")
def move_cards(ctx: Ctx):
    body = ctx.body or {}
    placement = {k: body[k] for k in ("collection_id", "dashboard_id") if k in body}
    for card_id in body["card_ids"]:
        model.update_card(ctx.state, ctx.user, card_id, placement, True)
    return {"status": "success"}


@route("POST", "/api/cards/dashboards")
def cards_dashboards(ctx: Ctx):
    state = ctx.state
    out = []
    for card_id in (ctx.body or {})["card_ids"]:
        dashboards: list[dict[str, Any]] = []
        for dash in model.card_dashboards(state, card_id):
            coll = model.collection_row(state, dash.get("collection_id"))
            if not collections.can_read(state, ctx.user, coll):
                dashboards.append({"error": "unreadable-dashboard"})
            elif not collections.can_write(state, ctx.user, coll):
                dashboards.append({"id": dash["id"], "name": dash.get("name"), "error": "unwritable-dashboard"})
            else:
                dashboards.append({"id": dash["id"], "name": dash.get("name")})
        out.append({"card_id": card_id, "dashboards": dashboards})
    return out
