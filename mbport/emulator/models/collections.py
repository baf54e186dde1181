"""Collections: the tree of locations, personal collections, the Trash, pins, permissions and archive cascades."""

from __future__ import annotations

import unicodedata
from typing import Any
from urllib.parse import quote

from .. import errors
from ..store import Row, State, new_uuid
from . import collection_graph
from . import library_rules as library

ROOT_NAME = "Our analytics"


IS_ROOT_KEY = "metabase.collections.models.collection.root/is-root?"


TRASH_TYPE = "trash"


SNIPPETS = "snippets"


SLUG_MAX_LENGTH = 510


def init_state(state: State) -> None:
    """A fresh Metabase already has its Trash collection (created by a migration)."""
    if state.table("collection").first(type=TRASH_TYPE) is None:
        _insert(state, name="Trash", type=TRASH_TYPE, location="/")


def trash(state: State) -> Row:
    found = state.table("collection").first(type=TRASH_TYPE)
    if found is None:
        raise LookupError("the Trash collection is missing (init_state creates it)")
    return found


def trash_id(state: State) -> int:
    return trash(state)["id"]


def slugify(name: str) -> str:
    """Metabase's slug: lower case, ASCII non-word characters become `_`, other characters are URL-encoded."""
    decomposed = unicodedata.normalize("NFD", name.lower())
    plain = "".join(c for c in decomposed if not unicodedata.combining(c))
    out = []
    for c in plain:
        if ord(c) < 128:
            out.append(c if c.isalnum() or c == "_" else "_")
        else:
            out.append(quote(c, safe=""))
    return "".join(out)[:SLUG_MAX_LENGTH]


def _insert(state: State, *, name: str, location: str = "/", description: str | None = None,
            namespace: str | None = None, personal_owner_id: int | None = None, authority_level: str | None = None,
            type: str | None = None) -> Row:  # noqa: A002 - Metabase's column name
    return state.table("collection").insert({
        "name": name, "slug": slugify(name), "description": description, "location": location,
        "namespace": namespace, "personal_owner_id": personal_owner_id, "authority_level": authority_level,
        "type": type, "archived": False, "archived_directly": None, "archive_operation_id": None,
        "is_sample": False, "created_at": state.now(),
    })


def insert_typed(state: State, *, name: str, type: str, location: str = "/",  # noqa: A002 - Metabase's column
                 namespace: str | None = None) -> Row:
    """A collection Metabase makes itself with a special type (the Library's, a tenant's root), as created."""
    coll = _insert(state, name=name, type=type, location=location, namespace=namespace)
    state.emit("collection.created", collection=coll)
    return coll


def personal_collection_name(user: Row) -> str:
    names = " ".join(x for x in (user.get("first_name"), user.get("last_name")) if x)
    return f"{names or user.get('email')}'s Personal Collection"


def personal_collection_for(state: State, user_id: int) -> Row | None:
    return state.table("collection").first(personal_owner_id=user_id)


def create_personal_collection(state: State, user: Row) -> Row:
    """The user's personal collection, created on first need (idempotent)."""
    existing = personal_collection_for(state, user["id"])
    if existing:
        return existing
    return _insert(state, name=personal_collection_name(user), personal_owner_id=user["id"])


def ensure_personal_collections(state: State) -> None:
    """Older Metabase builds create personal collections lazily; make sure every real user has one."""
    for user in state.table("user").where(type="personal"):
        create_personal_collection(state, user)


def location_ids(location: str | None) -> list[int]:
    return [int(p) for p in (location or "/").split("/") if p]


def children_location(coll: Row | None) -> str:
    return "/" if coll is None else f"{coll['location']}{coll['id']}/"


def parent_id(coll: Row) -> int | None:
    ids = location_ids(coll["location"])
    return ids[-1] if ids else None


def descendants(state: State, coll: Row) -> list[Row]:
    prefix = children_location(coll)
    return state.table("collection").where(lambda r: r["location"].startswith(prefix))


def personal_owner(state: State, coll: Row | None) -> int | None:
    """The owner of the personal tree `coll` belongs to (personal collection or any descendant of one)."""
    if coll is None:
        return None
    if coll.get("personal_owner_id"):
        return coll["personal_owner_id"]
    ids = location_ids(coll["location"])
    top = state.table("collection").get(ids[0]) if ids else None
    return top.get("personal_owner_id") if top else None


def is_personal(state: State, coll: Row | None) -> bool:
    return personal_owner(state, coll) is not None


