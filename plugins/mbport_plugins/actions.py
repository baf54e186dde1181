"""Actions (query, implicit and http actions on model cards), keyed by entity_id."""

from __future__ import annotations

from typing import Any

from mbport.api import (
    COMMON_DROP,
    ApiError,
    DatabaseNeed,
    ExportContext,
    Kind,
    MbportError,
    PathHint,
    canonical_query,
)


class Actions(Kind):
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
    description = "Actions on models (unarchived ones; the API cannot list archived actions)."
    aliases = ("action",)
    colour = "#caffbf"
    after = ("cards",)
    keep = ("entity_id", "name", "description", "type", "kind", "archived", "template", "response_handle",
            "error_handle")
    drop = {
        **COMMON_DROP,
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
        "is_remote_synced": "EE remote-sync bookkeeping",
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

    # ---- import: by entity_id, then (model, name); the model's database must have actions enabled ----
    def database_needs(self, doc, docs):
        """POST /api/action checks the model's database and a query action's own (actions.core
        `check-actions-enabled-for-database!`): the driver's :actions feature, then `database-enable-actions`."""
        model = docs.get((doc.get("model") or {}).get("$ref", ""), {})
        refs = [(model.get("dataset_query") or {}).get("database"), doc.get("database")]
        databases = {r["$ref"] for r in refs if isinstance(r, dict) and "$ref" in r}
        return [DatabaseNeed(db, "database-enable-actions", True, "actions", "model actions") for db in sorted(databases)]

    def match_key(self, doc, resolve):
        return (resolve(doc["model"]), doc["name"])

    def raw_match_key(self, raw):
        return (raw.get("model_id"), raw["name"])

    def payload(self, doc, resolve, stage):
        walker = resolve.walker()
        body: dict[str, Any] = {
            "name": doc["name"], "type": doc["type"], "model_id": resolve(doc["model"]),
            "description": doc.get("description"), "archived": bool(doc.get("archived")),
            "parameters": walker.parameters(doc.get("parameters") or []),
            "parameter_mappings": walker.parameter_mappings(doc.get("parameter_mappings")),
            "visualization_settings": walker.viz(doc.get("visualization_settings") or {}),
        }
        if doc["type"] == "query":
            body["database_id"] = resolve(doc.get("database"))
            body["dataset_query"] = walker.query(doc.get("dataset_query") or {})
        elif doc["type"] == "implicit":
            body["kind"] = doc.get("kind")
        elif doc["type"] == "http":
            body.update({k: doc.get(k) for k in ("template", "response_handle", "error_handle")})
        return body

    def create(self, api, payload, doc, target):
        return self._write(api, "post", self.endpoint, payload, doc)

    def update(self, api, target_id, payload, doc, stage, target):
        return self._write(api, "put", f"{self.endpoint}/{target_id}", payload, doc)

    def _write(self, api, method: str, path: str, payload: dict[str, Any], doc: dict[str, Any]) -> dict[str, Any]:
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
