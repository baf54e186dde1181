"""Capabilities: hooks only some kinds need, each a small class a kind lists among its bases (Terraform's optional
resource interfaces). `Kind` holds what every kind has; the engine asks `isinstance(kind, Capability)` for the rest,
and the functions here answer for any kind (a kind without the capability gets the default).
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import cached_property
from typing import TYPE_CHECKING, Any, ClassVar

from .hooks import Phase
from .kind import DatabaseNeed, Kind, PathContext, PathHint, once
from .kindutil import archive_order, archived_with_problems
from .refs import REF, address, is_ref, split_address

if TYPE_CHECKING:
    from .client import MetabaseClient, Shape
    from .hooks import DiagnoseContext, WriteRequest
    from .import_options import ImportOptions
    from .resolve import Resolver, Target

Order = list[tuple[tuple[str, str], tuple[str, str]]]  # (earlier, later) pairs of (address, stage) nodes

MAIN_STAGE = "main"
POSITION_STAGE = "positions"  # the stage a `write_position` request names


class StagedWrites(Kind):
    """Writes each doc in `stages`, in order (a dashboard: its shell, then its layout; a collection: live, then its
    archive), each stage waiting for the refs `stage_refs` names; or writes in one stage that waits for other refs
    than the doc's own (an alert waits for its card's previous alert)."""

    stages: ClassVar[tuple[str, ...]] = (MAIN_STAGE,)

    def stage_refs(self, doc: dict[str, Any], stage: str) -> set[str]:
        """Refs that need target ids before `stage` is written; default: all non-deferred ones, first stage."""
        return default_stage_refs(self, doc, stage)


def stages(kind: Kind) -> tuple[str, ...]:
    """The writes per object of `kind`, in order."""
    return kind.stages if isinstance(kind, StagedWrites) else (MAIN_STAGE,)


def stage_refs(kind: Kind, doc: dict[str, Any], stage: str, refs: set[str] | None = None,
               deferred: set[str] | None = None) -> set[str]:
    """What the write of `stage` of `doc` waits for (`refs`, `deferred`: the doc's refs and deferred refs, when the
    caller has them already)."""
    if isinstance(kind, StagedWrites):
        return kind.stage_refs(doc, stage)
    return default_stage_refs(kind, doc, stage, refs, deferred)


def default_stage_refs(kind: Kind, doc: dict[str, Any], stage: str, refs: set[str] | None = None,
                       deferred: set[str] | None = None) -> set[str]:
    if stage != stages(kind)[0]:
        return set()
    return (kind.refs(doc) if refs is None else refs) - (deferred_refs(kind, doc) if deferred is None else deferred)


class OrderedPositions(Kind):
    """Doc fields holding the object's place in a list it shares with siblings of any kind, where the server renumbers
    the siblings on every write (Metabase's pins: collection_position) → the doc field naming the list's container.
    `payload` leaves them out: apply sets them last, list by list, through `write_position`."""

    positions: ClassVar[dict[str, str]] = {}

    def write_position(self, req: WriteRequest) -> None:
        """Called by apply's last step (after the second pass), one object at a time in list order: set one
        `positions` field (`req.payload`: {field: value}, None clears it) of `req.target_id`. Default: PUT
        endpoint/id with that field alone."""
        req.api.put(f"{self.endpoint}/{req.target_id}", json=req.payload)


def positions(kind: Kind) -> dict[str, str]:
    return kind.positions if isinstance(kind, OrderedPositions) else {}


class OptIn(Kind):
    """A kind an import leaves out unless an option asks for it (API keys: --with-api-keys)."""

    def skipped(self, options: ImportOptions) -> str | None:
        """Why this kind is left out of an import with these options (None: it is not)."""
        return None


def skipped(kind: Kind, options: ImportOptions) -> str | None:
    return kind.skipped(options) if isinstance(kind, OptIn) else None


class RecoversLostCreate(Kind):
    """Something only a create answer carries (an API key's value) that must be recovered when that answer was lost
    and the import found the object again by its natural key."""

    def adopted(self, api: MetabaseClient, target_id: Any, doc: dict[str, Any], target: Any) -> None:
        """An object this import created whose answer was lost (found again by its natural key)."""


class ReplacedOnUpdate(Kind):
    """`update` replaces the object with a new one (a new id), as a permissions-graph PUT does for an impersonation:
    the engine records the id `update` answers, so a later prune finds it."""


class Settles(Kind):
    """Objects the kinds listed after them (`after`) cannot be read from at once (a database in its first sync)."""

    def settle(self, api: MetabaseClient, raw: dict[str, Any]) -> bool:
        """A matched object that is not ready yet (one a stopped import created): wait for it, bounded; True if it
        had to wait (those kinds are read again). Default: ready."""
        return False


def settle(kind: Kind, api: MetabaseClient, raw: dict[str, Any]) -> bool:
    return kind.settle(api, raw) if isinstance(kind, Settles) else False


class Narrows(Kind):
    """Docs about many objects at once (a permissions graph), which a selective import writes only in part."""

    def narrow(self, doc: dict[str, Any], current: dict[str, Any], selected: set[str],
               docs: dict[str, dict[str, Any]]) -> dict[str, Any] | None:
        """For an import of only `selected` addresses (`docs`: the whole tree): the doc with the parts about selected
        objects taken from `doc` and the rest from `current` (the target's, normalized like the tree), so writing it
        changes nothing else; None when no part is about the selection."""
        return None

    def without(self, doc: dict[str, Any], left_out: set[str]) -> dict[str, Any] | None:
        """For an import that leaves out `left_out` addresses (--skip-unsupported: the target cannot hold them, and
        `doc` refers to them): the doc without its parts about them, written instead of leaving the whole doc out;
        None: the doc goes with them."""
        return None


class HeldInPart(Kind):
    """Docs a target may hold without some of their parts, which the kind's own code knows (a setting whose token
    feature the target lacks). A field declared `Needs(..., droppable=True)` is such a part without any code."""

    def unheld_parts(self, doc: dict[str, Any], ctx: DiagnoseContext) -> dict[str, str]:
        """Part of `doc` (a name the kind's `without_parts` knows) → why the target (`ctx.target`, with its token
        features) cannot hold it; empty: it holds all of the doc."""
        return {}

    def without_parts(self, doc: dict[str, Any], parts: set[str]) -> dict[str, Any]:
        """The doc without these parts (--skip-unsupported writes the rest)."""
        return doc


def unheld_parts(kind: Kind, doc: dict[str, Any], version: Any, features: dict[str, bool] | None,
                 ctx: DiagnoseContext) -> dict[str, str]:
    """Part → why, of the parts of `doc` a target of this version and token features cannot hold though it holds
    the rest: its droppable fields (`Needs(droppable=True)`), then what `HeldInPart.unheld_parts` says."""
    parts = kind.spec.unmet_parts(doc, version, features)
    return parts | kind.unheld_parts(doc, ctx) if isinstance(kind, HeldInPart) else parts


def without_parts(kind: Kind, doc: dict[str, Any], parts: set[str]) -> dict[str, Any]:
    """`doc` without the `parts` `unheld_parts` named: its own fields among them left out, the rest the kind's."""
    own = parts - kind.spec.doc_fields
    doc = {k: v for k, v in doc.items() if k not in parts}
    return kind.without_parts(doc, own) if own and isinstance(kind, HeldInPart) else doc


class RemembersMatch(Kind):
    """Docs matched the way an import option says (a database mapped with --map-database): the state remembers it,
    and a later run that would match the doc otherwise stops at plan with `memo_problem`."""

    def match_memo(self, doc: dict[str, Any], options: ImportOptions) -> str | None:
        """How this doc is matched with these options; None: the same way every run."""
        return None

    def memo_problem(self, doc: dict[str, Any], remembered: str | None, now: str | None) -> str:
        """One line: the doc was matched as `remembered` by an earlier import, this run would match it as `now`."""
        return (f"{self.address_of(doc)}: an earlier import matched it as {remembered!r}, this run would match it "
                f"as {now!r}; use the same options, or a new --state to start over")


def match_memo(kind: Kind, doc: dict[str, Any], options: ImportOptions) -> str | None:
    return kind.match_memo(doc, options) if isinstance(kind, RemembersMatch) else None


class FetchesUnlisted(Kind):
    """Objects the listing does not show (an archived segment) that an exported object may refer to."""

    def fetch_unlisted(self, api: MetabaseClient, ident: Any) -> dict[str, Any] | None:
        """The object with this id, or None if it is not there (export asks after normalizing)."""
        return None


class NeedsDatabaseSettings(Kind):
    """Docs that need database-local settings on the target database they use (model actions)."""

    def database_needs(self, doc: dict[str, Any], docs: dict[str, dict[str, Any]]) -> list[DatabaseNeed]:
        """Database-local settings this doc needs on the target (see DatabaseNeed); default none."""
        return []


def database_needs(kind: Kind, doc: dict[str, Any], docs: dict[str, dict[str, Any]]) -> list[DatabaseNeed]:
    return kind.database_needs(doc, docs) if isinstance(kind, NeedsDatabaseSettings) else []


class DeferredRefs(Kind):
    """Refs that import fills in a second pass, once every object has an id (cycles Metabase itself allows: a card's
    click behaviour links to the dashboard that shows it)."""

    def deferred_refs(self, doc: dict[str, Any]) -> set[str]:
        """Default: the refs its field spec declares `late` (`ref(..., late=True)`, `walk("viz", late=True)`, nested
        items' too), but none to the doc itself (the graph ignores those anyway)."""
        return once(doc, "deferred", lambda d: self.spec.late_refs(d) - {self.address_of(d)})


def deferred_refs(kind: Kind, doc: dict[str, Any]) -> set[str]:
    return kind.deferred_refs(doc) if isinstance(kind, DeferredRefs) else set()


class ImportsAfter(Kind):
    """Every doc of the kinds in `import_after` is written (or located) before any doc of this kind, refs or not: the
    permission graphs must see every group, database and collection of the tree, not only those they name."""

    import_after: ClassVar[tuple[str, ...]] = ()

    def decided_after_creates(self, wanted: dict[str, Any], current: dict[str, Any]) -> bool:
        """Whether the differences plan found (`compare`) can only be known once the objects of `import_after` this
        import creates exist (Metabase gives new ones defaults of its own): plan then lists the doc as `~?`, compared
        and written where it differs only then, not as an update apply surely writes. Default: never."""
        return False


def import_after(kind: Kind) -> tuple[str, ...]:
    return kind.import_after if isinstance(kind, ImportsAfter) else ()


def decided_after_creates(kind: Kind, wanted: dict[str, Any], current: dict[str, Any]) -> bool:
    return isinstance(kind, ImportsAfter) and kind.decided_after_creates(wanted, current)


class SubObjects(Kind):
    """Addresses living inside this kind's docs (a table's fields, a dashboard's tabs and dashcards): `sub_items`
    names them, in a raw object and in a doc alike, and the index, `contains` and `sub_ids` are made from it."""

    sub_kinds: ClassVar[dict[str, int]] = {}  # sub kind → how many key parts of the address name the owner

    def sub_items(self, obj: dict[str, Any], raw: bool) -> Iterable[tuple[str, dict[str, Any], tuple[Any, ...]]]:
        """(sub kind, item, the item's key parts after its owner's) of each sub-object of a raw object (`raw`) or a
        doc; the same sub-object must give the same key on both sides."""
        return ()

    def index(self, raw: dict[str, Any]) -> Iterable[tuple[str, Any, str]]:
        yield from super().index(raw)
        owner = self.key_parts(raw)
        for sub, item, key in self.sub_items(raw, True):
            yield sub, item["id"], address(sub, *owner, *key)

    def contains(self, doc: dict[str, Any]) -> set[str]:
        """Sub addresses living inside this doc."""
        owner = self.key_parts(doc)
        return {address(sub, *owner, *key) for sub, _, key in self.sub_items(doc, False)}

    def sub_ids(self, doc: dict[str, Any], raw: dict[str, Any]) -> dict[str, Any]:
        """Target ids of the sub-objects of a written or located object: each of `raw`'s, by its key."""
        owner = self.key_parts(doc)
        return {address(sub, *owner, *key): item["id"] for sub, item, key in self.sub_items(raw, True) if "id" in item}


def sub_kinds(kind: Kind) -> dict[str, int]:
    return kind.sub_kinds if isinstance(kind, SubObjects) else {}


def contains(kind: Kind, doc: dict[str, Any]) -> set[str]:
    return kind.contains(doc) if isinstance(kind, SubObjects) else set()


def sub_ids(kind: Kind, doc: dict[str, Any], raw: dict[str, Any]) -> dict[str, Any]:
    return kind.sub_ids(doc, raw) if isinstance(kind, SubObjects) else {}


class FetchesDetail(Kind):
    """A listing that lacks what the doc needs: export fetches the detail of the summaries `needs_fetch` names, and an
    incremental export reuses a detail while its `fetch_key` and `fetch_deps` say nothing changed."""

    # Raw fields of the detail that no code reads, declared skip (hydrated copies of other objects; nested ones as
    # "dashcards[].card"): left out while the answer is decoded (`detail_shape`), so they cost neither objects nor
    # memory. A detail with a field the declarations do not name is decoded whole.
    unread: ClassVar[tuple[str, ...]] = ()

    @cached_property
    def detail_shape(self) -> Shape | None:
        """The shape `fetch` decodes the detail with (mbport.client.Shape); None: the whole answer."""
        return self.spec.shape(self.unread) if self.unread else None

    def needs_fetch(self, summary: dict[str, Any]) -> bool:
        """Whether `fetch` must be called for this summary (False when the list already has everything)."""
        return True

    def fetch(self, api: MetabaseClient, summary: dict[str, Any]) -> dict[str, Any]:
        """Called per listed object when `needs_fetch`; default: GET endpoint/id (without the `unread` fields)."""
        path = f"{self.endpoint}/{summary['id']}"
        return api.get(path, shape=self.detail_shape) if self.detail_shape is not None else api.get(path)

    def fetch_key(self, summary: dict[str, Any]) -> str | None:
        """A value that changes whenever `fetch` would answer differently for this summary (from list-row fields
        that change with it, not the whole row: rows hydrate things like the creator's last_login), or None
        (default) to fetch it on every export."""
        return None

    def fetch_deps(self, raw: dict[str, Any]) -> Iterable[tuple[str, Any]]:
        """(kind, id) of the listed objects a fetched detail copies or hides, whose changes do not touch this
        object's own list row (a dashboard's cards); a reused detail whose dependency changed is fetched again."""
        return ()


def needs_fetch(kind: Kind, summary: dict[str, Any]) -> bool:
    return isinstance(kind, FetchesDetail) and kind.needs_fetch(summary)


def fetch_key(kind: Kind, summary: dict[str, Any]) -> str | None:
    return kind.fetch_key(summary) if isinstance(kind, FetchesDetail) else None


def fetch_deps(kind: Kind, raw: dict[str, Any]) -> Iterable[tuple[str, Any]]:
    return kind.fetch_deps(raw) if isinstance(kind, FetchesDetail) else ()


class ComparesRaw(Kind):
    """The target's raw object must be reshaped before plan normalizes it for `compare` (a card in the tree's query
    dialect)."""

    def comparable_raw(self, api: MetabaseClient, raw: dict[str, Any], doc: dict[str, Any]) -> dict[str, Any]:
        """Called by plan, concurrently, per matched object; default `raw` unchanged, no request."""
        return raw


class Requires(Kind):
    """Targets that have this kind (plan checks them before the first write): `since`, the first Metabase release
    line mbport can write it into; `premium_feature`, the token feature an Enterprise build needs for it."""

    since: ClassVar[tuple[int, int] | None] = None
    until: ClassVar[tuple[int, int] | None] = None  # the last release line that has it (legacy metrics: 0.50)
    premium_feature: ClassVar[str | None] = None

    def unheld(self, doc: dict[str, Any], docs: dict[str, dict[str, Any]], version: Any) -> str | None:
        """Why a target of this version cannot hold this doc because of another doc of the tree (an alert on an
        archived card before 0.54); None: it can. Default None."""
        return None


def unsupported(kind: Kind, version: Any, features: dict[str, bool] | None,
                doc: dict[str, Any] | None = None, docs: dict[str, dict[str, Any]] | None = None) -> str | None:
    """Why a target of this version (a `MetabaseVersion`, None: unknown) and token features cannot hold this kind
    (`Requires`), or this doc of it (a field whose declaration `needs` what the target lacks; with the tree's
    `docs`, `Requires.unheld`); None: it can."""
    if isinstance(kind, Requires):
        if kind.since and version is not None and version < kind.since:
            return f"Metabase {version.tag} has no {kind.name} (they exist from {kind.since[0]}.{kind.since[1]} on)"
        if kind.until and version is not None and version >= (kind.until[0], kind.until[1] + 1):
            return (f"Metabase {version.tag} has no {kind.name} (removed after {kind.until[0]}.{kind.until[1]}: "
                    "no API target)")
        if kind.premium_feature and features is not None and not features.get(kind.premium_feature):
            return f"its token has no {kind.premium_feature} feature (Metabase Pro or Enterprise)"
        if doc is not None and docs is not None and version is not None:
            reason = kind.unheld(doc, docs, version)
            if reason:
                return reason
    return kind.spec.unmet_needs(doc, version, features) if doc is not None else None


class VersionNotes(Kind):
    """What a Metabase version means for this kind, in an admin's words (`mbport doctor`)."""

    def version_notes(self, version: Any) -> list[str]:
        return []


class LabelContext(Kind):
    """Names that are ambiguous across the tree (a table's): pictures such as `mbport graph` show the context."""

    def label_context(self, doc: dict[str, Any]) -> str | None:
        """Where the object lives (a table's database)."""
        return None


class SetLikeFields(Kind):
    """Top-level list fields that are sets, sorted by refs whose keys (entity_ids) differ between instances:
    comparing trees of two instances sorts them again after relabelling (mbport.relabel)."""

    set_like_fields: ClassVar[tuple[str, ...]] = ()


class MatchedOnly(Kind):
    """Objects matched on the target, never created (tables and fields come from the warehouse sync)."""


class Unreferenced(Kind):
    """Docs nothing else points at (an alert, a policy, a permission graph): not in the id → address index."""

    def index(self, raw: dict[str, Any]) -> Iterable[tuple[str, Any, str]]:
        return ()


class NeverPruned(Kind):
    """Objects `--prune` never archives or deletes, even those mbport created (groups, databases, settings, the
    permission graphs: Metabase's own or configuration that has no "absent" the tree could ask for)."""


class MadeByMetabase(Kind):
    """Some objects of this kind Metabase makes itself (a user's personal collection with the user, a tenant's own
    collection with the tenant, the Library's Data, Metrics and Dashboards with the Library, the All tenant users group
    once tenants are on, and its members): import adopts them, never creates them (`create` finds the one Metabase
    made). Plan shows one the target lacks yet as adopted (`=`), not created, and --prune leaves them to Metabase."""

    def made_by_metabase(self, obj: dict[str, Any], docs: dict[str, dict[str, Any]]) -> bool:
        """Whether this doc of the tree (`docs`: the tree's), or this raw object of the target (`docs`: empty), is one
        Metabase makes itself."""
        return True


def archived_already(kind: Kind, raw: dict[str, Any]) -> bool:
    """Whether a target object is already as `--prune` leaves it (`Kind.archived_when`: archived, deactivated)."""
    return kind.archived_when is not None and all(raw.get(k) == v for k, v in kind.archived_when.items())


def made_by_metabase(kind: Kind, obj: dict[str, Any], docs: dict[str, dict[str, Any]] | None = None) -> bool:
    return isinstance(kind, MadeByMetabase) and kind.made_by_metabase(obj, docs or {})


class DeletedOnPrune(Kind):
    """Objects Metabase has no archive for (a glossary entry, a transform): `--prune` deletes them."""

    archived_when = None

    def archive(self, api: MetabaseClient, target_id: Any) -> None:
        api.delete(f"{self.endpoint}/{target_id}")


class ProvidesFolders(Kind):
    """Docs of this kind are folders other docs nest in (collections)."""


class MatchesByCode(Kind):
    """A natural key no `Match` declaration can say (a group by its role or its name, a collection by its owner or its
    place): the kind computes it on both sides."""

    def match_key(self, doc: dict[str, Any], resolve: Resolver) -> tuple | None:
        """The natural key of a doc in target terms (refs resolved), to adopt an existing object; None: never.
        Default: from `match`."""
        return declared_match_key(self, doc, resolve)

    def raw_match_key(self, raw: dict[str, Any]) -> tuple | None:
        """The same natural key read off a target raw object. Default: from `match`."""
        return declared_raw_match_key(self, raw)


def declared_match_key(kind: Kind, doc: dict[str, Any], resolve: Resolver) -> tuple | None:
    return kind.match.doc_key(kind.spec, doc, resolve) if kind.match is not None else None


def declared_raw_match_key(kind: Kind, raw: dict[str, Any]) -> tuple | None:
    return kind.match.raw_key(kind.spec, raw) if kind.match is not None else None


def match_key(kind: Kind, doc: dict[str, Any], resolve: Resolver) -> tuple | None:
    """A doc's natural key in target terms: generated from `match`, or the kind's own (`MatchesByCode`)."""
    return kind.match_key(doc, resolve) if isinstance(kind, MatchesByCode) else declared_match_key(kind, doc, resolve)


def raw_match_key(kind: Kind, raw: dict[str, Any]) -> tuple | None:
    """The same natural key read off a target raw object."""
    return kind.raw_match_key(raw) if isinstance(kind, MatchesByCode) else declared_raw_match_key(kind, raw)


class Locates(Kind):
    """Finding the target object takes more than an entity_id and a natural key (a database mapped by an option, which
    must exist)."""

    def locate(self, target: Target, doc: dict[str, Any], resolve: Resolver, claimed: set[Any]) -> Any:
        """The target id of the object this doc describes, or None; default `default_locate`."""
        return default_locate(self, target, doc, resolve, claimed)


def locate(kind: Kind, target: Target, doc: dict[str, Any], resolve: Resolver, claimed: set[Any]) -> Any:
    """The target id of an existing object this doc describes, or None. Called in graph order."""
    if isinstance(kind, Locates):
        return kind.locate(target, doc, resolve, claimed)
    return default_locate(kind, target, doc, resolve, claimed)


def default_locate(kind: Kind, target: Target, doc: dict[str, Any], resolve: Resolver, claimed: set[Any]) -> Any:
    """The same entity_id (a restore into the instance the tree came from), then the natural key; an object already
    claimed by another doc is never adopted twice."""
    eid = doc.get("entity_id")
    if eid:
        for raw in target.lookup(kind.name, "entity_id", lambda r: r.get("entity_id")).get(eid, []):
            if raw.get("id") not in claimed:
                return raw["id"]
    try:
        key = match_key(kind, doc, resolve)
    except Exception:  # a parent that does not exist on the target yet: nothing to adopt
        return None
    if key is None:
        return None
    for raw in target.lookup(kind.name, "match_key", lambda r: raw_match_key(kind, r)).get(key, []):
        if raw.get("id") not in claimed:
            return raw["id"]
    return None


class OrdersWrites(Kind):
    """Writes whose side effects (Metabase's cascades) must come before or after another doc's stage, beyond what
    refs order."""

    def write_order(self, doc: dict[str, Any], docs: dict[str, dict[str, Any]]) -> Order:
        """Extra (earlier, later) pairs of (address, stage) nodes, one of them this doc's. A pair naming a doc or stage
        the tree does not have is ignored. Default none."""
        return []


class CollectionCascade(OrdersWrites):
    """Docs in a collection (their `ref(container=True)`) that the archive of an archived collection around them
    reaches (api-surface §23; collection.clj `archive-collection!`). With `archived_with_it`, an archived doc is
    written before that archive (archived with it or on its own, the cascade leaves it archived) and a live one after
    it (created in an archived collection, it stays live); without, the doc is always written after it (the cascade
    would overwrite the doc's own `archived`, so that goes on last)."""

    archived_with_it: ClassVar[bool] = True
    # Doc fields naming other containers whose archive reaches the doc too (a dashboard question's dashboard).
    also_archived_by: ClassVar[tuple[str, ...]] = ()

    def write_order(self, doc: dict[str, Any], docs: dict[str, dict[str, Any]]) -> Order:
        return archive_order(self.address_of(doc), stages(self), docs, doc.get(self.spec.container or ""),
                             cascades_onto=self.archived_with_it and bool(doc.get("archived")))

    def diagnose(self, doc: dict[str, Any], phase: Phase, ctx: DiagnoseContext) -> list[str]:
        """TREE, with `archived_with_it`: a doc in the Trash with its container (`archived_directly: false`) needs
        that container archived in the tree."""
        if phase != Phase.TREE or not self.archived_with_it:
            return []
        containers = (self.spec.container or "", *self.also_archived_by)
        return archived_with_problems(doc, ctx.docs, *(doc.get(f) for f in containers))


def write_order(kind: Kind, doc: dict[str, Any], docs: dict[str, dict[str, Any]]) -> Order:
    return kind.write_order(doc, docs) if isinstance(kind, OrdersWrites) else []


class PartOf(Kind):
    """Docs that live and die with another object (a subscription with its dashboard, a membership with its group):
    `--select` of that object selects them too."""

    part_of: ClassVar[tuple[str, ...]] = ()  # doc fields (dotted paths) naming that object


def part_of(kind: Kind) -> tuple[str, ...]:
    return kind.part_of if isinstance(kind, PartOf) else ()


class DescribesChanges(Kind):
    """Fields with structure that `mbport diff` phrases itself (a query, a dashboard's layout, a permission graph)."""

    def describe_change(self, field: str, old: Any, new: Any, names: Any) -> list[str] | None:
        """Called by `mbport diff` for each top-level field that differs (old/new may be `diff.MISSING`): phrases an
        admin reads ("renamed 'A' → 'B'", "archived"). Default None: diff's own phrasing (`mbport.diff.describe_field`:
        the kind's phrases in mbport.display, then "field changed" by shape); return `super().describe_change(...)`
        for the other fields. An empty list says the difference means nothing to an admin (only derived text
        differs)."""
        return None


def describe_change(kind: Kind, field: str, old: Any, new: Any, names: Any) -> list[str] | None:
    return kind.describe_change(field, old, new, names) if isinstance(kind, DescribesChanges) else None


class AboutItem(Kind):
    """One doc per object of another kind that it is about (a verified card, a database's cache policy): one of the doc
    fields `items` refers to that object. The address is that field and the object's key (`verifications/card/<entity
    id>`; `list` records it on the raw object as `item_key`); the file goes in the field's folder under the object's
    collection, named after the object; messages name it (`card 'Revenue'`)."""

    items: ClassVar[tuple[str, ...]] = ()

    def item_field(self, doc: dict[str, Any]) -> str:
        return next(f for f in self.items if f in doc)

    def unknown_fields(self, doc: dict[str, Any]) -> list[str]:
        return [f for f in super().unknown_fields(doc) if f not in self.items]  # the item's field is the doc's own

    def key_parts(self, raw_or_doc: dict[str, Any]) -> tuple[Any, ...]:
        if "item_key" in raw_or_doc:
            return tuple(raw_or_doc["item_key"])
        field = self.item_field(raw_or_doc)
        return (field, *split_address(raw_or_doc[field][REF])[1])

    def path(self, doc: dict[str, Any], folders: PathContext) -> PathHint:
        field = self.item_field(doc)
        item = folders.doc(doc[field]) or {}
        return PathHint((field, *folders.folder_of(item.get("collection"))), str(item.get("name") or self.key_parts(doc)[-1]))

    def label(self, doc: dict[str, Any], docs: dict[str, dict[str, Any]] | None = None) -> str | None:
        field = next((f for f in self.items if is_ref(doc.get(f))), None)
        item = (docs or {}).get(doc[field][REF]) if field else None
        return f"{field} {item['name']!r}" if item and item.get("name") else None


CAPABILITIES = (StagedWrites, OrderedPositions, OptIn, RecoversLostCreate, ReplacedOnUpdate, Settles, Narrows,
                HeldInPart, RemembersMatch, FetchesUnlisted, NeedsDatabaseSettings, DeferredRefs, ImportsAfter, SubObjects,
                FetchesDetail, ComparesRaw, Requires, VersionNotes, LabelContext, SetLikeFields, MatchedOnly,
                ProvidesFolders, MatchesByCode, Locates, OrdersWrites, CollectionCascade, PartOf, DescribesChanges,
                NeverPruned, DeletedOnPrune, Unreferenced, MadeByMetabase, AboutItem)
