"""The emulator's state and rules per Metabase area (moto's models.py): validation, cascades, no HTTP here.

Importing this package registers every area's event subscribers (events.py); `init_state` creates the rows a
fresh Metabase already has. Areas import one another only to read; effects on another area are events.
"""

from __future__ import annotations

from ..store import State
from . import (
    actions,
    cards,
    collection_graph,
    collections,
    dashboards,
    databases,
    documents,
    fields,
    glossary,
    groups,
    impersonations,
    metabots,
    moderation,
    notifications,
    permissions_graph,
    pulses,
    sandboxes,
    settings,
    tables,
    timelines,
    transforms,
    users,
    versions,
)

AREAS = (actions, cards, collection_graph, collections, dashboards, databases, documents, fields, glossary, groups,
         impersonations, metabots, moderation,
         notifications, permissions_graph, pulses, sandboxes, settings, tables, timelines, transforms, users, versions)


def init_state(state: State) -> None:
    """Create the built-in rows of every area (the Trash, the two magic groups ...)."""
    for area in AREAS:
        if hasattr(area, "init_state"):
            area.init_state(state)
