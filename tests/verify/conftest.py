"""A source seeded with the sample instance, migrated to an empty target by `mbport migrate`, per test (the tests
change the target behind mbport's back), and `mbport verify` runs against both."""

from __future__ import annotations

import os

import pytest

from mbport.migrate import default_state_path
from tests.e2e.instances import mbport, routed_instances, write_secrets


@pytest.fixture
def migrated(monkeypatch, tmp_path):
    """(source, target, state file) after `mbport migrate` of the sample seed into an empty emulator."""
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    instances = routed_instances(monkeypatch)
    source, target = instances.add("from", seed="sample"), instances.add("to")
    secrets = write_secrets(tmp_path / "secrets.json")
    run = mbport("migrate", "--from", source.url, "--from-session-token", source.session, "--to", target.url,
                 "--to-session-token", target.session, "--secrets", secrets)
    assert run.code == 0, run.err
    target.emu.wait_idle()
    return source, target, default_state_path(source.url, target.url)


def verify(source, target, *more: str):
    """`mbport verify` of the two instances (the state migrate kept is found by itself)."""
    return mbport("verify", "--from", source.url, "--from-session-token", source.session, "--to", target.url,
                  "--to-session-token", target.session, *more)


def differences(run) -> set[str]:
    """The difference lines of a verify report."""
    return {line.strip() for line in run.out.splitlines() if line.startswith("  ")}


def migrated_onto_own_warehouse(monkeypatch, tmp_path):
    """(source, target, the target's warehouse database, the --map-database arguments) after `mbport migrate` of
    the sample seed onto a target that has its own copy of the seed's warehouse."""
    from mbport.emulator.seeds import sample
    from tests.e2e.instances import add_sqlite_database

    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    instances = routed_instances(monkeypatch)
    source, target = instances.add("from", seed="sample"), instances.add("to")
    db = add_sqlite_database(target, "Warehouse B", sample.WAREHOUSE_SCRIPT)
    with target.api() as api:
        api.put(f"/api/database/{db['id']}", json={"settings": {"database-enable-actions": True}}).raise_for_status()
    mapping = ("--map-database", "Shop Warehouse=Warehouse B")
    run = mbport("migrate", "--from", source.url, "--from-session-token", source.session, "--to", target.url,
                 "--to-session-token", target.session, "--secrets", write_secrets(tmp_path / "s.json"), *mapping)
    assert run.code == 0, run.err
    return source, target, db, mapping


def pytest_collection_modifyitems(config, items):
    """The full version matrix (`version_matrix`) only when asked for: `-m version_matrix` or MBPORT_VERSION_MATRIX=1
    (.ci/run does); the default run keeps its representative pairs."""
    if "version_matrix" in (config.getoption("markexpr") or "") or os.environ.get("MBPORT_VERSION_MATRIX"):
        return
    skip = pytest.mark.skip(reason="every pair of profiles: -m version_matrix (or MBPORT_VERSION_MATRIX=1)")
    for item in items:
        if item.get_closest_marker("version_matrix"):
            item.add_marker(skip)
