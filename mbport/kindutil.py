"""Helpers for plugin authors: canonical queries, defaults, collection homes, late-bound refs, shared drop reasons."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from .kind import ExportContext
from .refs import REF, Walker, address_kind, collect_refs, is_ref

# Drop reasons that read the same in every kind that has the field (merge with `{**COMMON_DROP, ...}`).
COMMON_DROP = {
    "created_at": "server timestamp",
    "updated_at": "server timestamp",
    "can_write": "the reading user's permission",
}

# Server bookkeeping inside stored queries: regenerated on every save (lib/uuid), or added by some releases
# only (`*-idents` in 0.53-0.56 MBQL 4; on >= 0.57 the markers of a query stored in the legacy form and
# converted on read: `lib.convert/converted?` on the query or a stage, `lib/transformation-added-base-type`
# in a field ref's options; Metabase's serialization strips them too). versions.md says strip them, at any
# depth: they sit in clause option maps as well as on the query.
QUERY_NOISE = frozenset({
    "lib/uuid", "lib.convert/converted?", "lib/transformation-added-base-type",
    "aggregation-idents", "breakout-idents", "expression-idents", "ident",
})
# Maps whose keys a user named (an expression called "ident" must survive); their keys are never noise.
NAMED_MAPS = frozenset({"expressions", "template-tags"})


def canonical_query(node: Any) -> Any:
    """A stored query without server noise, native `template-tags` as a map keyed by name (0.63 sends a list).

    A `lib/uuid` is noise except where an MBQL 5 ref names it: `["aggregation", {opts}, "<uuid>"]` (an order-by
    or a later stage on an aggregation) points at that aggregation's `lib/uuid`, and Metabase keeps a uuid the
    client sends while it makes up one that is missing, so stripping it would leave the ref dangling on the
    target (metabase.lib.aggregation/resolve-aggregation: "No aggregation with uuid"). The uuid is stored, so
    keeping it stays deterministic."""
    referenced = set(_aggregation_refs(node))
    return _canonical(node, referenced, named=False)


def _aggregation_refs(node: Any) -> Iterator[str]:
    if isinstance(node, list):
        if len(node) == 3 and node[0] == "aggregation" and isinstance(node[1], dict) and isinstance(node[2], str):
            yield node[2]
        for x in node:
            if isinstance(x, list | dict):
                yield from _aggregation_refs(x)
    elif isinstance(node, dict):
        for x in node.values():
            if isinstance(x, list | dict):
                yield from _aggregation_refs(x)


def _canonical(node: Any, referenced: set[str], named: bool) -> Any:
    if isinstance(node, list):  # scalars are copied without a call: a stored query is mostly scalars
        return [_canonical(x, referenced, False) if isinstance(x, list | dict) else x for x in node]
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    for key, value in node.items():
        if not named and key in QUERY_NOISE and not (key == "lib/uuid" and value in referenced):
            continue
        if key == "template-tags" and isinstance(value, list):
            value = {t["name"]: t for t in value if isinstance(t, dict) and "name" in t}
        out[key] = (_canonical(value, referenced, named=key in NAMED_MAPS and not named)
                    if isinstance(value, list | dict) else value)
    return out


def omit_defaults(doc: dict[str, Any], defaults: dict[str, Any]) -> dict[str, Any]:
    """Drop the optional fields that hold the default value `defaults` gives them (a null is dropped anyway)."""
    for key in list(doc):
        if key in defaults and doc[key] == defaults[key]:
            del doc[key]
    return doc


def exported_collection_ids(ctx: ExportContext) -> set[Any] | None:
    """Ids of the collections this export writes (the collections kind's choice), or None if it did not run."""
    rows = ctx.raw.get("collections")
    if rows is None:
        return None
    key = ("exported_collection_ids", id(rows))
    if key not in ctx.memo:  # asked for every card and dashboard
        ctx.memo[key] = (rows, {r["id"] for r in rows})  # the rows kept with it: their id() stays theirs
    return ctx.memo[key][1]


def in_exported_collection(raw: dict[str, Any], ctx: ExportContext) -> bool:
    """Whether content sits in the root or in an exported collection (personal ones only with include_personal)."""
    cid = raw.get("collection_id")
    if cid is None:
        return True
    known = exported_collection_ids(ctx)
    if known is not None:
        return cid in known
    # No collections kind installed: fall back on the hydrated collection's own flag.
    hydrated = raw.get("collection")
    personal = isinstance(hydrated, dict) and (hydrated.get("is_personal") or hydrated.get("personal_owner_id"))
    return not personal or bool(ctx.options.get("include_personal"))


def restore_home(raw: dict[str, Any], ctx: ExportContext, kind: str) -> dict[str, Any]:
    """Archived content reported in the Trash (some releases put the Trash id in collection_id): its real home.

    The hydrated `collection` still names the original collection then; when even that is the Trash, the
    object is exported at the root with a warning rather than silently left out.
    """
    known = exported_collection_ids(ctx)
    cid = raw.get("collection_id")
    if not raw.get("archived") or known is None or cid is None or cid in known:
        return raw
    hydrated = raw.get("collection") if isinstance(raw.get("collection"), dict) else {}
    if hydrated.get("id") in known and hydrated.get("id") != cid:
        return {**raw, "collection_id": hydrated["id"]}
    if hydrated.get("type") == "trash":
        ctx.warnings.append(f"{kind} {raw.get('name')!r} ({raw.get('entity_id')}): archived, and the server does not "
                            "say which collection it was in; exported at the root")
        return {**raw, "collection_id": None}
    return raw


def lenient_walker(resolve: Any, deferred: set[str]) -> Walker:
    """Refs → target ids; a deferred ref that has no id yet becomes null (the second pass fills it in), any
    other unresolvable ref is an error (the graph guarantees those exist)."""

    def fn(kind: str, value: Any) -> Any:
        if not is_ref(value):
            return value
        return resolve.optional(value) if value[REF] in deferred else resolve(value)

    return Walker(fn)


def ref_addresses(*values: Any) -> set[str]:
    """The addresses of those values that are refs."""
    return {v[REF] for v in values if is_ref(v)}


# Kinds a click behaviour or link card can point at that may point back (through a dashcard or a dashboard).
CYCLE_KINDS = frozenset({"dashboards", "cards", "tabs", "dashcards"})


def late_bound_refs(settings: Any) -> set[str]:
    """Content refs inside click behaviours and link cards, at any depth (column settings carry them too).

    A card may drill through to the dashboard that shows it, and dashboards link to each other: Metabase
    allows these cycles, so import fills such refs in once every object exists. Fields, tables and databases
    are never created by import, so they never close a cycle.
    """
    found: set[str] = set()
    if isinstance(settings, dict):
        for key, value in settings.items():
            if key in ("click_behavior", "link"):
                found |= {a for a in collect_refs(value) if address_kind(a) in CYCLE_KINDS}
            else:
                found |= late_bound_refs(value)
    elif isinstance(settings, list):
        for value in settings:
            found |= late_bound_refs(value)
    return found


# ---- archived content (Metabase's Trash) ----
# The collections kind's stage that archives a collection once everything in it is written: archiving cascades
# (collection.clj `archive-collection!`), so what is archived with it must exist before, and what must not be
# touched by the cascade (alerts, subscriptions, timelines, snippets, live items) is written after.
ARCHIVE_STAGE = "archive"


def archived_with_container(doc: dict[str, Any]) -> bool:
    """Archived because its collection (or, for a dashboard question, its dashboard) was: `archived_directly: false`."""
    return bool(doc.get("archived")) and doc.get("archived_directly") is False


def archived_state(raw: dict[str, Any]) -> dict[str, Any]:
    """The doc fields of a raw object's archived state: `archived` and, when it was archived with its container,
    `archived_directly: false` (servers without the column, before 0.50, give archived alone)."""
    if not raw.get("archived"):
        return {}
    return {"archived": True, **({"archived_directly": False} if raw.get("archived_directly") is False else {})}


def archived_payload(doc: dict[str, Any]) -> bool | None:
    """`archived` for a PUT: True archives on its own, False restores, None (leave it out) for an item archived with
    its container, which only that container's archive may do (a PUT would make it archived on its own)."""
    return None if archived_with_container(doc) else bool(doc.get("archived"))


def archive_origin(docs: dict[str, dict[str, Any]], collection: Any) -> str | None:
    """The address of the collection whose own archive puts `collection` (a ref) in the Trash: itself if archived on
    its own, else the nearest ancestor that is; None when it is not archived (or not in the tree)."""
    addr = collection.get(REF) if is_ref(collection) else None
    while addr and addr in docs:
        coll = docs[addr]
        if not coll.get("archived"):
            return None
        if not archived_with_container(coll):
            return addr
        parent = coll.get("parent")
        addr = parent.get(REF) if is_ref(parent) else None
    return None


def archive_order(doc_addr: str, stages: tuple[str, ...], docs: dict[str, dict[str, Any]], collection: Any,
                  *, cascades_onto: bool) -> list[tuple[tuple[str, str], tuple[str, str]]]:
    """Write order around the archive of the collection `collection` is archived by. `cascades_onto`: the archive is
    to reach this doc (an item archived with it), so the doc is written before; otherwise after, where the cascade
    can no longer archive, delete or restore what the doc holds."""
    origin = archive_origin(docs, collection)
    if origin is None or origin == doc_addr:
        return []
    if cascades_onto:
        return [((doc_addr, stages[-1]), (origin, ARCHIVE_STAGE))]
    return [((origin, ARCHIVE_STAGE), (doc_addr, stages[0]))]


def archived_with_problems(doc: dict[str, Any], docs: dict[str, dict[str, Any]], *containers: Any) -> list[str]:
    """`archived_directly: false` says a container's archive put the doc in the Trash: one of `containers` (refs:
    its collection, parent or dashboard) must be archived in the tree, or no import can make the server say so."""
    if not archived_with_container(doc):
        return []
    if any(is_ref(c) and (docs.get(c[REF]) or {}).get("archived") for c in containers):
        return []
    return ["archived with its container (`archived_directly: false`), but the tree has no archived collection or "
            "dashboard it sits in; drop `archived_directly` to archive it on its own"]
