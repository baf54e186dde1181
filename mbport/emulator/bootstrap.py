"""Bring an emulator to a usable state through its own API: setup, an admin, an API key, a seed."""

from __future__ import annotations

import httpx

from .app import Emulator, hash_api_key


def client(emulator: Emulator, **headers: str) -> httpx.Client:
    return httpx.Client(transport=emulator.transport(), base_url="http://emulator.local" + emulator.base_path, headers=headers)


def setup_admin(emulator: Emulator, email: str, password: str, first_name: str = "Admin", last_name: str = "User",
                site_name: str = "mbport emulator") -> str:
    """Run Metabase's first-user setup and return the admin's session key."""
    with client(emulator) as c:
        token = c.get("/api/session/properties").json()["setup-token"]
        resp = c.post("/api/setup", json={
            "token": token,
            "user": {"email": email, "password": password, "first_name": first_name, "last_name": last_name},
            "prefs": {"site_name": site_name},
        })
        resp.raise_for_status()
        return resp.json()["id"]


def add_api_key(emulator: Emulator, session: str, name: str, group: str = "Administrators", key: str | None = None) -> str:
    """Create an API key through /api/api-key; with `key`, make the emulator accept that exact value instead."""
    with client(emulator, **{"X-Metabase-Session": session}) as c:
        groups = c.get("/api/permissions/group").json()
        group_id = next(g["id"] for g in groups if g["name"] == group)
        created = c.post("/api/api-key", json={"name": name, "group_id": group_id})
        created.raise_for_status()
        data = created.json()
    if key is None:
        return data["unmasked_key"]
    row = emulator.state.table("api_key").existing(data["id"])
    row["key_prefix"], row["key_hash"] = key[:7], hash_api_key(key)
    row["masked_key"] = key[:7] + "*" * (len(key) - 7)
    return key


def random_password() -> str:
    import secrets

    return secrets.token_urlsafe(18)
