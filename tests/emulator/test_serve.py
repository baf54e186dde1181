"""`mbport emulator serve` is a real HTTP server: seeded, with a fixed API key, answering like Metabase."""

from __future__ import annotations

import asyncio
import subprocess

import httpx

from mbport.emulator import Emulator, bootstrap, seeds, server
from tests.served import serve

API_KEY = "mb_SeRvEtEsTkEy0123456789abcdefghijklmnopqrstu"
PASSWORD = "Serve-passw0rd!"

def test_serve_subprocess_with_seed_and_api_key(tmp_path):
    log = tmp_path / "serve.log"
    proc, base_url = serve(log, "--seed", "sample", "--admin-password", PASSWORD, "--api-key", API_KEY)
    try:
        with httpx.Client(base_url=base_url, timeout=5) as anon:
            props = anon.get("/api/session/properties").json()
            assert props["has-user-setup"] is True and props["site-name"] == "Acme Analytics"
            refused = anon.get("/api/collection")
            assert refused.status_code == 401 and refused.text == "Unauthenticated"
            login = anon.post("/api/session", json={"username": "admin@example.com", "password": PASSWORD})
            assert login.status_code == 200 and "metabase.SESSION" in login.headers["set-cookie"]
        with httpx.Client(base_url=base_url, timeout=5, headers={"x-api-key": API_KEY}) as keyed:
            collections = keyed.get("/api/collection")
            assert collections.status_code == 200
            names = [c["name"] for c in collections.json()]
            assert names[0] == "Our analytics" and {"Company", "Marketing"} <= set(names)
            assert keyed.get("/api/user/current").json()["email"].endswith("@api-key.invalid")
        assert "listening on http://127.0.0.1:" in log.read_text()
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)


def test_asgi_app_serves_a_seeded_emulator_in_process():
    emu = Emulator()
    session = bootstrap.setup_admin(emu, "admin@example.com", PASSWORD)
    seeds.load(emu, "sample", session)
    admin = {"X-Metabase-Session": session}

    async def exchange() -> None:
        transport = httpx.ASGITransport(app=server.asgi_app(emu))
        async with httpx.AsyncClient(transport=transport, base_url="http://metabase.test") as client:
            assert (await client.get("/api/card")).status_code == 401
            listed = await client.get("/api/card", headers=admin)
            assert listed.status_code == 200 and listed.headers["content-type"].startswith("application/json")
            assert "Revenue by month" in [c["name"] for c in listed.json()]
            missing = await client.get("/api/card/99999", headers=admin)
            assert missing.status_code == 404 and missing.text == "Not found."
            created = await client.post("/api/collection", json={"name": "Over ASGI"}, headers=admin)
            assert created.status_code == 200 and created.json()["name"] == "Over ASGI"

    asyncio.run(exchange())
