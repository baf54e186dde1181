"""What dashboard answers look like: GET /api/dashboard/{id} with hydrated dashcards, series, tabs and links."""

from __future__ import annotations

import copy
from typing import Any

from ..models.dashboards import LAST_EDIT, allowed, dashcards_on, series_ids, tabs_of, visible
from ..models.moderation import dashboards_verifiable, status
from ..store import Row, State
from .cards import hydrate_card
from .collections import collection_summary
from .moderation import reviews_out

# The keys a dashcard's hydrated `card` carries (recorded/mbql5/dashboard/2.json): no GET /api/card extras.
DASHCARD_CARD_KEYS = frozenset({
    "archived", "archived_directly", "cache_invalidated_at", "cache_ttl", "can_write", "card_schema",
    "collection_id", "collection_position", "collection_preview", "created_at", "creator_id", "dashboard_id",
    "database_id", "dataset_query", "dependency_analysis_version", "description", "display", "document_id",
    "embedding_params", "enable_embedding", "entity_id", "id", "initially_published_at", "last_used_at",
    "legacy_query", "made_public_by_id", "metabase_version", "moderation_reviews", "name", "parameter_mappings",
    "parameters", "public_uuid", "query_average_duration", "query_type", "result_metadata", "source_card_id",
    "table_id", "type", "updated_at", "view_count", "visualization_settings",
})



MBQL5_ERA_KEYS = ("is_remote_synced", "dependency_analysis_version")



SERIES_CARD_KEYS = ("id", "name", "description", "display", "dataset_query", "type", "database_id",
                    "visualization_settings", "collection_id", "card_schema", "entity_id")



def last_edit_info(state: State, model: str, id_: int) -> dict | None:
    edit = state.extra.get(LAST_EDIT, {}).get((model, id_))
    user = state.table("user").get(edit["user_id"]) if edit else None
    if user is None:
        return None
    return {"id": user["id"], "email": user["email"], "first_name": user.get("first_name"),
            "last_name": user.get("last_name"), "timestamp": edit["timestamp"]}



def _dashcard_card(state: State, user: Row | None, card: Row, read_view: bool) -> dict:
    """A dashcard's `card`: the card row with can_write and moderation_reviews, not the GET /api/card extras.

    GET replaces a card the user cannot read with `{"id": ...}` and adds `query_average_duration`.
    """
    if read_view and not allowed(state, user, card.get("collection_id"), write=False):
        return {"id": card["id"], "query_average_duration": None}
    full = hydrate_card(state, card)
    out = {k: v for k, v in full.items() if k in DASHCARD_CARD_KEYS}
    out["can_write"] = allowed(state, user, card.get("collection_id"), write=True)
    if read_view:
        out["query_average_duration"] = None
    return out



def _series_card(state: State, user: Row | None, card: Row, read_view: bool) -> dict:
    if read_view and not allowed(state, user, card.get("collection_id"), write=False):
        return {"id": card["id"], "query_average_duration": None}
    full = hydrate_card(state, card)
    out = {k: full.get(k) for k in SERIES_CARD_KEYS}
    out["can_write"] = allowed(state, user, card.get("collection_id"), write=True)
    if read_view:
        out["query_average_duration"] = None
    return out



def _link_entity(state: State, entity: Any) -> Any:
    """Link cards show the linked item's current name and description (dashcard/linkcard-info)."""
    if not isinstance(entity, dict):
        return entity
    model, id_ = entity.get("model"), entity.get("id")
    tables: dict[Any, str] = {"card": "card", "dataset": "card", "dashboard": "dashboard", "collection": "collection",
              "database": "metabase_database", "table": "metabase_table"}
    table = tables.get(model)
    row = state.table(table).get(id_) if table else None
    if row is None:
        return entity
    info = {"model": model, "id": row["id"], "name": row.get("display_name") if model == "table" else row.get("name"),
            "description": row.get("description")}
    if model in ("card", "dataset", "dashboard"):
        info["collection_id"] = row.get("collection_id")
    if model in ("card", "dataset"):
        info["display"] = row.get("display")
    if model == "table":
        info["db_id"] = row.get("db_id")
    return info



def _hydrate_dashcard(state: State, user: Row | None, dc: Row, card: Row | None, read_view: bool) -> dict:
    out = dict(dc)
    if card is not None:
        out["card"] = _dashcard_card(state, user, card, read_view)
    else:
        # A virtual card has no card; GET's average-duration step still leaves a map behind.
        out["card"] = {"query_average_duration": None} if read_view else None
    series = [state.table("card").get(cid) for cid in series_ids(state, dc["id"])]
    out["series"] = [_series_card(state, user, c, read_view) for c in series if c is not None]
    out["collection_authority_level"] = None
    if card is not None and card.get("collection_id") is not None:
        coll = state.table("collection").get(card["collection_id"])
        out["collection_authority_level"] = coll.get("authority_level") if coll else None
    if dc.get("action_id") is not None:
        out["action"] = state.table("action").get(dc["action_id"])
    entity = (dc.get("visualization_settings") or {}).get("link", {})
    if isinstance(entity, dict) and "entity" in entity:
        out["visualization_settings"] = copy.deepcopy(dc["visualization_settings"])
        out["visualization_settings"]["link"]["entity"] = _link_entity(state, entity["entity"])
    return out



