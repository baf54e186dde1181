"""Settings that are content (Metabase's serialization list): a custom homepage, limits, exports, look and feel
(`whitelabel`), Metabot's name and prompts (`ai_controls`)."""

from __future__ import annotations

from typing import Any

import httpx

from mbport.emulator.seeds import ok


def load(api: httpx.Client, ids: dict[str, Any]) -> None:
    """The `Sales` dashboard is the homepage (an id the import remaps); the rest are plain values."""
    ok(api.put("/api/setting", json={
        "custom-homepage": True,
        "custom-homepage-dashboard": ids["dash:Sales"],
        "allowed-iframe-hosts": "youtube.com,\nhandmade.example",
        "csv-field-separator": ";",
        "enable-pivoted-exports": False,
        "breakout-bins-num": 12,
        "aggregated-query-row-limit": 5000,
        "application-colors": {"brand": "#6C3BAA"},
        "loading-message": "running-query",
        "landing-page-illustration": "none",
        "metabot-name": "Ask Handmade",
        "metabot-chat-system-prompt": "Answer in British English.",
        "metabot-limit-unit": "messages",
    }))
