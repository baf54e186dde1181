"""The small collection maps other answers embed: a collection's summary and the root pseudo-collection."""

from __future__ import annotations

from ..models.collections import IS_ROOT_KEY, ROOT_NAME, is_personal
from ..store import State


def root_summary(can_write_root: bool = True, namespace: str | None = None) -> dict:
    out = {IS_ROOT_KEY: True, "authority_level": None, "name": ROOT_NAME, "is_personal": False, "id": "root",
           "can_write": can_write_root}
    if namespace:
        out["namespace"] = namespace
    return out



def collection_summary(state: State, collection_id: int | None) -> dict | None:
    """The hydrated `collection` map cards, dashboards and timelines carry (the root pseudo-collection for None)."""
    if collection_id is None:
        return root_summary()
    coll = state.table("collection").get(collection_id)
    if coll is None:
        return None
    return {**coll, "is_personal": is_personal(state, coll)}
