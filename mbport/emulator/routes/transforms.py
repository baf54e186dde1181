"""Transforms: /api/transform, /api/transform-tag, /api/transform-job (Metabase >= 0.59) and the EE Python library
/api/ee/transforms-python/library/:path.

Handlers follow `src/metabase/transforms_rest/api/transform.clj`, `transform_tag.clj`, `transform_job.clj` and
`enterprise/backend/src/metabase_enterprise/transforms_python/api.clj`; the rules are in models/transforms.py.
Runs, cancels and inspection are not served: mbport keeps definitions, never runs a transform.
"""

from __future__ import annotations

from .. import errors, premium
from ..app import NO_CONTENT, Ctx
from ..models import transforms as model
from ..router import route
from ..shapes import transforms as shape
from ..store import Row


def _check(ctx: Ctx) -> None:
    """Before 0.59: no such route. Only admins here (Metabase also lets data analysts: `check-data-analyst`)."""
    model.require_version(ctx.state)
    ctx.require_superuser()


def _row(ctx: Ctx, table: str, id_: int) -> Row:
    row = ctx.state.table(table).get(id_)
    if row is None:
        raise errors.not_found()
    return row


def _transform(ctx: Ctx, id_: int) -> Row:
    return _row(ctx, model.TRANSFORM, id_)


# ---------------------------------------------------------------- /api/transform

@route("GET", "/api/transform")
def list_transforms(ctx: Ctx):
    """crud.clj `get-transforms`: the transforms of the enabled source types, by id; none enabled (0.64+ with
    `transforms-enabled` off): 403."""
    _check(ctx)
    types = model.enabled_types(ctx.state)
    if not types:
        raise errors.forbidden()
    rows = sorted(ctx.state.table(model.TRANSFORM).where(lambda r: r["source_type"] in types), key=lambda r: r["id"])
    tag_ids = set(ctx.query.get("tag-ids") or ctx.query.get("tag_ids") or [])
    if tag_ids:  # ->tag-filter-xf: any of the tags
        rows = [r for r in rows if tag_ids & set(r.get("tag_ids") or [])]
    return [shape.transform_out(ctx.state, r) for r in rows]


@route("POST", "/api/transform")
def create_transform(ctx: Ctx):
    _check(ctx)
    with ctx.state.transaction():
        row = model.create(ctx.state, ctx.user, ctx.body)
    return shape.transform_out(ctx.state, row)


@route("GET", "/api/transform/{id}")
def get_transform(ctx: Ctx, id: int):  # noqa: A002 - the spec's path parameter
    _check(ctx)
    return shape.transform_out(ctx.state, _transform(ctx, id), detail=True)


@route("PUT", "/api/transform/{id}")
def update_transform(ctx: Ctx, id: int):  # noqa: A002
    _check(ctx)
    row = _transform(ctx, id)
    with ctx.state.transaction():
        model.update(ctx.state, row, ctx.body)
    return shape.transform_out(ctx.state, row)


@route("DELETE", "/api/transform/{id}")
def delete_transform(ctx: Ctx, id: int):  # noqa: A002
    """crud.clj `delete-transform!`: the definition goes; its output table stays (DELETE /:id/table drops it)."""
    _check(ctx)
    _transform(ctx, id)
    ctx.state.table(model.TRANSFORM).delete(id)
    return NO_CONTENT


# ---------------------------------------------------------------- /api/transform-tag

@route("GET", "/api/transform-tag")
def list_tags(ctx: Ctx):
    """By name (transform_tag.clj: `:order-by [[:name :asc]]`)."""
    _check(ctx)
    return [shape.tag_out(ctx.state, t) for t in sorted(ctx.state.table(model.TAG), key=lambda t: t["name"])]


@route("POST", "/api/transform-tag")
def create_tag(ctx: Ctx):
    _check(ctx)
    model.check_tag_name(ctx.state, ctx.body["name"])
    row = ctx.state.table(model.TAG).insert({"name": ctx.body["name"], "built_in_type": None}, ctx.state.now())
    return shape.tag_out(ctx.state, row)


