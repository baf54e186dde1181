"""The data permissions graph: /api/permissions/graph (view-data, create-queries, download, data-model, details)."""

from __future__ import annotations

from ..app import Ctx
from ..models import permissions_graph as model
from ..router import route

# ---------------------------------------------------------------- storage


# ---------------------------------------------------------------- the API graph


# ---------------------------------------------------------------- parsing a PUT body


# ---------------------------------------------------------------- applying changes


# ---------------------------------------------------------------- routes

@route("GET", "/api/permissions/graph")
def get_graph(ctx: Ctx):
    ctx.require_superuser()
    return model.api_graph(ctx.state)


@route("GET", "/api/permissions/graph/db/{db-id}")
def get_graph_for_db(ctx: Ctx, db_id: int):
    ctx.require_superuser()
    return model.api_graph(ctx.state, db_id=db_id)


@route("GET", "/api/permissions/graph/group/{group-id}")
def get_graph_for_group(ctx: Ctx, group_id: int):
    ctx.require_superuser()
    return model.api_graph(ctx.state, group_ids={group_id})


@route("PUT", "/api/permissions/graph")
def put_graph(ctx: Ctx):
    ctx.require_superuser()
    return model.update_graph(ctx.state, ctx.body or {}, force=bool(ctx.query.get("force")),
                              skip_graph=bool(ctx.query.get("skip-graph")))
