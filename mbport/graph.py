"""`mbport graph`: a tree's dependency graph (what uses what) as Graphviz dot, SVG or one self-contained HTML page.

Nodes are docs (labelled with kind and name); an edge A → B means A refers to B (a dashboard to its cards, a
card to its model, snippet, database, table ...): the doc-level `uses` of the reference graph the import and
`check` work from (mbport.refgraph); deferred refs are dashed. Refs to sub-objects (a field, a tab) point at their
owner.
The SVG comes from Graphviz's `dot` when it is installed, else from a small layered layout done here.
"""

from __future__ import annotations

import html
import json
import shutil
import subprocess
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import networkx as nx

from . import refgraph
from .capabilities import LabelContext
from .diff import display_name, kind_label
from .display import DEFAULT_COLOUR, words
from .export import select
from .refs import address_kind
from .registry import Registry

FORMATS = ("dot", "svg", "html")
CHAR_W, NODE_H, GAP_X, GAP_Y, PAD = 7.0, 34.0, 90.0, 14.0, 20.0
DUMMY_H = 8.0  # the height of a slot an edge passes a column through
SWEEPS = 4  # barycentre sweeps (each one left-to-right and back)


def dependency_graph(registry: Registry, docs: dict[str, dict[str, Any]], roots: Iterable[str] | None = None) -> nx.DiGraph:
    """The graph of `docs` (or of `roots` and everything they depend on): node attrs kind, name, label; the
    graph attr `colours` holds each kind's `colour` (one per family, so a picture reads at a glance)."""
    keep = set(docs)
    if roots is not None:
        keep, _extras = select(registry, docs, set(roots))
    graph = nx.DiGraph(colours={k.name: words(k.name).colour for k in registry.kinds.values()})
    for addr in sorted(keep):
        kind = address_kind(addr)
        name = display_name(docs[addr], addr)
        plugin = registry.kinds.get(kind)
        where = plugin.label_context(docs[addr]) if isinstance(plugin, LabelContext) else None
        graph.add_node(addr, kind=kind, name=name,
                       label=f"{kind_label(registry, kind)}: {name}" + (f" ({where})" if where else ""))
    for a, b, data in refgraph.build(registry, docs).uses.edges(data=True):  # the refs the import writes by
        if a in graph and b in graph:
            graph.add_edge(a, b, **data)
    return graph


def colour(graph: nx.DiGraph, kind: str) -> str:
    """The fill colour of a kind's nodes (its plugin's `colour`; grey for a kind the graph does not know)."""
    return graph.graph.get("colours", {}).get(kind, DEFAULT_COLOUR)


# ---------------------------------------------------------------------------------------------------- dot

