"""What a tree needs of its target is found by `plan`, before the first write (handmade seed, part
`actions_and_personal`): model actions on a mapped database (its driver's actions feature, its
`database-enable-actions` setting), kinds a release lacks, a forgotten --map-database, and personal collections in
whole-instance migrations."""

from __future__ import annotations

from pathlib import Path

import pytest

from mbport.emulator.seeds.handmade import base as handmade_base
from tests.conftest import writes_since
from tests.e2e.instances import Instance, add_sqlite_database, mbport, routed_instances

SOURCE_DB = "Handmade Warehouse"
MAPPED = f"{SOURCE_DB}=Ops warehouse"


@pytest.fixture
def instances(monkeypatch):
    return routed_instances(monkeypatch)


@pytest.fixture(scope="module")
def handmade_tree(tmp_path_factory):
    """The handmade instance exported (personal collections included), once for the module."""
    from mbport.emulator import Emulator, bootstrap, seeds
    from tests.conftest import ADMIN_EMAIL, ADMIN_PASSWORD
    from tests.e2e.instances import Instances

    emu = Emulator()
    session = bootstrap.setup_admin(emu, ADMIN_EMAIL, ADMIN_PASSWORD)
    seeds.load(emu, "handmade", session)
    emu.wait_idle()
    registry = Instances()
    inst = Instance("http://handmade.test", emu, session)
    registry.by_url[inst.url] = inst
    out = tmp_path_factory.mktemp("handmade") / "tree"
    from mbport.client import MetabaseClient
    from mbport.export import run_export
    from mbport.registry import load_plugins

    with MetabaseClient(inst.url, session_token=session, transport=emu.transport()) as api:
        result = run_export(api, load_plugins(), out, options={"include_personal": True})
    assert result.warnings == []
    return out, inst


def add_ops_warehouse(target: Instance) -> dict:
    """The target's own warehouse (another file of the same schema), synced, with model actions off."""
    return add_sqlite_database(target, "Ops warehouse", handmade_base.WAREHOUSE_SCRIPT)


def flags(target: Instance, tmp_path: Path, *more) -> list:
    return ["--url", target.url, "--session-token", target.session, "--state", tmp_path / "state.json", *more]


def test_actions_on_a_mapped_database_whose_driver_has_none_stop_at_plan_with_no_write(handmade_tree, instances,
                                                                                     tmp_path):
    tree, _ = handmade_tree
    target = instances.add("plain", sqlite_actions=False)  # SQLite as Metabase has it: no actions feature
    add_ops_warehouse(target)
    planned = mbport("plan", tree, *flags(target, tmp_path, "--map-database", MAPPED))
    assert planned.code == 1
    assert "cannot hold model actions: its driver has no 'actions' feature" in planned.err
    assert "actions/" in planned.err and "--skip-unsupported" in planned.err
    before = len(target.emu.request_log)
    run = mbport("import", tree, *flags(target, tmp_path, "--map-database", MAPPED))
    assert run.code == 1 and "Traceback" not in run.err
    assert writes_since(target.emu, before) == []


def without_actions(tree: Path, tmp_path: Path) -> Path:
    """A copy of the handmade tree without its model actions: only the database's own settings want the feature."""
    import shutil

    copy = tmp_path / "tree"
    shutil.copytree(tree, copy)
    shutil.rmtree(copy / "actions")
    return copy


DB_FILE = "databases/handmade-warehouse.json"


def test_a_database_setting_its_matched_databases_driver_cannot_hold_stops_at_plan(handmade_tree, instances, tmp_path):
    """The tree's database sets database-enable-actions; the target's database of that name is SQLite without the
    actions feature: Metabase would refuse the setting (validate-settable-for-db!) after the writes before it."""
    tree = without_actions(handmade_tree[0], tmp_path)
    target = instances.add("plain", sqlite_actions=False)
    add_sqlite_database(target, SOURCE_DB, handmade_base.WAREHOUSE_SCRIPT)
    before = len(target.emu.request_log)
    planned = mbport("plan", tree, *flags(target, tmp_path))
    assert planned.code == 1
    [line] = [line for line in planned.err.splitlines() if DB_FILE in line]
    assert (f"databases/{SOURCE_DB}: the target cannot hold 'database-enable-actions': the target's database "
            f"'{SOURCE_DB}' (sqlite) has no 'actions' feature, and Metabase sets database-enable-actions only on a "
            f"database whose driver has it ({DB_FILE}); --skip-unsupported writes the rest") in line
    run = mbport("import", tree, *flags(target, tmp_path))
    assert run.code == 1 and DB_FILE in run.err and "Traceback" not in run.err
    assert writes_since(target.emu, before) == []


