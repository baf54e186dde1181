"""What card answers look like: GET /api/card's hydrated card, list rows, and cards/dashboards as collection items."""

from __future__ import annotations

import orjson

from ... import mbql
from ..models import collections
from ..models.cards import can_write_card, collection_row, dashcards_of
from ..models.moderation import dashboards_verifiable, status
from ..models.versions import DIMENSIONS_SINCE, minor_version
from ..store import Row, State
from . import summaries as collection_shapes
from . import users
from .moderation import reviews_out

# Card keys that first appear with 0.57 (MBQL 5 era); older profiles do not return them. Not `source_card_id`
# (a report_card column since metabase#46356, merged 2024-08, so 0.51) nor `card_schema` (metabase#55714, merged
# 2025-03, so 0.55): every profile here returns both, as the recording of a 0.55-era server does.
MBQL5_ERA_KEYS = ("legacy_query", "document_id", "is_remote_synced", "dependency_analysis_version")


def last_edit_info(state: State, model: str, row: Row) -> dict | None:
    edit = state.extra.get("last_edit", {}).get((model, row["id"]))
    if edit is None:
        edit = {"user_id": row.get("creator_id"), "timestamp": row.get("updated_at")}
    user = state.table("user").get(edit["user_id"]) if edit["user_id"] else None
    if user is None:
        return None
    return {"id": user["id"], "email": user["email"], "first_name": user.get("first_name"),
            "last_name": user.get("last_name"), "timestamp": edit["timestamp"]}


def _legacy_query(state: State, card: Row) -> str | None:
    """0.57-0.61 return the MBQL 4 query as a JSON string; 0.62+ return null for cards written through the API."""
    if state.profile.legacy_query_null or not card.get("dataset_query"):
        return None
    return orjson.dumps(legacy(state, card["dataset_query"])).decode()


def legacy(state: State, query: dict) -> dict:
    """The MBQL 4 view of a stored query (`legacy_query`, `?legacy-mbql=true`); 0.61 on keeps dimension tags' MBQL 5
    refs in it (versions.md 0.61)."""
    return mbql.to_legacy(query, keep_tag_refs=state.profile.legacy_tags_keep_mbql5_refs)


# Dashboard questions (metabase#47784, 0.53): the report_card columns and the hydrated dashboard a 0.50 card lacks.
DASHBOARD_QUESTION_KEYS = ("dashboard_id", "dashboard_tab_id", "dashboard")


def _era_filter(state: State, out: dict) -> dict:
    if minor_version(state) >= DIMENSIONS_SINCE:  # report_card columns (null until a metric's first read)
        out.setdefault("dimensions", None)
        out.setdefault("dimension_mappings", None)
    if not state.profile.mbql5:
        for key in MBQL5_ERA_KEYS:
            out.pop(key, None)
    if not state.profile.dashboard_questions:
        for key in DASHBOARD_QUESTION_KEYS:
            out.pop(key, None)
    minor = minor_version(state)
    if minor < 51:
        out.pop("source_card_id", None)
    if minor < 55:
        out.pop("card_schema", None)
    return out


def _dashboard_ref(state: State, card: Row) -> dict | None:
    dash = state.table("dashboard").get(card["dashboard_id"]) if card.get("dashboard_id") else None
    # hydrate-card-details `[:dashboard :moderation_status]`: the dashboard's newest review's status
    return {"name": dash.get("name"), "id": dash["id"], "moderation_status": status(state, "dashboard", dash["id"])} \
        if dash else None


def _fully_parameterized(card: Row) -> bool:
    query = card.get("dataset_query") or {}
    stage = mbql.first_stage(query) if mbql.is_mbql5(query) else (query.get("native") or {})
    tags = stage.get("template-tags") or {}
    for tag in tags.values() if isinstance(tags, dict) else tags:
        if tag.get("type") in ("snippet", "card"):
            continue
        if tag.get("required") and tag.get("default") is None:
            return False
    return True


