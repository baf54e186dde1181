"""Documents (0.57+): ProseMirror bodies that embed cards of their own (`document_id`), their Trash rules and cascades.

Sources: documents/api/document.clj (`POST`/`PUT`/`DELETE /api/document`, `create-cards-for-document!`,
`clone-cards-in-document!`, `update-cards-in-ast`) and documents/models/document.clj (`sync-document-cards-collection!`
in its after-update hook, `validate-collection-move-permissions`, `DocumentName`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .. import errors, events
from ..store import Row, State
from . import cards, collections

DOCUMENTS_SINCE = 57
CONTENT_TYPE = "application/json+vnd.prose-mirror"
CARD_EMBED = "cardEmbed"
NAME_RULE = "value must be a non-blank string between 1 and 254 characters."
MUST_BE_ARCHIVED = "Document must be archived before it can be deleted."


def document_or_404(state: State, document_id: int) -> Row:
    doc = state.table("document").get(document_id)
    if doc is None:
        raise errors.not_found()
    return doc


def check_name(body: dict, required: bool) -> None:
    """`DocumentName`: a non-blank string of 1 to 254 characters (the spec's length check misses blank ones)."""
    if "name" not in body and not required:
        return
    name = body.get("name")
    if not isinstance(name, str) or not name.strip() or len(name) > 254:
        raise errors.invalid({"name": NAME_RULE}, {"name": ["invalid document name"]})


def _walk(node: Any, fn: Callable[[dict], dict]) -> Any:
    """prose_mirror.clj `update-ast`: a post-walk over every map of the AST."""
    if isinstance(node, list):
        return [_walk(x, fn) for x in node]
    if isinstance(node, dict):
        return fn({k: _walk(v, fn) for k, v in node.items()})
    return node


def embedded_card_ids(ast: Any) -> list[int]:
    """prose_mirror.clj `card-ids`: the ids of live `cardEmbed` nodes (positive ints), in document order."""
    found: list[int] = []

    def collect(node: dict) -> dict:
        card_id = (node.get("attrs") or {}).get("id") if node.get("type") == CARD_EMBED else None
        if isinstance(card_id, int) and not isinstance(card_id, bool) and card_id > 0:
            found.append(card_id)
        return node

    _walk(ast, collect)
    return found


def _remap_embeds(ast: Any, id_map: dict[int, int]) -> Any:
    """`update-cards-in-ast`: cardEmbed ids found in `id_map` (placeholders, cloned cards) become the new ids."""
    if not id_map:
        return ast

    def remap(node: dict) -> dict:
        attrs = node.get("attrs")
        if node.get("type") == CARD_EMBED and isinstance(attrs, dict) and attrs.get("id") in id_map:
            return {**node, "attrs": {**attrs, "id": id_map[attrs["id"]]}}
        return node

    return _walk(ast, remap)


def _new_card(state: State, user: Row, body: dict, document: dict[str, Any]) -> Row:
    """document.clj `create-card!`: always a question, never a dashboard question, in the document's collection
    unless the card names its own; then `document_id` is set (queries `create-card!` keeps it)."""
    card_body = {k: v for k, v in body.items() if k not in ("entity_id", "dashboard_id", "dashboard_tab_id")}
    card_body.update(type="question", dashboard_id=None)
    if card_body.get("collection_id") is None:
        card_body["collection_id"] = document.get("collection_id")
    card = cards.create_card(state, user, card_body)
    card["document_id"] = document["id"]
    return card


def _check_placeholders(drafts: Any, negative: bool) -> dict[int, dict]:
    """The `cards` map (placeholder id → card): keys are ints (negative on POST), values full card bodies."""
    if drafts is None:
        return {}
    out: dict[int, dict] = {}
    for key, body in drafts.items():
        try:
            placeholder = int(key)
        except (TypeError, ValueError):
            raise errors.invalid({"cards": "value must map a card placeholder id to a card"}) from None
        if negative and placeholder > -1:
            raise errors.invalid({"cards": "value must map a card placeholder id to a card"})
        out[placeholder] = body
    return out


def _create_drafts(state: State, user: Row, drafts: dict[int, dict], document: dict[str, Any]) -> dict[int, int]:
    """`create-cards-for-document!`: placeholder id → the new card's id."""
    return {placeholder: _new_card(state, user, body, document)["id"] for placeholder, body in drafts.items()}


def _clone_foreign_cards(state: State, user: Row, document: dict[str, Any], ast: Any) -> dict[int, int]:
    """`clone-cards-in-document!`: every embedded card that does not belong to this document is copied into it
    (after a read check: 403 on a card the user cannot read); the AST then embeds the copy."""
    out: dict[int, int] = {}
    for card_id in dict.fromkeys(embedded_card_ids(ast)):
        card = state.table("card").get(card_id)
        if card is None or card.get("document_id") == document["id"]:
            continue
        if not cards.can_read_card(state, user, card):
            raise errors.forbidden()
        keep = ("name", "description", "display", "dataset_query", "visualization_settings", "parameters",
                "parameter_mappings", "result_metadata", "cache_ttl")
        body = {k: card.get(k) for k in keep if card.get(k) is not None}
        body["collection_id"] = document.get("collection_id")
        out[card_id] = _new_card(state, user, body, document)["id"]
    return out


def sync_cards(state: State, document: Row) -> None:
    """document.clj `sync-document-cards-collection!` (after every update): the document's cards, archived ones
    included, take its collection and its archived flags."""
    for card in state.table("card").where(document_id=document["id"]):
        card.update(collection_id=document.get("collection_id"), archived=bool(document.get("archived")),
                    archived_directly=bool(document.get("archived_directly")))


def create(state: State, user: Row, body: dict) -> Row:
    """`POST /api/document`: create-check on the collection, the row, foreign embeds cloned, drafts created."""
    check_name(body, required=True)
    collection_id = body.get("collection_id")
    collections.check_access(state, user, collection_id, write=True)
    collections.check_not_trash(collections.row_or_root(state, collection_id))
    drafts = _check_placeholders(body.get("cards"), negative=True)
    position = body.get("collection_position")
    collections.maybe_reconcile_collection_position(
        state, None, {"collection_id": collection_id, "collection_position": position})
    with state.transaction():
        doc = state.table("document").insert({
            "name": body["name"], "document": body.get("document"), "content_type": CONTENT_TYPE,
            "collection_id": collection_id, "collection_position": position, "archived": False,
            "archived_directly": False, "creator_id": user["id"], "view_count": 0, "last_viewed_at": None,
            "public_uuid": None, "made_public_by_id": None,
        }, now=state.now())
        id_map = {**_clone_foreign_cards(state, user, doc, doc["document"]),
                  **_create_drafts(state, user, drafts, doc)}
        doc["document"] = _remap_embeds(doc["document"], id_map)
    return doc


def update(state: State, user: Row, doc: Row, body: dict) -> Row:
    """`PUT /api/document/:id`: no edit of an archived document unless the body (un)archives it; moving needs write
    access to both collections and a live target; the cards follow the document afterwards."""
    check_name(body, required=False)
    if "archived" not in body and doc.get("archived"):
        raise errors.archived()
    if not collections.can_write(state, user, collections.row_or_root(state, doc.get("collection_id"))):
        raise errors.forbidden()
    moving = "collection_id" in body and body["collection_id"] != doc.get("collection_id")
    if moving:  # validate-collection-move-permissions
        target = body["collection_id"]
        if target is not None:
            row = state.table("collection").get(target)
            if row is None or row.get("archived"):
                raise errors.bad_request()
        collections.check_access(state, user, target, write=True)
    drafts = _check_placeholders(body.get("cards"), negative=False)
    with state.transaction():
        updates: dict[str, Any] = {}
        if body.get("archived") is not None and bool(body["archived"]) != bool(doc.get("archived")):
            # api/updates-with-archived-directly: a document archived (or restored) by hand.
            updates.update(archived=bool(body["archived"]), archived_directly=bool(body["archived"]))
        if body.get("collection_position") is not None or "collection_position" in body:
            updates["collection_position"] = body.get("collection_position")
        if moving:
            updates["collection_id"] = body["collection_id"]
        if body.get("collection_position") is not None:
            collections.maybe_reconcile_collection_position(state, doc, {k: v for k, v in updates.items()
                                                                         if k in ("collection_id", "collection_position")})
        if body.get("name"):
            updates["name"] = body["name"]
        if body.get("document") is not None:
            ast = body["document"]
            target = {**doc, **updates}
            id_map = {**_clone_foreign_cards(state, user, target, ast), **_create_drafts(state, user, drafts, target)}
            updates["document"] = _remap_embeds(ast, id_map)
        doc.update(updates, updated_at=state.now())
        sync_cards(state, doc)
    return doc


def delete(state: State, user: Row, doc: Row) -> None:
    """`DELETE /api/document/:id`: only an archived document goes for good (its cards' document_id is a cascading
    FK: they go with it)."""
    if not collections.can_write(state, user, collections.row_or_root(state, doc.get("collection_id"))):
        raise errors.forbidden()
    if not doc.get("archived"):
        raise errors.ApiError(400, {"errors": {"archived": MUST_BE_ARCHIVED}})
    for card in state.table("card").where(document_id=doc["id"]):
        state.table("card").delete(card["id"])
        state.emit("card.deleted", card_id=card["id"])
    state.table("document").delete(doc["id"])


# ---------------------------------------------------------------- effects of other areas

@events.on("collection.archived")
def _archive_along(state: State, collection_ids: set[int]) -> None:
    """collection.clj `archive-collection!` trashes the documents in the collections along (not directly)."""
    collections.archive_along(collections.in_collections(state, "document", collection_ids))


@events.on("collection.unarchived")
def _restore_along(state: State, collection_ids: set[int]) -> None:
    collections.restore_along(collections.in_collections(state, "document", collection_ids))


@events.on("collection.deleting")
def _delete_along(state: State, collection_ids: set[int]) -> None:
    for doc in collections.in_collections(state, "document", collection_ids):
        state.table("document").delete(doc["id"])
