"""What a document looks like in answers (documents/api/document.clj `get-document` and the list's hydrations)."""

from __future__ import annotations

from typing import Any

from ..models import collections
from ..store import Row, State

# documents/models/document.clj batched-hydrate :creator selects these columns only.
CREATOR_KEYS = ("id", "email", "first_name", "last_name")


def _creator(state: State, user_id: int | None) -> dict[str, Any]:
    user = state.table("user").get(user_id) if user_id is not None else None
    return {k: user.get(k) for k in CREATOR_KEYS} if user is not None else {}


def _can_write(state: State, user: Row | None, doc: Row) -> bool:
    return collections.can_write(state, user, collections.row_or_root(state, doc.get("collection_id")))


def list_item(state: State, user: Row | None, doc: Row) -> dict[str, Any]:
    """`GET /api/document` items: the row with `creator`, `can_write` and `is_remote_synced`."""
    return {**doc, "creator": _creator(state, doc.get("creator_id")), "can_write": _can_write(state, user, doc),
            "is_remote_synced": False}


def detail(state: State, user: Row | None, doc: Row) -> dict[str, Any]:
    """`get-document`: the row with `creator`, `can_write`, `can_delete`, `can_restore` and `is_remote_synced`."""
    writable = _can_write(state, user, doc)
    archived = bool(doc.get("archived"))
    return {**list_item(state, user, doc), "can_delete": writable and archived,
            "can_restore": writable and archived and bool(doc.get("archived_directly"))}
