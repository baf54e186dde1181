"""The plugin base class: one subclass per resource kind, declarative first (serdes' per-model spec style).

The engine calls, on export: `list` → (`fetch` per summary, for `FetchesDetail` kinds) → `index` (ids →
addresses, for every kind before any doc is built) → `normalize` (raw → portable doc) → `path` (where the doc
lives in the tree). On import: `diagnose` → `refs` → matching (`match`) → `payload` → `create` / `update` / `archive`.
`Kind` holds what every kind has; what only some need is a capability (mbport.capabilities) the subclass lists
among its bases, and display words live in mbport.display. Plugins reach all of it through mbport.api.
A kind never names another kind's class; it names kinds by their `name` only (refs, `fks`, `after`).
"""

from __future__ import annotations

import builtins
import contextlib
from collections.abc import Callable, Iterable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any, ClassVar

from . import body_types
from .refs import REF, REF_FALLBACK, Walker, address, collect_refs
from .spec import Field, Match, Spec

if TYPE_CHECKING:
    from .client import MetabaseClient
    from .hooks import DiagnoseContext, Phase, WriteRequest
    from .import_options import ImportOptions
    from .resolve import Resolver


@dataclass
class ExportContext:
    """What `list` and `normalize` may use: the raw objects of earlier kinds and the id → address index."""

    raw: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    index: dict[tuple[str, Any], str] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    # The export's options (include_personal ...); `target`: the listing is an import's target, where matching needs
    # every object, also those a kind leaves out of a tree (a Metabase default nothing uses).
    options: dict[str, Any] = field(default_factory=dict)
    current: str = ""  # address of the doc being normalized, for warnings
    memo: dict[Any, Any] = field(default_factory=dict)  # values derived from `raw` once per export (kindutil)
    # Kinds the instance has no room for (an Enterprise feature on an OSS build ...) → why, in an admin's words.
    # `list` notes it and returns nothing; an export then has none, an import into it stops at plan time.
    unavailable: dict[str, str] = field(default_factory=dict)
    missing: set[tuple[str, Any]] = field(default_factory=set)  # (kind, id) refs found no object for
    # (kind, id) of the objects whose details came from the fetch cache (an earlier export), not from this one's
    # requests: what a detail holds that no listing or cache key shows (a review) may have changed since
    from_cache: set[tuple[str, Any]] = field(default_factory=set)
    # (kind, id) → why a kind's listing left that object out (kindutil.in_exported_collection): a ref to it says so
    left_out: dict[tuple[str, Any], str] = field(default_factory=dict)
    # (kind, id) → the raw object a listing held back (kindutil.hold_back: a personal collection and what it holds,
    # without include_personal): taken along after all when exported content refers to it (export.take_along)
    held_back: dict[tuple[str, Any], dict[str, Any]] = field(default_factory=dict)

    def ref(self, kind: str, value: Any) -> Any:
        """A numeric id of `kind` → its `{"$ref"}`; None stays None; an unknown id is a dangling ref + warning."""
        if value is None or value is True or value is False:  # (not an id: True would find id 1)
            return value
        try:  # a subscript, not .get: no method call for each of the export's 100,000 ids (a miss is rare)
            addr = self.index[(kind, value)]
        except KeyError:
            addr = None
        if addr is None and kind in REF_FALLBACK and not self.raw.get(kind):
            return self.ref(REF_FALLBACK[kind], value)  # the source has none of that kind (refs.REF_FALLBACK)
        if addr is None:
            addr = address(kind, f"missing-id-{value}")
            why = "which does not exist"
            with contextlib.suppress(TypeError):  # an id that is a list or an object is not hashable
                self.missing.add((kind, value))
                if (kind, value) in self.held_back:  # taken along (export.take_along), the doc made again then:
                    return {REF: addr}  # no warning (nor a stale cached detail: FetchCache.refetch_stale)
                why = self.left_out.get((kind, value), why)
            self.warnings.append(f"{self.current or kind}: refers to {kind} id {value}, {why} ({addr})")
        return {REF: addr}  # refs.ref(addr), without the call: every id of every doc comes here

    @property
    def walker(self) -> Walker:
        return Walker(self.ref)


@dataclass(frozen=True)
class PathHint:
    """Where a doc goes: folder parts below the kind's folder, and a file stem (slugged by the tree)."""

    folder: tuple[str, ...]
    stem: str  # the file name before slugging; folder parts must already be final (slugged)


@dataclass(frozen=True)
class DatabaseNeed:
    """A database-local setting a doc needs on the target database it uses (model actions need
    `database-enable-actions`), and the driver feature without which Metabase refuses that setting."""

    database: str  # the database doc's address
    setting: str
    value: Any
    driver_feature: str | None = None
    purpose: str = ""  # what needs it, in an admin's words ("model actions")


