"""Helpers for CLI end-to-end tests: emulators reachable by URL in-process, a served emulator, `mbport` runs."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
from click.testing import CliRunner

from mbport import client as client_module
from mbport.cli import main
from mbport.emulator import Emulator, bootstrap, seeds
from tests.conftest import ADMIN_EMAIL, ADMIN_PASSWORD

FINANCE_SECRET = "databases/Finance/password"


@dataclass
class Run:
    code: int
    out: str
    err: str


def mbport(*args: str) -> Run:
    """`mbport ARGS` in-process through `mbport.cli.main` (its error handling and exit codes included)."""
    runner = CliRunner()
    with runner.isolation() as streams:
        try:
            main([str(a) for a in args])
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
        out, err = streams[0].getvalue().decode(), streams[1].getvalue().decode()
    return Run(code, out, err)


@dataclass
class Instance:
    url: str
    emu: Emulator
    session: str

    def api(self) -> httpx.Client:
        return httpx.Client(transport=self.emu.transport(), base_url=self.url, headers={"X-Metabase-Session": self.session})

    def card(self, name: str) -> dict:
        with self.api() as api:
            return next(c for c in api.get("/api/card", params={"f": "all"}).json() if c["name"] == name)


class Instances:
    """Emulators by URL: every MetabaseClient built for one of these URLs talks to that emulator in-process."""

    def __init__(self) -> None:
        self.by_url: dict[str, Instance] = {}

    def add(self, name: str, seed: str | None = None) -> Instance:
        emu = Emulator()
        session = bootstrap.setup_admin(emu, ADMIN_EMAIL, ADMIN_PASSWORD)
        if seed:
            seeds.load(emu, seed, session)
            emu.wait_idle()
        inst = Instance(f"http://{name}.test", emu, session)
        self.by_url[inst.url] = inst
        return inst


def routed_instances(monkeypatch) -> Instances:
    """Instances whose URLs reach their emulators; use from a test module's own `instances` fixture."""
    registry = Instances()
    real = client_module.MetabaseClient.__init__

    def routed(self, url, *a, **kw):
        inst = registry.by_url.get(str(url).rstrip("/"))
        if inst is not None:
            kw.setdefault("transport", inst.emu.transport())
        real(self, url, *a, **kw)

    monkeypatch.setattr(client_module.MetabaseClient, "__init__", routed)
    return registry


def write_secrets(path: Path) -> Path:
    from mbport.emulator.seeds import sample

    path.write_text(json.dumps({FINANCE_SECRET: sample.FINANCE_DB_PASSWORD}))
    path.chmod(0o600)
    return path


# ---------------------------------------------------------------- a real server

def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Served:
    """`mbport emulator serve` in a subprocess on a free port (stopped by `stop`)."""

    def __init__(self, tmp: Path, api_key: str, seed: str | None = "sample"):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = tmp / f"serve-{self.port}.log"
        command = [sys.executable, "-c", "from mbport.cli import main; main()", "emulator", "serve",
                   "--port", str(self.port), "--admin-password", ADMIN_PASSWORD, "--api-key", api_key]
        if seed:
            command += ["--seed", seed]
        with self.log.open("wb") as out:
            self.proc = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
        self._wait()

    def _wait(self) -> None:
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"the server exited early:\n{self.log.read_text()}")
            try:
                if httpx.get(f"{self.url}/api/session/properties", timeout=0.5).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        self.stop()
        raise AssertionError(f"the server did not answer:\n{self.log.read_text()}")

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=5)
