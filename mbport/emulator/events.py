"""Cross-area effects as named state events: an area emits what happened, the areas it concerns subscribe.

Metabase runs these effects in model hooks and event handlers (a card archived leaves its dashboards, a trashed
collection takes its contents along, a deactivated user leaves every subscription). Here the area whose row
changed calls `state.emit(name, **payload)`, and each area that must react registers a subscriber with
`@events.on(name)` in its models module. No area calls into another area's handlers, and this table is the one
place that lists every cross-area effect. Subscribers of one event run in registration order (the order
`models/__init__.py` imports the areas) and must not depend on one another.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Subscriber = Callable[..., None]

# name -> what happened and the payload's keys. Emitting or subscribing to any other name is a bug.
EVENTS: dict[str, str] = {
    "collection.created": "a collection row was inserted (collection)",
    "collection.archived": "collections were trashed by one archive operation (collection_ids)",
    "collection.unarchived": "collections came back from the Trash (collection_ids)",
    "collection.deleting": "collections are about to be deleted for good, their contents first (collection_ids)",
    "card.deleted": "a card row was deleted (card_id)",
    "card.left_dashboards": "a card must leave every dashboard: archived dashboard question, or moved (card_id)",
    "card.on_dashboard": "a dashboard question was saved and belongs on its dashboard (card, tab_id)",
    "card.query_changed": "an update changed a card's query (card_id, user_id: who made the edit)",
    "card.alerts_broken": "a card's alerts no longer fit it and are deleted (card_id)",
    "action.removed": "an action was archived or deleted: its buttons leave the dashboards (action_id)",
    "sandbox.created": "a sandbox row was inserted for a group on a table of a database (group_id, db_id)",
    "user.deactivated": "a user was deactivated (user)",
    "group.created": "a permissions group row was inserted (group)",
    "group.deleted": "a permissions group and its memberships were deleted (group)",
    "database.created": "a database row was inserted (db)",
    "database.deleted": "a database and its tables, fields and field values were deleted (db_id)",
}

_SUBSCRIBERS: dict[str, list[Subscriber]] = {name: [] for name in EVENTS}


def on(name: str) -> Callable[[Subscriber], Subscriber]:
    """Register the decorated `fn(state, **payload)` as a subscriber of event `name`."""
    if name not in EVENTS:
        raise KeyError(f"unknown emulator event {name!r}")

    def register(fn: Subscriber) -> Subscriber:
        _SUBSCRIBERS[name].append(fn)
        return fn

    return register


def off(name: str, fn: Subscriber) -> None:
    """Remove a subscriber registered with `on` (tests listen to an event for a while)."""
    _SUBSCRIBERS[name].remove(fn)


def emit(state: Any, name: str, **payload: Any) -> None:
    """Run every subscriber of `name` with the state and the payload, in registration order."""
    if name not in EVENTS:
        raise KeyError(f"unknown emulator event {name!r}")
    for fn in _SUBSCRIBERS[name]:
        fn(state, **payload)


def subscribers(name: str) -> list[Subscriber]:
    """The subscribers of `name` (for tests and readers)."""
    return list(_SUBSCRIBERS[name])
