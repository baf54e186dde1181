"""What the engine hands a kind's hooks, one object per call (Terraform's request types): a write, a diagnosis."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from .import_options import ImportOptions

if TYPE_CHECKING:
    from .client import MetabaseClient
    from .resolve import Resolver, Target


@dataclass(frozen=True)
class WriteRequest:
    """One write of one doc: `Kind.create` (no `target_id` yet) or `Kind.update` (the matched object's id).

    `payload` is what `Kind.payload` built for `stage` (target ids filled in); `doc` is the tree's doc;
    `target` is the target as read for this import (its raw listings, the import options).
    """

    api: MetabaseClient
    doc: dict[str, Any]
    payload: dict[str, Any]
    target: Target
    stage: str
    target_id: Any = None

    def but(self, **changes: Any) -> WriteRequest:
        """The same request with some fields changed (a create that writes through `update` names its id)."""
        return dataclasses.replace(self, **changes)


class Phase(StrEnum):
    """When `Kind.diagnose` is asked, and so what its context holds."""

    TREE = "tree"  # `mbport check` (offline): the tree's docs only
    PREFLIGHT = "preflight"  # import, a doc the target does not have yet (to be created): docs and options
    PLAN = "plan"  # import, after matching: docs, options, the target as read and the ids matched so far


@dataclass(frozen=True)
class DiagnoseContext:
    """What `Kind.diagnose` may read; `target` and `resolve` are None before the plan phase."""

    docs: dict[str, dict[str, Any]]  # the whole tree: address → doc
    options: ImportOptions = field(default_factory=ImportOptions)  # the import's options
    target: Target | None = None
    resolve: Resolver | None = None

    @property
    def features(self) -> dict[str, bool] | None:
        """The target's token features (PLAN); None before it is read or when its client cannot tell (a test double)."""
        try:
            return self.target.api.token_features if self.target is not None else None
        except Exception:
            return None
