"""What the permission kinds share: the built-in groups, the data permissions graph's address, the graph kinds' base
(`GrantGraph`: export, plan comparison, diff phrases, selective imports and the retried graph PUT)."""

from __future__ import annotations

import builtins
import logging
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any, ClassVar

from ..capabilities import (
    DescribesChanges,
    ImportsAfter,
    Narrows,
    NeverPruned,
    PartOf,
    Requires,
    Unreferenced,
    VersionNotes,
)
from ..client import ApiError
from ..errors import MbportError
from ..hooks import Phase
from ..kind import ExportContext, Kind
from ..kindutil import get_unless_missing
from ..refs import REF, address, address_kind, is_ref, ref_to, split_address

if TYPE_CHECKING:
    from ..hooks import DiagnoseContext, WriteRequest
    from ..import_options import ImportOptions
    from ..resolve import Resolver

# Metabase's magic group types, and the names they carry on a fresh instance (matched by role on import).
# "All tenant users" (0.58+, tenants on) was "All External Users" in its first builds: its key is the current name.
BUILT_IN_GROUPS: dict[str | None, str] = {"all-internal-users": "All Users", "admin": "Administrators",
                                          "all-external-users": "All tenant users"}
GRAPH_ID = "graph"
GRAPH_ADDRESS = "data-permissions/" + GRAPH_ID  # the one data permissions doc of a tree

ADMIN_ROLE = "admin"
ADMIN_ADDRESS = "groups/Administrators"
MAX_ATTEMPTS = 3  # PUTs answered 409 (someone else edited the graph) are retried on a fresh graph this often
IMPORT_INFO = "$import"  # plan only: what the target's normalized graph needs to be compared with the tree's
log = logging.getLogger("mbport.plugins.permissions")


def granted_view_data(graph: dict[str, Any], group: dict[str, str], database: dict[str, str]) -> Any:
    """The view-data a graph doc grants `group` on `database` (refs): a value, a per-schema map, or None."""
    grant = next((g for g in graph.get("grants") or [] if g.get("group") == group and g.get("database") == database),
                 None)
    return ((grant or {}).get("permissions") or {}).get("view-data")


def admin_group_ids(ctx: ExportContext) -> set[int]:
    """Ids of the Administrators group (by its role, so a renamed one is still found)."""
    return {g["id"] for g in ctx.raw.get("groups", []) if g.get("magic_group_type") == ADMIN_ROLE}


def target_admin_ids(target: Any) -> set[int]:
    """Ids of the target's Administrators group(s), by role: never written."""
    return {g["id"] for g in target.raw("groups") if g.get("magic_group_type") == ADMIN_ROLE}


def group_entries(graph: dict[str, Any], ctx: ExportContext) -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
    """(group ref, the group's entries) of a raw graph, Administrators left out (Metabase synthesises theirs)."""
    admins = admin_group_ids(ctx)
    for gid, entries in (graph.get("groups") or {}).items():
        group = ctx.ref("groups", int(gid))
        if int(gid) in admins or group["$ref"] == ADMIN_ADDRESS:
            continue
        yield group, entries


def pending(tree: Iterable[str], ids: dict[str, Any], kinds: tuple[str, ...]) -> bool:
    """Whether an object of `kinds` in the tree is still to be created (or synced) on the target."""
    return any(address_kind(a) in kinds and a not in ids and a != ADMIN_ADDRESS for a in tree)


def put_graph(api: Any, endpoint: str, changes_for: Callable[[dict[str, Any]], dict[str, Any]], what: str,
              params: dict[str, Any] | None = None, extra: dict[str, Any] | None = None) -> dict[str, Any] | None:
    """Read the graph, PUT the changes `changes_for(graph)` gives (none: nothing to do) with its revision and the
    `extra` body keys (impersonations); a 409 (someone edited the graph meanwhile) reads it again, up to
    MAX_ATTEMPTS times. Returns the PUT's answer."""
    with _graph_lock(endpoint):
        return _put_graph(api, endpoint, changes_for, what, params, extra)


# One revision counts the edits of a graph's every namespace (the collection graph's default and snippets docs):
# two of its docs written at once would make one of them meet a 409 and read the graph again, so the PUTs of one
# endpoint take turns.
_GRAPH_LOCKS: dict[str, threading.Lock] = {}
_GRAPH_LOCKS_GUARD = threading.Lock()


