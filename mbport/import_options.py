"""ImportOptions: the typed options of one import (what `mbport import`'s flags say), read by the engine and kinds."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from .secrets import Secrets


@dataclass(frozen=True)
class ImportOptions:
    """How to import a tree into a target. Every field has the default of the command line without its flag.

    Kinds receive this object in their import hooks (`skipped`, `compare`, `match_memo`, `preflight`) and through
    `Target.options` / `Resolver.options`. The client's concurrency is the client's (`MetabaseClient(concurrency=)`),
    not an import option.
    """

    prune: bool = False
    """--prune: archive the objects an earlier import created that the tree no longer has (not with `select`)."""
    select: tuple[str, ...] = ()
    """--select: import only these objects (KIND:NAME, an entity id, an address or a tree path; a collection takes
    its contents) and what they need that the target lacks or holds differently. Empty: the whole tree."""
    only: bool = False
    """--only: with `select`, not even what the selection needs (a missing one stops at plan)."""
    map_database: Mapping[str, str] = field(default_factory=dict)
    """--map-database: source database name → the target's database (by name) that stands for it. Only the
    settings the tree's content needs are changed on such a database."""
    keep_database_settings: bool = False
    """--keep-database-settings: never change a mapped database's settings; a missing one stops at plan."""
    skip_unsupported: bool = False
    """--skip-unsupported: leave out what the target cannot hold (and what depends on it) instead of stopping."""
    secrets: Secrets = field(default_factory=Secrets)
    """Secret values the tree leaves out (database passwords): `Secrets.from_file(path)` for --secrets FILE, or
    `Secrets({"databases/NAME/password": ...})`; MBPORT_SECRET_* environment variables are looked up after them."""
    with_api_keys: bool = False
    """--with-api-keys: recreate API keys; their new values go to `api_keys_file`."""
    api_keys_file: Path | None = None
    """Where new API key values go (owner-only). None with `open_import`: TREE.new-api-keys.json beside the tree."""
    state: Path | None = None
    """--state: the state file of imports of this tree into this target (what got which id). None with
    `open_import`: TREE.mbport-state/HOST.json beside the tree."""
    continue_on_error: bool = False
    """--continue-on-error: a failing object (and what depends on it) is reported, the rest is written."""
    database_settings: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    """Not set by callers: the settings the tree's content needs per database address, found by plan."""

    @classmethod
    def of(cls, options: ImportOptions | Mapping[str, Any] | None) -> ImportOptions:
        """`options` as ImportOptions: None → the defaults; a mapping of field names (older callers, tests) →
        those fields; an unknown name is an error naming it."""
        if isinstance(options, ImportOptions):
            return options
        given = dict(options or {})
        unknown = sorted(set(given) - {f.name for f in fields(cls)})
        if unknown:
            raise TypeError(f"unknown import option(s): {', '.join(unknown)}")
        if given.get("select") is not None:
            given["select"] = tuple(sorted(given["select"]))
        else:
            given.pop("select", None)
        return cls(**given)
