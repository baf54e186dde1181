"""Cards: questions, models, metrics and dashboard questions, with every id in their queries turned into refs."""

from __future__ import annotations

import builtins
from typing import Any

from mbport.api import (DIMENSIONS_UNWRITABLE, TEMPLATE_TAG_LISTS_SINCE, CollectionCascade, ComparesRaw,
                        DeferredRefs, DescribesChanges, ExportContext, Kind, Match, OrderedPositions, PartOf,
                        StagedWrites, VersionNotes, Walker, WriteRequest, archived_fields, check_stored_query,
                        common, copy, custom, describe_query, dimensions_doc, get_unless_missing,
                        in_exported_collection, lenient_walker, listed_once, present, query_in_tree_dialect,
                        query_version_only, ref, ref_addresses, restore_home, skip, skips, stored_query, walk)

# Column metadata of models: what the server computes from the data rather than what the user edited.
RESULT_METADATA_NOISE = frozenset({
    "fingerprint", "ident", "model/inner_ident", "lib/uuid", "aggregation_index", "source_alias",
})

# POST /api/card/:id/public_link makes the UUID (sharing/api.clj); no request sets it, so a public URL cannot be kept
PUBLIC_LINK = "a public link's UUID is made by the server when it is shared; the link's URL changes"


DASHBOARD_QUESTIONS_SINCE = (0, 53)  # card dashboard_id (metabase#47784)
LEGACY_METRICS_UNTIL = (0, 51)  # /api/legacy-metric: gone in 0.51
CONVERTED_FROM = "_legacy_metric_id"  # a metric card mbport made from a 0.50 legacy metric (export option)
# Where a dashboard question's dashboard goes in a target raw that has no dashboard_id (before 0.53), for plan.
TREE_DASHBOARD = "_tree_dashboard"


def for_target(api: Any, payload: dict[str, Any]) -> dict[str, Any]:
    """The payload with its query in the form the target's version stores (mbport.crossings.stored_query). Before
    0.53 a dashboard question is an ordinary card in its dashboard's collection (its collection already is that one;
    the layout places it)."""
    if api.version < DASHBOARD_QUESTIONS_SINCE:
        payload = {k: v for k, v in payload.items() if k not in ("dashboard_id", "dashboard_tab_id")}
    return {**payload, "dataset_query": stored_query(api, payload.get("dataset_query"))}


def legacy_metric_cards(api: Any) -> list[dict[str, Any]]:
    """0.50's legacy metrics as metric cards (`mbport export --legacy-metrics-as-cards`): the same aggregation and
    filter on the same table, named and described alike, in the root collection; review them before importing."""
    metrics = get_unless_missing(api, "/api/legacy-metric") or []
    databases: dict[Any, Any] = {}
    out = []
    for m in metrics:
        if m["table_id"] not in databases:
            databases[m["table_id"]] = api.get(f"/api/table/{m['table_id']}")["db_id"]
        definition = {k: v for k, v in (m.get("definition") or {}).items() if k in ("aggregation", "filter")}
        out.append({
            "id": f"legacy-metric-{m['id']}", CONVERTED_FROM: m["id"], "entity_id": m["entity_id"],
            "name": m["name"], "description": m.get("description"), "type": "metric", "display": "scalar",
            "collection_id": None, "archived": bool(m.get("archived")), "visualization_settings": {},
            "dataset_query": {"database": databases[m["table_id"]], "type": "query",
                              "query": {"source-table": m["table_id"], **definition}},
        })
    return out


DOCUMENT_KEY = "_document_id"  # the payload's target document id (never sent to /api/card)
DOCUMENT_CARD_KEYS = ("name", "description", "display", "dataset_query", "visualization_settings", "parameters",
                      "parameter_mappings", "result_metadata", "cache_ttl")


