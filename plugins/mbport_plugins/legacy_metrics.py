"""Legacy metrics (named aggregations on a table, Metabase <= 0.50), keyed by entity_id, filed under their table."""

from __future__ import annotations

from typing import Any

from mbport.api import ExportContext, Requires, TableScoped, copy, get_unless_missing

LAST_RELEASE = (0, 50)  # /api/legacy-metric: 0.50 renamed /api/metric (metabase#38981), 0.51 removed it


class LegacyMetrics(Requires, TableScoped):
    """Like segments. Only 0.50 has them: a newer target has no API for them (plan names each one), and an older
    instance's `["metric", id]` on a table refers to them. `mbport export --legacy-metrics-as-cards` writes them
    as metric cards instead (review them, then import into >= 0.51)."""

    name = "legacy-metrics"
    until = LAST_RELEASE
    endpoint = "/api/legacy-metric"
    fields = {**TableScoped.fields, "how_is_this_calculated": copy(post=False)}

    def list(self, api, ctx: ExportContext) -> list[dict[str, Any]]:
        if api.version >= (0, 51) or ctx.options.get("legacy_metrics_as_cards"):
            return []  # none to read (>= 0.51), or exported as metric cards by the cards kind
        return get_unless_missing(api, self.endpoint) or []
