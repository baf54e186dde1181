"""Import: graph → match (state, then locate) → plan (create / update / archive / no-op) → apply in graph order.

The engine knows no kind by name: kinds say how to find, write and compare their objects (mbport/kind.py).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import networkx as nx

from .client import AmbiguousWriteError, ApiError, AuthError
from .errors import MbportError
from .export import extract
from .kind import ExportContext, Kind
from .refs import REF, address_kind, is_ref, split_address
from .registry import Registry
from .resolve import Resolver, Target
from .state import State
from .tree import Tree

log = logging.getLogger("mbport.engine")

Node = tuple[str, str]  # (address, stage)
# Write failures after which the target is read again and the write tried again: no answer at all, a 500
# (Metabase's unexpected errors are mostly passing: a full connection pool, a restart) and a 409 (the
# permission graphs' "someone else edited": a fresh read gives the current revision).
RETRY_WRITE_STATUSES = frozenset({409, 500})
# Each engine retry re-reads the kind on the target; the client has already retried transport failures,
# so a small budget is enough for a passing fault and keeps a permanent one from costing many full reads.
WRITE_ATTEMPTS = 3
Progress = Callable[[str, str], None]


def ref_address(value: Any) -> str | None:
    """The address a `{"$ref"}` points at; None for anything else (a container field left out: the root)."""
    return value[REF] if is_ref(value) else None


@dataclass
class Change:
    action: str  # create | update | archive | noop | match-after-sync
    address: str
    name: str | None = None
    fields: list[str] = field(default_factory=list)
    target_id: Any = None
    needed_by: list[str] = field(default_factory=list)  # a selective import: the objects that need this one
    what: str | None = None  # the kind in an admin's word ("card", "alert")

    def line(self) -> str:
        """`+ card 'Revenue by month' (cards/aBc…)`, `~ ...: fields that differ`."""
        sign = {"create": "+", "update": "~", "archive": "-", "noop": " ", "match-after-sync": "?"}[self.action]
        named = " ".join(x for x in (self.what, f"'{self.name}'" if self.name else None) if x)
        head = f"{sign} {named} ({self.address})" if named else f"{sign} {self.address}"
        more = f": {', '.join(self.fields)}" if self.fields and self.action == "update" else ""
        needed = f"  [needed by {', '.join(self.needed_by)}]" if self.needed_by else ""
        return head + more + needed


MATCH_AFTER_SYNC_NOTE = ("? = not on the target yet: found there once a database this import creates has had its "
                         "first sync (its tables and fields are never created by mbport)")


@dataclass
class Plan:
    changes: list[Change]
    problems: list[str] = field(default_factory=list)
    skipped: dict[str, list[str]] = field(default_factory=dict)  # why a kind is left out → its addresses
    # Docs left out because the target cannot hold them (--skip-unsupported), and why: address → reason.
    unsupported: dict[str, str] = field(default_factory=dict)

    def of(self, action: str) -> list[Change]:
        return [c for c in self.changes if c.action == action]

    @property
    def has_changes(self) -> bool:
        return any(c.action in ("create", "update", "archive") for c in self.changes)

    def summary(self) -> str:
        after_sync = len(self.of("match-after-sync"))
        return (f"Plan: {len(self.of('create'))} to create, {len(self.of('update'))} to update, "
                f"{len(self.of('archive'))} to archive, {len(self.of('noop'))} unchanged"
                + (f", {after_sync} to match after sync (?)" if after_sync else "")
                + (f", {sum(len(a) for a in self.skipped.values())} skipped" if self.skipped else "") + ".")

    def notes(self) -> list[str]:
        """What the plan's lines do not say by themselves: the `?` marker, and what is left out and why."""
        notes = [MATCH_AFTER_SYNC_NOTE] if self.of("match-after-sync") else []
        for reason, addrs in sorted(self.skipped.items()):
            notes.append(f"Skipped: {len(addrs)} {'object' if len(addrs) == 1 else 'objects'} "
                         f"({', '.join(sorted({address_kind(a) for a in addrs}))}): {reason}.")
        return notes


@dataclass
class ApplyResult:
    plan: Plan
    written: int = 0
    failed: dict[str, str] = field(default_factory=dict)  # address → error
    skipped: list[str] = field(default_factory=list)  # addresses not written because a dependency failed


