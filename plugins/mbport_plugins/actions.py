"""Actions (query, implicit and http actions on model cards), keyed by entity_id."""

from __future__ import annotations

import builtins
from typing import Any

from mbport.api import (MBQL5_SINCE, OMIT, ApiError, DatabaseNeed, ExportContext, Kind, Match, MbportError,
                        NeedsDatabaseSettings, WriteRequest, common, copy, flag, hold_back, mbql4_query,
                        query_version_only, ref, skip, skips, walk)


def only(action_type: str):
    """`send=`: the field goes into the payload of actions of that type only."""
    return lambda value, doc: value if doc["type"] == action_type else OMIT


def only_query(field: str):
    """`read=`: the raw field of a query action (None for others)."""
    return lambda raw: raw.get(field) if raw.get("type") == "query" else None


class Actions(NeedsDatabaseSettings, Kind):
    """Actions of every readable, unarchived model.

    `list` is `GET /api/action`, which returns only unarchived actions (and `GET /api/action/:id` 404s for an
    archived one), so archived actions cannot be exported; actions of models the export leaves out are
    skipped. `normalize` turns `model_id` into a cards ref,
    keeps `database` only for query actions (implicit ones take their model's), walks the query, parameters
    and settings, and drops public sharing.

    Import: matched by entity_id, then (model, name); POST/PUT with ids resolved in the query, parameters and
    settings. Metabase refuses actions on a database without model actions: that becomes a clear error.
    """

    name = "actions"
    endpoint = "/api/action"
    after = ("cards",)
    fields = {
        **common("created_at", "updated_at", "can_write", "is_remote_synced"),
        "id": skip("instance-specific id; the key is entity_id"),
        "entity_id": copy(), "name": copy(), "description": copy(default=None), "type": copy(),
        "archived": copy(send=flag),
        "kind": copy(default=None, send=only("implicit")),
        **{k: copy(default=None, send=only("http")) for k in ("template", "response_handle", "error_handle")},
        "model_id": ref("cards", as_="model"),
        # Query actions only: implicit ones use their model's database.
        "database_id": ref("databases", as_="database", read=only_query("database_id"), send=only("query")),
        "dataset_query": walk("query", empty=None, read=only_query("dataset_query"), send=only("query")),
        "parameters": walk("parameters", default=[]),
        # Sent as the doc has them: an action without mappings sends null, not an empty list.
        "parameter_mappings": walk("parameter_mappings", default=[], send=lambda value, doc: value or None),
        "visualization_settings": walk("viz", default={}),
        **skips("public sharing is per instance and never exported", "public_uuid", "made_public_by_id"),
        "creator_id": skip("audit"), "creator": skip("hydrated user"),
        "enable_embedding": skip("embedding is per instance"),
    }
    match = Match("name", within="model")

    def list(self, api, ctx: ExportContext) -> list[dict[str, Any]]:
        rows = api.get(self.endpoint)
        cards = ctx.raw.get("cards")
        if cards is not None:  # an action goes with its model: one on a model left out (personal) stays out,
            exported = {c["id"] for c in cards}  # held back with it: a shared dashboard's button takes both along
            for r in rows:
                if r.get("model_id") not in exported and ("cards", r.get("model_id")) in ctx.held_back:
                    hold_back(ctx, self.name, r)
            rows = [r for r in rows if r.get("model_id") in exported]
        return sorted(rows, key=lambda r: r["id"])

    # ---- import: by entity_id, then (model, name); the model's database must have actions enabled ----
    def database_needs(self, doc, docs):
        """POST /api/action checks the model's database and a query action's own (actions.core
        `check-actions-enabled-for-database!`): the driver's :actions feature, then `database-enable-actions`."""
        model = docs.get((doc.get("model") or {}).get("$ref", ""), {})
        refs = [(model.get("dataset_query") or {}).get("database"), doc.get("database")]
        databases = {r["$ref"] for r in refs if isinstance(r, dict) and "$ref" in r}
        return [DatabaseNeed(db, "database-enable-actions", True, "actions", "model actions") for db in sorted(databases)]

    def compare(self, wanted: dict[str, Any], current: dict[str, Any], options: Any) -> builtins.list[str]:
        """A query that differs only by its MBQL version (the tree's against the target's) is no change."""
        return query_version_only(self, super().compare(wanted, current, options), wanted, current)

    def create(self, req: WriteRequest) -> dict[str, Any]:
        return self._write(req.api, "post", self.endpoint, req.payload, req.doc)

    def update(self, req: WriteRequest) -> dict[str, Any]:
        return self._write(req.api, "put", f"{self.endpoint}/{req.target_id}", req.payload, req.doc)

    def _write(self, api, method: str, path: str, payload: dict[str, Any], doc: dict[str, Any]) -> dict[str, Any]:
        if payload.get("dataset_query") and api.version < MBQL5_SINCE:  # an MBQL 5 tree into a 0.56 target
            payload = {**payload, "dataset_query": mbql4_query(payload["dataset_query"])}
        try:
            return getattr(api, method)(path, json=payload)
        except ApiError as exc:
            text = str(exc.body if exc.body is not None else exc)
            if exc.status == 400 and ("not enabled" in text.lower() or "does not support actions" in text.lower()):
                database = (doc.get("database") or {}).get("$ref") or "the model's database"
                raise MbportError(
                    f"Metabase refused the action: actions are not enabled on the target database ({database}, "
                    f"or the database of the model {doc['model']['$ref']})",
                    hint="turn on 'Model actions' in the database's settings on the target (database-enable-actions),"
                         " or import the database doc with that setting, then import again") from exc
            if exc.status == 400 and "http actions are not supported" in text.lower():
                raise MbportError("this Metabase version no longer supports HTTP actions",
                                  hint="remove the action from the tree or turn it into a query action") from exc
            raise