def _param_fields(state: State, dashcards: list[dict[str, Any]]) -> dict:
    """Fields that parameter mappings target, keyed by field id (as Metabase's `param_fields`)."""
    field_ids: list[int] = []
    for dc in dashcards:
        for mapping in dc.get("parameter_mappings") or []:
            field_ids += _field_ids(mapping.get("target"))
    out = {}
    for fid in dict.fromkeys(field_ids):
        field = state.table("metabase_field").get(fid)
        if field is not None:
            out[str(fid)] = {**field, "name_field": None, "dimensions": []}
    return out



def _field_ids(node: Any) -> list[int]:
    """Integer field ids inside ["field", id, opts] / ["field", {opts}, id] refs, at any depth."""
    if not isinstance(node, list):
        return []
    if len(node) == 3 and node[0] == "field":
        return [x for x in node[1:] if isinstance(x, int) and not isinstance(x, bool)]
    return [fid for x in node for fid in _field_ids(x)]



def _trash_collection(state: State) -> Row | None:
    return state.table("collection").first(type="trash")



def hydrate_dashboard(state: State, user: Row | None, dash: Row, *, read_view: bool = True) -> dict:
    """The dashboard as GET /api/dashboard/{id} returns it; `read_view=False` gives the POST/PUT variant.

    The write responses skip GET's extra steps: the root collection is not filled in and cards carry no
    `query_average_duration` (virtual cards then have `card: null`).
    """
    out = dict(dash)
    card_table = state.table("card")
    shown = []
    for dc in dashcards_on(state, dash["id"]):
        card = card_table.get(dc["card_id"]) if dc["card_id"] is not None else None
        if visible(card):
            shown.append(_hydrate_dashcard(state, user, dc, card, read_view))
    out["dashcards"] = shown
    out["tabs"] = [dict(t) for t in tabs_of(state, dash["id"])]
    coll = state.table("collection").get(dash["collection_id"]) if dash["collection_id"] is not None else None
    out["can_write"] = allowed(state, user, dash["collection_id"], write=True)
    out["can_restore"] = out["can_write"] and bool(dash["archived_directly"]) and not (coll and coll.get("archived"))
    out["can_delete"] = out["can_write"] and bool(dash["archived"])
    out["collection_authority_level"] = coll.get("authority_level") if coll else None
    out["param_fields"] = _param_fields(state, shown)
    out["is_remote_synced"] = False
    if dashboards_verifiable(state):  # hydrate-dashboard-details `[:moderation_reviews :moderator_details]`
        out["moderation_reviews"] = reviews_out(state, "dashboard", dash["id"])
    out["last_used_param_values"] = {}
    if dash["collection_id"] is not None or read_view:
        out["collection"] = collection_summary(state, dash["collection_id"])
    else:
        out["collection"] = None
    trash = _trash_collection(state) if read_view and dash["archived_directly"] else None
    if trash is not None:
        # get-dashboard* hydrates `collection` from the real home, then `present-in-trash-if-archived-directly`
        # swaps only `collection_id` for the Trash's.
        out["collection_id"] = trash["id"]
    out["last-edit-info"] = last_edit_info(state, "dashboard", dash["id"])
    if out["last-edit-info"] is None:
        del out["last-edit-info"]
    return era_filter(state, out)



def era_filter(state: State, dash: dict) -> dict:
    """Dashboards gained these keys with 0.57; older profiles do not return them."""
    if not state.profile.mbql5:
        for key in MBQL5_ERA_KEYS:
            dash.pop(key, None)
    return dash



def question_item(state: State, dash: Row, card: Row) -> dict:
    """A dashboard question in the collection-items shape (recorded collection/root/items.json)."""
    item = {k: card.get(k) for k in ("id", "name", "description", "entity_id", "collection_position", "display",
                                      "collection_preview", "last_used_at", "collection_id", "archived_directly",
                                      "archived", "database_id", "dashboard_id")}
    item.update(location=None, model="card", moderated_status=status(state, "card", card["id"]), can_write=True,
                can_restore=False, can_delete=False, is_remote_synced=False, fully_parameterized=True,
                dashboard={"id": dash["id"], "name": dash["name"], "moderation_status": status(state, "dashboard",
                                                                                               dash["id"])},
                dashboard_count=len(state.table("dashboardcard").where(card_id=card["id"])))
    edit = last_edit_info(state, "card", card["id"])
    if edit:
        item["last-edit-info"] = edit
    return item
