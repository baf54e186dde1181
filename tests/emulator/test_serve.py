"""`mbport emulator serve` is a real HTTP server: seeded, with a fixed API key, answering like Metabase."""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys
import time

import httpx

from mbport.emulator import Emulator, bootstrap, seeds, server

API_KEY = "mb_SeRvEtEsTkEy0123456789abcdefghijklmnopqrstu"
PASSWORD = "Serve-passw0rd!"
STARTUP_TIMEOUT = 8.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until_up(proc: subprocess.Popen, base_url: str) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"the server exited early with code {proc.returncode}")
        try:
            if httpx.get(f"{base_url}/api/session/properties", timeout=0.5).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"the server did not answer within {STARTUP_TIMEOUT} s")


def test_serve_subprocess_with_seed_and_api_key(tmp_path):
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    log = tmp_path / "serve.log"
    command = [sys.executable, "-c", "from mbport.cli import main; main()", "emulator", "serve",
               "--port", str(port), "--seed", "sample", "--admin-password", PASSWORD, "--api-key", API_KEY]
    with log.open("wb") as out:
        proc = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
    try:
        try:
            wait_until_up(proc, base_url)
        except AssertionError as exc:
            raise AssertionError(f"{exc}\n{log.read_text()}") from None
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
