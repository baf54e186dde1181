"""The import invariants on the realistic seed: round trip, idempotence, no write on a second apply."""

from __future__ import annotations

from collections import Counter

import pytest

from mbport.check import load_tree
from mbport.client import MetabaseClient
from mbport.emulator import Emulator, bootstrap
from mbport.engine import Importer
from mbport.export import run_export
from mbport.secrets import Secrets
from mbport.state import State
from mbport.testing import entity_id_map, relabel, without_unwritable
from tests.conftest import ADMIN_EMAIL, ADMIN_PASSWORD, writes_since


@pytest.fixture(scope="module")
def source_tree(tmp_path_factory, seeded, registry):
    emu, session = seeded
    out = tmp_path_factory.mktemp("a") / "tree"
    with MetabaseClient("http://a.test", session_token=session, transport=emu.transport()) as api:
        result = run_export(api, registry, out)
    return out, result


def secrets():
    from mbport.emulator.seeds import sample

    return Secrets({"databases/Finance/password": sample.FINANCE_DB_PASSWORD}, env={})


@pytest.fixture(scope="module")
def imported(source_tree, registry, tmp_path_factory):
    """The seed's tree applied to an empty emulator B (set up by a different admin)."""
    out, _ = source_tree
    emu = Emulator(sqlite_actions=True)  # the sample tree's actions run on SQLite
    session = bootstrap.setup_admin(emu, ADMIN_EMAIL, ADMIN_PASSWORD)
    api = MetabaseClient("http://b.test", session_token=session, transport=emu.transport())
    state_path = tmp_path_factory.mktemp("state") / "b.json"
    importer = Importer(api, registry, load_tree(out, registry), State.load(state_path, api.url),
                        options(state_path))
    plan = importer.plan()
    result = importer.apply(plan)
    emu.wait_idle()
    return emu, api, importer, plan, result, state_path


def options(state_path):
    return {"secrets": secrets(), "with_api_keys": True, "api_keys_file": state_path.with_name("new-keys.json")}


def test_apply_writes_everything_without_failures(imported):
    _, _, _, plan, result, state_path = imported
    assert plan.problems == []
    assert result.failed == {} and result.skipped == []
    assert plan.of("create")
    keys = state_path.with_name("new-keys.json")
    assert keys.stat().st_mode & 0o777 == 0o600 and "CI export" in keys.read_text()


def test_round_trip_equals_source_apart_from_entity_ids(imported, source_tree, registry, tmp_path):
    out, source = source_tree
    emu, api, importer, *_ = imported
    back = run_export(api, registry, tmp_path / "b")
    # What no API request writes (a measure's dimension ids) is the target's own; plan names it (test below).
    renamed = without_unwritable(relabel(back.docs, entity_id_map(importer.ids, back.index), registry), registry)
    source_docs = without_unwritable(relabel(source.docs, {}, registry), registry)
    missing = sorted(set(source.docs) - set(renamed))
    extra = sorted(set(renamed) - set(source.docs))
    assert not missing and not extra, (missing[:10], extra[:10])
    differ = [a for a in source_docs if source_docs[a] != renamed[a]]
    assert not differ, [(a, source_docs[a], renamed[a]) for a in differ[:3]]


def test_plan_after_apply_is_empty_and_second_apply_writes_nothing(imported, source_tree, registry, tmp_path):
    out, _ = source_tree
    emu, api, _, _, _, state_path = imported
    importer = Importer(api, registry, load_tree(out, registry), State.load(state_path, api.url),
                        options(state_path))
    before = len(emu.request_log)
    plan = importer.plan()
    assert not plan.has_changes, [c.line() for c in plan.changes if c.action != "noop"]
    planned = Counter((m, p) for m, p, _ in emu.request_log[before:])
    before = len(emu.request_log)
    run_export(api, registry, tmp_path / "b", cache=False)
    exported = Counter((m, p) for m, p, _ in emu.request_log[before:])
    assert planned - exported == Counter(), "planning reads the target no more than an export does"
    before = len(emu.request_log)
    importer.apply(plan)
    writes = writes_since(emu, before)
    assert writes == []


def test_an_api_key_whose_create_answer_is_lost_gets_a_value_that_works(source_tree, registry, tmp_path):
    """Metabase shows a key's value once, in the create answer: when that answer is lost the import finds the
    key again and regenerates it, so the keys file still holds a value that authenticates."""
    import json

    from mbport.emulator.faults import FaultPlan

    out, _ = source_tree
    emu = Emulator(sqlite_actions=True)  # the sample tree's actions run on SQLite
    session = bootstrap.setup_admin(emu, ADMIN_EMAIL, ADMIN_PASSWORD)
    emu.faults = FaultPlan(rate=1.0, kinds=("drop-after",), only=r"^POST /api/api-key$")
    api = MetabaseClient("http://b.test", session_token=session, transport=emu.transport(), retries=0)
    state_path = tmp_path / "b.json"
    importer = Importer(api, registry, load_tree(out, registry), State.load(state_path, api.url), options(state_path))
    result = importer.apply(importer.plan())
    emu.faults = None
    assert result.failed == {}
    keys = json.loads(state_path.with_name("new-keys.json").read_text())
    assert keys and all(key.startswith("mb_") for key in keys.values())
    for key in keys.values():
        with MetabaseClient("http://b.test", api_key=key, transport=emu.transport()) as as_key:
            as_key.get("/api/user/current")  # raises if the value does not authenticate


# ---- judged by `mbport verify`: what both servers hold, not mbport's own exports ----


@pytest.fixture(scope="module")
def verified(seeded, imported):
    from tests.verify.judge import judged

    emu, session = seeded
    _, api, importer, *_ = imported
    with MetabaseClient("http://a.test", session_token=session, transport=emu.transport()) as source:
        return judged(source, api, importer.ids)


def test_verify_finds_no_difference_in_the_objects(verified):
    objects, _, result = verified
    assert result.counts["cards"].paired >= 13 and result.counts["fields"].paired >= 50
    assert objects == []


def test_verify_finds_the_same_rows_for_every_card_and_dashcard(verified):
    _, rows, result = verified
    assert result.counts["rows of cards"].paired >= 12 and result.counts["rows of dashcards"].paired >= 8
    assert rows == []
