"""Cards (questions, models, metrics): storage per profile, placement rules, cycles, alerts, dashboard questions."""

from __future__ import annotations

from typing import Any

from ... import mbql
from .. import errors, events
from ..profiles import REJECT
from ..store import Row, State, new_entity_id
from . import collections, dataset, library_rules

CARD_SCHEMA = 22


# PUT /api/card/{id}: keys applied whenever present, and keys applied only when non-null (Metabase's update-card!).
UPDATE_WHEN_PRESENT = ("collection_id", "collection_position", "description", "cache_ttl", "dashboard_id")


UPDATE_WHEN_NON_NULL = ("dataset_query", "display", "name", "visualization_settings", "archived", "enable_embedding",
                        "type", "parameters", "parameter_mappings", "embedding_params", "result_metadata",
                        "collection_preview", "embedding_type")


CYCLE_ERROR = "Cannot save card with cycles."


def record_edit(state: State, model: str, object_id: int, user_id: int | None) -> None:
    """Remember who last edited an object (Metabase keeps it in revisions; `last-edit-info` reads it)."""
    state.extra.setdefault("last_edit", {})[(model, object_id)] = {"user_id": user_id, "timestamp": state.now()}


def collection_row(state: State, collection_id: int | None) -> Row | None:
    return state.table("collection").get(collection_id) if collection_id is not None else None


def can_read_card(state: State, user: Row | None, card: Row) -> bool:
    return collections.can_read(state, user, collection_row(state, card.get("collection_id")))


def can_write_card(state: State, user: Row | None, card: Row) -> bool:
    return collections.can_write(state, user, collection_row(state, card.get("collection_id")))


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


def store_query(state: State, query: Any) -> Any:
    """The dataset_query as this profile stores it: MBQL 5 (>= 0.57) or MBQL 4. A classic native query whose
    dimension tags carry MBQL 5 refs is stored empty by 0.61 and refused by 0.62 on (versions.md 0.61)."""
    quirk = state.profile.classic_tags_with_mbql5_refs
    if quirk and mbql.mbql5_refs_in_classic_tags(query):
        if quirk == REJECT:
            raise errors.invalid({"dataset_query": "Invalid query: a legacy native query with MBQL 5 field refs"})
        return {}
    if state.profile.mbql5:
        return mbql.to_mbql5(query, state.profile)
    if isinstance(query, dict) and query.get("lib/type") == "mbql/query":
        # Before 0.57 an MBQL 5 ("MLv2") query is kept as it comes, not converted: models/interface.clj (0.50)
        # `maybe-normalize-query` :in sends a query whose `lib/normalized-query-type` is :mbql/query to
        # `serialize-mlv2-query` (which only drops :lib/metadata), the legacy ones to `mbql.normalize/normalize`;
        # on the way out `deserialize-mlv2-query` gives it back as MBQL 5.
        return {k: v for k, v in query.items() if k != "lib/metadata"}
    stored = mbql.to_legacy(query)
    if state.profile.mbql4_idents and isinstance(stored, dict) and isinstance(stored.get("query"), dict):
        _add_idents(stored["query"])
    return stored


def _add_idents(inner: dict) -> None:
    """0.53-0.56 give each aggregation, breakout and expression of an MBQL 4 stage an ident the first time a card
    is saved (metabase#49681, #50085: `lib.ident/indexed-idents`, maps keyed by position or expression name);
    kept on later saves when the client sends them back. Nested source queries get theirs too."""
    if isinstance(inner.get("source-query"), dict):
        _add_idents(inner["source-query"])
    for key, idents in (("aggregation", "aggregation-idents"), ("breakout", "breakout-idents")):
        if inner.get(key) and not inner.get(idents):
            inner[idents] = {str(i): new_entity_id() for i in range(len(inner[key]))}
    if inner.get("expressions") and not inner.get("expression-idents"):
        inner["expression-idents"] = {name: new_entity_id() for name in inner["expressions"]}


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


def check_target_collection(state: State, user: Row | None, collection_id: int | None) -> None:
    target = collection_row(state, collection_id)
    if collection_id is not None and target is None:
        raise errors.not_found()
    collections.check_not_trash(target)
    if not collections.can_write(state, user, target):
        raise errors.forbidden()


def _check_non_blank(body: dict, field: str) -> None:
    if isinstance(body.get(field), str) and not body[field].strip():
        raise errors.invalid({field: "nullable value must be a non-blank string."},
                             {field: ["should be a non-blank string"]})


