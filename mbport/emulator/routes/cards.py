"""Cards (questions, models, metrics): /api/card, /api/cards, with MBQL 5 storage and dashboard questions."""

from __future__ import annotations

from typing import Any

import orjson

from .. import errors, mbql
from ..app import NO_CONTENT, Ctx
from ..router import route
from ..store import Row, State
from . import collections, notifications, users

CARD_SCHEMA = 22
# Card keys that first appear with 0.57 (MBQL 5 era); older profiles do not return them. Not `source_card_id`
# (a report_card column since metabase#46356, merged 2024-08, so 0.51) nor `card_schema` (metabase#55714, merged
# 2025-03, so 0.55): every profile here returns both, as the recording of a 0.55-era server does.
MBQL5_ERA_KEYS = ("legacy_query", "document_id", "is_remote_synced", "dependency_analysis_version")
# PUT /api/card/{id}: keys applied whenever present, and keys applied only when non-null (Metabase's update-card!).
UPDATE_WHEN_PRESENT = ("collection_id", "collection_position", "description", "cache_ttl", "dashboard_id")
UPDATE_WHEN_NON_NULL = ("dataset_query", "display", "name", "visualization_settings", "archived", "enable_embedding",
                        "type", "parameters", "parameter_mappings", "embedding_params", "result_metadata",
                        "collection_preview", "embedding_type")
CYCLE_ERROR = "Cannot save card with cycles."


# ---------------------------------------------------------------- helpers shared with other areas

def record_edit(state: State, model: str, object_id: int, user_id: int | None) -> None:
    """Remember who last edited an object (Metabase keeps it in revisions; `last-edit-info` reads it)."""
    state.extra.setdefault("last_edit", {})[(model, object_id)] = {"user_id": user_id, "timestamp": state.now()}


def last_edit_info(state: State, model: str, row: Row) -> dict | None:
    edit = state.extra.get("last_edit", {}).get((model, row["id"]))
    if edit is None:
        edit = {"user_id": row.get("creator_id"), "timestamp": row.get("updated_at")}
    user = state.table("user").get(edit["user_id"]) if edit["user_id"] else None
    if user is None:
        return None
    return {"id": user["id"], "email": user["email"], "first_name": user.get("first_name"),
            "last_name": user.get("last_name"), "timestamp": edit["timestamp"]}


def _collection_row(state: State, collection_id: int | None) -> Row | None:
    return state.table("collection").get(collection_id) if collection_id is not None else None


def can_read_card(state: State, user: Row | None, card: Row) -> bool:
    return collections.can_read(state, user, _collection_row(state, card.get("collection_id")))


def can_write_card(state: State, user: Row | None, card: Row) -> bool:
    return collections.can_write(state, user, _collection_row(state, card.get("collection_id")))


def _minor_version(state: State) -> int:
    try:
        return int(state.profile.tag.lstrip("v").split(".")[1])
    except (IndexError, ValueError):
        return 0


def _legacy_query(state: State, card: Row) -> str | None:
    """0.57-0.61 return the MBQL 4 query as a JSON string; 0.62+ return null for cards written through the API."""
    if _minor_version(state) >= 62 or not card.get("dataset_query"):
        return None
    return orjson.dumps(mbql.to_legacy(card["dataset_query"])).decode()


def _era_filter(state: State, out: dict) -> dict:
    if not state.profile.mbql5:
        for key in MBQL5_ERA_KEYS:
            out.pop(key, None)
    return out


def dashcards_of(state: State, card_id: int) -> list[Row]:
    """Dashcards showing the card, directly or as one of their series."""
    dashcards = state.table("dashboardcard")
    found = {dc["id"]: dc for dc in dashcards.where(card_id=card_id)}
    for series in state.table("dashboardcard_series").where(card_id=card_id):
        dc = dashcards.get(series["dashboardcard_id"])
        if dc is not None:
            found[dc["id"]] = dc
    return [found[i] for i in sorted(found)]


def card_dashboards(state: State, card_id: int) -> list[Row]:
    ids = {dc.get("dashboard_id") for dc in dashcards_of(state, card_id)}
    return [d for d in state.table("dashboard") if d["id"] in ids and not d.get("archived")]