def _graph_lock(endpoint: str) -> threading.Lock:
    with _GRAPH_LOCKS_GUARD:
        return _GRAPH_LOCKS.setdefault(endpoint, threading.Lock())


def _put_graph(api: Any, endpoint: str, changes_for: Callable[[dict[str, Any]], dict[str, Any]], what: str,
               params: dict[str, Any] | None, extra: dict[str, Any] | None) -> dict[str, Any] | None:
    for attempt in range(1, MAX_ATTEMPTS + 1):
        graph = api.get(endpoint, params=params or None)
        changes = changes_for(graph)
        if not changes:
            return None
        try:
            return api.put(endpoint, params={"skip-graph": "true"},
                           json={"revision": graph.get("revision"), "groups": changes, **(params or {}),
                                 **(extra or {})})
        except ApiError as exc:
            if exc.status != 409 or attempt == MAX_ATTEMPTS:
                raise
            log.info("%s changed on the target meanwhile (409); reading them again", what)
    raise AssertionError("not reached: the last attempt returns or raises")


# ---- `mbport diff`: one phrase per grant that changed ----
Cells = dict[tuple[str, str, tuple[str, ...]], Any]  # (group address, what, where) → value


def describe_grants(old: Any, new: Any, names: Any, cells: Callable[[dict[str, Any]], Cells],
                    least: Callable[[str], Any], where: Callable[[tuple[str, str, tuple[str, ...]], Any], str],
                    limit: int = 5) -> list[str]:
    """`group 'Sales': write on 'Marketing' (was none)` for each grant whose value differs.

    `cells(grant)` gives a grant's values keyed by (group, what, where): `what` is a permission ("" when the
    kind has one), `where` a path (a collection; a database, schema, table). A value given for a path stands
    for every finer path under it (a database-wide value covers its tables), so the two sides are compared on
    the finest paths either side names; a path neither side names has `least(what)` (no access).
    """
    a = _all_cells(old, cells)
    b = _all_cells(new, cells)
    keys = set(a) | set(b)
    finest = {k for k in keys if not any(o[:2] == k[:2] and len(o[2]) > len(k[2]) and o[2][:len(k[2])] == k[2]
                                         for o in keys)}
    out = []
    for key in sorted(finest):
        group, what, path = key
        before, after = _lookup(a, key, least(what)), _lookup(b, key, least(what))
        if before == after:
            continue
        label = f"{what} {after}" if what else str(after)
        out.append(f"group {names.name({'$ref': group})}: {label} on {where(key, names)} (was {before})")
    if len(out) > limit:
        out = out[:limit] + [f"and {len(out) - limit} more grant changes"]
    return out


def _all_cells(grants: Any, cells: Callable[[dict[str, Any]], Cells]) -> Cells:
    found: Cells = {}
    for grant in grants if isinstance(grants, list) else ():
        if isinstance(grant, dict) and isinstance(grant.get("group"), dict):
            found.update(cells(grant))
    return found


def _lookup(cells: Cells, key: tuple[str, str, tuple[str, ...]], least: Any) -> Any:
    """The value at a path, else at the nearest path above it, else the least permissive value."""
    group, what, path = key
    for n in range(len(path), -1, -1):
        if (group, what, path[:n]) in cells:
            return cells[(group, what, path[:n])]
    return least


def narrow_grants(doc: dict[str, Any], current: dict[str, Any], selected: set[str],
                  docs: dict[str, Any]) -> dict[str, Any] | None:
    """`Kind.narrow` of a graph doc: the grants about a selected object (a group, a database, a collection) as
    the tree has them, every other grant as the target has it (those about objects the tree does not know are
    left out: the write leaves such objects alone anyway); None when no grant is about the selection."""
    def about(grant: dict[str, Any]) -> bool:
        return any(is_ref(v) and v[REF] in selected for v in grant.values())

    def known(grant: dict[str, Any]) -> bool:
        return all(v[REF] in docs for v in grant.values() if is_ref(v))

    mine = [g for g in doc.get("grants") or [] if about(g)]
    theirs = [g for g in current.get("grants") or [] if about(g)]
    if not mine and not theirs:
        return None
    return {**doc, "grants": mine + [g for g in current.get("grants") or [] if not about(g) and known(g)]}


