"""The commands that read a tree offline: check, graph, and plugins (the kinds mbport knows)."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from ..errors import WARNINGS, MbportError
from .options import loaded_plugins
from .rendering import out


@click.command()
@click.argument("tree_dir", type=click.Path(path_type=Path))
def check(tree_dir: Path) -> None:
    """Validate a tree offline: JSON, kinds, format version, refs, cycles."""
    from ..check import check as run_check

    report = out()
    warnings: list[str] = []
    problems = run_check(tree_dir, loaded_plugins(), warnings)
    for warning in warnings:
        report.warning(warning)
    for problem in problems:
        report.line(problem)
        report.event("error", message=problem, hint=None, exit_code=None)
    report.result(tree=str(tree_dir), problems=len(problems))
    if problems:
        raise MbportError(f"{tree_dir}: {len(problems)} problem(s) found", hint="fix the files named above, or export again")
    report.line(f"{tree_dir}: OK")


@click.command("plugins")
def plugins_cmd() -> None:
    """List the loaded plugins (kind, distribution, version)."""
    registry = loaded_plugins()
    rows = []
    for name in sorted(registry.kinds):
        info = registry.info.get(name)
        rows.append({"kind": name, "distribution": info.distribution if info else None,
                     "version": info.version if info else None})
        out().line(f"{name}\t{info.distribution if info else '?'}\t{info.version if info else '?'}")
    out().result(plugins=rows)


@click.command()
@click.argument("tree_dir", type=click.Path(path_type=Path))
@click.option("--format", "fmt", type=click.Choice(["dot", "svg", "html"]), default="dot", show_default=True,
              help="dot: Graphviz text; svg: a picture (Graphviz if installed, else laid out by mbport); "
                   "html: one self-contained page to explore it.")
@click.option("--select", "selections", multiple=True, metavar="KIND:NAME",
              help="Only this object and what it depends on (collection:NAME takes its contents); repeatable.")
@click.option("--out", "out_file", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write to this file (default: stdout).")
def graph(tree_dir, fmt, selections, out_file):
    """The dependency graph of a tree: which dashboards use which cards, models, snippets, databases ..."""
    from ..check import load_tree
    from ..graph import dependency_graph, render
    from ..selection import resolve_selection

    report = out()
    registry = loaded_plugins()
    tree = load_tree(tree_dir, registry)
    if not tree.docs:
        raise MbportError(f"{tree_dir}: no objects in this tree", hint=f"export one first: mbport export --out {tree_dir}")
    for problem in tree.problems:
        report.warning(problem)
    roots = resolve_selection(registry, tree.docs, selections) if selections else None
    dependencies = dependency_graph(registry, tree.docs, roots)
    text = render(dependencies, fmt, title=f"mbport: {tree_dir}")
    report.result(tree=str(tree_dir), format=fmt, nodes=dependencies.number_of_nodes(),
                  edges=dependencies.number_of_edges(), out=str(out_file) if out_file else None)
    if out_file is not None:
        out_file.write_text(text, encoding="utf-8")
        report.note(f"Wrote {fmt} of {dependencies.number_of_nodes()} objects and {dependencies.number_of_edges()} "
                    f"dependencies to {out_file}.")
    elif report.json:  # stdout carries events: the graph goes into the summary
        report.result(nodes=[{"address": n, **d} for n, d in dependencies.nodes(data=True)],
                      edges=[{"from": a, "to": b, **d} for a, b, d in dependencies.edges(data=True)])
    else:
        click.echo(text, nl=False)
    if tree.problems:
        sys.exit(WARNINGS)
