"""Plugin discovery through the `mbport.plugins` entry-point group, exactly as third-party plugins load."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from functools import cached_property
from importlib.metadata import entry_points
from typing import Any

from .capabilities import sub_kinds
from .errors import MbportError
from .kind import Kind
from .refs import address, address_kind, split_address

GROUP = "mbport.plugins"
log = logging.getLogger("mbport.registry")


class _Distribution:
    """A distribution's name and version, read from its metadata when first asked: that is an email parse
    (20–30 ms of every start), which only `mbport plugins` and a failing plugin's message need."""

    def __init__(self, dist: Any):
        self._dist = dist

    @cached_property
    def name_version(self) -> tuple[str, str]:
        if self._dist is None:
            return "?", "?"
        meta = self._dist.metadata
        return meta["Name"], meta["Version"]


@dataclass
class PluginInfo:
    name: str
    value: str
    source: _Distribution = field(repr=False, compare=False)

    @property
    def distribution(self) -> str:
        return self.source.name_version[0]

    @property
    def version(self) -> str:
        return self.source.name_version[1]


@dataclass
class Registry:
    kinds: dict[str, Kind] = field(default_factory=dict)
    info: dict[str, PluginInfo] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    _sub_kinds: dict[str, tuple[str, int]] | None = field(default=None, repr=False, compare=False)
    _owners: dict[str, str] = field(default_factory=dict, repr=False, compare=False)  # sub-object address → owner

    def add(self, kind: Kind, info: PluginInfo | None = None) -> None:
        if kind.name in self.kinds:
            other = self.info.get(kind.name)
            raise MbportError(
                f"two plugins are named {kind.name!r}"
                + (f" ({other.distribution} and {info.distribution})" if other and info else ""),
                hint="uninstall one of them",
            )
        self.kinds[kind.name] = kind
        self._sub_kinds = None
        self._owners.clear()
        if info:
            self.info[kind.name] = info

    def __getitem__(self, name: str) -> Kind:
        return self.kinds[name]

    def __contains__(self, name: str) -> bool:
        return name in self.kinds

    @property
    def sub_kinds(self) -> dict[str, tuple[str, int]]:
        """Sub kind → (owner kind, number of key parts of the owner)."""
        if self._sub_kinds is None:  # asked for every address an import resolves
            self._sub_kinds = {sub: (k.name, n) for k in self.kinds.values() for sub, n in sub_kinds(k).items()}
        return self._sub_kinds

    def known_kind(self, kind: str) -> bool:
        return kind in self.kinds or kind in self.sub_kinds

    def owner(self, addr: str) -> str:
        """The address of the doc that holds `addr` (itself for whole docs, the table for a field ...)."""
        known = self._owners.get(addr)
        if known is not None:  # plan asks it for every ref of every doc, several times
            return known
        kind = address_kind(addr)
        if kind in self.sub_kinds:
            owner_kind, n = self.sub_kinds[kind]
            _, parts = split_address(addr)
            self._owners[addr] = address(owner_kind, *parts[:n])
            return self._owners[addr]
        return addr


def load_plugins(names: list[str] | None = None) -> Registry:
    """Every installed plugin; one that fails to load is a warning naming it, a duplicate name an error."""
    registry = Registry()
    dists: dict[int, _Distribution] = {}  # one per distribution, shared by its plugins
    for ep in sorted(entry_points(group=GROUP), key=lambda e: e.name):
        if names is not None and ep.name not in names:
            continue
        source = dists.setdefault(id(ep.dist), _Distribution(ep.dist))
        try:
            cls = ep.load()
            kind = cls()
            if kind.name != ep.name:
                raise ValueError(f"class says its name is {kind.name!r}")
        except Exception as exc:  # a broken third-party plugin must not take mbport down
            msg = f"plugin {ep.name!r} from {source.name_version[0]} failed to load: {exc}"
            registry.warnings.append(msg)
            log.warning(msg)
            continue
        registry.add(kind, PluginInfo(ep.name, ep.value, source))
    return registry
