"""Validate a loaded tree offline: known kinds, refs resolve, no forbidden cycles (loading: mbport.tree.load_tree)."""

from __future__ import annotations

from pathlib import Path

from . import refgraph, tree
from .hooks import DiagnoseContext, Phase
from .refs import address_kind
from .registry import Registry
from .tree import load_tree

__all__ = ["check", "check_refs", "load_tree"]


def check_refs(t: tree.Tree, registry: Registry) -> list[str]:
    """Dangling refs, cycles that Metabase itself does not allow, and what docs say against each other: the
    dangling refs and cycles are those of the reference graph the import writes by (mbport.refgraph)."""
    graph = refgraph.of_tree(t, registry)
    problems = []
    context = DiagnoseContext(t.docs)
    dangling: dict[str, list[refgraph.Dangling]] = {}
    for d in graph.dangling:
        dangling.setdefault(d.source, []).append(d)
    for addr, doc in sorted(t.docs.items()):
        problems += [f"{t.paths[addr]}: {problem}"
                     for problem in registry[address_kind(addr)].diagnose(doc, Phase.TREE, context)]
        problems += [d.problem(t.paths) for d in dangling.get(addr, ())]
    problems += [graph.cycle_problem(docs, t.paths) for docs in graph.cycles]
    return problems


def check(root: Path, registry: Registry) -> list[str]:
    t = load_tree(root, registry)
    return t.problems + check_refs(t, registry)