class GrantGraph(Narrows, ImportsAfter, DescribesChanges, NeverPruned, Unreferenced, Kind):
    """A permissions graph (`GET endpoint`: `{revision, groups: {group id: {object id: value}}}`) as a doc of `grants`,
    one per group and object: `{"group": ref, <on[0]>: ref, <value>: ...}`, sorted. The kind declares `on` (the doc
    field naming the object and its kind; `unnamed`: graph keys that are no object, kept as they are: `root`) and what
    one value becomes (`grant`), differs (`change`) and says in `mbport diff` (`cells`, `where`, `least`).

    Administrators are left out (Metabase synthesises their permissions). Plan compares the graph only once every
    group and object of the tree exists on the target (`after` names their kinds); import never creates it: it PUTs,
    with the graph's revision, the value of each (group, object) pair of the tree whose `change` is not None (retried on
    a 409); a selective import narrows it to the selected groups and objects."""

    on: ClassVar[tuple[str, str]]
    value: ClassVar[str]  # the grant's value field
    unnamed: ClassVar[frozenset[str]] = frozenset()

    def grant(self, key: str, value: Any, ctx: ExportContext) -> dict[str, Any] | None:
        """One graph entry (object id `key`) as the grant's fields besides the group; None leaves it out."""
        raise NotImplementedError

    def change(self, want: Any, have: Any, scope: Any) -> Any:
        """What to PUT for one pair whose tree value is `want` and target value `have` (None: absent; `scope`: what the
        kind put in `scopes` for the object); None: nothing to write."""
        raise NotImplementedError

    def cells(self, grant: dict[str, Any]) -> Cells:
        raise NotImplementedError

    def where(self, key: tuple[str, str, tuple[str, ...]], names: Any) -> str:
        raise NotImplementedError

    def least(self, what: str) -> Any:
        """The value of a permission nobody granted, for `mbport diff`."""
        return "none"

    def sent_value(self, grant: dict[str, Any], ids: dict[str, Any]) -> Any:
        """A grant's value in target ids (`ids`: address → target id)."""
        return grant[self.value]

    def graph_params(self, doc: dict[str, Any]) -> dict[str, Any]:
        """Query parameters of this doc's graph (a namespace)."""
        return {}

    def scopes(self, ids: dict[str, Any]) -> dict[str, Any]:
        """Object id (in the graph's keys) → what `change` needs to know of it on the target (a database's tables)."""
        return {}

    def normalize_more(self, doc: dict[str, Any], raw: dict[str, Any], ctx: ExportContext) -> dict[str, Any]:
        grants = []
        for group, entries in group_entries(raw, ctx):
            for key, value in (entries or {}).items():
                grant = self.grant(key, value, ctx)
                if grant is not None:
                    grants.append({"group": group, **grant})
        grants.sort(key=lambda g: (g["group"][REF], _key(g[self.on[0]]) if is_ref(g[self.on[0]]) else ""))
        imported = ctx.options.get("import")
        if imported:  # normalizing the target's graph for a plan: only the groups and objects the tree has
            ids = imported["ids"]
            grants = [g for g in grants if all(v[REF] in ids for v in g.values() if is_ref(v))]
            # One still to be created (or synced): what the target will have for it is unknown until then.
            doc[IMPORT_INFO] = {"pending": pending(imported["tree"], ids, self.after), "ids": ids}
        doc["grants"] = grants
        return doc

    def grant_values(self, doc: dict[str, Any]) -> dict[tuple[str, str], Any]:
        return {(g["group"][REF], _key(g[self.on[0]])): g[self.value] for g in doc.get("grants") or []}

    def compare(self, wanted: dict[str, Any], current: dict[str, Any], options: ImportOptions) -> list[str]:
        info = current.get(IMPORT_INFO) or {}
        return ["grants"] if info.get("pending") or self._differs(wanted, current, known_only=False) else []

    def decided_after_creates(self, wanted: dict[str, Any], current: dict[str, Any]) -> bool:
        """A group or object of the tree is still to be created (or synced): Metabase gives it defaults of its own
        (a new collection its parent's grants, a new group All Users' data permissions), so only the pairs of groups
        and objects on the target already are known to differ now."""
        return bool((current.get(IMPORT_INFO) or {}).get("pending")) and not self._differs(wanted, current,
                                                                                           known_only=True)

    def _differs(self, wanted: dict[str, Any], current: dict[str, Any], known_only: bool) -> bool:
        """Whether a (group, object) pair would be written; `known_only`: of the pairs whose group and object the
        target has already (as the plan read it)."""
        info = current.get(IMPORT_INFO) or {}
        ids, field = info.get("ids") or {}, self.on[0]
        grants = [g for g in wanted.get("grants") or [] if not known_only
                  or all(v[REF] in ids for v in (g["group"], g[field]) if is_ref(v))]
        want, have = self.grant_values({"grants": grants}), self.grant_values(current)
        scopes = info.get("scopes") or {}
        return any(self.change(want.get(p), have.get(p), scopes.get(p[1])) is not None for p in set(want) | set(have))

    def narrow(self, doc: dict[str, Any], current: dict[str, Any], selected: set[str],
               docs: dict[str, dict[str, Any]]) -> dict[str, Any] | None:
        return narrow_grants(doc, current, selected, docs)

    def without(self, doc: dict[str, Any], left_out: set[str]) -> dict[str, Any] | None:
        # The grants of the other groups and objects are written: one collection a target cannot hold must not
        # cost every group its permissions everywhere. Anything else left out (a sandbox the graph says `sandboxed`
        # for) takes the graph with it.
        if any(address_kind(a) not in ("groups", self.on[1]) for a in left_out):
            return None
        return {**doc, "grants": [g for g in doc.get("grants") or []
                                  if not any(is_ref(v) and v[REF] in left_out for v in g.values())]}

    def describe_change(self, field: str, old: Any, new: Any, names: Any) -> list[str] | None:
        if field != "grants":
            return super().describe_change(field, old, new, names)
        return describe_grants(old, new, names, self.cells, self.least, self.where)

    def payload(self, doc: dict[str, Any], resolve: Resolver, stage: str) -> dict[str, Any]:
        """Wanted values per (group id, object id), and every group and object of the tree that the target has (their
        pairs the doc leaves out are written as absent); ids as the graph's keys, strings."""
        ids = dict(resolve.ids)  # a snapshot: writes running beside this one add ids meanwhile
        field = self.on[0]
        return {
            "wanted": {(str(resolve(g["group"])), str(resolve(g[field])) if is_ref(g[field]) else g[field]):
                       self.sent_value(g, ids) for g in doc.get("grants") or []},
            "groups": {str(tid) for a, tid in ids.items() if address_kind(a) == "groups" and a != ADMIN_ADDRESS},
            "objects": set(self.unnamed) | {str(tid) for a, tid in ids.items() if address_kind(a) == self.on[1]},
            "scopes": self.scopes(ids), "params": self.graph_params(doc),
        }

    def create(self, req: WriteRequest) -> dict[str, Any]:
        return self.update(req.but(target_id=self.key_parts(req.doc)[0]))

    def update(self, req: WriteRequest) -> dict[str, Any]:
        body, admins = req.payload, {str(gid) for gid in target_admin_ids(req.target)}

        def changes_for(graph: dict[str, Any]) -> dict[str, dict[str, Any]]:
            # `graph` is read fresh each attempt: groups created by this import got Metabase's defaults
            current: dict[str, Any] = graph.get("groups") or {}
            changes: dict[str, dict[str, Any]] = {}
            for gid in sorted(body["groups"] - admins):
                for key in sorted(body["objects"]):
                    send = self.change(body["wanted"].get((gid, key)), current.get(gid, {}).get(key),
                                       body["scopes"].get(key))
                    if send is not None:
                        changes.setdefault(gid, {})[key] = send
            return changes

        put_graph(req.api, self.endpoint, changes_for, self.name.replace("-", " "), body["params"])
        return {"id": req.target_id}


