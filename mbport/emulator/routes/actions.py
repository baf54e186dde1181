"""Actions: /api/action (query, implicit and, before 0.60, http actions attached to model cards)."""

from __future__ import annotations

from typing import Any

from .. import errors
from ..app import NO_CONTENT, Ctx
from ..models import collections, databases
from ..models.versions import minor_version
from ..router import route
from ..shapes import users as user_shapes
from ..store import Row, State

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


def _check_kind(action_type: str | None, kind: Any) -> None:
    """The spec's catch-all alternative lets any kind through; Metabase's schema dispatches on the type."""
    if action_type == "implicit" and kind not in IMPLICIT_KINDS:
        raise errors.invalid({"kind": "Unsupported implicit action kind"},
                             {"kind": [f"should be either {', '.join(IMPLICIT_KINDS)}"]})


def _check_http(state: State, action_type: str | None) -> None:
    if action_type == "http" and minor_version(state) >= HTTP_ACTIONS_UNTIL:
        raise errors.bad_request("HTTP actions are not supported.")


def _model(ctx: Ctx, model_id: Any, level: str) -> Row:
    card = ctx.state.table("card").get(model_id)
    if card is None:
        raise errors.not_found()
    access = _collection_permission(ctx.state, ctx.user, card.get("collection_id"))
    if access is None or (level == "write" and access != "write"):
        raise errors.forbidden()
    return card


def _collection_permission(state: State, user: Row | None, collection_id: int | None) -> str | None:
    """Actions are readable/writable exactly when their model's collection is (the collections area decides)."""
    collection = state.table("collection").get(collection_id) if collection_id else None
    return collections.permission(state, user, collection)


def _check_is_model(card: Row) -> None:
    if card.get("type") != "model":
        raise errors.bad_request("Actions must be made with models, not cards.")


def _check_actions_enabled(state: State, db_id: Any) -> None:
    """actions.core `check-actions-enabled-for-database!`: the driver's :actions feature first, then the setting."""
    db = state.table("metabase_database").get(db_id) if db_id is not None else None
    if db is not None and not databases.supports(state, db, "actions"):
        raise errors.ApiError(400, {"message": f'{db["engine"]} Database {db["id"]} "{db["name"]}" does not support '
                                               "actions.", "database-id": db_id})
    if db is None or not (db.get("settings") or {}).get("database-enable-actions"):
        raise errors.ApiError(400, {"message": "Actions are not enabled.", "database-id": db_id})


def _model_has_clauses(card: Row) -> bool:
    """Implicit actions need a model that is just a table: no joins, filters, expressions ... and not native."""
    query = card.get("dataset_query") or {}
    if isinstance(query.get("stages"), list):
        stages = query["stages"]
        return len(stages) != 1 or set(stages[0]) - {"lib/type", "source-table", "lib/stage-metadata"} != set()
    if query.get("type") == "native":
        return True
    return set(query.get("query") or {}) - {"source-table"} != set()


def _query(state: State, query: Any) -> Any:
    """Stored the way cards store theirs: MBQL 5 from 0.57 on, when the shared converter is there."""
    if not isinstance(query, dict) or not state.profile.mbql5 or "stages" in query:
        return query
    try:
        from .. import mbql
    except ImportError:
        return query
    return mbql.to_mbql5(query, state.profile)


def shape(state: State, action: Row, *, creator: bool = False) -> dict[str, Any]:
    out = {k: v for k, v in action.items() if k not in {key for keys in TYPE_KEYS.values() for key in keys}}
    for key in TYPE_KEYS.get(action["type"], ()):
        out[key] = action.get(key)
    if action["type"] == "implicit":
        model = state.table("card").get(action["model_id"]) or {}
        out["database_id"] = model.get("database_id")
    if creator:
        out["creator"] = user_shapes.creator(state, action.get("creator_id"))
    return out


def _drop_dashcards(state: State, action_id: int) -> None:
    """Action buttons go with their action (Metabase deletes the dashcards on archive and delete)."""
    dashcards = state.table("dashboardcard")
    for dashcard in dashcards.where(action_id=action_id):
        dashcards.delete(dashcard["id"])