def _create_in_document(api: Any, document_id: Any, body: dict[str, Any]) -> dict[str, Any]:
    """A card that belongs to a document, created the one way the API allows: `PUT /api/document/:id` with the card
    under a placeholder id (-1) embedded at the end of the body (documents/api/document.clj
    `create-cards-for-document!`, `update-cards-in-ast`); the answer embeds the new card's id in that place. The
    document's `content` stage then writes its real body."""
    current = api.get(f"/api/document/{document_id}").get("document") or {"type": "doc", "content": []}
    embed = {"type": "resizeNode", "content": [{"type": "cardEmbed", "attrs": {"id": -1}}]}
    ast = {**current, "content": [*(current.get("content") or []), embed]}
    draft = {k: body[k] for k in DOCUMENT_CARD_KEYS if body.get(k) is not None}
    answer = api.put(f"/api/document/{document_id}", json={"document": ast, "cards": {"-1": draft}})
    placed = (answer.get("document") or {}).get("content") or [{}]
    card_id = ((placed[-1].get("content") or [{}])[0].get("attrs") or {}).get("id")
    return api.get(f"/api/card/{card_id}")


def card_type(raw: dict[str, Any]) -> str:
    """question, model or metric; before 0.49 a model was `dataset: true`."""
    return raw.get("type") or ("model" if raw.get("dataset") else "question")


COMMON = ("created_at", "updated_at", "can_write", "can_delete", "can_restore", "creator_id", "creator",
          "is_remote_synced", "entity_id_translated", "dependency_analysis_version")