def _dashboard_ref(state: State, card: Row) -> dict | None:
    dash = state.table("dashboard").get(card["dashboard_id"]) if card.get("dashboard_id") else None
    return {"name": dash.get("name"), "id": dash["id"], "moderation_status": None} if dash else None


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
        out["dataset_query"] = mbql.to_legacy(out["dataset_query"])
    writable = can_write_card(state, user, card)
    collection = collections.collection_summary(state, card.get("collection_id"))
    if card.get("collection_id") is None:
        collection = collections.root_summary(collections.can_write(state, user, None))
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
        "moderation_reviews": [],
        "last-edit-info": last_edit_info(state, "card", card),
    })
    return _era_filter(state, out)


def _home_archived(state: State, card: Row) -> bool:
    home = _collection_row(state, card.get("collection_id"))
    return bool(home and home.get("archived"))


def card_item(state: State, user: Row | None, card: Row, model: str) -> dict:
    """A card as GET /api/collection/{id}/items lists it (no dataset_query)."""
    writable = can_write_card(state, user, card)
    return {
        "description": card.get("description"), "archived": bool(card.get("archived")),
        "collection_position": card.get("collection_position"), "can_write": writable,
        "database_id": card.get("database_id") if model != "metric" else None,
        "collection_id": card.get("collection_id"), "name": card["name"], "is_remote_synced": False,
        "dashboard_count": len(dashcards_of(state, card["id"])), "fully_parameterized": _fully_parameterized(card),
        "last_used_at": card.get("last_used_at"), "dashboard": _dashboard_ref(state, card),
        "can_restore": bool(card.get("archived_directly")) and writable and not _home_archived(state, card),
        "moderated_status": None, "id": card["id"], "display": card.get("display"), "entity_id": card["entity_id"],
        "collection_preview": bool(card.get("collection_preview", True)),
        "last-edit-info": last_edit_info(state, "card", card), "location": None,
        "dashboard_id": card.get("dashboard_id"), "can_delete": bool(card.get("archived")) and writable,
        "model": model,
    }


def dashboard_item(state: State, user: Row | None, dash: Row, listed: Row | None) -> dict:
    """A dashboard as collection items list it; `here: ["card"]` when dashboard questions sit on it."""
    writable = collections.can_write(state, user, _collection_row(state, dash.get("collection_id")))
    item = {
        "description": dash.get("description"), "archived": bool(dash.get("archived")),
        "collection_position": dash.get("collection_position"), "can_write": writable, "database_id": None,
        "collection_id": dash.get("collection_id"), "name": dash.get("name"), "is_remote_synced": False,
        "last_used_at": dash.get("last_viewed_at"),
        "can_restore": bool(dash.get("archived_directly")) and writable, "moderated_status": None,
        "id": dash["id"], "entity_id": dash.get("entity_id"), "last-edit-info": last_edit_info(state, "dashboard", dash),
        "location": collections.children_location(listed) if listed and not collections.is_trash(listed) else "/",
        "dashboard_id": None, "can_delete": bool(dash.get("archived")) and writable, "model": "dashboard",
    }
    questions = state.table("card").where(dashboard_id=dash["id"], archived=False)
    if any(dc.get("dashboard_id") == dash["id"] for q in questions for dc in dashcards_of(state, q["id"])):
        item["here"] = ["card"]
    return item


# ---------------------------------------------------------------- writing

def store_query(state: State, query: Any) -> Any:
    """The dataset_query as this profile stores it: MBQL 5 (>= 0.57) or MBQL 4."""
    return mbql.to_mbql5(query, state.profile) if state.profile.mbql5 else mbql.to_legacy(query)


def _derived_columns(state: State, query: Any) -> dict:
    stage = mbql.first_stage(query) if query else {}
    source_card = stage.get("source-card")
    table_id = stage.get("source-table") if isinstance(stage.get("source-table"), int) else None
    if source_card is not None:
        source = state.table("card").get(source_card)
        table_id = source.get("table_id") if source else None
    return {"database_id": (query or {}).get("database"), "table_id": table_id,
            "query_type": mbql.query_type(query), "source_card_id": source_card}


def _check_no_cycle(state: State, card_id: int | None, query: Any) -> None:
    """A card may not read itself through any chain of source cards (or card template tags)."""
    if card_id is None:
        return
    seen: set[int] = set()
    pending = list(mbql.source_card_ids(query))
    while pending:
        current = pending.pop()
        if current == card_id:
            raise errors.bad_request(CYCLE_ERROR)
        if current in seen:
            continue
        seen.add(current)
        other = state.table("card").get(current)
        if other:
            pending += mbql.source_card_ids(other.get("dataset_query"))


