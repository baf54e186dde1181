"""Documents (0.57+): /api/document (documents/api/document.clj)."""

from __future__ import annotations

from ..app import NO_CONTENT, Ctx
from ..models import collections, documents
from ..models.versions import since
from ..router import route
from ..shapes.documents import detail, list_item

AVAILABLE = since(documents.DOCUMENTS_SINCE)  # an older release answers 404 before looking at the request


def _readable(ctx: Ctx, doc_id: int):
    doc = documents.document_or_404(ctx.state, doc_id)
    collections.check_access(ctx.state, ctx.user, doc.get("collection_id"), write=False)
    return doc


@route("GET", "/api/document", available=AVAILABLE)
def list_documents(ctx: Ctx):
    """Live documents in collections the caller can read, in an `items` envelope (no paging, no archived ones)."""
    rows = ctx.state.table("document").where(lambda d: not d.get("archived") and collections.can_read(
        ctx.state, ctx.user, collections.row_or_root(ctx.state, d.get("collection_id"))))
    return {"items": [list_item(ctx.state, ctx.user, d) for d in sorted(rows, key=lambda d: d["id"])]}


@route("POST", "/api/document", available=AVAILABLE)
def create_document(ctx: Ctx):
    doc = documents.create(ctx.state, ctx.user, ctx.body or {})
    return detail(ctx.state, ctx.user, doc)


@route("GET", "/api/document/{document-id}", available=AVAILABLE)
def get_document(ctx: Ctx, document_id: int):
    return detail(ctx.state, ctx.user, _readable(ctx, document_id))


@route("PUT", "/api/document/{document-id}", available=AVAILABLE)
def update_document(ctx: Ctx, document_id: int):
    doc = _readable(ctx, document_id)
    doc = documents.update(ctx.state, ctx.user, doc, ctx.body or {})
    return detail(ctx.state, ctx.user, doc)


@route("DELETE", "/api/document/{document-id}", available=AVAILABLE)
def delete_document(ctx: Ctx, document_id: int):
    doc = documents.document_or_404(ctx.state, document_id)
    documents.delete(ctx.state, ctx.user, doc)
    return NO_CONTENT