@route("PUT", "/api/transform-tag/{tag-id}")
def update_tag(ctx: Ctx, tag_id: int):
    _check(ctx)
    row = _row(ctx, model.TAG, tag_id)
    model.check_tag_name(ctx.state, ctx.body["name"], excluding=tag_id)
    model.rename_tag(ctx.state, row, ctx.body["name"])
    return shape.tag_out(ctx.state, row)


@route("DELETE", "/api/transform-tag/{tag-id}")
def delete_tag(ctx: Ctx, tag_id: int):
    _check(ctx)
    _row(ctx, model.TAG, tag_id)
    model.delete_tag(ctx.state, tag_id)
    return NO_CONTENT


# ---------------------------------------------------------------- /api/transform-job

@route("GET", "/api/transform-job")
def list_jobs(ctx: Ctx):
    """transform_job.clj: newest first (`:order-by [[:created_at :desc]]`; ids break ties here)."""
    _check(ctx)
    rows = sorted(ctx.state.table(model.JOB), key=lambda j: (j["created_at"], j["id"]), reverse=True)
    return [shape.job_out(ctx.state, j) for j in rows]


@route("POST", "/api/transform-job")
def create_job(ctx: Ctx):
    _check(ctx)
    return shape.job_out(ctx.state, model.create_job(ctx.state, ctx.body))


@route("GET", "/api/transform-job/{job-id}")
def get_job(ctx: Ctx, job_id: int):
    _check(ctx)
    return shape.job_out(ctx.state, _row(ctx, model.JOB, job_id))


@route("PUT", "/api/transform-job/{job-id}")
def update_job(ctx: Ctx, job_id: int):
    _check(ctx)
    row = _row(ctx, model.JOB, job_id)
    model.update_job(ctx.state, row, ctx.body)
    return shape.job_out(ctx.state, row)


@route("DELETE", "/api/transform-job/{job-id}")
def delete_job(ctx: Ctx, job_id: int):
    _check(ctx)
    _row(ctx, model.JOB, job_id)
    ctx.state.table(model.JOB).delete(job_id)
    return NO_CONTENT


# ---------------------------------------------------------------- /api/ee/transform (Enterprise 0.57-0.58)

@route("GET", "/api/ee/transform")
def list_ee_transforms(ctx: Ctx):
    """transforms/api.clj `get-transforms` of the Enterprise preview: every transform, by id (nothing creates one
    here on those releases: mbport only asks whether there are any)."""
    model.require_ee_preview(ctx.state)
    ctx.require_superuser()
    rows = sorted(ctx.state.table(model.TRANSFORM).where(), key=lambda r: r["id"])
    return [{k: r.get(k) for k in ("id", "name", "description", "source", "target", "created_at", "updated_at")}
            for r in rows]


# ---------------------------------------------------------------- /api/ee/transforms-python/library/:path

def _check_library(ctx: Ctx) -> None:
    """An EE route mounted behind the transforms-python feature (api_routes/routes.clj `premium-handler`): 404 on
    an OSS build (no EE routes), 402 without the feature."""
    model.require_version(ctx.state)
    if not ctx.state.profile.enterprise:
        raise errors.not_found()
    premium.require(ctx.state, model.PYTHON_FEATURE, model.PYTHON_FEATURE_NAME)
    ctx.require_superuser()


@route("GET", "/api/ee/transforms-python/library/{path}")
def get_library(ctx: Ctx, path: str):
    _check_library(ctx)
    row = ctx.state.table(model.LIBRARY).first(path=model.library_path(path))
    if row is None:
        raise errors.not_found()
    return shape.library_out(row)


@route("PUT", "/api/ee/transforms-python/library/{path}")
def put_library(ctx: Ctx, path: str):
    _check_library(ctx)
    return shape.library_out(model.put_library(ctx.state, path, ctx.body["source"]))
