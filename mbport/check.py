"""Validate a loaded tree offline: known kinds, refs resolve, no forbidden cycles (loading: mbport.tree.load_tree)."""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import refgraph, tree
from .hooks import DiagnoseContext, Phase
from .refs import address_kind
from .registry import Registry
from .tree import load_tree

if TYPE_CHECKING:
    from .kind import Kind
    from .spec import Spec

__all__ = ["check", "check_refs", "dead_links", "load_tree"]


def check_refs(t: tree.Tree, registry: Registry, dangling_refs: bool = True) -> list[str]:
    """Dangling refs (unless `dangling_refs` is False: a selective import's plan names those it would write),
    cycles that Metabase itself does not allow, and what docs say against each other: the dangling refs and cycles
    are those of the reference graph the import writes by (mbport.refgraph)."""
    graph = refgraph.of_tree(t, registry)
    problems = []
    context = DiagnoseContext(t.docs)
    dangling: dict[str, list[refgraph.Dangling]] = {}
    for d in graph.dangling if dangling_refs else ():
        dangling.setdefault(d.source, []).append(d)
    for addr, doc in sorted(t.docs.items()):
        problems += unknown_fields(t.paths[addr], registry[address_kind(addr)], doc)
        problems += mistyped_fields(t.paths[addr], registry[address_kind(addr)], doc)
        problems += [f"{t.paths[addr]}: {problem}"
                     for problem in registry[address_kind(addr)].diagnose(doc, Phase.TREE, context)]
        problems += [d.problem(t.paths) for d in dangling.get(addr, ())]
    problems += [graph.cycle_problem(docs, t.paths) for docs in graph.cycles]
    return problems


def dead_links(t: tree.Tree, registry: Registry) -> list[str]:
    """A warning per deferred ref to an object deleted on the source (`RefGraph.dead_links`): the import writes it
    empty, so it stops nothing."""
    return [d.warning(t.paths, registry[address_kind(d.source)].label(t.docs[d.source], t.docs))
            for d in refgraph.of_tree(t, registry).dead_links]


def unknown_fields(path: str, kind: Kind, doc: dict[str, Any]) -> list[str]:
    """A line per doc field the kind declares nowhere (a typo import would ignore, and plan report for ever)."""
    problems = []
    for name in kind.unknown_fields(doc):
        *parents, leaf = name.split(".")
        spec: Spec | None = kind.spec
        for parent in parents:  # `handlers[].recipients[].vlaue`: the declarations of the innermost items
            spec = spec.by_out[parent.removesuffix("[]")][1].nested if spec is not None else None
        known = spec.known_fields if parents and spec is not None else kind.spec.doc_fields | set(kind.doc_extras)
        close = difflib.get_close_matches(leaf, sorted(known), n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        problems.append(f"{path}: unknown field {name!r}{hint} in {_what(kind, doc)}: no {kind.name} field is called that, "
                        "so import would never write it")
    return problems


def mistyped_fields(path: str, kind: Kind, doc: dict[str, Any]) -> list[str]:
    """A line per declared field holding another JSON type than its declaration gives (Metabase would refuse it
    mid-import, after the writes before it)."""
    if not kind.fields:
        return []
    return [f"{path}: field {name!r} in {_what(kind, doc)} must be {expected}, not {_json_name(value)}"
            for name, expected, value in kind.spec.mistyped(doc, kind.body)]


def _json_name(value: Any) -> str:
    for t, name in ((bool, "true/false"), ((int, float), "a number"), (str, "a string"), (list, "a list"),
                    (dict, "an object")):
        if isinstance(value, t):
            return name
    return "null"


def _what(kind: Kind, doc: dict[str, Any]) -> str:
    label = kind.label(doc)
    return f"{kind.name} {label!r}" if label else kind.name


def check(root: Path, registry: Registry, warnings: list[str] | None = None) -> list[str]:
    """The tree's problems; its dead links (warnings, see `dead_links`) are added to `warnings` when given."""
    t = load_tree(root, registry)
    problems = t.problems + check_refs(t, registry)
    if warnings is not None:
        warnings += dead_links(t, registry)
    return problems
