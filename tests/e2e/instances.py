"""Helpers for CLI end-to-end tests: emulators reachable by URL in-process, a served emulator, `mbport` runs."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import httpx
from click.testing import CliRunner

from mbport import client as client_module
from mbport.cli import main
from mbport.emulator import Emulator, bootstrap, seeds
from tests.conftest import ADMIN_EMAIL, ADMIN_PASSWORD
from tests.served import free_port, serve, stop  # noqa: F401  (free_port is used by test_backup)

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

    def add(self, name: str, seed: str | None = None, base_path: str = "", sqlite_actions: bool = True,
            profile: str | None = None, premium: str | None = None) -> Instance:
        """An emulator at http://NAME.test, or under a path of it (a Metabase behind a proxy at NAME.test/PATH). Its
        SQLite databases may hold model actions (the seeds' trees have some) unless sqlite_actions=False; `profile`
        and `premium` pick the release and the token's features."""
        emu = Emulator(profile, base_path=base_path, sqlite_actions=sqlite_actions, premium_features=premium)
        session = bootstrap.setup_admin(emu, ADMIN_EMAIL, ADMIN_PASSWORD)
        if seed:
            seeds.load(emu, seed, session)
            emu.wait_idle()
        inst = Instance(f"http://{name}.test{emu.base_path}", emu, session)
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


def add_sqlite_database(inst: Instance, name: str, script: Path) -> dict:
    """A SQLite database built from `script` on `inst`, after its first sync (its detail GET)."""
    import time

    from mbport.emulator.sample_db import build_from_script, cache_dir

    path = build_from_script(script, cache_dir() / f"{inst.url.split('//')[1]}-{name}.sqlite".replace(" ", "-"))
    with inst.api() as api:
        created = api.post("/api/database", json={"name": name, "engine": "sqlite", "details": {"db": str(path)}})
        created.raise_for_status()
        db_id = created.json()["id"]
        deadline = time.monotonic() + 10
        while api.get(f"/api/database/{db_id}").json()["initial_sync_status"] != "complete":
            assert time.monotonic() < deadline, f"{name}: the first sync did not finish"
            time.sleep(0.02)
        return api.get(f"/api/database/{db_id}").json()


def write_secrets(path: Path) -> Path:
    from mbport.emulator.seeds import sample

    path.write_text(json.dumps({FINANCE_SECRET: sample.FINANCE_DB_PASSWORD}))
    path.chmod(0o600)
    return path


# ---------------------------------------------------------------- a real server

class Served:
    """`mbport emulator serve` in a subprocess on a free port (stopped by `stop`)."""

    def __init__(self, tmp: Path, api_key: str, seed: str | None = "sample"):
        self.log = tmp / f"serve-{id(self)}.log"
        extra = ["--seed", seed] if seed else []
        self.proc, self.url = serve(self.log, "--admin-password", ADMIN_PASSWORD, "--api-key", api_key, *extra)

    def stop(self) -> None:
        stop(self.proc)
