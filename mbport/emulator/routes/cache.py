"""Cache policies: /api/cache GET/PUT/DELETE (src/metabase/cache/api.clj).

The root policy (model `root`, id 0) is open-source; policies of a database, dashboard or question need the
`cache_granular_controls` feature (402 "Granular Caching is a paid feature ..." otherwise), as do the `duration`
and `schedule` strategies. Invalidation (`POST /api/cache/invalidate`) is not content and not emulated.
"""

from __future__ import annotations

from .. import errors, premium
from ..app import NO_CONTENT, Ctx
from ..models import cache as model
from ..router import route


def _check_access(ctx: Ctx, item: str, item_id: object) -> None:
    """`check-cache-access`: without a concrete id only an admin; with one, write access to it (admins have it)."""
    if isinstance(item_id, int) and item_id != 0 and item in model.ITEM_TABLES:
        if ctx.state.table(model.ITEM_TABLES[item]).get(item_id) is None:
            raise errors.not_found()  # api/write-check of a missing row
    # The emulator grants non-admins no write access to databases or content through this area.
    ctx.require_superuser()


SORTS = {"name": lambda e: (e.get("name") is None, e.get("name") or ""),
         "collection": lambda e: (e.get("collection") is None, (e.get("collection") or {}).get("id") or 0),
         "policy": lambda e: e["strategy"]["type"]}


@route("GET", "/api/cache")
def list_cache(ctx: Ctx):
    """api.clj GET "/": any model but root needs the feature; `?limit` pages (sorted) and adds total/limit/offset."""
    models = ctx.query.get("model") or ["root"]
    models = [models] if isinstance(models, str) else list(models)
    if models != ["root"]:
        premium.require(ctx.state, model.FEATURE, model.FEATURE_NAME)
    item_id = ctx.query.get("id")
    _check_access(ctx, models[0], item_id)
    data = model.listing(ctx.state, models, ctx.query.get("collection"), item_id)
    if ctx.paging is None:
        return {"data": data}
    if item_id is None:
        data.sort(key=SORTS[ctx.query.get("sort_column") or "name"],
                  reverse=ctx.query.get("sort_direction") == "desc")
    return {"data": ctx.page(data), "total": len(data), "limit": ctx.paging.limit, "offset": ctx.paging.offset}


@route("PUT", "/api/cache")
def put_cache(ctx: Ctx):
    body = ctx.body
    model.check_strategy(ctx.state, body["strategy"])  # request coercion, before the endpoint's own checks
    model.check_models(ctx.state, body["model"], [body["model_id"]])
    _check_access(ctx, body["model"], body["model_id"])
    return {"id": model.store(ctx.state, body["model"], body["model_id"], body["strategy"])["id"]}


@route("DELETE", "/api/cache")
def delete_cache(ctx: Ctx):
    body = ctx.body
    model.check_models(ctx.state, body["model"], body["model_id"])
    for item_id in body["model_id"]:
        _check_access(ctx, body["model"], item_id)
    model.delete(ctx.state, body["model"], body["model_id"])
    return NO_CONTENT
