"""Notification channels (webhooks ...) by name: what subscriptions and alerts name instead of channel ids."""

from __future__ import annotations

import re
from typing import Any

from ..client import ApiError

DEACTIVATED = re.compile(r"^DEACTIVATED_\d+ ")


def channel_ids_by_name(api: Any) -> dict[str, int]:
    """Active notification channels (webhooks ...) of the target, name → id."""
    return {c["name"]: c["id"] for c in api.get("/api/channel") if isinstance(c, dict) and "id" in c}


def channel_names(api: Any, ids: set[int]) -> dict[int, str]:
    """Notification channels (webhooks ...) by id → name. The list holds active channels only (its
    `include_inactive` is read from a GET *body*), so inactive ones are read one by one."""
    try:
        names = {c["id"]: c["name"] for c in api.get("/api/channel") if isinstance(c, dict) and "id" in c}
    except ApiError as exc:
        if exc.status != 404:  # before 0.51 there are no channels to name
            raise
        return {}
    for missing in sorted(ids - set(names)):
        try:
            # Deactivation renames a channel `DEACTIVATED_<id> <name>`: the id is this instance's own.
            names[missing] = DEACTIVATED.sub("", api.get(f"/api/channel/{missing}")["name"])
        except ApiError as exc:
            if exc.status not in (403, 404):
                raise
    return names
