"""Collections: /api/collection (list, CRUD, tree, items, root, trash), personal collections and the Trash."""

from __future__ import annotations

import unicodedata
from typing import Any
from urllib.parse import quote

from .. import errors
from ..app import Ctx, Response
from ..router import route
from ..store import Row, State, new_uuid

ROOT_NAME = "Our analytics"
IS_ROOT_KEY = "metabase.collections.models.collection.root/is-root?"
TRASH_TYPE = "trash"
SNIPPETS = "snippets"
SLUG_MAX_LENGTH = 510
# Sort rank of item models for sort_column=model (Metabase's model_ranking).
MODEL_RANKING = {"dashboard": 1, "pulse": 2, "dataset": 3, "metric": 4, "card": 5, "snippet": 6, "collection": 7,
                 "timeline": 8}
ITEM_MODELS = ("collection", "dataset", "metric", "card", "dashboard", "pulse", "snippet", "timeline", "document")


# ---------------------------------------------------------------- state helpers (used by other areas too)

def init_state(state: State) -> None:
    """A fresh Metabase already has its Trash collection (created by a migration)."""
    if trash(state) is None:
        _insert(state, name="Trash", type=TRASH_TYPE, location="/")


def trash(state: State) -> Row | None:
    return state.table("collection").first(type=TRASH_TYPE)


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
    the collection graph (`collection_graph.user_permission(state, user, collection_or_None)`) when that area
    provides it; a fresh instance gives All Users curate access to the root, inherited by new collections.
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
    try:
        from . import collection_graph
    except ImportError:
        return "write"
    hook = getattr(collection_graph, "user_permission", None)
    return hook(state, user, coll) if hook else "write"


def can_read(state: State, user: Row | None, coll: Row | None) -> bool:
    return permission(state, user, coll) is not None


def can_write(state: State, user: Row | None, coll: Row | None) -> bool:
    return permission(state, user, coll) == "write"


def root_summary(can_write_root: bool = True, namespace: str | None = None) -> dict:
    out = {IS_ROOT_KEY: True, "authority_level": None, "name": ROOT_NAME, "is_personal": False, "id": "root",
           "can_write": can_write_root}
    if namespace:
        out["namespace"] = namespace
    return out


def collection_summary(state: State, collection_id: int | None) -> dict | None:
    """The hydrated `collection` map cards, dashboards and timelines carry (the root pseudo-collection for None)."""
    if collection_id is None:
        return root_summary()
    coll = state.table("collection").get(collection_id)
    if coll is None:
        return None
    return {**coll, "is_personal": is_personal(state, coll)}


def resolve(state: State, id_or_eid: Any) -> Row:
    coll = state.table("collection").get(id_or_eid)
    if coll is None:
        raise errors.not_found()
    return coll


# ---------------------------------------------------------------- pinned items (collection_position)

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
    before = before or {}
    old_coll, old_pos = before.get("collection_id"), before.get("collection_position")
    new_coll, new_pos = updates.get("collection_id"), updates.get("collection_position")
    moved = "collection_id" in updates and old_coll != new_coll
    repositioned = "collection_position" in updates and old_pos != new_pos
    if not moved and repositioned:
        reconcile_position_for_collection(state, old_coll, old_pos, new_pos)
    elif moved:
        reconcile_position_for_collection(state, old_coll, old_pos, None)
        reconcile_position_for_collection(state, new_coll, None, new_pos if repositioned else old_pos)


# ---------------------------------------------------------------- hydration

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
        anc = state.table("collection").get(i)
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
    out = {"authority_level": None, "can_write": can_write(state, user, None), "name": ROOT_NAME,
           "is_remote_synced": False, "effective_ancestors": [], "can_restore": False, "effective_location": None,
           "parent_id": None, "id": "root", "is_personal": False, "can_delete": False}
    if namespace:
        out["namespace"] = namespace
    return out


def _list_row(state: State, user: Row | None, coll: Row) -> dict:
    return {**coll, "can_write": can_write(state, user, coll), "is_personal": is_personal(state, coll),
            "can_delete": _can_delete(state, user, coll), "is_remote_synced": False, "parent_id": parent_id(coll)}


def _collection_order(coll: Row) -> tuple:
    type_rank = 0 if coll.get("type") is None else (1 if is_trash(coll) else 2)
    return (coll.get("authority_level") != "official", type_rank, coll["name"].lower(), coll["id"])


def _listed(state: State, user: Row, q: dict, c: Row) -> bool:
    """The filters the collection list and tree share: other users' personal collections, namespace, read access."""
    owner = personal_owner(state, c)
    if q.get("exclude-other-user-collections") and owner is not None and owner != user["id"]:
        return False
    return _namespace_matches(c, q.get("namespace")) and can_read(state, user, c)