def is_trash(coll: Row | None) -> bool:
    return coll is not None and coll.get("type") == TRASH_TYPE


TRASH_WRITE = "You cannot modify the Trash Collection."


def check_not_trash(coll: Row | None) -> None:
    """Nothing is created in, moved into or edited as the Trash: a plain 400 before any permission check
    (collections/api.clj `write-check-collection-or-root-collection`, the Collection `define-before-update`)."""
    if is_trash(coll):
        raise errors.bad_request(TRASH_WRITE)


def permission(state: State, user: Row | None, coll: Row | None) -> str | None:
    """'write', 'read' or None: what `user` may do with a collection row (None = the root collection).

    Admins write everywhere but the Trash; personal trees belong to their owner (and admins). Everything else asks
    the collection graph (`collection_graph.user_permission(state, user, collection_or_None)`); a fresh instance gives All Users curate access to the root, inherited by new collections.
    """
    if is_trash(coll):
        return "read"
    if user is None:
        return "write"
    owner = personal_owner(state, coll)
    if owner is not None:
        return "write" if owner == user["id"] or user.get("is_superuser") else None
    if user.get("is_superuser"):
        return "write"
    return collection_graph.user_permission(state, user, coll)


def can_read(state: State, user: Row | None, coll: Row | None) -> bool:
    return permission(state, user, coll) is not None


def can_write(state: State, user: Row | None, coll: Row | None) -> bool:
    return permission(state, user, coll) == "write"


def row_or_root(state: State, collection_id: int | None) -> Row | None:
    """The collection row an item's collection_id names (None for the root, or for an id that names nothing)."""
    return state.table("collection").get(collection_id) if collection_id is not None else None


def check_access(state: State, user: Row | None, collection_id: int | None, write: bool) -> None:
    """404 for a missing collection, 403 without read (or write) permission on it (None = the root)."""
    coll = row_or_root(state, collection_id)
    if collection_id is not None and coll is None:
        raise errors.not_found()
    if not (can_write if write else can_read)(state, user, coll):
        raise errors.forbidden()


def resolve(state: State, id_or_eid: Any) -> Row:
    coll = state.table("collection").get(id_or_eid)
    if coll is None:
        raise errors.not_found()
    return coll


# The models whose pins share one numbering per collection (api/common.clj's reconcile-position-for-collection!).
POSITIONED_TABLES = ("card", "dashboard", "pulse")


def reconcile_position_for_collection(state: State, collection_id: int | None, old: int | None,
                                      new: int | None) -> None:
    """Metabase's reconcile-position-for-collection!: shift the other pins of one collection (None = root)
    for an item going from position `old` to `new`; archived rows included, as Metabase's UPDATE has no filter.
    The moving item itself may be shifted too (BETWEEN is inclusive): its own write comes after and wins."""
    if new == old:
        return
    if new is None:
        step, hit = -1, (lambda p: p > old)
    elif old is None:
        step, hit = 1, (lambda p: p >= new)
    elif new > old:
        step, hit = -1, (lambda p: old <= p <= new)
    else:
        step, hit = 1, (lambda p: new <= p <= old)
    for table in POSITIONED_TABLES:
        for row in state.table(table).where(lambda r: r.get("collection_id") == collection_id
                                            and isinstance(r.get("collection_position"), int)):
            if hit(row["collection_position"]):
                row["collection_position"] += step


def maybe_reconcile_collection_position(state: State, before: Row | None, updates: dict) -> None:
    """Metabase's maybe-reconcile-collection-position!, called before a card/dashboard/pulse is written.

    `before`: the row as it is (None when creating; then `updates` must hold both keys, absent meaning nil).
    `updates`: the keys about to be written; a key left out does not change. A move without a new position keeps
    the item's position in the new collection (its pins at and after it shift up)."""
    old: dict[str, Any] = before or {}
    old_coll, old_pos = old.get("collection_id"), old.get("collection_position")
    new_coll, new_pos = updates.get("collection_id"), updates.get("collection_position")
    moved = "collection_id" in updates and old_coll != new_coll
    repositioned = "collection_position" in updates and old_pos != new_pos
    if not moved and repositioned:
        reconcile_position_for_collection(state, old_coll, old_pos, new_pos)
    elif moved:
        reconcile_position_for_collection(state, old_coll, old_pos, None)
        reconcile_position_for_collection(state, new_coll, None, new_pos if repositioned else old_pos)


