"""Metabot configuration: the built-in Metabot draws on one collection's verified content only."""

from __future__ import annotations

from typing import Any

import httpx

from mbport.emulator.seeds import ok


def load(api: httpx.Client, ids: dict[str, Any]) -> None:
    """`Metabot` uses `coll:Analytics` and verified content only (`content_verification`); `Embedded Metabot` keeps
    Metabase's defaults."""
    metabot = next(m for m in ok(api.get("/api/metabot/metabot"))["items"] if m["name"] == "Metabot")
    ok(api.put(f"/api/metabot/metabot/{metabot['id']}", json={"use_verified_content": True,
                                                              "collection_id": ids["coll:Analytics"]}))
