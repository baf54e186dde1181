"""Actions (query, implicit and, before 0.60, http actions attached to model cards): the Action model's rules."""

from __future__ import annotations

from typing import Any

from .. import errors
from ..store import Row, State
from . import collections, databases
from .versions import minor_version

# Metabase removed HTTP actions (metabase#69764, merged February 2026, so about 0.60).
HTTP_ACTIONS_UNTIL = 60


COMMON_KEYS = ("name", "description", "model_id", "parameters", "parameter_mappings", "visualization_settings",
               "archived")


TYPE_KEYS = {
    "query": ("database_id", "dataset_query"),
    "implicit": ("kind",),
    "http": ("template", "response_handle", "error_handle"),
}


IMPLICIT_KINDS = ("row/create", "row/update", "row/delete", "bulk/create", "bulk/update", "bulk/delete")


def check_kind(action_type: str | None, kind: Any) -> None:
    """The spec's catch-all alternative lets any kind through; Metabase's schema dispatches on the type."""
    if action_type == "implicit" and kind not in IMPLICIT_KINDS:
        raise errors.invalid({"kind": "Unsupported implicit action kind"},
                             {"kind": [f"should be either {', '.join(IMPLICIT_KINDS)}"]})


def check_http(state: State, action_type: str | None) -> None:
    if action_type == "http" and minor_version(state) >= HTTP_ACTIONS_UNTIL:
        raise errors.bad_request("HTTP actions are not supported.")


def model_card(state: State, user: Row | None, model_id: Any, level: str) -> Row:
    """The action's model card, after the read (or write) check on its collection: 404, then 403."""
    card = state.table("card").get(model_id)
    if card is None:
        raise errors.not_found()
    access = collection_permission(state, user, card.get("collection_id"))
    if access is None or (level == "write" and access != "write"):
        raise errors.forbidden()
    return card


def collection_permission(state: State, user: Row | None, collection_id: int | None) -> str | None:
    """Actions are readable/writable exactly when their model's collection is (the collections area decides)."""
    collection = state.table("collection").get(collection_id) if collection_id else None
    return collections.permission(state, user, collection)


def check_is_model(card: Row) -> None:
    if card.get("type") != "model":
        raise errors.bad_request("Actions must be made with models, not cards.")


def check_actions_enabled(state: State, db_id: Any) -> None:
    """actions.core `check-actions-enabled-for-database!`: the driver's :actions feature first, then the setting."""
    db = state.table("metabase_database").get(db_id) if db_id is not None else None
    if db is not None and not databases.supports(state, db, "actions"):
        raise errors.ApiError(400, {"message": f'{db["engine"]} Database {db["id"]} "{db["name"]}" does not support '
                                               "actions.", "database-id": db_id})
    if db is None or not (db.get("settings") or {}).get("database-enable-actions"):
        raise errors.ApiError(400, {"message": "Actions are not enabled.", "database-id": db_id})


def model_has_clauses(card: Row) -> bool:
    """Implicit actions need a model that is just a table: no joins, filters, expressions ... and not native."""
    query = card.get("dataset_query") or {}
    if isinstance(query.get("stages"), list):
        stages = query["stages"]
        return len(stages) != 1 or set(stages[0]) - {"lib/type", "source-table", "lib/stage-metadata"} != set()
    if query.get("type") == "native":
        return True
    return set(query.get("query") or {}) - {"source-table"} != set()


def stored_query(state: State, query: Any) -> Any:
    """Stored the way cards store theirs: MBQL 5 from 0.57 on, when the shared converter is there."""
    if not isinstance(query, dict) or not state.profile.mbql5 or "stages" in query:
        return query
    try:
        from ... import mbql
    except ImportError:
        return query
    return mbql.to_mbql5(query, state.profile)


def action_or_404(state: State, action_id: int) -> Row:
    action = state.table("action").get(action_id)
    if action is None:
        raise errors.not_found()
    return action