def _namespace_matches(coll: Row, namespace: str | None) -> bool:
    return coll.get("namespace") == namespace


# ---------------------------------------------------------------- list, detail, root, trash

@route("GET", "/api/collection")
def list_collections(ctx: Ctx):
    state, user, q = ctx.state, ctx.user, ctx.query
    ensure_personal_collections(state)
    archived, personal_only = bool(q.get("archived")), bool(q.get("personal-only"))

    def keep(c: Row) -> bool:
        if archived != (bool(c.get("archived")) or is_trash(c)):
            return False
        if personal_only and not c.get("personal_owner_id"):
            return False
        return _listed(state, user, q, c)

    rows = sorted(state.table("collection").where(keep), key=_collection_order)
    out = [_list_row(state, user, c) for c in rows]
    if not (archived or personal_only):
        out.insert(0, root_detail(state, user))
    return out


@route("GET", "/api/collection/root")
def get_root(ctx: Ctx):
    return root_detail(ctx.state, ctx.user, ctx.query.get("namespace"))


@route("GET", "/api/collection/trash")
def get_trash(ctx: Ctx):
    return detail(ctx.state, ctx.user, trash(ctx.state))


@route("GET", "/api/collection/{id}")
def get_collection(ctx: Ctx, id: Any):  # noqa: A002 - the spec's path parameter
    coll = resolve(ctx.state, id)
    if not can_read(ctx.state, ctx.user, coll):
        raise errors.forbidden()
    return detail(ctx.state, ctx.user, coll)


# ---------------------------------------------------------------- create, update, delete

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


@route("POST", "/api/collection")
def create_collection(ctx: Ctx):
    state, body = ctx.state, ctx.body or {}
    _check_non_blank(body, "name")
    _check_non_blank(body, "description")
    parent = resolve(state, body["parent_id"]) if body.get("parent_id") else None
    check_not_trash(parent)
    if not can_write(state, ctx.user, parent):
        raise errors.forbidden()
    namespace = body["namespace"] if "namespace" in body else (parent or {}).get("namespace")
    if parent is not None and parent.get("namespace") != namespace:
        raise errors.bad_request("Collection must be in the same namespace as its parent")
    _check_premium_authority(state, body.get("authority_level"))
    coll = _insert(state, name=body["name"], description=body.get("description"), location=children_location(parent),
                   namespace=namespace, authority_level=body.get("authority_level"))
    try:
        from . import collection_graph
    except ImportError:
        collection_graph = None
    if collection_graph is not None and hasattr(collection_graph, "on_collection_created"):
        collection_graph.on_collection_created(state, coll)
    return coll


def move(state: State, coll: Row, new_location: str) -> None:
    """Give `coll` a new location and rewrite every descendant's location with it."""
    old_prefix, new_prefix = children_location(coll), f"{new_location}{coll['id']}/"
    for child in descendants(state, coll):
        child["location"] = new_prefix + child["location"][len(old_prefix):]
    coll["location"] = new_location


def _contents(state: State, collection_ids: set[int]) -> list[tuple[str, Row]]:
    return [(table, row) for table in ("card", "dashboard")
            for row in state.table(table).where(lambda r: r.get("collection_id") in collection_ids)]


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
    # Contents are archived in bulk at the model layer: dashboard questions keep their dashcards.
    for table, row in _contents(state, affected):
        if not row.get("archived_directly") and not row.get("archived"):
            row.update(archived=True, archived_directly=False)
            if table == "dashboard":
                from .dashboards import delete_subscriptions  # imported here: dashboards imports this module

                delete_subscriptions(state, row["id"])


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
    for _table, row in _contents(state, affected):
        if row.get("archived") and not row.get("archived_directly"):
            row["archived"] = False


def _drop_card_alerts(state: State, coll: Row) -> None:
    """collections_rest/api.clj `maybe-send-archived-notifications!`: when a PUT changes `archived` either way, the
    active alerts of the cards directly in this collection (archived or not, not those in sub-collections) go."""
    from .notifications import delete_card_notifications

    for card in state.table("card").where(collection_id=coll["id"]):
        delete_card_notifications(state, card["id"])


def _new_parent_location(state: State, user: Row | None, coll: Row, new_parent_id: int | None) -> str:
    parent = resolve(state, new_parent_id) if new_parent_id else None
    check_not_trash(parent)
    if not can_write(state, user, parent):
        raise errors.forbidden()
    if parent is not None and (parent["id"] == coll["id"] or parent["location"].startswith(children_location(coll))):
        raise errors.bad_request("You can't move a Collection into itself or into one of its descendants.")
    return children_location(parent)


