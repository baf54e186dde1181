"""`mbport graph`: a tree's dependency graph (what uses what) as Graphviz dot, SVG or one self-contained HTML page.

Nodes are docs (labelled with kind and name); an edge A → B means A refers to B (a dashboard to its cards, a
card to its model, snippet, database, table ...). Refs to sub-objects (a field, a tab) point at their owner.
The SVG comes from Graphviz's `dot` when it is installed, else from a small layered layout done here.
"""

from __future__ import annotations

import html
import json
import shutil
import subprocess
from collections.abc import Iterable
from typing import Any

import networkx as nx

from .diff import display_name, kind_label
from .export import select
from .kind import Kind
from .refs import address_kind
from .registry import Registry

FORMATS = ("dot", "svg", "html")
DEFAULT_COLOUR = Kind.colour
CHAR_W, NODE_H, GAP_X, GAP_Y, PAD = 7.0, 34.0, 70.0, 14.0, 20.0


def dependency_graph(registry: Registry, docs: dict[str, dict[str, Any]], roots: Iterable[str] | None = None) -> nx.DiGraph:
    """The graph of `docs` (or of `roots` and everything they depend on): node attrs kind, name, label; the
    graph attr `colours` holds each kind's `colour` (one per family, so a picture reads at a glance)."""
    keep = set(docs)
    if roots is not None:
        keep, _extras = select(registry, docs, set(roots))
    graph = nx.DiGraph(colours={k.name: k.colour for k in registry.kinds.values()})
    for addr in sorted(keep):
        kind = address_kind(addr)
        name = display_name(docs[addr], addr)
        graph.add_node(addr, kind=kind, name=name, label=f"{kind_label(registry, kind)}: {name}")
    for addr in sorted(keep):
        kind = registry[address_kind(addr)]
        deferred = {registry.owner(r) for r in kind.deferred_refs(docs[addr])}
        for ref in sorted(kind.refs(docs[addr])):
            target = registry.owner(ref)
            if target == addr or target not in graph:
                continue
            if graph.has_edge(addr, target):
                graph[addr][target]["refs"] += 1
            else:
                graph.add_edge(addr, target, refs=1, deferred=target in deferred)
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

def layout(graph: nx.DiGraph) -> dict[str, tuple[float, float, float]]:
    """(x, y, width) of every node: columns by dependency depth (what is used on the right), rows ordered by
    the mean row of their neighbours (one sweep each way keeps crossings down without a solver)."""
    dag = nx.condensation(graph)  # cycles (allowed ones: click behaviours) collapse to one column
    depth = dict.fromkeys(dag, 0)  # users (sources) end up left, what they use to the right
    for comp in nx.topological_sort(dag):
        for succ in dag.successors(comp):
            depth[succ] = max(depth[succ], depth[comp] + 1)
    column_of = {n: depth[dag.graph["mapping"][n]] for n in graph}
    columns: dict[int, list[str]] = {}
    for node in sorted(graph, key=lambda n: (graph.nodes[n]["kind"], graph.nodes[n]["name"].lower(), n)):
        columns.setdefault(column_of[node], []).append(node)
    order = {n: i for col in columns.values() for i, n in enumerate(col)}
    for neighbours in (graph.predecessors, graph.successors):
        for c in sorted(columns, reverse=neighbours is graph.successors):
            def key(n: str, nb=neighbours) -> tuple[float, int]:
                near = [order[m] for m in nb(n)]
                return (sum(near) / len(near) if near else order[n], order[n])
            columns[c].sort(key=key)
            order.update({n: i for i, n in enumerate(columns[c])})
    widths = {n: max(80.0, CHAR_W * len(graph.nodes[n]["label"]) + 20) for n in graph}
    col_w = {c: max(widths[n] for n in nodes) for c, nodes in columns.items()}
    pos: dict[str, tuple[float, float, float]] = {}
    x = PAD
    for c in sorted(columns):
        for i, node in enumerate(columns[c]):
            pos[node] = (x, PAD + i * (NODE_H + GAP_Y), widths[node])
        x += col_w[c] + GAP_X
    return pos


def _svg_python(graph: nx.DiGraph) -> str:
    pos = layout(graph)
    width = max((x + w for x, _y, w in pos.values()), default=0) + PAD
    height = max((y + NODE_H for _x, y, _w in pos.values()), default=0) + PAD
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0f}" height="{height:.0f}" '
           f'viewBox="0 0 {width:.0f} {height:.0f}" font-family="Helvetica, Arial, sans-serif" font-size="12">',
           "<defs><marker id=\"arrow\" viewBox=\"0 0 10 10\" refX=\"10\" refY=\"5\" markerWidth=\"7\" "
           "markerHeight=\"7\" orient=\"auto-start-reverse\"><path d=\"M 0 0 L 10 5 L 0 10 z\" fill=\"#666\"/>"
           "</marker></defs>"]
    for a, b, data in graph.edges(data=True):
        ax, ay, aw = pos[a]
        bx, by, bw = pos[b]
        x1, y1 = (ax + aw, ay + NODE_H / 2) if bx > ax else (ax, ay + NODE_H / 2)
        x2, y2 = (bx, by + NODE_H / 2) if bx > ax else (bx + bw, by + NODE_H / 2)
        bend = max(30.0, abs(x2 - x1) / 2)
        direction = 1 if x2 >= x1 else -1
        dash = ' stroke-dasharray="5,4"' if data.get("deferred") else ""
        out.append(f'<path class="edge" data-from="{html.escape(a)}" data-to="{html.escape(b)}" '
                   f'd="M {x1:.1f} {y1:.1f} C {x1 + direction * bend:.1f} {y1:.1f} {x2 - direction * bend:.1f} '
                   f'{y2:.1f} {x2:.1f} {y2:.1f}" fill="none" stroke="#666" stroke-width="1.2"{dash} '
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
