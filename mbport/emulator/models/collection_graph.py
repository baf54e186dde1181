"""The collection permissions graph: per-group grants on collections (per namespace, sparse, own revision counter)."""

from __future__ import annotations

from typing import Any

from .. import errors, events
from ..store import Row, State
from . import groups as group_model

ROOT = "root"


LEVELS = ("read", "write")


def _store(state: State) -> dict[str, Any]:
    """perms: {group_id: {(namespace, "root" | collection_id): "read" | "write"}}; absent means none."""
    return state.extra.setdefault(
        "collection_permissions",
        {"revision": 0, "perms": {}, "known_collections": set(), "roots_granted": False},
    )


def norm_namespace(value: Any) -> str | None:
    return value or None


def _personal_tree_ids(state: State) -> set[int]:
    """Personal collections and everything below them: never part of a permissions graph."""
    collections = list(state.table("collection"))
    personal = {c["id"] for c in collections if c.get("personal_owner_id") is not None}
    # A location "/3/17/" names its ancestors between slashes: one set lookup per ancestor instead of one
    # substring search per personal collection (every user has one: O(collections x users) per call).
    marks = {str(pid) for pid in personal}
    below = {c["id"] for c in collections if not marks.isdisjoint((c.get("location") or "/").split("/")[1:-1])}
    return personal | below


def _parent_key(collection: Row) -> tuple[str | None, Any]:
    ancestors = [p for p in (collection.get("location") or "/").split("/") if p]
    ns = norm_namespace(collection.get("namespace"))
    return (ns, int(ancestors[-1])) if ancestors else (ns, ROOT)


def sync_defaults(state: State) -> None:
    """Apply the permissions Metabase writes when rows are created: All Users' write on both roots on a fresh
    instance, and a new collection's copy of its parent's permissions. Done lazily, so it does not depend on
    whether the collections area calls `on_collection_created`.
    """
    store = _store(state)
    all_users = group_model.find_magic_group(state, group_model.ALL_USERS)
    if not store["roots_granted"] and all_users is not None:
        grants = store["perms"].setdefault(all_users["id"], {})
        grants[(None, ROOT)] = "write"
        grants[("snippets", ROOT)] = "write"
        store["roots_granted"] = True
    personal = None
    for collection in state.table("collection"):  # id order: parents before children
        if collection["id"] in store["known_collections"]:
            continue
        store["known_collections"].add(collection["id"])
        personal = _personal_tree_ids(state) if personal is None else personal
        if collection["id"] in personal or collection.get("type") == "trash":
            continue
        parent = _parent_key(collection)
        own = (norm_namespace(collection.get("namespace")), collection["id"])
        for grants in store["perms"].values():
            if parent in grants:
                grants[own] = grants[parent]


@events.on("collection.created")
def on_collection_created(state: State, collection: Row) -> None:
    """A new collection copies its parent's permissions."""
    sync_defaults(state)


@events.on("group.deleted")
def on_group_deleted(state: State, group: Row) -> None:
    """A deleted group's collection grants go with it."""
    _store(state)["perms"].pop(group["id"], None)


def _eligible(state: State, namespace: str | None) -> list[Row]:
    personal = _personal_tree_ids(state)
    return [
        c for c in state.table("collection")
        if norm_namespace(c.get("namespace")) == namespace and not c.get("archived") and c.get("type") != "trash"
        and c["id"] not in personal
    ]


def graph(state: State, namespace: str | None = None) -> dict[str, Any]:
    """The sparse graph of one namespace: only read/write pairs; Administrators write on everything."""
    sync_defaults(state)
    store = _store(state)
    eligible = [c["id"] for c in _eligible(state, namespace)]
    admin = group_model.find_magic_group(state, group_model.ADMIN)
    groups: dict[str, dict[str, str]] = {}
    for group in state.table("permissions_group"):
        if admin and group["id"] == admin["id"]:
            groups[str(group["id"])] = {ROOT: "write", **{str(cid): "write" for cid in eligible}}
            continue
        grants = store["perms"].get(group["id"], {})
        if state.profile.collection_graph_none:
            # Before 0.56.13 (api-changelog "0.56.13"; models/collection/graph.clj `graph` built the full grid)
            # every group lists every collection, "none" included; a PUT still changes only the pairs it sends.
            groups[str(group["id"])] = {str(cid) if cid != ROOT else ROOT: grants.get((namespace, cid)) or "none"
                                        for cid in [ROOT, *eligible]}
            continue
        entries = {str(cid) if cid != ROOT else ROOT: grants[(namespace, cid)]
                   for cid in [ROOT, *eligible] if grants.get((namespace, cid)) in LEVELS}
        if entries:
            groups[str(group["id"])] = entries
    return {"revision": store["revision"], "groups": groups}


