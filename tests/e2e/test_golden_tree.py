"""Each seed's exported tree is byte-identical to the one committed in tests/golden/: refactors keep the format.

The emulator's random values (entity ids, MBQL 5 uuids) come from a fixed generator here, and the warehouse
files' temporary folder is written as `TMP/mbport-emulator-PID`, so two runs of the same code give the same bytes.
A deliberate change of the tree format regenerates the files with `MBPORT_UPDATE_GOLDEN=1 pytest <this file>`
and shows up, file by file, in the commit's diff.
"""

from __future__ import annotations

import difflib
import os
import random
import re
import shutil
import uuid
from pathlib import Path

import pytest

from mbport.client import MetabaseClient
from mbport.emulator import Emulator, bootstrap, seeds, store
from mbport.export import run_export
from mbport.registry import load_plugins
from tests.conftest import ADMIN_EMAIL, ADMIN_PASSWORD

GOLDEN = Path(__file__).parent.parent / "golden"
SEEDS = {"sample": {}, "enterprise": {"premium_features": "all"}, "handmade": {"sqlite_actions": True}}
WAREHOUSE_FOLDER = re.compile(rb'[^"\s]*mbport-emulator-\d+')


def files_of(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): WAREHOUSE_FOLDER.sub(b"TMP/mbport-emulator-PID", p.read_bytes())
            for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture
def fixed_randomness(monkeypatch):
    rng = random.Random(20261206)
    monkeypatch.setattr(store, "new_entity_id",
                        lambda: "".join(store.NANOID_ALPHABET[rng.getrandbits(6)] for _ in range(21)))
    monkeypatch.setattr(uuid, "uuid4", lambda: uuid.UUID(int=rng.getrandbits(128), version=4))


@pytest.mark.parametrize("seed", sorted(SEEDS))
def test_seed_tree_matches_the_committed_one(seed, fixed_randomness, tmp_path):
    emu = Emulator(**SEEDS[seed])
    session = bootstrap.setup_admin(emu, ADMIN_EMAIL, ADMIN_PASSWORD)
    seeds.load(emu, seed, session)
    emu.wait_idle()
    out = tmp_path / "tree"
    with MetabaseClient("http://metabase.test", session_token=session, transport=emu.transport()) as api:
        run_export(api, load_plugins(), out)
    got, golden = files_of(out), GOLDEN / seed
    if os.environ.get("MBPORT_UPDATE_GOLDEN"):
        shutil.rmtree(golden, ignore_errors=True)
        for rel, content in got.items():
            (golden / rel).parent.mkdir(parents=True, exist_ok=True)
            (golden / rel).write_bytes(content)
    want = files_of(golden)
    assert sorted(got) == sorted(want), "files added or removed: " + ", ".join(sorted(set(got) ^ set(want)))
    changed = [rel for rel in got if got[rel] != want[rel]]
    first = changed and "\n".join(difflib.unified_diff(want[changed[0]].decode().splitlines(),
                                                       got[changed[0]].decode().splitlines(), lineterm="", n=1))
    assert not changed, f"{len(changed)} files differ from tests/golden/{seed}: {', '.join(changed[:10])}\n{first}"
