"""What action answers look like: the type's own columns, an implicit action's database, the creator."""

from __future__ import annotations

from typing import Any

from ..models.actions import TYPE_KEYS
from ..store import Row, State
from .users import creator as creator_of


def shape(state: State, action: Row, *, creator: bool = False) -> dict[str, Any]:
    out = {k: v for k, v in action.items() if k not in {key for keys in TYPE_KEYS.values() for key in keys}}
    for key in TYPE_KEYS.get(action["type"], ()):
        out[key] = action.get(key)
    if action["type"] == "implicit":
        out["database_id"] = state.table("card").value(action["model_id"], "database_id")
    if creator:
        out["creator"] = creator_of(state, action.get("creator_id"))
    return out
