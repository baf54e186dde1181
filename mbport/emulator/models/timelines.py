"""Timelines and their events: the Timeline and TimelineEvent models' rules (collection access, timestamps, archive)."""

from __future__ import annotations

import datetime as dt

from .. import errors, events
from ..store import Row, State

DEFAULT_ICON = "star"



TIMELINE_FIELDS = ("name", "description", "icon", "collection_id", "default", "archived")



def parse_timestamp(value) -> str:
    """A date or date-time string as Metabase stores it (timestamptz) and renders it: UTC with a Z."""
    try:
        text = str(value).strip().replace("Z", "+00:00")
        parsed = dt.datetime.fromisoformat(text)
    except ValueError as exc:
        raise errors.invalid({"timestamp": "value must be a valid date string"},
                             {"timestamp": ["value must be a valid date string"]}) from exc
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.UTC)
    parsed = parsed.astimezone(dt.UTC)
    out = parsed.strftime("%Y-%m-%dT%H:%M:%S")
    if parsed.microsecond:
        out += f".{parsed.microsecond:06d}".rstrip("0")
    return out + "Z"



def timeline_or_404(state: State, timeline_id: int) -> Row:
    timeline = state.table("timeline").get(timeline_id)
    if timeline is None:
        raise errors.not_found()
    return timeline


@events.on("collection.deleting")
def _delete_along(state: State, collection_ids: set[int]) -> None:
    """Timelines in a collection deleted for good go with it, their events by the database's cascade
    (collections/models/collection.clj `define-before-delete :model/Collection`, which deletes Timeline rows)."""
    for timeline in state.table("timeline").where(lambda t: t.get("collection_id") in collection_ids):
        for event in state.table("timeline_event").where(timeline_id=timeline["id"]):
            state.table("timeline_event").delete(event["id"])
        state.table("timeline").delete(timeline["id"])
