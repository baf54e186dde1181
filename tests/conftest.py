"""Shared fixtures: in-process emulators, logged-in clients, and the spec check on every request."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import httpx
import pytest

from mbport.emulator import Emulator, bootstrap

ADMIN_EMAIL = "admin@example.com"
ADMIN_PASSWORD = "Adm1n-passw0rd!"

_created: list[Emulator] = []


@pytest.fixture(scope="session", autouse=True)
def _leaves_no_temporary_files(tmp_path_factory):
    """The suite leaves nothing in the temporary folder. Other runs share the system's, so this one (and every
    process it starts) gets a folder of its own through TMPDIR, which must be empty at the end; pytest's own
    tmp_path folders stay where they were."""
    tmp_path_factory.getbasetemp()
    own = Path(tempfile.mkdtemp(prefix="mbport-suite-"))
    saved_env, saved_dir = os.environ.get("TMPDIR"), tempfile.tempdir
    os.environ["TMPDIR"], tempfile.tempdir = str(own), str(own)
    try:
        yield
    finally:
        tempfile.tempdir = saved_dir
        if saved_env is None:
            os.environ.pop("TMPDIR", None)
        else:
            os.environ["TMPDIR"] = saved_env
    # This process's warehouse files go when it exits (tests/emulator/test_serve.py proves that in a subprocess).
    shutil.rmtree(own / f"mbport-emulator-{os.getpid()}", ignore_errors=True)
    left = sorted(p.name for p in own.iterdir())
    shutil.rmtree(own, ignore_errors=True)
    assert not left, f"the test run left these in the temporary folder: {', '.join(left)}"


@pytest.fixture(autouse=True)
def _spec_check(request, monkeypatch):
    """Fail a test when any emulator it used received a request that Metabase's spec rejects.

    Tests that send such requests on purpose are marked `allow_invalid_requests`.
    """
    created: list[Emulator] = []
    original = Emulator.__init__

    def tracking_init(self, *a, **kw):
        original(self, *a, **kw)
        created.append(self)

    monkeypatch.setattr(Emulator, "__init__", tracking_init)
    yield
    if request.node.get_closest_marker("allow_invalid_requests"):
        return
    violations = [v for emu in created for v in emu.spec_violations]
    if violations:
        pytest.fail("requests that Metabase's spec rejects:\n  " + "\n  ".join(violations[:20]), pytrace=False)


@pytest.fixture
def emulator() -> Emulator:
    return Emulator()


def make_client(emu: Emulator, **headers: str) -> httpx.Client:
    return httpx.Client(transport=emu.transport(), base_url="http://metabase.test", headers=headers)


@pytest.fixture
def anon(emulator) -> httpx.Client:
    """A client with no credentials."""
    return make_client(emulator)


@pytest.fixture
def admin_session(emulator) -> str:
    return bootstrap.setup_admin(emulator, ADMIN_EMAIL, ADMIN_PASSWORD)


@pytest.fixture
def admin(emulator, admin_session) -> httpx.Client:
    """A client logged in as the instance's first admin (via /api/setup)."""
    return make_client(emulator, **{"X-Metabase-Session": admin_session})


WRITES = ("POST", "PUT", "DELETE")


def writes_since(emu: Emulator, before: int) -> list[tuple]:
    """The write requests the emulator served after the `before`-th request."""
    return [r for r in emu.request_log[before:] if r[0] in WRITES]


def transforms_on(emu: Emulator) -> Emulator:
    """A target for trees with transforms (the `current` seed's): its admin turned transforms on, as the source's did
    (0.64+ refuses them until `transforms-enabled` is on), and its SQLite warehouse may receive their tables (the
    emulator's licence)."""
    emu.sqlite_transforms = True
    emu.state.settings["transforms-enabled"] = True
    return emu


def assert_settled(importer, emu: Emulator) -> None:
    """Planning again finds nothing to change, and applying again sends no write."""
    plan = importer.plan()
    assert not plan.has_changes, [c.line() for c in plan.changes if c.action != "noop"]
    before = len(emu.request_log)
    importer.apply(plan)
    assert writes_since(emu, before) == []


def seeded_emulator(seed: str, *profile: str, **options) -> tuple[Emulator, str]:
    """(emulator, admin session) of a fresh emulator (`Emulator(*profile, **options)`) set up by the test admin,
    with `seed` loaded and its background work (syncs) done."""
    from mbport.emulator import seeds

    emu = Emulator(*profile, **options)
    session = bootstrap.setup_admin(emu, ADMIN_EMAIL, ADMIN_PASSWORD)
    seeds.load(emu, seed, session)
    emu.wait_idle()
    return emu, session


def seeded_instance(seed: str | None = None):
    """(emulator, mbport client) of a fresh emulator set up by the test admin, with `seed` loaded if given."""
    from mbport.client import MetabaseClient
    from mbport.emulator import seeds

    emu = Emulator(sqlite_actions=True)  # the seeds' trees have model actions on their SQLite warehouses
    session = bootstrap.setup_admin(emu, ADMIN_EMAIL, ADMIN_PASSWORD)
    if seed:
        seeds.load(emu, seed, session)
        emu.wait_idle()
    return emu, MetabaseClient("http://metabase.test", session_token=session, transport=emu.transport())