def _check_premium_authority(state: State, authority_level: Any) -> None:
    if authority_level is not None and "official_collections" not in state.extra.get("premium_features", ()):
        raise errors.ApiError(402, {
            "message": "Official Collections is a paid feature not currently available to your instance. "
                       "Please upgrade to use it. Learn more at metabase.com/upgrade/",
            "status": "error-premium-feature-not-available", "error_code": "error-premium-feature-not-available",
        })


def _check_non_blank(body: dict, field: str) -> None:
    value = body.get(field)
    if isinstance(value, str) and not value.strip():
        raise errors.invalid({field: "nullable value must be a non-blank string."},
                             {field: ["should be a non-blank string"]})


def move(state: State, coll: Row, new_location: str) -> None:
    """Give `coll` a new location and rewrite every descendant's location with it."""
    old_prefix, new_prefix = children_location(coll), f"{new_location}{coll['id']}/"
    for child in descendants(state, coll):
        child["location"] = new_prefix + child["location"][len(old_prefix):]
    coll["location"] = new_location


# collection.clj `collectable-models` minus `archived-directly-models`: archiving or restoring a collection sets
# `archived` on every one of these in it, however each was archived before.
FOLLOWERS = ("pulse", "native_query_snippet", "timeline")


def _set_followers(state: State, collection_ids: set[int], archived: bool) -> None:
    for table in FOLLOWERS:
        for row in state.table(table).where(lambda r: r.get("collection_id") in collection_ids):
            row["archived"] = archived


def archive(state: State, coll: Row) -> None:
    """Trash a collection (collection.clj `archive-collection!`): it is archived directly, its unarchived descendants
    indirectly; pulses, snippets and timelines in them are archived; cards and dashboards not archived on their own
    are archived along. That last update runs the Dashboard before-update hook, which deletes the subscriptions of
    every dashboard it archives (dashboard.clj `define-before-update`: `(when (:archived changes) (t2/delete! Pulse
    ...))`; toucan2 runs before-update per matching row)."""
    operation = new_uuid()
    coll.update(archived=True, archived_directly=True, archive_operation_id=operation)
    affected = {coll["id"]}
    for child in descendants(state, coll):
        if not child.get("archived"):
            child.update(archived=True, archived_directly=False, archive_operation_id=operation)
            affected.add(child["id"])
    _set_followers(state, affected, True)
    # Contents are archived in bulk at the model layer (dashboard questions keep their dashcards): the cards and
    # dashboards areas subscribe.
    state.emit("collection.archived", collection_ids=affected)


def unarchive(state: State, coll: Row) -> None:
    """collection.clj `unarchive-collection!`: the collection and the descendants archived in the same operation come
    back, every pulse, snippet and timeline in them is restored, and so are the cards and dashboards not archived
    on their own."""
    operation = coll.get("archive_operation_id")
    coll.update(archived=False, archived_directly=None, archive_operation_id=None)
    affected = {coll["id"]}
    for child in descendants(state, coll):
        if operation and child.get("archive_operation_id") == operation and child.get("archived"):
            if not child.get("archived_directly"):
                child.update(archived=False, archived_directly=None, archive_operation_id=None)
            affected.add(child["id"])
    _set_followers(state, affected, False)
    state.emit("collection.unarchived", collection_ids=affected)


def in_collections(state: State, table: str, collection_ids: set[int]) -> list[Row]:
    """The rows of `table` (card, dashboard ...) directly in one of the collections."""
    return state.table(table).where(lambda r: r.get("collection_id") in collection_ids)


def archive_along(rows: list[Row]) -> list[Row]:
    """collection.clj `archive-collection!`: the items not archived on their own are archived along (not directly).
    Returns the rows it archived."""
    along = [row for row in rows if not row.get("archived_directly") and not row.get("archived")]
    for row in along:
        row.update(archived=True, archived_directly=False)
    return along


def restore_along(rows: list[Row]) -> None:
    """collection.clj `unarchive-collection!`: the items archived along with the collection come back."""
    for row in rows:
        if row.get("archived") and not row.get("archived_directly"):
            row["archived"] = False


def _drop_card_alerts(state: State, coll: Row) -> None:
    """collections_rest/api.clj `maybe-send-archived-notifications!`: when a PUT changes `archived` either way, the
    active alerts of the cards directly in this collection (archived or not, not those in sub-collections) go."""
    for card in state.table("card").where(collection_id=coll["id"]):
        state.emit("card.alerts_broken", card_id=card["id"])


