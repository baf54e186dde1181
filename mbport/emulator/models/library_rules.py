"""What the Library's collections may hold (Enterprise `library` feature, Metabase >= 0.59), for every area that
puts something into a collection; mbport/emulator/models/library.py has the rest of the Library."""

from __future__ import annotations

from typing import Any

from .. import errors, premium
from ..store import State
from .versions import LIBRARY_SINCE, minor_version

# collections/models/collection.clj: library-collection-type, library-data-collection-type, ...-metrics-...
LIBRARY = "library"
LIBRARY_DATA = "library-data"
LIBRARY_METRICS = "library-metrics"
# The Library's Dashboards section (0.65: migrations/065/20261006_library_dashboards.yaml, "New Libraries create it
# with the other sections; existing Libraries get it here"): dashboards, their questions, subscriptions, timelines.
LIBRARY_DASHBOARDS = "library-dashboards"
LIBRARY_DASHBOARDS_SINCE = 65
LIBRARY_TYPES = (LIBRARY, LIBRARY_DATA, LIBRARY_METRICS, LIBRARY_DASHBOARDS)
FEATURE = "library"  # the token feature (library/validation.clj `:feature :library`)

# library/validation.clj `library-collection-content-specs`: parent type → (what it may hold, the 400's message)
# (0.65: enterprise/.../library/validation_test.clj `check-allowed-content-dashboards`: dashboards and their questions,
# no standalone question, model or metric; sub-collections of the same type.)
_CONTENT: dict[Any, tuple[set[str], str]] = {
    LIBRARY: ({LIBRARY_DATA, LIBRARY_METRICS, LIBRARY_DASHBOARDS}, "Cannot add anything to the Library collection"),
    LIBRARY_DATA: ({"table", LIBRARY_DATA}, "Can only add tables to the 'Data' collection"),
    LIBRARY_METRICS: ({"metric", LIBRARY_METRICS}, "Can only add metrics to the 'Metrics' collection"),
    LIBRARY_DASHBOARDS: ({"dashboard", "dashboard-question", LIBRARY_DASHBOARDS},
                         "Can only add dashboards to the 'Dashboards' collection"),
}


def card_content(card_type: str | None, dashboard_id: int | None) -> str:
    """What a card is to `check_allowed_content`: its type, or a dashboard question (a question in a dashboard)."""
    kind = card_type or "question"
    return "dashboard-question" if kind == "question" and dashboard_id is not None else kind


def active(state: State) -> bool:
    """The instance has the Library: a release with it and a token with the feature (EE checks are no-ops else)."""
    return minor_version(state) >= LIBRARY_SINCE and premium.enabled(state, FEATURE)


def check_allowed_content(state: State, content_type: str, collection_id: int | None) -> None:
    """library/validation.clj `check-allowed-content`: what a library collection may hold (a card's type or
    `dashboard-question`, `dashboard`, `table`, a new sub-collection's inherited type); a no-op without the feature."""
    if collection_id is None or not active(state):
        return
    coll: dict[str, Any] = state.table("collection").get(collection_id) or {}
    spec = _CONTENT.get(coll.get("type"))
    if spec is not None and content_type not in spec[0]:
        raise errors.bad_request(spec[1])
    if content_type == "table" and coll.get("type") != LIBRARY_DATA:
        raise errors.bad_request("Tables can only be added to 'Data' collections")


