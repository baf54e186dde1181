"""Timelines and their events: the Timeline and TimelineEvent models' rules (collection access, timestamps, archive)."""

from __future__ import annotations

import datetime as dt

from .. import errors
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