class Importer:
    """One import of one tree into one target; `plan()` reads only, `apply()` writes."""

    def __init__(self, api, registry: Registry, tree: Tree, state: State, options: dict[str, Any] | None = None):
        self.api = api
        self.registry = registry
        self.tree = tree
        self.state = state
        self.options = options or {}
        self.ids: dict[str, Any] = {}
        self.matched_raw: dict[str, dict[str, Any]] = {}
        self.current_docs: dict[str, dict[str, Any]] = {}  # plan: matched target objects, normalized like the tree
        self.target = Target(api, registry, self.options, loader=self._load_kind)
        self.read_progress = None  # export.Progress of reading the target (a display sets it)
        self.lock = threading.Lock()
        self._created: dict[str, int] = {}  # kind → objects created so far (for _locate_after_sync)
        self._synced_reads: dict[str, tuple[int, ...]] = {}
        self.unsupported: dict[str, str] = {}  # plan: docs the target cannot hold → why
        self._sync_lock = threading.Lock()
        self.recheck: set[str] = set()  # matched docs a cascade of this apply may change: found again before writing
        self.graph = self.build_graph()

    # ------------------------------------------------------------------ graph
    def kind(self, addr: str) -> Kind:
        return self.registry[address_kind(addr)]

    def build_graph(self) -> nx.DiGraph:
        """Nodes (address, stage); an edge for every non-deferred ref. Any cycle is an error naming it."""
        graph = nx.DiGraph()
        for addr in self.tree.docs:
            kind = self.kind(addr)
            previous = None
            for stage in kind.stages:
                graph.add_node((addr, stage))
                if previous:
                    graph.add_edge((addr, previous), (addr, stage))
                previous = stage
        for addr, doc in self.tree.docs.items():
            kind = self.kind(addr)
            for stage in kind.stages:
                for target in kind.stage_refs(doc, stage):
                    dep = self._dependency_node(target)
                    if dep and dep[0] != addr:
                        graph.add_edge(dep, (addr, stage))
        for addr in self.tree.docs:  # kinds that wait for whole other kinds (kind.import_after)
            kind = self.kind(addr)
            if kind.import_after:
                for other in (o for o in self.tree.docs if address_kind(o) in kind.import_after):
                    graph.add_edge((other, self.kind(other).stages[-1]), (addr, kind.stages[0]))
        self.cascades: dict[str, set[str]] = {}  # doc → docs written after a cascade its write may set off
        for addr, doc in self.tree.docs.items():  # cascades a write sets off (kind.write_order)
            for earlier, later in self.kind(addr).write_order(doc, self.tree.docs):
                if earlier in graph and later in graph and earlier[0] != later[0]:
                    graph.add_edge(earlier, later)
                    if later[1] == self.kind(later[0]).stages[0]:  # written after the other's write, not before it
                        self.cascades.setdefault(earlier[0], set()).add(later[0])
        cycles = [sorted({a for a, _ in c}) for c in nx.strongly_connected_components(graph) if len(c) > 1]
        if cycles:
            raise MbportError("the tree has a dependency cycle Metabase does not allow: "
                              + "; ".join(" ↔ ".join(c) for c in cycles))
        return graph

    def _dependency_node(self, target: str) -> Node | None:
        """A whole doc is ready after its first stage; a sub-object (tab, field ...) after its owner's last."""
        owner = self.registry.owner(target)
        if owner not in self.tree.docs:
            return None
        stages = self.kind(owner).stages
        return (owner, stages[0] if owner == target else stages[-1])

    def doc_order(self) -> list[str]:
        return list(dict.fromkeys(addr for addr, _stage in nx.lexicographical_topological_sort(self.graph)))

    # ------------------------------------------------------------------ target view
    def _load_kind(self, kind: str) -> list[dict[str, Any]]:
        ctx = ExportContext(options={"include_personal": True, **self.options})
        for dep in self.registry[kind].after:
            ctx.raw[dep] = self.target.raw(dep)
        extract(self.api, self.registry, [kind], ctx)
        self.target.unavailable.update(ctx.unavailable)
        return ctx.raw.get(kind, [])

    def _read_target(self) -> None:
        """Read every kind the tree has (and those their listing needs) at once, concurrently, as export does;
        one kind at a time as matching reaches it would cost a round trip per kind in sequence."""
        names, todo = set(), [address_kind(a) for a in self.tree.docs]
        while todo:
            name = todo.pop()
            if name in self.registry and name not in names and name not in self.target.raw_by_kind:
                names.add(name)
                todo.extend(self.registry[name].after)
        if len(names) < 2:
            return
        ctx = ExportContext(options={"include_personal": True, **self.options})
        for name in {d for n in names for d in self.registry[n].after} - names:
            ctx.raw[name] = self.target.raw(name)  # read already
        extract(self.api, self.registry, sorted(names), ctx, self.read_progress)
        self.target.unavailable.update(ctx.unavailable)
        for name in names:
            self.target.raw_by_kind.setdefault(name, ctx.raw.get(name, []))

    # ------------------------------------------------------------------ matching and planning
    def match(self) -> None:
        """Give every doc the target id it already has: state first, then `locate`, in graph order."""
        self._read_target()
        resolve = Resolver(self.ids, self.options)
        claimed: dict[str, set[Any]] = {}
        stale: set[str] = set()  # kinds read before an object their listing builds on had settled
        for addr in self.doc_order():
            kind, doc = self.kind(addr), self.tree.docs[addr]
            if kind.name in stale:
                self.target.refresh(kind.name)
                stale.discard(kind.name)
            tid = self.state.ids.get(addr)
            if tid is None or self.target.find(kind.name, tid) is None:
                tid = kind.locate(self.target, doc, resolve, claimed.setdefault(kind.name, set()))
            raw = self.target.find(kind.name, tid) if tid is not None else None
            if raw is not None:
                claimed.setdefault(kind.name, set()).add(tid)
                self.ids[addr] = tid
                self.matched_raw[addr] = raw
                self.ids.update(kind.sub_ids(doc, raw))
                stale |= self._settle(kind, raw)
        for name in stale & set(self.target.raw_by_kind):  # read already, though the tree has none of them
            self.target.refresh(name)

    def _settle(self, kind: Kind, raw: dict[str, Any]) -> set[str]:
        """Wait for a matched object the kinds listed after it cannot be read from yet (kind.settle: a database
        a stopped import created, still in its first sync), as creating it waits; those kinds are then stale."""
        if not kind.settle(self.api, raw):
            return set()
        after, todo = set(), [kind.name]
        while todo:
            name = todo.pop()
            for other in self.registry.kinds.values():
                if name in other.after and other.name not in after:
                    after.add(other.name)
                    todo.append(other.name)
        return after

    def _skipped(self, addr: str) -> bool:
        return bool(self.kind(addr).skipped(self.options)) or addr in self.unsupported

    def _target_support(self) -> dict[str, str]:
        """What the target cannot hold (Kind.unsupported for its version and edition, a kind whose listing it
        refused, a database setting its driver lacks), address → why: returned (plan problems), or with
        --skip-unsupported left out together with everything that depends on them (self.unsupported). Also
        tells the databases kind which settings the tree's content needs (options["database_settings"])."""
        try:
            version, features = self.api.version, self.api.token_features
        except (AttributeError, MbportError):  # a client that cannot tell (a test double): no declared check
            version, features = None, None
        reasons: dict[str, str] = {}
        needs: dict[str, dict[str, Any]] = {}
        for addr, doc in self.tree.docs.items():
            kind = self.kind(addr)
            if kind.skipped(self.options):
                continue
            reason = self.target.unavailable.get(kind.name) or kind.unsupported(version, features)
            if reason:
                reasons[addr] = f"the target cannot hold {kind.name}: {reason}"
                continue
            for need in kind.database_needs(doc, self.tree.docs):
                raw = self.matched_raw.get(need.database)
                if need.driver_feature and raw is not None and need.driver_feature not in (raw.get("features") or []):
                    reasons[addr] = (f"the target's database {raw.get('name')!r} ({raw.get('engine')}) cannot hold "
                                     f"{need.purpose or need.setting}: its driver has no {need.driver_feature!r} "
                                     f"feature, so Metabase refuses {need.setting}")
                    break
                needs.setdefault(need.database, {})[need.setting] = need.value
        if self.options.get("skip_unsupported"):
            for addr in sorted(reasons):
                for node in nx.descendants(self.graph, (addr, self.kind(addr).stages[-1])) | nx.descendants(
                        self.graph, (addr, self.kind(addr).stages[0])):
                    if node[0] not in reasons and node[0] != addr:
                        reasons[node[0]] = f"it depends on {addr}, which the target cannot hold"
            for addr in reasons:  # what was left out needs no setting
                for need in self.kind(addr).database_needs(self.tree.docs[addr], self.tree.docs):
                    needs.get(need.database, {}).pop(need.setting, None)
            blocking = {}
        else:
            blocking, reasons = reasons, {}
        self.unsupported = reasons
        self.options["database_settings"] = {db: wanted for db, wanted in needs.items() if wanted}
        return blocking

    def _memo_problems(self) -> list[str]:
        """A doc an earlier import matched through an option (Kind.match_memo) that this run would match otherwise."""
        problems = []
        resolve = Resolver(self.ids, self.options)
        for addr, doc in self.tree.docs.items():
            kind = self.kind(addr)
            remembered, now = self.state.memos.get(addr), kind.match_memo(doc, self.options)
            if remembered == now or addr not in self.state.ids:
                continue
            if remembered is None:  # a state from before memos, or a match by name: fine if it is the same object
                try:
                    located = kind.locate(self.target, doc, resolve, set())
                except MbportError:
                    located = None
                if located == self.state.ids[addr]:
                    continue
            problems.append(kind.memo_problem(doc, remembered, now))
        return problems

    def plan(self, progress: Progress | None = None) -> Plan:
        """`progress(address, "compare")` is called once per doc of the tree (a display, e.g. mbport.output)."""
        self.match()
        problems = self._memo_problems()
        unsupported = self._target_support()
        ctx = self._target_context()
        comparable = self._comparable_raws()
        changes = []
        skipped: dict[str, list[str]] = {}
        created_here: set[str] = set()  # docs this import will create (their dependents match after them)
        missing: dict[str, list[str]] = {}  # an unmanaged object the target lacks → the docs it breaks
        for addr in self.doc_order():
            if progress:
                progress(addr, "compare")
            kind, doc = self.kind(addr), self.tree.docs[addr]
            name, what = self._name(addr), self._what(addr)
            reason = kind.skipped(self.options)
            if reason:
                skipped.setdefault(reason, []).append(addr)
            if self._skipped(addr):
                continue
            self._note_missing_sub_objects(addr, kind.refs(doc), missing)
            if addr not in self.ids:
                if kind.managed:
                    changes.append(Change("create", addr, name, what=what))
                    created_here.add(addr)
                elif any(dep in created_here for dep in kind.refs(doc)):
                    changes.append(Change("match-after-sync", addr, name, what=what))
                else:
                    missing.setdefault(addr, [])
                continue
            ctx.current = addr
            self.current_docs[addr] = current = kind.normalize(comparable.get(addr, self.matched_raw[addr]), ctx)
            differ = kind.compare(doc, current, self.options)
            changes.append(Change("update" if differ else "noop", addr, name, differ, self.ids[addr], what=what))
        self._recheck_after_cascades(changes)
        scope = None
        if self.options.get("select") is not None:
            scope = self._select(changes, problems)
            scope |= {d for a in scope for d in self.cascades.get(a, ()) if d in self.recheck}  # see above
            changes = [c for c in changes if c.address in scope]
            missing = {a: [b for b in broken if b in scope] for a, broken in missing.items()
                       if self.registry.owner(a) in scope or any(b in scope for b in broken)}
        for addr in sorted(missing):
            owner = self.registry.owner(addr)
            where = self.tree.paths.get(owner)
            broken = sorted(set(missing[addr]) | {a for a, d in self.tree.docs.items()
                                                   if a != owner and addr in self.kind(a).refs(d)})
            problems.append(f"{addr}: not found on the target ({where}); {self.kind(owner).name} are never created"
                            + (f"; it breaks {', '.join(self._labelled(b) for b in broken)}" if broken else ""))
        for addr in sorted(self.state.created - set(self.tree.docs)):
            if scope is None and self.options.get("prune") and self.registry.known_kind(address_kind(addr)) \
                    and self.kind(addr).archivable:  # a selective import prunes nothing
                tid = self.state.ids.get(addr)
                raw = self.target.find(self.kind(addr).name, tid) if tid is not None else None
                name = (self.kind(addr).label(raw) if raw else None) or split_address(addr)[1][-1]
                changes.append(Change("archive", addr, name, [], tid, what=self._what(addr)))
        resolve = Resolver(self.ids, self.options)
        in_scope = [a for a in self.tree.docs if (scope is None or a in scope) and not self._skipped(a)]
        problems += [f"{addr}: {unsupported[addr]} ({self.tree.paths.get(addr)}); --skip-unsupported leaves it out "
                     "instead" for addr in sorted(set(in_scope) & set(unsupported))]
        for addr in in_scope:
            doc = self.tree.docs[addr]
            problems += self.kind(addr).preflight(doc, self.options) if addr not in self.ids else []
            problems += self.kind(addr).plan_problems(doc, self.tree.docs, self.target, resolve)
        return Plan(changes, problems, skipped, dict(sorted(self.unsupported.items())))

    def _recheck_after_cascades(self, changes: list[Change]) -> None:
        """A doc written after a cascade (kind.write_order: an alert after its collection's archive) is written
        again when the doc that sets the cascade off is updated: the cascade may archive or delete it, though it
        matches the tree now. It is found again on the target right before its write (created if it is gone)."""
        updated = {c.address for c in changes if c.action == "update"}
        for change in changes:
            causes = sorted(a for a in updated if change.address in self.cascades.get(a, ()))
            if change.action == "noop" and causes:
                change.action, change.fields = "update", [f"(rewritten after {', '.join(causes)})"]
            if change.action == "update" and causes:
                self.recheck.add(change.address)

    def _select(self, changes: list[Change], problems: list[str]) -> set[str]:
        """A selective import (`options["select"]`: the selected addresses): the selection, the parts of docs
        about many objects that concern it (`Kind.narrow`, which then stands in for the tree's doc), and, unless
        `options["only"]`, what they depend on (their refs, the graph's edges and the deferred ones) that the
        target lacks or holds differently, transitively through such objects; marks each with `needed_by`.
        With `only`, a ref of the selection the target cannot resolve is a problem (before any write)."""
        by_addr = {c.address: c for c in changes}
        selected = {a for a in self.options["select"] if a in self.tree.docs}
        scope = set(selected)
        for addr in sorted(self.tree.docs):
            kind = self.kind(addr)
            if addr in selected or addr not in self.current_docs or type(kind).narrow is Kind.narrow:
                continue
            narrowed = kind.narrow(self.tree.docs[addr], self.current_docs[addr], selected, self.tree.docs)
            if narrowed is None:
                continue
            self.tree.docs[addr] = narrowed  # this import writes only that part
            differ = kind.compare(narrowed, self.current_docs[addr], self.options)
            change = by_addr.get(addr)
            if change is not None and differ:
                change.action, change.fields = "update", differ
                change.needed_by = sorted(self._labelled(a) for a in selected & kind.refs(narrowed))
                scope.add(addr)
        todo = sorted(scope)
        while todo:
            addr = todo.pop()
            kind, doc = self.kind(addr), self.tree.docs[addr]
            links = {self.registry.owner(r) for r in kind.deferred_refs(doc)}
            uses = {self.registry.owner(r) for r in kind.refs(doc) - kind.deferred_refs(doc)}
            for dep in sorted(uses | links):
                if dep == addr or dep not in self.tree.docs or dep in selected:
                    continue
                if self.options.get("only"):
                    if dep not in self.ids:
                        problems.append(f"{self._labelled(addr)} needs {self._labelled(dep)}, which the target "
                                        f"lacks; select it too, or leave out --only")
                    continue
                change = by_addr.get(dep)
                if change is None and dep not in self.ids:
                    scope.add(dep)  # never created and not on the target: a problem plan names below
                # What the selection uses must be as the tree has it; what it only links to (a click behaviour's
                # target) must merely exist.
                writes = ("create", "update", "match-after-sync") if dep in uses else ("create", "match-after-sync")
                if change is None or change.action not in writes:
                    continue  # on the target as the tree has it: its own refs resolve already
                if self._labelled(addr) not in change.needed_by:
                    change.needed_by.append(self._labelled(addr))
                if dep not in scope:
                    scope.add(dep)
                    todo.append(dep)
        for addr in self.tree.docs.keys() - scope:  # pins outside the selection stay as the target has them
            kind, current = self.kind(addr), self.current_docs.get(addr)
            if kind.positions and current is not None:
                self.tree.docs[addr] = {k: v for k, v in self.tree.docs[addr].items() if k not in kind.positions} | {
                    f: current[f] for f in kind.positions if current.get(f) is not None}
        return scope

    def _comparable_raws(self) -> dict[str, dict[str, Any]]:
        """`Kind.comparable_raw` of every matched doc whose kind overrides it, concurrently (it may read)."""
        addrs = [a for a in self.matched_raw if a in self.tree.docs
                 and type(self.kind(a)).comparable_raw is not Kind.comparable_raw and not self._skipped(a)]
        raws = self.api.map(lambda a: self.kind(a).comparable_raw(self.api, self.matched_raw[a], self.tree.docs[a]),
                            addrs)
        return dict(zip(addrs, raws, strict=True))

    def _note_missing_sub_objects(self, addr: str, refs: set[str], missing: dict[str, list[str]]) -> None:
        """Sub-objects of never-created kinds (a field of a matched table) must already be on the target."""
        for ref in refs:
            owner = self.registry.owner(ref)
            if owner != ref and owner in self.ids and ref not in self.ids and not self.kind(owner).managed:
                missing.setdefault(ref, []).append(addr)

    def _labelled(self, addr: str) -> str:
        label = self.kind(addr).label(self.tree.docs[addr], self.tree.docs)
        return f"{addr} ({label})" if label else addr

    def _name(self, addr: str) -> str:
        """The name a plan line shows: the kind's label, else what `mbport diff` calls the object."""
        from .diff import display_name

        doc = self.tree.docs[addr]
        return self.kind(addr).label(doc, self.tree.docs) or display_name(doc, addr)

    def _what(self, addr: str) -> str:
        from .diff import kind_label

        return kind_label(self.registry, address_kind(addr))

    def _target_context(self) -> ExportContext:
        """Normalizing target objects with *source* addresses makes them comparable with the tree's docs."""
        ctx = ExportContext(options={"include_personal": True, **self.options})
        for name in self.registry.kinds:
            kind = self.registry[name]
            for raw in self.target.raw(name):
                for k, tid, addr in kind.index(raw):
                    ctx.index[(k, tid)] = addr
        for addr, tid in self.ids.items():
            ctx.index[(address_kind(addr), tid)] = addr
        # Which tree objects already have a target id: kinds that compare whole graphs (permissions) need it.
        ctx.options["import"] = {"ids": dict(self.ids), "tree": set(self.tree.docs)}
        return ctx

    # ------------------------------------------------------------------ applying
    def apply(self, plan: Plan, progress: Progress | None = None) -> ApplyResult:
        if plan.problems:
            raise MbportError(f"{len(plan.problems)} problem(s) found before writing anything:\n  "
                              + "\n  ".join(plan.problems))
        result = self.applied = ApplyResult(plan)  # read by the CLI when the run stops early (writes made so far)
        todo = {c.address: c for c in plan.changes if c.action in ("create", "update", "match-after-sync")}
        resolve = Resolver(self.ids, self.options)
        failed: set[str] = set()
        blocked: set[Node] = set()
        with self.lock:  # matched objects too: a run after a crash finds them by natural key, and keeps them
            for addr, tid in self.ids.items():
                self.state.record(addr, tid)
                if addr in self.tree.docs:
                    self.state.remember(addr, self.kind(addr).match_memo(self.tree.docs[addr], self.options))
        try:
            self._apply_generations(todo, resolve, result, progress, failed, blocked)
        finally:
            self.state.save()
        self._second_pass(todo, resolve, result, failed)
        self._write_positions(todo, result, failed)
        for change in plan.of("archive"):
            kind = self.kind(change.address)
            self._with_retries(change.address, kind, lambda _again, k=kind, c=change: k.archive(self.api, c.target_id))
            result.written += 1
            with self.lock:
                self.state.forget(change.address)
        self.state.save()
        result.skipped = sorted(set(result.skipped))
        return result

    def _apply_generations(self, todo, resolve, result, progress, failed, blocked) -> None:
        """Write generation by generation (independent nodes concurrently); a failure blocks its dependents."""
        for generation in nx.topological_generations(self.graph):
            nodes = sorted(n for n in generation if n[0] in todo)
            runnable = []
            for node in nodes:
                if node in blocked:
                    result.skipped.append(node[0])
                    failed.add(node[0])
                else:
                    runnable.append(node)
            outcomes = self.api.map(lambda n: self._try_write(n, todo[n[0]], resolve, result, progress), runnable)
            for node, exc in outcomes:
                if exc is None:
                    continue
                if not self.options.get("continue_on_error"):
                    raise exc
                result.failed[node[0]] = str(exc)
                failed.add(node[0])
                blocked |= nx.descendants(self.graph, node)

    def _try_write(self, node: Node, change: Change, resolve: Resolver, result: ApplyResult,
                   progress) -> tuple[Node, Exception | None]:
        try:
            self._write(node, change, resolve, result, progress)
            return node, None
        except Exception as exc:  # noqa: BLE001 - one object's failure is reported with its name
            return node, self.object_error(node[0], exc)

    def object_error(self, addr: str, exc: Exception) -> MbportError:
        """`exc` as one line that names the object (address, name, file) it happened to."""
        doc = self.tree.docs.get(addr, {})
        name = self.kind(addr).label(doc) if addr in self.tree.docs else None
        where = ", ".join(str(x) for x in (name, self.tree.paths.get(addr)) if x)
        label = f"{addr} ({where})" if where else addr
        if isinstance(exc, MbportError) and str(exc).startswith(addr):
            return exc  # the kind named it already
        if isinstance(exc, MbportError):
            error = MbportError(f"{label}: {exc}", hint=exc.hint, exit_code=exc.exit_code)
        else:  # an answer the kind did not expect (a missing field, a wrong type)
            error = MbportError(f"{label}: unexpected answer from the target ({type(exc).__name__}: {exc})",
                                hint="run with --debug for details")
        error.__cause__ = exc
        return error

    def _write(self, node: Node, change: Change, resolve: Resolver, result: ApplyResult, progress) -> None:
        addr, stage = node
        kind, doc = self.kind(addr), self.tree.docs[addr]
        if change.action == "match-after-sync":
            if stage != kind.stages[0]:
                return
            tid = self._locate_after_sync(kind, doc, resolve)
            if tid is None:
                raise MbportError(f"{addr}: not found on the target after the database sync", hint="check the warehouse has it")
            raw = self.target.find(kind.name, tid)
            with self.lock:
                self.ids[addr] = tid
                self.ids.update(kind.sub_ids(doc, raw or {}))
            change.action, change.target_id = "update", tid
        payload = kind.payload(doc, resolve, stage)
        raw = self._with_retries(addr, kind, lambda again: self._write_once(addr, kind, doc, payload, stage,
                                                                              resolve, again))
        with self.lock:
            subs = kind.sub_ids(doc, raw or {})
            self.ids.update(subs)
            for sub, tid in subs.items():
                self.state.record(sub, tid)
            result.written += 1
        if progress:
            progress(addr, change.action)

    def _locate_after_sync(self, kind: Kind, doc: dict[str, Any], resolve: Resolver) -> Any:
        """Locate a synced object (a table ...), reading its kind again only if one of the kinds its listing
        builds on (databases) was created since the last read: one read for all 500 tables of 10 new
        databases, not one read of every database's metadata per table."""
        with self._sync_lock:
            seen = self._synced_reads.get(kind.name)
            now = tuple(self._created.get(dep, 0) for dep in kind.after)
            if seen != now:
                self.target.refresh(kind.name)
                self._synced_reads[kind.name] = now
        tid = kind.locate(self.target, doc, resolve, set())
        if tid is None and seen == now:  # read before this object's sync finished: once more, to be sure
            with self._sync_lock:
                self.target.refresh(kind.name)
            tid = kind.locate(self.target, doc, resolve, set())
        return tid

    def _write_once(self, addr: str, kind: Kind, doc: dict[str, Any], payload: dict[str, Any], stage: str,
                    resolve: Resolver, again: bool) -> dict[str, Any]:
        """Create (or update) once. `again`: an earlier attempt failed without a clear answer, so an object it
        may have created is looked up by natural key first (Metabase keeps no client-chosen id) and updated."""
        if addr in self.recheck and stage == kind.stages[0]:
            self.target.refresh(kind.name)  # after the cascade: the object may be archived (updated), or gone
            if addr in self.ids and self.target.find(kind.name, self.ids[addr]) is None:
                log.info("%s: deleted on the target by a cascade of this import; creating it again", addr)
                with self.lock:
                    self.ids.pop(addr)
        if addr not in self.ids and again:
            tid = kind.locate(self.target, doc, resolve, self._claimed(kind.name))
            if tid is not None:
                log.info("%s: found on the target after a lost answer; updating it instead of creating", addr)
                with self.lock:
                    self.ids[addr] = tid
                    self.state.record(addr, tid, created=True)
                    # an object this import created after all: the kinds listed after it read it again (its tables)
                    self._created[kind.name] = self._created.get(kind.name, 0) + 1
                kind.adopted(self.api, tid, doc, self.target)
                raw = self.target.find(kind.name, tid)
                if raw is not None:
                    kind.settle(self.api, raw)  # a lost create answer skipped what create waits for (a first sync)
        if addr not in self.ids:
            raw = kind.create(self.api, payload, doc, self.target)
            with self.lock:
                self._created[kind.name] = self._created.get(kind.name, 0) + 1
                self.ids[addr] = raw["id"]
                self.state.record(addr, raw["id"], created=True)
            return raw
        raw = kind.update(self.api, self.ids[addr], payload, doc, stage, self.target)
        with self.lock:
            if kind.replaced_on_update and isinstance(raw, dict) and raw.get("id") not in (None, self.ids[addr]):
                self.ids[addr] = raw["id"]
                self.state.record(addr, raw["id"], created=addr in self.state.created)
            else:
                self.state.record(addr, self.ids[addr])
        return raw

    def _claimed(self, kind_name: str) -> set[Any]:
        """Target ids of this kind already taken by other docs (ids of other kinds may be the same numbers)."""
        with self.lock:
            return {tid for a, tid in self.ids.items() if address_kind(a) == kind_name}

    def _with_retries(self, addr: str, kind: Kind, write: Callable[[bool], Any]) -> Any:
        """write(again) until it succeeds, reading the target again after a failure that leaves it unknown."""
        attempts = WRITE_ATTEMPTS
        for attempt in range(attempts):
            try:
                return write(attempt > 0)
            except ApiError as exc:
                lost = isinstance(exc, AmbiguousWriteError) or (
                    exc.status in RETRY_WRITE_STATUSES and not isinstance(exc, AuthError))
                if not lost or attempt + 1 >= attempts:
                    raise
                log.info("%s: %s; reading the target again before writing again", addr, exc)
                self.target.refresh(kind.name)
        raise AssertionError("unreachable")  # pragma: no cover

    def _position_lists(self, todo: dict[str, Change]) -> dict[tuple[str, str | None], list[str]]:
        """(position field, container address) → the tree docs in that list, for the lists this apply changes:
        a doc created with a position, or whose container or position differs from the target's at plan time."""
        members: dict[tuple[str, str | None], list[str]] = {}
        changed: set[tuple[str, str | None]] = set()
        for addr, doc in self.tree.docs.items():
            kind = self.kind(addr)
            if self._skipped(addr):
                continue
            for fld, container in kind.positions.items():
                key = (fld, ref_address(doc.get(container)))
                members.setdefault(key, []).append(addr)
                if addr not in todo:
                    continue
                current = self.current_docs.get(addr, {})  # {}: created by this apply, without a position
                was = (fld, ref_address(current.get(container))) if addr in self.current_docs else key
                if doc.get(fld) is None and current.get(fld) is None:
                    continue  # unpinned before and after: a move shifts nobody
                if was != key or doc.get(fld) != current.get(fld):
                    changed |= {key, was}
        return {key: members.get(key, []) for key in changed}

    def _write_positions(self, todo: dict[str, Change], result: ApplyResult, failed: set[str]) -> None:
        """Last step: `Kind.positions` fields (pins), whose server renumbers the siblings on every write, so
        concurrent writes in any order would not keep them. Per changed list (lists concurrently): clear every
        member pinned at plan time, then set the wanted positions in ascending order, so a later write never
        shifts an earlier one. Lists nothing changed in cost no request."""
        def rewrite(item: tuple[tuple[str, str | None], list[str]]) -> tuple[str, Exception | None]:
            (fld, _container), addrs = item
            addrs = [a for a in addrs if a in self.ids and a not in failed]
            clear = [a for a in addrs if self.current_docs.get(a, {}).get(fld) is not None]
            pins = sorted((a for a in addrs if self.tree.docs[a].get(fld) is not None),
                          key=lambda a: (self.tree.docs[a][fld], a))
            for addr, value in [(a, None) for a in clear] + [(a, self.tree.docs[a][fld]) for a in pins]:
                kind, doc = self.kind(addr), self.tree.docs[addr]
                try:
                    self._with_retries(addr, kind, lambda _again, k=kind, a=addr, v=value, d=doc: k.write_position(
                        self.api, self.ids[a], fld, v, d, self.target))
                except Exception as exc:  # noqa: BLE001 - reported with the object's name
                    return addr, self.object_error(addr, exc)
                with self.lock:
                    result.written += 1
            return "", None

        for addr, exc in self.api.map(rewrite, sorted(self._position_lists(todo).items(), key=repr)):
            if exc is None:
                continue
            if not self.options.get("continue_on_error"):
                raise exc
            result.failed[addr] = str(exc)

    def _second_pass(self, todo: dict[str, Change], resolve: Resolver, result: ApplyResult, failed: set[str]) -> None:
        """Fill in deferred refs (cycles Metabase allows) now that every object has an id; concurrently."""
        addrs = [a for a in sorted(todo) if a not in failed and a in self.ids and self.kind(a).deferred_refs(self.tree.docs[a])]

        def fill(addr: str) -> tuple[str, Exception | None]:
            kind, doc = self.kind(addr), self.tree.docs[addr]
            stage = kind.stages[-1]
            try:
                payload = kind.payload(doc, resolve, stage)
                self._with_retries(addr, kind, lambda _again: kind.update(self.api, self.ids[addr], payload, doc,
                                                                          stage, self.target))
                return addr, None
            except Exception as exc:  # noqa: BLE001
                return addr, self.object_error(addr, exc)

        for addr, exc in self.api.map(fill, addrs):
            if exc is None:
                result.written += 1
            elif self.options.get("continue_on_error"):
                result.failed[addr] = str(exc)
            else:
                raise exc
