"""Collections: /api/collection (list, CRUD, tree, items, root, trash), personal collections and the Trash."""

from __future__ import annotations

from typing import Any

from .. import errors
from ..app import Ctx, Response
from ..models import collections as model
from ..models import tenants
from ..models.collections import SNIPPETS, ensure_personal_collections, is_trash, resolve
from ..router import route
from ..shapes import collections as shape
from ..store import Row

# ---------------------------------------------------------------- list, detail, root, trash

@route("GET", "/api/collection")
def list_collections(ctx: Ctx):
    state, user, q = ctx.state, ctx.user, ctx.query
    ensure_personal_collections(state)
    archived, personal_only = bool(q.get("archived")), bool(q.get("personal-only"))

    def keep(c: Row) -> bool:
        if archived != (bool(c.get("archived")) or is_trash(c)):
            return False
        if personal_only and not c.get("personal_owner_id"):
            return False
        return shape.listed(state, user, q, c)

    rows = sorted(state.table("collection").where(keep), key=shape.collection_order)
    out = [shape.list_row(state, user, c) for c in rows]
    if not (archived or personal_only):
        out.insert(0, shape.root_detail(state, user))
    return out


@route("GET", "/api/collection/root")
def get_root(ctx: Ctx):
    return shape.root_detail(ctx.state, ctx.user, ctx.query.get("namespace"))


@route("GET", "/api/collection/trash")
def get_trash(ctx: Ctx):
    return shape.detail(ctx.state, ctx.user, model.trash(ctx.state))


@route("GET", "/api/collection/{id}")
def get_collection(ctx: Ctx, id: Any):  # noqa: A002 - the spec's path parameter
    coll = resolve(ctx.state, id)
    if not model.can_read(ctx.state, ctx.user, coll):
        raise errors.forbidden()
    return shape.detail(ctx.state, ctx.user, coll)


# ---------------------------------------------------------------- create, update, delete

@route("POST", "/api/collection")
def create_collection(ctx: Ctx):
    tenants.check_new_collection(ctx.state, (ctx.body or {}).get("namespace"))
    return model.create(ctx.state, ctx.user, ctx.body or {})


@route("PUT", "/api/collection/{id}")
def update_collection(ctx: Ctx, id: int):  # noqa: A002
    coll = resolve(ctx.state, id)
    tenants.check_collection_update(coll)
    model.update(ctx.state, ctx.user, coll, ctx.body or {})
    return shape.detail(ctx.state, ctx.user, coll)


@route("DELETE", "/api/collection/{id}")
def delete_collection(ctx: Ctx, id: int):  # noqa: A002
    ctx.require_superuser()
    model.delete(ctx.state, resolve(ctx.state, id))
    # The endpoint answers with toucan's count of rows its delete statement removed: the one collection.
    return Response(200, 1)


# ---------------------------------------------------------------- tree and items

@route("GET", "/api/collection/tree")
def tree(ctx: Ctx):
    ensure_personal_collections(ctx.state)
    return shape.tree(ctx.state, ctx.user, ctx.query)


def _models_param(q: dict) -> set[str]:
    models = q.get("models")
    if models is None:
        return set()
    return set(models if isinstance(models, list) else [models]) or set()


def _items(ctx: Ctx, coll: Row | None, namespace: str | None, models: set[str], archived: bool) -> dict:
    items, wanted = shape.collection_items(ctx.state, ctx.user, ctx.query, coll, namespace, models, archived)
    if namespace == SNIPPETS:
        return {"total": len(items), "data": items, "models": sorted(wanted)}
    paging = ctx.paging
    return {"total": len(items), "data": ctx.page(items), "models": sorted(wanted),
            "limit": paging.limit if paging else None, "offset": paging.offset if paging else None}


@route("GET", "/api/collection/{id}/items")
def items(ctx: Ctx, id: Any):  # noqa: A002
    coll = resolve(ctx.state, id)
    if not model.can_read(ctx.state, ctx.user, coll):
        raise errors.forbidden()
    models = _models_param(ctx.query) or set()
    if models == {"no_models"}:
        return _empty_items(ctx)
    archived = bool(ctx.query.get("archived")) or bool(coll.get("archived")) or is_trash(coll)
    return _items(ctx, coll, coll.get("namespace"), models - {"no_models"}, archived)


@route("GET", "/api/collection/root/items")
def root_items(ctx: Ctx):
    namespace = ctx.query.get("namespace")
    models = _models_param(ctx.query)
    if models == {"no_models"}:
        return _empty_items(ctx)
    if namespace not in (None, SNIPPETS):
        models = {"collection"}
    return _items(ctx, None, namespace, models - {"no_models"}, bool(ctx.query.get("archived")))


def _empty_items(ctx: Ctx) -> dict:
    paging = ctx.paging
    return {"total": 0, "data": [], "limit": paging.limit if paging else None,
            "offset": paging.offset if paging else None, "models": []}
