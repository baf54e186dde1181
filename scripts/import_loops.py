"""Import loops and private-name imports between mbport's modules (imports inside functions count too).

    python scripts/import_loops.py [PACKAGE_DIR ...]     # default: mbport plugins/mbport_plugins

Prints each loop (a strongly connected set of modules) and each `from X import _name` of another module's
private name; exits 1 if there is any. A quick look until import-linter's contracts check it in CI.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import networkx as nx


def module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path, name: str, is_package: bool) -> list[tuple[str, list[str]]]:
    """(module imported, names taken from it) for every import statement in the file."""
    found = []
    package = name if is_package else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [(alias.name, []) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            found.append((base, [alias.name for alias in node.names]))
    return found


def main(dirs: list[str]) -> int:
    roots = [Path(d).resolve() for d in dirs]
    modules = {}
    for root in roots:
        for path in sorted(root.rglob("*.py")):
            modules[module_name(path, root)] = path
    graph = nx.DiGraph()
    private = []
    for name, path in modules.items():
        graph.add_node(name)
        for target, names in imports(path, name, path.name == "__init__.py"):
            submodules = [f"{target}.{n}" for n in names if f"{target}.{n}" in modules]
            for candidate in submodules or [target]:
                if candidate in modules and candidate != name:
                    graph.add_edge(name, candidate)
            if target in modules and target != name:
                private += [f"{name}: from {target} import {n}" for n in names
                            if n.startswith("_") and not n.startswith("__")]
    loops = [sorted(c) for c in nx.strongly_connected_components(graph) if len(c) > 1]
    for loop in sorted(loops):
        print(f"loop of {len(loop)}: {' ↔ '.join(loop)}")
    for line in private:
        print(f"private: {line}")
    print(f"{len(loops)} loop(s), {len(private)} private import(s) among {len(modules)} modules")
    return 1 if loops or private else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:] or ["mbport", "plugins/mbport_plugins"]))
