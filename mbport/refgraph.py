"""The reference graph of a tree: the one set of rules `check`, the import (plan and apply) and `mbport graph` share.

Nodes are (address, stage): one per write of a doc (`capabilities.stages`; most kinds write once, dashboards twice: shell,
layout; collections a second time to archive). An edge (a, s) → (b, t) means stage s of a is written before
stage t of b. The edges, each with the rule that made it (edge attribute `why`):

- `stage`: a doc's own stages, in order.
- `ref`: every ref of `StagedWrites.stage_refs(doc, stage)` (default: the doc's refs that are not deferred, before its
  first stage). A ref to a whole doc waits for that doc's first stage (it has an id then); a ref to a sub-object
  (a table's field, a dashboard's tab) waits for its owner's last stage (`Registry.owner`; the owner writes it).
  A ref to oneself is no edge. A stage ref to a doc the tree lacks is no edge: when it is also one of the doc's
  refs it is a dangling ref (below); otherwise it is an ordering hint only (an alert's previous ordinal).
- `import_after`: every doc of the kinds in `ImportsAfter.import_after` (its last stage) before the doc's first stage.
- `write_order`: `OrdersWrites.write_order` pairs (Metabase's archive cascades); a write placed after another doc's
  first stage is also recorded in `cascades`, so a plan writes it again when that doc changes.

Not edges: deferred refs (`DeferredRefs.deferred_refs`: click-behaviour targets, a table's FK targets, a dashboard
question's own dashboard ...) are written in a second pass once every object has an id, which is how the
cycles Metabase allows are broken; they are kept in `uses` only, dashed in the picture. `PartOf.part_of` and
`SubObjects.contains` only say which sub-objects and docs belong together (selection, ref lookup), not an order.

A ref is dangling when its kind is unknown, or it names neither a doc of the tree nor a sub-object a doc of
the tree contains (`SubObjects.contains`); a dangling ref makes no edge. A deferred ref to an object deleted on
the source (`kind/missing-id-N`: a click behaviour or link card to a deleted dashboard, the homepage setting) is a
dead link, not a dangling ref (`RefGraph.dead_links`): it orders nothing and the object holding it is whole
without it, so the import writes it empty (null), as Metabase keeps a link whose target is gone. A cycle is a
strongly connected set of nodes: no write order exists, so `check` reports it and the import refuses it, both
from `RefGraph.cycles`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import networkx as nx

from . import capabilities as caps
from .kind import refs_once
from .refs import address_kind
from .registry import Registry

if TYPE_CHECKING:
    from .tree import Tree

Node = tuple[str, str]  # (address, stage)
DANGLING = ("unknown kind", "not in the tree")  # Dangling.reason
MISSING = "missing-id-"  # the key of a ref to an object the source lacks (export writes `kind/missing-id-N`)
WHY = {"stage": "its next write", "ref": "it refers to the one before", "import_after": "its kind waits for that kind",
       "write_order": "a cascade of Metabase's sets this order"}


@dataclass(frozen=True)
class Dangling:
    """A ref of `source` that names nothing the tree has (`reason`: "unknown kind" or "not in the tree")."""

    source: str
    target: str
    reason: str

    def warning(self, paths: dict[str, str], label: str | None) -> str:
        """The line `check` and `plan` warn with for a dead link (`RefGraph.dead_links`): the object by name, its file,
        what it pointed at, and what the import writes instead."""
        kind = self.source.partition("/")[0]
        what = f"{kind.removesuffix('s')} {label!r}" if label else self.source
        target_kind, _, missing = self.target.partition("/")
        return (f"{what} ({paths.get(self.source, self.source)}) links to {target_kind} id "
                f"{missing.removeprefix(MISSING)}, which was deleted on the source: the link is written empty, as "
                "Metabase shows a link to a deleted object")

    def problem(self, paths: dict[str, str]) -> str:
        """The line `check` and `plan` report: the file of the doc holding the ref, and the ref."""
        where = paths.get(self.source, self.source)
        if self.reason == "unknown kind":
            return f"{where}: ref to unknown kind: {self.target}"
        return f"{where}: ref to {self.target}, which is not in the tree"


@dataclass
class RefGraph:
    """The order graph of a tree's writes, its doc-level uses, dangling refs and cycles (see the module docstring)."""

    order: nx.DiGraph  # (address, stage) nodes; edges: what must be written first → what waits for it
    uses: nx.DiGraph  # doc → doc it refers to (its owner, for a sub-object); attrs refs (count), deferred
    dangling: list[Dangling] = field(default_factory=list)  # by source, then target
    dead_links: list[Dangling] = field(default_factory=list)  # deferred refs to deleted objects, written null
    cascades: dict[str, set[str]] = field(default_factory=dict)  # doc → docs written after a cascade it may set off
    cycles: list[list[str]] = field(default_factory=list)  # the docs of each cycle, sorted; no write order exists
    # Each doc's refs (Kind.refs) as the graph read them, and the doc objects it was built from: plan asks for
    # them again, and a doc replaced since (a selective import narrows some) is asked of its kind instead.
    refs: dict[str, set[str]] = field(default_factory=dict, repr=False)
    built_from: dict[str, dict[str, Any]] = field(default_factory=dict, repr=False)
    _doc_order: list[str] | None = field(default=None, repr=False)

    def refs_of(self, addr: str, doc: dict[str, Any]) -> set[str] | None:
        """`addr`'s refs when `doc` is the doc the graph was built from (None: ask its kind)."""
        return self.refs[addr] if self.built_from.get(addr) is doc else None

    def doc_order(self) -> list[str]:
        """The docs in write order (the first stage of each), ties by address; computed once."""
        if self._doc_order is None:
            self._doc_order = list(dict.fromkeys(a for a, _stage in nx.lexicographical_topological_sort(self.order)))
        return self._doc_order

    def cycle_problem(self, docs: list[str], paths: dict[str, str]) -> str:
        """The line `check` reports for one entry of `cycles`; when not every link is a ref, the circle of writes."""
        line = "cycle between " + ", ".join(f"{a} ({paths.get(a, a)})" for a in docs)
        walk = self.cycle_path(docs)
        links = [(b, self.order.edges[a, b]["why"]) for a, b in zip(walk, walk[1:], strict=False)]
        if {why for _node, why in links} <= {"ref", "stage"}:
            return line
        return line + "; its writes would have to run in a circle: " + f"{walk[0][0]} ({walk[0][1]})" + "".join(
            f", then {a} ({stage}) ({WHY[why]})" for (a, stage), why in links)

    def cycle_path(self, docs: list[str]) -> list[Node]:
        """One closed walk through the cycle among `docs` (an entry of `cycles`), first node repeated at the end."""
        nodes = [n for n in self.order if n[0] in docs]
        sub = self.order.subgraph(nodes)
        for component in nx.strongly_connected_components(sub):
            if len(component) > 1:
                path = [a for a, _b in nx.find_cycle(sub.subgraph(component), source=min(component))]
                return path + [path[0]]
        return []


