"""What the emulated release has: its minor version, and endpoints that older releases do not have."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .. import errors
from ..store import State

MEASURES_SINCE = 59  # /api/measure and /api/metric
LIBRARY_SINCE = 59  # Data Studio: the Library (/api/ee/library), published tables, table owners and layers
TENANTS_SINCE = 58  # /api/ee/tenant (versions.md: tenants ~0.58-0.59)
DIMENSIONS_SINCE = 60  # measures and metric cards persist curated dimensions (lib_metric/dimension.cljc); the
# columns arrive in 0.60 (resources/migrations/060/20260213_dimension_columns.yaml, changeSets v60.2026-02-13)


def _minor(tag: str) -> int:
    parts = tag.lstrip("v").split(".")
    return int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else 0


def minor_version(state: State) -> int:
    """The x of the emulated v0.x.y (v1.x.y for EE tags)."""
    return _minor(state.profile.tag)


def since(minor: int) -> Callable[[Any], bool]:
    """`route(..., available=since(59))`: a route from 0.59 on; an older release answers 404 before any validation."""
    return lambda profile: _minor(profile.tag) >= minor


def require_version(state: State, minor: int) -> None:
    """Endpoints that an older emulated release does not have answer like an unknown route."""
    if minor_version(state) < minor:
        raise errors.not_found()