def _metadata_or_computed(state: State, query: Any, given: Any) -> Any:
    """The result metadata a saved card gets: the given one, else the columns of its query
    (queries/models/card/metadata.clj: `populate-result-metadata` infers an MBQL query's expected columns on save,
    nil when that fails; a native query's come from `maybe-async-result-metadata`, which runs it). The emulator
    finds both by running the query (its warehouses answer at once; same columns as the QP's expected cols)."""
    if given is not None:
        return given
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
    check_target_collection(state, user, collection_id)
    library_rules.check_allowed_content(state, library_rules.card_content(body.get("type"), body.get("dashboard_id")),
                                        collection_id)
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
        state.emit("card.on_dashboard", card=card, tab_id=body.get("dashboard_tab_id"))
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
            check_target_collection(state, user, updates["collection_id"])
            content = library_rules.card_content(updates.get("type") or card.get("type"),
                                                 updates.get("dashboard_id", card.get("dashboard_id")))
            library_rules.check_allowed_content(state, content, updates["collection_id"])
    if dashboard_changes and updates.get("dashboard_id"):
        if updates.get("archived"):
            raise errors.bad_request()
        updates.update(archived=False, archived_directly=False)
    # Restoring in place while the home collection is archived is allowed (api-surface §23); only moving INTO an
    # archived collection is refused, by check_target_collection above.
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
    if before.get("dataset_query") != card.get("dataset_query"):
        # update-card!: `changed?` on `card-compare-keys` (the query, compared in its stored form)
        state.emit("card.query_changed", card_id=card_id, user_id=user["id"])
    if alerts_broken(before, card):
        state.emit("card.alerts_broken", card_id=card_id)
    if card.get("archived") and old_dashboard_id:
        state.emit("card.left_dashboards", card_id=card_id)
    elif dashboard_changes and (delete_old_dashcards or (old_dashboard_id and card.get("dashboard_id"))):
        state.emit("card.left_dashboards", card_id=card_id)
    if card.get("dashboard_id") and not card.get("archived"):
        state.emit("card.on_dashboard", card=card, tab_id=body.get("dashboard_tab_id"))
    return card


LINE_AREA_BAR = ("line", "area", "bar")


def _breakout_count(query: Any) -> int:
    if mbql.is_mbql5(query):
        stages = query.get("stages") or [{}]
        return len(stages[-1].get("breakout") or [])
    return len(((query or {}).get("query") or {}).get("breakout") or [])


def alerts_broken(old: dict[str, Any], new: Row) -> bool:
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


def delete_card(state: State, user: Row | None, card_id: int) -> None:
    """DELETE /api/card/{id}: the card goes for good, and with it its dashcards (the dashboards area subscribes)."""
    card = state.table("card").get(card_id)
    if card is None:
        raise errors.not_found()
    if not can_write_card(state, user, card):
        raise errors.forbidden()
    state.table("card").delete(card_id)
    state.emit("card.deleted", card_id=card_id)


def move_to_collection(state: State, user: Row | None, card_ids: list[int], target_id: int | None) -> None:
    """POST /api/card/collections (move-cards-to-collection!): every card into one collection, pins appended."""
    check_target_collection(state, user, target_id)
    cards: list[Row] = []
    for card_id in card_ids:
        card = state.table("card").get(card_id)
        if card is None:
            raise errors.not_found()
        if not can_write_card(state, user, card):
            raise errors.forbidden()
        cards.append(card)
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


FILTERS_NEEDING_MODEL_ID = {"database": "metabase_database", "table": "metabase_table", "using_model": "card",
                            "using_segment": "segment"}


def listed(state: State, user: Row, f: str, model_id: Any) -> list[Row]:
    """GET /api/card's filter `f` (all, mine, archived, database, table, using_model ...): the readable cards."""
    if f in FILTERS_NEEDING_MODEL_ID:
        if not isinstance(model_id, int):
            raise errors.checkp("model_id", f"model_id is a required parameter when filter mode is '{f}'")
        if state.table(FILTERS_NEEDING_MODEL_ID[f]).get(model_id) is None:
            raise errors.not_found()
    predicates = {
        "all": lambda c: not c.get("archived"),
        "mine": lambda c: not c.get("archived") and c.get("creator_id") == user["id"],
        "archived": lambda c: bool(c.get("archived")),
        "bookmarked": lambda c: False,  # the emulator keeps no bookmarks
        "database": lambda c: not c.get("archived") and c.get("database_id") == model_id,
        "table": lambda c: not c.get("archived") and c.get("table_id") == model_id,
        "using_model": lambda c: not c.get("archived") and model_id in mbql.source_card_ids(c.get("dataset_query")),
        "using_segment": lambda c: not c.get("archived") and mbql.uses_clause(c.get("dataset_query"), "segment",
                                                                              model_id),
    }
    cards = [c for c in state.table("card").where(predicates[f]) if can_read_card(state, user, c)]
    return cards


# ---------------------------------------------------------------- effects of other areas

@events.on("collection.archived")
def _archive_along(state: State, collection_ids: set[int]) -> None:
    collections.archive_along(collections.in_collections(state, "card", collection_ids))


@events.on("collection.unarchived")
def _restore_along(state: State, collection_ids: set[int]) -> None:
    collections.restore_along(collections.in_collections(state, "card", collection_ids))


@events.on("collection.deleting")
def _delete_along(state: State, collection_ids: set[int]) -> None:
    """A collection deleted for good takes its cards (each leaving its dashboards) with it."""
    for card in collections.in_collections(state, "card", collection_ids):
        state.table("card").delete(card["id"])
        state.emit("card.deleted", card_id=card["id"])
