"""Import, first step: read the target the tree's kinds live on, and give every doc the target id it already has."""

from __future__ import annotations

from typing import Any

from . import capabilities as caps
from .export import extract
from .importstate import ImportState
from .kind import ExportContext, Kind
from .refs import address_kind
from .resolve import Resolver

# How import lists a target: every object, none a kind leaves out of a tree (`ctx.options["target"]`).
TARGET_LISTING = {"include_personal": True, "target": True}


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
        names, todo = set(), [address_kind(a) for a in self.tree.docs]
        while todo:
            name = todo.pop()
            if name in self.registry and name not in names and name not in self.target.raw_by_kind:
                names.add(name)
                todo.extend(self.registry[name].after)
        if len(names) < 2:
            return
        ctx = ExportContext(options=TARGET_LISTING)
        for name in {d for n in names for d in self.registry[n].after if d in self.registry} - names:
            ctx.raw[name] = self.target.raw(name)  # read already
        extract(self.api, self.registry, sorted(names), ctx, self.read_progress)
        self.target.unavailable.update(ctx.unavailable)
        for name in names:
            self.target.raw_by_kind.setdefault(name, ctx.raw.get(name, []))

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
                tid = caps.locate(kind, self.target, doc, resolve, claimed.setdefault(kind.name, set()))
            raw = self.target.find(kind.name, tid) if tid is not None else None
            if raw is not None:
                claimed.setdefault(kind.name, set()).add(tid)
                self.ids[addr] = tid
                self.matched_raw[addr] = raw
                self.ids.update(caps.sub_ids(kind, doc, raw))
                stale |= self._settle(kind, raw)
        for name in stale & set(self.target.raw_by_kind):  # read already, though the tree has none of them
            self.target.refresh(name)

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
