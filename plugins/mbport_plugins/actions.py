"""Actions (query, implicit and http actions on model cards), keyed by entity_id."""

from __future__ import annotations

from typing import Any

from mbport.kind import ExportContext, Kind, PathHint

from .cards import canonical_query


class Actions(Kind):
    """Actions of every readable, unarchived model.

    `list` is `GET /api/action`, which returns only unarchived actions (and `GET /api/action/:id` 404s for an
    archived one), so archived actions cannot be exported; actions of models the export leaves out are
    skipped. `normalize` turns `model_id` into a cards ref,
    keeps `database` only for query actions (implicit ones take their model's), walks the query, parameters
    and settings, and drops public sharing.
    """

    name = "actions"
    endpoint = "/api/action"
    description = "Actions on models (unarchived ones; the API cannot list archived actions)."
    aliases = ("action",)
    after = ("cards",)
    keep = ("entity_id", "name", "description", "type", "kind", "archived", "template", "response_handle",
            "error_handle")
    drop = {
        "id": "instance-specific id; the key is entity_id",
        "model_id": "becomes the `model` ref",
        "database_id": "becomes the `database` ref (query actions; implicit ones use their model's database)",
        "dataset_query": "kept with ids walked into refs",
        "parameters": "kept with ids walked into refs",
        "parameter_mappings": "kept with ids walked into refs",
        "visualization_settings": "kept with ids walked into refs",
        "public_uuid": "public sharing is per instance and never exported",
        "made_public_by_id": "public sharing is per instance and never exported",
        "creator_id": "audit", "creator": "hydrated user",
        "created_at": "server timestamp", "updated_at": "server timestamp",
        "is_remote_synced": "EE remote-sync bookkeeping",
        "can_write": "the reading user's permission",
        "enable_embedding": "embedding is per instance",
    }

    def list(self, api, ctx: ExportContext) -> list[dict[str, Any]]:
        rows = api.get(self.endpoint)
        cards = ctx.raw.get("cards")
        if cards is not None:  # an action goes with its model: one on a model left out (personal) stays out
            exported = {c["id"] for c in cards}
            rows = [r for r in rows if r.get("model_id") in exported]
        return sorted(rows, key=lambda r: r["id"])

    def normalize_more(self, doc, raw, ctx: ExportContext):
        walker = ctx.walker
        doc["model"] = ctx.ref("cards", raw.get("model_id"))
        if raw.get("type") == "query":
            doc["database"] = ctx.ref("databases", raw.get("database_id"))
            doc["dataset_query"] = walker.query(canonical_query(raw.get("dataset_query") or {}))
        if raw.get("parameters"):
            doc["parameters"] = walker.parameters(canonical_query(raw["parameters"]))
        if raw.get("parameter_mappings"):
            doc["parameter_mappings"] = walker.parameter_mappings(canonical_query(raw["parameter_mappings"]))
        if raw.get("visualization_settings"):
            doc["visualization_settings"] = walker.viz(raw["visualization_settings"])
        for optional in ("description", "kind", "template", "response_handle", "error_handle"):
            if doc.get(optional) is None:
                doc.pop(optional, None)
        return doc

    def path(self, doc, folders) -> PathHint:
        return PathHint((), doc["name"])
