"""`mbport plan` and `mbport import` read the target's objects while the tree is loaded and checked (a second of CPU
at bench-L that the reads' round trips would otherwise follow), and the plan is the one made without that."""

from __future__ import annotations

import threading

import pytest

from mbport import check
from mbport.importing import ImportOptions, open_import, read_ahead
from mbport.state import State
from tests.e2e.instances import mbport, routed_instances


@pytest.fixture
def instances(monkeypatch):
    return routed_instances(monkeypatch)


def test_plan_reads_the_target_while_the_tree_is_loaded(instances, tmp_path, monkeypatch):
    prod = instances.add("prod", seed="sample")
    tree = tmp_path / "tree"
    assert mbport("export", "--url", prod.url, "--session-token", prod.session, "--out", tree).code == 0
    listed = threading.Event()
    real_log = prod.emu.request_log

    class Watched(list):
        def append(self, entry):
            if entry[0] == "GET" and entry[1] == "/api/card":
                listed.set()
            super().append(entry)

    prod.emu.request_log = Watched(real_log)
    seen: list[bool] = []
    real_load = check.load_tree
    monkeypatch.setattr(check, "load_tree", lambda *a, **kw: seen.append(listed.wait(5)) or real_load(*a, **kw))
    planned = mbport("plan", tree, "--url", prod.url, "--session-token", prod.session, "--detailed-exitcode")
    assert seen == [True]  # the cards were being listed before the tree was loaded
    assert planned.code == 0, planned.out + planned.err  # the same instance: nothing to change
    monkeypatch.setattr(check, "load_tree", real_load)
    again = mbport("plan", tree, "--url", prod.url, "--session-token", prod.session, "--detailed-exitcode")
    assert again.code == 0 and again.out == planned.out


def test_each_kind_is_read_once_and_the_plan_is_the_same(instances, tmp_path, registry):
    prod = instances.add("prod", seed="sample")
    tree = tmp_path / "tree"
    assert mbport("export", "--url", prod.url, "--session-token", prod.session, "--out", tree).code == 0
    from mbport.client import MetabaseClient

    plans = []
    for ahead in (False, True):
        with MetabaseClient(prod.url, session_token=prod.session) as api:
            before = len(prod.emu.request_log)
            state = tmp_path / f"state-{ahead}.json"
            early = read_ahead(api, tree, registry, state) if ahead else None
            assert (early is not None) == ahead
            plan = open_import(api, tree, ImportOptions(state=state), registry=registry, ahead=early).plan()
            requests = [(m, p) for m, p, _ in prod.emu.request_log[before:]]
        plans.append(([c.line() for c in plan.changes], plan.problems, sorted(requests)))
    assert plans[0] == plans[1]
    assert not any(line.startswith(("+", "~", "-")) for line in plans[1][0])


def test_a_state_of_another_instance_reads_nothing_ahead(instances, tmp_path, registry):
    prod = instances.add("prod", seed="sample")
    tree = tmp_path / "tree"
    assert mbport("export", "--url", prod.url, "--session-token", prod.session, "--out", tree).code == 0
    state_path = tmp_path / "state.json"
    state = State.load(state_path, prod.url)
    state.bind_instance("an-instance-rebuilt-since")
    state.record("collections/x", 1)
    state.save()
    from mbport.client import MetabaseClient

    with MetabaseClient(prod.url, session_token=prod.session) as api:
        assert State.load(state_path, prod.url).of_another_instance(api.properties["site-uuid"])
        assert read_ahead(api, tree, registry, state_path) is None