def _dashboard_collection_id(state: State, dashboard_id: int) -> int | None:
    dash = state.table("dashboard").get(dashboard_id)
    if dash is None:
        raise errors.not_found()
    return dash.get("collection_id")


def actual_collection_id(state: State, body: dict) -> int | None:
    """Where a card goes: its dashboard's collection for a dashboard question (both given must match)."""
    dashboard_id = body.get("dashboard_id")
    if "collection_id" in body and dashboard_id:
        dash_collection = _dashboard_collection_id(state, dashboard_id)
        if body["collection_id"] != dash_collection:
            raise errors.bad_request(
                "Mismatch detected between Dashboard's `collection_id` "
                f"({_fmt(dash_collection)}) and `collection_id` ({_fmt(body['collection_id'])})")
        return body["collection_id"]
    if "collection_id" in body:
        return body["collection_id"]
    if dashboard_id:
        return _dashboard_collection_id(state, dashboard_id)
    return None


def _fmt(value: Any) -> str:
    return "null" if value is None else str(value)


def _check_target_collection(state: State, user: Row | None, collection_id: int | None) -> None:
    target = _collection_row(state, collection_id)
    if collection_id is not None and target is None:
        raise errors.not_found()
    collections.check_not_trash(target)
    if not collections.can_write(state, user, target):
        raise errors.forbidden()


def _check_non_blank(body: dict, field: str) -> None:
    if isinstance(body.get(field), str) and not body[field].strip():
        raise errors.invalid({field: "nullable value must be a non-blank string."},
                             {field: ["should be a non-blank string"]})


def _autoplace(state: State, card: Row, tab_id: int | None = None) -> None:
    try:
        from . import dashboards
    except ImportError:
        return
    if hasattr(dashboards, "autoplace_for_card"):
        dashboards.autoplace_for_card(state, card, tab_id)


def _remove_dashcards(state: State, card_id: int) -> None:
    try:
        from . import dashboards
    except ImportError:
        return
    if hasattr(dashboards, "remove_dashcards_for_card"):
        dashboards.remove_dashcards_for_card(state, card_id)


def _metadata_or_computed(state: State, query: Any, given: Any) -> Any:
    """The result metadata a saved card gets: the given one, else for a native query the columns of a run
    (queries/models/card/metadata.clj `maybe-async-result-metadata`). An MBQL query's metadata Metabase infers
    from the query without running it; the emulator leaves it empty until the card is run (`record-metadata!`)."""
    if given is not None or mbql.query_type(query) != "native":
        return given
    from . import dataset

    return dataset.query_metadata_by_running(state, query)


def create_card(state: State, user: Row, body: dict) -> Row:
    """POST /api/card's create-card!: a fresh entity_id always, the query stored per profile."""
    _check_non_blank(body, "name")
    _check_non_blank(body, "description")
    if body.get("dashboard_tab_id") and not body.get("dashboard_id"):
        raise errors.bad_request()
    placement = {k: body[k] for k in ("collection_id", "dashboard_id") if k in body}
    if placement.get("collection_id") is not None:
        placement["collection_id"] = collections.resolve(state, placement["collection_id"])["id"]
    collection_id = actual_collection_id(state, placement)
    _check_target_collection(state, user, collection_id)
    query = store_query(state, body["dataset_query"])
    # A new pin at collection_position shifts the collection's pins at and after it (create-card!).
    collections.maybe_reconcile_collection_position(
        state, None, {"collection_id": collection_id, "collection_position": body.get("collection_position")})
    now = state.now()
    card = state.table("card").insert({
        "name": body["name"], "description": body.get("description"), "display": body["display"],
        "type": body.get("type") or "question", "dataset_query": query,
        "visualization_settings": body.get("visualization_settings") or {},
        "parameters": body.get("parameters") or [], "parameter_mappings": body.get("parameter_mappings") or [],
        "result_metadata": _metadata_or_computed(state, query, body.get("result_metadata")),
        **_derived_columns(state, query),
        "collection_id": collection_id, "collection_position": body.get("collection_position"),
        "collection_preview": True, "dashboard_id": body.get("dashboard_id"), "document_id": None,
        "archived": False, "archived_directly": False, "creator_id": user["id"], "made_public_by_id": None,
        "public_uuid": None, "enable_embedding": False, "embedding_params": None, "cache_ttl": body.get("cache_ttl"),
        "cache_invalidated_at": None, "view_count": 0, "last_used_at": None, "initially_published_at": None,
        "metabase_version": f"{state.profile.tag} ({state.profile.hash})", "card_schema": CARD_SCHEMA,
        "dependency_analysis_version": 0, "is_remote_synced": False,
    }, now=now)
    record_edit(state, "card", card["id"], user["id"])
    if card["dashboard_id"]:
        _autoplace(state, card, body.get("dashboard_tab_id"))
    return card


