"""What collection answers look like: detail, list rows, the root pseudo-collection, tree nodes and items."""

from __future__ import annotations

from functools import partial
from typing import Any

from ..models import cards as card_model
from ..models import library
from ..models.collections import (
    ROOT_NAME,
    SNIPPETS,
    can_read,
    can_write,
    children_location,
    descendants,
    is_personal,
    is_trash,
    location_ids,
    parent_id,
    personal_owner,
    trash_id,
)
from ..store import Row, State
from . import cards
from .summaries import collection_summary, root_summary  # noqa: F401 (part of what collections answer)

# Sort rank of item models for sort_column=model (Metabase's model_ranking).
MODEL_RANKING = {"dashboard": 1, "pulse": 2, "dataset": 3, "metric": 4, "card": 5, "snippet": 6, "collection": 7,
                 "timeline": 8}


ITEM_MODELS = ("collection", "dataset", "metric", "card", "dashboard", "pulse", "snippet", "timeline", "document")


def _visible_location(state: State, user: Row | None, location: str) -> str:
    ids = [i for i in location_ids(location) if can_read(state, user, state.table("collection").get(i))]
    return "/" + "".join(f"{i}/" for i in ids)


def effective_location(state: State, user: Row | None, coll: Row) -> str:
    real = f"/{trash_id(state)}/" if coll.get("archived_directly") else coll["location"]
    return _visible_location(state, user, real)


def _can_restore(state: State, user: Row | None, coll: Row) -> bool:
    if not coll.get("archived_directly"):
        return False
    parent = state.table("collection").get(parent_id(coll)) if parent_id(coll) else None
    return can_write(state, user, coll) and not (parent and parent.get("archived"))


def _can_delete(state: State, user: Row | None, coll: Row) -> bool:
    return bool(coll.get("archived") and user and user.get("is_superuser") and not is_personal(state, coll)
                and coll.get("namespace") is None)


def detail(state: State, user: Row | None, coll: Row) -> dict:
    """GET /api/collection/{id}'s shape (collection-detail): row plus parent, ancestors and permission flags."""
    ancestors = [root_summary(can_write(state, user, None), coll.get("namespace"))]
    for i in location_ids(effective_location(state, user, coll)):
        anc = state.table("collection").existing(i)
        ancestors.append({"name": anc["name"], "id": anc["id"], "personal_owner_id": anc.get("personal_owner_id"),
                          "type": anc.get("type"), "can_write": can_write(state, user, anc)})
    return {
        **coll,
        "parent_id": parent_id(coll),
        "effective_location": effective_location(state, user, coll),
        "effective_ancestors": ancestors,
        "can_write": can_write(state, user, coll),
        "is_personal": is_personal(state, coll),
        "can_restore": _can_restore(state, user, coll),
        "can_delete": _can_delete(state, user, coll),
    }


def root_detail(state: State, user: Row | None, namespace: str | None = None) -> dict:
    out: dict[str, Any] = {"authority_level": None, "can_write": can_write(state, user, None), "name": ROOT_NAME,
           "is_remote_synced": False, "effective_ancestors": [], "can_restore": False, "effective_location": None,
           "parent_id": None, "id": "root", "is_personal": False, "can_delete": False}
    if namespace:
        out["namespace"] = namespace
    return out


def list_row(state: State, user: Row | None, coll: Row) -> dict:
    return {**coll, "can_write": can_write(state, user, coll), "is_personal": is_personal(state, coll),
            "can_delete": _can_delete(state, user, coll), "is_remote_synced": False, "parent_id": parent_id(coll)}


def collection_order(coll: Row) -> tuple:
    type_rank = 0 if coll.get("type") is None else (1 if is_trash(coll) else 2)
    return (coll.get("authority_level") != "official", type_rank, coll["name"].lower(), coll["id"])


def listed(state: State, user: Row, q: dict, c: Row) -> bool:
    """The filters the collection list and tree share: other users' personal collections, namespace, read access."""
    owner = personal_owner(state, c)
    if q.get("exclude-other-user-collections") and owner is not None and owner != user["id"]:
        return False
    return _namespace_matches(c, q.get("namespace")) and can_read(state, user, c)


def _namespace_matches(coll: Row, namespace: str | None) -> bool:
    return coll.get("namespace") == namespace


def _of_kind(kind: str, card: Row) -> bool:
    return _card_kind(card) == kind


def _card_kind(card: Row) -> str:
    return {"model": "dataset", "metric": "metric"}.get(card.get("type") or "", "card")


