"""What table answers look like: the table row, with its database where GET /api/table/{id} hydrates it."""

from __future__ import annotations

from ..store import Row, State
from . import databases


def table_out(table: Row) -> dict:
    return dict(table)



def table_with_db(state: State, user: Row | None, table: Row) -> dict:
    """GET /api/table/{id}: the table with its database (secrets redacted, as for the caller)."""
    db = state.table("metabase_database").get(table["db_id"])
    # the hydrated `db` of a table carries no router_database_id (recorded table.json)
    db_map = {k: v for k, v in databases.db_out(user, db).items() if k != "router_database_id"} if db else None
    return {**table_out(table), "db": db_map}



def segments_for(state: State, table_id: int) -> list[dict]:
    return [dict(s) for s in state.table("segment").where(lambda s: not s.get("archived"), table_id=table_id)]
