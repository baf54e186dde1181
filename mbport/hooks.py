"""What the engine hands a kind's hooks, one object per call (Terraform's request types): a write request."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .client import MetabaseClient
    from .resolve import Target


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
