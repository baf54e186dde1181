"""Segments: /api/segment (named filters on a table; archived instead of deleted)."""

from __future__ import annotations

from typing import Any

from .. import errors
from ..app import NO_CONTENT, Ctx
from ..router import route
from ..shapes.segments import hydrate
from ..store import Row, State


def _get(state: State, segment_id: int) -> Row:
    segment = state.table("segment").get(segment_id)
    if segment is None:
        raise errors.not_found()
    return segment


@route("GET", "/api/segment")
def list_segments(ctx: Ctx):
    rows = sorted(ctx.state.table("segment").where(archived=False), key=lambda s: s["name"].lower())
    return [hydrate(ctx.state, s, description=True) for s in rows]


@route("POST", "/api/segment")
def create_segment(ctx: Ctx):
    ctx.require_superuser()
    body = ctx.body
    if ctx.state.table("metabase_table").get(body["table_id"]) is None:
        raise errors.not_found()
    segment = ctx.state.table("segment").insert({
        "name": body["name"], "description": body.get("description"), "table_id": body["table_id"],
        "definition": body["definition"], "creator_id": ctx.user["id"], "archived": False, "caveats": None,
        "points_of_interest": None, "show_in_getting_started": False,
    }, now=ctx.state.now())
    return hydrate(ctx.state, segment)


@route("GET", "/api/segment/{id}")
def get_segment(ctx: Ctx, id: int):
    return hydrate(ctx.state, _get(ctx.state, id))


def update_segment(ctx: Ctx, segment: Row, body: dict[str, Any]) -> dict[str, Any]:
    """Keys that are present (description, caveats, points_of_interest) or non-null (the rest) are written."""
    ctx.require_superuser()
    changes: dict[str, Any] = {k: body[k] for k in ("description", "caveats", "points_of_interest") if k in body}
    changes |= {k: body[k] for k in ("archived", "definition", "name", "show_in_getting_started")
                if body.get(k) is not None}
    if any(segment.get(k) != v for k, v in changes.items()):
        segment.update(changes, updated_at=ctx.state.now())
    return hydrate(ctx.state, segment)


@route("PUT", "/api/segment/{id}")
def put_segment(ctx: Ctx, id: int):
    return update_segment(ctx, _get(ctx.state, id), ctx.body)


@route("DELETE", "/api/segment/{id}")
def delete_segment(ctx: Ctx, id: int):
    update_segment(ctx, _get(ctx.state, id), {"archived": True})
    return NO_CONTENT
