"""EE connection impersonation: /api/ee/advanced-permissions/impersonation, and its part in the permissions graph.

Metabase serves these routes only with the `advanced_permissions` token feature (402 otherwise), and only to
admins. An impersonation makes a group's queries on one database run as the database role named by a user
attribute (`attribute`). There is no create or update route: they are written through `impersonations` in the
graph PUT (each item replaces the pair's row, so a new id). What the emulator does not do is switch roles.
"""

from __future__ import annotations

from .. import errors, premium
from ..app import NO_CONTENT, Ctx
from ..models.impersonations import FEATURE, FEATURE_NAME, TABLE, impersonation_out
from ..router import route


def _check(ctx: Ctx) -> None:
    premium.require(ctx.state, FEATURE, FEATURE_NAME)
    ctx.require_superuser()


# ---------------------------------------------------------------- /api/ee/advanced-permissions/impersonation

@route("GET", "/api/ee/advanced-permissions/impersonation")
def list_impersonations(ctx: Ctx):
    """Every impersonation by id; with both `group_id` and `db_id`, that one (no content if none).
    Either filter alone is ignored, as in Metabase."""
    _check(ctx)
    group_id, db_id = ctx.query.get("group_id"), ctx.query.get("db_id")
    rows = ctx.state.table(TABLE)
    if group_id and db_id:
        found = rows.first(group_id=group_id, db_id=db_id)
        return impersonation_out(found) if found else NO_CONTENT
    return [impersonation_out(r) for r in sorted(rows, key=lambda r: r["id"])]


@route("DELETE", "/api/ee/advanced-permissions/impersonation/{id}")
def delete_impersonation(ctx: Ctx, id: int):  # noqa: A002 - the spec's path parameter
    _check(ctx)
    if ctx.state.table(TABLE).get(id) is None:
        raise errors.not_found()
    ctx.state.table(TABLE).delete(id)
    return NO_CONTENT


# ---------------------------------------------------------------- the permissions graph's side


