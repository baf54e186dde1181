"""Import, first step: read the target the tree's kinds live on, and give every doc the target id it already has."""

from __future__ import annotations

import threading
from collections.abc import Iterable
from concurrent.futures import Future
from pathlib import Path
from typing import Any

from . import capabilities as caps
from .client import Stoppable, site_uuid
from .errors import MbportError
from .export import Rows, extract
from .importstate import ImportState
from .kind import ExportContext, Kind
from .refs import address_kind
from .registry import Registry
from .resolve import Resolver
from .state import State, default_state_path

# How import lists a target: every object, none a kind leaves out of a tree (`ctx.options["target"]`).
TARGET_LISTING = {"include_personal": True, "target": True}


def kinds_to_read(registry: Registry, kinds: Iterable[str], read: Iterable[str] = ()) -> set[str]:
    """The kinds a tree holds and those their listing needs (`after`, transitively), but for those `read` already."""
    names: set[str] = set()
    todo, done = list(kinds), set(read)
    while todo:
        name = todo.pop()
        if name in registry and name not in names and name not in done:
            names.add(name)
            todo.extend(registry[name].after)
    return names


class ReadAhead:
    """The target's objects of the kinds a tree's folders hold, read on a thread of their own while the tree is loaded
    and checked: a plan reads them first thing, and at bench-L loading and checking the tree takes about a second
    of CPU that the reads' round trips would otherwise wait for. `take` hands them to the import that wants exactly
    these kinds; one that wants others (or a read that failed) reads them itself, as without it."""

    def __init__(self, api: Any, registry: Registry, names: set[str]):
        self.api, self.registry, self.names = Stoppable(api), registry, names
        self.progress = _Forward()
        self._read: Future[tuple[Rows, dict[str, str]]] = Future()
        threading.Thread(target=self._run, name="mbport-read-ahead", daemon=True).start()

    def cancel(self) -> None:
        """No request more (the tree had problems, or the import wants other kinds): what is in flight ends."""
        self.api.stop()

    def _run(self) -> None:
        try:
            ctx = ExportContext(options=TARGET_LISTING)
            extract(self.api, self.registry, sorted(self.names), ctx, self.progress)
            self._read.set_result((ctx.raw, ctx.unavailable))
        except BaseException as exc:  # noqa: BLE001 - the import reads again and meets it itself
            self._read.set_exception(exc)

    def take(self, names: set[str], progress: Any = None) -> tuple[Rows, dict[str, str]] | None:
        """(raw objects by kind, kinds the target cannot hold → why) if these are the kinds read ahead, once read;
        else None. `progress` gets what is still being read."""
        if names != self.names:
            self.cancel()
            return None
        self.progress.to = progress
        try:
            return self._read.result()
        except Exception:  # noqa: BLE001 - see _run
            return None


class _Forward:
    """An export.Progress that passes on to `to` (a display set up after the reading started), if any."""

    to: Any = None

    def __call__(self, kind: str, count: int, total: int) -> None:
        if self.to is not None:
            self.to(kind, count, total)

    def fetching(self, kind: str, done: int, total: int) -> None:
        fetching = getattr(self.to, "fetching", None)
        if fetching is not None:
            fetching(kind, done, total)


def read_ahead(api: Any, registry: Registry, tree_dir: Path, state_path: Path | None = None) -> ReadAhead | None:
    """Start reading the target's objects of the kinds the tree at `tree_dir` holds (its kind folders), for an import
    of it (`open_import(..., ahead=)`) to take once the tree is loaded and checked; None when there is nothing to
    read or the state belongs to another instance (that import stops before reading anything)."""
    try:
        kinds = [p.name for p in Path(tree_dir).iterdir() if p.is_dir()]
        names = kinds_to_read(registry, kinds)
        state = State.load(state_path or default_state_path(tree_dir, api.url), api.url)
        if len(names) < 2 or state.of_another_instance(site_uuid(api)):
            return None
    except (OSError, MbportError):  # the import says what is wrong, before reading
        return None
    return ReadAhead(api, registry, names)


