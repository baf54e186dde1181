"""`mbport emulator serve` is a real HTTP server: seeded, with a fixed API key, answering like Metabase."""

from __future__ import annotations

import asyncio
import json
import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from mbport.emulator import Emulator, bootstrap, seeds, server
from tests.served import free_port, mbport_command, serve, stop, wait_until_up

API_KEY = "mb_SeRvEtEsTkEy0123456789abcdefghijklmnopqrstu"
PASSWORD = "Serve-passw0rd!"

def test_serve_subprocess_with_seed_and_api_key(tmp_path):
    log = tmp_path / "serve.log"
    proc, base_url = serve(log, "--seed", "sample", "--admin-password", PASSWORD, "--api-key", API_KEY)
    try:
        with httpx.Client(base_url=base_url, timeout=5) as anon:
            props = anon.get("/api/session/properties").json()
            assert props["has-user-setup"] is True and "site-name" not in props  # an admin's setting
            refused = anon.get("/api/collection")
            assert refused.status_code == 401 and refused.text == "Unauthenticated"
            login = anon.post("/api/session", json={"username": "admin@example.com", "password": PASSWORD})
            assert login.status_code == 200 and "metabase.SESSION" in login.headers["set-cookie"]
        with httpx.Client(base_url=base_url, timeout=5, headers={"x-api-key": API_KEY}) as keyed:
            assert keyed.get("/api/session/properties").json()["site-name"] == "Acme Analytics"
            collections = keyed.get("/api/collection")
            assert collections.status_code == 200
            names = [c["name"] for c in collections.json()]
            assert names[0] == "Our analytics" and {"Company", "Marketing"} <= set(names)
            assert keyed.get("/api/user/current").json()["email"].endswith("@api-key.invalid")
        assert "listening on http://127.0.0.1:" in log.read_text()
    finally:
        stop(proc)


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


# ---- what a new user meets when serving it: the README's lines, credentials, a busy port, stopping it ----

README = Path(__file__).resolve().parents[2] / "README.md"


def _readme_try_it_block() -> list[str]:
    """The shell lines of the README's emulator "Try it" block."""
    section = README.read_text().split("## The emulator", 1)[1]
    block = re.search(r"Try it[^\n]*\n\n```sh\n(.*?)```", section, re.DOTALL)
    assert block, "the README's emulator section has no `Try it` shell block"
    return [line for line in block.group(1).splitlines() if line.strip()]


def test_readme_emulator_lines_work_as_written(tmp_path):
    """The README's block starts a served emulator and asks it with curl: each curl answers, the keyed one
    with the seeded collections (it answered 401 when the README's key was accepted by nothing)."""
    serve_line, *curls = _readme_try_it_block()
    assert serve_line.startswith(".venv/bin/mbport emulator serve ") and serve_line.endswith("&")
    port = str(free_port())
    args = shlex.split(serve_line.rstrip("&").replace("3000", port))[1:]
    log = tmp_path / "serve.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(mbport_command(*args), stdout=out, stderr=subprocess.STDOUT)
    try:
        wait_until_up(proc, f"http://127.0.0.1:{port}")
        assert len(curls) == 2 and all(line.startswith("curl ") for line in curls)
        answers = [subprocess.run(["bash", "-c", line.replace("3000", port)], capture_output=True, text=True,
                                  timeout=30) for line in curls]
        assert answers[0].returncode == 0 and '"has-user-setup": true' in answers[0].stdout
        collections = json.loads(answers[1].stdout)
        assert isinstance(collections, list), answers[1].stdout
        assert {"Our analytics", "Company", "Marketing"} <= {c["name"] for c in collections}
    finally:
        stop(proc)


def test_serve_prints_how_to_sign_in_with_the_password_it_made_up(tmp_path):
    log = tmp_path / "serve.log"
    proc, base_url = serve(log, "--seed", "sample")
    try:
        text = log.read_text()
        found = re.search(r"sign in: (\S+@\S+) / (\S+)", text)
        assert found, text
        assert "API key: none (accept one with --api-key mb_...)" in text
        email, password = found.groups()
        login = httpx.post(f"{base_url}/api/session", json={"username": email, "password": password}, timeout=5)
        assert login.status_code == 200, login.text
    finally:
        stop(proc)


def test_serve_does_not_echo_a_password_it_was_given(tmp_path):
    log = tmp_path / "serve.log"
    proc, _ = serve(log, "--admin-password", PASSWORD, "--api-key", API_KEY)
    try:
        text = log.read_text()
        assert "sign in: admin@example.com / the --admin-password given" in text
        assert PASSWORD not in text and API_KEY not in text
    finally:
        stop(proc)


