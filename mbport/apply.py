"""Import, last step: write a plan in graph order (generations, retries), then deferred refs, positions, archives."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import networkx as nx

from . import capabilities as caps
from .client import AmbiguousWriteError, ApiError, AuthError, CredentialsRefused
from .errors import MbportError
from .hooks import WriteRequest
from .importstate import ImportState
from .kind import Kind
from .plan import WRITTEN, Change, Plan, Progress
from .refgraph import Node
from .refs import REF, address_kind, is_ref
from .resolve import Resolver

log = logging.getLogger("mbport.engine")

# Write failures after which the target is read again and the write tried again: no answer at all, a 500
# (Metabase's unexpected errors are mostly passing: a full connection pool, a restart) and a 409 (the
# permission graphs' "someone else edited": a fresh read gives the current revision).
RETRY_WRITE_STATUSES = frozenset({409, 500})
# Each engine retry re-reads the kind on the target; the client has already retried transport failures,
# so a small budget is enough for a passing fault and keeps a permanent one from costing many full reads.
WRITE_ATTEMPTS = 3


def ref_address(value: Any) -> str | None:
    """The address a `{"$ref"}` points at; None for anything else (a container field left out: the root)."""
    return value[REF] if is_ref(value) else None


@dataclass
class ApplyResult:
    plan: Plan
    written: int = 0  # write requests sent (POST/PUT/DELETE, retries included), not objects gone through
    failed: dict[str, str] = field(default_factory=dict)  # address → error
    skipped: list[str] = field(default_factory=list)  # addresses not written because a dependency failed
    changed: set[str] = field(default_factory=set)  # objects at least one write request went to
    # Objects the plan listed for apply that needed no write: adopted (`=`), compared after the creates (`~?`) and
    # found as the tree says, found after the sync (`?`) with nothing to set.
    as_tree: set[str] = field(default_factory=set)


class Applier(ImportState):
    """The writing part of mbport.engine.Importer: `apply(plan)` after `plan()`."""

    def apply(self, plan: Plan, progress: Progress | None = None) -> ApplyResult:
        if plan.problems:
            raise MbportError(f"{len(plan.problems)} problem(s) found before writing anything:\n  "
                              + "\n  ".join(plan.problems))
        if plan.read is not None and plan.read is not self.read:
            raise MbportError("this plan was made before this import's last apply (or its last plan): the target "
                              "may hold other objects now; nothing was written", hint="plan again and apply that plan")
        self.read = object()  # what this apply writes makes every plan made so far stale
        with self.state.claimed():  # one import per state at a time, and none on a plan older than the state
            return self._apply_claimed(plan, progress)

    def _apply_claimed(self, plan: Plan, progress: Progress | None) -> ApplyResult:
        result = self.applied = ApplyResult(plan)  # read by the CLI when the run stops early (writes made so far)
        todo = {c.address: c for c in plan.changes if c.action in WRITTEN}
        resolve = Resolver(self.ids, self.options)
        failed: set[str] = set()
        blocked: set[Node] = set()
        with self.lock:  # matched objects too: a run after a crash finds them by natural key, and keeps them
            for addr, tid in self.ids.items():
                self.state.record(addr, tid, entity_id=self.matched_raw.get(addr, {}).get("entity_id"))
                if addr in self.tree.docs:
                    self.state.remember(addr, caps.match_memo(self.kind(addr), self.tree.docs[addr], self.options))
        try:
            self._apply_generations(todo, resolve, result, progress, failed, blocked)
        finally:
            self.state.save()
        self._second_pass(todo, resolve, result, failed)
        self._write_positions(todo, result, failed)
        # An address the tree no longer holds whose target object it holds under another (deleted and restored on
        # the source: a new entity id) hands its object over: the new address counts as created (--prune archives
        # it once it leaves the tree), the old one is forgotten (else both had a '-' line).
        held: dict[tuple[str, Any], str] = {(address_kind(a), tid): a for a, tid in self.ids.items()
                if a in self.tree.docs and isinstance(tid, int | str)}
        with self.lock:
            for addr in sorted(self.state.created - set(self.tree.docs)):
                heir = held.get((address_kind(addr), self.state.ids.get(addr)))
                if heir is not None:
                    self.state.record(heir, self.ids[heir], created=True, entity_id=self.state.eids.get(heir))
                    self.state.forget(addr)
        for change in plan.of("archive"):
            kind = self.kind(change.address)
            self._sending(change.address, result, partial(self._with_retries, change.address, kind,
                                                          partial(self._archive, kind, change.target_id)))
            with self.lock:
                self.state.forget(change.address)
        self.state.save()
        result.skipped = sorted(set(result.skipped))
        result.changed -= set(result.failed)  # a refused write (a 400) is counted as sent, but changed nothing
        result.as_tree = {a for a in todo if a in self.ids} - result.changed - set(result.failed) - set(result.skipped)
        return result

    def _sending(self, addr: str, result: ApplyResult, write: Callable[[], Any]) -> Any:
        """write() for `addr`, counting the write requests it sends (this thread's: one object is written on one
        thread), failed ones too: what the summary reports is what reached the target, not the objects gone through."""
        sent_here = getattr(self.api, "writes_sent_here", None) or (lambda: 0)
        before = sent_here()
        try:
            return write()
        finally:
            sent = sent_here() - before
            if sent:
                with self.lock:
                    result.written += sent
                    result.changed.add(addr)

    def _apply_generations(self, todo: dict[str, Change], resolve: Resolver, result: ApplyResult,
                           progress: Progress | None, failed: set[str], blocked: set[Node]) -> None:
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
                if not self.options.continue_on_error:
                    raise exc
                result.failed[node[0]] = str(exc)
                failed.add(node[0])
                blocked |= nx.descendants(self.graph, node)

    def _try_write(self, node: Node, change: Change, resolve: Resolver, result: ApplyResult,
                   progress: Progress | None) -> tuple[Node, Exception | None]:
        try:
            self._sending(node[0], result, lambda: self._write(node, change, resolve, result, progress))
            return node, None
        except Exception as exc:  # noqa: BLE001 - one object's failure is reported with its name
            return node, self.object_error(node[0], exc)

    def object_error(self, addr: str, exc: Exception) -> MbportError:
        """`exc` as one line that names the object (address, name, file) it happened to."""
        doc = self.tree.docs.get(addr, {})
        name = self.kind(addr).label(doc) if addr in self.tree.docs else None
        where = ", ".join(str(x) for x in (name, self.tree.paths.get(addr)) if x)
        label = f"{addr} ({where})" if where else addr
        if isinstance(exc, MbportError) and str(exc).startswith(addr) or isinstance(exc, CredentialsRefused):
            return exc  # the kind named it already; refused credentials are about the run, not this object
        if isinstance(exc, MbportError):
            error = MbportError(f"{label}: {exc}", hint=exc.hint, exit_code=exc.exit_code)
        else:  # an answer the kind did not expect (a missing field, a wrong type)
            error = MbportError(f"{label}: unexpected answer from the target ({type(exc).__name__}: {exc})",
                                hint="run with --debug for details")
        error.__cause__ = exc
        return error

    def _write(self, node: Node, change: Change, resolve: Resolver, result: ApplyResult,
               progress: Progress | None) -> None:
        addr, stage = node
        kind, doc = self.kind(addr), self.tree.docs[addr]
        if change.action == "match-after-sync":
            if stage != caps.stages(kind)[0]:
                return
            tid = self._locate_after_sync(kind, doc, resolve)
            if tid is None:
                raise MbportError(f"{addr}: not found on the target after the database sync", hint="check the warehouse has it")
            raw = self.target.find(kind.name, tid)
            with self.lock:
                self.ids[addr] = tid
                self.ids.update(caps.sub_ids(kind, doc, raw or {}))
            change.action, change.target_id = "update", tid
        payload = kind.payload(doc, resolve, stage)
        raw = self._with_retries(addr, kind, lambda again: self._write_once(addr, kind, doc, payload, stage,
                                                                              resolve, again))
        with self.lock:
            subs = caps.sub_ids(kind, doc, raw or {})
            self.ids.update(subs)
            for sub, tid in subs.items():
                self.state.record(sub, tid)
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
        tid = caps.locate(kind, self.target, doc, resolve, set())
        if tid is None and seen == now:  # read before this object's sync finished: once more, to be sure
            with self._sync_lock:
                self.target.refresh(kind.name)
            tid = caps.locate(kind, self.target, doc, resolve, set())
        return tid

    def _write_once(self, addr: str, kind: Kind, doc: dict[str, Any], payload: dict[str, Any], stage: str,
                    resolve: Resolver, again: bool) -> dict[str, Any]:
        """Create (or update) once. `again`: an earlier attempt failed without a clear answer, so an object it
        may have created is looked up by natural key first (Metabase keeps no client-chosen id) and updated."""
        if addr in self.recheck and stage == caps.stages(kind)[0]:
            self.target.refresh(kind.name)  # after the cascade: the object may be archived (updated), or gone
            if addr in self.ids and self.target.find(kind.name, self.ids[addr]) is None:
                log.info("%s: deleted on the target by a cascade of this import; creating it again", addr)
                with self.lock:
                    self.ids.pop(addr)
        if addr not in self.ids and again:
            tid = caps.locate(kind, self.target, doc, resolve, self._claimed(kind.name))
            if tid is not None:
                log.info("%s: found on the target after a lost answer; updating it instead of creating", addr)
                with self.lock:
                    self.ids[addr] = tid
                    self.state.record(addr, tid, created=not caps.made_by_metabase(kind, doc, self.tree.docs),
                                      entity_id=(self.target.find(kind.name, tid) or {}).get("entity_id"))
                    # an object this import created after all: the kinds listed after it read it again (its tables)
                    self._created[kind.name] = self._created.get(kind.name, 0) + 1
                if isinstance(kind, caps.RecoversLostCreate):
                    kind.adopted(self.api, tid, doc, self.target)
                raw = self.target.find(kind.name, tid)
                if raw is not None:
                    caps.settle(kind, self.api, raw)  # a lost create answer skipped what create waits for (a first sync)
        if addr not in self.ids:
            raw = kind.create(WriteRequest(self.api, doc, payload, self.target, stage))
            with self.lock:
                self._created[kind.name] = self._created.get(kind.name, 0) + 1
                self.ids[addr] = raw["id"]
                # one Metabase made (found by `create`) is adopted: --prune leaves it to Metabase
                self.state.record(addr, raw["id"], created=not caps.made_by_metabase(kind, doc, self.tree.docs),
                                  entity_id=raw.get("entity_id"))
            return raw
        raw = kind.update(WriteRequest(self.api, doc, payload, self.target, stage, self.ids[addr]))
        with self.lock:
            if isinstance(kind, caps.ReplacedOnUpdate) and isinstance(raw, dict) and raw.get("id") not in (None, self.ids[addr]):
                self.ids[addr] = raw["id"]
                self.state.record(addr, raw["id"], created=addr in self.state.created, entity_id=raw.get("entity_id"))
            else:
                self.state.record(addr, self.ids[addr])
        return raw

    def _archive(self, kind: Kind, target_id: Any, _again: bool) -> None:
        kind.archive(self.api, target_id)

    @staticmethod
    def _write_position(kind: Kind, req: WriteRequest, _again: bool) -> None:
        assert isinstance(kind, caps.OrderedPositions)  # only they have position fields
        kind.write_position(req)

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
            for fld, container in caps.positions(kind).items():
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
        """Last step: `OrderedPositions.positions` fields (pins), whose server renumbers the siblings on every write, so
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
                    req = WriteRequest(self.api, doc, {fld: value}, self.target, caps.POSITION_STAGE, self.ids[addr])
                    self._sending(addr, result, partial(self._with_retries, addr, kind,
                                                        partial(self._write_position, kind, req)))
                except Exception as exc:  # noqa: BLE001 - reported with the object's name
                    return addr, self.object_error(addr, exc)
            return "", None

        for addr, exc in self.api.map(rewrite, sorted(self._position_lists(todo).items(), key=repr)):
            if exc is None:
                continue
            if not self.options.continue_on_error:
                raise exc
            result.failed[addr] = str(exc)

    def _second_pass(self, todo: dict[str, Change], resolve: Resolver, result: ApplyResult, failed: set[str]) -> None:
        """Fill in deferred refs (cycles Metabase allows) now that every object has an id; concurrently."""
        addrs = [a for a in sorted(todo) if a not in failed and a in self.ids and caps.deferred_refs(self.kind(a), self.tree.docs[a])]

        def fill(addr: str) -> tuple[str, Exception | None]:
            kind, doc = self.kind(addr), self.tree.docs[addr]
            stage = caps.stages(kind)[-1]
            try:
                payload = kind.payload(doc, resolve, stage)
                self._sending(addr, result, lambda: self._with_retries(addr, kind, lambda _again: kind.update(
                    WriteRequest(self.api, doc, payload, self.target, stage, self.ids[addr]))))
                return addr, None
            except Exception as exc:  # noqa: BLE001
                return addr, self.object_error(addr, exc)

        for addr, exc in self.api.map(fill, addrs):
            if exc is None:
                continue
            if self.options.continue_on_error:
                result.failed[addr] = str(exc)
            else:
                raise exc
