"""Documents (0.57+): ProseMirror bodies in a collection, keyed by entity_id; card embeds and smart links become refs."""

from __future__ import annotations

import builtins
from collections.abc import Callable
from typing import Any

from mbport.api import (ARCHIVED, CollectionCascade, DeferredRefs, ExportContext, Kind, Match, Requires,
                        StagedWrites, WriteRequest, common, copy, custom, get_unless_missing,
                        in_exported_collection, is_ref, lenient_walker, ref, ref_addresses, skip, skips)

DOCUMENTS_SINCE = (0, 57)
PROSE_MIRROR = "application/json+vnd.prose-mirror"
SHELL = {"type": "doc", "content": []}  # what a new document holds until its cards exist (the `content` stage)
CARD_EMBED, SMART_LINK = "cardEmbed", "smartLink"
# A smart link's `model` → the kind its `entityId` points at (rich_text_editing SmartLinkNode.tsx `useEntityData`;
# serdes rewrites card/dataset/dashboard/table, documents/models/document.clj `ast-model->db-model`). Links to
# indexed entities (model rows) stay as they are: those ids are rebuilt by every model index refresh.
SMART_LINK_KINDS = {
    "card": "cards", "dataset": "cards", "metric": "cards", "dashboard": "dashboards", "collection": "collections",
    "table": "tables", "database": "databases", "document": "documents", "action": "actions", "segment": "segments",
    "user": "users", "transform": "transforms",
}


