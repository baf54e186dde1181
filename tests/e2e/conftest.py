"""A seeded emulator shared by the export tests (they only read it), and an mbport client for it."""

from __future__ import annotations

import shutil
from pathlib import Path

import orjson
import pytest

from mbport.client import MetabaseClient
from mbport.registry import load_plugins
from tests.conftest import seeded_emulator


@pytest.fixture(scope="session")
def seeded():
    """(emulator, admin session) with the realistic `sample` instance loaded through the API."""
    return seeded_emulator("sample")


@pytest.fixture(scope="session")
def seeded_ee():
    """(emulator, admin session) of an Enterprise build with every emulated premium feature, loaded with the
    `enterprise` seed: the `sample` instance plus sandboxes and user attributes."""
    return seeded_emulator("enterprise", premium_features="all")


@pytest.fixture(scope="session")
def seeded_old():
    """(emulator, admin session) of a 0.50 Enterprise build loaded with the `enterprise` seed: what only the oldest
    release holds (legacy metrics, pulse-shaped alerts)."""
    return seeded_emulator("enterprise", "0.50", premium_features="all", sqlite_actions=True)


@pytest.fixture(scope="session")
def seeded_current():
    """(emulator, admin session) of a 0.65 Enterprise build loaded with the `current` seed: every kind only a current
    instance holds (documents, notification channels, glossary ...) on the handmade seed's base."""
    return seeded_emulator("current", "0.65", premium_features="all")


@pytest.fixture
def api(seeded):
    emu, session = seeded
    with MetabaseClient("http://metabase.test", session_token=session, transport=emu.transport()) as client:
        yield client


@pytest.fixture(scope="session")
def registry():
    return load_plugins()


GOLDEN = Path(__file__).parents[1] / "golden"


@pytest.fixture
def edited(tmp_path):
    """A hand-editable copy of the sample seed's exported tree (tests/golden/sample)."""
    root = tmp_path / "tree"
    shutil.copytree(GOLDEN / "sample", root)
    return root


def edit(root: Path, rel: Path, change) -> None:
    """Change one doc of a tree in place (`change(doc)`), written back as export writes it."""
    doc = orjson.loads((root / rel).read_bytes())
    change(doc)
    (root / rel).write_bytes(orjson.dumps(doc, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS))
