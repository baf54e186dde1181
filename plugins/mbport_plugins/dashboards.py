"""Dashboards with their tabs and dashcards (cards, virtual cards, action buttons, click behaviours, link cards)."""

from __future__ import annotations

from typing import Any

from mbport.kind import ExportContext, Kind, PathContext, PathHint
from mbport.refs import address

from .cards import canonical_query, in_exported_collection, late_bound_refs, omit_defaults, restore_home

# Dashcard fields: copied as they are, turned into refs or into another doc field, or dropped (with why).
DASHCARD_KEEP = ("entity_id", "row", "col", "size_x", "size_y", "inline_parameters")
DASHCARD_DROP = {
    "id": "instance-specific id; the key is entity_id",
    "dashboard_id": "the dashboard holding the dashcard",
    "card_id": "becomes the `card` ref (null for virtual cards: text, heading, link, placeholder)",
    "card": "hydrated copy of the card",
    "action_id": "becomes the `action` ref",
    "action": "hydrated copy of the action",
    "dashboard_tab_id": "becomes the `tab` ref",
    "series": "becomes a list of card refs, in position order",
    "parameter_mappings": "walked (card and field ids to refs)",
    "visualization_settings": "walked (click behaviours, link cards, column settings)",
    "sizeX": "pre-0.46 name of size_x",
    "sizeY": "pre-0.46 name of size_y",
    "collection_authority_level": "hydrated from the card's collection",
    "created_at": "server timestamp",
    "updated_at": "server timestamp",
    "can_write": "the reading user's permission",
    "download_perms": "the reading user's permission",
}
TAB_KEEP = ("entity_id", "name")
TAB_DROP = {
    "id": "instance-specific id; the key is entity_id",
    "dashboard_id": "the dashboard holding the tab",
    "position": "tabs are listed in position order",
    "created_at": "server timestamp",
    "updated_at": "server timestamp",
}
# What a link card's entity keeps: the rest (name, description, display, collection_id, db_id) is hydrated by
# GET from the linked item's current state, so it is a copy, not content.
LINK_ENTITY_KEEP = ("model", "id")


def dashcards_of(raw: dict[str, Any]) -> list[dict[str, Any]]:
    """Dashcards under their current name, or the pre-0.48 `ordered_cards`."""
    return raw.get("dashcards") if raw.get("dashcards") is not None else raw.get("ordered_cards") or []


def tabs_of(raw: dict[str, Any]) -> list[dict[str, Any]]:
    tabs = raw.get("tabs") if raw.get("tabs") is not None else raw.get("ordered_tabs") or []
    return sorted(tabs, key=lambda t: (t.get("position") or 0, t.get("id") or 0))


def dashcard_key(dashcard: dict[str, Any]) -> str:
    """A dashcard's key: its entity_id; very old rows without one fall back on their grid position."""
    return dashcard.get("entity_id") or f"r{dashcard.get('row')}c{dashcard.get('col')}"


def _trim_links(settings: Any) -> Any:
    """Link cards keep only which item they link to; nested settings are visited too."""
    if isinstance(settings, list):
        return [_trim_links(v) for v in settings]
    if not isinstance(settings, dict):
        return settings
    out = {}
    for key, value in settings.items():
        if key == "link" and isinstance(value, dict) and isinstance(value.get("entity"), dict):
            value = {**value, "entity": {k: value["entity"][k] for k in LINK_ENTITY_KEEP if k in value["entity"]}}
        out[key] = _trim_links(value)
    return out


