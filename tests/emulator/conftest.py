"""Fixtures shared by the emulator's route tests."""

from __future__ import annotations

import pytest

from mbport.emulator import Emulator, bootstrap
from tests.conftest import ADMIN_EMAIL, ADMIN_PASSWORD, make_client


@pytest.fixture
def ee():
    """(emulator, admin client) of an Enterprise build whose token has every emulated feature."""
    emu = Emulator(premium_features="all")
    session = bootstrap.setup_admin(emu, ADMIN_EMAIL, ADMIN_PASSWORD)
    return emu, make_client(emu, **{"X-Metabase-Session": session})
