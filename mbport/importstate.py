"""What the steps of one import share: the tree, the target, the ids found or made, the reference graph.

`mbport.engine.Importer` sets it up; its steps are classes over it, one module each: reading the target and
matching (mbport.match), planning (mbport.plan), writing (mbport.apply).
"""

from __future__ import annotations

import threading
from typing import Any

import networkx as nx

from . import capabilities as caps
from .import_options import ImportOptions
from .kind import Kind
from .refgraph import RefGraph
from .refs import address_kind
from .registry import Registry
from .resolve import Target
from .state import State
from .tree import Tree


class ImportState:
    """One import's state (set by `Importer.__init__`) and the helpers every step uses."""

    api: Any  # the target's client (mbport.client.MetabaseClient, or a test double)
    registry: Registry
    tree: Tree
    state: State
    options: ImportOptions
    selected: set[str] | None  # a selective import: the selected addresses; None: the whole tree
    ids: dict[str, Any]  # tree address → target id, found by matching or made by a create
    matched_raw: dict[str, dict[str, Any]]
    current_docs: dict[str, dict[str, Any]]  # plan: matched target objects, normalized like the tree
    target: Target
    read_progress: Any  # export.Progress of reading the target (a display sets it)
    ahead: Any  # match.ReadAhead: the target's objects, being read while the tree was loaded (taken once)
    lock: threading.Lock
    pairings: list[str]  # match: docs paired by order with target objects sharing their natural key
    read: object | None  # this import's current read of the target (a plan carries the one it was made from)
    unsupported: dict[str, str]  # plan: docs the target cannot hold → why
    partial: dict[str, dict[str, str]]  # plan: docs the target holds only in part → part → why
    recheck: set[str]  # matched docs a cascade of this apply may change: found again before writing
    refgraph: RefGraph
    graph: nx.DiGraph  # refgraph.order: (address, stage) nodes
    cascades: dict[str, set[str]]  # doc → docs written after a cascade its write may set off
    _created: dict[str, int]  # kind → objects created so far (for _locate_after_sync)
    _synced_reads: dict[str, tuple[int, ...]]
    _sync_lock: threading.Lock

    def begin_read(self) -> None:
        """Start from nothing read of the target (mbport.engine.Importer)."""
        raise NotImplementedError

    def kind(self, addr: str) -> Kind:
        return self.registry[address_kind(addr)]

    def doc_order(self) -> list[str]:
        return self.refgraph.doc_order()

    def doc_refs(self, addr: str, doc: dict[str, Any]) -> set[str]:
        """`Kind.refs` of a tree doc, as the graph read them unless the doc was replaced since."""
        known = self.refgraph.refs_of(addr, doc)
        return known if known is not None else self.kind(addr).refs(doc)

    def _skipped(self, addr: str) -> bool:
        return bool(caps.skipped(self.kind(addr), self.options)) or addr in self.unsupported
