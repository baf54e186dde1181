"""Verify compares the transforms' shared Python library (`common.py`, read by path on both instances): a library
that differs is reported as exactly that difference, and an export and import keep it equal on both servers."""

from __future__ import annotations

from mbport.client import MetabaseClient
from mbport.emulator import Emulator, bootstrap
from mbport.export import run_export
from mbport.import_options import ImportOptions
from mbport.importing import open_import
from mbport.registry import load_plugins
from mbport.secrets import Secrets
from mbport.verify import run_verify
from tests.conftest import ADMIN_EMAIL, ADMIN_PASSWORD, transforms_on

LIBRARY = "def cents(x):\n    return round(x * 100)\n"


def instance(name: str, library: str | None = None) -> MetabaseClient:
    emu = transforms_on(Emulator("0.65", premium_features="all"))
    session = bootstrap.setup_admin(emu, ADMIN_EMAIL, ADMIN_PASSWORD)
    api = MetabaseClient(f"http://{name}.test", session_token=session, transport=emu.transport())
    if library is not None:
        api.put("/api/ee/transforms-python/library/common", json={"source": library})
    return api


def lines(result) -> list[str]:
    return [d.line() for d in result.differences]


def test_a_library_that_differs_is_reported_as_that_difference():
    source, target = instance("a", LIBRARY), instance("b", LIBRARY.replace("100", "1000"))
    result = run_verify(source, target, queries=False)
    assert lines(result) == [f"Python library 'common.py': source: {LIBRARY} → {LIBRARY.replace('100', '1000')}"]
    assert result.unknown_fields == set()
    assert vars(result.counts["python-libraries"]) == {"paired": 1, "equal": 0, "differ": 1, "only_source": 0,
                                                       "only_target": 0}


def test_a_round_trip_keeps_the_library_equal(tmp_path):
    source, target = instance("a", LIBRARY), instance("b")
    assert lines(run_verify(source, target, kinds=["python-libraries"], queries=False)) != []  # the target's is empty
    run_export(source, load_plugins(), tmp_path / "tree")
    run = open_import(target, tmp_path / "tree", ImportOptions(secrets=Secrets(env={}), state=tmp_path / "state.json"))
    assert run.apply(run.plan()).failed == {}
    result = run.verify(source, queries=False)
    assert lines(result) == [] and result.counts["python-libraries"].equal == 1
    assert target.get("/api/ee/transforms-python/library/common")["source"] == LIBRARY
