"""Measures (named aggregations on a table, Metabase >= 0.59), keyed by entity_id, filed under their table."""

from __future__ import annotations

from typing import Any

from mbport.api import (DIMENSIONS_UNWRITABLE, FALSY, ExportContext, Requires, TableScoped, copy,
                        dimensions_doc, get_unless_missing, skip)


class Measures(Requires, TableScoped):
    """Like segments; an instance without the measures API (before 0.59: 404) simply has none."""

    name = "measures"
    since = (0, 59)  # /api/measure: Data Studio (versions.md, mb#70430); older releases answer 404
    endpoint = "/api/measure"
    fields = {
        **TableScoped.fields,
        # PUT /api/measure has no caveats, points_of_interest or show_in_getting_started
        **{k: copy(send=False) for k in ("caveats", "points_of_interest")},
        "show_in_getting_started": copy(default=FALSY, send=False),
        # 0.65: the dimensions explorations break the measure out by (curated names, a default, server-made ids)
        "dimensions": copy(unwritable=DIMENSIONS_UNWRITABLE),
        "dimension_mappings": skip("folded into `dimensions`: the column each one maps to (`field`)"),
        "result_column_name": skip("derived from the aggregation"),
    }

    def list(self, api, ctx: ExportContext) -> list[dict[str, Any]]:
        return get_unless_missing(api, self.endpoint) or []  # none before measures (404)

    def normalize_more(self, doc: dict[str, Any], raw: dict[str, Any], ctx: ExportContext) -> dict[str, Any]:
        dims = dimensions_doc(raw, ctx.walker)
        doc.pop("dimensions", None)
        return {**doc, "dimensions": dims} if dims else doc