def update_card(state: State, user: Row, card_id: int, body: dict, delete_old_dashcards: bool) -> Row:
    """PUT /api/card/{id}'s update-card!: partial update, archive/unarchive, moves between collections/dashboards."""
    card = state.table("card").get(card_id)
    if card is None:
        raise errors.not_found()
    if not can_write_card(state, user, card):
        raise errors.forbidden()
    _check_non_blank(body, "name")
    updates = dict(body)
    if "dataset_query" in updates and updates["dataset_query"] is not None:
        _check_no_cycle(state, card_id, updates["dataset_query"])
        updates["dataset_query"] = store_query(state, updates["dataset_query"])
        updates.update(_derived_columns(state, updates["dataset_query"]))
        updates["result_metadata"] = _metadata_or_computed(state, updates["dataset_query"], updates.get("result_metadata"))
    archiving = updates.get("archived") is not None and bool(updates["archived"]) != bool(card.get("archived"))
    if archiving:
        updates["archived_directly"] = bool(updates["archived"])
        if updates["archived"]:
            # Metabase drops a collection_id sent along with archived=true (a frontend undo quirk).
            updates.pop("collection_id", None)
    dashboard_changes = "dashboard_id" in updates and updates["dashboard_id"] != card.get("dashboard_id")
    collection_changes = "collection_id" in updates and updates["collection_id"] != card.get("collection_id")
    if card.get("dashboard_id") and collection_changes and "dashboard_id" not in updates:
        raise errors.bad_request(
            "Mismatch detected between Dashboard's `collection_id` "
            f"({_fmt(card.get('collection_id'))}) and `collection_id` ({_fmt(updates['collection_id'])})")
    if dashboard_changes or collection_changes:
        updates["collection_id"] = actual_collection_id(state, updates)
        if updates["collection_id"] != card.get("collection_id"):
            _check_target_collection(state, user, updates["collection_id"])
    if dashboard_changes and updates.get("dashboard_id"):
        if updates.get("archived"):
            raise errors.bad_request()
        updates.update(archived=False, archived_directly=False)
    # Restoring in place while the home collection is archived is allowed (api-surface §23); only moving INTO an
    # archived collection is refused, by _check_target_collection above.
    if updates.get("type") and updates["type"] == "model" and updates.get("display") != "list":
        updates["display"] = "table"
    old_dashboard_id = card.get("dashboard_id")
    before = dict(card)
    collections.maybe_reconcile_collection_position(state, card, updates)  # update-card!, before the write
    for key in UPDATE_WHEN_PRESENT + ("archived_directly", "database_id", "table_id", "query_type", "source_card_id"):
        if key in updates:
            card[key] = updates[key]
    for key in UPDATE_WHEN_NON_NULL:
        if updates.get(key) is not None:
            card[key] = updates[key]
    card["updated_at"] = state.now()
    record_edit(state, "card", card_id, user["id"])
    if alerts_broken(before, card):
        notifications.delete_card_notifications(state, card_id)
    if card.get("archived") and old_dashboard_id:
        _remove_dashcards(state, card_id)
    elif dashboard_changes and (delete_old_dashcards or (old_dashboard_id and card.get("dashboard_id"))):
        _remove_dashcards(state, card_id)
    if card.get("dashboard_id") and not card.get("archived"):
        _autoplace(state, card, body.get("dashboard_tab_id"))
    return card


LINE_AREA_BAR = ("line", "area", "bar")


def _breakout_count(query: Any) -> int:
    if mbql.is_mbql5(query):
        stages = query.get("stages") or [{}]
        return len(stages[-1].get("breakout") or [])
    return len(((query or {}).get("query") or {}).get("breakout") or [])