class Cards(StagedWrites, OrderedPositions, DeferredRefs, ComparesRaw, VersionNotes, CollectionCascade,
            PartOf, DescribesChanges, Kind):
    """Saved questions, models and metrics.

    `list` (once per export, after collections) reads `GET /api/card?f=all` and `?f=archived`: both give full
    rows, so no per-card `fetch` runs. `normalize` walks the query, settings, parameters and (models only)
    the user-edited column metadata. The engine places each card in its collection's folder.
    """

    name = "cards"
    also_archived_by = ("dashboard",)  # a dashboard question goes to the Trash with its dashboard
    endpoint = "/api/card"
    part_of = ("dashboard",)  # a dashboard question is deleted with its dashboard
    # Pins share one numbering with the collection's dashboards and pulses, renumbered on every write: the
    # engine sets them last (payload leaves collection_position out).
    positions = {"collection_position": "collection"}
    after = ("collections",)
    fields = {
        **common(*COMMON),
        "id": skip("instance-specific id; the key is entity_id"),
        "entity_id": copy(), "name": copy(), "description": copy(default=None), "display": copy(),
        "type": copy(read=card_type, send=lambda value, doc: value or "question"),
        "dataset": skip("pre-0.49 model flag; becomes `type`"),
        "collection_position": copy(default=None, send=False),  # a pin: set last (`positions`)
        "cache_ttl": copy(default=None),
        # POST /api/card does not take these (its body is closed): `create` PUTs those not at their default after.
        **archived_fields(post=False), "collection_preview": copy(default=True, post=False),
        **{k: copy(default=default, post=False) for k, default in (
            ("enable_embedding", False), ("embedding_params", None), ("embedding_type", None))},
        "collection_id": ref("collections", as_="collection", container=True),
        "collection": skip("hydrated copy of the collection (the doc's `collection` is the ref built from collection_id)"),
        "dashboard_id": ref("dashboards", as_="dashboard"),  # a dashboard question
        "dashboard": skip("hydrated copy of the dashboard"),
        "dashboard_tab_id": ref("tabs", as_="dashboard_tab", late=True, send=present),  # none yet: left out
        "document_id": ref("documents", as_="document", send=False, late=True),
        "dataset_query": walk("query"),
        "visualization_settings": walk("viz", late=True),  # click behaviours: to the dashboard showing it ...
        "parameters": walk("parameters", default=[]),
        "parameter_mappings": walk("parameter_mappings", default=[]),
        "result_metadata": custom("recomputed by the server for questions and metrics; models keep theirs "
                                  "(user-edited), walked"),
        **skips("derived by the server from dataset_query", "database_id", "table_id", "source_card_id",
                "query_type"),
        "legacy_query": skip("server copy of dataset_query in MBQL 4 (0.57+), may lag behind"),
        "card_schema": skip("server serialization version"),
        "metabase_version": skip("version of the server that last saved the card"),
        "is_write": skip("pre-0.47 action flag, derived"),
        "made_public_by_id": skip("who shared it publicly; not content"),
        "public_uuid": copy(unwritable=PUBLIC_LINK),
        "dimensions": copy(unwritable=DIMENSIONS_UNWRITABLE),  # metrics (0.65): what explorations break them out by
        "dimension_mappings": skip("folded into `dimensions`: the column each one maps to (`field`)"),
        "initially_published_at": skip("server timestamp"),
        **skips("usage statistic", "last_used_at", "last_query_start", "average_query_time",
                "query_average_duration", "view_count", "parameter_usage_count"),
        "dashboard_count": skip("derived from dashboards"),
        "cache_invalidated_at": skip("cache bookkeeping"),
        "last-edit-info": skip("revision history"),
        "moderation_reviews": skip("verification history (EE), not content"),
        **skips("the reading user's permission", "can_manage_db", "can_run_adhoc_query"),
        "persisted": skip("model cache state (server-managed)"),
        "based_on_upload": skip("hydrated: the uploaded table a model was made from"),
        CONVERTED_FROM: skip("the legacy metric this card was made from (export --legacy-metrics-as-cards)"),
        TREE_DASHBOARD: custom("plan only: the tree's dashboard of a question on a target before 0.53"),
    }
    match = Match("name", "type", "dashboard", "document", within="collection", raw={"type": card_type})

    def list(self, api, ctx: ExportContext) -> list[dict[str, Any]]:
        rows = [restore_home(r, ctx, "card") for r in listed_once(api, self.endpoint, {"f": "all"}, {"f": "archived"})]
        rows = sorted((r for r in rows if in_exported_collection(r, ctx, self.name)), key=lambda r: r["id"])
        if ctx.options.get("legacy_metrics_as_cards") and api.version < LEGACY_METRICS_UNTIL:
            rows += legacy_metric_cards(api)
        return rows

    def index(self, raw):
        """A card made from a legacy metric also answers for that metric's id (`["metric", id]` on its table)."""
        yield from super().index(raw)
        if raw.get(CONVERTED_FROM) is not None:
            yield "legacy-metrics", raw[CONVERTED_FROM], self.address_of(raw)

    def normalize_more(self, doc: dict[str, Any], raw: dict[str, Any], ctx: ExportContext) -> dict[str, Any]:
        dims = dimensions_doc(raw, ctx.walker) if doc.get("type") == "metric" else None
        doc.pop("dimensions", None)
        if dims:
            doc["dimensions"] = dims
        if TREE_DASHBOARD in raw:  # plan, on a target before dashboard questions: see comparable_raw
            doc.update(raw[TREE_DASHBOARD])
        if doc.get("type") == "model" and raw.get("result_metadata"):
            walker = ctx.walker  # one for all its columns
            doc["result_metadata"] = [self._column(c, walker) for c in raw["result_metadata"]]
        return doc

    @staticmethod
    def _column(column: Any, walker: Walker) -> Any:
        """One model column: the user-editable metadata, its field ids (mapped column, FK target) as refs."""
        if not isinstance(column, dict):
            return column
        out: dict[str, Any] = {}
        for key, value in column.items():
            if value is None or key in RESULT_METADATA_NOISE or key.startswith("lib/"):
                continue  # `lib/*` column keys (0.57+) are computed from the query on every run
            if key in ("id", "fk_target_field_id"):
                value = walker.id("fields", value)
            elif key == "table_id":
                value = walker.id("tables", value)
            elif key == "field_ref":
                value = walker.canonical_query(value)
            elif key == "settings":
                value = walker.viz(value)
            out[key] = value
        return out

    def version_notes(self, version: Any) -> builtins.list[str]:
        """Called by `mbport doctor`: the template-tag shape of this version."""
        if version >= TEMPLATE_TAG_LISTS_SINCE:
            return ["native template tags come as lists (≥ 0.63); the tree keys them by name"]
        return []

    def compare(self, wanted: dict[str, Any], current: dict[str, Any], options: Any) -> builtins.list[str]:
        """Called by plan per matched card: a query that differs only by its MBQL version (the tree's against the
        target's) is no change, else a cross-version import would rewrite it on every run."""
        return query_version_only(self, super().compare(wanted, current, options), wanted, current)

    def describe_change(self, field: str, old: Any, new: Any, names: Any) -> builtins.list[str] | None:
        """Called by `mbport diff` per changed field: queries read as SQL vs query-builder changes."""

        if field == "dataset_query":
            return describe_query(old, new, names)
        return super().describe_change(field, old, new, names)

    # ---- import ----
    def deferred_refs(self, doc: dict[str, Any]) -> set[str]:
        """The `late` refs (click-behaviour and link targets, its dashboard tab and document), and, for `mbport
        check`'s doc-level cycle test, its dashboard (a dashboard question and its dashboard refer to each other).
        `stage_refs` puts the dashboard back: the card needs its shell."""
        return super().deferred_refs(doc) | ref_addresses(doc.get("dashboard"))

    def stage_refs(self, doc: dict[str, Any], stage: str) -> set[str]:
        """Every non-deferred ref, plus the dashboard of a dashboard question (or the document of a document's
        card): a whole-doc ref, so the graph waits for its first stage (the shell) only, giving shell → questions →
        layout (or body)."""
        return (self.refs(doc) - self.deferred_refs(doc)) | ref_addresses(doc.get("dashboard"), doc.get("document"))

    def payload(self, doc: dict[str, Any], resolve, stage: str) -> dict[str, Any]:
        """The PUT body, every ref resolved; deferred refs (click behaviours, links) may still be unknown in the
        first pass and become null, the second pass (`update` again) fills them in."""
        walker = lenient_walker(resolve, self.deferred_refs(doc))
        body = self.spec.payload(doc, resolve, walker)
        if doc.get("type") == "model" and doc.get("result_metadata"):
            body["result_metadata"] = [self._target_column(c, walker) for c in doc["result_metadata"]]
        if doc.get("document") is not None:  # never sent as such: `create` writes the card through its document
            body[DOCUMENT_KEY] = resolve(doc["document"])
        return body

    @staticmethod
    def _target_column(column: Any, walker: Walker) -> Any:
        """A model column back in target ids (the reverse of `_column`)."""
        if not isinstance(column, dict):
            return column
        out = dict(column)
        for key, kind in (("id", "fields"), ("fk_target_field_id", "fields"), ("table_id", "tables")):
            if key in out:
                out[key] = walker.id(kind, out[key])
        if "field_ref" in out:
            out["field_ref"] = walker.query(out["field_ref"])
        if "settings" in out:
            out["settings"] = walker.viz(out["settings"])
        return out

    def create(self, req: WriteRequest) -> dict[str, Any]:
        """POST what POST /api/card takes (newest servers close the body); what it cannot set (archived, embedding,
        collection_preview: `post=False`) follows in one PUT when it differs from the default."""
        body = {k: v for k, v in self.spec.post_body(for_target(req.api, req.payload)).items() if k != DOCUMENT_KEY}
        if body.get("dashboard_id") is None:
            body.pop("dashboard_id", None)  # not a dashboard question
        if req.payload.get(DOCUMENT_KEY) is not None:
            raw = _create_in_document(req.api, req.payload[DOCUMENT_KEY], body)
        else:
            raw = req.api.post(self.endpoint, json=body)
        later = self.spec.put_after_post(req.payload)
        if later:
            raw = req.api.put(f"{self.endpoint}/{raw['id']}", json=later)
        return check_stored_query(raw, req.payload, self.address_of(req.doc))

    def comparable_raw(self, api, raw: dict[str, Any], doc: dict[str, Any]) -> dict[str, Any]:
        """Called by plan per matched card: the target's query in the tree's dialect (mbport.crossings)."""
        if "dashboard_id" not in raw and doc.get("dashboard") and api.version < DASHBOARD_QUESTIONS_SINCE:
            # The target has no dashboard questions: the card is an ordinary one, which the layout places on
            # the dashboard (for_target); it stands for the tree's dashboard question, so plan sees no change.
            raw = {**raw, TREE_DASHBOARD: {k: doc[k] for k in ("dashboard", "dashboard_tab") if k in doc}}
        return query_in_tree_dialect(api, self.endpoint, raw, doc.get("dataset_query"))

    def update(self, req: WriteRequest) -> dict[str, Any]:
        body = {k: v for k, v in for_target(req.api, req.payload).items() if k != DOCUMENT_KEY}
        raw = req.api.put(f"{self.endpoint}/{req.target_id}", json=body)
        return check_stored_query(raw, req.payload, self.address_of(req.doc))
