"""Import, second step: compare each matched doc with the target and plan create / update / archive / no-op."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from . import capabilities as caps
from .errors import MbportError
from .hooks import DiagnoseContext, Phase
from .kindutil import driver_features
from .match import Matcher
from .refgraph import MISSING
from .refs import address_kind, null_refs, split_address
from .resolve import Resolver

Progress = Callable[[str, str], None]


@dataclass
class Change:
    action: str  # create | update | archive | noop | match-after-sync | adopt | after-creates
    address: str
    name: str | None = None
    fields: list[str] = field(default_factory=list)
    target_id: Any = None
    needed_by: list[str] = field(default_factory=list)  # a selective import: the objects that need this one
    what: str | None = None  # the kind in an admin's word ("card", "alert")

    def line(self) -> str:
        """`+ card 'Revenue by month' (cards/aBc…)`, `~ ...: fields that differ`."""
        sign = {"create": "+", "update": "~", "archive": "-", "noop": " ", "match-after-sync": "?", "adopt": "=",
                "after-creates": "~?"}[self.action]
        named = " ".join(x for x in (self.what, f"'{self.name}'" if self.name else None) if x)
        head = f"{sign} {named} ({self.address})" if named else f"{sign} {self.address}"
        more = f": {', '.join(self.fields)}" if self.fields and self.action in ("update", "after-creates") else ""
        needed = f"  [needed by {', '.join(self.needed_by)}]" if self.needed_by else ""
        return head + more + needed


MATCH_AFTER_SYNC_NOTE = ("? = not on the target yet: found there once a database this import creates has had its "
                         "first sync (its tables and fields are never created by mbport)")
ADOPT_NOTE = ("= = not on the target yet: Metabase makes it itself (a user's personal collection with the user, a "
              "tenant's own collection with the tenant, the Library's collections with the Library, All tenant users "
              "once tenants are on, a new group's empty member list); found there then and adopted, never created")
AFTER_CREATES_NOTE = ("~? = compared once the groups, collections or databases this import creates exist, with what "
                      "Metabase gives new ones: written only where that differs from the tree (often nothing)")
LEFT_OUT_NAMED = 3  # objects a plan's "Left out" note names before it counts the rest
# The actions apply writes (or, for match-after-sync and adopt, finds on the target first; for after-creates, writes
# only what differs from the target then).
WRITTEN = ("create", "update", "match-after-sync", "adopt", "after-creates")


@dataclass
class Plan:
    changes: list[Change]
    problems: list[str] = field(default_factory=list)
    skipped: dict[str, list[str]] = field(default_factory=dict)  # why a kind is left out → its addresses
    # What the plan says it leaves out (an option not given): why → the objects' labels ("API key 'CI'"). Those of
    # `skipped` a selective plan would have written (a selected API key), every one otherwise.
    left_out: dict[str, list[str]] = field(default_factory=dict)
    # Docs left out because the target cannot hold them (--skip-unsupported), and why: address → reason.
    unsupported: dict[str, str] = field(default_factory=dict)
    # Docs written without the parts the target cannot hold (--skip-unsupported): address → part → why.
    partial: dict[str, dict[str, str]] = field(default_factory=dict)
    # What the import writes without a part no API request can write (a field declared `unwritable`):
    # the object's label → `field (why)`, said before the first write.
    unrestorable: dict[str, list[str]] = field(default_factory=dict)
    # Docs matched by order among target objects that could as well be another's (mbport.match, Matcher._pick).
    pairings: list[str] = field(default_factory=list)
    # Links to objects deleted on the source (a click behaviour to a deleted dashboard), written empty: one line each.
    dead_links: list[str] = field(default_factory=list)
    # The read of the target this plan was made from (ImportState.read): apply refuses a plan an apply or a later
    # plan of the same import has made stale.
    read: object | None = field(default=None, compare=False, repr=False)

    def of(self, action: str) -> list[Change]:
        return [c for c in self.changes if c.action == action]

    @property
    def has_changes(self) -> bool:
        # "~?" (after-creates) may write once the objects it waits for exist: apply must run, and
        # `plan --detailed-exitcode` says there are changes.
        return any(c.action in ("create", "update", "archive", "adopt", "after-creates") for c in self.changes)

    def summary(self) -> str:
        after_sync, adopt, later = len(self.of("match-after-sync")), len(self.of("adopt")), len(self.of("after-creates"))
        return (f"Plan: {len(self.of('create'))} to create, {len(self.of('update'))} to update, "
                f"{len(self.of('archive'))} to archive, {len(self.of('noop'))} unchanged"
                + (f", {after_sync} to match after sync (?)" if after_sync else "")
                + (f", {adopt} to adopt (=)" if adopt else "")
                + (f", {later} to compare after creating (~?)" if later else "")
                + (f", {sum(len(a) for a in self.left_out.values())} left out" if self.left_out else "") + ".")

    def partial_lines(self) -> list[tuple[str, str]]:
        """(address, `'owner', 'data_layer': why`) per doc written without parts and reason (--skip-unsupported)."""
        return [(addr, line) for addr, parts in self.partial.items() for line in part_lines(parts)]

    def left_out_kinds(self) -> dict[str, str]:
        """Kinds this plan leaves out whole on purpose (an option not given) → why: what a verify afterwards must
        not count as missing."""
        return {address_kind(a): reason for reason, addrs in self.skipped.items() for a in addrs}

    def notes(self) -> list[str]:
        """What the plan's lines do not say by themselves: the `?` marker, and what is left out and why."""
        notes = [MATCH_AFTER_SYNC_NOTE] if self.of("match-after-sync") else []
        notes += [ADOPT_NOTE] if self.of("adopt") else []
        notes += [AFTER_CREATES_NOTE] if self.of("after-creates") else []
        for reason, labels in sorted(self.left_out.items()):
            shown = ", ".join(labels[:LEFT_OUT_NAMED]) + (f" and {len(labels) - LEFT_OUT_NAMED} more"
                                                          if len(labels) > LEFT_OUT_NAMED else "")
            notes.append(f"Left out: {shown} ({reason}).")
        notes += [f"Cannot be restored through the API: {label}: {'; '.join(parts)}."
                  for label, parts in sorted(self.unrestorable.items())]
        notes += [f"Dead link: {line}." for line in self.dead_links]
        notes += [f"Paired by order, not by content: {line}; with the state file of the import that made them, "
                  "import pairs them surely." for line in self.pairings]
        return notes



