"""Helpers for plugin authors: canonical queries, defaults, collection homes, late-bound refs, shared drop reasons."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from .canonical import NAMED_MAPS, QUERY_NOISE, canonical_query  # noqa: F401 - re-exported for plugins
from .client import ApiError
from .errors import MbportError
from .kind import ExportContext
from .refs import REF, Walker, is_ref
from .spec import OMIT, Field, copy

# Drop reasons that read the same in every kind that has the field (merge with `{**COMMON_DROP, ...}`).
COMMON_DROP = {
    "created_at": "server timestamp",
    "updated_at": "server timestamp",
    "can_write": "the reading user's permission",
}


# What a `why` says instead of the answer's status when the route was not asked (`token_lacks`).
FORESEEN = "its token-features"


def token_lacks(api: Any, feature: str) -> bool:
    """Whether the instance's `token-features` (in GET /api/session/properties, which every command reads first) name
    `feature` and say it is off: Metabase refuses a route mounted behind a feature on the same predicate the property
    shows (`enable-<feature>?` is `has-feature?`: api_routes/routes.clj `premium-handler`, sandbox/api/routes.clj
    `+require-premium-feature`, cache/api.clj `GET /` for any model but root), with a 402 (an OSS build, which has no
    EE route, a 404), so asking it is a round trip whose answer is known. False when the property does not name the
    feature (a release before it) or the client cannot tell: ask then."""
    try:
        features = api.token_features
    except (AttributeError, MbportError):
        return False
    return isinstance(features, dict) and feature in features and not features[feature]


def get_unless_missing(api: Any, path: str, *, params: Any = None,
                       missing: tuple[int, ...] | Callable[[ApiError], bool] = (404,), ctx: ExportContext | None = None,
                       kind: str = "", why: str = "", feature: str | None = None) -> Any:
    """GET `path`, or None when the instance has no such thing: it answers a status in `missing` (a route its release
    or build lacks, a token without the feature), or `missing(error)` says so. With `why` (`{status}` in it is the
    answer's status), `kind` is noted unavailable in `ctx`: an import into such an instance stops at plan time.
    `feature`: the token feature the whole route is behind; when the instance's token says it lacks it
    (`token_lacks`), nothing is asked (`{status}` is then FORESEEN)."""
    if feature is not None and token_lacks(api, feature):
        if why and ctx is not None:
            ctx.unavailable[kind] = why.format(status=FORESEEN)
        return None
    try:
        return api.get(path) if params is None else api.get(path, params=params)
    except ApiError as exc:
        if not (missing(exc) if callable(missing) else exc.status in missing):
            raise
        if why and ctx is not None:
            ctx.unavailable[kind] = why.format(status=exc.status)
        return None


def get_each(api: Any, path: str, queries: Iterable[dict[str, Any]]) -> list[Any]:
    """The answers to `GET path` with each query (live and archived rows, one namespace each ...), in the queries'
    order, asked at once: one after another, their round trips would add up on the way of every kind listed after
    this one (cards, dashboards and most others wait for the collections' six listings)."""
    get = lambda params: api.get(path, params=params)  # noqa: E731
    mapper = getattr(api, "map", None)  # a stand-in without one (a test double) asks one after another
    return mapper(get, list(queries)) if mapper is not None else [get(q) for q in queries]


def listed_once(api: Any, endpoint: str, *queries: dict[str, Any]) -> list[dict[str, Any]]:
    """Every object `endpoint` lists for any of `queries` (live ones, archived ones ...), each once, first seen first.

    The queries are asked at once (`get_each`)."""
    seen: dict[Any, dict[str, Any]] = {}
    for rows in get_each(api, endpoint, queries):
        for raw in rows:
            seen.setdefault(raw["id"], raw)
    return list(seen.values())


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


# What a ref to content the collections kind left out says (without include_personal, only personal collections and
# Metabase's own analytics are left out): shared content using a question from someone's personal collection.
LEFT_OUT_WITH_ITS_COLLECTION = ("which is in a collection this export leaves out (a personal collection: "
                                "export --include-personal takes it along)")


def hold_back(ctx: ExportContext, kind: str, raw: dict[str, Any]) -> None:
    """A listed object this export leaves out unless exported content refers to it (a personal collection, without
    include_personal): a ref to it takes it along (export.take_along) instead of dangling."""
    ctx.held_back[(kind, raw["id"])] = raw


def in_exported_collection(raw: dict[str, Any], ctx: ExportContext, kind: str | None = None) -> bool:
    """Whether content sits in the root or in an exported collection (personal ones only with include_personal).
    Given its `kind`, content left out is noted in `ctx.left_out`, so that a ref to it says why it is missing, and
    held back when its collection is (`hold_back`: taken along if exported content uses it)."""
    cid = raw.get("collection_id")
    if cid is None:
        return True
    known = exported_collection_ids(ctx)
    if known is not None:
        if cid in known:
            return True
        if kind is not None and raw.get("id") is not None:
            ctx.left_out[(kind, raw["id"])] = LEFT_OUT_WITH_ITS_COLLECTION
            if ("collections", cid) in ctx.held_back:
                hold_back(ctx, kind, raw)
        return False
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
    hydrated: dict[str, Any] = raw["collection"] if isinstance(raw.get("collection"), dict) else {}
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


def _archived_directly(raw: dict[str, Any]) -> Any:
    return False if raw.get("archived") and raw.get("archived_directly") is False else None


# The archived state as field specs (content kinds): `archived`, and `archived_directly: false` on an item archived
# with its container; the payload's `archived` as `archived_payload` says (left out for one archived with it).
def archived_fields(*, post: bool = True) -> dict[str, Field]:
    """`ARCHIVED`, for a kind whose POST does not take `archived` (`post=False`: create PUTs it right after)."""
    return {
        "archived": copy(send=lambda value, doc: OMIT if archived_payload(doc) is None else archived_payload(doc),
                         post=post),
        "archived_directly": copy(read=_archived_directly, send=False),
    }


ARCHIVED = archived_fields()


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
        addr = parent[REF] if isinstance(parent, dict) and is_ref(parent) else None
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


def mbql4_query(query: Any) -> Any:
    """The MBQL 4 form of a query for a server that reads classic queries (< 0.57, or 0.61's dimension refs): MBQL 5
    converted, a native stage rebuilt as `{type: native, native: {query, template-tags}}`, dimension refs classic."""
    from .mbql import classic  # imported when used: an export never needs the converter

    return classic(query)


def query_version_only(kind: Any, fields: list[str], wanted: dict[str, Any], current: dict[str, Any]) -> list[str]:
    """`fields` (what `Kind.compare` found) without `dataset_query` when the tree's and the target's queries differ
    only by their MBQL version: a cross-version import would otherwise rewrite them on every run."""
    if "dataset_query" in fields and same_query(kind.comparable(wanted).get("dataset_query"),
                                                 kind.comparable(current).get("dataset_query")):
        return [f for f in fields if f != "dataset_query"]
    return fields


def same_query(a: Any, b: Any) -> bool:
    """Two normalized queries (refs for ids) that mean the same across MBQL versions: a tree in MBQL 5 against a
    0.56 target's MBQL 4, an MBQL 4 tree against 0.61's MBQL 4 view (dimension refs in MBQL 5 form, an empty
    `template-tags` map where 0.56 has none). Two MBQL 5 queries are never reinterpreted."""
    if not isinstance(a, dict) or not isinstance(b, dict) or not a or not b or ("stages" in a and "stages" in b):
        return False
    return _semantic(a) == _semantic(b)


def _semantic(query: Any) -> Any:
    out = _plain_field_refs(canonical_query(mbql4_query(query)))
    native = out.get("native") if out.get("type") == "native" else None
    if isinstance(native, dict) and not native.get("template-tags"):
        native.pop("template-tags", None)
    return out


def _plain_field_refs(node: Any) -> Any:
    """A field ref by id without the column types MBQL 5 refs carry (Metabase reads them from the field)."""
    if isinstance(node, list):
        if len(node) == 3 and node[0] == "field" and not isinstance(node[1], str) and isinstance(node[2], dict):
            opts = {k: v for k, v in node[2].items() if k not in ("base-type", "effective-type")}
            return ["field", node[1], _plain_field_refs(opts) or None]
        return [_plain_field_refs(x) for x in node]
    if isinstance(node, dict):
        return {k: _plain_field_refs(v) for k, v in node.items()}
    return node


def driver_features(target: Any, raw: dict[str, Any] | None, engine: Any) -> tuple[set[str] | None, str]:
    """What the target's driver can do for a database, and how that is known: the matched database's own `features`
    (`raw`), else those the target's databases of the same engine report (Metabase answers per driver and release;
    any of them having a feature counts); (None, "") when the target cannot tell before the database exists."""
    if raw is not None:
        return set(raw.get("features") or []), f"the target's database {raw.get('name')!r} ({raw.get('engine')})"
    same = [r for r in (target.raw("databases") if target is not None else []) if r.get("engine") == engine
            and r.get("features") is not None]
    if not same:
        return None, ""
    names = ", ".join(repr(r.get("name")) for r in same)
    told = f"its database {names} reports" if len(same) == 1 else f"its databases {names} report"
    return {f for r in same for f in r["features"]}, f"the target's {engine} driver (as {told})"
