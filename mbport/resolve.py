"""What import-side kind methods see: the target's objects (Target), and ref → target id resolution (Resolver)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .errors import MbportError
from .refs import REF, Walker, address_kind, is_ref

if TYPE_CHECKING:
    from .client import MetabaseClient
    from .registry import Registry


class UnresolvedRef(MbportError):
    """A ref whose object has no id on the target (yet)."""


class Resolver:
    """Maps refs to target ids, from the ids matched, located or created so far."""

    def __init__(self, ids: dict[str, int], options: dict[str, Any] | None = None):
        self.ids = ids
        self.options = options or {}  # the import's options (--map-database ...), for natural keys

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
    registry: Registry
    options: dict[str, Any] = field(default_factory=dict)
    raw_by_kind: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    loader: Callable[[str], list[dict[str, Any]]] | None = None

    def raw(self, kind: str) -> list[dict[str, Any]]:
        if kind not in self.raw_by_kind and self.loader is not None:
            self.raw_by_kind[kind] = self.loader(kind)
        return self.raw_by_kind.get(kind, [])

    def refresh(self, kind: str) -> list[dict[str, Any]]:
        """Read a kind again (and the kinds its listing builds on), e.g. after a database was created."""
        # Transitively: actions list only the cards they see, cards only those in the collections they see,
        # so a stale collection list would hide a card created since, and with it its actions.
        todo, seen = [kind], set()
        while todo:
            name = todo.pop()
            if name not in seen:
                seen.add(name)
                self.raw_by_kind.pop(name, None)
                todo.extend(self.registry[name].after)
        return self.raw(kind)

    def find(self, kind: str, target_id: Any) -> dict[str, Any] | None:
        return next((r for r in self.raw(kind) if r.get("id") == target_id), None)


def kind_of(addr: str) -> str:
    return address_kind(addr)