class Matcher(ImportState):
    """The matching part of mbport.engine.Importer: state first, then `capabilities.locate` (entity_id, then `match`), in graph order."""

    def _load_kind(self, kind: str) -> list[dict[str, Any]]:
        ctx = ExportContext(options=TARGET_LISTING)
        for dep in self.registry[kind].after:
            if dep in self.registry:  # a registry without that kind (a test's subset): its listing goes without
                ctx.raw[dep] = self.target.raw(dep)
        extract(self.api, self.registry, [kind], ctx)
        self.target.unavailable.update(ctx.unavailable)
        return ctx.raw.get(kind, [])

    def _read_target(self) -> None:
        """Read every kind the tree has (and those their listing needs) at once, concurrently, as export does;
        one kind at a time as matching reaches it would cost a round trip per kind in sequence."""
        names = kinds_to_read(self.registry, {address_kind(a) for a in self.tree.docs}, self.target.raw_by_kind)
        if len(names) < 2:
            return
        ahead, self.ahead = self.ahead, None
        taken = ahead.take(names, self.read_progress) if ahead is not None else None
        if taken is not None:
            raw, unavailable = taken
        else:
            ctx = ExportContext(options=TARGET_LISTING)
            for name in {d for n in names for d in self.registry[n].after if d in self.registry} - names:
                ctx.raw[name] = self.target.raw(name)  # read already
            extract(self.api, self.registry, sorted(names), ctx, self.read_progress)
            raw, unavailable = ctx.raw, ctx.unavailable
        self.target.unavailable.update(unavailable)
        for name in names:
            self.target.raw_by_kind.setdefault(name, raw.get(name, []))

    def match(self) -> None:
        """Give every doc the target id it already has: state first, then `locate`, in graph order."""
        self.state.bind_instance(site_uuid(self.api))
        self._read_target()
        resolve = Resolver(self.ids, self.options)
        claimed: dict[str, set[Any]] = {}
        self.pairings = []
        self._pick_ctx: ExportContext | None = None  # the target normalized for `_pick`, read once
        self._held_ids: dict[str, dict[Any, str]] = {}
        self._held_docs: dict[str, list[str]] = {}
        stale: set[str] = set()  # kinds read before an object their listing builds on had settled
        for addr in self.doc_order():
            kind, doc = self.kind(addr), self.tree.docs[addr]
            if kind.name in stale:
                self.target.refresh(kind.name)
                stale.discard(kind.name)
            tid = self.state.ids.get(addr)
            known = self.target.find(kind.name, tid) if tid is not None else None
            if known is not None:
                self.state.check_object(addr, known)  # where the target does not tell its site-uuid
            if known is None:
                tid = caps.locate(kind, self.target, doc, resolve, claimed.setdefault(kind.name, set()))
                if tid is not None and not isinstance(kind, caps.Locates):
                    tid = self._pick(addr, tid, resolve, claimed[kind.name])
            raw = self.target.find(kind.name, tid) if tid is not None else None
            if raw is not None:
                claimed.setdefault(kind.name, set()).add(tid)
                self.ids[addr] = tid
                self.matched_raw[addr] = raw
                self.ids.update(caps.sub_ids(kind, doc, raw))
                stale |= self._settle(kind, raw)
        for name in stale & set(self.target.raw_by_kind):  # read already, though the tree has none of them
            self.target.refresh(name)

    def _pick(self, addr: str, tid: Any, resolve: Resolver, claimed: set[Any]) -> Any:
        """Of several target objects sharing this doc's natural key (two questions named alike in one collection),
        the one that is this doc's: never one another doc of the tree holds by its state or entity_id; then one the
        closest to the doc (the same content: nothing differs, as plan compares; so two that match exactly never swap);
        ties pair in order (the docs in write order, the objects by id), said in `pairings`. `tid`:
        what `locate` found. Its id, or None: none left for it (it will be created)."""
        kind, doc = self.kind(addr), self.tree.docs[addr]
        found = self.target.find(kind.name, tid)
        if found is None or (doc.get("entity_id") and found.get("entity_id") == doc["entity_id"]):
            return tid
        key = _key(kind, doc, resolve)
        pool = self.target.lookup(kind.name, "match_key", lambda r: caps.raw_match_key(kind, r)).get(key, [])
        if key is None or all(r.get("id") != tid for r in pool):
            return tid  # not found by its natural key
        held = self._held(kind)
        candidates = sorted((r for r in pool if r.get("id") not in claimed and held.get(r.get("id"), addr) == addr),
                            key=_creation_order)
        if len(candidates) < 2:  # `locate` may have found one another doc holds
            return candidates[0]["id"] if candidates else None
        others = [a for a in self._held_docs[kind.name] if a != addr and a not in self.ids]
        order = {a: i for i, a in enumerate(self.doc_order())}
        group = sorted([addr, *(a for a in others if a not in self.state.ids and _key(kind, self.tree.docs[a], resolve)
                                == key)], key=lambda a: order.get(a, len(order)))
        ctx = self._pick_ctx = self._pick_ctx or self._target_context()
        for a, known in self.ids.items():  # matched since it was read
            ctx.index[(address_kind(a), known)] = a
        ctx.options["import"]["ids"] = dict(self.ids)
        differ = {(a, i): len(self._differ(a, raw, ctx)) for a in group for i, raw in enumerate(candidates)}
        paired: dict[str, int] = {}
        tied: list[str] = []
        # The closest pairs first (the same content: no field differs), then the doc first written, the oldest object.
        for a, i in sorted(differ, key=lambda p: (differ[p], order.get(p[0], len(order)), p[1])):
            if a in paired or i in paired.values():
                continue
            paired[a] = i
            if any(j not in paired.values() and differ[a, j] == differ[a, i] for j in range(len(candidates))) \
                    and any(b not in paired for b in group):
                tied.append(a)
        if tied:
            line = (f"{', '.join(group)} ({self.tree.paths.get(addr, addr)}): {len(candidates)} {kind.name} on the "
                    "target share their natural key, none closer to one of them than to another; paired by write "
                    "order and id")
            if line not in self.pairings:
                self.pairings.append(line)
        return candidates[paired[addr]]["id"] if addr in paired else None

    def _held(self, kind: Kind) -> dict[Any, str]:
        """Target id → the doc of this kind that holds it by its state or its entity_id (read once per kind)."""
        if kind.name not in self._held_ids:
            docs = self._held_docs[kind.name] = [a for a in self.tree.docs if address_kind(a) == kind.name]
            by_eid = self.target.lookup(kind.name, "entity_id", lambda r: r.get("entity_id"))
            held = self._held_ids[kind.name] = {}
            for a in docs:
                eid = self.tree.docs[a].get("entity_id")
                for raw in by_eid.get(eid, []) if eid else []:
                    held[raw.get("id")] = a
                if a in self.state.ids:
                    held[self.state.ids[a]] = a
        return self._held_ids[kind.name]

    def _differ(self, addr: str, raw: dict[str, Any], ctx: ExportContext) -> list[str]:
        """The fields where a target object is not what this doc says, as plan compares them (a ref to a doc not
        matched yet differs)."""
        kind = self.kind(addr)
        if isinstance(kind, caps.ComparesRaw):
            raw = kind.comparable_raw(self.api, raw, self.tree.docs[addr])
        ctx.current = addr
        return kind.compare(self.tree.docs[addr], kind.normalize(raw, ctx), self.options)

    def _target_context(self) -> ExportContext:
        """Normalizing target objects with *source* addresses makes them comparable with the tree's docs."""
        ctx = ExportContext(options={"include_personal": True})
        for name in self.registry.kinds:
            kind = self.registry[name]
            for raw in self.target.raw(name):
                for k, tid, addr in kind.index(raw):
                    ctx.index[(k, tid)] = addr
        for addr, tid in self.ids.items():
            ctx.index[(address_kind(addr), tid)] = addr
        # Which tree objects already have a target id: kinds that compare whole graphs (permissions) need it.
        ctx.options["import"] = {"ids": dict(self.ids), "tree": set(self.tree.docs) - set(self.unsupported)}
        return ctx

    def _settle(self, kind: Kind, raw: dict[str, Any]) -> set[str]:
        """Wait for a matched object the kinds listed after it cannot be read from yet (kind.settle: a database
        a stopped import created, still in its first sync), as creating it waits; those kinds are then stale."""
        if not caps.settle(kind, self.api, raw):
            return set()
        after, todo = set(), [kind.name]
        while todo:
            name = todo.pop()
            for other in self.registry.kinds.values():
                if name in other.after and other.name not in after:
                    after.add(other.name)
                    todo.append(other.name)
        return after


def _creation_order(raw: dict[str, Any]) -> tuple:
    """Target objects in the order they were made: by id (numbers; any other id after them, by its text)."""
    tid = raw.get("id")
    return (0, tid, "") if isinstance(tid, int) else (1, 0, str(tid))


def _key(kind: Kind, doc: dict[str, Any], resolve: Resolver) -> tuple | None:
    try:
        return caps.match_key(kind, doc, resolve)
    except Exception:  # a parent the target lacks yet: it shares no key with anything there
        return None
