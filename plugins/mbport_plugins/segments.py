"""Segments (named filters on a table), keyed by entity_id, filed under their table; also the query canonicalizer."""

from __future__ import annotations

from typing import Any

from mbport.kind import ExportContext, Kind, PathHint
from mbport.refs import split_address
from mbport.tree import slugify

# Regenerated on every save (or added by the server's converters): never content (versions.md §1).
QUERY_NOISE = frozenset({"lib/uuid", "lib.convert/converted?"})
NO_SCHEMA = "(no schema)"


def canonical_query(node: Any) -> Any:
    """A query in the tree's canonical form: the server's dialect, without `lib/uuid`, converter markers and
    MBQL 4 `*-idents`, with native `template-tags` as a map keyed by name (0.63 returns a list)."""
    if isinstance(node, list):
        return [canonical_query(x) for x in node]
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key in QUERY_NOISE or (isinstance(key, str) and key.endswith("-idents")):
            continue
        if key == "template-tags" and isinstance(value, list):
            value = {t["name"]: t for t in value if isinstance(t, dict) and isinstance(t.get("name"), str)}
        out[key] = canonical_query(value)
    return out


def table_folder(table_ref: Any) -> tuple[str, ...]:
    """`<db>/<schema>/<table>` slugs from a tables ref, the way the tables kind lays out its own files."""
    if isinstance(table_ref, dict) and "$ref" in table_ref:
        _, parts = split_address(table_ref["$ref"])
        if len(parts) == 3:
            db, schema, table = parts
            return slugify(db), slugify(schema or NO_SCHEMA), slugify(table)
    return ()


class TableScoped(Kind):
    """Shared by segments and measures: a named query fragment on one table, listed unarchived only.

    `list` is the endpoint's plain array: Metabase lists only unarchived segments and measures and has no
    `archived` filter, so archived ones cannot be exported (they are reachable only by an id nobody knows).
    `normalize` turns `table_id` into a tables ref and walks `definition` for field, table, segment and
    measure ids; `path` files the doc under its table.
    """

    key_fields = ("entity_id",)
    after = ("tables",)
    keep = ("entity_id", "name", "description", "archived", "caveats", "points_of_interest", "show_in_getting_started")
    common_drop = {
        "id": "instance-specific id; the key is entity_id",
        "table_id": "becomes the `table` ref",
        "definition": "kept with ids walked into refs",
        "creator_id": "audit", "creator": "hydrated user",
        "created_at": "server timestamp", "updated_at": "server timestamp",
        "definition_description": "server-rendered text of the definition",
        "table": "hydrated copy of the table",
        "is_remote_synced": "EE remote-sync bookkeeping",
        "dependency_analysis_version": "server bookkeeping",
        "can_write": "the reading user's permission",
    }

    def normalize_more(self, doc, raw, ctx: ExportContext):
        doc["table"] = ctx.ref("tables", raw.get("table_id"))
        doc["definition"] = canonical_query(ctx.walker.query(raw.get("definition") or {}))
        for optional in ("description", "caveats", "points_of_interest", "show_in_getting_started"):
            if doc.get(optional) is None:
                doc.pop(optional, None)
        return doc

    def path(self, doc, folders) -> PathHint:
        return PathHint(table_folder(doc.get("table")), doc["name"])


class Segments(TableScoped):
    name = "segments"
    endpoint = "/api/segment"
    description = "Segments: named filters on a table (unarchived ones; the API cannot list archived segments)."
    aliases = ("segment",)
    drop = dict(TableScoped.common_drop)
