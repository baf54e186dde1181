"""Timelines (keyed by entity_id) with their events embedded; events are addressable as `events/<timeline>/<key>`."""

from __future__ import annotations

from typing import Any

from mbport.kind import ExportContext, Kind, PathContext, PathHint
from mbport.refs import address

from .cards import in_exported_collection

EVENT_FIELDS = ("name", "description", "timestamp", "timezone", "time_matters", "icon", "archived")
# Event fields that never reach the doc, with the reason (checked by the tests like a kind's `drop`).
EVENT_DROP = {
    "id": "instance-specific id; an event is keyed by its timestamp and name",
    "timeline_id": "the event sits inside its timeline's doc",
    "question_id": "becomes the `question` ref",
    "creator_id": "audit", "creator": "hydrated user", "created_at": "server timestamp",
    "updated_at": "server timestamp", "source": "analytics hint sent on create, not content",
}


class Timelines(Kind):
    """Timelines with every event, archived ones included.

    `list` reads the active and the archived timelines (those in exported collections); the engine then
    calls `fetch` for every active one, because the list only embeds the *unarchived* events of active
    timelines (an archived event in an active timeline is reachable only through
    `GET /api/timeline/:id?include=events&archived=true`).
    """

    name = "timelines"
    endpoint = "/api/timeline"
    description = "Event timelines and their events, in their collection's folder."
    aliases = ("timeline",)
    container_field = "collection"
    sub_kinds = {"events": 1}
    after = ("collections",)
    keep = ("entity_id", "name", "description", "icon", "default", "archived")
    drop = {
        "id": "instance-specific id; the key is entity_id",
        "collection_id": "becomes the `collection` ref",
        "collection": "hydrated copy of the collection",
        "events": "kept as embedded event docs (ids become keys)",
        "creator_id": "audit", "creator": "hydrated user",
        "created_at": "server timestamp", "updated_at": "server timestamp",
        "is_remote_synced": "EE remote-sync bookkeeping",
        "can_write": "the reading user's permission",
    }

    def list(self, api, ctx: ExportContext) -> list[dict[str, Any]]:
        seen: dict[int, dict[str, Any]] = {}
        for params in ({"include": "events"}, {"include": "events", "archived": "true"}):
            for raw in api.get(self.endpoint, params=params):
                seen.setdefault(raw["id"], raw)
        # Like cards: nothing from personal collections unless they are exported too.
        return [seen[i] for i in sorted(seen) if in_exported_collection(seen[i], ctx)]

    def needs_fetch(self, summary: dict[str, Any]) -> bool:
        return not summary.get("archived")

    def fetch(self, api, summary: dict[str, Any]) -> dict[str, Any]:
        # archived=true asks for *all* events (archived and not) of this one timeline.
        return api.get(f"{self.endpoint}/{summary['id']}", params={"include": "events", "archived": "true"})

    def index(self, raw):
        yield self.name, raw["id"], self.address_of(raw)
        for event, key in event_keys(raw.get("events") or []):
            yield "events", event["id"], address("events", raw["entity_id"], key)

    def normalize_more(self, doc, raw, ctx: ExportContext):
        doc["collection"] = ctx.ref("collections", raw.get("collection_id"))
        if doc.get("description") is None:
            doc.pop("description", None)
        events = []
        for event, _ in event_keys(raw.get("events") or []):
            out = {k: event[k] for k in EVENT_FIELDS if event.get(k) is not None}
            if event.get("question_id") is not None:
                out["question"] = ctx.ref("cards", event["question_id"])
            events.append(out)
        doc["events"] = events
        return doc

    def contains(self, doc):
        return {address("events", doc["entity_id"], key) for _, key in event_keys(doc.get("events") or [])}

    def path(self, doc, folders: PathContext) -> PathHint:
        return PathHint(folders.folder_of(doc.get("collection")), doc["name"])


def _sort_key(event: dict[str, Any]) -> tuple:
    # Computable from a raw event and from an event doc alike, so index and contains agree on the keys.
    return (str(event.get("timestamp") or ""), str(event.get("name") or ""), event.get("description") or "",
            event.get("timezone") or "", bool(event.get("time_matters")), event.get("icon") or "",
            bool(event.get("archived")))


def event_keys(events: list[dict[str, Any]]) -> list[tuple[dict[str, Any], str]]:
    """Events in their doc order, each with its stable key: `<timestamp> <name>`, `~2`, `~3` ... for repeats."""
    out, used = [], set()
    for event in sorted(events, key=_sort_key):
        base = f"{event.get('timestamp')} {event.get('name')}"
        key, n = base, 1
        while key in used:
            n += 1
            key = f"{base} ~{n}"
        used.add(key)
        out.append((event, key))
    return out
