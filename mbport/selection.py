"""`--select`: pick objects by kind and name, entity id or tree path (a collection brings its contents, an object
the parts that live and die with it: a dashboard its subscriptions, a group its memberships)."""

from __future__ import annotations

from typing import Any

from .capabilities import ProvidesFolders, part_of
from .diff import display_name, kind_label
from .display import words
from .errors import UsageError
from .refs import REF, address_kind, is_ref
from .registry import Registry


class NotSelected(UsageError):
    """A well-formed selection that names nothing in these docs (an object may be on the other side)."""


def resolve_selection(registry: Registry, docs: dict[str, dict[str, Any]], selections: tuple[str, ...] | list[str],
                      paths: dict[str, str] | None = None, where: str = "on this instance",
                      contents: bool = True) -> set[str]:
    """The addresses named by the selections, with (`contents`) everything inside selected collections and
    their parts.

    A selection is KIND:NAME (NAME: the name or email, the entity id, or the address key), an entity id alone,
    an address, or a tree path (`paths`: address → path relative to the tree, with or without `.json`)."""
    roots: set[str] = set()
    for sel in selections:
        roots |= _one(registry, docs, sel, paths or {}, where)
    return with_contents(registry, docs, roots) if contents else roots


def _one(registry: Registry, docs: dict[str, dict[str, Any]], sel: str, paths: dict[str, str], where: str) -> set[str]:
    by_path = {p.removesuffix(".json"): a for a, p in paths.items()}
    if sel.strip("/").removesuffix(".json") in by_path:
        return {by_path[sel.strip("/").removesuffix(".json")]}
    if sel in docs:  # an address (kind/key), as plan and diff print them
        return {sel}
    # The kind words plan and diff print (`setting`, `table`, `membership`) are accepted besides the aliases.
    aliases = {alias: k.name for k in registry.kinds.values()
               for alias in (*words(k.name).aliases, kind_label(registry, k.name))}
    kind_text, sep, name = sel.partition(":")
    kind = aliases.get(kind_text, kind_text)
    if not sep and sel:  # an entity id alone
        found = {a for a, d in docs.items() if d.get("entity_id") == sel}
        if found:
            return found
    if sep and name and kind not in registry:
        raise UsageError(f"--select {sel!r}: no kind {kind_text!r}",
                         hint=f"kinds: {', '.join(sorted(registry.kinds))} (or one of them in the singular)")
    if not sep or not name:
        raise UsageError(f"--select {sel!r}: expected KIND:NAME, an entity id or a tree path, e.g. "
                         "collection:Sales or dashboard:Ops",
                         hint=f"kinds: {', '.join(sorted(registry.kinds))}")
    found = {a for a, d in docs.items() if address_kind(a) == kind
             and name in (d.get("name"), d.get("email"), d.get("entity_id"), a, a.split("/", 1)[1],
                          _printed_name(registry, a, d, docs))}
    if not found:
        raise NotSelected(f"--select {sel!r}: no {kind} named {name!r} {where}")
    return found


def _printed_name(registry: Registry, addr: str, doc: dict[str, Any], docs: dict[str, dict[str, Any]]) -> str:
    """The name a plan line gives the object (an alert by its card, a sandbox by group and table)."""
    return registry[address_kind(addr)].label(doc, docs) or display_name(doc, addr)


def with_contents(registry: Registry, docs: dict[str, dict[str, Any]], roots: set[str]) -> set[str]:
    """`roots` plus, to a fixpoint, what sits in a selected container (collections: sub-collections bring theirs
    too) and the docs that are parts of a selected object (`PartOf`)."""
    roots = set(roots)
    changed = True
    while changed:
        changed = False
        for addr, doc in docs.items():
            if addr in roots:
                continue
            kind = registry[address_kind(addr)]
            field = kind.spec.container
            value = doc.get(field) if field else None
            inside = is_ref(value) and value[REF] in roots and isinstance(registry[address_kind(value[REF])], ProvidesFolders)
            part = any(is_ref(v := _at(doc, f)) and v[REF] in roots for f in part_of(kind))
            if inside or part:
                roots.add(addr)
                changed = True
    return roots


def _at(doc: dict[str, Any], path: str) -> Any:
    """The value at a dotted path (`payload.card`), None when any step is missing."""
    value: Any = doc
    for step in path.split("."):
        value = value.get(step) if isinstance(value, dict) else None
    return value