def _dot_id(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def to_dot(graph: nx.DiGraph) -> str:
    """Graphviz text; dependencies on the right of what uses them (rankdir=LR, edges point at what is used)."""
    lines = ["digraph mbport {", "  rankdir=LR;", '  node [shape=box, style="rounded,filled", fontname="Helvetica"];',
             '  edge [color="#666666"];']
    for addr, data in graph.nodes(data=True):
        lines.append(f"  {_dot_id(addr)} [label={_dot_id(data['label'])}, "
                     f"fillcolor={_dot_id(colour(graph, data['kind']))}, tooltip={_dot_id(addr)}];")
    for a, b, data in graph.edges(data=True):
        style = ", style=dashed" if data.get("deferred") else ""
        lines.append(f"  {_dot_id(a)} -> {_dot_id(b)}{' [' + style.lstrip(', ') + ']' if style else ''};")
    lines.append("}")
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------------------------------- layout

@dataclass
class Layout:
    """Boxes (x, y, width; height NODE_H) and, per edge, the points its line passes through."""

    nodes: dict[str, tuple[float, float, float]]
    edges: dict[tuple[str, str], list[tuple[float, float]]]
    width: float
    height: float


def layered(graph: nx.DiGraph) -> Layout:
    """A layered (Sugiyama-style) drawing: columns by dependency depth (what is used on the right); an edge that
    spans several columns gets a slot of its own in each column it crosses, so no line runs through a box;
    rows ordered by the mean position of their neighbours, sweeping both ways a few times."""
    dag = nx.condensation(graph)  # cycles (allowed ones: click behaviours) collapse to one column
    depth = dict.fromkeys(dag, 0)  # users (sources) end up left, what they use to the right
    for comp in nx.topological_sort(dag):
        for succ in dag.successors(comp):
            depth[succ] = max(depth[succ], depth[comp] + 1)
    column_of: dict[Any, int] = {n: depth[dag.graph["mapping"][n]] for n in graph}
    columns: dict[int, list[Any]] = {c: [] for c in range(max(column_of.values(), default=-1) + 1)}
    for node in sorted(graph, key=lambda n: (graph.nodes[n]["kind"], graph.nodes[n]["name"].lower(), n)):
        columns[column_of[node]].append(node)
    # Long edges become chains through placeholder slots ("dummies"), one per column crossed.
    chains: dict[tuple[str, str], list[Any]] = {}
    links: list[tuple[Any, Any]] = []  # between neighbouring columns only
    for a, b in graph.edges:
        if column_of[a] == column_of[b]:
            continue  # within a cycle: drawn as an arc beside the column
        chain = [a] + [("dummy", a, b, c) for c in range(column_of[a] + 1, column_of[b])] + [b]
        for dummy in chain[1:-1]:
            column_of[dummy] = dummy[3]
            columns[dummy[3]].append(dummy)
        links += zip(chain, chain[1:], strict=False)
        chains[(a, b)] = chain
    left: dict[Any, list[Any]] = {}
    right: dict[Any, list[Any]] = {}
    for u, v in links:
        right.setdefault(u, []).append(v)
        left.setdefault(v, []).append(u)
    order = {n: i for col in columns.values() for i, n in enumerate(col)}
    for _sweep in range(SWEEPS):
        for neighbours, cols in ((left, sorted(columns)), (right, sorted(columns, reverse=True))):
            for c in cols:
                def key(n: Any, nb: dict[Any, list[Any]] = neighbours) -> tuple[float, int]:
                    near = [order[m] for m in nb.get(n, ())]
                    return (sum(near) / len(near) if near else order[n], order[n])
                columns[c].sort(key=key)
                order.update({n: i for i, n in enumerate(columns[c])})
    widths = {n: max(80.0, CHAR_W * len(graph.nodes[n]["label"]) + 20) for n in graph}
    col_w = {c: max((widths[n] for n in nodes if n in widths), default=0.0) for c, nodes in columns.items()}
    col_h = {c: sum(NODE_H + GAP_Y if n in widths else DUMMY_H for n in nodes) for c, nodes in columns.items()}
    tallest = max(col_h.values(), default=0.0)
    col_x: dict[int, float] = {}
    centre: dict[Any, float] = {}  # the y of each box's middle and of each slot's line
    nodes: dict[str, tuple[float, float, float]] = {}
    x = PAD
    for c in sorted(columns):
        col_x[c] = x
        y = PAD + (tallest - col_h[c]) / 2  # columns centred on each other: shorter lines
        for n in columns[c]:
            if n in widths:
                nodes[n] = (x, y, widths[n])
                centre[n] = y + NODE_H / 2
                y += NODE_H + GAP_Y
            else:
                centre[n] = y + DUMMY_H / 2
                y += DUMMY_H
        x += col_w[c] + GAP_X
    edges: dict[tuple[str, str], list[tuple[float, float]]] = {}
    for (a, b), chain in chains.items():
        # Out of a box's right side, straight through each crossed column in its own slot, into b's left side.
        points = [(nodes[a][0] + nodes[a][2], centre[a]), (col_x[column_of[a]] + col_w[column_of[a]], centre[a])]
        for dummy in chain[1:-1]:
            c = column_of[dummy]
            points += [(col_x[c], centre[dummy]), (col_x[c] + col_w[c], centre[dummy])]
        points.append((nodes[b][0], centre[b]))
        edges[(a, b)] = points
    for a, b in graph.edges:
        if (a, b) not in chains:  # an arc out of the left side and back (a cycle inside one column)
            ax, _ay, _aw = nodes[a]
            edges[(a, b)] = [(ax, centre[a]), (ax - GAP_X / 2, (centre[a] + centre[b]) / 2), (ax, centre[b])]
    width = max((x + w for x, _y, w in nodes.values()), default=0) + PAD
    height = PAD + tallest + PAD
    return Layout(nodes, edges, width, height)


def layout(graph: nx.DiGraph) -> dict[str, tuple[float, float, float]]:
    """(x, y, width) of every node of the layered drawing."""
    return layered(graph).nodes


def _path(points: list[tuple[float, float]]) -> str:
    """SVG path data: straight runs inside columns, S-curves across the gaps between them."""
    (x0, y0), rest = points[0], points[1:]
    d = [f"M {x0:.1f} {y0:.1f}"]
    if len(points) == 3 and points[1][0] < x0:  # the arc of a cycle
        (mx, my), (x2, y2) = points[1], points[2]
        return f"M {x0:.1f} {y0:.1f} Q {mx:.1f} {my:.1f} {x2:.1f} {y2:.1f}"
    prev = points[0]
    for x, y in rest:
        if abs(y - prev[1]) < 0.01 or x - prev[0] < 0.01:
            d.append(f"L {x:.1f} {y:.1f}")
        else:
            bend = (x - prev[0]) / 2
            d.append(f"C {prev[0] + bend:.1f} {prev[1]:.1f} {x - bend:.1f} {y:.1f} {x:.1f} {y:.1f}")
        prev = (x, y)
    return " ".join(d)


def _svg_python(graph: nx.DiGraph) -> str:
    drawn = layered(graph)
    pos, width, height = drawn.nodes, drawn.width, drawn.height
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0f}" height="{height:.0f}" '
           f'viewBox="0 0 {width:.0f} {height:.0f}" font-family="Helvetica, Arial, sans-serif" font-size="12">',
           "<defs><marker id=\"arrow\" viewBox=\"0 0 10 10\" refX=\"10\" refY=\"5\" markerWidth=\"7\" "
           "markerHeight=\"7\" orient=\"auto-start-reverse\"><path d=\"M 0 0 L 10 5 L 0 10 z\" fill=\"#666\"/>"
           "</marker></defs>"]
    for a, b, data in graph.edges(data=True):
        dash = ' stroke-dasharray="5,4"' if data.get("deferred") else ""
        out.append(f'<path class="edge" data-from="{html.escape(a)}" data-to="{html.escape(b)}" '
                   f'd="{_path(drawn.edges[(a, b)])}" fill="none" stroke="#666" stroke-width="1.2"{dash} '
                   f'marker-end="url(#arrow)"><title>{html.escape(a)} → {html.escape(b)}</title></path>')
    for node, (x, y, w) in pos.items():
        data = graph.nodes[node]
        out.append(f'<g class="node" data-address="{html.escape(node)}" data-kind="{html.escape(data["kind"])}">'
                   f"<title>{html.escape(node)}</title>"
                   f'<rect x="{x:.1f}" y="{y:.1f}" width="{w:.1f}" height="{NODE_H:.0f}" rx="6" '
                   f'fill="{colour(graph, data["kind"])}" stroke="#444"/>'
                   f'<text x="{x + 10:.1f}" y="{y + NODE_H / 2 + 4:.1f}">{html.escape(data["label"])}</text></g>')
    out.append("</svg>")
    return "\n".join(out) + "\n"