def _item_order(sort_column: str, sort_direction: str, official_first: bool):
    descending = sort_direction == "desc"

    def key(item: dict) -> tuple:
        official = official_first and item.get("authority_level") == "official"
        typed = item["model"] == "collection" and item.get("type") is not None
        name = (item.get("name") or "").lower()
        edit = item.get("last-edit-info") or {}
        if sort_column == "model":
            primary: Any = MODEL_RANKING.get(item["model"], 100)
        elif sort_column == "last_edited_at":
            primary = edit.get("timestamp") or ""
        elif sort_column == "last_edited_by":
            primary = ((edit.get("last_name") or "").lower(), (edit.get("first_name") or "").lower())
        else:
            primary = name
        return (not official, typed), primary, name, item["id"]

    def sort(items: list[dict]) -> list[dict]:
        # Two passes keep the fixed parts (official first, plain before typed, then name and id) ascending while
        # the chosen column follows sort_direction.
        items = sorted(items, key=lambda i: (key(i)[2], key(i)[3]))
        items = sorted(items, key=lambda i: key(i)[1], reverse=descending)
        return sorted(items, key=lambda i: key(i)[0])

    return sort


def _pinned(row: Row, pinned_state: str | None) -> bool:
    if pinned_state == "is_pinned":
        return row.get("collection_position") is not None
    if pinned_state == "is_not_pinned":
        return row.get("collection_position") is None
    return True


def _in_listing(state: State, coll: Row | None, row: Row, archived: bool) -> bool:
    """Whether a card/dashboard/document row is shown by the items listing of `coll` (None = root)."""
    if is_trash(coll):
        return bool(row.get("archived_directly")) and bool(row.get("archived"))
    return (row.get("collection_id") == (coll["id"] if coll else None) and not row.get("archived_directly")
            and bool(row.get("archived")) == archived)


def _collection_item(state: State, user: Row | None, c: Row, show_dq: bool) -> dict:
    item = {
        "id": c["id"], "name": c["name"], "description": c.get("description"), "entity_id": c.get("entity_id"),
        "archived": bool(c.get("archived")), "model": "collection", "authority_level": c.get("authority_level"),
        "location": c["location"], "namespace": c.get("namespace"), "type": c.get("type"), "dashboard_id": None,
        "database_id": None, "last_used_at": None, "is_remote_synced": False,
        "can_write": can_write(state, user, c), "effective_location": effective_location(state, user, c),
        "can_restore": _can_restore(state, user, c), "can_delete": _can_delete(state, user, c),
    }
    here: set[str] = set()
    below: set[str] = set()
    subtree = [c, *descendants(state, c)]
    for sub in subtree:
        kinds = {_card_kind(r) for r in state.table("card").where(collection_id=sub["id"], archived=False)
                 if show_dq or not r.get("dashboard_id")}
        if state.table("dashboard").where(collection_id=sub["id"], archived=False):
            kinds.add("dashboard")
        if sub is c:
            here |= kinds
        else:
            below |= kinds
            if parent_id(sub) == c["id"] and not sub.get("archived"):
                here.add("collection")
    if here:
        item["here"] = sorted(here)
    if below:
        item["below"] = sorted(below)
    return item


