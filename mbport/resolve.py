"""What import-side kind methods see: the target's objects (Target), and ref → target id resolution (Resolver)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from .errors import MbportError
from .import_options import ImportOptions
from .refs import REF, Walker, address_kind, is_ref

if TYPE_CHECKING:
    from .client import MetabaseClient


class KindsByName(Protocol):
    """What Target needs of the registry (mbport.registry.Registry): a kind by name, for its `after`. A protocol, not
    the Registry type: kinds take Target and Resolver in their hooks, so this module stays below kind and registry."""

    def __getitem__(self, name: str) -> Any: ...

    def __contains__(self, name: str) -> bool: ...


class UnresolvedRef(MbportError):
    """A ref whose object has no id on the target (yet)."""


class Resolver:
    """Maps refs to target ids, from the ids matched, located or created so far."""

    def __init__(self, ids: dict[str, int], options: ImportOptions | Mapping[str, Any] | None = None):
        self.ids = ids
        self.options = ImportOptions.of(options)  # the import's options (--map-database ...), for natural keys

    def address(self, value: Any) -> str:
        return value[REF] if is_ref(value) else str(value)

    def __call__(self, value: Any) -> Any:
        """A ref (or address) → the target id; None stays None; anything else is returned unchanged."""
        if value is None or not (is_ref(value) or isinstance(value, str)):
            return value
        addr = self.address(value)
        if addr not in self.ids:
            raise UnresolvedRef(f"{addr} has no id on the target yet")
        return self.ids[addr]

    def optional(self, value: Any) -> Any:
        try:
            return self(value)
        except UnresolvedRef:
            return None

    def has(self, value: Any) -> bool:
        return value is not None and self.address(value) in self.ids

    def walker(self, lenient: bool = False) -> Walker:
        """A Walker that turns refs into target ids (lenient: unresolvable refs become None)."""

        def fn(kind: str, value: Any) -> Any:
            if not is_ref(value):
                return value
            return self.optional(value) if lenient else self(value)

        return Walker(fn)


@dataclass
class Target:
    """The target instance as import sees it: raw objects per kind, read once and refreshed on demand."""

    api: MetabaseClient
    registry: KindsByName
    options: ImportOptions = field(default_factory=ImportOptions)
    raw_by_kind: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    loader: Callable[[str], list[dict[str, Any]]] | None = None
    unavailable: dict[str, str] = field(default_factory=dict)  # kind → why the target cannot hold it

    _lock: threading.RLock = field(default_factory=threading.RLock, repr=False)
    _indexes: dict[tuple[str, str], dict[Any, list[dict[str, Any]]]] = field(default_factory=dict, repr=False)

    def raw(self, kind: str) -> list[dict[str, Any]]:
        """The target's objects of `kind`, read once; concurrent writers asking for one kind share one read."""
        with self._lock:
            rows = self.raw_by_kind.get(kind)
            if rows is None and self.loader is not None:
                rows = self.loader(kind)
                self.raw_by_kind[kind] = rows
            return rows if rows is not None else []

    def refresh(self, kind: str) -> list[dict[str, Any]]:
        """Read a kind again (and the kinds its listing builds on), e.g. after a database was created."""
        # Transitively: actions list only the cards they see, cards only those in the collections they see,
        # so a stale collection list would hide a card created since, and with it its actions.
        with self._lock:
            todo, seen = [kind], set()
            while todo:
                name = todo.pop()
                if name not in seen and name in self.registry:
                    seen.add(name)
                    self.raw_by_kind.pop(name, None)
                    for key in [k for k in self._indexes if k[0] == name]:
                        del self._indexes[key]
                    todo.extend(self.registry[name].after)
            return self.raw(kind)

    def lookup(self, kind: str, name: str, key: Callable[[dict[str, Any]], Any]) -> dict[Any, list[dict[str, Any]]]:
        """Objects of `kind` grouped by `key` (in id order), built once per read of the kind."""
        with self._lock:
            rows = self.raw(kind)
            index = self._indexes.get((kind, name))
            if index is None:
                index = {}
                for row in sorted(rows, key=lambda r: str(r.get("id"))):
                    index.setdefault(key(row), []).append(row)
                self._indexes[(kind, name)] = index
            return index

    def find(self, kind: str, target_id: Any) -> dict[str, Any] | None:
        found = self.lookup(kind, "id", lambda r: r.get("id")).get(target_id)
        return found[0] if found else None


def kind_of(addr: str) -> str:
    return address_kind(addr)
