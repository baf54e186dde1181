"""`check` finds every broken-tree problem offline and names the file."""

import os

import orjson
import pytest

from mbport import tree
from mbport.check import check
from mbport.registry import Registry
from tests.unit.test_tree import Folders, Notes


@pytest.fixture
def registry():
    reg = Registry()
    reg.add(Folders())
    reg.add(Notes())
    return reg


def write(root, rel, doc):
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(doc if isinstance(doc, bytes) else tree.dumps(doc))


@pytest.fixture
def good(tmp_path):
    root = tmp_path / "t"
    write(root, "mbport.json", {"format": tree.FORMAT_VERSION})
    write(root, "folders/a.json", {"entity_id": "A", "name": "A"})
    write(root, "notes/a/n.json", {"entity_id": "n1", "name": "N", "folder": {"$ref": "folders/A"}})
    return root


def test_good_tree_passes(good, registry):
    assert check(good, registry) == []


@pytest.mark.parametrize("rel, content, expected", [
    ("notes/bad.json", b"{not json", "notes/bad.json: not valid JSON"),
    ("notes/list.json", b"[1]", "notes/list.json: a doc must be a JSON object"),
    ("widgets/w.json", {"entity_id": "w"}, "widgets/w.json: unknown kind 'widgets'"),
    ("notes/dangling.json", {"entity_id": "n2", "name": "x", "folder": {"$ref": "folders/GONE"}},
     "notes/dangling.json: ref to folders/GONE, which is not in the tree"),
    ("notes/dup.json", {"entity_id": "n1", "name": "again"}, "same address notes/n1"),
    ("notes/weird.json", {"entity_id": "n3", "name": "x", "other": {"$ref": "gadgets/1"}}, "ref to unknown kind: gadgets/1"),
])
def test_broken_trees_name_the_file(good, registry, rel, content, expected):
    write(good, rel, content)
    problems = check(good, registry)
    assert any(expected in p for p in problems), problems


def test_cycle_is_reported(good, registry):
    write(good, "folders/b.json", {"entity_id": "B", "name": "B", "parent": {"$ref": "folders/C"}})
    write(good, "folders/c.json", {"entity_id": "C", "name": "C", "parent": {"$ref": "folders/B"}})
    problems = check(good, registry)
    assert any(p.startswith("cycle between folders/B") and "folders/c.json" in p for p in problems), problems


def test_symlink_out_of_the_tree_is_refused(good, registry, tmp_path):
    secret = tmp_path / "outside.json"
    secret.write_bytes(orjson.dumps({"entity_id": "x", "name": "x"}))
    os.symlink(secret, good / "notes" / "link.json")
    problems = check(good, registry)
    assert any("notes/link.json: is a symbolic link" in p for p in problems), problems
