"""Native query snippets: /api/native-query-snippet (no DELETE; archive with PUT)."""

from __future__ import annotations

from .. import errors
from ..app import Ctx
from ..router import route
from ..shapes.users import creator
from ..store import Row, State

NAME_RULE = "snippet names cannot include '}' or start with spaces"
DUPLICATE_NAME = "A snippet with that name already exists. Please pick a different name."
WRONG_NAMESPACE = "A NativeQuerySnippet can only go in Collections in the :snippets namespace."
MISSING_COLLECTION = "Collection does not exist."


def _check_name(name) -> None:
    # The spec leaves `name` untyped; Metabase's malli predicate does the checking.
    if not isinstance(name, str) or "}" in name or name[:1].isspace():
        raise errors.invalid({"name": NAME_RULE}, {"name": [NAME_RULE]})


def _check_unique(state: State, name: str) -> None:
    # Unique instance-wide, archived snippets included, compared exactly.
    if state.table("native_query_snippet").first(name=name):
        raise errors.bad_request(DUPLICATE_NAME)


def check_snippet_collection(state: State, collection_id: int | None) -> None:
    """A snippet folder must exist and live in the `snippets` namespace."""
    if collection_id is None:
        return
    coll = state.table("collection").get(collection_id)
    if coll is None:
        raise errors.checkp("collection_id", MISSING_COLLECTION, status=404)
    if coll.get("namespace") != "snippets":
        raise errors.checkp("collection_id", WRONG_NAMESPACE)


def _row_out(snippet: Row) -> dict:
    return dict(snippet)


def hydrate_snippet(state: State, snippet: Row) -> dict:
    return {**_row_out(snippet), "creator": creator(state, snippet["creator_id"]), "is_remote_synced": False}


@route("GET", "/api/native-query-snippet")
def list_snippets(ctx: Ctx):
    archived = bool(ctx.query.get("archived"))
    rows = ctx.state.table("native_query_snippet").where(archived=archived)
    rows.sort(key=lambda r: r["name"].lower())
    return [hydrate_snippet(ctx.state, r) for r in rows]


@route("GET", "/api/native-query-snippet/{id}")
def get_snippet(ctx: Ctx, id: int):
    snippet = ctx.state.table("native_query_snippet").get(id)
    if snippet is None:
        raise errors.not_found()
    return hydrate_snippet(ctx.state, snippet)


@route("POST", "/api/native-query-snippet")
def create_snippet(ctx: Ctx):
    body = ctx.body or {}
    state = ctx.state
    _check_name(body.get("name"))
    _check_unique(state, body["name"])
    check_snippet_collection(state, body.get("collection_id"))
    now = state.now()
    # Metabase returns the inserted row as is: no creator hydration on create.
    return _row_out(state.table("native_query_snippet").insert({
        "name": body["name"], "description": body.get("description"), "content": body["content"],
        "collection_id": body.get("collection_id"), "creator_id": ctx.user["id"], "archived": False,
    }, now=now))


@route("PUT", "/api/native-query-snippet/{id}")
def update_snippet(ctx: Ctx, id: int):
    state = ctx.state
    snippet = state.table("native_query_snippet").get(id)
    if snippet is None:
        raise errors.not_found()
    body = ctx.body or {}
    # description/collection_id are written when present (null clears), the rest only when non-null.
    wanted = {k: body[k] for k in ("description", "collection_id") if k in body}
    wanted.update({k: body[k] for k in ("archived", "content", "name") if body.get(k) is not None})
    if "name" in wanted:
        _check_name(wanted["name"])
    changes = {k: v for k, v in wanted.items() if snippet.get(k) != v}
    if changes:
        if "name" in changes:
            _check_unique(state, changes["name"])
        if "collection_id" in changes:
            check_snippet_collection(state, changes["collection_id"])
        snippet.update(changes, updated_at=state.now())
    return hydrate_snippet(state, snippet)