# Hooks of the earlier plugin API → what replaced them: a plugin still defining one would be silently ignored.
REPLACED_HOOKS = {
    "tree_problems": "diagnose(doc, Phase.TREE, ctx)",
    "preflight": "diagnose(doc, Phase.PREFLIGHT, ctx)",
    "plan_problems": "diagnose(doc, Phase.PLAN, ctx)",
    "doc_address": "address_of(doc)",
    "container_field": "ref(..., container=True) on the container's field",
    "parent_ref": "spec.container_ref(doc) (from ref(..., container=True))",
    "archivable": "NeverPruned among its bases (for archivable = False)",
    "key_fields": "Match(..., address=True) (or address=\"instance\" for one doc per instance), or key_parts",
}

# Hooks that belong to a capability (mbport.capabilities) → its name: a kind defining one without declaring the
# capability would never be asked.
CAPABILITY_HOOKS = {
    "stages": "StagedWrites", "stage_refs": "StagedWrites", "positions": "OrderedPositions",
    "write_position": "OrderedPositions", "skipped": "OptIn", "adopted": "RecoversLostCreate",
    "replaced_on_update": "ReplacedOnUpdate", "settle": "Settles", "narrow": "Narrows", "without": "Narrows",
    "unheld_parts": "HeldInPart", "without_parts": "HeldInPart", "match_memo": "RemembersMatch",
    "memo_problem": "RemembersMatch", "fetch_unlisted": "FetchesUnlisted", "database_needs": "NeedsDatabaseSettings",
    "needs_fetch": "FetchesDetail", "fetch": "FetchesDetail", "fetch_key": "FetchesDetail", "fetch_deps": "FetchesDetail",
    "sub_kinds": "SubObjects", "contains": "SubObjects", "sub_ids": "SubObjects", "deferred_refs": "DeferredRefs",
    "import_after": "ImportsAfter", "decided_after_creates": "ImportsAfter", "comparable_raw": "ComparesRaw",
    "since": "Requires", "premium_feature": "Requires",
    "version_notes": "VersionNotes", "label_context": "LabelContext", "set_like_fields": "SetLikeFields",
    "managed": "MatchedOnly", "provides_folders": "ProvidesFolders", "match_key": "MatchesByCode",
    "raw_match_key": "MatchesByCode", "locate": "Locates", "write_order": "OrdersWrites", "part_of": "PartOf",
    "describe_change": "DescribesChanges", "made_by_metabase": "MadeByMetabase",
}


_known: ContextVar[dict[tuple[int, str], tuple[dict[str, Any], set[str]]] | None] = ContextVar("known", default=None)


@contextlib.contextmanager
def refs_once() -> Iterator[None]:
    """Inside the block (in this thread) a doc's refs and deferred refs are worked out once per doc object: building
    the reference graph asks for them, then each kind's stage refs ask again (a card's: 0.28 s of the 0.8 s graph
    of bench-L). The docs must not change inside the block."""
    token = _known.set({})
    try:
        yield
    finally:
        _known.reset(token)


def once(doc: dict[str, Any], what: str, make: Callable[[dict[str, Any]], set[str]]) -> set[str]:
    """`make(doc)`, remembered inside a `refs_once` block (a copy each time: callers may change what they get)."""
    known = _known.get()
    if known is None:
        return make(doc)
    hit = known.get((id(doc), what))
    if hit is None or hit[0] is not doc:
        hit = known[(id(doc), what)] = (doc, make(doc))
    return set(hit[1])


