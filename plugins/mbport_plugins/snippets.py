"""Native query snippets, in their snippet folder (a collection in the `snippets` namespace)."""

from __future__ import annotations

from typing import Any

from mbport.api import (
    SNIPPETS_FOLDER,
    ExportContext,
    Kind,
    PathContext,
    PathHint,
    archive_order,
    canonical_query,
    omit_defaults,
)


class Snippets(Kind):
    """Reusable SQL fragments (`{{snippet: Name}}` in native queries).

    `list` (once per export) reads `GET /api/native-query-snippet` and `?archived=true` (full rows, no
    fetch). Snippet names are unique instance-wide, but the key is the entity_id like other content.
    """

    name = "snippets"
    endpoint = "/api/native-query-snippet"
    description = "Native query snippets, in their snippet folder."
    aliases = ("snippet",)
    colour = "#ffd6a5"
    phrases = {"content": "SQL"}
    container_field = "collection"
    keep = ("entity_id", "name", "content", "description", "archived")
    drop = {
        "id": "instance-specific id; the key is entity_id",
        "collection_id": "becomes the `collection` ref (a snippet folder)",
        "template_tags": "walked into the doc's `template_tags` (newest releases; snippets may hold tags)",
        "creator_id": "who created it; not content",
        "creator": "hydrated creator",
        "created_at": "server timestamp",
        "updated_at": "server timestamp",
        "is_remote_synced": "EE remote-sync bookkeeping",
        "entity_id_translated": "hydration",
    }
    defaults = {"description": None, "template_tags": {}}

    def list(self, api, ctx: ExportContext) -> list[dict[str, Any]]:
        seen: dict[Any, dict[str, Any]] = {}
        for params in ({}, {"archived": "true"}):
            for raw in api.get(self.endpoint, params=params):
                seen.setdefault(raw["id"], raw)
        return sorted(seen.values(), key=lambda r: r["id"])

    def normalize_more(self, doc: dict[str, Any], raw: dict[str, Any], ctx: ExportContext) -> dict[str, Any]:
        doc["collection"] = ctx.ref("collections", raw.get("collection_id"))
        if isinstance(raw.get("content"), str):
            doc["content"] = ctx.walker.sql(raw["content"])  # `{{#12-name}}` card tags, as in native queries
        if raw.get("template_tags") is not None:
            # Same shape as a native query's tags (a map keyed by name): card and snippet ids hide there too.
            doc["template_tags"] = ctx.walker.template_tags(canonical_query({"template-tags": raw["template_tags"]})["template-tags"])
        return omit_defaults(doc, self.defaults)

    def path(self, doc: dict[str, Any], folders: PathContext) -> PathHint:
        folder = folders.folder_of(doc.get("collection"))
        # Snippet folders sit under `@snippets` in the collections tree; in the snippets tree that prefix says nothing.
        if folder[:1] == (SNIPPETS_FOLDER,):
            folder = folder[1:]
        return PathHint(folder, doc["name"])

    # ---- import: by entity_id, then by name (unique instance-wide, archived snippets included) ----
    def write_order(self, doc, docs):
        """Written after the archive of an archived collection it sits in: that archive sets `archived` on every
        snippet in it (collection.clj `archive-collection!`), so the doc's own flag goes on last."""
        return archive_order(self.doc_address(doc), self.stages, docs, doc.get("collection"), cascades_onto=False)

    def match_key(self, doc: dict[str, Any], resolve) -> tuple | None:
        return (doc["name"],)

    def raw_match_key(self, raw: dict[str, Any]) -> tuple | None:
        return (raw.get("name"),)

    def payload(self, doc: dict[str, Any], resolve, stage: str) -> dict[str, Any]:
        """The PUT body; `{{#[cards/...]-name}}` card tags in the content get the target's card ids.

        `template_tags` is not sent: neither POST nor PUT takes it (the server derives it from the content).
        """
        content = doc.get("content") or ""
        return {"name": doc["name"], "content": resolve.walker().sql(content), "description": doc.get("description"),
                "collection_id": resolve(doc.get("collection")), "archived": bool(doc.get("archived"))}

    def create(self, api, payload: dict[str, Any], doc: dict[str, Any], target) -> dict[str, Any]:
        """POST takes no `archived`: an archived snippet is created, then archived with a PUT."""
        raw = api.post(self.endpoint, json={k: v for k, v in payload.items() if k != "archived"})
        if payload["archived"]:
            raw = api.put(f"{self.endpoint}/{raw['id']}", json={"archived": True})
        return raw
