"""`--select KIND:NAME`: pick objects by kind and name (a collection brings its contents along)."""

from __future__ import annotations

from typing import Any

from .errors import UsageError
from .refs import address_kind
from .registry import Registry


def resolve_selection(registry: Registry, docs: dict[str, dict[str, Any]], selections: tuple[str, ...] | list[str]) -> set[str]:
    """The addresses named by the selections, with everything inside selected collections."""
    roots: set[str] = set()
    aliases = {alias: k.name for k in registry.kinds.values() for alias in k.aliases}
    for sel in selections:
        kind_text, sep, name = sel.partition(":")
        kind = aliases.get(kind_text, kind_text)
        if not sep or not name or kind not in registry:
            raise UsageError(f"--select {sel!r}: expected KIND:NAME, e.g. collection:Sales or dashboard:Ops",
                             hint=f"kinds: {', '.join(sorted(registry.kinds))}")
        found = {a for a, d in docs.items() if address_kind(a) == kind and name in (d.get("name"), d.get("email"), a, a.split("/", 1)[1])}
        if not found:
            raise UsageError(f"--select {sel!r}: no {kind} named {name!r} on this instance")
        roots |= found
    # Contents of selected containers (collections), to a fixpoint: sub-collections bring theirs too.
    changed = True
    while changed:
        changed = False
        for addr, doc in docs.items():
            field = registry[address_kind(addr)].container_field
            value = doc.get(field) if field else None
            if addr not in roots and isinstance(value, dict) and value.get("$ref") in roots:
                if getattr(registry[address_kind(value["$ref"])], "provides_folders", False):
                    roots.add(addr)
                    changed = True
    return roots
