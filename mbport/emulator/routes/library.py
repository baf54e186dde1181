"""The Library and Data Studio publishing (Enterprise `library` feature, Metabase >= 0.59): /api/ee/library and
/api/ee/data-studio/table/(un)publish-tables."""

from __future__ import annotations

from .. import premium
from ..app import NO_CONTENT, Ctx
from ..models import library
from ..models.versions import LIBRARY_SINCE, since
from ..router import route
from ..shapes import collections as collection_shape


def _check(ctx: Ctx) -> None:
    """An older release has no such route (404); an EE route without the token feature answers the 402."""
    premium.require(ctx.state, library.FEATURE, "Library")


@route("GET", "/api/ee/library", available=since(LIBRARY_SINCE))
def get_library(ctx: Ctx):
    """library/api.clj `GET /`: the Library collection, or `{"data": null}` when there is none."""
    _check(ctx)
    coll = library.library_collection(ctx.state)
    if coll is None:
        return {"data": None}
    return {**collection_shape.detail(ctx.state, ctx.user, coll), "model": "collection"}


@route("POST", "/api/ee/library", available=since(LIBRARY_SINCE))
def create_library(ctx: Ctx):
    """library/api.clj `POST /`: creates the Library (with Data and Metrics); a second one is a 400."""
    _check(ctx)
    ctx.require_superuser()  # `check-data-analyst`: the emulator has no Data Analysts group
    return collection_shape.detail(ctx.state, ctx.user, library.create_library(ctx.state))


@route("GET", "/api/ee/library/tree", available=since(LIBRARY_SINCE))
def library_tree(ctx: Ctx):
    """library/api.clj `GET /tree`: /api/collection/tree restricted to the Library's collections."""
    _check(ctx)
    nodes = collection_shape.tree(ctx.state, ctx.user, {"include-library": True})
    return [n for n in nodes if n.get("type") in library.LIBRARY_TYPES]


@route("POST", "/api/ee/data-studio/table/publish-tables", available=since(LIBRARY_SINCE))
def publish_tables(ctx: Ctx):
    """data_studio/api/table.clj `POST /publish-tables`."""
    _check(ctx)
    ctx.require_superuser()
    target = library.publish(ctx.state, ctx.body or {})
    return {"target_collection": dict(target)}


@route("POST", "/api/ee/data-studio/table/unpublish-tables", available=since(LIBRARY_SINCE))
def unpublish_tables(ctx: Ctx):
    """data_studio/api/table.clj `POST /unpublish-tables` (answers nothing)."""
    _check(ctx)
    ctx.require_superuser()
    library.unpublish(ctx.state, ctx.body or {})
    return NO_CONTENT