def hydrate_card(state: State, card: Row, legacy_mbql: bool = False, user: Row | None = None) -> dict:
    """The GET /api/card/{id} shape (hydrate-card-details); `user` decides the permission flags (None = admin)."""
    out = dict(card)
    if state.profile.mbql5:
        out["legacy_query"] = _legacy_query(state, card)
    if legacy_mbql and out.get("dataset_query"):
        out["dataset_query"] = legacy(state, out["dataset_query"])
    writable = can_write_card(state, user, card)
    collection = collection_shapes.collection_summary(state, card.get("collection_id"))
    if card.get("collection_id") is None:
        collection = collection_shapes.root_summary(collections.can_write(state, user, None))
    out.update({
        "creator": users.creator(state, card.get("creator_id")),
        "can_write": writable,
        "dashboard_count": len(dashcards_of(state, card["id"])),
        "dashboard": _dashboard_ref(state, card),
        "average_query_time": None,
        "last_query_start": None,
        "parameter_usage_count": 0,
        "can_restore": bool(card.get("archived_directly")) and writable and not _home_archived(state, card),
        "can_delete": bool(card.get("archived")) and writable,
        "can_manage_db": bool(user is None or user.get("is_superuser")),
        "can_run_adhoc_query": True,
        "collection": collection,
        "moderation_reviews": reviews_out(state, "card", card["id"]),  # [:moderation_reviews :moderator_details]
        "last-edit-info": last_edit_info(state, "card", card),
    })
    return _era_filter(state, out)


def _home_archived(state: State, card: Row) -> bool:
    home = collection_row(state, card.get("collection_id"))
    return bool(home and home.get("archived"))


def card_item(state: State, user: Row | None, card: Row, model: str) -> dict:
    """A card as GET /api/collection/{id}/items lists it (no dataset_query)."""
    writable = can_write_card(state, user, card)
    item = {
        "description": card.get("description"), "archived": bool(card.get("archived")),
        "collection_position": card.get("collection_position"), "can_write": writable,
        "database_id": card.get("database_id") if model != "metric" else None,
        "collection_id": card.get("collection_id"), "name": card["name"], "is_remote_synced": False,
        "dashboard_count": len(dashcards_of(state, card["id"])), "fully_parameterized": _fully_parameterized(card),
        "last_used_at": card.get("last_used_at"), "dashboard": _dashboard_ref(state, card),
        "can_restore": bool(card.get("archived_directly")) and writable and not _home_archived(state, card),
        "moderated_status": status(state, "card", card["id"]), "id": card["id"], "display": card.get("display"), "entity_id": card["entity_id"],
        "collection_preview": bool(card.get("collection_preview", True)),
        "last-edit-info": last_edit_info(state, "card", card), "location": None,
        "dashboard_id": card.get("dashboard_id"), "can_delete": bool(card.get("archived")) and writable,
        "model": model,
    }
    if not state.profile.dashboard_questions:
        for key in DASHBOARD_QUESTION_KEYS:
            item.pop(key, None)
    return item


def dashboard_item(state: State, user: Row | None, dash: Row, listed: Row | None) -> dict:
    """A dashboard as collection items list it; `here: ["card"]` when dashboard questions sit on it."""
    writable = collections.can_write(state, user, collection_row(state, dash.get("collection_id")))
    item = {
        "description": dash.get("description"), "archived": bool(dash.get("archived")),
        "collection_position": dash.get("collection_position"), "can_write": writable, "database_id": None,
        "collection_id": dash.get("collection_id"), "name": dash.get("name"), "is_remote_synced": False,
        "last_used_at": dash.get("last_viewed_at"),
        "can_restore": bool(dash.get("archived_directly")) and writable,
        "moderated_status": status(state, "dashboard", dash["id"]),
        "id": dash["id"], "entity_id": dash.get("entity_id"), "last-edit-info": last_edit_info(state, "dashboard", dash),
        "location": collections.children_location(listed) if listed and not collections.is_trash(listed) else "/",
        "dashboard_id": None, "can_delete": bool(dash.get("archived")) and writable, "model": "dashboard",
    }
    if not dashboards_verifiable(state):  # collection.clj selects a dashboard's review status from 0.52 on
        del item["moderated_status"]
    questions = state.table("card").where(dashboard_id=dash["id"], archived=False)
    if any(dc.get("dashboard_id") == dash["id"] for q in questions for dc in dashcards_of(state, q["id"])):
        item["here"] = ["card"]
    return item


def list_row(state: State, card: Row) -> dict:
    out = dict(card)
    if state.profile.mbql5:
        out["legacy_query"] = _legacy_query(state, card)
    out["creator"] = users.creator(state, card.get("creator_id"))
    out["collection"] = state.table("collection").get(card["collection_id"]) if card.get("collection_id") else None
    edit = last_edit_info(state, "card", card)
    if edit:
        out["last-edit-info"] = edit
    return _era_filter(state, out)
