"""Load a tree and validate it offline: JSON, known kinds, format version, refs resolve, no forbidden cycles."""

from __future__ import annotations

from pathlib import Path, PurePosixPath

import networkx as nx
import orjson

from . import tree
from .kind import Kind
from .refs import address_kind
from .registry import Registry

IDENTITY_FIELDS = ("entity_id", "name", "email")  # key fields a doc cannot do without (a table's schema can)
MAX_NAME = 254  # Metabase's name columns (collection, report_card, report_dashboard ...) are varchar(254)


def load_tree(root: Path, registry: Registry) -> tree.Tree:
    """Every doc of the tree by address; problems (one line each, naming the file) in `.problems`."""
    root = Path(root)
    result = tree.Tree(root, tree.read_manifest(root))
    for rel, path in tree.iter_doc_files(root):
        top = PurePosixPath(rel).parts[0]
        if path.is_symlink():
            result.problems.append(f"{rel}: is a symbolic link; trees hold plain files only")
            continue
        if not rel.endswith(".json"):
            result.problems.append(f"{rel}: not a .json file")
            continue
        if top not in registry.kinds:
            result.problems.append(f"{rel}: unknown kind {top!r} (known: {', '.join(sorted(registry.kinds))})")
            continue
        try:
            doc = orjson.loads(path.read_bytes())
        except orjson.JSONDecodeError as exc:
            result.problems.append(f"{rel}: not valid JSON ({exc})")
            continue
        if not isinstance(doc, dict):
            result.problems.append(f"{rel}: a doc must be a JSON object")
            continue
        kind = registry[top]
        try:
            addr = kind.doc_address(doc)
        except Exception as exc:  # a doc missing its key fields
            result.problems.append(f"{rel}: cannot tell which {top} object this is ({exc})")
            continue
        plain_key = type(kind).key_parts is Kind.key_parts and type(kind).doc_address is Kind.doc_address
        missing = [f for f in kind.key_fields
                   if plain_key and f in IDENTITY_FIELDS and not isinstance(doc.get(f), str | int)]
        if missing:  # else every such doc would get the same address, and the first would stand for all
            result.problems.append(f"{rel}: cannot tell which {top} object this is (no {', '.join(missing)})")
            continue
        if addr in result.docs:
            result.problems.append(f"{rel}: same address {addr} as {result.paths[addr]}")
            continue
        name = doc.get("name")
        if isinstance(name, str) and len(name) > MAX_NAME:
            result.problems.append(f"{rel}: the name is {len(name)} characters long; Metabase keeps names of at most "
                                   f"{MAX_NAME}")
            continue
        result.docs[addr] = doc
        result.paths[addr] = rel
    return result


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
