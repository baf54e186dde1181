"""Dashboards, dashcards and tabs: the Dashboard model's rules (layout diff, placement of dashboard questions,
archive and delete cascades, copies) and its reactions to other areas' events."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from .. import errors, events
from ..store import Row, State
from . import collections, library_rules
from .collections import check_not_trash, maybe_reconcile_collection_position

GRID_WIDTH = 24



# metabase.dashboards.constants/card-size-defaults (:default entries); unknown displays get 4x4.
CARD_SIZE_DEFAULTS: dict[str, tuple[int, int]] = {
    "table": (12, 9), "list": (12, 9), "gauge": (12, 6), "bar": (12, 6), "pie": (12, 8), "scatter": (12, 6),
    "boxplot": (12, 6), "waterfall": (14, 6), "combo": (12, 6), "sankey": (16, 10), "scalar": (6, 3),
    "line": (12, 6), "link": (8, 1), "iframe": (12, 8), "action": (4, 1), "area": (12, 6), "pivot": (12, 9),
    "funnel": (12, 6), "progress": (12, 6), "smartscalar": (6, 3), "map": (12, 6), "object": (12, 9),
    "row": (12, 6), "heading": (GRID_WIDTH, 1), "text": (12, 3),
}



DEFAULT_CARD_SIZE = (4, 4)



# Edits recorded for `last-edit-info` (Metabase derives it from the latest revision), keyed by (model, id).
LAST_EDIT = "last_edit"



DASHCARD_COLUMNS = frozenset({
    "id", "entity_id", "created_at", "updated_at", "dashboard_id", "dashboard_tab_id", "card_id", "action_id",
    "row", "col", "size_x", "size_y", "parameter_mappings", "visualization_settings", "inline_parameters",
})



# A new dashcard is inserted with every key of the request item except these (dashboard_card.clj).
NEW_DASHCARD_IGNORED = frozenset({"id", "created_at", "updated_at", "entity_id", "series", "card",
                                  "collection_authority_level"})



DASHCARD_UPDATE_KEYS = ("action_id", "card_id", "row", "col", "size_x", "size_y", "parameter_mappings",
                        "visualization_settings", "dashboard_tab_id", "inline_parameters")



# Dashboard PUT: keys written whenever present, and keys written only when non-null (update-dashboard!).
UPDATE_WHEN_PRESENT = ("description", "position", "width", "collection_id", "collection_position", "cache_ttl",
                       "archived_directly", "embedding_type")



UPDATE_WHEN_NON_NIL = ("name", "parameters", "caveats", "points_of_interest", "show_in_getting_started",
                       "enable_embedding", "embedding_params", "archived", "auto_apply_filters")



NO_TAB_MESSAGE = "This dashboard has tab, makes sure every card has a tab"



SHALLOW_COPY_MESSAGE = "You cannot do a shallow copy of this dashboard because it contains Dashboard Questions."



def init_state(state: State) -> None:
    state.extra.setdefault(LAST_EDIT, {})



def _dashboard_or_404(state: State, id_: Any) -> Row:
    dash = state.table("dashboard").get(id_)
    if dash is None:
        raise errors.not_found()
    return dash



def allowed(state: State, user: Row | None, collection_id: int | None, write: bool) -> bool:
    """Collection permissions decide what a user may read or write (the collections area owns them)."""
    check = collections.can_write if write else collections.can_read
    coll = state.table("collection").get(collection_id) if collection_id is not None else None
    return check(state, user, coll)



def checked(state: State, user: Row | None, id_: Any, write: bool = False) -> Row:
    """The dashboard, after api/read-check or api/write-check (404, then 403)."""
    dash = _dashboard_or_404(state, id_)
    if not allowed(state, user, dash["collection_id"], write):
        raise errors.forbidden()
    return dash



def dashcards_on(state: State, dashboard_id: int) -> list[Row]:
    return state.table("dashboardcard").where(dashboard_id=dashboard_id)



def tabs_of(state: State, dashboard_id: int) -> list[Row]:
    return sorted(state.table("dashboard_tab").where(dashboard_id=dashboard_id), key=lambda t: (t["position"], t["id"]))



def series_ids(state: State, dashcard_id: int) -> list[int]:
    rows = state.table("dashboardcard_series").where(dashboardcard_id=dashcard_id)
    return [r["card_id"] for r in sorted(rows, key=lambda r: r["position"])]



def _set_series(state: State, dashcard_id: int, card_ids: list[int]) -> None:
    series = state.table("dashboardcard_series")
    for row in series.where(dashboardcard_id=dashcard_id):
        series.delete(row["id"])
    for position, card_id in enumerate(card_ids):
        if state.table("card").get(card_id) is None:
            raise _foreign_key_violation("dashboardcard_series", "card_id", card_id)
        series.insert({"dashboardcard_id": dashcard_id, "card_id": card_id, "position": position})



def _foreign_key_violation(table: str, column: str, value: Any) -> errors.ApiError:
    """What the application database answers when a row points at nothing: a 500, as in Metabase."""
    return errors.server_error(
        f'ERROR: insert or update on table "{table}" violates foreign key constraint '
        f'"fk_{table}_{column}". Detail: Key ({column})=({value}) is not present.'
    )



def _record_edit(state: State, model: str, id_: int, user_id: int | None) -> None:
    if user_id is not None:
        state.extra.setdefault(LAST_EDIT, {})[(model, id_)] = {"user_id": user_id, "timestamp": state.now()}



def autoplace_for_card(state: State, card: Row, tab_id: int | None = None) -> Row | None:
    """Give a dashboard question a dashcard: default size for its display, first free slot, given or first tab.

    Does nothing when the card is not a dashboard question or is already on its dashboard. `tab_id` (or the
    card's transient `dashboard_tab_id`) restricts the placement to that tab.
    """
    dashboard_id = card.get("dashboard_id")
    if dashboard_id is None or state.table("dashboard").get(dashboard_id) is None:
        return None
    dashcards = dashcards_on(state, dashboard_id)
    if any(dc["card_id"] == card["id"] for dc in dashcards):
        return None
    wanted_tab = tab_id if tab_id is not None else card.get("dashboard_tab_id")
    tabs = [t for t in tabs_of(state, dashboard_id) if wanted_tab is None or t["id"] == wanted_tab]
    first_tab = tabs[0] if tabs else None
    on_tab = [dc for dc in dashcards if dc["dashboard_tab_id"] == first_tab["id"]] if first_tab else dashcards
    size_x, size_y = CARD_SIZE_DEFAULTS.get(card.get("display") or "", DEFAULT_CARD_SIZE)
    row, col = _first_free_slot(on_tab, size_x, size_y)
    placed = _insert_dashcard(state, {
        "dashboard_id": dashboard_id, "dashboard_tab_id": first_tab["id"] if first_tab else None,
        "card_id": card["id"], "row": row, "col": col, "size_x": size_x, "size_y": size_y,
    })
    _record_edit(state, "dashboard", dashboard_id, card.get("creator_id"))
    return placed



def _first_free_slot(dashcards: list[Row], size_x: int, size_y: int) -> tuple[int, int]:
    """Row by row, left to right, the first position where a size_x by size_y card overlaps nothing."""
    def overlaps(row: int, col: int, other: Row) -> bool:
        return not (other["col"] >= col + size_x or other["col"] + other["size_x"] <= col
                    or other["row"] >= row + size_y or other["row"] + other["size_y"] <= row)

    for row in range(1000):
        for col in range(GRID_WIDTH - size_x + 1):
            if not any(overlaps(row, col, dc) for dc in dashcards):
                return row, col
    raise errors.server_error("No space left on the dashboard for a new card.")



def remove_dashcards_for_card(state: State, card_id: int, dashboard_id: int | None = None) -> None:
    """Remove the dashcards showing a card and its uses as a series (on one dashboard, or on all)."""
    for dc in state.table("dashboardcard").where(card_id=card_id):
        if dashboard_id is None or dc["dashboard_id"] == dashboard_id:
            _delete_dashcards(state, [dc["id"]])
    dashcards = state.table("dashboardcard")
    series = state.table("dashboardcard_series")
    for row in series.where(card_id=card_id):
        owner = dashcards.get(row["dashboardcard_id"])
        if dashboard_id is None or (owner and owner["dashboard_id"] == dashboard_id):
            series.delete(row["id"])



def _insert_dashcard(state: State, values: dict[str, Any]) -> Row:
    row: dict[str, Any] = {"dashboard_tab_id": None, "card_id": None, "action_id": None, "parameter_mappings": [],
           "visualization_settings": {}}
    if state.profile.inline_parameters:
        row["inline_parameters"] = None
    row.update({k: v for k, v in values.items() if v is not None or k not in ("parameter_mappings", "visualization_settings")})
    return state.table("dashboardcard").insert(row, now=state.now())



def _delete_dashcards(state: State, dashcard_ids: list[int]) -> None:
    """Delete dashcards with their series rows and the subscription cards that point at them."""
    ids = set(dashcard_ids)
    for row in state.table("dashboardcard_series").where(lambda r: r["dashboardcard_id"] in ids):
        state.table("dashboardcard_series").delete(row["id"])
    for row in state.table("pulse_card").where(lambda r: r.get("dashboard_card_id") in ids):
        state.table("pulse_card").delete(row["id"])
    for id_ in ids:
        state.table("dashboardcard").delete(id_)



def delete_subscriptions(state: State, dashboard_id: int) -> None:
    """Subscriptions die with their dashboard (deleted, or archived: the Dashboard before-update hook)."""
    for pulse in state.table("pulse").where(dashboard_id=dashboard_id):
        for child in ("pulse_card", "pulse_channel"):
            for row in state.table(child).where(pulse_id=pulse["id"]):
                state.table(child).delete(row["id"])
        state.table("pulse").delete(pulse["id"])



# ---------------------------------------------------------------- effects of other areas (events.py)

@events.on("card.deleted")
@events.on("card.left_dashboards")
def _card_gone(state: State, card_id: int) -> None:
    remove_dashcards_for_card(state, card_id)



@events.on("action.removed")
def _action_gone(state: State, action_id: int) -> None:
    """Action buttons go with their action (Metabase deletes the dashcards on archive and delete)."""
    dashcards = state.table("dashboardcard")
    for dashcard in dashcards.where(action_id=action_id):
        dashcards.delete(dashcard["id"])


@events.on("card.on_dashboard")
def _card_placed(state: State, card: Row, tab_id: int | None) -> None:
    autoplace_for_card(state, card, tab_id)



@events.on("collection.archived")
def _archive_along(state: State, collection_ids: set[int]) -> None:
    """Archiving the dashboards runs the Dashboard before-update hook, which deletes the subscriptions of every
    dashboard it archives (dashboard.clj `define-before-update`: `(when (:archived changes) (t2/delete! Pulse
    ...))`; toucan2 runs it per matching row)."""
    for dash in collections.archive_along(collections.in_collections(state, "dashboard", collection_ids)):
        delete_subscriptions(state, dash["id"])


@events.on("collection.unarchived")
def _restore_along(state: State, collection_ids: set[int]) -> None:
    collections.restore_along(collections.in_collections(state, "dashboard", collection_ids))


@events.on("collection.deleting")
def _delete_along(state: State, collection_ids: set[int]) -> None:
    """A collection deleted for good takes its dashboards, and the database's cascades take their dashcards, tabs
    and subscriptions (they used to stay behind and count in the `dashboard_count` of cards shown on them)."""
    for dash in collections.in_collections(state, "dashboard", collection_ids):
        _delete_with_references(state, dash)



@contextmanager
def _atomic(state: State) -> Iterator[None]:
    """Undo every change of a failed request (rows, and the last-edit records that are not rows)."""
    saved_edits = dict(state.extra.get(LAST_EDIT, {}))
    try:
        with state.transaction():
            yield
    except Exception:
        state.extra[LAST_EDIT] = saved_edits
        raise



def visible(card: Row | None) -> bool:
    """GET hides dashcards of archived cards, except dashboard questions archived along with their dashboard:
    dashboards/models/dashboard.clj `dashcards` hydration, `[:or [:= :card.archived false] [:and [:not=
    :card.dashboard_id nil] [:= :card.archived_directly false]] [:= :card.archived nil]]` (nil: virtual cards)."""
    if card is None or not card.get("archived"):
        return True
    return card.get("dashboard_id") is not None and not card.get("archived_directly")



def _check_collection(state: State, user: Row | None, collection_id: int | None) -> None:
    """Saving into a collection needs it to exist (404) and to be writable by the user (403)."""
    target = state.table("collection").get(collection_id) if collection_id is not None else None
    if collection_id is not None and target is None:
        raise errors.not_found()
    check_not_trash(target)  # collection.clj `check-write-perms-for-collection`
    if not allowed(state, user, collection_id, write=True):
        raise errors.forbidden()
    library_rules.check_allowed_content(state, "dashboard", collection_id)



def _insert_dashboard(state: State, user_id: int, values: dict) -> Row:
    """A new dashboard row: the given values over Metabase's column defaults."""
    now = state.now()
    row: dict[str, Any] = {
        "name": None, "description": None, "creator_id": user_id, "parameters": [], "cache_ttl": None,
        "collection_id": None, "collection_position": None, "archived": False, "archived_directly": False,
        "position": None, "width": "fixed", "auto_apply_filters": True, "show_in_getting_started": False,
        "caveats": None, "points_of_interest": None, "enable_embedding": False, "embedding_params": None,
        "embedding_type": None, "public_uuid": None, "made_public_by_id": None, "initially_published_at": None,
        "view_count": 0, "last_viewed_at": now, "dependency_analysis_version": 0,
    }
    row.update({k: v for k, v in values.items() if v is not None or k not in ("parameters", "width")})
    dash = state.table("dashboard").insert(row, now=now)
    _record_edit(state, "dashboard", dash["id"], user_id)
    return dash



def _check_unique_ids(key: str, items: list | None) -> None:
    ids = [item.get("id") for item in items or []]
    if len(ids) != len(set(ids)):
        text = "nullable value must be seq of maps in which ids are unique"
        raise errors.invalid({key: text}, {key: ["value must be seq of maps in which ids are unique"]})



def _apply_plain_updates(state: State, user: Row, dash: Row, body: dict) -> None:
    updates = {k: body[k] for k in UPDATE_WHEN_PRESENT if k in body}
    updates.update({k: body[k] for k in UPDATE_WHEN_NON_NIL if body.get(k) is not None})
    archived_changes = "archived" in updates and bool(updates["archived"]) != bool(dash["archived"])
    if archived_changes:
        updates["archived_directly"] = bool(updates["archived"])
    if not updates:
        return
    embedding = ("enable_embedding", "embedding_type", "embedding_params")
    if any(k in updates and updates[k] != dash.get(k) for k in embedding) and not user.get("is_superuser"):
        raise errors.forbidden()
    moving = "collection_id" in updates and updates["collection_id"] != dash["collection_id"]
    if moving:
        _check_collection(state, user, updates["collection_id"])
    # Dashboard questions follow their dashboard into the Trash and out of it, and into its new collection.
    for card in state.table("card").where(dashboard_id=dash["id"]):
        if archived_changes and updates["archived"] and not card.get("archived"):
            card.update(archived=True, archived_directly=False)
        elif archived_changes and not updates["archived"] and card.get("archived") and not card.get("archived_directly"):
            card["archived"] = False
        if moving:
            card["collection_id"] = updates["collection_id"]
    if archived_changes and updates["archived"]:
        delete_subscriptions(state, dash["id"])
    maybe_reconcile_collection_position(state, dash, updates)  # update-dashboard!, before the write
    original_params = dash.get("parameters") or []
    dash.update(updates)
    dash["updated_at"] = state.now()
    if body.get("parameters") is not None:
        _archive_broken_subscriptions(state, dash, original_params)



def _archive_broken_subscriptions(state: State, dash: Row, original_params: list) -> None:
    """dashboards_rest/api.clj `handle-broken-subscriptions` (when the PUT carries parameters): every unarchived
    subscription whose saved filter values name a parameter the dashboard no longer has is archived
    (`broken-pulses`, then `pulse/update-pulse! {:archived true}`, which also disables its channels)."""
    if not original_params:
        return
    have = {p.get("id") for p in dash.get("parameters") or []}
    for pulse in state.table("pulse").where(dashboard_id=dash["id"], archived=False):
        if any(p.get("id") not in have for p in pulse.get("parameters") or []):
            pulse["archived"] = True
            for channel in state.table("pulse_channel").where(pulse_id=pulse["id"]):
                channel["enabled"] = False



def _write_dashcards_and_tabs(state: State, dash: Row, dashcards: list[dict], tabs: list[dict]) -> None:
    """Full replacement of the dashboard's tabs and dashcards by a diff keyed on id (update-dashboard!)."""
    dashboard_id = dash["id"]
    new_tabs = [{**tab, "position": i} for i, tab in enumerate(tabs)]
    dashcards = [dict(dc) for dc in dashcards]
    if len(new_tabs) == 1:
        for dc in dashcards:
            if dc.get("dashboard_tab_id") is None:
                dc["dashboard_tab_id"] = new_tabs[0]["id"]
    if new_tabs and any(dc.get("dashboard_tab_id") is None for dc in dashcards):
        raise errors.bad_request(NO_TAB_MESSAGE)

    temp_to_real = _write_tabs(state, dashboard_id, new_tabs)
    for dc in dashcards:
        if dc.get("dashboard_tab_id") in temp_to_real:
            dc["dashboard_tab_id"] = temp_to_real[dc["dashboard_tab_id"]]

    # update-dashboard! diffs against `(t2/hydrate current-dash [:dashcards ...])`: the dashcards GET shows, so the
    # hidden ones (`visible`) are neither deleted nor updated by a PUT that leaves them out.
    cards = state.table("card")
    current = {dc["id"]: dc for dc in dashcards_on(state, dashboard_id)
               if dc["card_id"] is None or visible(cards.get(dc["card_id"]))}
    requested_ids = {dc.get("id") for dc in dashcards}
    to_create = [dc for dc in dashcards if dc.get("id") not in current]
    to_update = [dc for dc in dashcards if dc.get("id") in current]
    to_delete = [id_ for id_ in current if id_ not in requested_ids]

    _archive_or_unarchive_dashboard_questions(state, dashboard_id, dashcards)
    _check_not_internal_to_other_dashboards(state, dashboard_id, to_create)
    for dc in to_update:
        _update_dashcard(state, current[dc["id"]], dc)
    _delete_dashcards(state, to_delete)
    _create_dashcards(state, dashboard_id, to_create)



def _write_tabs(state: State, dashboard_id: int, new_tabs: list[dict]) -> dict[int, int]:
    """Create, rename/reorder and delete tabs; returns temporary id -> real id for the created ones."""
    tabs = state.table("dashboard_tab")
    current = {t["id"]: t for t in tabs_of(state, dashboard_id)}
    requested = {t["id"] for t in new_tabs}
    deleted = [id_ for id_ in current if id_ not in requested]
    for tab_id in deleted:
        tabs.delete(tab_id)
    # Dashcards on a deleted tab go with it (ON DELETE CASCADE).
    _delete_dashcards(state, [dc["id"] for dc in dashcards_on(state, dashboard_id) if dc["dashboard_tab_id"] in deleted])
    temp_to_real = {}
    now = state.now()
    for tab in new_tabs:
        if tab["id"] in current:
            existing = current[tab["id"]]
            if (existing["name"], existing["position"]) != (tab["name"], tab["position"]):
                existing.update(name=tab["name"], position=tab["position"], updated_at=now)
        else:
            created = tabs.insert({"dashboard_id": dashboard_id, "name": tab["name"], "position": tab["position"]},
                                  now=now)
            temp_to_real[tab["id"]] = created["id"]
    return temp_to_real



def _archive_or_unarchive_dashboard_questions(state: State, dashboard_id: int, dashcards: list[dict]) -> None:
    """Dashboard questions no dashcard shows are archived; the ones shown are un-archived (series don't count)."""
    used = {dc.get("card_id") for dc in dashcards}
    for card in state.table("card").where(dashboard_id=dashboard_id):
        if card["id"] in used:
            card.update(archived=False, archived_directly=False)
        else:
            card.update(archived=True, archived_directly=True)



def _series_card_ids(series: Any) -> list[int]:
    return [s["id"] if isinstance(s, dict) else s for s in series or [] if s is not None]



def _check_not_internal_to_other_dashboards(state: State, dashboard_id: int, to_create: list[dict]) -> None:
    card_ids = [dc.get("card_id") for dc in to_create if dc.get("card_id") is not None]
    card_ids += [s.get("id") for dc in to_create for s in dc.get("series") or [] if isinstance(s, dict)]
    for card_id in card_ids:
        card = state.table("card").get(card_id) if isinstance(card_id, int) else None
        if card and card.get("dashboard_id") is not None and card["dashboard_id"] != dashboard_id:
            raise errors.bad_request()



def _check_dashcard_references(state: State, row: dict[str, Any]) -> None:
    if row.get("dashboard_tab_id") is not None and state.table("dashboard_tab").get(row["dashboard_tab_id"]) is None:
        raise _foreign_key_violation("report_dashboardcard", "dashboard_tab_id", row["dashboard_tab_id"])
    if row.get("card_id") is not None and state.table("card").get(row["card_id"]) is None:
        raise _foreign_key_violation("report_dashboardcard", "card_id", row["card_id"])
    if row.get("action_id") is not None and state.table("action").get(row["action_id"]) is None:
        raise _foreign_key_violation("report_dashboardcard", "action_id", row["action_id"])



def _update_dashcard(state: State, existing: Row, requested: dict) -> None:
    keys = DASHCARD_UPDATE_KEYS if state.profile.inline_parameters else DASHCARD_UPDATE_KEYS[:-1]
    changes = {k: requested[k] for k in keys if k in requested and requested[k] != existing.get(k)}
    if changes:
        existing.update(changes)
        _check_dashcard_references(state, existing)
        existing["updated_at"] = state.now()
    # A dashcard sent without `series` loses its series: the update compares against an empty list.
    series = _series_card_ids(requested.get("series"))
    if series != series_ids(state, existing["id"]):
        _set_series(state, existing["id"], series)



def _create_dashcards(state: State, dashboard_id: int, to_create: list[dict]) -> None:
    cards = state.table("card")
    for dc in to_create:
        card_id = dc.get("card_id")
        if isinstance(card_id, int) and card_id > 0:
            card = cards.get(card_id)
            if card is None:
                raise errors.not_found()
            if card.get("archived"):
                raise errors.archived()
    for dc in to_create:
        card_id = dc.get("card_id")
        if card_id is not None and dc.get("parameter_mappings") and cards.get(card_id) is None:
            raise errors.ApiError(404, {"message": f"Card {card_id} does not exist or does not have a valid query.",
                                        "card-id": card_id})
    for dc in to_create:
        values = {k: v for k, v in dc.items() if k not in NEW_DASHCARD_IGNORED}
        # Before 0.56 (metabase#59420) report_dashboardcard has no inline_parameters column.
        unknown = sorted(set(values) - (DASHCARD_COLUMNS if state.profile.inline_parameters
                                        else DASHCARD_COLUMNS - {"inline_parameters"}))
        if unknown:
            # Metabase inserts the item's keys as columns; a hydrated key such as `action` makes the insert fail.
            raise errors.server_error(f'ERROR: column "{unknown[0]}" of relation "report_dashboardcard" does not exist')
        values["dashboard_id"] = dashboard_id
        _check_dashcard_references(state, values)
        created = _insert_dashcard(state, values)
        _set_series(state, created["id"], _series_card_ids(dc.get("series")))



def _prune_inline_parameters(state: State, dash: Row) -> None:
    """>= 0.58 quirk: a PUT carrying parameters and dashcards drops the parameters dashcards show inline."""
    inline = {p for dc in dashcards_on(state, dash["id"]) for p in dc.get("inline_parameters") or []}
    dash["parameters"] = [p for p in dash.get("parameters") or [] if p.get("id") not in inline]



def _copy_plan(state: State, dashcards: list[Row], deep: bool) -> tuple[dict[int, Row], set[int], list[Row]]:
    """Which cards a copy duplicates, which it references as they are, and which it leaves out (cards-to-copy).

    Dashboard questions are always duplicated; a deep copy also duplicates every other card except models.
    """
    to_copy: dict[int, Row] = {}
    referenced: set[int] = set()
    discarded: list[Row] = []
    for dc in dashcards:
        if dc["card_id"] is None:
            continue
        for card_id in [dc["card_id"], *series_ids(state, dc["id"])]:
            card = state.table("card").get(card_id)
            if card is None or card.get("archived"):
                if card is not None:
                    discarded.append(card)
            elif card.get("dashboard_id") is not None or (deep and card.get("type") != "model"):
                to_copy[card_id] = card
            else:
                referenced.add(card_id)
    return to_copy, referenced, discarded



def _duplicate_card(state: State, card: Row, user_id: int, collection_id: int | None, name: str,
                    dashboard_id: int | None) -> Row:
    """A new card from an old one, the way create-card! builds it: content copied, state and sharing reset."""
    values = {k: v for k, v in card.items() if k not in ("id", "entity_id", "created_at", "updated_at")}
    values.update(name=name, collection_id=collection_id, dashboard_id=dashboard_id, creator_id=user_id,
                  archived=False, archived_directly=False, public_uuid=None, made_public_by_id=None,
                  enable_embedding=False, embedding_params=None, view_count=0, last_used_at=None,
                  initially_published_at=None)
    created = state.table("card").insert(values, now=state.now())
    _record_edit(state, "card", created["id"], user_id)
    return created



def _copied_dashcard(state: State, dc: Row, new_card_ids: dict[int, int], referenced: set[int]) -> dict | None:
    """The copy's version of a dashcard (update-cards-for-copy), or None when the copy leaves it out.

    Action buttons are dropped; text, heading and iframe cards and referenced cards are kept as they are; other
    virtual cards (links, placeholders) and cards that were not duplicated are dropped.
    """
    if dc.get("action_id") is not None:
        return None
    values = {k: copy.deepcopy(v) for k, v in dc.items() if k not in NEW_DASHCARD_IGNORED | {"dashboard_id"}}
    values["series"] = series_ids(state, dc["id"])
    virtual = ((dc.get("visualization_settings") or {}).get("virtual_card") or {}).get("display")
    if virtual in ("iframe", "text", "heading") or dc["card_id"] in referenced:
        return values
    if dc["card_id"] not in new_card_ids:
        return None
    values["card_id"] = new_card_ids[dc["card_id"]]
    for mapping in values.get("parameter_mappings") or []:
        if mapping.get("card_id") in new_card_ids:
            mapping["card_id"] = new_card_ids[mapping["card_id"]]
    values["series"] = [new_card_ids[s] for s in values["series"] if s in new_card_ids]
    return values


# ---------------------------------------------------------------- create, update, delete, copy

def create(state: State, user: Row, body: dict) -> Row:
    """POST /api/dashboard: a new dashboard in a writable collection, its pin shifting the others."""
    _check_collection(state, user, body.get("collection_id"))
    maybe_reconcile_collection_position(state, None, {
        k: body.get(k) for k in ("collection_id", "collection_position")})
    return _insert_dashboard(state, user["id"], {
        k: body.get(k) for k in ("name", "description", "parameters", "cache_ttl", "collection_id", "collection_position")
    })


def delete(state: State, user: Row | None, dashboard_id: Any) -> None:
    """DELETE /api/dashboard/{id}: the dashboard and everything that references it."""
    _delete_with_references(state, checked(state, user, dashboard_id, write=True))


def _delete_with_references(state: State, dash: Row) -> None:
    """Tabs, dashcards, subscriptions and dashboard questions reference the dashboard with ON DELETE CASCADE
    (Metabase's app database: e.g. `fk_dashboardcard_ref_dashboard_id`, re-added with cascade by changeSet 258 of
    migrations/000_migrations.yaml in 0.36.0)."""
    _delete_dashcards(state, [dc["id"] for dc in dashcards_on(state, dash["id"])])
    for tab in tabs_of(state, dash["id"]):
        state.table("dashboard_tab").delete(tab["id"])
    delete_subscriptions(state, dash["id"])
    for card in state.table("card").where(dashboard_id=dash["id"]):
        remove_dashcards_for_card(state, card["id"])
        state.table("card").delete(card["id"])
    state.table("dashboard").delete(dash["id"])


def update(state: State, user: Row, dashboard_id: Any, body: dict) -> Row:
    """PUT /api/dashboard/{id} and the deprecated PUT .../cards share this code path."""
    dash = checked(state, user, dashboard_id, write=True)
    _check_unique_ids("dashcards", body.get("dashcards"))
    _check_unique_ids("tabs", body.get("tabs"))
    # The archived check looks at the dashboard as it was before this request's own `archived` change.
    was_archived = bool(dash["archived"])
    with _atomic(state):
        _apply_plain_updates(state, user, dash, body)
        if "dashcards" in body:
            if was_archived:
                raise errors.archived()
            _write_dashcards_and_tabs(state, dash, body.get("dashcards") or [], body.get("tabs") or [])
            if body.get("parameters") is not None and state.profile.prune_inline_parameters:
                _prune_inline_parameters(state, dash)
        # update-dashboard (dashboards/api.clj) writes report_dashboard only when a dashboard column is in the
        # request (`t2/update! :model/Dashboard` inside `(when-let [updates (not-empty ...)])`): dashcards and tabs
        # go through their own models, so a layout-only edit leaves the row's updated_at alone. It still
        # publishes :event/dashboard-update, which pushes a revision: the list row's last-edit-info moves on.
        _record_edit(state, "dashboard", dash["id"], user["id"])
    return dash


def copy_dashboard(state: State, user: Row, from_dashboard_id: Any, body: dict) -> tuple[Row, list[Row]]:
    """POST /api/dashboard/{id}/copy: the new dashboard, and the cards the copy left out (archived ones)."""
    # A missing is_deep_copy defaults to false; an explicit null is neither and slips past the check.
    deep = body.get("is_deep_copy", False)
    collection_id = body.get("collection_id")
    _check_collection(state, user, collection_id)
    if deep is False and state.table("card").first(dashboard_id=from_dashboard_id, archived=False):
        raise errors.bad_request(SHALLOW_COPY_MESSAGE)
    source = checked(state, user, from_dashboard_id)
    with _atomic(state):
        maybe_reconcile_collection_position(state, None, {
            "collection_id": collection_id, "collection_position": body.get("collection_position")})
        dash = _insert_dashboard(state, user["id"], {
            "name": body.get("name") or source["name"],
            "description": body.get("description") or source["description"],
            "parameters": source.get("parameters") or [], "width": source["width"],
            "collection_id": collection_id, "collection_position": body.get("collection_position"),
        })
        new_tab_ids = {}
        for tab in tabs_of(state, source["id"]):
            created = state.table("dashboard_tab").insert(
                {"dashboard_id": dash["id"], "name": tab["name"], "position": tab["position"]}, now=state.now())
            new_tab_ids[tab["id"]] = created["id"]
        dashcards = [dc for dc in dashcards_on(state, source["id"]) if visible(state.table("card").get(dc["card_id"]))]
        to_copy, referenced, uncopied = _copy_plan(state, dashcards, bool(deep))
        same_collection = source["collection_id"] == collection_id
        new_card_ids = {
            old_id: _duplicate_card(
                state, card, user["id"], collection_id,
                f"{card['name']} - Duplicate" if same_collection else card["name"],
                dash["id"] if card.get("dashboard_id") is not None else None,
            )["id"]
            for old_id, card in to_copy.items()
        }
        for dc in dashcards:
            copied = _copied_dashcard(state, dc, new_card_ids, referenced)
            if copied is None:
                continue
            series = copied.pop("series")
            if new_tab_ids:
                copied["dashboard_tab_id"] = new_tab_ids.get(dc["dashboard_tab_id"])
            created = _insert_dashcard(state, {**copied, "dashboard_id": dash["id"]})
            _set_series(state, created["id"], series)
    return dash, uncopied
