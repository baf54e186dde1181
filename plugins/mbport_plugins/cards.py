"""Cards: questions, models, metrics and dashboard questions, with every id in their queries turned into refs."""

from __future__ import annotations

from typing import Any

from mbport.kind import ExportContext, Kind, PathContext, PathHint
from mbport.refs import REF, address_kind, collect_refs, is_ref

# Server bookkeeping inside stored queries: regenerated on every save (lib/uuid), or added by some releases
# only (`*-idents` in 0.53-0.56 MBQL 4, `lib.convert/converted?` on >= 0.57). versions.md says strip them.
QUERY_NOISE = frozenset({
    "lib/uuid", "lib.convert/converted?", "aggregation-idents", "breakout-idents", "expression-idents", "ident",
})
# Maps whose keys a user named (an expression called "ident" must survive); their keys are never noise.
NAMED_MAPS = frozenset({"expressions", "template-tags"})

# Column metadata of models: what the server computes from the data rather than what the user edited.
RESULT_METADATA_NOISE = frozenset({
    "fingerprint", "ident", "model/inner_ident", "lib/uuid", "aggregation_index", "source_alias",
})


def canonical_query(node: Any, _named: bool = False) -> Any:
    """A stored query without server noise, native `template-tags` as a map keyed by name (0.63 sends a list)."""
    if isinstance(node, list):
        return [canonical_query(x) for x in node]
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    for key, value in node.items():
        if not _named and key in QUERY_NOISE:
            continue
        if key == "template-tags" and isinstance(value, list):
            value = {t["name"]: t for t in value if isinstance(t, dict) and "name" in t}
        out[key] = canonical_query(value, _named=key in NAMED_MAPS and not _named)
    return out


def omit_defaults(doc: dict[str, Any], defaults: dict[str, Any]) -> dict[str, Any]:
    """Drop the optional fields that hold the default value `defaults` gives them (a null is dropped anyway)."""
    for key in list(doc):
        if key in defaults and doc[key] == defaults[key]:
            del doc[key]
    return doc


def exported_collection_ids(ctx: ExportContext) -> set[Any] | None:
    """Ids of the collections this export writes (the collections kind's choice), or None if it did not run."""
    rows = ctx.raw.get("collections")
    return None if rows is None else {r["id"] for r in rows}


def in_exported_collection(raw: dict[str, Any], ctx: ExportContext) -> bool:
    """Whether content sits in the root or in an exported collection (personal ones only with include_personal)."""
    cid = raw.get("collection_id")
    if cid is None:
        return True
    known = exported_collection_ids(ctx)
    if known is not None:
        return cid in known
    # No collections kind installed: fall back on the hydrated collection's own flag.
    hydrated = raw.get("collection")
    personal = isinstance(hydrated, dict) and (hydrated.get("is_personal") or hydrated.get("personal_owner_id"))
    return not personal or bool(ctx.options.get("include_personal"))


def restore_home(raw: dict[str, Any], ctx: ExportContext, kind: str) -> dict[str, Any]:
    """Archived content reported in the Trash (some releases put the Trash id in collection_id): its real home.

    The hydrated `collection` still names the original collection then; when even that is the Trash, the
    object is exported at the root with a warning rather than silently left out.
    """
    known = exported_collection_ids(ctx)
    cid = raw.get("collection_id")
    if not raw.get("archived") or known is None or cid is None or cid in known:
        return raw
    hydrated = raw.get("collection") if isinstance(raw.get("collection"), dict) else {}
    if hydrated.get("id") in known and hydrated.get("id") != cid:
        return {**raw, "collection_id": hydrated["id"]}
    if hydrated.get("type") == "trash":
        ctx.warnings.append(f"{kind} {raw.get('name')!r} ({raw.get('entity_id')}): archived, and the server does not "
                            "say which collection it was in; exported at the root")
        return {**raw, "collection_id": None}
    return raw


