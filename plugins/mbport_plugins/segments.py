"""Segments (named filters on a table), keyed by entity_id, filed under their table (shared base with measures)."""

from __future__ import annotations

from typing import Any

from mbport.kind import ExportContext, Kind, PathHint
from mbport.refs import split_address
from mbport.tree import slugify

from .cards import canonical_query

NO_SCHEMA = "(no schema)"


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
        doc["definition"] = ctx.walker.query(canonical_query(raw.get("definition") or {}))
        if not doc.get("show_in_getting_started"):  # a legacy flag, false unless someone set it
            doc.pop("show_in_getting_started", None)
        return doc

    def path(self, doc, folders) -> PathHint:
        return PathHint(table_folder(doc.get("table")), doc["name"])


class Segments(TableScoped):
    name = "segments"
    endpoint = "/api/segment"
    description = "Segments: named filters on a table (unarchived ones; the API cannot list archived segments)."
    aliases = ("segment",)
    drop = dict(TableScoped.common_drop)