@route("PUT", "/api/collection/{id}")
def update_collection(ctx: Ctx, id: int):  # noqa: A002
    state, user, body = ctx.state, ctx.user, ctx.body or {}
    coll = resolve(state, id)
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
            elif parent_id(coll) and state.table("collection").get(parent_id(coll)).get("archived"):
                raise errors.bad_request("Cannot restore a collection into an archived collection.")
            unarchive(state, coll)
    elif "parent_id" in body and children_location_of_parent(state, body.get("parent_id")) != coll["location"]:
        if coll.get("personal_owner_id"):
            raise errors.forbidden()
        move(state, coll, _new_parent_location(state, user, coll, body.get("parent_id")))
    return detail(state, user, coll)


def children_location_of_parent(state: State, parent: int | None) -> str:
    return children_location(resolve(state, parent) if parent else None)


@route("DELETE", "/api/collection/{id}")
def delete_collection(ctx: Ctx, id: int):  # noqa: A002
    ctx.require_superuser()
    state = ctx.state
    coll = resolve(state, id)
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
    doomed_ids = {c["id"] for c in doomed}
    for table, row in _contents(state, doomed_ids):
        if table == "card":
            from .dashboards import remove_dashcards_for_card  # imported here: dashboards imports this module

            remove_dashcards_for_card(state, row["id"])
        state.table(table).delete(row["id"])
    for c in doomed:
        state.table("collection").delete(c["id"])
    # The endpoint answers with toucan's count of rows its delete statement removed: the one collection.
    return Response(200, 1)


# ---------------------------------------------------------------- tree

def _card_kind(card: Row) -> str:
    return {"model": "dataset", "metric": "metric"}.get(card.get("type"), "card")


@route("GET", "/api/collection/tree")
def tree(ctx: Ctx):
    state, user, q = ctx.state, ctx.user, ctx.query
    ensure_personal_collections(state)
    exclude_archived = bool(q.get("exclude-archived"))

    def keep(c: Row) -> bool:
        if c.get("archived") or (exclude_archived and is_trash(c)):
            return False
        return _listed(state, user, q, c)

    colls = sorted(state.table("collection").where(keep), key=_collection_order)
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


# ---------------------------------------------------------------- items

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


def collection_items(ctx: Ctx, coll: Row | None, namespace: str | None, models: set[str], archived: bool) -> Any:
    state, user, q = ctx.state, ctx.user, ctx.query
    from . import cards  # cards hydrate their own item shape

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
                and _namespace_matches(c, namespace) and (
                    bool(c.get("archived_directly")) if is_trash(coll)
                    else parent_id(c) == listed_id and bool(c.get("archived")) == archived)))
            if pinned_state != "is_pinned":
                items += [_collection_item(state, user, c, show_dq) for c in children]
        elif model in ("card", "dataset", "metric"):
            for card in state.table("card").where(lambda r, kind=model: _card_kind(r) == kind):
                if (_in_listing(state, coll, card, archived) and (show_dq or not card.get("dashboard_id"))
                        and not card.get("document_id") and _pinned(card, pinned_state)
                        and cards.can_read_card(state, user, card)):
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
    if namespace == SNIPPETS:
        return {"total": len(items), "data": items, "models": sorted(wanted)}
    paging = ctx.paging
    return {"total": len(items), "data": ctx.page(items), "models": sorted(wanted),
            "limit": paging.limit if paging else None, "offset": paging.offset if paging else None}


def _models_param(q: dict) -> set[str]:
    models = q.get("models")
    if models is None:
        return set()
    return set(models if isinstance(models, list) else [models]) or set()


@route("GET", "/api/collection/{id}/items")
def items(ctx: Ctx, id: Any):  # noqa: A002
    coll = resolve(ctx.state, id)
    if not can_read(ctx.state, ctx.user, coll):
        raise errors.forbidden()
    models = _models_param(ctx.query) or set()
    if models == {"no_models"}:
        return _empty_items(ctx)
    archived = bool(ctx.query.get("archived")) or bool(coll.get("archived")) or is_trash(coll)
    return collection_items(ctx, coll, coll.get("namespace"), models - {"no_models"}, archived)


@route("GET", "/api/collection/root/items")
def root_items(ctx: Ctx):
    namespace = ctx.query.get("namespace")
    models = _models_param(ctx.query)
    if models == {"no_models"}:
        return _empty_items(ctx)
    if namespace not in (None, SNIPPETS):
        models = {"collection"}
    return collection_items(ctx, None, namespace, models - {"no_models"}, bool(ctx.query.get("archived")))


def _empty_items(ctx: Ctx) -> dict:
    paging = ctx.paging
    return {"total": 0, "data": [], "limit": paging.limit if paging else None,
            "offset": paging.offset if paging else None, "models": []}
