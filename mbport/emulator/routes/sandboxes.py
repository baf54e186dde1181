"""EE sandboxes (group table access policies, "GTAPs"): /api/mt/gtap, and their part in the data permissions graph.

Metabase serves these routes only with the `sandboxes` token feature (402 otherwise, before anything else), and
only to admins. A sandbox gives one group a filtered view of one table: through a question (`card_id`) and/or user
attributes mapped onto the table's fields or the question's template-tag variables (`attribute_remappings`).
What the emulator does not do is filter query results by sandbox.
"""

from __future__ import annotations

from .. import premium
from ..app import NO_CONTENT, Ctx
from ..models.sandboxes import (
    FEATURE,
    FEATURE_NAME,
    TABLE,
    check_columns_match_table,
    create,
    sandbox_or_404,
    sandbox_out,
    update,
)
from ..router import route


def _check(ctx: Ctx) -> None:
    premium.require(ctx.state, FEATURE, FEATURE_NAME)
    ctx.require_superuser()


# ---------------------------------------------------------------- /api/mt/gtap

@route("GET", "/api/mt/gtap")
def list_sandboxes(ctx: Ctx):
    """Every sandbox by id; with both `group_id` and `table_id`, that one sandbox (no content if none).
    Either filter alone is ignored, as in Metabase."""
    _check(ctx)
    group_id, table_id = ctx.query.get("group_id"), ctx.query.get("table_id")
    rows = ctx.state.table(TABLE)
    if group_id and table_id:
        found = rows.first(group_id=group_id, table_id=table_id)
        return sandbox_out(found) if found else NO_CONTENT
    return [sandbox_out(r) for r in rows]


@route("POST", "/api/mt/gtap")
def create_sandbox(ctx: Ctx):
    _check(ctx)
    return sandbox_out(create(ctx.state, ctx.body))


@route("POST", "/api/mt/gtap/validate")
def validate_sandbox(ctx: Ctx):
    """The checks of a save, without saving: 204, or the 400 a save would give."""
    _check(ctx)
    check_columns_match_table(ctx.state, ctx.body["table_id"], ctx.body.get("card_id"))
    return NO_CONTENT


@route("GET", "/api/mt/gtap/{id}")
def get_sandbox(ctx: Ctx, id: int):  # noqa: A002 - the spec's path parameter
    _check(ctx)
    return sandbox_out(sandbox_or_404(ctx.state, id))


@route("PUT", "/api/mt/gtap/{id}")
def update_sandbox(ctx: Ctx, id: int):  # noqa: A002
    _check(ctx)
    return sandbox_out(update(ctx.state, sandbox_or_404(ctx.state, id), ctx.body or {}))


@route("DELETE", "/api/mt/gtap/{id}")
def delete_sandbox(ctx: Ctx, id: int):  # noqa: A002
    _check(ctx)
    sandbox_or_404(ctx.state, id)
    ctx.state.table(TABLE).delete(id)
    return NO_CONTENT


# ---------------------------------------------------------------- the permissions graph's side