def test_skip_unsupported_writes_the_database_without_the_setting(handmade_tree, instances, tmp_path):
    tree = without_actions(handmade_tree[0], tmp_path)
    target = instances.add("plain", sqlite_actions=False)
    db = add_sqlite_database(target, SOURCE_DB, handmade_base.WAREHOUSE_SCRIPT)
    run = mbport("import", tree, *flags(target, tmp_path, "--skip-unsupported"))
    assert run.code == 3, run.err
    assert "'database-enable-actions'" in run.err and "Traceback" not in run.err
    with target.api() as api:
        assert api.get(f"/api/database/{db['id']}").json()["settings"] in (None, {})
        assert any(c["name"] == "Orders to fix" for c in api.get("/api/card").json())  # the rest is there


def test_a_database_to_create_is_judged_by_the_targets_databases_of_its_engine(handmade_tree, instances, tmp_path):
    """The tree's database is new to the target; another SQLite database there tells what the driver can do: the
    database's own setting and the model actions that need it are refused by plan, nothing is written."""
    tree, _ = handmade_tree
    target = instances.add("plain", sqlite_actions=False)
    add_ops_warehouse(target)
    before = len(target.emu.request_log)
    planned = mbport("plan", tree, *flags(target, tmp_path))
    assert planned.code == 1
    assert (f"databases/{SOURCE_DB}: the target cannot hold 'database-enable-actions': the target's sqlite driver "
            "(as its database 'Ops warehouse' reports) has no 'actions' feature") in planned.err
    assert f"({DB_FILE}); --skip-unsupported" in planned.err
    assert ("the target's sqlite driver (as its database 'Ops warehouse' reports) cannot hold model actions: its "
            "driver has no 'actions' feature") in planned.err
    run = mbport("import", tree, *flags(target, tmp_path))
    assert run.code == 1 and "Traceback" not in run.err
    assert writes_since(target.emu, before) == []


def test_a_driver_with_the_feature_takes_the_setting(handmade_tree, instances, tmp_path):
    tree = without_actions(handmade_tree[0], tmp_path)
    target = instances.add("actions", sqlite_actions=True)  # SQLite given the actions feature
    add_ops_warehouse(target)
    assert mbport("plan", tree, *flags(target, tmp_path)).code == 0


def test_skip_unsupported_leaves_the_actions_out_and_reports_them(handmade_tree, instances, tmp_path):
    tree, _ = handmade_tree
    target = instances.add("plain", sqlite_actions=False)
    ops = add_ops_warehouse(target)
    run = mbport("import", tree, *flags(target, tmp_path, "--map-database", MAPPED, "--skip-unsupported"))
    assert run.code == 3, run.err
    skipped = [line for line in run.err.splitlines() if line.startswith("Warning: Skipped (--skip-unsupported)")]
    assert len(skipped) == 2 and all("actions/" in line for line in skipped)
    with target.api() as api:
        assert api.get("/api/action").json() == []
        assert any(c["name"] == "Orders to fix" for c in api.get("/api/card").json())  # the rest is there
        held = api.get(f"/api/database/{ops['id']}").json()
    assert held["name"] == "Ops warehouse" and held["settings"] in (None, {})


def test_a_mapped_database_gets_the_settings_its_content_needs_and_nothing_else(handmade_tree, instances, tmp_path):
    tree, _ = handmade_tree
    target = instances.add("ops")
    ops = add_ops_warehouse(target)
    keep = mbport("plan", tree, *flags(target, tmp_path, "--map-database", MAPPED, "--keep-database-settings"))
    assert keep.code == 1 and "database-enable-actions = True" in keep.err and "--keep-database-settings" in keep.err
    planned = mbport("plan", tree, *flags(target, tmp_path, "--map-database", MAPPED))
    assert planned.code == 0, planned.err
    changed = [line for line in planned.out.splitlines() if f"databases/{SOURCE_DB}" in line]
    assert len(changed) == 1 and changed[0].startswith("~ ") and changed[0].endswith(": settings"), planned.out
    run = mbport("import", tree, *flags(target, tmp_path, "--map-database", MAPPED))
    assert run.code == 0, run.err
    with target.api() as api:
        held = api.get(f"/api/database/{ops['id']}").json()
        assert len(api.get("/api/action").json()) == 2
        assert [d["name"] for d in api.get("/api/database").json()["data"]] == ["Ops warehouse"]
    # Name, engine and connection are the target's own; only the setting the actions need was turned on.
    assert (held["name"], held["engine"], held["details"]) == ("Ops warehouse", "sqlite", ops["details"])
    assert held["settings"] == {"database-enable-actions": True}


