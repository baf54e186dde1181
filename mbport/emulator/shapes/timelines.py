"""What timeline answers look like: the timeline with creator and collection, and its events in a time window."""

from __future__ import annotations

from ..models import collections
from ..store import Row, State
from .collections import collection_summary
from .users import creator


def collection_map(state: State, user: Row | None, collection_id: int | None) -> dict | None:
    """The hydrated `collection` (with `can_write`); the root pseudo-collection for None."""
    summary = collection_summary(state, collection_id)
    if summary is None:
        return None
    return {**summary, "can_write": collections.can_write(state, user, collections.row_or_root(state, collection_id))}



def events_of(state: State, timeline_id: int, all_events: bool, start: str | None = None, end: str | None = None) -> list:
    rows = state.table("timeline_event").where(timeline_id=timeline_id)
    if not all_events:
        rows = [r for r in rows if not r["archived"]]
    if start or end:
        rows = [r for r in rows if in_bounds(r, start, end)]
    return [{**r, "creator": creator(state, r["creator_id"])} for r in rows]



def in_bounds(event: Row, start: str | None, end: str | None) -> bool:
    # Events whose time does not matter compare by date only, as Metabase does.
    if event["time_matters"]:
        stamp, lo, hi = event["timestamp"], start, end
    else:
        stamp, lo, hi = event["timestamp"][:10], start and start[:10], end and end[:10]
    return (lo is None or lo <= stamp) and (hi is None or stamp <= hi)



def hydrate_timeline(state: State, user: Row | None, timeline: Row) -> dict:
    """A timeline with its creator and its collection (with the caller's can_write)."""
    return {**timeline, "creator": creator(state, timeline["creator_id"]),
            "collection": collection_map(state, user, timeline["collection_id"]), "is_remote_synced": False}



def timelines_in(state: State, user: Row | None, collection_id: int | None, archived: bool,
                 include_events: bool) -> list:
    """The timelines of one collection (None = root), hydrated, with their unarchived events if asked."""
    rows = state.table("timeline").where(collection_id=collection_id, archived=archived)
    out = [hydrate_timeline(state, user, r) for r in rows]
    if include_events:
        for t in out:
            t["events"] = events_of(state, t["id"], all_events=False)
    return out
