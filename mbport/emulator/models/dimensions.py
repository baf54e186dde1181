"""Persisted dimensions of measures and metric cards (Metabase 0.65): what explorations break a measure or a metric
out by, with display names and a default users curate, identified by random UUIDs the server makes.

lib_metric/dimension.cljc: on the first read (`GET /api/measure/:id`, `GET /api/metric/:id`: metrics/core.clj
`sync-dimensions!`, `seed-metric-dimensions!`) the entity's own table's columns are seeded as dimensions, each with a
fresh `random-uuid` id and a mapping to its column, one of them the default (`pick-default-dimension`); later reads
keep them (`reconcile-existing-dimensions`). No POST or PUT of a measure or a card accepts them (measures/api.clj
`POST /`, `PUT /:id` bodies), so another instance seeds its own ids.
"""

from __future__ import annotations

from typing import Any

from ..store import Row, State, new_uuid
from .tables import table_fields
from .versions import DIMENSIONS_SINCE, minor_version

_HIDDEN = ("hidden", "sensitive", "retired")


def enabled(state: State) -> bool:
    return minor_version(state) >= DIMENSIONS_SINCE


def _source_table(state: State, query: Any) -> int | None:
    """The table a measure's or a metric's MBQL (4 or 5) query reads."""
    if not isinstance(query, dict):
        return None
    if isinstance(query.get("stages"), list) and query["stages"]:
        return query["stages"][0].get("source-table")
    return (query.get("query") or {}).get("source-table")


def seed(state: State, row: Row, query: Any) -> None:
    """Give `row` (a measure, a metric card) its dimensions on its first read; a no-op once it has them."""
    if not enabled(state) or row.get("dimensions") is not None:
        return
    table = state.table("metabase_table").get(_source_table(state, query) or -1)
    if table is None:
        return
    dims, mappings = [], []
    for field in table_fields(state, table):
        if field.get("visibility_type") in _HIDDEN:
            continue
        dim_id = new_uuid()
        dims.append({
            "id": dim_id, "name": field["name"], "display-name": field.get("display_name") or field["name"],
            "effective-type": field.get("effective_type") or field.get("base_type"),
            "semantic-type": field.get("semantic_type"), "status": "status/active",
            "group": {"id": f"table-{table['id']}", "type": "main", "display-name": table.get("display_name")},
            "sources": [{"type": "field", "field-id": field["id"]}],
        })
        mappings.append({"type": "table", "table-id": table["id"], "dimension-id": dim_id,
                         "target": ["field", {"base-type": field.get("base_type")}, field["id"]]})
    default = next((d for d in dims if str(d.get("effective-type") or "").startswith(("type/Date", "type/Temporal"))),
                   dims[0] if dims else None)
    if default is not None:
        default["default"] = True
    row.update(dimensions=dims, dimension_mappings=mappings)