def part_lines(parts: dict[str, str]) -> list[str]:
    """`'owner', 'data_layer': why` per reason, of what `Plan.partial` holds for one doc."""
    by_why: dict[str, list[str]] = {}
    for part, why in parts.items():
        by_why.setdefault(why, []).append(repr(part))
    return [f"{', '.join(names)}: {why}" for why, names in by_why.items()]


class Planner(Matcher):
    """The planning part of mbport.engine.Importer: reads only (the target, through the matching), writes nothing."""

    def _target_support(self) -> dict[str, str]:
        """What the target cannot hold (Kind.unsupported for its version and edition, a kind whose listing it
        refused, a database setting its driver lacks), address → why: returned (plan problems), or with
        --skip-unsupported left out together with everything that depends on them (self.unsupported). Parts of
        a doc the target cannot hold though it holds the rest (caps.unheld_parts: a table's Data Studio owner on
        an older release, a paid setting on an OSS one) are noted in self.partial; with --skip-unsupported the
        doc is written without them. Also tells the databases kind which settings the tree's content needs
        (options.database_settings)."""
        try:
            version, features = self.api.version, self.api.token_features
        except (AttributeError, MbportError):  # a client that cannot tell (a test double): no declared check
            version, features = None, None
        reasons: dict[str, str] = {}
        needs: dict[str, dict[str, Any]] = {}
        support = DiagnoseContext(self.tree.docs, self.options, self.target, Resolver(self.ids, self.options))
        for addr, doc in self.tree.docs.items():
            kind = self.kind(addr)
            if caps.skipped(kind, self.options):
                continue
            reason = self.target.unavailable.get(kind.name) or caps.unsupported(kind, version, features)
            if reason:
                reasons[addr] = f"the target cannot hold {kind.name}: {reason}"
                continue
            parts = caps.unheld_parts(kind, doc, version, features, support)
            if parts:
                self.partial[addr] = parts
                if self.options.skip_unsupported:  # (replacing a key's value keeps this loop going)
                    doc = self.tree.docs[addr] = caps.without_parts(kind, doc, set(parts))
            reason = caps.unsupported(kind, version, features, doc, self.tree.docs)  # a field it holds (`Needs`)
            if reason:
                reasons[addr] = f"the target cannot hold {self._what(addr)} '{self._name(addr)}': {reason}"
                continue
            for need in caps.database_needs(kind, doc, self.tree.docs):
                if need.driver_feature:  # the database's own features, else (to be created) its engine's
                    engine = (self.tree.docs.get(need.database) or {}).get("engine")
                    have, whose = driver_features(self.target, self.matched_raw.get(need.database), engine)
                    if have is not None and need.driver_feature not in have:
                        reasons[addr] = (f"{whose} cannot hold {need.purpose or need.setting}: its driver has no "
                                         f"{need.driver_feature!r} feature, so Metabase refuses {need.setting}")
                        break
                needs.setdefault(need.database, {})[need.setting] = need.value
        if self.options.skip_unsupported:
            # Left out as a whole: what depends on any stage of a left-out doc goes too, and so on (a cache policy
            # waits only for its dashboard's shell, which a card in the dashboard's layout does not hold back).
            # A doc about many objects (a permissions graph) is written without its parts about a left-out one when
            # its kind can (`Narrows.without`: a collection's grants), else it goes too (a data graph waiting for
            # the sandboxes it says `sandboxed` for).
            narrowed: dict[str, set[str]] = {}
            todo = [(addr, stage) for addr in sorted(reasons, reverse=True) for stage in caps.stages(self.kind(addr))]
            while todo:
                node = todo.pop()
                for addr in {dep for dep, _ in self.graph.successors(node)} - {node[0]} - set(reasons):
                    kind, doc = self.kind(addr), self.tree.docs[addr]
                    if addr in self.partial and node[0] not in {self.registry.owner(r) for r in self.doc_refs(addr, doc)}:
                        continue  # the part that referred to it was left out (a table's Library collection)
                    if isinstance(kind, caps.Narrows) and kind.without(doc, {node[0]}) is not None:
                        narrowed.setdefault(addr, set()).add(node[0])
                        continue
                    reasons[addr] = f"it depends on {node[0]}, which the target cannot hold"
                    todo += [(addr, stage) for stage in caps.stages(kind)]
            for addr, left_out in narrowed.items():
                if addr not in reasons:
                    kind = self.kind(addr)
                    assert isinstance(kind, caps.Narrows)  # only they were narrowed above
                    self.tree.docs[addr] = kind.without(self.tree.docs[addr], left_out) or {}
            for addr in reasons:  # what was left out needs no setting
                for need in caps.database_needs(self.kind(addr), self.tree.docs[addr], self.tree.docs):
                    needs.get(need.database, {}).pop(need.setting, None)
            blocking = {}
        else:
            blocking, reasons = reasons, {}
        self.unsupported = reasons
        self.partial = {a: parts for a, parts in self.partial.items() if a not in reasons and a not in blocking}
        self.options = replace(self.options, database_settings={db: wanted for db, wanted in needs.items() if wanted})
        self.target.options = self.options
        return blocking

    def _memo_problems(self) -> list[str]:
        """A doc an earlier import matched through an option (RemembersMatch) that this run would match otherwise."""
        problems = []
        resolve = Resolver(self.ids, self.options)
        for addr, doc in self.tree.docs.items():
            kind = self.kind(addr)
            remembered, now = self.state.memos.get(addr), caps.match_memo(kind, doc, self.options)
            if remembered == now or addr not in self.state.ids or not isinstance(kind, caps.RemembersMatch):
                continue
            if remembered is None:  # a state from before memos, or a match by name: fine if it is the same object
                try:
                    located = caps.locate(kind, self.target, doc, resolve, set())
                except MbportError:
                    located = None
                if located == self.state.ids[addr]:
                    continue
            problems.append(kind.memo_problem(doc, remembered, now))
        return problems

    def plan(self, progress: Progress | None = None) -> Plan:
        """`progress(address, "compare")` is called once per doc of the tree (a display, e.g. mbport.output)."""
        from .export import no_automatic_gc

        # Reading and normalizing the target makes as many objects as an export, and every automatic collection
        # would walk them and the tree: a third of a no-change plan's CPU at bench-L.
        self.begin_read()  # an earlier plan's read (and an apply since) is not what the target holds now
        with no_automatic_gc() as keep:
            keep.append(self._plan(progress))
        keep[0].read = self.read
        return keep[0]

    def _plan(self, progress: Progress | None) -> Plan:
        self.match()
        # A selective import names only the dangling refs of what it would write (below, once its scope is known).
        # Dead links (deferred refs to objects deleted on the source) are no problem: `_as_written` writes them null.
        dangling = self.refgraph.dangling if self.selected is None else []
        problems = [d.problem(self.tree.paths) for d in dangling] + self._memo_problems()
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
            reason = caps.skipped(kind, self.options)
            if reason:
                skipped.setdefault(reason, []).append(addr)
            if self._skipped(addr):
                continue
            refs = self.doc_refs(addr, doc)
            self._note_missing_sub_objects(addr, refs, missing)
            if addr not in self.ids:
                if caps.made_by_metabase(kind, doc, self.tree.docs):  # appears with what makes it: found then, never POSTed
                    changes.append(Change("adopt", addr, name, what=what))
                    created_here.add(addr)
                elif not isinstance(kind, caps.MatchedOnly):
                    changes.append(Change("create", addr, name, what=what))
                    created_here.add(addr)
                elif any(dep in created_here for dep in refs):
                    changes.append(Change("match-after-sync", addr, name, what=what))
                else:
                    missing.setdefault(addr, [])
                continue
            ctx.current = addr
            self.current_docs[addr] = current = kind.normalize(comparable.get(addr, self.matched_raw[addr]), ctx)
            wanted = self._as_written(doc, refs)
            differ = kind.compare(wanted, current, self.options)
            action = ("after-creates" if caps.decided_after_creates(kind, wanted, current) else "update") if differ \
                else "noop"
            changes.append(Change(action, addr, name, differ, self.ids[addr], what=what))
        self._recheck_after_cascades(changes)
        scope = None
        if self.selected is not None:
            scope = self._select(changes, problems, self.selected)
            scope |= {d for a in scope for d in self.cascades.get(a, ()) if d in self.recheck}  # see above
            problems[:0] = [d.problem(self.tree.paths) for d in self.refgraph.dangling if d.source in scope]
            changes = [c for c in changes if c.address in scope]
            missing = {a: [b for b in broken if b in scope] for a, broken in missing.items()
                       if self.registry.owner(a) in scope or any(b in scope for b in broken)}
        for addr in sorted(missing):
            owner = self.registry.owner(addr)
            where = self.tree.paths.get(owner)
            broken = sorted(set(missing[addr]) | {a for a, d in self.tree.docs.items()
                                                   if a != owner and addr in self.doc_refs(a, d)})
            problems.append(f"{addr}: not found on the target ({where}); {self.kind(owner).name} are never created"
                            + (f"; it breaks {', '.join(self._labelled(b) for b in broken)}" if broken else ""))
        # An object the tree holds under another address (deleted and restored on the source: a new entity id the
        # import matched to the same target object by name) is not pruned with its old address.
        held = {(address_kind(a), self.ids[a]) for a in self.tree.docs
                if self.options.prune and isinstance(self.ids.get(a), int | str)}
        for addr in sorted(self.state.created - set(self.tree.docs)):
            if scope is None and self.options.prune and self.registry.known_kind(address_kind(addr)) \
                    and not isinstance(self.kind(addr), caps.NeverPruned):  # a selective import prunes nothing
                tid = self.state.ids.get(addr)
                if isinstance(tid, int | str) and (address_kind(addr), tid) in held:
                    continue
                if isinstance(tid, int | str):  # one object under two old addresses (a state written before
                    held.add((address_kind(addr), tid))  # apply forgot the superseded one) is archived once
                raw = self.target.find(self.kind(addr).name, tid) if tid is not None else None
                if raw is not None:
                    self.state.check_object(addr, raw)  # never archive another instance's object
                if raw is not None and caps.made_by_metabase(self.kind(addr), raw):
                    continue  # Metabase's own: archived with its owner (a tenant's deactivation), or never
                if raw is not None and caps.archived_already(self.kind(addr), raw):
                    continue  # archived (deactivated) on the target already: apply would write it again
                name = (self.kind(addr).label(raw) if raw else None) or split_address(addr)[1][-1]
                changes.append(Change("archive", addr, name, [], tid, what=self._what(addr)))
        resolve = Resolver(self.ids, self.options)
        in_scope = [a for a in self.tree.docs if (scope is None or a in scope) and not self._skipped(a)]
        written = {c.address for c in changes if c.action in ("create", "update", "noop", "adopt", "after-creates")}
        unrestorable = {f"{self._what(a)} '{self._name(a)}' ({a})": parts for a in in_scope if a in written
                        for parts in [self.kind(a).spec.unrestorable(self.tree.docs[a], self.current_docs.get(a))]
                        if parts}
        problems += [f"{addr}: {unsupported[addr]} ({self.tree.paths.get(addr)}); --skip-unsupported leaves it out "
                     "instead" for addr in sorted(set(in_scope) & set(unsupported))]
        partial = {a: self.partial[a] for a in sorted(set(in_scope) & set(self.partial))}
        if not self.options.skip_unsupported:
            problems += [f"{addr}: the target cannot hold {line} ({self.tree.paths.get(addr)}); --skip-unsupported "
                         f"writes the rest of the {self._what(addr)} without it instead"
                         for addr, parts in partial.items() for line in part_lines(parts)]
        before = DiagnoseContext(self.tree.docs, self.options)
        after = DiagnoseContext(self.tree.docs, self.options, self.target, resolve)
        for addr in in_scope:
            doc = self.tree.docs[addr]
            problems += self.kind(addr).diagnose(doc, Phase.PREFLIGHT, before) if addr not in self.ids else []
            problems += self.kind(addr).diagnose(doc, Phase.PLAN, after)
        # A selective plan speaks only of what it was asked for: an API key outside the selection is not left out.
        left_out = {reason: [f"{self._what(a)} '{self._name(a)}'" for a in sorted(addrs, key=self._name)
                             if self.selected is None or a in self.selected] for reason, addrs in skipped.items()}
        dead = [d.warning(self.tree.paths, self.kind(d.source).label(self.tree.docs[d.source], self.tree.docs))
                for d in self.refgraph.dead_links if d.source in written and d.source in in_scope]
        return Plan(changes, problems, skipped, left_out={r: names for r, names in left_out.items() if names},
                    unsupported=dict(sorted(self.unsupported.items())),
                    partial=partial if self.options.skip_unsupported else {}, unrestorable=unrestorable,
                    pairings=self.pairings, dead_links=dead)

    def _recheck_after_cascades(self, changes: list[Change]) -> None:
        """A doc written after a cascade (OrdersWrites.write_order: an alert after its collection's archive) is written
        again when the doc that sets the cascade off is updated: the cascade may archive or delete it, though it
        matches the tree now. It is found again on the target right before its write (created if it is gone)."""
        caused: dict[str, list[str]] = {}  # doc → the updated docs whose cascade may change it
        for c in changes:
            if c.action == "update":
                for later in self.cascades.get(c.address, ()):
                    caused.setdefault(later, []).append(c.address)
        for change in changes:
            causes = sorted(caused.get(change.address, ()))
            if change.action == "noop" and causes:
                change.action, change.fields = "update", [f"(rewritten after {', '.join(causes)})"]
            if change.action == "update" and causes:
                self.recheck.add(change.address)

    def _select(self, changes: list[Change], problems: list[str], wanted: set[str]) -> set[str]:
        """A selective import (`wanted`: the selected addresses): the selection, the parts of docs
        about many objects that concern it (`Narrows.narrow`, which then stands in for the tree's doc), and, unless
        `options.only`, what they depend on (their refs, the graph's edges and the deferred ones) that the
        target lacks or holds differently, transitively through such objects; marks each with `needed_by`.
        With `only`, a ref of the selection the target cannot resolve is a problem (before any write)."""
        by_addr = {c.address: c for c in changes}
        selected = {a for a in wanted if a in self.tree.docs}
        scope = set(selected)
        for addr in sorted(self.tree.docs):
            kind = self.kind(addr)
            if addr in selected or addr not in self.current_docs or not isinstance(kind, caps.Narrows):
                continue
            narrowed = kind.narrow(self.tree.docs[addr], self.current_docs[addr], selected, self.tree.docs)
            if narrowed is None:
                continue
            self.tree.docs[addr] = narrowed  # this import writes only that part
            differ = kind.compare(narrowed, self.current_docs[addr], self.options)
            change = by_addr.get(addr)
            if change is not None and differ:
                later = caps.decided_after_creates(kind, narrowed, self.current_docs[addr])
                change.action, change.fields = "after-creates" if later else "update", differ
                change.needed_by = sorted(self._labelled(a) for a in selected & kind.refs(narrowed))
                scope.add(addr)
        todo = sorted(scope)
        while todo:
            addr = todo.pop()
            kind, doc = self.kind(addr), self.tree.docs[addr]
            links = {self.registry.owner(r) for r in caps.deferred_refs(kind, doc)}
            uses = {self.registry.owner(r) for r in self.doc_refs(addr, doc) - caps.deferred_refs(kind, doc)}
            for dep in sorted(uses | links):
                if dep == addr or dep not in self.tree.docs or dep in selected:
                    continue
                if self.options.only:
                    if dep not in self.ids:
                        problems.append(f"{self._labelled(addr)} needs {self._labelled(dep)}, which the target "
                                        f"lacks; select it too, or leave out --only")
                    continue
                change = by_addr.get(dep)
                if change is None and dep not in self.ids:
                    scope.add(dep)  # never created and not on the target: a problem plan names below
                # What the selection uses must be as the tree has it; what it only links to (a click behaviour's
                # target) must merely exist.
                writes = WRITTEN if dep in uses else ("create", "match-after-sync", "adopt")
                if change is None or change.action not in writes:
                    continue  # on the target as the tree has it: its own refs resolve already
                if self._labelled(addr) not in change.needed_by:
                    change.needed_by.append(self._labelled(addr))
                if dep not in scope:
                    scope.add(dep)
                    todo.append(dep)
        for addr in self.tree.docs.keys() - scope:  # pins outside the selection stay as the target has them
            kind, current = self.kind(addr), self.current_docs.get(addr)
            pins = caps.positions(kind)
            if pins and current is not None:
                self.tree.docs[addr] = {k: v for k, v in self.tree.docs[addr].items() if k not in pins} | {
                    f: current[f] for f in pins if current.get(f) is not None}
        return scope

    def _as_written(self, doc: dict[str, Any], refs: set[str]) -> dict[str, Any]:
        """The doc as apply writes it: a (deferred) ref to a doc this import leaves out (--skip-unsupported, a
        skipped kind) or to one deleted on the source (a dead link) is written as null, so it compares as null, else
        the second plan of a downgrade (a link to a dashboard showing a measure, into 0.57) would update the
        referring doc on every run."""
        gone = {a for a in refs if self._skipped(self.registry.owner(a))
                or (a.partition("/")[2].startswith(MISSING) and a not in self.tree.docs)}  # a dead link (refgraph)
        return null_refs(doc, gone) if gone else doc

    def _comparable_raws(self) -> dict[str, dict[str, Any]]:
        """`ComparesRaw.comparable_raw` of every matched doc whose kind has it, concurrently (it may read)."""
        kinds = {a: k for a in self.matched_raw if a in self.tree.docs
                 and isinstance(k := self.kind(a), caps.ComparesRaw) and not self._skipped(a)}
        raws = self.api.map(lambda a: kinds[a].comparable_raw(self.api, self.matched_raw[a], self.tree.docs[a]), kinds)
        return dict(zip(kinds, raws, strict=True))

    def _note_missing_sub_objects(self, addr: str, refs: set[str], missing: dict[str, list[str]]) -> None:
        """Sub-objects of never-created kinds (a field of a matched table) must already be on the target."""
        for ref in refs:
            owner = self.registry.owner(ref)
            if owner != ref and owner in self.ids and ref not in self.ids \
                    and isinstance(self.kind(owner), caps.MatchedOnly):
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