def alerts_broken(old: Row, new: Row) -> bool:
    """Whether this card update deletes the card's active alerts: pulse/update_alerts.clj `delete-alerts-if-needed!`
    (called by update-card!): the card was archived, or its display / goal no longer fits an alert."""
    if not old.get("archived") and new.get("archived"):  # card-archived?
        return True
    was, now = old.get("display"), new.get("display")
    rows_alert = was not in (*LINE_AREA_BAR, "progress")  # allows-rows-alert?
    if was != now and ((rows_alert and now in (*LINE_AREA_BAR, "progress"))  # display-change-broke-alert?
                       or (was in LINE_AREA_BAR and now not in LINE_AREA_BAR)
                       or (was == "progress" and now != "progress")):
        return True
    goal = (new.get("visualization_settings") or {}).get("graph.goal_value")
    if (old.get("visualization_settings") or {}).get("graph.goal_value") and not goal:  # goal-missing?
        return True
    return bool(goal and now in (*LINE_AREA_BAR, "progress")  # multiple-breakouts?
                and _breakout_count(new.get("dataset_query")) > 1)


def _get_readable(ctx: Ctx, id_or_eid: Any) -> Row:
    card = ctx.state.table("card").get(id_or_eid)
    if card is None:
        raise errors.not_found()
    if not can_read_card(ctx.state, ctx.user, card):
        raise errors.forbidden()
    return card


# ---------------------------------------------------------------- routes

def _list_row(state: State, card: Row) -> dict:
    out = dict(card)
    if state.profile.mbql5:
        out["legacy_query"] = _legacy_query(state, card)
    out["creator"] = users.creator(state, card.get("creator_id"))
    out["collection"] = state.table("collection").get(card["collection_id"]) if card.get("collection_id") else None
    edit = last_edit_info(state, "card", card)
    if edit:
        out["last-edit-info"] = edit
    return _era_filter(state, out)


FILTERS_NEEDING_MODEL_ID = {"database": "metabase_database", "table": "metabase_table", "using_model": "card",
                            "using_segment": "segment"}


@route("GET", "/api/card")
def list_cards(ctx: Ctx):
    state, f = ctx.state, ctx.query.get("f") or "all"
    model_id = ctx.query.get("model_id")
    if f in FILTERS_NEEDING_MODEL_ID:
        if not isinstance(model_id, int):
            raise errors.checkp("model_id", f"model_id is a required parameter when filter mode is '{f}'")
        if state.table(FILTERS_NEEDING_MODEL_ID[f]).get(model_id) is None:
            raise errors.not_found()
    predicates = {
        "all": lambda c: not c.get("archived"),
        "mine": lambda c: not c.get("archived") and c.get("creator_id") == ctx.user["id"],
        "archived": lambda c: bool(c.get("archived")),
        "bookmarked": lambda c: False,  # the emulator keeps no bookmarks
        "database": lambda c: not c.get("archived") and c.get("database_id") == model_id,
        "table": lambda c: not c.get("archived") and c.get("table_id") == model_id,
        "using_model": lambda c: not c.get("archived") and model_id in mbql.source_card_ids(c.get("dataset_query")),
        "using_segment": lambda c: not c.get("archived") and mbql.uses_clause(c.get("dataset_query"), "segment",
                                                                              model_id),
    }
    cards = [c for c in state.table("card").where(predicates[f]) if can_read_card(state, ctx.user, c)]
    cards.sort(key=lambda c: (c["name"].lower(), c["id"]))
    return [_list_row(state, c) for c in cards]


@route("POST", "/api/card")
def post_card(ctx: Ctx):
    card = create_card(ctx.state, ctx.user, ctx.body or {})
    return hydrate_card(ctx.state, card, user=ctx.user)


@route("GET", "/api/card/{id}")
def get_card(ctx: Ctx, id: Any):  # noqa: A002 - the spec's path parameter
    card = _get_readable(ctx, id)
    out = hydrate_card(ctx.state, card, legacy_mbql=bool(ctx.query.get("legacy-mbql")), user=ctx.user)
    if card.get("archived_directly"):
        # The stored collection_id is kept (the Trash is no real parent); GET presents the card in the Trash.
        out["collection_id"] = collections.trash_id(ctx.state)
    return out


