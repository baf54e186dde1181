"""The Library (Data Studio, Enterprise `library` feature, Metabase >= 0.59): its collections, what they may hold,
and tables published into its Data collections."""

from __future__ import annotations

from typing import Any

from .. import errors
from ..store import Row, State
from . import collections
from .library_rules import (
    FEATURE,
    LIBRARY,
    LIBRARY_DASHBOARDS,
    LIBRARY_DASHBOARDS_SINCE,
    LIBRARY_DATA,
    LIBRARY_METRICS,
    LIBRARY_TYPES,
    active,
    check_allowed_content,
)
from .versions import minor_version

INCLUDE_LIBRARY_SINCE = 63  # GET /api/collection/tree hides the Library unless include-library=true (versions.md)
__all__ = ["FEATURE", "LIBRARY", "LIBRARY_DASHBOARDS", "LIBRARY_DATA", "LIBRARY_METRICS", "LIBRARY_TYPES", "active",
           "check_allowed_content"]


def hidden_from_tree(state: State, coll: Row, q: dict[str, Any]) -> bool:
    """GET /api/collection/tree (collections_rest/api.clj `GET /tree`, `:include-library?`) and root/items leave the
    Library's collections out unless asked for, from 0.63 on."""
    return (coll.get("type") in LIBRARY_TYPES and minor_version(state) >= INCLUDE_LIBRARY_SINCE
            and not (q.get("include-library") or q.get("include_library")))


def library_collection(state: State) -> Row | None:
    return state.table("collection").first(type=LIBRARY)


def create_library(state: State) -> Row:
    """POST /api/ee/library: the Library with its Data and Metrics collections (collection.clj
    `create-library-collection!`), and from 0.65 its Dashboards (migrations/065/20261006_library_dashboards.yaml:
    "New Libraries create it with the other sections"); a second one is a 400 (library/api.clj `POST /`)."""
    if library_collection(state) is not None:
        raise errors.bad_request("Library already exists")
    library = collections.insert_typed(state, name="Library", type=LIBRARY, location="/")
    inside = collections.children_location(library)
    sections = (("Data", LIBRARY_DATA), ("Metrics", LIBRARY_METRICS)) + (
        (("Dashboards", LIBRARY_DASHBOARDS),) if minor_version(state) >= LIBRARY_DASHBOARDS_SINCE else ())
    for name, kind in sections:
        collections.insert_typed(state, name=name, type=kind, location=inside)
    return library


def _remap_neighbours(state: State, table_ids: set[int], upstream: bool) -> set[int]:
    """data_studio/api/table.clj `remapped-table-ids`: tables linked to `table_ids` by an external remapping (a
    field displayed as a field of another table), followed recursively (`traverse-graph`)."""
    fields = {f["id"]: f for f in state.table("metabase_field")}
    seen = set(table_ids)
    frontier = set(table_ids)
    while frontier:
        found = set()
        for dim in state.table("dimension").where(type="external"):
            source, target = fields.get(dim.get("field_id")), fields.get(dim.get("human_readable_field_id"))
            if source is None or target is None:
                continue
            frm, to = (source, target) if upstream else (target, source)
            if frm["table_id"] in frontier and to["table_id"] not in seen:
                found.add(to["table_id"])
        seen |= found
        frontier = found
    return seen


def selected_tables(state: State, body: dict[str, Any]) -> set[int]:
    """`table-selectors->filter`: database_ids OR table_ids OR "db:schema" schema_ids."""
    dbs, ids = set(body.get("database_ids") or ()), set(body.get("table_ids") or ())
    schemas = {tuple(s.split(":", 1)) for s in body.get("schema_ids") or () if ":" in s}
    return {t["id"] for t in state.table("metabase_table")
            if t["db_id"] in dbs or t["id"] in ids or (str(t["db_id"]), t.get("schema") or "") in schemas}


def publish(state: State, body: dict[str, Any]) -> Row:
    """POST /api/ee/data-studio/table/publish-tables: the selected tables and those they display through remappings
    go into a Library Data collection (`collection_id`, else the one library-data collection: 404 none, 409 two)."""
    if body.get("collection_id") is not None:
        target = state.table("collection").get(body["collection_id"])
        if target is None:
            raise errors.not_found()
        if target.get("type") != LIBRARY_DATA:
            raise errors.bad_request("Tables can only be published to Library/Data collections.")
    else:
        found = state.table("collection").where(type=LIBRARY_DATA)
        if not found:
            raise errors.not_found()
        if len(found) > 1:
            raise errors.ApiError(409, {"message": "Multiple library-data collections found."})
        target = found[0]
    for table_id in _remap_neighbours(state, selected_tables(state, body), upstream=True):
        state.table("metabase_table").existing(table_id).update(collection_id=target["id"], is_published=True,
                                                                updated_at=state.now())
    return target


def unpublish(state: State, body: dict[str, Any]) -> None:
    """POST /api/ee/data-studio/table/unpublish-tables: the selected tables and those that display them."""
    for table_id in _remap_neighbours(state, selected_tables(state, body), upstream=False):
        state.table("metabase_table").existing(table_id).update(collection_id=None, is_published=False,
                                                                updated_at=state.now())