class Kind:
    """One resource kind. Subclasses set the class attributes and override only what differs."""

    name: ClassVar[str]  # = the tree folder and the entry-point name, plural ("cards")
    endpoint: ClassVar[str] = ""  # the list endpoint, e.g. "/api/card"
    # Every raw field → its declaration (mbport.spec: copy, skip, ref, walk, custom): normalize, payload and the
    # "no field forgotten" check are generated from it.
    fields: ClassVar[dict[str, Field]] = {}
    # The natural key that finds the object on the target (mbport.spec.Match); None: only by entity_id.
    match: ClassVar[Match | None] = None
    # Doc fields the kind's own code (`normalize_more`) writes that no declaration names: with the declared ones,
    # every field a doc may hold (`check` names any other, a typo in a hand-edited tree, that import would ignore).
    doc_extras: ClassVar[tuple[str, ...]] = ()
    after: ClassVar[tuple[str, ...]] = ()  # kinds whose raw objects `list` needs first
    # Of `after`, the kinds whose listed rows are all `list` reads (ids, names, entity ids), not the details fetched
    # one by one (`FetchesDetail`: a request per dashboard): an export starts it once they are listed, and its
    # `ctx.raw` holds those rows for them. A kind that needs a detail's content leaves it out.
    after_listing: ClassVar[tuple[str, ...]] = ()
    # The write operations whose request bodies take the doc's fields ("PUT /api/table/{id}"); None: POST to
    # `endpoint` and PUT to `endpoint/{id}`. `check` judges each plain copied value by them (mbport.body_types): one
    # of a JSON type none of them takes is named before any write, instead of a 400 mid-import.
    writes: ClassVar[tuple[str, ...] | None] = None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        where = f"{cls.__module__}.{cls.__qualname__}"
        old = sorted(set(vars(cls)) & set(REPLACED_HOOKS))
        if old:
            raise TypeError(f"{where} defines {', '.join(old)}, which mbport no longer calls: write "
                            f"{'; '.join(REPLACED_HOOKS[h] for h in old)} instead")
        if set(cls.after_listing) - set(cls.after):
            raise TypeError(f"{where}.after_listing names kinds its `after` lacks: "
                            f"{', '.join(sorted(set(cls.after_listing) - set(cls.after)))}")
        declared = {c.__name__ for c in cls.__mro__ if c.__module__ == "mbport.capabilities"}
        undeclared = sorted(h for h in set(vars(cls)) & set(CAPABILITY_HOOKS) if CAPABILITY_HOOKS[h] not in declared)
        if undeclared:
            raise TypeError(f"{where} defines {', '.join(undeclared)} without declaring the capability: add "
                            f"{', '.join(sorted({CAPABILITY_HOOKS[h] for h in undeclared}))} (mbport.api) to its bases")

    # ---- export ----
    # Past this method, `list` in the class's annotations would name it: they say builtins.list.
    def list(self, api: MetabaseClient, ctx: ExportContext) -> list[dict[str, Any]]:
        """Called once per export; default: GET the endpoint (a bare array)."""
        return api.get(self.endpoint)

    @cached_property
    def spec(self) -> Spec:
        """The kind's field declarations (`fields`)."""
        return Spec(self.fields)

    @cached_property
    def body(self) -> body_types.Node | None:
        """What the bodies of the kind's write operations (`writes`) take, merged; None: none known."""
        ops = self.writes if self.writes is not None else \
            (f"POST {self.endpoint}", f"PUT {self.endpoint}/{{}}") if self.endpoint else ()
        return body_types.body(ops)

    def key_parts(self, raw_or_doc: dict[str, Any]) -> tuple[Any, ...]:
        """The parts of the address: the entity_id, or what `Match(..., address=...)` names."""
        if self.match is not None and self.match.address:
            return self.match.key_parts(self.spec, raw_or_doc)
        return (raw_or_doc.get("entity_id"),)

    def address_of(self, raw_or_doc: dict[str, Any]) -> str:
        """The address of a raw object or of a doc (its key fields are in both)."""
        return address(self.name, *self.key_parts(raw_or_doc))

    def index(self, raw: dict[str, Any]) -> Iterable[tuple[str, Any, str]]:
        """(kind, id, address) for this object and anything inside it other docs may point at."""
        yield self.name, raw["id"], self.address_of(raw)

    def normalize(self, raw: dict[str, Any], ctx: ExportContext) -> dict[str, Any]:
        """raw → doc: the declared `fields` (copied, refs, walked), then `normalize_more`; defaults left out."""
        if type(self).normalize_more is Kind.normalize_more:  # nothing more: defaults and nulls left out as it goes
            return self.spec.export_item(raw, ctx)  # type: ignore[return-value]  # (None only with `more`)
        doc = self.normalize_more(self.spec.export(raw, ctx), raw, ctx)
        doc = self.spec.omit_defaults(doc)
        # One rule for the whole tree: a top-level null is written as absent (both mean Metabase's default).
        return {k: v for k, v in doc.items() if v is not None}

    def normalize_more(self, doc: dict[str, Any], raw: dict[str, Any], ctx: ExportContext) -> dict[str, Any]:
        """What the declarations cannot say (fields declared `custom`); default: nothing more."""
        return doc

    def path(self, doc: dict[str, Any], folders: PathContext) -> PathHint:
        """Default: the container's folder (`ref(container=True)`, else flat), file named after the doc's name (or
        key)."""
        return PathHint(self.spec.folder(doc, folders), str(doc.get("name") or self.key_parts(doc)[0]))

    def label(self, doc: dict[str, Any], docs: dict[str, dict[str, Any]] | None = None) -> str | None:
        """A human name for messages (the doc's name, a user's email ...); `docs` (the tree, when known) lets a
        kind name an object by another it belongs to (an alert by its card)."""
        return doc.get("name") or doc.get("email")

    # ---- import ----
    def refs(self, doc: dict[str, Any]) -> set[str]:
        """Addresses this doc depends on; default: every `$ref` in it."""
        return once(doc, "refs", collect_refs)

    def payload(self, doc: dict[str, Any], resolve: Resolver, stage: str) -> dict[str, Any]:
        """The API body for `stage`; default: every sent field of `fields` (absent → its default or null)."""
        return self.spec.payload(doc, resolve)

    def create(self, req: WriteRequest) -> dict[str, Any]:
        """Write a new object for `req.doc` (no `req.target_id` yet); returns the created raw object (with its id).
        Default: POST the payload to the endpoint, then `update` the fields POST does not take (`copy(post=False)`)
        that do not hold their default."""
        raw = req.api.post(self.endpoint, json=self.spec.post_body(req.payload))
        later = self.spec.put_after_post(req.payload)
        return self.update(req.but(target_id=raw["id"], payload=later)) if later else raw

    def update(self, req: WriteRequest) -> dict[str, Any]:
        """Write `req.stage` of the matched object `req.target_id`; returns the raw object as written.
        Default: PUT the payload to endpoint/id, without the fields PUT cannot change (`put=False`)."""
        return req.api.put(f"{self.endpoint}/{req.target_id}", json=self.spec.put_body(req.payload))

    def archive(self, api: MetabaseClient, target_id: Any) -> None:
        api.put(f"{self.endpoint}/{target_id}", json={"archived": True})

    # The raw fields of a target object that `archive` has left as it leaves it (archived, deactivated): --prune lists
    # and writes nothing for such an object. None: `archive` deletes, so any object still there is pruned.
    archived_when: ClassVar[dict[str, Any] | None] = {"archived": True}

    def comparable(self, doc: dict[str, Any]) -> dict[str, Any]:
        """The part of a doc that plan compares with the target's (identity fields differ by instance)."""
        # entity_id: each instance makes its own; unwritable fields: plan names them instead (Plan.unrestorable)
        return {k: v for k, v in doc.items() if k != "entity_id" and k not in self.spec.unwritable}

    def compare(self, wanted: dict[str, Any], current: dict[str, Any],
                options: ImportOptions) -> builtins.list[str]:
        """Top-level fields where the target (current, normalized like an export) differs from the tree."""
        a, b = self.comparable(wanted), self.comparable(current)
        return sorted(k for k in set(a) | set(b) if a.get(k) != b.get(k))

    def unknown_fields(self, doc: dict[str, Any]) -> builtins.list[str]:
        """The doc's fields that neither `fields` nor `doc_extras` names (`dashcards[].rwo` inside nested items);
        none for a kind that declares no fields."""
        return self.spec.unknown(doc, self.doc_extras) if self.fields else []

    def diagnose(self, doc: dict[str, Any], phase: Phase, ctx: DiagnoseContext) -> builtins.list[str]:
        """What is wrong with this doc, one line each; any line stops an import before its first write.

        `phase` says when it is asked and so what `ctx` holds: TREE (`mbport check`, and import: what the doc
        contradicts elsewhere in the tree, without the file name), PREFLIGHT (import, a doc to be created: a
        missing secret ...), PLAN (import, the target read: what writing it would do that the tree does not mean).
        Default none."""
        return []


def address_fields(kind: Kind) -> tuple[str, ...]:
    """The doc fields a kind's address is made of, when its own `key_parts` does not make it: every doc needs them."""
    if type(kind).key_parts is not Kind.key_parts or isinstance(kind.match and kind.match.address, str):
        return ()
    return kind.match.fields if kind.match is not None and kind.match.address else ("entity_id",)


class PathContext:
    """Lets a kind place its docs under another doc's folder (e.g. cards under their collection)."""

    def __init__(self, folders: dict[str, tuple[str, ...]], docs: dict[str, dict[str, Any]] | None = None):
        self.folders = folders
        self.docs = docs or {}
        self.looked_up = False  # a path looked at another doc: it may change with that doc (export.place)

    def doc(self, value: Any) -> dict[str, Any] | None:
        """The doc a ref points at (an alert's card), if the tree has it."""
        self.looked_up = True
        return self.docs.get(value["$ref"]) if isinstance(value, dict) and "$ref" in value else None

    def folder_of(self, value: Any) -> tuple[str, ...]:
        """The folder (slug parts) of the doc a ref points at; () for None or unknown."""
        if isinstance(value, dict) and "$ref" in value:
            return self.folders.get(value["$ref"], ())
        return ()
