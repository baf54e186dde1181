"""mbport as a library: the script a user writes around `open_import(api, tree, ImportOptions(...))` (plan, apply,
verify) with no command line involved; a bad option is the same one-line error the command line gives."""

from __future__ import annotations

import subprocess
import sys

import pytest

from mbport.check import load_tree
from mbport.client import MetabaseClient
from mbport.emulator import Emulator, bootstrap
from mbport.emulator.seeds import sample
from mbport.errors import MbportError, UsageError
from mbport.export import run_export
from mbport.importing import ImportOptions, open_import
from mbport.refs import address_kind
from mbport.secrets import Secrets
from tests.conftest import ADMIN_EMAIL, ADMIN_PASSWORD, writes_since
from tests.e2e.instances import FINANCE_SECRET, mbport, routed_instances


@pytest.fixture(scope="module")
def tree(seeded, registry, tmp_path_factory):
    """The sample instance exported once (the import is what these tests are about)."""
    emu, session = seeded
    out = tmp_path_factory.mktemp("library") / "tree"
    with MetabaseClient("http://source.test", session_token=session, transport=emu.transport()) as api:
        run_export(api, registry, out)
    return out


def _card(api, name: str) -> dict:
    """A card by name, as its detail GET returns it, with its collection's name (ids differ between instances;
    verify below compares the rest, ids replaced by what they point at)."""
    found = next(c for c in api.get("/api/card", params={"f": "all"}) if c["name"] == name)
    card = api.get(f"/api/card/{found['id']}")
    collection = api.get(f"/api/collection/{card['collection_id']}")["name"] if card.get("collection_id") else None
    return {"display": card["display"], "type": card["type"], "description": card.get("description"),
            "query_type": card.get("query_type"), "collection": collection}


def test_a_script_plans_applies_and_verifies_an_import(seeded, tree, registry, tmp_path):
    emu, session = seeded
    target = Emulator(sqlite_actions=True)  # the sample tree's model actions run on its SQLite warehouse
    target_session = bootstrap.setup_admin(target, ADMIN_EMAIL, ADMIN_PASSWORD)
    options = ImportOptions(secrets=Secrets({FINANCE_SECRET: sample.FINANCE_DB_PASSWORD}, env={}),
                            state=tmp_path / "state.json", with_api_keys=True, api_keys_file=tmp_path / "keys.json")
    with MetabaseClient("http://source.test", session_token=session, transport=emu.transport()) as source, \
            MetabaseClient("http://target.test", session_token=target_session, transport=target.transport()) as api:
        run = open_import(api, tree, options)
        plan = run.plan()
        assert plan.problems == [] and plan.of("create")
        result = run.apply(plan)
        target.wait_idle()
        assert result.failed == {} and result.skipped == [] and result.written >= len(plan.of("create"))

        # What the target holds now, read back one card at a time, is what the source holds.
        names = sorted(d["name"] for a, d in load_tree(tree, registry).docs.items()
                       if address_kind(a) == "cards" and not d.get("archived"))
        assert len(names) > 5
        for name in names:
            assert _card(api, name) == _card(source, name), name
        assert options.state.is_file() and run.state.ids  # where each object went, for the next run
        assert "CI export" in options.api_keys_file.read_text()  # the recreated key's new value

        again = open_import(api, tree, options).plan()
        assert not again.has_changes and again.problems == []
        verified = run.verify(source, queries=False)
        assert verified.equal, [d.as_dict() for d in verified.differences][:5]


def test_a_second_plan_reads_the_target_again_and_a_stale_plan_is_refused(seeded, tree, tmp_path):
    """The script keeps its Import: plan() after apply() sees what apply wrote (nothing left to do, no write) and
    what someone changed on the target since (a renamed question, renamed back); a plan made before an apply is
    refused before any write, like Terraform's stale saved plan."""
    target = Emulator(sqlite_actions=True)
    target_session = bootstrap.setup_admin(target, ADMIN_EMAIL, ADMIN_PASSWORD)
    options = ImportOptions(secrets=Secrets({FINANCE_SECRET: sample.FINANCE_DB_PASSWORD}, env={}),
                            state=tmp_path / "state.json")
    with MetabaseClient("http://target.test", session_token=target_session, transport=target.transport()) as api:
        run = open_import(api, tree, options)
        first = run.plan()
        assert run.apply(first).failed == {}
        target.wait_idle()
        again = run.plan()
        assert again.problems == [] and not again.has_changes, [c.line() for c in again.changes if c.action != "noop"]
        card = next(c for c in api.get("/api/card", params={"f": "all"}) if not c.get("archived"))
        api.put(f"/api/card/{card['id']}", json={"name": "Renamed on the target"})
        third = run.plan()
        assert [c.line() for c in third.changes if c.action != "noop"] == [
            f"~ card '{card['name']}' ({third.of('update')[0].address}): name"]
        before = len(target.request_log)
        with pytest.raises(MbportError, match="this plan was made before this import's last apply"):
            run.apply(again)
        assert writes_since(target, before) == []
        run.apply(third)
        assert [w[:2] for w in writes_since(target, before)] == [("PUT", f"/api/card/{card['id']}")]
        assert api.get(f"/api/card/{card['id']}")["name"] == card["name"]
        assert not run.plan().has_changes


BAD_OPTIONS = {
    "unknown database": ({"map_database": {"No such database": "Warehouse"}},
                         ["--map-database", "No such database=Warehouse"]),
    "only without select": ({"only": True}, ["--only"]),
    "prune with select": ({"prune": True, "select": ("card:Revenue by month",)},
                          ["--prune", "--select", "card:Revenue by month"]),
    "selection not in the tree": ({"select": ("card:No such card",)}, ["--select", "card:No such card"]),
}


@pytest.mark.parametrize("case", sorted(BAD_OPTIONS))
def test_a_bad_option_is_the_command_lines_error(case, tree, tmp_path, monkeypatch):
    fields, flags = BAD_OPTIONS[case]
    instances = routed_instances(monkeypatch)
    target = instances.add("badoptions")
    state = tmp_path / "state.json"
    before = len(target.emu.request_log) if hasattr(target.emu, "request_log") else None
    with MetabaseClient(target.url, session_token=target.session) as api, pytest.raises(UsageError) as raised:
        open_import(api, tree, ImportOptions(state=state, **fields))
    error = raised.value
    assert "\n" not in str(error)
    run = mbport("plan", tree, *flags, "--url", target.url, "--session-token", target.session, "--state", state)
    assert run.code == error.exit_code == 2
    assert run.err.splitlines()[0] == f"Error: {error}"
    assert error.hint is None or f"Hint: {error.hint}" in run.err
    assert "Traceback" not in run.err and not state.exists()
    if before is not None:
        assert len(target.emu.request_log) == before


def test_the_library_loads_no_command_line():
    """`import mbport.importing` in a script brings neither click nor mbport.cli."""
    probe = ("import sys, mbport.importing; print(sorted(m for m in sys.modules if m == 'click' or "
             "m.startswith('click.') or m == 'mbport.cli' or m.startswith('mbport.cli.')))")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
