"""Export stages (dlt style, each returning a result): extract → index → normalize → select → place → write."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import networkx as nx

from . import __version__, tree
from .errors import UsageError
from .kind import ExportContext, Kind, PathContext
from .refs import address_kind
from .registry import Registry

log = logging.getLogger("mbport.export")

Progress = Callable[[str, int, int], None]


@dataclass
class ExportResult:
    docs: dict[str, dict[str, Any]]
    paths: dict[str, str]
    counts: dict[str, int]
    warnings: list[str]
    source_version: str | None
    selected_extra: list[str] = field(default_factory=list)  # addresses pulled in as dependencies
    requests: int = 0
    index: dict[tuple[str, Any], str] = field(default_factory=dict)  # (kind, source id) → address

    @property
    def exit_code(self) -> int:
        return 3 if self.warnings else 0


def kind_order(registry: Registry, names: list[str]) -> list[str]:
    """Kinds in an order where each comes after the kinds its `list` needs (`after`)."""
    graph = nx.DiGraph()
    graph.add_nodes_from(names)
    for name in names:
        for dep in registry[name].after:
            if dep in names:
                graph.add_edge(dep, name)
    return list(nx.lexicographical_topological_sort(graph))


def extract(api, registry: Registry, names: list[str], ctx: ExportContext, progress: Progress | None = None) -> None:
    """List (and fetch where needed) every object of every kind into ctx.raw."""
    for name in kind_order(registry, names):
        kind = registry[name]
        summaries = kind.list(api, ctx)
        todo = [s for s in summaries if kind.needs_fetch(s)]
        fetched = dict(zip([id(s) for s in todo], api.map(lambda s, k=kind: k.fetch(api, s), todo), strict=True))
        ctx.raw[name] = [fetched.get(id(s), s) for s in summaries]
        if progress:
            progress(name, len(ctx.raw[name]), len(ctx.raw[name]))


def build_index(registry: Registry, ctx: ExportContext) -> None:
    for name, raws in ctx.raw.items():
        kind = registry[name]
        for raw in raws:
            for k, ident, addr in kind.index(raw):
                ctx.index[(k, ident)] = addr


def normalize(registry: Registry, ctx: ExportContext) -> dict[str, dict[str, Any]]:
    docs: dict[str, dict[str, Any]] = {}
    for name in sorted(ctx.raw):
        kind = registry[name]
        for raw in ctx.raw[name]:
            addr = kind.address_of(raw)
            ctx.current = addr
            doc = kind.normalize(raw, ctx)
            if addr in docs:
                ctx.warnings.append(f"{addr}: two objects share this address; keeping the first")
                continue
            docs[addr] = doc
    ctx.current = ""
    return docs


def select(registry: Registry, docs: dict[str, dict[str, Any]], roots: set[str]) -> tuple[set[str], list[str]]:
    """The selected docs plus everything they depend on (transitively); returns (keep, pulled-in extras)."""
    keep: set[str] = set()
    todo = list(roots)
    while todo:
        addr = registry.owner(todo.pop())
        if addr in keep or addr not in docs:
            continue
        keep.add(addr)
        todo.extend(registry[address_kind(addr)].refs(docs[addr]))
    return keep, sorted(keep - roots)


def place(registry: Registry, docs: dict[str, dict[str, Any]]) -> dict[str, str]:
    """Give every doc a readable, stable, collision-free path (relative, posix)."""
    folders: dict[str, tuple[str, ...]] = {}
    paths: dict[str, str] = {}
    pending = {addr: registry[address_kind(addr)] for addr in docs}
    # Folder-providing kinds (collections) go first, parents before children, so others can nest inside.
    providers = [a for a, k in pending.items() if k.provides_folders]
    others = [a for a in pending if a not in set(providers)]
    while providers:
        ready = [a for a in providers if _parent_placed(pending[a], docs[a], folders, docs)]
        if not ready:  # a parent missing from the tree: place the orphans at the top
            ready = providers
        _assign(ready, pending, docs, folders, paths, provide=True)
        providers = [a for a in providers if a not in paths]
    _assign(others, pending, docs, folders, paths, provide=False)
    return paths


def _parent_placed(kind: Kind, doc: dict, folders: dict, docs: dict) -> bool:
    parent = kind.parent_ref(doc)
    return parent is None or parent not in docs or parent in folders


def _assign(addrs, pending, docs, folders, paths, provide: bool) -> None:
    ctx = PathContext(folders)
    groups: dict[tuple[str, tuple[str, ...], str], list[str]] = {}
    for addr in addrs:
        kind = pending[addr]
        hint = kind.path(docs[addr], ctx)
        slug = tree.slugify(hint.stem)
        # Folder parts come from PathContext.folder_of (final already) or are slugged by the kind itself.
        groups.setdefault((kind.name, tuple(hint.folder), slug), []).append(addr)
    for (kind_name, folder, slug), members in groups.items():
        for addr in sorted(members):
            stem = slug if len(members) == 1 else f"{slug}~{tree.short_hash(addr)}"
            paths[addr] = "/".join((kind_name, *folder, stem + ".json"))
            if provide:
                folders[addr] = (*folder, stem)


def run_export(api, registry: Registry, out: Path, *, kinds: list[str] | None = None,
               selection: Callable[[dict[str, dict[str, Any]]], set[str]] | None = None, options: dict[str, Any] | None = None,
               progress: Progress | None = None) -> ExportResult:
    names = kinds or sorted(registry.kinds)
    unknown = [k for k in names if k not in registry]
    if unknown:
        raise UsageError(f"--kinds: unknown kind {unknown[0]!r}", hint=f"known kinds: {', '.join(sorted(registry.kinds))}")
    tree.check_output_dir(out)
    ctx = ExportContext(options=options or {})
    # Every kind is read, even with --kinds: refs from the chosen kinds need the others' ids to resolve.
    extract(api, registry, sorted(registry.kinds), ctx, progress)
    build_index(registry, ctx)
    docs = normalize(registry, ctx)
    docs = {a: d for a, d in docs.items() if address_kind(a) in names or selection is not None}
    extras: list[str] = []
    if selection is not None:
        keep, extras = select(registry, docs, selection(docs))
        docs = {a: d for a, d in docs.items() if a in keep}
    paths = place(registry, docs)
    counts: dict[str, int] = {}
    for addr in docs:
        counts[address_kind(addr)] = counts.get(address_kind(addr), 0) + 1
    version = api.version.tag if hasattr(api, "version") else None
    manifest = {"format": tree.FORMAT_VERSION, "mbport": __version__, "source": {"metabase": version}, "counts": dict(sorted(counts.items()))}
    files = {paths[a]: tree.dumps(d) for a, d in docs.items()}
    files[tree.MANIFEST] = tree.dumps(manifest)
    tree.write_tree(out, files, owned=set(registry.kinds) | {tree.MANIFEST})
    return ExportResult(docs, paths, counts, ctx.warnings, version, extras, getattr(api, "request_count", 0), ctx.index)