def _key(value: Any) -> Any:
    return value[REF] if is_ref(value) else value


class GraphRow(Requires, VersionNotes, PartOf, Unreferenced, Kind):
    """The row behind one value of the data permissions graph (a sandbox behind a table's `sandboxed` view-data, an
    impersonation behind a database's `impersonated`): one doc per group and object (`on`: the doc field, the kind, the
    raw id field), addressed by both (`list` adds their addresses to each row), an Enterprise feature
    (`premium_feature`; `list` is quietly empty on an instance without it, `feature_hint` says what to do). Metabase
    drops the row when the graph gives the pair another value, so `check` wants the tree's graph to say `view_data`
    there; `--prune` deletes one mbport created (often gone already, for that reason). Deleted with its group."""

    on: ClassVar[tuple[str, str, str]]
    view_data: ClassVar[str]
    feature_hint: ClassVar[str]
    noun: ClassVar[str]  # what `mbport doctor` calls them
    part_of = ("group",)

    def object_key(self, raw: dict[str, Any]) -> tuple[Any, ...]:
        """The address parts of the object (a raw row of the `on` kind)."""
        return (raw["name"],)

    def no_feature(self, exc: ApiError) -> bool:
        """Whether an answer says the instance lacks the feature: 402 (the token), 404 (an OSS build has no route)."""
        return exc.status in (402, 404)

    def list(self, api: Any, ctx: ExportContext) -> list[dict[str, Any]]:
        # the whole route is behind the feature: /api/mt (sandbox/api/routes.clj), /api/ee/advanced-permissions
        rows = get_unless_missing(api, self.endpoint, missing=self.no_feature, ctx=ctx, kind=self.name,
                                  feature=self.premium_feature,
                                  why=f"it has no {self.premium_feature} feature ({{status}}); " + self.feature_hint)
        field, kind, id_field = self.on
        groups = {g["id"]: (BUILT_IN_GROUPS.get(g.get("magic_group_type"), g["name"]),) for g in ctx.raw.get("groups", [])}
        objects = {o["id"]: self.object_key(o) for o in ctx.raw.get(kind, [])}
        return [{**row, "group": ref_to("groups", *groups.get(row["group_id"], [f"missing-id-{row['group_id']}"])),
                 field: ref_to(kind, *objects.get(row[id_field], [f"missing-id-{row[id_field]}"]))}
                for row in sorted(rows or [], key=lambda r: r["id"])]

    def diagnose(self, doc: dict[str, Any], phase: Phase, ctx: DiagnoseContext) -> builtins.list[str]:
        """TREE: the tree's data permissions graph must give the pair `view_data`, or every import would write the row
        and the graph's write delete it again."""
        graph, field = ctx.docs.get(GRAPH_ADDRESS), self.on[0]
        if phase != Phase.TREE or graph is None or not is_ref(doc.get(field)) or not is_ref(doc.get("group")):
            return []  # no graph in this tree (a selection): nothing to contradict
        db, *inside = split_address(doc[field][REF])[1]
        value = granted_view_data(graph, doc["group"], {REF: address("databases", db)})
        for part in inside:  # a table: its schema's value, or the table's in the schema's map
            value = value.get(part) if isinstance(value, dict) else value
        if value == self.view_data:
            return []
        shown = "per-table" if isinstance(value, dict) else (value or "no")
        return [f"{self.label(doc)}: the data permissions graph gives {shown} view-data there, not `{self.view_data}`; "
                f"export again, or make the graph say `{self.view_data}` for this {field}"]

    def feature_error(self, exc: ApiError, doc: dict[str, Any]) -> Exception:
        """The error a write answered: one line naming the missing feature when the target lacks it."""
        if not self.no_feature(exc):
            return exc
        return MbportError(f"{self.address_of(doc)}: the target instance has no {self.premium_feature} feature "
                           f"({exc.status})", hint=self.feature_hint)

    def archive(self, api: Any, target_id: Any) -> None:
        try:
            api.delete(f"{self.endpoint}/{target_id}")
        except ApiError as exc:
            if exc.status != 404:  # already gone: a graph change that ends the row deletes it
                raise

    def version_notes(self, version: Any) -> builtins.list[str]:
        """Called by `mbport doctor`: an OSS build has none to export or import."""
        if not getattr(version, "is_enterprise", True):
            return [f"no {self.noun} to export or import (an Enterprise feature)"]
        return []
