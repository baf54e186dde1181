"""What a no-change plan does once, counted (not timed): loading the tree, building its graph, reading the target
and comparing cost no walk of the cycle collector (at bench-L, collections walking the tree and the target's
objects again and again were a third of the plan's CPU), and the objects return to the collector once the
caller drops the import and the plan."""

from __future__ import annotations

import gc

import pytest

from mbport.export import run_export
from mbport.importing import ImportOptions, open_import
from mbport.registry import load_plugins
from tests.conftest import seeded_instance


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """The sample seed's instance and its tree (a plan of that tree against it changes nothing)."""
    _, client = seeded_instance("sample")
    tree = tmp_path_factory.mktemp("plan-cost") / "tree"
    result = run_export(client, load_plugins(), tree)
    assert result.counts["cards"] > 0
    del result
    return client, tree


def test_a_plan_triggers_no_collection_and_gives_its_objects_back_when_dropped(exported, tmp_path):
    client, tree = exported
    registry = load_plugins()
    collections: list[int] = []

    def count(phase, info):
        if phase == "start":
            collections.append(info["generation"])

    gc.collect()
    assert gc.isenabled()
    gc.callbacks.append(count)
    try:
        run = open_import(client, tree, ImportOptions(state=tmp_path / "state.json"), registry=registry)
        plan = run.plan()
    finally:
        gc.callbacks.remove(count)
    assert len(plan.changes) > 50 and not plan.has_changes and plan.problems == []
    assert collections == []
    assert gc.isenabled() and gc.get_freeze_count() > 10_000
    del run, plan
    assert gc.get_freeze_count() == 0  # the caller let them go: everything is collectable again


def test_a_plan_builds_the_graph_once_and_scans_each_doc_for_its_refs_once(exported, tmp_path, monkeypatch):
    """`check` of the tree, the import's graph and plan's comparisons share one reference graph, plan reuses the
    refs it read, and a kind's stage refs (a card's, a dashboard's) reuse the refs the graph asked for: each doc
    is scanned for refs once."""
    from collections import Counter

    from mbport import kind, refgraph

    client, tree = exported
    builds: list[int] = []
    real_build = refgraph.build
    monkeypatch.setattr(refgraph, "build", lambda *a: builds.append(1) or real_build(*a))
    scanned: Counter[int] = Counter()
    real_collect = kind.collect_refs

    def counted(*payloads):
        scanned.update(id(p) for p in payloads)
        return real_collect(*payloads)

    monkeypatch.setattr(kind, "collect_refs", counted)
    run = open_import(client, tree, ImportOptions(state=tmp_path / "state.json"), registry=load_plugins())
    plan = run.plan()
    assert len(plan.changes) > 50 and not plan.has_changes
    assert builds == [1]
    plain = {id(d) for a, d in run.tree.docs.items() if type(run.importer.kind(a)).refs is kind.Kind.refs}
    assert len(plain) > 30 and plain <= set(scanned) and max(scanned.values()) == 1
