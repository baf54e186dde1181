"""The collection permissions graph: GET/PUT /api/collection/graph (per namespace, sparse, own revision counter)."""

from __future__ import annotations

from ..app import Ctx
from ..models import collection_graph as model
from ..router import route


@route("GET", "/api/collection/graph")
def get_graph(ctx: Ctx):
    ctx.require_superuser()
    return model.graph(ctx.state, model.norm_namespace(ctx.query.get("namespace")))


@route("PUT", "/api/collection/graph")
def put_graph(ctx: Ctx):
    ctx.require_superuser()
    return model.update_graph(ctx.state, ctx.body or {}, force=bool(ctx.query.get("force")),
                              skip_graph=bool(ctx.query.get("skip-graph")))
