"""The glossary (0.61+): /api/glossary (glossary/api.clj)."""

from __future__ import annotations

from ..app import NO_CONTENT, Ctx
from ..models import glossary
from ..router import route
from ..shapes.users import creator
from ..store import Row, State


def _out(state: State, entry: Row) -> dict:
    """The row with its `creator` hydrated (batched-hydrate :creator)."""
    return {**entry, "creator": creator(state, entry.get("creator_id"))}


@route("GET", "/api/glossary")
def list_glossary(ctx: Ctx):
    glossary.require_glossary(ctx.state)
    return {"data": [_out(ctx.state, e) for e in glossary.listed(ctx.state, ctx.query.get("search"))]}


@route("POST", "/api/glossary")
def create_entry(ctx: Ctx):
    glossary.require_glossary(ctx.state)
    return _out(ctx.state, glossary.create(ctx.state, ctx.user, ctx.body or {}))


@route("PUT", "/api/glossary/{id}")
def update_entry(ctx: Ctx, id: int):
    glossary.require_glossary(ctx.state)
    return _out(ctx.state, glossary.update(ctx.state, ctx.user, id, ctx.body or {}))


@route("DELETE", "/api/glossary/{id}")
def delete_entry(ctx: Ctx, id: int):
    glossary.require_glossary(ctx.state)
    glossary.delete(ctx.state, ctx.user, id)
    return NO_CONTENT
