"""Tables: the Table model's rules (field order and positions)."""

from __future__ import annotations

from .. import errors
from ..store import Row, State
from ..sync import NEW_TABLE_COLUMNS
from .versions import LIBRARY_SINCE, minor_version

# Data Studio's table columns (0.59+; warehouse_schema/models/table.clj: `data_layer` defaults to internal on insert).
DATA_STUDIO_COLUMNS = {"data_layer": "internal", "data_source": None, "owner_email": None, "owner_user_id": None,
                       "is_published": False, "collection_id": None}


def init_state(state: State) -> None:
    """Tables a sync makes carry the columns of the emulated release."""
    state.extra[NEW_TABLE_COLUMNS] = DATA_STUDIO_COLUMNS if minor_version(state) >= LIBRARY_SINCE else {}


def get_table_or_404(state: State, table_id: int) -> Row:
    table = state.table("metabase_table").get(table_id)
    if table is None:
        raise errors.not_found()
    return table


def _field_sort_key(order: str):
    if order == "alphabetical":
        return lambda f: (f["name"].lower(), f["id"])
    if order == "custom":
        return lambda f: (f["custom_position"], f["id"])
    if order == "smart":
        rank = {"type/PK": 0, "type/Name": 1, "type/Title": 1}
        return lambda f: (rank.get(f["semantic_type"], 2), f["database_position"], f["id"])
    return lambda f: (f["database_position"], f["id"])


def table_fields(state: State, table: Row, *, include_inactive: bool = False) -> list[Row]:
    """A table's top-level fields in display order (their `position`), retired ones left out."""
    rows = state.table("metabase_field").where(
        lambda f: (include_inactive or f["active"]) and f["visibility_type"] != "retired", table_id=table["id"])
    return sorted(rows, key=lambda f: (f["position"], f["id"]))


def update_positions(state: State, table: Row) -> None:
    """Renumber `position` after the table's field_order changes, as Metabase does."""
    rows = state.table("metabase_field").where(table_id=table["id"])
    for i, f in enumerate(sorted(rows, key=_field_sort_key(table["field_order"]))):
        f["position"] = i




# warehouse_schema/models/table.clj: the values `data_layer`, `data_source` and `data_authority` may take.
DATA_LAYERS = ("final", "internal", "hidden")
DATA_SOURCES = ("unknown", "ingested", "metabase-transform", "transform", "source-data", "upload")
DATA_AUTHORITIES = ("unconfigured", "authoritative", "computed", "ingested")
_HIDDEN_VISIBILITY = ("hidden", "retired", "sensitive", "technical", "cruft")


def data_studio_changes(table: Row, changes: dict) -> dict:
    """A table PUT's changes as Metabase's Table hooks make them (warehouse_schema/models/table.clj
    `define-before-update`, `sync-visibility-fields`): `visibility_type` and `data_layer` follow each other (both
    changing: 400), `data_authority` never goes back to unconfigured, `data_source` never to or from
    metabase-transform; an unknown enum value is a 400 (`transform-validator`)."""
    for key, allowed in (("data_layer", DATA_LAYERS), ("data_source", DATA_SOURCES),
                         ("data_authority", DATA_AUTHORITIES)):
        value = changes.get(key)
        if value is not None and value not in allowed:
            raise errors.bad_request(f"Illegal value for {key}: {value}")
    if table.get("data_authority", "unconfigured") != "unconfigured" and changes.get("data_authority") == "unconfigured":
        raise errors.bad_request("Cannot set data_authority back to unconfigured once it has been configured")
    if "data_source" in changes and (table.get("data_source") == "metabase-transform") != (
            changes["data_source"] == "metabase-transform"):
        raise errors.bad_request("Cannot change data_source from metabase-transform"
                                 if table.get("data_source") == "metabase-transform"
                                 else "Cannot set data_source to metabase-transform")
    v1 = "visibility_type" in changes and changes["visibility_type"] != table.get("visibility_type")
    v2 = "data_layer" in changes and changes["data_layer"] != table.get("data_layer")
    if v1 and v2:
        raise errors.bad_request("Cannot update both visibility_type and data_layer")
    if v1:
        return {**changes, "data_layer": "hidden" if changes["visibility_type"] in _HIDDEN_VISIBILITY else "internal"}
    if v2:
        return {**changes, "visibility_type": "hidden" if changes["data_layer"] == "hidden" else None}
    return changes