def _get(state: State, action_id: int) -> Row:
    action = state.table("action").get(action_id)
    if action is None:
        raise errors.not_found()
    return action


@route("GET", "/api/action")
def list_actions(ctx: Ctx):
    model_id = ctx.query.get("model-id")
    if model_id is not None:
        models = [_model(ctx, model_id, "read")]
    else:
        models = [c for c in ctx.state.table("card").where(type="model", archived=False)
                  if _collection_permission(ctx.state, ctx.user, c.get("collection_id"))]
    model_ids = {m["id"] for m in models}
    actions = ctx.state.table("action").where(lambda a: a["model_id"] in model_ids, archived=False)
    return [shape(ctx.state, a, creator=True) for a in actions]


@route("POST", "/api/action")
def create_action(ctx: Ctx):
    state, body = ctx.state, ctx.body
    action_type = body["type"]
    _check_http(state, action_type)
    _check_kind(action_type, body.get("kind"))
    if action_type == "query" and body.get("database_id") is None:
        raise errors.bad_request("Must provide a database_id for query actions")
    model = _model(ctx, body["model_id"], "write")
    if action_type == "implicit" and _model_has_clauses(model):
        raise errors.bad_request("Implicit actions are not supported for models with clauses.")
    for db_id in [model.get("database_id")] + ([body["database_id"]] if body.get("database_id") else []):
        _check_actions_enabled(state, db_id)
    _check_is_model(model)
    row: dict[str, Any] = {
        "name": body["name"], "type": action_type, "model_id": model["id"],
        "description": body.get("description"), "parameters": body.get("parameters") or [],
        "parameter_mappings": body.get("parameter_mappings"),
        "visualization_settings": body.get("visualization_settings"), "archived": bool(body.get("archived")),
        "public_uuid": None, "made_public_by_id": None, "creator_id": ctx.user["id"],
    }
    for key in TYPE_KEYS[action_type]:
        row[key] = body.get(key)
    if action_type == "query":
        row["dataset_query"] = _query(state, row["dataset_query"])
    action = state.table("action").insert(row, now=state.now())
    return shape(state, action)


@route("GET", "/api/action/{action-id}")
def get_action(ctx: Ctx, action_id: int):
    action = _get(ctx.state, action_id)
    if action.get("archived"):
        raise errors.not_found()
    _model(ctx, action["model_id"], "read")
    return shape(ctx.state, action, creator=True)


@route("PUT", "/api/action/{id}")
def update_action(ctx: Ctx, id: int):
    state, body = ctx.state, ctx.body or {}
    _check_http(state, body.get("type"))
    action = _get(state, id)
    _check_actions_enabled(state, (state.table("card").get(action["model_id"]) or {}).get("database_id"))
    _model(ctx, action["model_id"], "write")
    _check_http(state, action["type"])
    changes = {k: body[k] for k in COMMON_KEYS + ("type",) if k in body}
    new_type = changes.get("type", action["type"])
    if "kind" in body or new_type != action["type"]:
        _check_kind(new_type, body.get("kind", action.get("kind")))
    changes |= {k: body[k] for k in TYPE_KEYS.get(new_type, ()) if k in body}
    if "dataset_query" in changes:
        changes["dataset_query"] = _query(state, changes["dataset_query"])
    if changes.get("archived"):
        _drop_dashcards(state, id)
    else:
        _check_is_model(_model(ctx, changes.get("model_id", action["model_id"]), "write"))
    if new_type != action["type"]:
        # The type-specific columns live in per-type tables in Metabase: the old type's go away.
        for key in TYPE_KEYS.get(action["type"], ()):
            action.pop(key, None)
        for key in TYPE_KEYS.get(new_type, ()):
            action.setdefault(key, None)
    action.update(changes, updated_at=state.now())
    return shape(state, action)


@route("DELETE", "/api/action/{action-id}")
def delete_action(ctx: Ctx, action_id: int):
    action = _get(ctx.state, action_id)
    _model(ctx, action["model_id"], "write")
    _drop_dashcards(ctx.state, action_id)
    ctx.state.table("action").delete(action_id)
    return NO_CONTENT
