"""Actions: /api/action (query, implicit and, before 0.60, http actions attached to model cards)."""

from __future__ import annotations

from typing import Any

from .. import errors
from ..app import NO_CONTENT, Ctx
from ..models import actions as rules
from ..router import route
from ..shapes.actions import shape


@route("GET", "/api/action")
def list_actions(ctx: Ctx):
    model_id = ctx.query.get("model-id")
    if model_id is not None:
        models = [rules.model_card(ctx.state, ctx.user, model_id, "read")]
    else:
        models = [c for c in ctx.state.table("card").where(type="model", archived=False)
                  if rules.collection_permission(ctx.state, ctx.user, c.get("collection_id"))]
    model_ids = {m["id"] for m in models}
    actions = ctx.state.table("action").where(lambda a: a["model_id"] in model_ids, archived=False)
    return [shape(ctx.state, a, creator=True) for a in actions]


@route("POST", "/api/action")
def create_action(ctx: Ctx):
    state, body = ctx.state, ctx.body
    action_type = body["type"]
    rules.check_http(state, action_type)
    rules.check_kind(action_type, body.get("kind"))
    if action_type == "query" and body.get("database_id") is None:
        raise errors.bad_request("Must provide a database_id for query actions")
    model = rules.model_card(ctx.state, ctx.user, body["model_id"], "write")
    if action_type == "implicit" and rules.model_has_clauses(model):
        raise errors.bad_request("Implicit actions are not supported for models with clauses.")
    for db_id in [model.get("database_id")] + ([body["database_id"]] if body.get("database_id") else []):
        rules.check_actions_enabled(state, db_id)
    rules.check_is_model(model)
    row: dict[str, Any] = {
        "name": body["name"], "type": action_type, "model_id": model["id"],
        "description": body.get("description"), "parameters": body.get("parameters") or [],
        "parameter_mappings": body.get("parameter_mappings"),
        "visualization_settings": body.get("visualization_settings"), "archived": bool(body.get("archived")),
        "public_uuid": None, "made_public_by_id": None, "creator_id": ctx.user["id"],
    }
    for key in rules.TYPE_KEYS[action_type]:
        row[key] = body.get(key)
    if action_type == "query":
        row["dataset_query"] = rules.stored_query(state, row["dataset_query"])
    action = state.table("action").insert(row, now=state.now())
    return shape(state, action)


@route("GET", "/api/action/{action-id}")
def get_action(ctx: Ctx, action_id: int):
    action = rules.action_or_404(ctx.state, action_id)
    if action.get("archived"):
        raise errors.not_found()
    rules.model_card(ctx.state, ctx.user, action["model_id"], "read")
    return shape(ctx.state, action, creator=True)


@route("PUT", "/api/action/{id}")
def update_action(ctx: Ctx, id: int):
    state, body = ctx.state, ctx.body or {}
    rules.check_http(state, body.get("type"))
    action = rules.action_or_404(state, id)
    rules.check_actions_enabled(state, state.table("card").value(action["model_id"], "database_id"))
    rules.model_card(ctx.state, ctx.user, action["model_id"], "write")
    rules.check_http(state, action["type"])
    changes = {k: body[k] for k in rules.COMMON_KEYS + ("type",) if k in body}
    new_type = changes.get("type", action["type"])
    if "kind" in body or new_type != action["type"]:
        rules.check_kind(new_type, body.get("kind", action.get("kind")))
    changes |= {k: body[k] for k in rules.TYPE_KEYS.get(new_type, ()) if k in body}
    if "dataset_query" in changes:
        changes["dataset_query"] = rules.stored_query(state, changes["dataset_query"])
    if changes.get("archived"):
        state.emit("action.removed", action_id=id)
    else:
        rules.check_is_model(rules.model_card(ctx.state, ctx.user, changes.get("model_id", action["model_id"]), "write"))
    if new_type != action["type"]:
        # The type-specific columns live in per-type tables in Metabase: the old type's go away.
        for key in rules.TYPE_KEYS.get(action["type"], ()):
            action.pop(key, None)
        for key in rules.TYPE_KEYS.get(new_type, ()):
            action.setdefault(key, None)
    action.update(changes, updated_at=state.now())
    return shape(state, action)


@route("DELETE", "/api/action/{action-id}")
def delete_action(ctx: Ctx, action_id: int):
    action = rules.action_or_404(ctx.state, action_id)
    rules.model_card(ctx.state, ctx.user, action["model_id"], "write")
    ctx.state.emit("action.removed", action_id=action_id)
    ctx.state.table("action").delete(action_id)
    return NO_CONTENT