def test_a_forgotten_map_database_is_a_plan_error_naming_the_flag(handmade_tree, instances, tmp_path):
    tree, _ = handmade_tree
    target = instances.add("ops")
    ops = add_ops_warehouse(target)
    assert mbport("import", tree, *flags(target, tmp_path, "--map-database", MAPPED)).code == 0
    before = len(target.emu.request_log)
    again = mbport("import", tree, *flags(target, tmp_path))
    assert again.code == 1
    assert f"--map-database '{MAPPED}'" in again.err and "rename" in again.err
    assert writes_since(target.emu, before) == []
    with target.api() as api:
        held = api.get(f"/api/database/{ops['id']}").json()
    assert (held["name"], held["details"]) == ("Ops warehouse", ops["details"])
    assert mbport("plan", tree, *flags(target, tmp_path, "--map-database", MAPPED)).code == 0


def test_an_unknown_source_in_map_database_is_a_usage_error(handmade_tree, instances, tmp_path):
    tree, _ = handmade_tree
    target = instances.add("ops")
    before = len(target.emu.request_log)
    run = mbport("plan", tree, *flags(target, tmp_path, "--map-database", "Handmade Warehose=Ops warehouse"))
    assert run.code == 2
    assert "the tree has no database named 'Handmade Warehose'" in run.err and SOURCE_DB in run.err
    assert writes_since(target.emu, before) == []


def personal_holdings(inst: Instance) -> dict[str, list[tuple[str, str | None]]]:
    """Owner email → [(card name, sub-collection name or None)] of what that user's personal collection holds, as
    the server has it (detail GETs of the cards and collections)."""
    with inst.api() as api:
        users = {u["id"]: u["email"] for u in api.get("/api/user", params={"status": "all"}).json()["data"]}
        collections = {c["id"]: c for c in api.get("/api/collection").json() if isinstance(c.get("id"), int)}
        held: dict[str, list[tuple[str, str | None]]] = {}
        for card in api.get("/api/card").json():
            detail = api.get(f"/api/card/{card['id']}").json()
            home = collections.get(detail["collection_id"])
            if home is None:
                continue
            top = collections[int(home["location"].strip("/").split("/")[0])] if home["location"] != "/" else home
            if top.get("personal_owner_id"):
                sub = home["name"] if home is not top else None
                held.setdefault(users[top["personal_owner_id"]], []).append((detail["name"], sub))
    return {k: sorted(v, key=str) for k, v in held.items() if k.endswith("@handmade.example")}


def test_a_migration_carries_personal_collections_by_default_and_says_how_many(handmade_tree, instances, tmp_path):
    _, source = handmade_tree
    instances.by_url[source.url] = source
    target = instances.add("fresh")
    args = ["migrate", "--from", source.url, "--from-session-token", source.session, "--to", target.url,
            "--to-session-token", target.session, "--state", tmp_path / "state.json"]
    run = mbport(*args)
    assert run.code == 0, run.err
    # The admin's, Rita's, Tom's and Uma's; two questions and a sub-collection with one more in each of two.
    assert "The migration holds 4 personal collection(s) with 6 object(s) in them" in run.out
    wanted = {"rita@handmade.example": [("Rita's big customers", None), ("Rita's order count", "Rita's drafts")],
              "tom@handmade.example": [("Tom's big customers", None), ("Tom's order count", "Tom's drafts")]}
    assert personal_holdings(source) == wanted
    assert personal_holdings(target) == wanted  # matched by owner: Metabase made the collections itself
    other = instances.add("private")
    excluded = mbport(*args[:5], "--to", other.url, "--to-session-token", other.session,
                      "--state", tmp_path / "other.json", "--exclude-personal")
    assert excluded.code == 0, excluded.err
    # but for Rita's question the shared Team board shows: taken along with her drafts (and her collection)
    assert ("Personal collections left out (--exclude-personal), but for 2 object(s) shared content uses, taken "
            "along with the collection(s) they sit in.") in excluded.out
    assert personal_holdings(other) == {"rita@handmade.example": [("Rita's order count", "Rita's drafts")]}
