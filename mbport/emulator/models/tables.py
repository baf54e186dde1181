"""Tables: the Table model's rules (field order and positions)."""

from __future__ import annotations

from .. import errors
from ..store import Row, State


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


