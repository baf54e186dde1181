"""A seeded emulator shared by the export tests (they only read it), and an mbport client for it."""

from __future__ import annotations

import pytest

from mbport.client import MetabaseClient
from mbport.emulator import Emulator, bootstrap, seeds
from mbport.registry import load_plugins
from tests.conftest import ADMIN_EMAIL, ADMIN_PASSWORD


@pytest.fixture(scope="session")
def seeded():
    """(emulator, admin session) with the realistic `sample` instance loaded through the API."""
    emu = Emulator()
    session = bootstrap.setup_admin(emu, ADMIN_EMAIL, ADMIN_PASSWORD)
    seeds.load(emu, "sample", session)
    emu.wait_idle()
    return emu, session


@pytest.fixture(scope="session")
def seeded_ee():
    """(emulator, admin session) of an Enterprise build with every emulated premium feature, loaded with the
    `enterprise` seed: the `sample` instance plus sandboxes and user attributes."""
    emu = Emulator(premium_features="all")
    session = bootstrap.setup_admin(emu, ADMIN_EMAIL, ADMIN_PASSWORD)
    seeds.load(emu, "enterprise", session)
    emu.wait_idle()
    return emu, session


@pytest.fixture(scope="session")
def seeded_old():
    """(emulator, admin session) of a 0.50 Enterprise build loaded with the `enterprise` seed: what only the oldest
    release holds (legacy metrics, pulse-shaped alerts)."""
    emu = Emulator("0.50", premium_features="all", sqlite_actions=True)
    session = bootstrap.setup_admin(emu, ADMIN_EMAIL, ADMIN_PASSWORD)
    seeds.load(emu, "enterprise", session)
    emu.wait_idle()
    return emu, session


@pytest.fixture(scope="session")
def seeded_current():
    """(emulator, admin session) of a 0.65 Enterprise build loaded with the `current` seed: every kind only a current
    instance holds (documents, notification channels, glossary ...) on the handmade seed's base."""
    emu = Emulator("0.65", premium_features="all")
    session = bootstrap.setup_admin(emu, ADMIN_EMAIL, ADMIN_PASSWORD)
    seeds.load(emu, "current", session)
    emu.wait_idle()
    return emu, session


@pytest.fixture
def api(seeded):
    emu, session = seeded
    with MetabaseClient("http://metabase.test", session_token=session, transport=emu.transport()) as client:
        yield client


@pytest.fixture(scope="session")
def registry():
    return load_plugins()
