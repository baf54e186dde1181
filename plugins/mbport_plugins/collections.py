"""Collections, personal collections (keyed by owner) and snippet folders; they give the tree its folders."""

from __future__ import annotations

from typing import Any

from mbport.kind import ExportContext, Kind, PathContext, PathHint
from mbport.tree import slugify

PERSONAL_FOLDER = "@personal"
SNIPPETS_FOLDER = "@snippets"


class Collections(Kind):
    name = "collections"
    endpoint = "/api/collection"
    description = "Collections (normal, personal and snippet folders), nested by parent."
    provides_folders = True
    aliases = ("collection",)
    container_field = "parent"
    keep = ("entity_id", "name", "description", "archived", "authority_level", "namespace", "type")
    fks = {"personal_owner_id": "users"}
    drop = {
        "id": "instance-specific id; the key is entity_id",
        "location": "becomes the `parent` ref",
        "parent_id": "becomes the `parent` ref",
        "effective_location": "derived from location for the current user",
        "effective_ancestors": "hydrated copies of the ancestors",
        "slug": "derived from the name",
        "can_write": "the reading user's permission",
        "can_delete": "the reading user's permission",
        "can_restore": "the reading user's permission",
        "is_personal": "derived from personal_owner_id",
        "is_remote_synced": "EE remote-sync bookkeeping",
        "archived_directly": "server bookkeeping of how it was archived",
        "archive_operation_id": "server bookkeeping of how it was archived",
        "created_at": "server timestamp",
        "updated_at": "server timestamp",
        "is_sample": "sample content flag set by Metabase",
        "here": "tree listing hydration",
        "below": "tree listing hydration",
        "children": "tree listing hydration",
        "entity_id_translated": "hydration",
        "collection_preview": "display preference hydration",
    }

    def list(self, api, ctx: ExportContext) -> list[dict[str, Any]]:
        include_personal = ctx.options.get("include_personal", False)
        seen: dict[Any, dict[str, Any]] = {}
        for params in ({}, {"archived": "true"}, {"namespace": "snippets"}, {"namespace": "snippets", "archived": "true"}):
            for raw in api.get(self.endpoint, params=params):
                if not isinstance(raw.get("id"), int) or raw.get("type") in ("trash", "instance-analytics"):
                    continue  # the root and Trash pseudo-collections, Metabase's own analytics
                seen.setdefault(raw["id"], raw)
        rows = list(seen.values())
        if not include_personal:
            personal = {r["id"] for r in rows if r.get("personal_owner_id")}
            rows = [r for r in rows if r["id"] not in personal and not (set(_ancestors(r)) & personal)]
        return sorted(rows, key=lambda r: r["id"])

    def normalize_more(self, doc, raw, ctx):
        ancestors = _ancestors(raw)
        doc["parent"] = ctx.ref("collections", ancestors[-1]) if ancestors else None
        if raw.get("personal_owner_id"):
            doc["personal_owner"] = doc.pop("personal_owner_id")
        else:
            doc.pop("personal_owner_id", None)
        for default_null in ("authority_level", "namespace", "type", "description"):
            if doc.get(default_null) is None:
                doc.pop(default_null, None)
        return doc

    def path(self, doc, folders: PathContext) -> PathHint:
        if doc.get("parent"):
            return PathHint(folders.folder_of(doc["parent"]), doc["name"])
        if doc.get("personal_owner"):
            owner = doc["personal_owner"]["$ref"].split("/", 1)[1]
            return PathHint((PERSONAL_FOLDER,), owner)
        if doc.get("namespace") == "snippets":
            return PathHint((SNIPPETS_FOLDER,), doc["name"])
        return PathHint((), doc["name"])


def _ancestors(raw: dict[str, Any]) -> list[int]:
    location = raw.get("location") or "/"
    return [int(p) for p in location.strip("/").split("/") if p]


def collection_folder(doc: dict[str, Any], folders: PathContext) -> tuple[str, ...]:
    """Where content of a collection goes (root content at the top); used by cards, dashboards, ..."""
    return folders.folder_of(doc.get("collection"))


__all__ = ["Collections", "collection_folder", "slugify"]