def _new_parent_location(state: State, user: Row | None, coll: Row, new_parent_id: int | None) -> str:
    parent = resolve(state, new_parent_id) if new_parent_id else None
    check_not_trash(parent)
    if not can_write(state, user, parent):
        raise errors.forbidden()
    if parent is not None and (parent["id"] == coll["id"] or parent["location"].startswith(children_location(coll))):
        raise errors.bad_request("You can't move a Collection into itself or into one of its descendants.")
    return children_location(parent)


def children_location_of_parent(state: State, parent: int | None) -> str:
    return children_location(resolve(state, parent) if parent else None)


# ---------------------------------------------------------------- create, update, delete

def create(state: State, user: Row | None, body: dict) -> Row:
    """POST /api/collection: a new collection under `parent_id` (same namespace), copying its parent's grants."""
    _check_non_blank(body, "name")
    _check_non_blank(body, "description")
    parent = resolve(state, body["parent_id"]) if body.get("parent_id") else None
    check_not_trash(parent)
    if not can_write(state, user, parent):
        raise errors.forbidden()
    above: dict[str, Any] = parent or {}
    namespace = body["namespace"] if "namespace" in body else above.get("namespace")
    if parent is not None and parent.get("namespace") != namespace:
        raise errors.bad_request("Collection must be in the same namespace as its parent")
    _check_premium_authority(state, body.get("authority_level"))
    # collections/create.clj `apply-defaults-to-collection`: only the Library's types pass on to children, which
    # `check-allowed-content` then judges (a child of the Library root itself is refused).
    kind = above.get("type") if above.get("type") in library.LIBRARY_TYPES else None
    if kind is not None and parent is not None:  # a kind comes from the parent
        library.check_allowed_content(state, kind, parent["id"])
    coll = _insert(state, name=body["name"], description=body.get("description"), location=children_location(parent),
                   namespace=namespace, authority_level=body.get("authority_level"), type=kind)
    state.emit("collection.created", collection=coll)
    return coll


def update(state: State, user: Row | None, coll: Row, body: dict) -> None:
    """PUT /api/collection/{id}: rename, re-describe, archive or restore (with its cascades), move."""
    check_not_trash(coll)
    if not can_write(state, user, coll):
        raise errors.forbidden()
    _check_non_blank(body, "name")
    _check_non_blank(body, "description")
    if "authority_level" in body and body["authority_level"] != coll.get("authority_level"):
        _check_premium_authority(state, body["authority_level"])
    # `archived` has a default of false: a PUT without it un-archives (api-surface §1.2).
    archived = bool(body.get("archived") or False)
    if archived and coll.get("personal_owner_id"):
        raise errors.forbidden()
    for key in ("name", "description", "authority_level", "type"):
        if key in body and not (key == "name" and body[key] is None):
            coll[key] = body[key]
            if key == "name":
                coll["slug"] = slugify(body[key])
    if archived != bool(coll.get("archived")):
        _drop_card_alerts(state, coll)
        if archived:
            archive(state, coll)
        else:
            if "parent_id" in body:
                move(state, coll, _new_parent_location(state, user, coll, body.get("parent_id")))
            elif parent_id(coll) and state.table("collection").existing(parent_id(coll)).get("archived"):
                raise errors.bad_request("Cannot restore a collection into an archived collection.")
            unarchive(state, coll)
    elif "parent_id" in body and children_location_of_parent(state, body.get("parent_id")) != coll["location"]:
        if coll.get("personal_owner_id"):
            raise errors.forbidden()
        move(state, coll, _new_parent_location(state, user, coll, body.get("parent_id")))


def delete(state: State, coll: Row) -> None:
    """DELETE /api/collection/{id}: a trashed, non-personal, default-namespace collection goes for good, with its
    descendants and the cards and dashboards in them (their areas subscribe to `collection.deleting`)."""
    if not coll.get("archived"):
        raise errors.bad_request("Collection must be trashed before deletion.")
    if coll.get("namespace") is not None:
        raise errors.bad_request("Collections in non-nil namespaces cannot be deleted.")
    if coll.get("personal_owner_id"):
        raise errors.bad_request("Personal collections cannot be deleted.")
    # Children trashed on their own stay in the Trash: move them out before the delete.
    for child in descendants(state, coll):
        if child.get("archived_directly") and child["location"] == children_location(coll):
            move(state, child, coll["location"])
    doomed = [coll, *descendants(state, coll)]
    state.emit("collection.deleting", collection_ids={c["id"] for c in doomed})
    for c in doomed:
        state.table("collection").delete(c["id"])
