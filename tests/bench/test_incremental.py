"""Incremental export: unchanged dashboards are not fetched again, and the tree is byte-identical to a cold one."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from mbport.cache import folder_for
from mbport.client import MetabaseClient
from mbport.emulator import Emulator, bootstrap, seeds
from mbport.export import run_export
from mbport.registry import load_plugins
from tests.conftest import ADMIN_EMAIL, ADMIN_PASSWORD

DASHBOARD_GET = re.compile(r"^/api/dashboard/\d+$")


@pytest.fixture
def instance():
    emu = Emulator()
    session = bootstrap.setup_admin(emu, ADMIN_EMAIL, ADMIN_PASSWORD)
    seeds.load(emu, "sample", session)
    emu.wait_idle()
    with MetabaseClient("http://metabase.test", session_token=session, transport=emu.transport()) as api:
        yield emu, api


@pytest.fixture(scope="module")
def registry():
    return load_plugins()


def files(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def dashboard_fetches(emu: Emulator, since: int) -> int:
    return sum(1 for method, path, _ in emu.request_log[since:] if method == "GET" and DASHBOARD_GET.match(path))


def export(emu, api, registry, out: Path, cache: bool = True) -> int:
    """Export and return how many dashboards it fetched."""
    before = len(emu.request_log)
    run_export(api, registry, out, cache=cache)
    return dashboard_fetches(emu, before)


def test_unchanged_instance_fetches_no_dashboard_and_writes_the_same_tree(instance, registry, tmp_path):
    emu, api = instance
    out = tmp_path / "tree"
    assert export(emu, api, registry, out) == 2
    first = files(out)
    assert export(emu, api, registry, out) == 0
    assert files(out) == first
    # The cache is beside the tree, never in it, and keeps itself out of git.
    assert not any(".mbport-cache" in p for p in first)
    assert (folder_for(out) / ".gitignore").read_text().strip().endswith("*")


def test_changed_dashboard_is_fetched_again_and_matches_a_cold_export(instance, registry, tmp_path):
    emu, api = instance
    out = tmp_path / "tree"
    export(emu, api, registry, out)
    dash = next(d for d in api.get("/api/dashboard") if d["name"] == "Customer insights")
    current = api.get(f"/api/dashboard/{dash['id']}")
    moved = [{**{k: dc.get(k) for k in ("id", "card_id", "action_id", "dashboard_tab_id", "row", "col", "size_x",
                                           "size_y", "parameter_mappings", "visualization_settings")},
              "row": dc["row"] + 1} for dc in current["dashcards"]]
    api.put(f"/api/dashboard/{dash['id']}", json={"dashcards": moved, "tabs": []})
    assert export(emu, api, registry, out) == 1
    export(emu, api, registry, tmp_path / "cold", cache=False)
    assert files(out) == files(tmp_path / "cold")


def test_card_deleted_from_under_a_cached_dashboard_is_noticed(instance, registry, tmp_path):
    """Deleting a card removes its dashcards without touching the dashboard's list row: the cached dashboard
    then points at a card that is gone, so it is fetched again instead of exporting a dangling ref."""
    emu, api = instance
    out = tmp_path / "tree"
    export(emu, api, registry, out)
    card = next(c for c in api.get("/api/card") if c["name"] == "Orders per customer")
    api.delete(f"/api/card/{card['id']}")
    result = run_export(api, registry, out)
    assert not [w for w in result.warnings if "does not exist" in w]
    run_export(api, registry, tmp_path / "cold", cache=False)
    assert files(out) == files(tmp_path / "cold")


def test_cache_of_another_instance_is_not_used(instance, registry, tmp_path):
    emu, api = instance
    out = tmp_path / "tree"
    export(emu, api, registry, out)
    other = MetabaseClient("http://other.test", session_token=api._auth.session, transport=emu.transport())
    before = len(emu.request_log)
    run_export(other, registry, out)
    assert dashboard_fetches(emu, before) == 2
