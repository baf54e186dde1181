"""`mbport graph` without Graphviz draws a picture one can read: no line runs through a box, and objects that
share a name (a table `orders` in two databases) say where they are."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import pytest

from mbport.check import load_tree
from mbport.export import run_export
from mbport.graph import dependency_graph, to_svg

NS = "{http://www.w3.org/2000/svg}"


@pytest.fixture(scope="module")
def sample_graph(seeded, registry, tmp_path_factory):
    from mbport.client import MetabaseClient

    emu, session = seeded
    tree = tmp_path_factory.mktemp("graph") / "tree"
    with MetabaseClient("http://metabase.test", session_token=session, transport=emu.transport()) as api:
        run_export(api, registry, tree)
    return dependency_graph(registry, load_tree(tree, registry).docs)


def _points(d: str) -> list[tuple[float, float]]:
    """Points along an SVG path of M, L, C and Q commands (curves sampled finely)."""
    tokens = re.findall(r"[MLCQ]|-?\d+(?:\.\d+)?", d)
    out: list[tuple[float, float]] = []
    i, cmd = 0, None
    while i < len(tokens):
        if tokens[i] in "MLCQ":
            cmd, i = tokens[i], i + 1
        n = {"M": 2, "L": 2, "C": 6, "Q": 4}[cmd]
        nums = [float(t) for t in tokens[i:i + n]]
        i += n
        ctrl = [out[-1]] if out else []
        ctrl += [(nums[k], nums[k + 1]) for k in range(0, n, 2)]
        if cmd == "M":
            out.append(ctrl[-1])
            continue
        for step in range(1, 41):
            t = step / 40
            pts = ctrl
            while len(pts) > 1:  # de Casteljau (a straight line is the two-point case)
                pts = [((1 - t) * a[0] + t * b[0], (1 - t) * a[1] + t * b[1]) for a, b in zip(pts, pts[1:], strict=False)]
            out.append(pts[0])
    return out


def test_no_edge_runs_through_a_box(sample_graph):
    root = ET.fromstring(to_svg(sample_graph, engine="python"))
    boxes = {}
    for g in root.iter(NS + "g"):
        if g.get("class") == "node":
            r = g.find(NS + "rect")
            boxes[g.get("data-address")] = tuple(float(r.get(k)) for k in ("x", "y", "width", "height"))
    crossed = []
    for path in root.iter(NS + "path"):
        if path.get("class") != "edge":
            continue
        ends = {path.get("data-from"), path.get("data-to")}
        for x, y in _points(path.get("d")):
            for addr, (bx, by, bw, bh) in boxes.items():
                if addr not in ends and bx + 1 < x < bx + bw - 1 and by + 1 < y < by + bh - 1:
                    crossed.append((path.get("data-from"), path.get("data-to"), addr))
    assert not crossed, f"{len(set(crossed))} edges run through boxes, e.g. {sorted(set(crossed))[:3]}"


def test_tables_are_labelled_with_their_database(sample_graph):
    labels = [data["label"] for _n, data in sample_graph.nodes(data=True)]
    assert len(labels) == len(set(labels)), sorted(label for label in labels if labels.count(label) > 1)
    assert "table: orders (Sample Database.PUBLIC)" in labels and "table: orders (Shop Warehouse)" in labels
