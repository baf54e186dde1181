"""Timelines and their events: /api/timeline, /api/timeline-event."""

from __future__ import annotations

from .. import errors
from ..app import NO_CONTENT, Ctx
from ..models import collections
from ..models.timelines import DEFAULT_ICON, TIMELINE_FIELDS, parse_timestamp, timeline_or_404
from ..router import route
from ..shapes.timelines import events_of, hydrate_timeline, timelines_in
from ..store import Row


def _flag(value) -> bool:
    # GET /api/timeline/{id} declares its `archived` default as the string "false".
    return value is True or value == "true"


# ---- timelines ----

@route("GET", "/api/timeline")
def list_timelines(ctx: Ctx):
    archived = _flag(ctx.query.get("archived"))
    # Only timelines in collections the caller can see (Metabase's visible-collection filter).
    rows = ctx.state.table("timeline").where(
        lambda r: collections.can_read(ctx.state, ctx.user, collections.row_or_root(ctx.state, r["collection_id"])),
        archived=archived)
    rows.sort(key=lambda r: r["name"].lower())
    out = [hydrate_timeline(ctx.state, ctx.user, r) for r in rows]
    if ctx.query.get("include") == "events":
        for t in out:
            t["events"] = events_of(ctx.state, t["id"], all_events=archived)
    return out


@route("POST", "/api/timeline")
def create_timeline(ctx: Ctx):
    body = ctx.body or {}
    state = ctx.state
    collections.check_access(ctx.state, ctx.user, body.get("collection_id"), write=True)
    if not body["name"].strip():
        raise errors.invalid({"name": "value must be a non-blank string."})
    row = {k: body.get(k) for k in TIMELINE_FIELDS}
    row.update(icon=body.get("icon") or DEFAULT_ICON, default=bool(body.get("default")),
               archived=bool(body.get("archived")), creator_id=ctx.user["id"])
    return dict(state.table("timeline").insert(row, now=state.now()))


@route("GET", "/api/timeline/{id}")
def get_timeline(ctx: Ctx, id: int):
    timeline = timeline_or_404(ctx.state, id)
    collections.check_access(ctx.state, ctx.user, timeline["collection_id"], write=False)
    out = hydrate_timeline(ctx.state, ctx.user, timeline)
    if ctx.query.get("include") == "events":
        start, end = ctx.query.get("start"), ctx.query.get("end")
        out["events"] = events_of(ctx.state, id, all_events=_flag(ctx.query.get("archived")),
                                start=start and parse_timestamp(start), end=end and parse_timestamp(end))
    return out


@route("PUT", "/api/timeline/{id}")
def update_timeline(ctx: Ctx, id: int):
    state = ctx.state
    timeline = timeline_or_404(state, id)
    collections.check_access(ctx.state, ctx.user, timeline["collection_id"], write=True)
    body = ctx.body or {}
    if "collection_id" in body and body["collection_id"] != timeline["collection_id"]:
        collections.check_access(ctx.state, ctx.user, body["collection_id"], write=True)
    changes = {k: body[k] for k in ("description", "icon", "collection_id", "default", "archived") if k in body}
    if body.get("name") is not None:
        changes["name"] = body["name"]
    was_archived = timeline["archived"]
    timeline.update(changes, updated_at=state.now())
    # Archiving (or restoring) a timeline carries its events along.
    if body.get("archived") is not None and body["archived"] != was_archived:
        for event in state.table("timeline_event").where(timeline_id=id):
            event["archived"] = body["archived"]
    return hydrate_timeline(ctx.state, ctx.user, timeline)


@route("DELETE", "/api/timeline/{id}")
def delete_timeline(ctx: Ctx, id: int):
    state = ctx.state
    collections.check_access(ctx.state, ctx.user, timeline_or_404(state, id)["collection_id"], write=True)
    events = state.table("timeline_event")
    for event in events.where(timeline_id=id):
        events.delete(event["id"])
    state.table("timeline").delete(id)
    return NO_CONTENT


@route("GET", "/api/timeline/collection/root")
def root_collection_timelines(ctx: Ctx):
    collections.check_access(ctx.state, ctx.user, None, write=False)
    return timelines_in(ctx.state, ctx.user, None, bool(ctx.query.get("archived")), ctx.query.get("include") == "events")


@route("GET", "/api/timeline/collection/{id}")
def collection_timelines(ctx: Ctx, id: int):
    collections.check_access(ctx.state, ctx.user, id, write=False)
    return timelines_in(ctx.state, ctx.user, id, bool(ctx.query.get("archived")), ctx.query.get("include") == "events")


# ---- events ----

def _get_event(ctx: Ctx, event_id: int, write: bool) -> Row:
    event = ctx.state.table("timeline_event").get(event_id)
    if event is None:
        raise errors.not_found()
    timeline = ctx.state.table("timeline").existing(event["timeline_id"])
    collections.check_access(ctx.state, ctx.user, timeline["collection_id"], write=write)
    return event


@route("POST", "/api/timeline-event")
def create_event(ctx: Ctx):
    body = ctx.body or {}
    state = ctx.state
    timeline = state.table("timeline").get(body["timeline_id"])
    if timeline is None:
        raise errors.ApiError(404, f"Timeline with id {body['timeline_id']} not found")
    collections.check_access(ctx.state, ctx.user, timeline["collection_id"], write=True)
    if not body["name"].strip():
        raise errors.invalid({"name": "value must be a non-blank string."})
    # `source` and `question_id` only feed Metabase's analytics; they are not stored.
    row = {
        "timeline_id": timeline["id"], "name": body["name"], "description": body.get("description"),
        "timestamp": parse_timestamp(body["timestamp"]), "timezone": body["timezone"],
        "time_matters": bool(body.get("time_matters")), "icon": body.get("icon") or timeline["icon"],
        "archived": bool(body.get("archived")), "creator_id": ctx.user["id"],
    }
    return dict(state.table("timeline_event").insert(row, now=state.now()))


@route("GET", "/api/timeline-event/{id}")
def get_event(ctx: Ctx, id: int):
    return dict(_get_event(ctx, id, write=False))


@route("PUT", "/api/timeline-event/{id}")
def update_event(ctx: Ctx, id: int):
    state = ctx.state
    event = _get_event(ctx, id, write=True)
    body = ctx.body or {}
    if body.get("timeline_id") is not None:
        target = state.table("timeline").get(body["timeline_id"])
        if target is None:
            raise errors.not_found()
        collections.check_access(ctx.state, ctx.user, target["collection_id"], write=True)
    changes = {k: body[k] for k in ("description", "time_matters", "timezone", "icon", "archived") if k in body}
    if body.get("timeline_id") is not None:
        changes["timeline_id"] = body["timeline_id"]
    if body.get("timestamp"):
        changes["timestamp"] = parse_timestamp(body["timestamp"])
    if body.get("name") is not None:
        changes["name"] = body["name"]
    event.update(changes, updated_at=state.now())
    return dict(event)


@route("DELETE", "/api/timeline-event/{id}")
def delete_event(ctx: Ctx, id: int):
    _get_event(ctx, id, write=True)
    ctx.state.table("timeline_event").delete(id)
    return NO_CONTENT