@route("PUT", "/api/card/{id}")
def put_card(ctx: Ctx, id: int):  # noqa: A002
    card = update_card(ctx.state, ctx.user, id, ctx.body or {}, bool(ctx.query.get("delete_old_dashcards")))
    return hydrate_card(ctx.state, card, user=ctx.user)


@route("DELETE", "/api/card/{id}")
def delete_card(ctx: Ctx, id: int):  # noqa: A002
    card = ctx.state.table("card").get(id)
    if card is None:
        raise errors.not_found()
    if not can_write_card(ctx.state, ctx.user, card):
        raise errors.forbidden()
    _remove_dashcards(ctx.state, id)
    ctx.state.table("card").delete(id)
    return NO_CONTENT


@route("GET", "/api/card/{id}/dashboards")
def get_card_dashboards(ctx: Ctx, id: int):  # noqa: A002
    card = _get_readable(ctx, id)
    dashboards = card_dashboards(ctx.state, card["id"])
    for dash in dashboards:
        if not collections.can_write(ctx.state, ctx.user, _collection_row(ctx.state, dash.get("collection_id"))):
            raise errors.forbidden()
    return [{"id": d["id"], "name": d.get("name")} for d in dashboards]


@route("POST", "/api/card/{id}/copy")
def copy_card(ctx: Ctx, id: int):  # noqa: A002
    original = _get_readable(ctx, id)
    keys = ("description", "display", "dataset_query", "visualization_settings", "parameters", "parameter_mappings",
            "collection_id", "collection_position", "result_metadata", "type", "cache_ttl", "dashboard_id")
    body = {k: original.get(k) for k in keys}
    body["name"] = f"Copy of {original['name']}"
    if body.get("dashboard_id") is None:
        body.pop("dashboard_id")
    card = create_card(ctx.state, ctx.user, body)
    return hydrate_card(ctx.state, card, user=ctx.user)


@route("POST", "/api/card/collections")
def move_cards_to_collection(ctx: Ctx):
    state, body = ctx.state, ctx.body or {}
    target_id = body.get("collection_id")
    _check_target_collection(state, ctx.user, target_id)
    cards = [state.table("card").get(i) for i in body["card_ids"]]
    for card in cards:
        if card is None:
            raise errors.not_found()
        if not can_write_card(state, ctx.user, card):
            raise errors.forbidden()
    # Metabase's move-cards-to-collection!: pinned cards are appended after the target's highest card pin, the
    # highest first, each leaving its old collection's pins contiguous; cards already there are left alone.
    moving = [c for c in cards if c.get("collection_id") != target_id]
    pinned = sorted((c for c in moving if c.get("collection_position")), key=lambda c: c["collection_position"])
    positions = [c["collection_position"] for c in state.table("card").where(collection_id=target_id)
                 if c.get("collection_position")]
    start = max(positions, default=0) + 1
    for position, card in reversed(list(enumerate(pinned, start))):
        collections.reconcile_position_for_collection(state, card.get("collection_id"), card["collection_position"],
                                                      None)
        card.update(collection_position=position, collection_id=target_id)
    for card in moving:
        card["collection_id"] = target_id
    return {"status": "ok"}


@route("POST", "/api/cards/move")
def move_cards(ctx: Ctx):
    body = ctx.body or {}
    placement = {k: body[k] for k in ("collection_id", "dashboard_id") if k in body}
    for card_id in body["card_ids"]:
        update_card(ctx.state, ctx.user, card_id, placement, True)
    return {"status": "success"}


@route("POST", "/api/cards/dashboards")
def cards_dashboards(ctx: Ctx):
    state = ctx.state
    out = []
    for card_id in (ctx.body or {})["card_ids"]:
        dashboards = []
        for dash in card_dashboards(state, card_id):
            coll = _collection_row(state, dash.get("collection_id"))
            if not collections.can_read(state, ctx.user, coll):
                dashboards.append({"error": "unreadable-dashboard"})
            elif not collections.can_write(state, ctx.user, coll):
                dashboards.append({"id": dash["id"], "name": dash.get("name"), "error": "unwritable-dashboard"})
            else:
                dashboards.append({"id": dash["id"], "name": dash.get("name")})
        out.append({"card_id": card_id, "dashboards": dashboards})
    return out
