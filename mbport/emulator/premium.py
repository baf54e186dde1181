"""Premium (Enterprise) features of an emulated instance: which are on, and Metabase's 402 for those that are not."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from . import errors
from .store import State

# The token features the emulator implements (Metabase's own names, as in `token-features`). An instance starts
# with none of them, like an OSS build; `Emulator(premium_features=...)` or `emulator serve --premium-features`
# turns them on, the way a valid premium token does on a real Enterprise build.
FEATURES = ("advanced_permissions", "ai_controls", "cache_granular_controls", "content_verification", "library",
            "official_collections", "sandboxes", "tenants", "transforms", "transforms-basic", "transforms-python",
            "whitelabel")
ALL = "all"
KEY = "premium_features"  # state.extra[KEY]: the enabled features


def parse(spec: str | Iterable[str] | None) -> frozenset[str]:
    """Feature names from an iterable or a comma-separated string; `all` means every feature the emulator has."""
    names = [n.strip() for n in spec.split(",")] if isinstance(spec, str) else list(spec or ())
    names = [n for n in names if n]
    if ALL in names:
        return frozenset(FEATURES)
    unknown = sorted(set(names) - set(FEATURES))
    if unknown:
        raise ValueError(f"unknown premium feature {unknown[0]!r}; known: {', '.join(FEATURES)} (or {ALL})")
    return frozenset(names)


def enabled(state: State, feature: str) -> bool:
    return feature in state.extra.get(KEY, ())


def token_features(state: State) -> dict[str, bool]:
    """The public `token-features` property: every known feature, true when on."""
    return {name: enabled(state, name) for name in FEATURES}


def paid_feature_error(name: str) -> errors.ApiError:
    """Metabase's answer when an endpoint or value needs a feature the token lacks (`ee-feature-error`)."""
    return errors.ApiError(402, {
        "message": f"{name} is a paid feature not currently available to your instance. "
                   "Please upgrade to use it. Learn more at metabase.com/upgrade/",
        "status": "error-premium-feature-not-available",
    })


def require(state: State, feature: str, name: str) -> None:
    """Raise the 402 for `feature` (shown to users as `name`, e.g. "Sandboxes") unless it is on."""
    if not enabled(state, feature):
        raise paid_feature_error(name)


def describe(state: State) -> str:
    """For logs and the serve banner: the enabled features, or that this is an OSS instance."""
    on: Any = sorted(state.extra.get(KEY, ()))
    return "premium features: " + ", ".join(on) if on else "no premium features (OSS)"