def test_busy_port_is_one_clear_error(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        run = subprocess.run(mbport_command("emulator", "serve", "--port", str(port), "--seed", "sample"),
                             capture_output=True, text=True, timeout=60)
    assert run.returncode == 1, run.stderr
    lines = run.stderr.splitlines()
    assert lines[0] == f"Error: port {port} on 127.0.0.1 is already in use", run.stderr
    assert len(lines) == 2 and lines[1].startswith("Hint: ") and "--port" in lines[1]
    assert "listening" not in run.stderr and "Traceback" not in run.stderr


@pytest.mark.parametrize("sig, when", [(signal.SIGINT, "serving"), (signal.SIGTERM, "serving"),
                                       (signal.SIGTERM, "announced")],
                         ids=["ctrl-c", "sigterm", "sigterm-right-after-the-announcement"])
def test_stopping_the_server_exits_130_and_leaves_no_temporary_files(tmp_path, sig, when):
    temp = tmp_path / "tmp"
    temp.mkdir()
    log = tmp_path / "serve.log"
    port = free_port()
    with log.open("wb") as out:
        proc = subprocess.Popen(mbport_command("emulator", "serve", "--port", str(port), "--seed", "sample"),
                                stdout=out, stderr=subprocess.STDOUT, env={**os.environ, "TMPDIR": str(temp)})
    if when == "serving":
        wait_until_up(proc, f"http://127.0.0.1:{port}")
    else:  # the moment it says where it listens, before the server has started
        deadline = time.monotonic() + 60
        while "listening on" not in log.read_text() and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.01)
    assert [p.name for p in temp.iterdir()] == [f"mbport-emulator-{proc.pid}"]  # the seed's warehouse files
    assert stop(proc, sig) == 130, log.read_text()
    assert "Interrupted." in log.read_text() and "Traceback" not in log.read_text()
    assert list(temp.iterdir()) == []


def test_a_process_that_used_the_emulator_leaves_no_temporary_files(tmp_path):
    code = ("from mbport.emulator import Emulator, bootstrap, seeds\n"
            "emu = Emulator()\n"
            "seeds.load(emu, 'sample', bootstrap.setup_admin(emu, 'a@example.com', 'Adm1n-passw0rd!'))\n"
            "emu.wait_idle()\n")
    temp = tmp_path / "tmp"
    temp.mkdir()
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120, env={**os.environ, "TMPDIR": str(temp)})
    assert list(temp.iterdir()) == []


def test_in_process_emulator_under_a_base_path_answers_only_there():
    emu = Emulator(base_path="metabase/")
    assert emu.base_path == "/metabase"
    session = bootstrap.setup_admin(emu, "admin@example.com", PASSWORD)  # its own clients know the path
    with httpx.Client(transport=emu.transport(), base_url="http://metabase.test") as client:
        inside = client.get("/metabase/api/user/current", headers={"X-Metabase-Session": session})
        assert inside.status_code == 200 and inside.json()["email"] == "admin@example.com"
        for outside in ("/api/user/current", "/metabasex/api/user/current"):
            answer = client.get(outside, headers={"X-Metabase-Session": session})
            assert answer.status_code == 404 and answer.headers["content-type"] == "text/html"
            assert b"<h1>404 Not Found</h1>" in answer.content


def test_a_kill_before_the_loop_runs_the_server_leaves_no_unawaited_coroutine(monkeypatch):
    """A SIGTERM can land after the server's coroutine is made but before the event loop runs it (right after the
    "listening on" line): the run ends as interrupted, without the interpreter's "never awaited" report at exit
    (which printed a traceback into the log of `mbport emulator serve`)."""
    import asyncio
    import gc
    import warnings

    from mbport.emulator import Emulator
    from mbport.emulator import server as server_module

    def killed(self, coro, **kw):
        raise KeyboardInterrupt

    monkeypatch.setattr(asyncio.Runner, "run", killed)
    monkeypatch.setattr(server_module, "stop_on_sigterm", lambda: None)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with pytest.raises(KeyboardInterrupt):
            server_module.serve(Emulator(), port=free_port())
        gc.collect()
    assert [str(w.message) for w in caught if "never awaited" in str(w.message)] == []


def test_serve_help_names_every_profile_and_premium_feature():
    """`--profile` and `--premium-features` list what the emulator has (the help named 6 of 9 profiles, 7 of 12
    features, and sent the reader to `mbport emulator --help`, which lists neither)."""
    from click.testing import CliRunner

    from mbport.cli import cli
    from mbport.emulator import premium
    from mbport.emulator.profiles import PROFILES

    text = " ".join(CliRunner().invoke(cli, ["emulator", "serve", "--help"], terminal_width=400).output.split())
    profile_help = text.split("--profile TEXT", 1)[1].split("--seed", 1)[0]
    assert all(name in profile_help for name in PROFILES), profile_help
    assert "mbport emulator --help" not in profile_help
    features_help = text.split("--premium-features LIST", 1)[1].split("--base-path", 1)[0]
    assert all(name in features_help for name in premium.FEATURES), features_help
