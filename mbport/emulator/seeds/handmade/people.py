"""Handmade part: people as an admin edits them after inviting them.

Cases: Tom's language set to German on his account page (a `locale`, which POST /api/user does not take: only
PUT /api/user/:id writes it).
"""

from __future__ import annotations

from typing import Any

import httpx

from mbport.emulator.seeds import ok


def load(api: httpx.Client, ids: dict[str, Any]) -> None:
    """Edits made after the invitations of the base part."""
    ok(api.put(f"/api/user/{ids['user:tom']}", json={"locale": "de"}))
