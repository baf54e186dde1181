"""Lines per built-in plugin and members of `Kind`, now against a base commit (issue 19's measure; docs/architecture.md).

    python -m bench.plugin_lines [--base REV]    (default base: 37300c4~1, the commit before the kind spec)

A line is a line of the file (`wc -l`); a member of `Kind` is an attribute or method declared in its class body.
"""

from __future__ import annotations

import argparse
import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PLUGINS = "plugins/mbport_plugins"
BASE = "37300c4~1"


def _git(*args: str) -> str:
    return subprocess.run(["git", "-C", str(ROOT), *args], check=True, capture_output=True, text=True).stdout


def plugin_lines(rev: str | None) -> dict[str, int]:
    """Plugin module → its line count at `rev` (None: the working tree)."""
    if rev is None:
        files = {p.name: p.read_text() for p in sorted((ROOT / PLUGINS).glob("*.py"))}
    else:
        names = [n.rsplit("/", 1)[-1] for n in _git("ls-tree", "--name-only", f"{rev}:{PLUGINS}").split()]
        files = {n: _git("show", f"{rev}:{PLUGINS}/{n}") for n in names if n.endswith(".py")}
    return {n: text.count("\n") for n, text in files.items() if n != "__init__.py"}


def kind_members(rev: str | None) -> list[str]:
    """The names class Kind declares in its body (attributes, methods, properties) at `rev`."""
    text = (ROOT / "mbport/kind.py").read_text() if rev is None else _git("show", f"{rev}:mbport/kind.py")
    cls = next(n for n in ast.parse(text).body if isinstance(n, ast.ClassDef) and n.name == "Kind")
    names = []
    for node in cls.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            names.append(node.name)
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.append(node.target.id)
        elif isinstance(node, ast.Assign):
            names += [t.id for t in node.targets if isinstance(t, ast.Name)]
    return names


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", default=BASE, help=f"the commit to compare with (default {BASE})")
    args = parser.parse_args(argv)
    before, now = plugin_lines(args.base), plugin_lines(None)
    print(f"| plugin | {args.base} | now | change |")
    print("|---|---:|---:|---:|")
    for name in sorted(before):
        b, n = before[name], now.get(name, 0)
        print(f"| {name} | {b} | {n} | {n - b:+d} |")
    b, n = sum(before.values()), sum(now.get(name, 0) for name in before)
    print(f"| **the {len(before)} plugins of {args.base}** | **{b}** | **{n}** | **{(n - b) / b:+.0%}** |")
    added = sorted(set(now) - set(before))
    if added:
        print(f"| plugins added since ({len(added)}: {', '.join(a.removesuffix('.py') for a in added)}) | | "
              f"{sum(now[a] for a in added)} | |")
    print(f"\nKind members: {len(kind_members(args.base))} at {args.base}, {len(kind_members(None))} now", file=sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
