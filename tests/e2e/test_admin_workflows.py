"""An admin's jobs on content changed between two runs (a backup restored after people deactivated a user, ...):
what the plan names is what differs on the server, and applying it brings the server back to the tree."""

from __future__ import annotations

from mbport.check import load_tree
from mbport.client import MetabaseClient
from mbport.engine import Importer
from mbport.export import run_export
from mbport.secrets import Secrets
from mbport.state import State
from tests.conftest import seeded_instance


def importer(api, registry, tree, state, **options) -> Importer:
    return Importer(api, registry, load_tree(tree, registry), State.load(state, api.url),
                    {"secrets": Secrets(env={}), **options})


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


def test_a_collection_the_target_cannot_hold_costs_the_permission_graph_only_its_own_grants(registry, tmp_path):
    """--skip-unsupported of a 0.65 Library dashboards folder into 0.61: every other grant is still written."""
    from mbport.emulator import Emulator, bootstrap
    from tests.conftest import ADMIN_EMAIL, ADMIN_PASSWORD

    def instance(profile):
        emu = Emulator(profile, premium_features="all")
        session = bootstrap.setup_admin(emu, ADMIN_EMAIL, ADMIN_PASSWORD)
        return MetabaseClient("http://metabase.test", session_token=session, transport=emu.transport())

    source, target = instance("0.65"), instance("0.61")
    source.post("/api/ee/library")
    shelf = next(c for c in source.get("/api/collection") if c.get("type") == "library-dashboards")
    weekly = source.post("/api/collection", json={"name": "Weekly", "parent_id": shelf["id"]})
    sales = source.post("/api/collection", json={"name": "Sales"})
    analysts = source.post("/api/permissions/group", json={"name": "Analysts"})
    graph = source.get("/api/collection/graph")
    graph["groups"][str(analysts["id"])] = {str(sales["id"]): "read", str(weekly["id"]): "write"}
    graph["groups"]["1"] = {**graph["groups"]["1"], str(sales["id"]): "none"}
    source.put("/api/collection/graph", json=graph)
    run_export(source, registry, tmp_path / "tree")

    imp = importer(target, registry, tmp_path / "tree", tmp_path / "state.json", skip_unsupported=True)
    plan = imp.plan()
    assert not [a for a in plan.unsupported if a.startswith("collection-permissions/")], plan.unsupported
    assert imp.apply(plan).failed == {}
    held = target.get("/api/collection/graph")
    group = next(g["id"] for g in target.get("/api/permissions/group") if g["name"] == "Analysts")
    mine = next(c["id"] for c in target.get("/api/collection") if c["name"] == "Sales")
    assert held["groups"][str(group)] == {str(mine): "read"}
    assert str(mine) not in held["groups"]["1"]  # All Users: revoked, as on the source
    again = importer(target, registry, tmp_path / "tree", tmp_path / "state.json", skip_unsupported=True).plan()
    assert not again.has_changes, [c.line() for c in again.changes if c.action != "noop"]


def test_a_run_stopped_by_sigterm_stops_like_ctrl_c(tmp_path):
    """systemd, Kubernetes and CI stop a job with SIGTERM: one line, exit 130, no traceback, nothing half-written."""
    import os
    import signal
    import socket
    import subprocess
    import sys
    import time

    with socket.socket() as server:  # a Metabase that accepts the connection and never answers
        server.bind(("127.0.0.1", 0))
        server.listen()
        url = f"http://127.0.0.1:{server.getsockname()[1]}"
        env = {**os.environ, "METABASE_API_KEY": "mb_" + "k" * 40}
        run = subprocess.Popen([sys.executable, "-m", "mbport", "export", "--url", url, "--out", str(tmp_path / "tree")],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        conn, _ = server.accept()
        time.sleep(0.5)
        run.send_signal(signal.SIGTERM)
        out, err = run.communicate(timeout=60)
        conn.close()
    assert run.returncode == 130, err
    assert "Interrupted." in err and "Traceback" not in err, err
    assert not (tmp_path / "tree").exists()
