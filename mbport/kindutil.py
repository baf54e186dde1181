"""Helpers for plugin authors: canonical queries, defaults, collection homes, late-bound refs, shared drop reasons."""

from __future__ import annotations

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
# only (`*-idents` in 0.53-0.56 MBQL 4, `lib.convert/converted?` on >= 0.57). versions.md says strip them.
QUERY_NOISE = frozenset({
    "lib/uuid", "lib.convert/converted?", "aggregation-idents", "breakout-idents", "expression-idents", "ident",
})
# Maps whose keys a user named (an expression called "ident" must survive); their keys are never noise.
NAMED_MAPS = frozenset({"expressions", "template-tags"})


def canonical_query(node: Any, _named: bool = False) -> Any:
    """A stored query without server noise, native `template-tags` as a map keyed by name (0.63 sends a list)."""
    if isinstance(node, list):
        return [canonical_query(x) for x in node]
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    for key, value in node.items():
        if not _named and key in QUERY_NOISE:
            continue
        if key == "template-tags" and isinstance(value, list):
            value = {t["name"]: t for t in value if isinstance(t, dict) and "name" in t}
        out[key] = canonical_query(value, _named=key in NAMED_MAPS and not _named)
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