def _parse_groups(groups: Any) -> dict[int, dict[Any, str]]:
    """The PUT body's groups with integer keys; malli-style 400 for anything else."""
    def invalid() -> errors.ApiError:
        return errors.invalid(
            {"groups": 'map where {"root" or integer greater than zero -> enum of write, read, none}'},
            {"groups": ["invalid collection permissions graph"]},
        )

    if not isinstance(groups, dict):
        raise invalid()
    out: dict[int, dict[Any, str]] = {}
    for gkey, entries in groups.items():
        if not (gkey.isdigit() and int(gkey) > 0) or not isinstance(entries, dict):
            raise invalid()
        parsed: dict[Any, str] = {}
        for ckey, level in entries.items():
            if level not in ("read", "write", "none") or not (ckey == ROOT or (ckey.isdigit() and int(ckey) > 0)):
                raise invalid()
            parsed[ROOT if ckey == ROOT else int(ckey)] = level
        out[int(gkey)] = parsed
    return out


def collection_access(state: State, user: Row | None, collection_id: int | None) -> str | None:
    """"write", "read" or None: what `user` may do with a collection (None = root) through its groups.

    Admins write everywhere; a personal collection and its descendants belong to their owner alone.
    """
    if user is None:
        return None
    if user.get("is_superuser"):
        return "write"
    sync_defaults(state)
    collection = state.table("collection").get(collection_id) if collection_id else None
    if collection is not None:
        owner_ids = [collection.get("personal_owner_id")] + [
            state.table("collection").value(int(p), "personal_owner_id")
            for p in (collection.get("location") or "/").split("/") if p
        ]
        if any(o is not None for o in owner_ids):
            return "write" if user["id"] in owner_ids else None
    key = (norm_namespace(collection.get("namespace")) if collection else None, collection_id if collection else ROOT)
    group_ids = {m["group_id"] for m in state.table("permissions_group_membership").where(user_id=user["id"])}
    levels = {_store(state)["perms"].get(gid, {}).get(key) for gid in group_ids}
    return "write" if "write" in levels else "read" if "read" in levels else None


def user_permission(state: State, user: Row | None, collection: Row | None) -> str | None:
    """The hook the collections area asks (with a collection row, None for the root): see `collection_access`."""
    return collection_access(state, user, collection["id"] if collection else None)


def update_graph(state: State, body: dict, *, force: bool, skip_graph: bool) -> dict[str, Any]:
    """PUT /api/collection/graph: apply the changed grants of one namespace; a stale revision is refused."""
    namespace = norm_namespace(body.get("namespace"))
    requested = _parse_groups(body.get("groups"))
    old = graph(state, namespace)
    collections = state.table("collection")
    personal = _personal_tree_ids(state)

    def editable(cid: Any) -> bool:
        # Personal collections, their descendants and other namespaces are dropped without a word.
        if cid == ROOT:
            return True
        row = collections.get(cid)
        return row is not None and cid not in personal and norm_namespace(row.get("namespace")) == namespace

    changes: dict[int, dict[Any, str]] = {}
    for gid, entries in requested.items():
        kept = {cid: level for cid, level in entries.items() if editable(cid)}
        current = old["groups"].get(str(gid), {})
        changed = {cid: lv for cid, lv in kept.items() if current.get(str(cid) if cid != ROOT else ROOT) != lv}
        if changed and state.table("permissions_group").get(gid) is not None:
            changes[gid] = changed
    if not force and body.get("revision") != old["revision"]:
        raise errors.revision_conflict()
    if changes:
        store = _store(state)
        admin = group_model.find_magic_group(state, group_model.ADMIN)
        for gid, entries in changes.items():
            if admin and gid == admin["id"]:
                continue  # Administrators always have write; nothing is stored for them.
            grants = store["perms"].setdefault(gid, {})
            for cid, level in entries.items():
                if level == "none":
                    grants.pop((namespace, cid), None)
                else:
                    grants[(namespace, cid)] = level
        # Only a PUT that changes something writes a CollectionPermissionGraphRevision.
        store["revision"] += 1
    if skip_graph:
        return {"revision": _store(state)["revision"]}
    return graph(state, namespace)
