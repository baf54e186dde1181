"""Metabase version profiles: which version the emulator claims and the behaviours that differ by version."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

# What a classic (`type: "native"`) query whose dimension tags carry MBQL 5 refs (`["field", {opts}, id]`) gets on
# write (versions.md 0.61, seen by metabase-sync 0.1.2 against real servers): None = converted like any MBQL 4,
# EMPTY = 200 and an empty stored query (0.61), REJECT = 400 (0.62 on).
EMPTY, REJECT = "empty", "reject"


@dataclass(frozen=True)
class Profile:
    """Switches for behaviours that changed between releases (see shared/metabase/versions.md §3).

    Each switch is a behaviour a real server of that line shows; a test of the contract turns one profile on at a
    time (tests/emulator/test_profiles.py)."""

    name: str
    tag: str
    mbql5: bool = True  # dataset_query stored/returned as MBQL 5 (>= 0.57), ?legacy-mbql=true gives MBQL 4
    template_tags_list: bool = False  # native stage template-tags returned as a list (>= 0.63)
    setup_token_after_setup: bool = False  # <= 0.61.3 kept the setup-token after setup
    # Card `legacy_query`: a JSON string of the MBQL 4 query (0.57-0.61), null for cards written through the API
    # (0.62 on; metabase-sync 0.1.1/0.1.3 saw it null after writes and lagging behind them).
    legacy_query_null: bool = False
    # The MBQL 4 view of a native card (`legacy_query`, `?legacy-mbql=true`) keeps its dimension tags' MBQL 5 refs
    # (0.61 on, metabase-sync 0.1.2); and what such a classic query gets when written back (EMPTY / REJECT above).
    legacy_tags_keep_mbql5_refs: bool = False
    classic_tags_with_mbql5_refs: str | None = None
    # PUT /api/dashboard/:id with `parameters` and `dashcards` drops the parameters dashcards show inline
    # (metabase-migration-toolkit #76/#79, seen on 0.58 and 0.63). versions.md §4.1: the first affected release is
    # unknown (the source index holds one version of dashboards/api.clj, with no history); on from 0.57 as §3 says.
    prune_inline_parameters: bool = False
    # ---- the old end (versions.md §3 P50/P54/P56; each switch names the release that changed it) ----
    legacy_metrics: bool = False  # /api/legacy-metric and ["metric", id] on a table (<= 0.50; removed in 0.51)
    notifications: bool = True  # /api/notification, /api/alert read-only (>= 0.54); False: /api/alert CRUD
    dashboard_questions: bool = True  # card dashboard_id / dashboard_tab_id (>= 0.53); False: ignored, absent
    collection_graph_none: bool = False  # GET /api/collection/graph lists every pair, "none" too (< 0.56.13)
    inline_parameters: bool = True  # dashcard inline_parameters (>= 0.56); False: ignored, absent
    mbql4_idents: bool = False  # the server adds aggregation-idents/breakout-idents to MBQL 4 (0.53-0.56 ?)
    # The bundled Sample Database: SQLite with no schema from 0.63 on, H2 (schema PUBLIC) before. The source's
    # sample_data/impl.clj `sample-database-engine` ships :sqlite (:h2 only for its own E2E tests), and
    # `replace-sample-database!` swaps an old H2 sample for it on upgrade; sample_data/downgrade_test.clj migrates a
    # SQLite-sample instance (changeset v63.2026-06-08T00:00:00) `:down 62` and finds the H2 one restored.
    sample_database_engine: str = "sqlite"
    date: str = "2026-05-20"
    hash: str = "0f1e2d3"

    @property
    def enterprise(self) -> bool:
        """Enterprise builds report their version as v1.x.y, OSS builds as v0.x.y (version/version.clj)."""
        return self.tag.startswith("v1.")

    @property
    def version(self) -> dict[str, str]:
        return {"tag": self.tag, "hash": self.hash, "date": self.date, "branch": "release-x"}


_P57: dict[str, Any] = dict(legacy_query_null=False, prune_inline_parameters=True,
                            sample_database_engine="h2")  # the MBQL 5 era's first line
_P61 = dict(_P57, legacy_tags_keep_mbql5_refs=True, classic_tags_with_mbql5_refs=EMPTY)
_P62 = dict(_P61, legacy_query_null=True, classic_tags_with_mbql5_refs=REJECT)
_P63 = dict(_P62, template_tags_list=True, sample_database_engine="sqlite")
# 0.64's changes need no switch here (versions.md §1 0.64, issue 15): the action-prefill GETs it replaced by POST
# .../execute/values are served by no profile (mbport never reads them); PUT /api/notification/:id takes its id from
# the path on every profile (notification/api/notification.clj: `update-notification!` gets the notification read
# by the path id, the body's `id` is never read); transforms need the `transforms-enabled` setting from 0.64 on
# (models/transforms.py gates that on the version, `ENABLED_SETTING_SINCE`).
_P64 = dict(_P63)

# versions.md §4, what the source settles and what stays open: docs/versions.md (file and function for each).
# 2. an archived card or dashboard is presented with the Trash as its collection: yes on the stored source
# (dashboards/api.clj `get-dashboard*` ends in `api/present-in-trash-if-archived-directly`), every profile here does
# so; since when: open.
PROFILES: dict[str, Profile] = {
    # 0.50: MBQL 4, legacy metrics, pulse-shaped alerts, no dashboard questions, "none" in the collection graph.
    "0.50": Profile("0.50", "v0.50.36", mbql5=False, setup_token_after_setup=True, legacy_metrics=True,
                    notifications=False, dashboard_questions=False, collection_graph_none=True,
                    inline_parameters=False, sample_database_engine="h2", date="2025-03-20", hash="5e4d3c2"),
    # 0.53-0.55: dashboard questions and notifications arrive; MBQL 4 with server-added idents.
    "0.54": Profile("0.54", "v0.54.15", mbql5=False, setup_token_after_setup=True, collection_graph_none=True,
                    inline_parameters=False, mbql4_idents=True, sample_database_engine="h2", date="2025-07-02",
                    hash="4d3c2b1"),
    # The last MBQL 4 line: inline parameters without the prune, the collection graph without "none".
    "0.56": Profile("0.56", "v0.56.13", mbql5=False, setup_token_after_setup=True, sample_database_engine="h2"),
    # MBQL 5 first stored; `legacy_query` a JSON string; ?legacy-mbql=true.
    "0.57": Profile("0.57", "v0.57.6", setup_token_after_setup=True, date="2025-10-20", hash="57a1b2c", **_P57),
    # 0.61: dimension tags come back with MBQL 5 refs; written back in a classic query: 200 and an EMPTY query.
    "0.61": Profile("0.61", "v0.61.4", **_P61),
    # 0.62: the same write answers 400; `legacy_query` is null after API writes.
    "0.62": Profile("0.62", "v0.62.3", date="2026-06-18", hash="62c3d4e", **_P62),
    # 0.63: template tags as lists (snippet tags stay a map); the sample database is SQLite.
    "0.63": Profile("0.63", "v0.63.2", **_P63),
    # 0.64: transforms need enabling (see _P64).
    "0.64": Profile("0.64", "v0.64.3", date="2026-09-15", hash="64f5a6b", **_P64),
    # The newest release line (0.65.x): 0.64's behaviours plus explorations (a kind helper's routes).
    "0.65": Profile("0.65", "v0.65.1", date="2026-11-10", hash="6a5b4c3", **_P64),
}
DEFAULT_PROFILE = "0.61"


def get_profile(name: str | None) -> Profile:
    if not name:
        return PROFILES[DEFAULT_PROFILE]
    if name not in PROFILES:
        raise KeyError(f"unknown Metabase profile {name!r}; known: {', '.join(sorted(PROFILES))}")
    return PROFILES[name]


def with_overrides(profile: Profile, **kw) -> Profile:
    return replace(profile, **kw)
