"""Metabase version profiles: which version the emulator claims and the behaviours that differ by version."""

from __future__ import annotations

from dataclasses import dataclass, replace


@dataclass(frozen=True)
class Profile:
    """Switches for behaviours that changed between releases (see shared/metabase/versions.md §3)."""

    name: str
    tag: str
    mbql5: bool = True  # dataset_query stored/returned as MBQL 5 (>= 0.57), ?legacy-mbql=true gives MBQL 4
    template_tags_list: bool = False  # native stage template-tags returned as a list (>= 0.63)
    setup_token_after_setup: bool = False  # <= 0.61.3 kept the setup-token after setup
    date: str = "2026-05-20"
    hash: str = "0f1e2d3"

    @property
    def version(self) -> dict[str, str]:
        return {"tag": self.tag, "hash": self.hash, "date": self.date, "branch": "release-x"}


PROFILES: dict[str, Profile] = {
    "0.56": Profile("0.56", "v0.56.13", mbql5=False, setup_token_after_setup=True),
    "0.61": Profile("0.61", "v0.61.4"),
    "0.63": Profile("0.63", "v0.63.2", template_tags_list=True),
    # The newest release line (0.64–0.65, versions.md §3 P65); its own behaviours are switches still to add.
    "0.65": Profile("0.65", "v0.65.1", template_tags_list=True, date="2026-11-10", hash="6a5b4c3"),
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