class Dashboards(Kind):
    """Dashboards, each doc holding its tabs and dashcards.

    `list` (once per export, after collections) reads the summaries of `GET /api/dashboard?f=all` and
    `?f=archived`; `fetch` then runs for every dashboard (`GET /api/dashboard/{id}`, concurrently) for the
    tabs and dashcards. `index` gives the dashboard, its tabs and dashcards addresses (click behaviours and
    subscriptions point at them); `normalize` walks every dashcard's settings and mappings.
    """

    name = "dashboards"
    endpoint = "/api/dashboard"
    description = "Dashboards with their tabs and dashcards, in their collection's folder."
    aliases = ("dashboard",)
    container_field = "collection"
    after = ("collections",)
    sub_kinds = {"tabs": 1, "dashcards": 1}
    keep = (
        "entity_id", "name", "description", "archived", "collection_position", "cache_ttl", "width",
        "auto_apply_filters", "enable_embedding", "embedding_params", "embedding_type", "caveats",
        "points_of_interest", "show_in_getting_started", "position",
    )
    drop = {
        "id": "instance-specific id; the key is entity_id",
        "collection_id": "becomes the `collection` ref",
        "collection": "hydrated copy of the collection",
        "collection_authority_level": "hydrated from the collection",
        "parameters": "walked into the doc's `parameters`",
        "dashcards": "normalized into the doc's `dashcards`",
        "tabs": "normalized into the doc's `tabs`",
        "ordered_cards": "pre-0.48 name of dashcards",
        "ordered_tabs": "pre-0.48 name of tabs",
        "archived_directly": "server bookkeeping of how it was archived",
        "creator_id": "who created it; not content",
        "creator": "hydrated creator",
        "made_public_by_id": "who shared it publicly; not content",
        "public_uuid": "public link of this instance; re-share on the target",
        "initially_published_at": "server timestamp",
        "created_at": "server timestamp",
        "updated_at": "server timestamp",
        "last_viewed_at": "usage statistic",
        "last_used_param_values": "the reading user's last filter values",
        "view_count": "usage statistic",
        "param_fields": "hydrated fields of the parameter mappings",
        "param_values": "hydrated field values",
        "last-edit-info": "revision history",
        "moderation_reviews": "verification history (EE), not content",
        "is_remote_synced": "EE remote-sync bookkeeping",
        "dependency_analysis_version": "server bookkeeping",
        "can_write": "the reading user's permission",
        "can_delete": "the reading user's permission",
        "can_restore": "the reading user's permission",
        "can_set_cache_policy": "the reading user's permission",
        "entity_id_translated": "hydration",
    }
    defaults = {
        "description": None, "collection_position": None, "cache_ttl": None, "enable_embedding": False,
        "embedding_params": None, "embedding_type": None, "caveats": None, "points_of_interest": None,
        "show_in_getting_started": False, "position": None, "parameters": [], "tabs": [], "width": None,
        "auto_apply_filters": None,
    }
    dashcard_defaults = {
        "parameter_mappings": [], "series": [], "visualization_settings": {}, "card": None, "action": None,
        "tab": None,
    }

    # ---- export ----
    def list(self, api, ctx: ExportContext) -> list[dict[str, Any]]:
        seen: dict[Any, dict[str, Any]] = {}
        for f in ("all", "archived"):
            for raw in api.get(self.endpoint, params={"f": f}):
                seen.setdefault(raw["id"], raw)
        rows = [restore_home(r, ctx, "dashboard") for r in seen.values()]
        return sorted((r for r in rows if in_exported_collection(r, ctx)), key=lambda r: r["id"])

    def needs_fetch(self, summary: dict[str, Any]) -> bool:
        return True

    def fetch(self, api, summary: dict[str, Any]) -> dict[str, Any]:
        full = api.get(f"{self.endpoint}/{summary['id']}")
        # GET presents a dashboard archived on its own as living in the Trash (present-in-trash-if-archived-
        # directly); the list row still has its real home, which is where a restore puts it back.
        if full.get("archived_directly") and "collection_id" in summary:
            full["collection_id"] = summary["collection_id"]
        return full

    def index(self, raw: dict[str, Any]):
        key = raw.get("entity_id")
        yield self.name, raw["id"], self.address_of(raw)
        for tab in tabs_of(raw):
            yield "tabs", tab["id"], address("tabs", key, tab.get("entity_id"))
        for dc in dashcards_of(raw):
            yield "dashcards", dc["id"], address("dashcards", key, dashcard_key(dc))

    def normalize_more(self, doc: dict[str, Any], raw: dict[str, Any], ctx: ExportContext) -> dict[str, Any]:
        doc["collection"] = ctx.ref("collections", raw.get("collection_id"))
        doc["parameters"] = ctx.walker.parameters(canonical_query(raw.get("parameters") or []))
        tabs = tabs_of(raw)
        doc["tabs"] = [{k: t[k] for k in TAB_KEEP if k in t} for t in tabs]
        tab_rank = {t["id"]: i for i, t in enumerate(tabs)}
        ordered = sorted(dashcards_of(raw), key=lambda dc: (
            tab_rank.get(dc.get("dashboard_tab_id"), -1), dc.get("row") or 0, dc.get("col") or 0, dashcard_key(dc)))
        doc["dashcards"] = [self._dashcard(dc, ctx) for dc in ordered]
        return omit_defaults(doc, self.defaults)

    def _dashcard(self, dc: dict[str, Any], ctx: ExportContext) -> dict[str, Any]:
        walker = ctx.walker
        out = {k: dc[k] for k in DASHCARD_KEEP if k in dc}
        out["entity_id"] = dashcard_key(dc)
        for old, new in (("sizeX", "size_x"), ("sizeY", "size_y")):
            if old in dc and new not in dc:
                out[new] = dc[old]
        out["card"] = ctx.ref("cards", dc.get("card_id"))
        out["action"] = ctx.ref("actions", dc.get("action_id"))
        out["tab"] = ctx.ref("tabs", dc.get("dashboard_tab_id"))
        out["series"] = [ctx.ref("cards", s["id"] if isinstance(s, dict) else s) for s in dc.get("series") or []]
        out["parameter_mappings"] = walker.parameter_mappings(canonical_query(dc.get("parameter_mappings") or []))
        out["visualization_settings"] = walker.viz(_trim_links(dc.get("visualization_settings") or {}))
        if not out.get("inline_parameters"):  # null (the usual answer) and [] both mean none
            out.pop("inline_parameters", None)
        return omit_defaults(out, self.dashcard_defaults)

    def path(self, doc: dict[str, Any], folders: PathContext) -> PathHint:
        return PathHint(folders.folder_of(doc.get("collection")), doc["name"])

    def contains(self, doc: dict[str, Any]) -> set[str]:
        key = doc.get("entity_id")
        return ({address("tabs", key, t["entity_id"]) for t in doc.get("tabs", [])}
                | {address("dashcards", key, dc["entity_id"]) for dc in doc.get("dashcards", [])})

    # ---- import ----
    # `refs` stays the default (every ref, own tabs included): refs to its own sub-addresses resolve to the
    # dashboard itself (Registry.owner), which the graph ignores.
    def deferred_refs(self, doc: dict[str, Any]) -> set[str]:
        """Click behaviours and link cards: dashboards may point at each other, so they are filled in last."""
        found: set[str] = set()
        for dc in doc.get("dashcards", []):
            found |= late_bound_refs(dc.get("visualization_settings"))
        return found - self.contains(doc) - {self.doc_address(doc)}

    # ---- contract helpers ----
    @staticmethod
    def uncovered_dashcard_fields(raw: dict[str, Any]) -> set[str]:
        """Dashcard and tab fields neither kept nor dropped with a reason (should be empty, like uncovered_fields)."""
        missing = set()
        for dc in dashcards_of(raw):
            missing |= set(dc) - set(DASHCARD_KEEP) - set(DASHCARD_DROP)
        for tab in tabs_of(raw):
            missing |= set(tab) - set(TAB_KEEP) - set(TAB_DROP)
        return missing