def of_tree(tree: Tree, registry: Registry) -> RefGraph:
    """The reference graph of a loaded tree, built once: `check` and the import (match, plan, apply) share it while
    the tree's docs are the objects it was built from (a selective import replaces some: it is built again)."""
    known = tree.refgraph
    if known is not None and known[0] is registry and len(known[1].built_from) == len(tree.docs) \
            and all(known[1].built_from.get(a) is d for a, d in tree.docs.items()):
        return known[1]
    graph = build(registry, tree.docs)
    tree.refgraph = (registry, graph)
    return graph


def build(registry: Registry, docs: dict[str, dict[str, Any]]) -> RefGraph:
    """The reference graph of `docs` (address → doc, every kind known to `registry`)."""
    with refs_once():  # each doc's refs once, though its stage refs ask again
        return _build(registry, docs)


def _build(registry: Registry, docs: dict[str, dict[str, Any]]) -> RefGraph:
    kinds = {addr: registry[address_kind(addr)] for addr in docs}
    contained = {sub for addr, doc in docs.items() for sub in caps.contains(kinds[addr], doc)}
    graph = RefGraph(nx.DiGraph(), nx.DiGraph(), built_from=dict(docs))
    missing: dict[str, set[str]] = {}
    deferred: dict[str, set[str]] = {}
    # Edges are gathered first and added at once: many refs of a doc lead to one owner (a table's fields), and
    # networkx's add_edge per ref was a third of the graph's cost at bench-L. The last rule to add an edge names it.
    uses: dict[tuple[str, str], list[Any]] = {}  # (doc, owner) → [refs, deferred]
    owners: dict[str, str] = {}  # ref → the doc holding it, or why it dangles
    graph.uses.add_nodes_from(sorted(docs))
    for addr in sorted(docs):
        kind, doc = kinds[addr], docs[addr]
        deferred[addr] = late = caps.deferred_refs(kind, doc)
        late_owners = {registry.owner(r) for r in late}
        graph.refs[addr] = refs = kind.refs(doc)
        for target in sorted(refs):
            owner = owners.get(target)
            if owner is None:  # asked once per target: thousands of docs refer to the same tables and fields
                if not registry.known_kind(address_kind(target)):
                    owner = "unknown kind"
                elif target not in docs and target not in contained:
                    owner = "not in the tree"
                else:
                    owner = registry.owner(target)
                owners[target] = owner
            if owner in DANGLING:
                dead = owner == "not in the tree" and target in late and target.partition("/")[2].startswith(MISSING)
                (graph.dead_links if dead else graph.dangling).append(Dangling(addr, target, owner))
            else:
                if owner == addr:
                    continue
                edge = uses.get((addr, owner))
                if edge is None:
                    uses[addr, owner] = [1, owner in late_owners]
                else:
                    edge[0] += 1
                continue
            missing.setdefault(addr, set()).add(target)
    graph.uses.add_edges_from((a, b, {"refs": n, "deferred": late}) for (a, b), (n, late) in uses.items())
    order = graph.order
    edges: dict[tuple[Node, Node], str] = {}
    waits_for: dict[str, Node] = {}  # a stage ref → the node its write waits for ("" as stage: not in the tree)
    for addr in docs:
        previous = None
        for stage in caps.stages(kinds[addr]):
            order.add_node((addr, stage))
            if previous:
                edges[(addr, previous), (addr, stage)] = "stage"
            previous = stage
    for addr, doc in docs.items():
        kind = kinds[addr]
        for stage in caps.stages(kind):
            for target in caps.stage_refs(kind, doc, stage, graph.refs[addr], deferred[addr]):
                before = waits_for.get(target)
                if before is None:
                    owner = registry.owner(target)
                    if owner in docs:
                        stages = caps.stages(kinds[owner])
                        before = waits_for[target] = (owner, stages[0] if owner == target else stages[-1])
                    else:
                        before = waits_for[target] = (owner, "")
                if before[0] == addr or not before[1] or target in missing.get(addr, ()):
                    continue
                edges[before, (addr, stage)] = "ref"
    by_kind: dict[str, list[str]] = {}
    for addr in docs:  # grouped once: scanning every doc for every doc is 56 million checks at bench-L
        by_kind.setdefault(address_kind(addr), []).append(addr)
    for addr in docs:
        kind = kinds[addr]
        for other in (o for name in caps.import_after(kind) for o in by_kind.get(name, ())):
            edges[(other, caps.stages(kinds[other])[-1]), (addr, caps.stages(kind)[0])] = "import_after"
    for addr, doc in docs.items():
        for earlier, later in caps.write_order(kinds[addr], doc, docs):
            if earlier in order and later in order and earlier[0] != later[0]:
                edges[earlier, later] = "write_order"
                if later[1] == caps.stages(kinds[later[0]])[0]:  # written after the other's write, not before it
                    graph.cascades.setdefault(earlier[0], set()).add(later[0])
    order.add_edges_from((a, b, {"why": why}) for (a, b), why in edges.items())
    graph.cycles = sorted(sorted({a for a, _ in c}) for c in nx.strongly_connected_components(order) if len(c) > 1)
    return graph