def to_svg(graph: nx.DiGraph, engine: str = "auto") -> str:
    """SVG from Graphviz `dot` when installed (engine auto|dot), else (or with engine=python) laid out here."""
    dot = shutil.which("dot") if engine in ("auto", "dot") else None
    if dot:
        done = subprocess.run([dot, "-Tsvg"], input=to_dot(graph), capture_output=True, text=True, check=False)
        if done.returncode == 0 and "<svg" in done.stdout:
            return done.stdout
    return _svg_python(graph)


# ---------------------------------------------------------------------------------------------------- html

_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<style>
body {{ font-family: Helvetica, Arial, sans-serif; margin: 0; }}
header {{ padding: 10px 16px; border-bottom: 1px solid #ddd; position: sticky; top: 0; background: #fff; }}
header input {{ width: 320px; padding: 4px; }}
#canvas {{ overflow: auto; }}
.node {{ cursor: pointer; }}
.dim {{ opacity: 0.15; }}
.hit rect {{ stroke-width: 3px; stroke: #d62828; }}
.legend span {{ display: inline-block; padding: 1px 6px; margin-right: 4px; border-radius: 4px; font-size: 12px; }}
</style></head>
<body>
<header><strong>{title}</strong> — {nodes} objects, {edges} dependencies.
Arrows point at what an object uses. Click an object to show what it uses and what uses it; click again to clear.
<input id="q" type="search" placeholder="find: name or address">
<div class="legend">{legend}</div></header>
<div id="canvas">{svg}</div>
<script>
const graph = {data};
const nodes = [...document.querySelectorAll('.node')], edges = [...document.querySelectorAll('.edge')];
function related(start) {{
  const keep = new Set([start]);
  for (const dir of ['uses', 'usedBy']) {{
    const todo = [start];
    while (todo.length) {{ for (const n of graph[dir][todo.pop()] || []) if (!keep.has(n)) {{ keep.add(n); todo.push(n); }} }}
  }}
  return keep;
}}
function show(keep) {{
  nodes.forEach(n => n.classList.toggle('dim', keep !== null && !keep.has(n.dataset.address)));
  edges.forEach(e => e.classList.toggle('dim', keep !== null && !(keep.has(e.dataset.from) && keep.has(e.dataset.to))));
}}
let selected = null;
nodes.forEach(n => n.addEventListener('click', () => {{
  selected = selected === n.dataset.address ? null : n.dataset.address;
  show(selected === null ? null : related(selected));
}}));
document.getElementById('q').addEventListener('input', ev => {{
  const q = ev.target.value.toLowerCase();
  nodes.forEach(n => n.classList.toggle('hit', q !== '' && n.textContent.toLowerCase().includes(q)));
}});
</script>
</body></html>
"""


def to_html(graph: nx.DiGraph, title: str = "mbport dependency graph") -> str:
    """One page, nothing fetched from the network: the SVG inline, a few lines of inline JS to explore it."""
    uses = {n: sorted(graph.successors(n)) for n in graph}
    used_by = {n: sorted(graph.predecessors(n)) for n in graph}
    data = json.dumps({"uses": uses, "usedBy": used_by}, ensure_ascii=False).replace("</", "<\\/")
    kinds = sorted({d["kind"] for _n, d in graph.nodes(data=True)})
    legend = "".join(f'<span style="background:{colour(graph, k)}">{html.escape(k)}</span>' for k in kinds)
    svg = _svg_python(graph)  # always the built-in layout: it carries the data-* attributes the script uses
    return _PAGE.format(title=html.escape(title), nodes=graph.number_of_nodes(), edges=graph.number_of_edges(),
                        legend=legend, svg=svg, data=data)


def render(graph: nx.DiGraph, fmt: str, title: str = "mbport dependency graph") -> str:
    if fmt == "dot":
        return to_dot(graph)
    if fmt == "svg":
        return to_svg(graph)
    if fmt == "html":
        return to_html(graph, title)
    raise ValueError(f"unknown graph format {fmt!r}; choose one of {', '.join(FORMATS)}")
