"""Import: graph → match (state, then locate) → plan (create / update / archive / no-op) → apply in graph order.

The engine knows no kind by name: kinds say how to find, write and compare their objects (mbport/kind.py).
`Importer` holds one import's state and its graph; matching lives in mbport/match.py, planning in
mbport/plan.py, writing in mbport/apply.py.
"""

from __future__ import annotations

import threading
from typing import Any

import networkx as nx

from .apply import RETRY_WRITE_STATUSES, WRITE_ATTEMPTS, Applier, ApplyResult, Node, ref_address
from .errors import MbportError
from .kind import Kind
from .match import Matcher
from .plan import MATCH_AFTER_SYNC_NOTE, Change, Plan, Planner, Progress
from .refs import address_kind
from .registry import Registry
from .resolve import Target
from .state import State
from .tree import Tree

__all__ = ["MATCH_AFTER_SYNC_NOTE", "RETRY_WRITE_STATUSES", "WRITE_ATTEMPTS", "ApplyResult", "Change", "Importer",
           "Plan", "Progress", "ref_address"]


class Importer(Matcher, Planner, Applier):
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
