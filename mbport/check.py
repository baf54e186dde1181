"""Validate a loaded tree offline: known kinds, refs resolve, no forbidden cycles (loading: mbport.tree.load_tree)."""

from __future__ import annotations

from pathlib import Path

import networkx as nx

from . import tree
from .refs import address_kind
from .registry import Registry
from .tree import load_tree

__all__ = ["check", "check_refs", "load_tree"]


def check_refs(t: tree.Tree, registry: Registry) -> list[str]:
    """Dangling refs, cycles that Metabase itself does not allow, and what docs say against each other."""
    problems = []
    contained = {sub: addr for addr, doc in t.docs.items() for sub in registry[address_kind(addr)].contains(doc)}
    graph = nx.DiGraph()
    graph.add_nodes_from(t.docs)
    for addr, doc in sorted(t.docs.items()):
        kind = registry[address_kind(addr)]
        problems += [f"{t.paths[addr]}: {problem}" for problem in kind.tree_problems(doc, t.docs)]
        deferred = kind.deferred_refs(doc)
        for target in sorted(kind.refs(doc)):
            if not registry.known_kind(address_kind(target)):
                problems.append(f"{t.paths[addr]}: ref to unknown kind: {target}")
                continue
            owner = registry.owner(target)
            if target not in t.docs and target not in contained:
                problems.append(f"{t.paths[addr]}: ref to {target}, which is not in the tree")
                continue
            if target not in deferred and owner != addr:
                graph.add_edge(addr, owner)
    for group in sorted(sorted(c) for c in nx.strongly_connected_components(graph) if len(c) > 1):
        problems.append("cycle between " + ", ".join(f"{a} ({t.paths[a]})" for a in group))
    return problems


def check(root: Path, registry: Registry) -> list[str]:
    t = load_tree(root, registry)
    return t.problems + check_refs(t, registry)
