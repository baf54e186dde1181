"""Moderation reviews as an item's details carry them: `[:moderation_reviews :moderator_details]`."""

from __future__ import annotations

from typing import Any

from ..models.moderation import reviews
from ..store import State
from .users import creator


def reviews_out(state: State, item_type: str, item_id: int) -> list[dict[str, Any]]:
    """content_verification/impl.clj `moderation-reviews-for-items` (newest first) with `moderation-user-details`:
    each review row with its moderator as `user` (a User row, like the `creator` hydration)."""
    return [{**row, "user": creator(state, row.get("moderator_id"))} for row in reviews(state, item_type, item_id)]
