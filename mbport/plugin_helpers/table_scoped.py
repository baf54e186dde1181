"""Segments and measures share one base: a named query fragment on one table, listed unarchived only."""

from __future__ import annotations

from typing import Any

from ..capabilities import DescribesChanges, FetchesUnlisted
from ..client import ApiError, MetabaseClient
from ..hooks import WriteRequest
from ..kind import Kind, PathContext, PathHint
from ..spec import FALSY, Match, common, copy, flag, ref, skip, walk
from .folders import table_folder

# `PUT /api/segment/:id` and `/api/measure/:id` require one; it shows in the object's revision history.
REVISION_MESSAGE = "mbport import"


class TableScoped(FetchesUnlisted, DescribesChanges, Kind):
    """Shared by segments and measures: a named query fragment on one table, listed unarchived only.

    `list` is the endpoint's plain array: Metabase lists only unarchived segments and measures and has no
    `archived` filter; an archived one that something exported still uses (a card's filter) is fetched by
    its id (`fetch_unlisted`), an archived one nothing uses is not exported.
    `definition` is walked for field, table, segment and measure ids; `path` files the doc under its table.

    Import: matched by entity_id, then (table, name). `create` POSTs name, table, definition and description,
    then PUTs the rest (archived, caveats ...); every PUT carries the required `revision_message`.
    """

    after = ("tables",)
    after_listing = ("tables",)  # listing them needs no table read first; normalizing needs their ids and names
    fields = {
        **common("created_at", "updated_at", "can_write", "is_remote_synced", "dependency_analysis_version"),
        "id": skip("instance-specific id; the key is entity_id"),
        "entity_id": copy(), "name": copy(), "description": copy(),
        # Only PUT writes these (POST takes name, table, definition and description): create PUTs them after.
        "archived": copy(send=flag, post=False),
        "caveats": copy(post=False), "points_of_interest": copy(post=False),
        "show_in_getting_started": copy(default=FALSY, send=flag, post=False),  # a legacy flag, false unless set
        "table_id": ref("tables", as_="table", put=False),  # fixed once created (PUT has no table_id)
        "definition": walk("query"),
        "creator_id": skip("audit"), "creator": skip("hydrated user"),
        "definition_description": skip("server-rendered text of the definition"),
        "table": skip("hydrated copy of the table"),
    }
    match = Match("name", within="table")

    def fetch_unlisted(self, api: MetabaseClient, ident: Any) -> dict[str, Any] | None:
        try:
            return api.get(f"{self.endpoint}/{ident}")
        except ApiError as exc:
            if exc.status == 404:
                return None  # deleted for good: the ref stays dangling, with its warning
            raise

    def path(self, doc: dict[str, Any], folders: PathContext) -> PathHint:
        return PathHint(table_folder(doc.get("table")), doc["name"])

    # ---- import: by entity_id, then (table, name); POST, then PUT (with a revision message) for the rest ----
    def update(self, req: WriteRequest) -> dict[str, Any]:
        return super().update(req.but(payload={**req.payload, "revision_message": REVISION_MESSAGE}))

    def archive(self, api: MetabaseClient, target_id: Any) -> None:
        api.put(f"{self.endpoint}/{target_id}", json={"archived": True, "revision_message": REVISION_MESSAGE})

    def describe_change(self, field: str, old: Any, new: Any, names: Any) -> list[str] | None:
        """Called by `mbport diff` per changed field: the definition reads like a query's changes."""
        from ..diff import describe_query

        if field == "definition":
            return describe_query(old, new, names)
        return super().describe_change(field, old, new, names)
