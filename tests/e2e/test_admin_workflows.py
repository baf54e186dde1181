"""An admin's jobs on content changed between two runs (a backup restored after people deactivated a user, ...):
what the plan names is what differs on the server, and applying it brings the server back to the tree."""

from __future__ import annotations

from mbport.check import load_tree
from mbport.engine import Importer
from mbport.export import run_export
from mbport.secrets import Secrets
from mbport.state import State
from tests.conftest import seeded_instance


def importer(api, registry, tree, state) -> Importer:
    return Importer(api, registry, load_tree(tree, registry), State.load(state, api.url), {"secrets": Secrets(env={})})


def test_a_deactivated_user_differs_by_is_active_alone_and_restoring_reactivates_them(registry, tmp_path):
    emu, api = seeded_instance()
    tom = api.post("/api/user", json={"email": "tom@example.com", "first_name": "Tom", "last_name": "Triage"})
    api.put(f"/api/user/{tom['id']}", json={"locale": "de"})
    run_export(api, registry, tmp_path / "tree")
    api.delete(f"/api/user/{tom['id']}")

    imp = importer(api, registry, tmp_path / "tree", tmp_path / "state.json")
    [change] = [c for c in imp.plan().changes if c.action != "noop"]
    assert change.line() == "~ user 'tom@example.com' (users/tom@example.com): is_active"
    imp.apply(imp.plan())
    held = api.get(f"/api/user/{tom['id']}")
    assert (held["is_active"], held["first_name"], held["last_name"], held["locale"]) == (True, "Tom", "Triage", "de")
    assert not importer(api, registry, tmp_path / "tree", tmp_path / "state.json").plan().has_changes


def test_a_user_deactivated_in_the_tree_and_on_the_server_is_left_alone(registry, tmp_path):
    emu, api = seeded_instance()
    uma = api.post("/api/user", json={"email": "uma@example.com", "first_name": "Uma", "last_name": "Upstairs"})
    api.delete(f"/api/user/{uma['id']}")
    run_export(api, registry, tmp_path / "tree")
    api.put(f"/api/user/{uma['id']}/reactivate")
    api.put(f"/api/user/{uma['id']}", json={"last_name": "Downstairs"})

    imp = importer(api, registry, tmp_path / "tree", tmp_path / "state.json")
    [change] = [c for c in imp.plan().changes if c.action != "noop"]
    assert change.line() == "~ user 'uma@example.com' (users/uma@example.com): is_active, last_name"
    api.delete(f"/api/user/{uma['id']}")  # deactivated on both sides: a deactivated user cannot be edited
    assert not importer(api, registry, tmp_path / "tree", tmp_path / "state.json").plan().has_changes
