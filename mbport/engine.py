"""Import: graph → match (state, then locate) → plan (create / update / archive / no-op) → apply in graph order.

The engine knows no kind by name: kinds say how to find, write and compare their objects (mbport/kind.py).
`Importer` sets up one import's state (mbport/importstate.py) and its graph (mbport/refgraph.py); its steps
live in their own modules: matching in mbport/match.py, planning in mbport/plan.py, writing in mbport/apply.py.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

import networkx as nx

from . import refgraph
from .apply import RETRY_WRITE_STATUSES, WRITE_ATTEMPTS, Applier, ApplyResult, ref_address
from .client import MetabaseClient
from .errors import MbportError
from .import_options import ImportOptions
from .plan import MATCH_AFTER_SYNC_NOTE, Change, Plan, Planner, Progress
from .registry import Registry
from .resolve import Target
from .state import State
from .tree import Tree

__all__ = ["MATCH_AFTER_SYNC_NOTE", "RETRY_WRITE_STATUSES", "WRITE_ATTEMPTS", "ApplyResult", "Change", "Importer",
           "Plan", "Progress", "ref_address"]


class Importer(Planner, Applier):
    """One import of one tree into one target; `plan()` reads only, `apply()` writes."""

    def __init__(self, api: MetabaseClient, registry: Registry, tree: Tree, state: State,
                 options: ImportOptions | Mapping[str, Any] | None = None, ahead: Any = None):
        from .selection import resolve_selection

        self.api = api
        self.registry = registry
        self.tree = tree
        self.state = state
        self.options = ImportOptions.of(options)
        # A selective import: the selected addresses (a collection with its contents); None: the whole tree.
        self.selected = (resolve_selection(registry, tree.docs, self.options.select, tree.paths, "in the tree")
                         if self.options.select else None)
        self.read_progress = None  # export.Progress of reading the target (a display sets it)
        self.ahead = ahead  # match.ReadAhead (mbport.importing.open_import): taken by the first plan's read
        self.lock = threading.Lock()
        self._sync_lock = threading.Lock()
        # What a plan changes of the tree and the options (a selection's narrowed graphs, the database settings the
        # content needs): each plan starts again from these.
        self._docs, self._options = dict(tree.docs), self.options
        self.read: object | None = None
        self.begin_read()
        self.graph = self.build_graph()

    def begin_read(self) -> None:
        """Forget what an earlier plan read of the target and found or made there (each plan reads it again: a plan
        made after an apply sees what that apply wrote); a plan made before stays stale (`Plan.read`, apply refuses)."""
        self.tree.docs.clear()
        self.tree.docs.update(self._docs)
        self.options = self._options
        self.ids: dict[str, Any] = {}
        self.matched_raw: dict[str, dict[str, Any]] = {}
        self.current_docs: dict[str, dict[str, Any]] = {}  # plan: matched target objects, normalized like the tree
        self.target = Target(self.api, self.registry, self.options, loader=self._load_kind)
        self._created: dict[str, int] = {}  # kind → objects created so far (for _locate_after_sync)
        self._synced_reads: dict[str, tuple[int, ...]] = {}
        self.unsupported: dict[str, str] = {}  # plan: docs the target cannot hold → why
        self.partial: dict[str, dict[str, str]] = {}  # plan: docs the target holds only in part → part → why
        self.recheck: set[str] = set()  # matched docs a cascade of this apply may change: found again before writing
        self.read = object()  # this read of the target: the plan made from it carries it

    # ------------------------------------------------------------------ graph
    def build_graph(self) -> nx.DiGraph:
        """The tree's reference graph (mbport.refgraph, the rules `check` uses too); any cycle is an error naming it."""
        self.refgraph = refgraph.of_tree(self.tree, self.registry)  # the one `check` built, if it did
        self.cascades = self.refgraph.cascades  # doc → docs written after a cascade its write may set off
        if self.refgraph.cycles:
            raise MbportError("the tree has a dependency cycle Metabase does not allow: "
                              + "; ".join(" ↔ ".join(c) for c in self.refgraph.cycles))
        return self.refgraph.order
