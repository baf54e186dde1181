"""What field answers look like: the field with its FK target, remappings (dimensions) and entity-name field."""

from __future__ import annotations

from ..store import Row, State


def field_out(field: Row) -> dict:
    return dict(field)



def with_target(state: State, field: Row) -> dict:
    """The field with its `target` (the FK's destination field), as /metadata and query_metadata show it."""
    target = state.table("metabase_field").get(field["fk_target_field_id"]) if field["fk_target_field_id"] else None
    return {**field_out(field), "target": field_out(target) if target else None}



def dimensions(state: State, field_id: int) -> list[dict]:
    return [dict(d) for d in state.table("dimension").where(field_id=field_id)]



def name_field(state: State, field: Row) -> dict | None:
    """For a PK, the entity-name field of its table (what Metabase shows instead of the id)."""
    if field["semantic_type"] != "type/PK":
        return None
    found = state.table("metabase_field").first(
        lambda f: f["semantic_type"] in ("type/Name", "type/Title"), table_id=field["table_id"], active=True)
    return field_out(found) if found else None



def query_field(state: State, field: Row) -> dict:
    """The field as table query_metadata returns it: target, dimensions and name_field hydrated."""
    return {**with_target(state, field), "dimensions": dimensions(state, field["id"]), "name_field": name_field(state, field)}
