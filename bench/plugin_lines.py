"""Lines per built-in plugin and members of `Kind`, now against a base commit (issue 19's measure; docs/architecture.md).

    python -m bench.plugin_lines [--base REV] [--doc]    (default base: 37300c4~1, the commit before the kind spec)

`--doc` also writes the table into docs/architecture.md (between its `plugin-lines` markers).

Two measures per plugin: `lines`, every line of the file (`wc -l`); `code`, the lines that hold code, without blank
lines, comment lines, docstrings and import statements (how the imports are wrapped says nothing of the plugin). A
member of `Kind` is an attribute or method declared in its class body.
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
DOC, START, END = "docs/architecture.md", "<!-- plugin-lines -->", "<!-- /plugin-lines -->"


def _git(*args: str) -> str:
    return subprocess.run(["git", "-C", str(ROOT), *args], check=True, capture_output=True, text=True).stdout


def plugin_sources(rev: str | None) -> dict[str, str]:
    """Plugin module → its text at `rev` (None: the working tree)."""
    if rev is None:
        files = {p.name: p.read_text() for p in sorted((ROOT / PLUGINS).glob("*.py"))}
    else:
        names = [n.rsplit("/", 1)[-1] for n in _git("ls-tree", "--name-only", f"{rev}:{PLUGINS}").split()]
        files = {n: _git("show", f"{rev}:{PLUGINS}/{n}") for n in names if n.endswith(".py")}
    return {n: text for n, text in files.items() if n != "__init__.py"}


def code_lines(text: str) -> int:
    """Lines holding code: not blank, not only a comment, not part of a docstring or an import statement."""
    skipped: set[int] = set()
    for node in ast.walk(ast.parse(text)):
        docstring = (isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)
                     and isinstance(node.value.value, str))
        if docstring or isinstance(node, ast.Import | ast.ImportFrom):
            skipped.update(range(node.lineno, (node.end_lineno or node.lineno) + 1))
    return sum(1 for i, line in enumerate(text.splitlines(), 1)
               if i not in skipped and line.strip() and not line.strip().startswith("#"))


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
    parser.add_argument("--doc", action="store_true", help="also write the table into docs/architecture.md")
    args = parser.parse_args(argv)
    table = report(args.base)
    print(table)
    if args.doc:
        doc = ROOT / DOC
        head, rest = doc.read_text().split(START, 1)
        doc.write_text(f"{head}{START}\n{table}\n{END}{rest.split(END, 1)[1]}")
    return 0


def report(base: str) -> str:
    """The table of both measures per plugin, its totals, and Kind's members, as markdown."""
    out = [f"Kind members: {len(kind_members(base))} at {base}, {len(kind_members(None))} now.", ""]
    old, new = plugin_sources(base), plugin_sources(None)
    measures = {"lines": lambda text: text.count("\n"), "code": code_lines}
    before = {name: {m: f(text) for m, f in measures.items()} for name, text in old.items()}
    now = {name: {m: f(text) for m, f in measures.items()} for name, text in new.items()}
    zero = dict.fromkeys(measures, 0)

    def cells(b: dict[str, int], n: dict[str, int], bold: str = "") -> str:
        return " | ".join(f"{bold}{b[m]}{bold} | {bold}{n[m]}{bold} | {bold}{_change(b[m], n[m])}{bold}"
                          for m in measures)

    out.append(f"| plugin | lines {base} | lines now | change | code {base} | code now | change |")
    out.append("|---|---:|---:|---:|---:|---:|---:|")
    for name in sorted(before):
        out.append(f"| {name} | {cells(before[name], now.get(name, zero))} |")
    total_before = {m: sum(v[m] for v in before.values()) for m in measures}
    total_now = {m: sum(now.get(name, zero)[m] for name in before) for m in measures}
    out.append(f"| **the {len(before)} plugins of {base}** | {cells(total_before, total_now, '**')} |")
    added = sorted(set(now) - set(before))
    if added:
        lines, code = (sum(now[a][m] for a in added) for m in measures)
        out.append(f"| plugins added since ({len(added)}: {', '.join(a.removesuffix('.py') for a in added)}) | | "
              f"{lines} | | | {code} | |")
    return "\n".join(out)


def _change(before: int, now: int) -> str:
    return f"{now - before:+d} ({(now - before) / before:+.0%})" if before else f"{now - before:+d}"


if __name__ == "__main__":
    sys.exit(main())
