"""Timelines (keyed by entity_id) with their events embedded; events are addressable as `events/<timeline>/<key>`."""

from __future__ import annotations

import builtins
from typing import Any

from mbport.api import (CollectionCascade, ExportContext, FetchesDetail, Kind, Match, SubObjects,
                        WriteRequest, common, copy, each, flag, in_exported_collection, listed_once, present,
                        ref, skip)

EVENT_FIELDS = ("name", "description", "timestamp", "timezone", "time_matters", "icon", "archived")
# An event's fields; its payload is what create and update send (a null description is sent, to clear it).
EVENT = {
    **common("created_at", "updated_at", "creator_id", "creator"),
    "id": skip("instance-specific id; an event is keyed by its timestamp and name"),
    "timeline_id": skip("the event sits inside its timeline's doc"),
    "source": skip("analytics hint sent on create, not content"),
    "name": copy(send=present), "description": copy(), "timestamp": copy(send=present),
    "timezone": copy(send=lambda value, doc: value or "UTC"), "time_matters": copy(send=flag),
    "icon": copy(send=present), "archived": copy(send=flag),
    # Only feeds Metabase's analytics; sent like the UI does (null while the card has no id: never fails the event).
    "question_id": ref("cards", as_="question", late=True, send=present),
}


class Timelines(FetchesDetail, SubObjects, CollectionCascade, Kind):
    """Timelines with every event, archived ones included.

    `list` reads the active and the archived timelines (those in exported collections); the engine then
    calls `fetch` for every active one, because the list only embeds the *unarchived* events of active
    timelines (an archived event in an active timeline is reachable only through
    `GET /api/timeline/:id?include=events&archived=true`).

    Import: matched by entity_id, then (collection, name). `create` POSTs the timeline (archived flag included)
    and its events; `update` PUTs the timeline when it differs, then creates, updates and archives events,
    pairing them by key; `sub_ids` gives `events/...` their target ids for the cards that point at them.
    """

    name = "timelines"
    archived_with_it = False  # the collection's archive sets `archived` on each: the doc's own flag goes on last
    endpoint = "/api/timeline"
    sub_kinds = {"events": 1}
    after = ("collections",)
    fields = {
        **common("created_at", "updated_at", "can_write", "is_remote_synced"),
        "id": skip("instance-specific id; the key is entity_id"),
        "entity_id": copy(), "name": copy(), "description": copy(default=None), "icon": copy(),
        "default": copy(send=flag), "archived": copy(send=flag),
        "collection_id": ref("collections", as_="collection", container=True),
        "collection": skip("hydrated copy of the collection"),
        # Events are sent one by one (`payload`, `_sync_events`), not with the timeline.
        "events": each(EVENT, read=lambda raw: [event for event, _ in event_keys(raw.get("events") or [])],
                       send=False, writes=("POST /api/timeline-event", "PUT /api/timeline-event/{id}")),
        "creator_id": skip("audit"), "creator": skip("hydrated user"),
    }
    match = Match("name", within="collection")

    def list(self, api, ctx: ExportContext) -> list[dict[str, Any]]:
        rows = listed_once(api, self.endpoint, {"include": "events"}, {"include": "events", "archived": "true"})
        # Like cards: nothing from personal collections unless they are exported too.
        return sorted((r for r in rows if in_exported_collection(r, ctx)), key=lambda r: r["id"])

    def needs_fetch(self, summary: dict[str, Any]) -> bool:
        return not summary.get("archived")

    def fetch(self, api, summary: dict[str, Any]) -> dict[str, Any]:
        # archived=true asks for *all* events (archived and not) of this one timeline.
        return api.get(f"{self.endpoint}/{summary['id']}", params={"include": "events", "archived": "true"})

    def sub_items(self, obj, raw):
        return [("events", event, (key,)) for event, key in event_keys(obj.get("events") or [])]

    # ---- import: by entity_id, then (collection, name); events by their key (timestamp + name) ----
    def compare(self, wanted, current, options):
        # An event the tree does not have is archived on the target, never deleted: an archived extra is in sync.
        keys = {key for _, key in event_keys(wanted.get("events") or [])}
        extras = {id(e) for e, key in event_keys(current.get("events") or []) if key not in keys and e.get("archived")}
        current = {**current, "events": [e for e in current.get("events") or [] if id(e) not in extras]}
        return super().compare(wanted, current, options)

    def payload(self, doc, resolve, stage):
        """`PUT`/`POST /api/timeline` fields, and each event's body under its key."""
        event = self.spec.nested("events")
        return {"timeline": self.spec.payload(doc, resolve), "events": [(key, event.payload(e, resolve)) for e, key in
                                                 event_keys(doc.get("events") or [])]}

    def create(self, req: WriteRequest) -> dict[str, Any]:
        # POST takes `archived`, so an archived timeline keeps the archived flags of its events as the tree has them.
        raw = req.api.post(self.endpoint, json=req.payload["timeline"])
        return {**raw, "events": self._sync_events(req.api, raw["id"], req.payload["events"], [])}

    def update(self, req: WriteRequest) -> dict[str, Any]:
        current = req.target.find(self.name, req.target_id) or {}
        wanted = req.payload["timeline"]
        timeline = current
        if any(current.get(k) != v for k, v in wanted.items()):
            timeline = req.api.put(f"{self.endpoint}/{req.target_id}", json=wanted)
        events = current.get("events") or []
        if bool(current.get("archived")) != wanted["archived"] or "events" not in current:
            # (Un)archiving a timeline (un)archives all its events: read them again before matching.
            events = req.api.get(f"{self.endpoint}/{req.target_id}",
                             params={"include": "events", "archived": "true"}).get("events") or []
        return {**timeline, "id": req.target_id, "events": self._sync_events(req.api, req.target_id, req.payload["events"], events)}

    def _sync_events(self, api, timeline_id: int, wanted: builtins.list[tuple[str, dict[str, Any]]],
                     existing: builtins.list[dict[str, Any]]) -> builtins.list[dict[str, Any]]:
        """Create, update and archive events so the timeline holds the tree's; returns the resulting events."""
        have = {key: event for event, key in event_keys(existing)}
        out = []
        for key, body in wanted:
            event = have.pop(key, None)
            if event is None:
                out.append(api.post("/api/timeline-event", json={"timeline_id": timeline_id, **body}))
                continue
            now = {k: event.get(k) for k in EVENT_FIELDS}
            if any(now.get(k) != v for k, v in body.items() if k in EVENT_FIELDS):
                event = api.put(f"/api/timeline-event/{event['id']}",
                                json={k: v for k, v in body.items() if k in EVENT_FIELDS})
            out.append(event)
        for event in have.values():  # events the tree does not have: archived, never deleted
            if not event.get("archived"):
                event = api.put(f"/api/timeline-event/{event['id']}", json={"archived": True})
            out.append(event)
        return out

    def sub_ids(self, doc, raw):
        """`events/<timeline>/<key>` → target event id, of the doc's events only (the target's extras are archived)."""
        return {addr: tid for addr, tid in super().sub_ids(doc, raw).items() if addr in self.contains(doc)}


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