def _positive_id(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def walk_ids(node: Any, fn: Callable[[str, Any], Any]) -> Any:
    """The AST with every id that names another object passed through `fn(kind, value)`: a live card embed's `id`
    (prose_mirror.clj `card-ids`; a static embed has a `stored_result_id` and no card) and a smart link's `entityId`."""
    if isinstance(node, list):
        return [walk_ids(x, fn) for x in node]
    if not isinstance(node, dict):
        return node
    out = {k: walk_ids(v, fn) if k == "content" else v for k, v in node.items()}
    attrs = node.get("attrs")
    if isinstance(attrs, dict):
        if node.get("type") == CARD_EMBED and (_positive_id(attrs.get("id")) or is_ref(attrs.get("id"))):
            out["attrs"] = {**attrs, "id": fn("cards", attrs["id"])}
        elif node.get("type") == SMART_LINK and attrs.get("model") in SMART_LINK_KINDS and (
                _positive_id(attrs.get("entityId")) or is_ref(attrs.get("entityId"))):
            out["attrs"] = {**attrs, "entityId": fn(SMART_LINK_KINDS[attrs["model"]], attrs["entityId"])}
    return out


def _stored_results(node: Any) -> list[Any]:
    """The `stored_result_id`s of static card embeds (stored_result rows are no REST object mbport can write)."""
    if isinstance(node, list):
        return [x for n in node for x in _stored_results(n)]
    if not isinstance(node, dict):
        return []
    attrs: dict[str, Any] = node["attrs"] if isinstance(node.get("attrs"), dict) else {}
    here = [attrs["stored_result_id"]] if node.get("type") == CARD_EMBED and attrs.get("stored_result_id") else []
    return here + _stored_results(node.get("content"))


def smart_link_refs(node: Any, kind: str | None = None) -> set[str]:
    """Addresses of the smart links in a doc's AST (of one kind, or all)."""
    found: set[str] = set()

    def collect(k: str, value: Any) -> Any:
        if is_ref(value) and (kind is None or k == kind):
            found.add(value["$ref"])
        return value

    def visit(n: Any) -> None:
        if isinstance(n, list):
            for x in n:
                visit(x)
        elif isinstance(n, dict):
            if n.get("type") == SMART_LINK:
                walk_ids(n, collect)
            visit(n.get("content"))

    visit(node)
    return found


class Documents(StagedWrites, DeferredRefs, Requires, CollectionCascade, Kind):
    """Documents, live and in the Trash.

    `list` reads `GET /api/document` (live ones, `{items}`), then the document items of the Trash and of archived
    collections (`GET /api/collection/:id/items?models=document`), each read with `GET /api/document/:id`.

    The cards a document shows are its own (`document_id`: Metabase copies any other card embedded in it on save),
    exported as cards with a `document` ref. Import writes a document in two stages: `main` creates it empty (POST
    /api/document), the cards kind then creates each of its cards through the document (POST /api/card cannot set
    `document_id`), and `content` writes the body with every card embed and smart link in target ids, with the
    archived flag last (archiving a document archives its cards: `sync-document-cards-collection!`).
    """

    name = "documents"
    endpoint = "/api/document"
    since = DOCUMENTS_SINCE
    stages = ("main", "content")
    after = ("collections",)
    fields = {
        **common("created_at", "updated_at", "creator_id", "creator", "can_write", "can_delete", "can_restore",
                 "is_remote_synced"),
        "id": skip("instance-specific id; the key is entity_id"),
        "entity_id": copy(), "name": copy(),
        "collection_id": ref("collections", as_="collection", container=True),
        "collection_position": copy(default=None),
        **ARCHIVED,
        "content_type": copy(default=PROSE_MIRROR, send=False),
        # Links to other documents: two documents may link to each other; the second pass fills them in.
        "document": custom("the ProseMirror body, card embeds and smart links as refs",
                           late=lambda body: smart_link_refs(body, "documents")),
        **skips("usage statistic", "view_count", "last_viewed_at"),
        "public_uuid": skip("public link of this instance; re-share on the target"),
        "made_public_by_id": skip("who shared it publicly; not content"),
        "is_placeholder": skip("server bookkeeping: an auto-created summary not yet edited"),
        "exploration_id": skip("documents of an exploration are not listed (the exploration's own)"),
    }
    match = Match("name", within="collection")

    def list(self, api, ctx: ExportContext) -> builtins.list[dict[str, Any]]:
        if api.version < DOCUMENTS_SINCE:
            return []
        seen = {raw["id"]: raw for raw in api.get(self.endpoint)["items"]}
        for coll_id, params in self._archived_listings(api, ctx):
            for item in api.get(f"/api/collection/{coll_id}/items", params=params).get("data") or []:
                if item.get("model") == "document" and item["id"] not in seen:
                    seen[item["id"]] = api.get(f"{self.endpoint}/{item['id']}")
        return [seen[i] for i in sorted(seen) if in_exported_collection(seen[i], ctx, self.name)]

    @staticmethod
    def _archived_listings(api, ctx: ExportContext) -> builtins.list[tuple[Any, dict[str, Any]]]:
        """Where archived documents are listed: the Trash (archived on their own) and each archived collection."""
        out: builtins.list[tuple[Any, dict[str, Any]]] = []
        trash = get_unless_missing(api, "/api/collection/trash")
        if trash is not None:
            out.append((trash["id"], {"models": "document"}))
        for coll in ctx.raw.get("collections") or []:
            if coll.get("archived") and isinstance(coll.get("id"), int) and not coll.get("namespace"):  # no snippet folder
                out.append((coll["id"], {"models": "document", "archived": "true"}))
        return out

    def normalize_more(self, doc, raw, ctx: ExportContext):
        if raw.get("document") is not None:
            doc["document"] = walk_ids(raw["document"], ctx.ref)
            for stored in _stored_results(raw["document"]):
                ctx.warnings.append(f"{ctx.current}: a static card embed shows stored result {stored}, a snapshot "
                                    "only this instance holds; another instance will show it as missing")
        return doc

    # ---- import ----
    def stage_refs(self, doc: dict[str, Any], stage: str) -> set[str]:
        """`main` (the empty document) needs its collection only; `content` every ref but the deferred ones, so
        its own cards exist by then."""
        if stage == "main":
            return ref_addresses(doc.get("collection"))
        return self.refs(doc) - self.deferred_refs(doc)

    def payload(self, doc, resolve, stage):
        body = self.spec.payload(doc, resolve)
        if stage == "main":
            body.pop("archived", None)  # archived last, with the body (its cards must exist first)
            body["document"] = SHELL
            return body
        walker = lenient_walker(resolve, self.deferred_refs(doc))
        body["document"] = walk_ids(doc.get("document") or SHELL, lambda kind, value: walker.id(kind, value))
        return body

    def update(self, req: WriteRequest) -> dict[str, Any]:
        if req.stage == "main":  # an existing document: everything goes in one write, in the `content` stage
            return req.target.find(self.name, req.target_id) or {"id": req.target_id}
        return req.api.put(f"{self.endpoint}/{req.target_id}", json=req.payload)
