"""`check` and the import agree: for every seed's tree (tests/golden) and every broken tree (fixtures/broken-trees),
the cycles and dangling refs `mbport check` reports are exactly those the import hits, the import taken on its
own (the Importer, without the CLI running check first): the cycle it refuses to order, the dangling refs its
plan reports against an empty target."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from mbport.check import check_refs
from mbport.engine import Importer
from mbport.errors import MbportError
from mbport.state import State
from mbport.tree import Tree, load_tree

from .conftest import client, secrets, target

ROOT = Path(__file__).resolve().parents[2]
TREES = sorted(p for base in (ROOT / "tests" / "golden", ROOT / "fixtures" / "broken-trees")
               for p in base.iterdir() if (p / "mbport.json").is_file())
DANGLING = re.compile(r"^(?P<file>.+?): ref to (?:unknown kind: (?P<unknown>.+)|(?P<target>.+), which is not in the tree)$")
IMPORT_CYCLE = "the tree has a dependency cycle Metabase does not allow: "

Found = tuple[set[frozenset[str]], set[tuple[str, str]]]  # cycles (their docs), dangling refs (file, target)


def dangling(lines: list[str]) -> set[tuple[str, str]]:
    return {(m["file"], m["unknown"] or m["target"]) for line in lines if (m := DANGLING.match(line))}


def check_finds(tree: Tree, registry) -> Found:
    """What `mbport check` reports, read back from its lines."""
    lines = check_refs(tree, registry)
    cycles = {frozenset(a for a in tree.docs if f"{a} ({tree.paths[a]})" in line)
              for line in lines if line.startswith("cycle between ")}
    return cycles, dangling(lines)


def import_finds(tree: Tree, registry, tmp_path: Path) -> tuple[Found, bool]:
    """What the import hits: a cycle refused before any request, else the dangling refs of its plan (planned
    against an empty instance); and whether it got as far as planning."""
    emu, session = target()
    api = client(emu, session)
    try:
        importer = Importer(api, registry, tree, State.load(tmp_path / "state.json", api.url), {"secrets": secrets()})
    except MbportError as exc:
        assert str(exc).startswith(IMPORT_CYCLE), exc
        return ({frozenset(c.split(" ↔ ")) for c in str(exc).removeprefix(IMPORT_CYCLE).split("; ")}, set()), False
    return (set(), dangling(importer.plan().problems)), True


@pytest.mark.parametrize("root", TREES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_check_and_import_report_the_same_cycles_and_dangling_refs(root, registry, tmp_path):
    try:
        tree = load_tree(root, registry)
    except MbportError:
        pytest.skip("not a tree either reads (no manifest, a newer format): both refuse it the same way")
    (check_cycles, check_dangling) = check_finds(tree, registry)
    (import_cycles, import_dangling), planned = import_finds(tree, registry, tmp_path)
    assert import_cycles == check_cycles
    if planned:
        assert import_dangling == check_dangling
    else:  # refused at its graph: no plan says which refs dangle, so the comparison needs trees without both
        assert check_dangling == set(), "a tree with a cycle and a dangling ref: the import only names the cycle"
    if root.parent.name == "golden":
        assert check_cycles == set() and check_dangling == set()  # seeds are valid trees
