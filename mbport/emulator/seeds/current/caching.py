"""Cache policies: the default policy (OSS) and one policy per kind of item (`cache_granular_controls`)."""

from __future__ import annotations

from typing import Any

import httpx

from mbport.emulator.seeds import ok


def load(api: httpx.Client, ids: dict[str, Any]) -> None:
    """The root policy caches adaptively (ttl); the warehouse database keeps results 6 hours, the `Sales` dashboard
    refreshes on a schedule, `Orders by product` is never cached."""
    policies = [
        ("root", 0, {"type": "ttl", "multiplier": 10, "min_duration_ms": 60000}),
        ("database", ids["db:warehouse"], {"type": "duration", "duration": 6, "unit": "hours"}),
        ("dashboard", ids["dash:Sales"], {"type": "schedule", "schedule": "0 0 6 * * ? *",
                                          "refresh_automatically": True}),
        ("question", ids["card:Orders by product"], {"type": "nocache"}),
    ]
    for model, model_id, strategy in policies:
        ok(api.put("/api/cache", json={"model": model, "model_id": model_id, "strategy": strategy}))
