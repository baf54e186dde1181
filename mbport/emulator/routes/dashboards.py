"""Dashboards, dashcards and tabs: /api/dashboard (api-surface.md §5), and dashboard-question placement."""

from __future__ import annotations

from typing import Any

from ..app import NO_CONTENT, Ctx
from ..models import dashboards as model
from ..router import route
from ..shapes import dashboards as shape
from ..shapes.collections import collection_summary
from ..shapes.databases import present_db
from ..shapes.users import creator

# ---------------------------------------------------------------------------------------------------------------
# Routes: list, create, read, delete
# ---------------------------------------------------------------------------------------------------------------

@route("GET", "/api/dashboard")
def list_dashboards(ctx: Ctx):

    f = ctx.query.get("f") or "all"
    rows = ctx.state.table("dashboard").where(
        lambda r: model.allowed(ctx.state, ctx.user, r["collection_id"], write=False), archived=(f == "archived"))
    if f == "mine":
        rows = [r for r in rows if r["creator_id"] == ctx.user["id"]]
    out = []
    for row in sorted(rows, key=lambda r: r["name"].lower()):
        item = shape.era_filter(ctx.state, {**row, "creator": creator(ctx.state, row["creator_id"])})
        edit = shape.last_edit_info(ctx.state, "dashboard", row["id"])
        if edit:
            item["last-edit-info"] = edit
        out.append(item)
    return out


@route("POST", "/api/dashboard")
def create_dashboard(ctx: Ctx):
    dash = model.create(ctx.state, ctx.user, ctx.body or {})
    out = shape.hydrate_dashboard(ctx.state, ctx.user, dash, read_view=False)
    if dash["collection_id"] is None:
        out["collection"] = collection_summary(ctx.state, None)
    return out


@route("GET", "/api/dashboard/{id}")
def get_dashboard(ctx: Ctx, id):
    dash = model.checked(ctx.state, ctx.user, id)
    out = shape.hydrate_dashboard(ctx.state, ctx.user, dash)
    # GET publishes :event/dashboard-read after hydrating (dashboards/api.clj GET "/:id"); its view-log handler
    # runs view-log/increment-view-counts! (a plain `view_count = view_count + 1` query: updated_at stays) and
    # sets last_viewed_at. Every reader counts, mbport's own export included.
    dash.update(view_count=(dash.get("view_count") or 0) + 1, last_viewed_at=ctx.state.now())
    return out


@route("DELETE", "/api/dashboard/{id}")
def delete_dashboard(ctx: Ctx, id):
    model.delete(ctx.state, ctx.user, id)
    return NO_CONTENT


# ---------------------------------------------------------------------------------------------------------------
# Routes: update (plain fields, then the dashcard/tab diff)
# ---------------------------------------------------------------------------------------------------------------


def _update(ctx: Ctx, dashboard_id: Any, body: dict) -> dict:
    """PUT /api/dashboard/{id} and the deprecated PUT .../cards share this code path."""
    dash = model.update(ctx.state, ctx.user, dashboard_id, body)
    return shape.hydrate_dashboard(ctx.state, ctx.user, dash, read_view=False)


@route("PUT", "/api/dashboard/{id}")
def put_dashboard(ctx: Ctx, id):
    return _update(ctx, id, ctx.body or {})


@route("PUT", "/api/dashboard/{id}/cards")
def put_dashboard_cards(ctx: Ctx, id):
    body = ctx.body or {}
    dash = _update(ctx, id, {"dashcards": body.get("cards"), "tabs": body.get("tabs")})
    return {"cards": dash["dashcards"], "tabs": dash["tabs"]}


# ---------------------------------------------------------------------------------------------------------------
# Routes: copy, items, query metadata
# ---------------------------------------------------------------------------------------------------------------


@route("POST", "/api/dashboard/{from-dashboard-id}/copy")
def copy_dashboard(ctx: Ctx, from_dashboard_id):
    dash, uncopied = model.copy_dashboard(ctx.state, ctx.user, from_dashboard_id, ctx.body or {})
    out = dict(dash)
    if uncopied:
        out["uncopied"] = uncopied
    return out


@route("GET", "/api/dashboard/{id}/items")
def dashboard_items(ctx: Ctx, id):
    state = ctx.state
    dash = model.checked(state, ctx.user, id)
    shown = {dc["card_id"] for dc in model.dashcards_on(state, dash["id"])}
    cards = [c for c in state.table("card").where(dashboard_id=dash["id"], archived=False) if c["id"] in shown]
    # The paged SQL query is counted, so `total` is the size of the page, not of the whole list.
    page = ctx.page(cards)
    return {"total": len(page), "data": [shape.question_item(state, dash, c) for c in page], "models": ["card"] if page else [],
            "limit": ctx.paging.limit if ctx.paging else None, "offset": ctx.paging.offset if ctx.paging else None}


@route("GET", "/api/dashboard/{id}/query_metadata")
def dashboard_query_metadata(ctx: Ctx, id):
    """Databases and tables (with fields) the dashboard's cards query; an approximation of Metabase's bundle."""
    state = ctx.state
    dash = model.checked(state, ctx.user, id)
    card_ids = []
    for dc in model.dashcards_on(state, dash["id"]):
        card_ids += [dc["card_id"], *model.series_ids(state, dc["id"])] if dc["card_id"] is not None else []
    cards = [c for c in (state.table("card").get(i) for i in dict.fromkeys(card_ids)) if c is not None]
    db_ids = dict.fromkeys(c.get("database_id") for c in cards if c.get("database_id") is not None)
    table_ids = dict.fromkeys(c.get("table_id") for c in cards if c.get("table_id") is not None)
    databases = [present_db(ctx.state, ctx.user, d) for d in (state.table("metabase_database").get(i) for i in db_ids) if d is not None]
    tables = []
    for table_id in table_ids:
        table = state.table("metabase_table").get(table_id)
        if table is not None:
            fields = state.table("metabase_field").where(table_id=table_id)
            db = state.table("metabase_database").get(table.get("db_id"))
            tables.append({**table, "fields": fields, "db": present_db(ctx.state, ctx.user, db) if db else None})
    return {"cards": [], "databases": databases, "tables": tables, "fields": [], "dashboards": []}
