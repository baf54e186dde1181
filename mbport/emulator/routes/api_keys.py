"""API keys: /api/api-key. Each key owns a hidden `api-key` user that sits in All Users and the key's group."""

from __future__ import annotations

import base64
import secrets
from typing import Any

from .. import errors
from ..app import NO_CONTENT, Ctx, hash_api_key
from ..models import users
from ..router import route
from ..store import Row, State, new_uuid

PREFIX_LENGTH = 7
KEY_LENGTH = 47  # "mb_" + base64 of 32 bytes


def generate_key(state: State) -> str:
    """A fresh key whose 7-character prefix no stored key uses (the prefix is how requests find their key)."""
    for _ in range(5):
        key = "mb_" + base64.b64encode(secrets.token_bytes(32)).decode()
        if state.table("api_key").first(key_prefix=key[:PREFIX_LENGTH]) is None:
            return key
    raise errors.server_error("could not generate key with unique prefix")


def mask(key_or_prefix: str) -> str:
    return key_or_prefix[:PREFIX_LENGTH] + "*" * (KEY_LENGTH - PREFIX_LENGTH)


def _store_key(row: dict[str, Any], key: str) -> None:
    # Only the prefix and a hash are kept; the raw key is shown once.
    row["key_prefix"], row["key_hash"], row["masked_key"] = key[:PREFIX_LENGTH], hash_api_key(key), mask(key)


def key_group(state: State, row: Row) -> dict[str, Any]:
    """The key's one group besides All Users (All Users itself when that is all it has)."""
    all_users_id = users.magic_group(state, users.ALL_USERS)["id"]
    ids = sorted(users.group_ids(state, row["user_id"]), key=lambda gid: gid == all_users_id)
    group = state.table("permissions_group").get(ids[0]) if ids else None
    return {"name": group["name"] if group else None, "id": group["id"] if group else None}


def present(state: State, row: Row) -> dict[str, Any]:
    updated_by = state.table("user").get(row.get("updated_by_id"))
    return {
        "created_at": row["created_at"], "updated_at": row["updated_at"],
        "updated_by": {"common_name": updated_by["common_name"], "id": updated_by["id"]} if updated_by else {},
        "id": row["id"], "group": key_group(state, row), "name": row["name"], "masked_key": row["masked_key"],
    }


def _key_or_404(state: State, key_id: int) -> Row:
    row = state.table("api_key").get(key_id)
    if row is None:
        raise errors.not_found()
    return row


def _groups_for(state: State, group_id: int) -> list[int]:
    if state.table("permissions_group").get(group_id) is None:
        raise errors.server_error("Error inserting Permissions Group Membership")
    return [users.magic_group(state, users.ALL_USERS)["id"], group_id]


@route("GET", "/api/api-key")
def list_keys(ctx: Ctx):
    ctx.require_superuser()
    return [present(ctx.state, row) for row in ctx.state.table("api_key").where(scope=None)]


@route("GET", "/api/api-key/count")
def count_keys(ctx: Ctx):
    ctx.require_superuser()
    return len(ctx.state.table("api_key").where(scope=None))


@route("POST", "/api/api-key")
def create_key(ctx: Ctx):
    ctx.require_superuser()
    state, body = ctx.state, ctx.body
    name = body["name"]
    if state.table("api_key").first(name=name):
        raise errors.checkp("name", "An API key with this name already exists.")
    wanted = _groups_for(state, body["group_id"])
    key = generate_key(state)
    user = users.create_user(
        state, email=f"api-key-user-{new_uuid()}@api-key.invalid", first_name=name, last_name="",
        user_type="api-key")
    users.set_groups(state, user, wanted)
    now = state.now()
    values = {"user_id": user["id"], "name": name, "scope": None, "creator_id": ctx.user["id"],
              "updated_by_id": ctx.user["id"]}
    _store_key(values, key)
    row = state.table("api_key").insert(values, now=now)
    return {**present(state, row), "unmasked_key": key}


@route("PUT", "/api/api-key/{id}")
def update_key(ctx: Ctx, id: int):
    ctx.require_superuser()
    state, body = ctx.state, ctx.body or {}
    row = _key_or_404(state, id)
    user = state.table("user").get(row["user_id"])
    name, group_id = body.get("name"), body.get("group_id")
    if name is not None and name != row["name"] and state.table("api_key").first(name=name):
        raise errors.checkp("name", "An API key with this name already exists.")
    if group_id is not None and user and user["type"] == "api-key":
        users.set_groups(state, user, _groups_for(state, group_id))
    if name is not None:
        row["name"] = name
        if user and user["type"] == "api-key":
            user.update(first_name=name, last_name="", common_name=name, updated_at=state.now())
    if name is not None or group_id is not None:
        row["updated_by_id"], row["updated_at"] = ctx.user["id"], state.now()
    return present(state, row)


@route("PUT", "/api/api-key/{id}/regenerate")
def regenerate_key(ctx: Ctx, id: int):
    ctx.require_superuser()
    row = _key_or_404(ctx.state, id)
    key = generate_key(ctx.state)
    _store_key(row, key)
    row["updated_by_id"], row["updated_at"] = ctx.user["id"], ctx.state.now()
    return {"id": id, "unmasked_key": key, "masked_key": row["masked_key"], "prefix": row["key_prefix"]}


@route("DELETE", "/api/api-key/{id}")
def delete_key(ctx: Ctx, id: int):
    ctx.require_superuser()
    row = _key_or_404(ctx.state, id)
    user = ctx.state.table("user").get(row["user_id"])
    if user and user["type"] == "api-key":
        users.deactivate(ctx.state, user)
    ctx.state.table("api_key").delete(id)
    return NO_CONTENT