def ref_addresses(*values: Any) -> set[str]:
    """The addresses of those values that are refs."""
    return {v[REF] for v in values if is_ref(v)}


# Kinds a click behaviour or link card can point at that may point back (through a dashcard or a dashboard).
CYCLE_KINDS = frozenset({"dashboards", "cards", "tabs", "dashcards"})


def late_bound_refs(settings: Any) -> set[str]:
    """Content refs inside click behaviours and link cards, at any depth (column settings carry them too).

    A card may drill through to the dashboard that shows it, and dashboards link to each other: Metabase
    allows these cycles, so import fills such refs in once every object exists. Fields, tables and databases
    are never created by import, so they never close a cycle.
    """
    found: set[str] = set()
    if isinstance(settings, dict):
        for key, value in settings.items():
            if key in ("click_behavior", "link"):
                found |= {a for a in collect_refs(value) if address_kind(a) in CYCLE_KINDS}
            else:
                found |= late_bound_refs(value)
    elif isinstance(settings, list):
        for value in settings:
            found |= late_bound_refs(value)
    return found


class Cards(Kind):
    """Saved questions, models and metrics.

    `list` (once per export, after collections) reads `GET /api/card?f=all` and `?f=archived`: both give full
    rows, so no per-card `fetch` runs. `normalize` walks the query, settings, parameters and (models only)
    the user-edited column metadata. The engine places each card in its collection's folder.
    """

    name = "cards"
    endpoint = "/api/card"
    description = "Questions, models and metrics (with dashboard questions), in their collection's folder."
    aliases = ("card", "question", "model", "metric")
    container_field = "collection"
    after = ("collections",)
    keep = (
        "entity_id", "name", "description", "type", "display", "archived", "collection_position", "cache_ttl",
        "collection_preview", "enable_embedding", "embedding_params", "embedding_type",
    )
    drop = {
        "id": "instance-specific id; the key is entity_id",
        "collection_id": "becomes the `collection` ref",
        "collection": "hydrated copy of the collection (the doc's `collection` is the ref built from collection_id)",
        "dashboard_id": "becomes the `dashboard` ref",
        "dashboard": "hydrated copy of the dashboard",
        "dashboard_tab_id": "becomes the `dashboard_tab` ref",
        "document_id": "becomes the `document` ref",
        "dataset_query": "walked (ids to refs) and canonicalized into the doc's `dataset_query`",
        "visualization_settings": "walked into the doc's `visualization_settings`",
        "parameters": "walked into the doc's `parameters`",
        "parameter_mappings": "walked into the doc's `parameter_mappings`",
        "result_metadata": "recomputed by the server for questions and metrics; models keep theirs (user-edited), walked",
        "dataset": "pre-0.49 model flag; becomes `type`",
        "database_id": "derived by the server from dataset_query",
        "table_id": "derived by the server from dataset_query",
        "source_card_id": "derived by the server from dataset_query",
        "query_type": "derived by the server from dataset_query",
        "legacy_query": "server copy of dataset_query in MBQL 4 (0.57+), may lag behind",
        "card_schema": "server serialization version",
        "metabase_version": "version of the server that last saved the card",
        "dependency_analysis_version": "server bookkeeping",
        "is_remote_synced": "EE remote-sync bookkeeping",
        "is_write": "pre-0.47 action flag, derived",
        "archived_directly": "server bookkeeping of how it was archived",
        "creator_id": "who created it; not content",
        "creator": "hydrated creator",
        "made_public_by_id": "who shared it publicly; not content",
        "public_uuid": "public link of this instance; re-share on the target",
        "initially_published_at": "server timestamp",
        "created_at": "server timestamp",
        "updated_at": "server timestamp",
        "last_used_at": "usage statistic",
        "last_query_start": "usage statistic",
        "average_query_time": "usage statistic",
        "query_average_duration": "usage statistic",
        "view_count": "usage statistic",
        "parameter_usage_count": "usage statistic",
        "dashboard_count": "derived from dashboards",
        "cache_invalidated_at": "cache bookkeeping",
        "last-edit-info": "revision history",
        "moderation_reviews": "verification history (EE), not content",
        "can_write": "the reading user's permission",
        "can_delete": "the reading user's permission",
        "can_restore": "the reading user's permission",
        "can_manage_db": "the reading user's permission",
        "can_run_adhoc_query": "the reading user's permission",
        "persisted": "model cache state (server-managed)",
        "based_on_upload": "hydrated: the uploaded table a model was made from",
        "entity_id_translated": "hydration",
    }
    defaults = {
        "description": None, "collection_position": None, "cache_ttl": None, "collection_preview": True,
        "enable_embedding": False, "embedding_params": None, "embedding_type": None, "parameters": [],
        "parameter_mappings": [],
    }

    def list(self, api, ctx: ExportContext) -> list[dict[str, Any]]:
        seen: dict[Any, dict[str, Any]] = {}
        for f in ("all", "archived"):
            for raw in api.get(self.endpoint, params={"f": f}):
                seen.setdefault(raw["id"], raw)
        rows = [restore_home(r, ctx, "card") for r in seen.values()]
        return sorted((r for r in rows if in_exported_collection(r, ctx)), key=lambda r: r["id"])

    def normalize_more(self, doc: dict[str, Any], raw: dict[str, Any], ctx: ExportContext) -> dict[str, Any]:
        walker = ctx.walker
        if "type" not in raw:  # before 0.49 a model was `dataset: true`
            doc["type"] = "model" if raw.get("dataset") else "question"
        doc["collection"] = ctx.ref("collections", raw.get("collection_id"))
        for field, kind, out in (("dashboard_id", "dashboards", "dashboard"), ("dashboard_tab_id", "tabs", "dashboard_tab"),
                                 ("document_id", "documents", "document")):
            if raw.get(field) is not None:
                doc[out] = ctx.ref(kind, raw[field])
        doc["dataset_query"] = walker.query(canonical_query(raw.get("dataset_query") or {}))
        doc["visualization_settings"] = walker.viz(raw.get("visualization_settings") or {})
        doc["parameters"] = walker.parameters(canonical_query(raw.get("parameters") or []))
        doc["parameter_mappings"] = walker.parameter_mappings(canonical_query(raw.get("parameter_mappings") or []))
        if doc.get("type") == "model" and raw.get("result_metadata"):
            doc["result_metadata"] = [self._column(c, ctx) for c in raw["result_metadata"]]
        return omit_defaults(doc, self.defaults)

    def _column(self, column: Any, ctx: ExportContext) -> Any:
        """One model column: the user-editable metadata, its field ids (mapped column, FK target) as refs."""
        if not isinstance(column, dict):
            return column
        walker = ctx.walker
        out: dict[str, Any] = {}
        for key, value in column.items():
            if key in RESULT_METADATA_NOISE or key.startswith("lib/") or value is None:
                continue  # `lib/*` column keys (0.57+) are computed from the query on every run
            if key in ("id", "fk_target_field_id"):
                value = walker.id("fields", value)
            elif key == "table_id":
                value = walker.id("tables", value)
            elif key == "field_ref":
                value = walker.query(canonical_query(value))
            elif key == "settings":
                value = walker.viz(value)
            out[key] = value
        return out

    def path(self, doc: dict[str, Any], folders: PathContext) -> PathHint:
        return PathHint(folders.folder_of(doc.get("collection")), doc["name"])

    def deferred_refs(self, doc: dict[str, Any]) -> set[str]:
        """Refs import fills in after creating the card: its dashboard (a dashboard question and its dashboard
        refer to each other; import creates the dashboard shell first) and click-behaviour targets."""
        late = late_bound_refs(doc.get("visualization_settings")) - {self.doc_address(doc)}
        return ref_addresses(doc.get("dashboard"), doc.get("dashboard_tab"), doc.get("document")) | late
