"""Segments and measures share one base: a named query fragment on one table, listed unarchived only."""

from __future__ import annotations

from typing import Any, ClassVar

from ..client import ApiError
from ..kind import ExportContext, Kind, PathHint
from ..kindutil import COMMON_DROP, canonical_query
from .folders import table_folder

# `PUT /api/segment/:id` and `/api/measure/:id` require one; it shows in the object's revision history.
REVISION_MESSAGE = "mbport import"


class TableScoped(Kind):
    """Shared by segments and measures: a named query fragment on one table, listed unarchived only.

    `list` is the endpoint's plain array: Metabase lists only unarchived segments and measures and has no
    `archived` filter; an archived one that something exported still uses (a card's filter) is fetched by
    its id (`fetch_unlisted`), an archived one nothing uses is not exported.
    `normalize` turns `table_id` into a tables ref and walks `definition` for field, table, segment and
    measure ids; `path` files the doc under its table.

    Import: matched by entity_id, then (table, name). `create` POSTs name, table, definition and description,
    then PUTs the rest (archived, caveats ...); every PUT carries the required `revision_message`.
    """

    key_fields = ("entity_id",)
    colour = "#a2d2ff"
    phrases = {"definition": "definition", "table": "table"}
    after = ("tables",)
    keep = ("entity_id", "name", "description", "archived", "caveats", "points_of_interest", "show_in_getting_started")
    common_drop = {
        **COMMON_DROP,
        "id": "instance-specific id; the key is entity_id",
        "table_id": "becomes the `table` ref",
        "definition": "kept with ids walked into refs",
        "creator_id": "audit", "creator": "hydrated user",
        "definition_description": "server-rendered text of the definition",
        "table": "hydrated copy of the table",
        "is_remote_synced": "EE remote-sync bookkeeping",
        "dependency_analysis_version": "server bookkeeping",
    }

    def fetch_unlisted(self, api, ident):
        try:
            return api.get(f"{self.endpoint}/{ident}")
        except ApiError as exc:
            if exc.status == 404:
                return None  # deleted for good: the ref stays dangling, with its warning
            raise

    def normalize_more(self, doc, raw, ctx: ExportContext):
        doc["table"] = ctx.ref("tables", raw.get("table_id"))
        doc["definition"] = ctx.walker.query(canonical_query(raw.get("definition") or {}))
        if not doc.get("show_in_getting_started"):  # a legacy flag, false unless someone set it
            doc.pop("show_in_getting_started", None)
        return doc

    def path(self, doc, folders) -> PathHint:
        return PathHint(table_folder(doc.get("table")), doc["name"])

    # ---- import: by entity_id, then (table, name); POST, then PUT (with a revision message) for the rest ----
    # Fields only `PUT` writes (POST takes name, table, definition and description); measures have fewer.
    put_only: ClassVar[tuple[str, ...]] = ("archived", "caveats", "points_of_interest", "show_in_getting_started")

    def match_key(self, doc, resolve):
        return (resolve(doc["table"]), doc["name"])

    def raw_match_key(self, raw):
        return (raw.get("table_id"), raw["name"])

    def payload(self, doc, resolve, stage):
        body = {"name": doc["name"], "table_id": resolve(doc["table"]), "description": doc.get("description"),
                "definition": resolve.walker().query(doc.get("definition") or {})}
        for key in self.put_only:
            body[key] = bool(doc.get(key)) if key in ("archived", "show_in_getting_started") else doc.get(key)
        return body

    def create(self, api, payload, doc, target):
        raw = api.post(self.endpoint, json={k: payload[k] for k in ("name", "table_id", "description", "definition")})
        rest = {k: payload[k] for k in self.put_only if payload.get(k)}
        if rest:
            raw = api.put(f"{self.endpoint}/{raw['id']}", json={**rest, "revision_message": REVISION_MESSAGE})
        return raw

    def update(self, api, target_id, payload, doc, stage, target):
        # The table is fixed once created (PUT has no table_id); everything else is rewritten.
        body = {k: v for k, v in payload.items() if k != "table_id"}
        return api.put(f"{self.endpoint}/{target_id}", json={**body, "revision_message": REVISION_MESSAGE})

    def archive(self, api, target_id):
        api.put(f"{self.endpoint}/{target_id}", json={"archived": True, "revision_message": REVISION_MESSAGE})

    def describe_change(self, field: str, old: Any, new: Any, names: Any) -> list[str] | None:
        """Called by `mbport diff` per changed field: the definition reads like a query's changes."""
        from ..diff import describe_query

        if field == "definition":
            return describe_query(old, new, names)
        return super().describe_change(field, old, new, names)