def collection_items(state: State, user: Row | None, q: dict, coll: Row | None, namespace: str | None,
                     models: set[str], archived: bool) -> tuple[list[dict], list[str]]:
    """The items of `coll` (None = root) in listing order, and the models asked for (GET .../items)."""
    show_dq = bool(q.get("show_dashboard_questions"))
    pinned_state = q.get("pinned_state")
    wanted = [m for m in ITEM_MODELS if (not models or m in models)
              and (m == "collection" or (m == "snippet") == (namespace == SNIPPETS)
                   and (m == "snippet" or namespace is None))]
    items: list[dict] = []
    listed_id = coll["id"] if coll else None
    for model in wanted:
        if model == "collection":
            children = state.table("collection").where(lambda c: (
                not c.get("personal_owner_id") and can_read(state, user, c) and not is_trash(c)
                and _namespace_matches(c, namespace) and not (coll is None and library.hidden_from_tree(state, c, q))
                and (
                    bool(c.get("archived_directly")) if is_trash(coll)
                    else parent_id(c) == listed_id and bool(c.get("archived")) == archived)))
            if pinned_state != "is_pinned":
                items += [_collection_item(state, user, c, show_dq) for c in children]
        elif model in ("card", "dataset", "metric"):
            for card in state.table("card").where(partial(_of_kind, model)):
                if (_in_listing(state, coll, card, archived) and (show_dq or not card.get("dashboard_id"))
                        and not card.get("document_id") and _pinned(card, pinned_state)
                        and card_model.can_read_card(state, user, card)):
                    items.append(cards.card_item(state, user, card, model))
        elif model == "dashboard":
            for dash in state.table("dashboard"):
                if _in_listing(state, coll, dash, archived) and _pinned(dash, pinned_state) and \
                        can_read(state, user, state.table("collection").get(dash.get("collection_id"))):
                    items.append(cards.dashboard_item(state, user, dash, coll))
        elif model == "document":
            for doc in state.table("document"):
                if _in_listing(state, coll, doc, archived) and _pinned(doc, pinned_state):
                    items.append({"id": doc["id"], "name": doc.get("name"), "collection_position":
                                  doc.get("collection_position"), "archived": bool(doc.get("archived")),
                                  "model": "document", "location": children_location(coll),
                                  "can_write": can_write(state, user, coll), "can_restore": False,
                                  "can_delete": False, "is_remote_synced": False})
        elif model == "pulse":
            for pulse in state.table("pulse").where(lambda p: p.get("collection_id") == listed_id
                                                    and bool(p.get("archived")) == archived
                                                    and p.get("alert_condition") is None
                                                    and p.get("dashboard_id") is None):
                if _pinned(pulse, pinned_state):
                    items.append({"id": pulse["id"], "name": pulse.get("name"), "entity_id": pulse.get("entity_id"),
                                  "collection_position": pulse.get("collection_position"), "model": "pulse",
                                  "archived": bool(pulse.get("archived")), "dashboard_id": None,
                                  "location": None, "last_used_at": None, "database_id": None})
        elif model == "snippet":
            if pinned_state != "is_pinned":
                for snippet in state.table("native_query_snippet").where(lambda s: bool(s.get("archived")) == archived):
                    items.append({"id": snippet["id"], "name": snippet.get("name"),
                                  "entity_id": snippet.get("entity_id"), "model": "snippet",
                                  "archived": bool(snippet.get("archived")), "collection_namespace": SNIPPETS,
                                  "location": None, "dashboard_id": None, "last_used_at": None,
                                  "database_id": None})
        elif model == "timeline":
            if pinned_state != "is_pinned":
                for tl in state.table("timeline").where(lambda t: t.get("collection_id") == listed_id
                                                        and bool(t.get("archived")) == archived):
                    items.append({"id": tl["id"], "collection_id": tl.get("collection_id"), "name": tl.get("name"),
                                  "model": "timeline", "entity_id": tl.get("entity_id"), "icon": tl.get("icon"),
                                  "archived": bool(tl.get("archived")), "location": None, "dashboard_id": None,
                                  "last_used_at": None, "database_id": None})
    official_first = q.get("official_collections_first")
    sort = _item_order(q.get("sort_column") or "name", q.get("sort_direction") or "asc",
                       (official_first is None and not is_trash(coll)) or bool(official_first))
    items = sort(items)
    for item in items:
        item["collection_id"] = listed_id
    return items, wanted


def tree(state: State, user: Row, q: dict) -> list[dict]:
    """GET /api/collection/tree: readable unarchived collections as nested nodes with the kinds of cards here/below."""
    exclude_archived = bool(q.get("exclude-archived"))

    def keep(c: Row) -> bool:
        if c.get("archived") or (exclude_archived and is_trash(c)) or library.hidden_from_tree(state, c, q):
            return False
        return listed(state, user, q, c)

    colls = sorted(state.table("collection").where(keep), key=collection_order)
    visible = {c["id"] for c in colls}

    def effective_parent(c: Row) -> int | None:
        ids = [i for i in location_ids(c["location"]) if i in visible]
        return ids[-1] if ids else None

    if q.get("shallow"):
        anchor = q.get("collection-id")
        chosen = [c for c in colls if effective_parent(c) == anchor]
        return [{**c, "can_write": can_write(state, user, c),
                 "children": any(effective_parent(o) == c["id"] for o in colls)} for c in chosen]

    kinds_here: dict[int | None, set[str]] = {}
    for card in state.table("card").where(archived=False):
        kinds_here.setdefault(card.get("collection_id"), set()).add(_card_kind(card))

    def node(c: Row) -> dict:
        children = [node(o) for o in colls if effective_parent(o) == c["id"]]
        here = kinds_here.get(c["id"], set())
        below: set[str] = set()
        for child in children:
            below |= set(child.get("here", [])) | set(child.get("below", []))
        out = {**c, "can_write": can_write(state, user, c), "children": children}
        if here:
            out["here"] = sorted(here)
        if below:
            out["below"] = sorted(below)
        return out

    return [node(c) for c in colls if effective_parent(c) is None]
