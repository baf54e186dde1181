"""Connection impersonations: golden cases, a quiet empty export on OSS, and the EE round trip (export A → import into
an empty Enterprise B → export B equals A apart from entity ids; plan again is empty; drift repaired; --prune
deletes; an OSS target is a plan problem; check finds a graph that does not say impersonated)."""

from __future__ import annotations

import shutil

import pytest

from mbport.client import ApiError, MetabaseVersion
from mbport.errors import MbportError
from mbport.kind import ExportContext, PathContext
from mbport.resolve import Resolver
from tests.conftest import assert_settled, writes_since
from tests.plugins.ee_content import REGISTRY, assert_round_trip, empty_instance, importer
from tests.plugins.emulated_content import add_everything, cases, golden, new_instance

KIND = REGISTRY["impersonations"]
ROUTE = "/api/ee/advanced-permissions/impersonation"
ADDRESS = "impersonations/Analysts/Finance"


# ---------------------------------------------------------------- export

@pytest.mark.parametrize("path", cases("impersonations"), ids=lambda p: p.stem)
def test_golden_case_addresses_and_paths(path):
    case, doc, _ = golden(KIND, path)
    assert KIND.address_of(case["raw"]) == KIND.address_of(doc)
    group, database = KIND.key_parts(doc)
    assert KIND.address_of(doc) == f"impersonations/{group}/{database}"
    hint = KIND.path(doc, PathContext({}))
    assert hint.folder == (group.lower(),) and hint.stem == database


class Refusing:
    """An api whose every GET fails with one status, like an instance without the feature."""

    def __init__(self, status: int):
        self.status = status

    def get(self, path, params=None):
        raise ApiError("GET", path, self.status, "nope")


@pytest.mark.parametrize("status", [402, 404])
def test_an_instance_without_the_feature_has_no_impersonations(status):
    ctx = ExportContext()
    assert KIND.list(Refusing(status), ctx) == []
    assert f"no advanced_permissions feature ({status})" in ctx.unavailable["impersonations"]
    with pytest.raises(ApiError):
        KIND.list(Refusing(403), ExportContext())


@pytest.mark.parametrize("features, asked", [({}, True), ({"advanced_permissions": True}, True),
                                             ({"advanced_permissions": False}, False)])
def test_the_route_is_asked_unless_the_token_features_say_the_feature_is_off(features, asked):
    """A release whose token-features do not name the feature, or name it on, is asked (and its 402 read); one whose
    token-features say it is off is not: Metabase refuses the route on that very predicate."""
    class Token(Refusing):
        token_features = features
        requests = 0

        def get(self, path, params=None):
            self.requests += 1
            return super().get(path, params)

    api, ctx = Token(402), ExportContext()
    assert KIND.list(api, ctx) == []
    assert api.requests == (1 if asked else 0)
    assert ctx.unavailable["impersonations"].startswith(
        "it has no advanced_permissions feature " + ("(402)" if asked else "(its token-features)"))


def test_an_oss_export_is_quietly_without_impersonations(tmp_path):
    inst = add_everything(new_instance())
    result = inst.export(tmp_path / "tree")
    assert not [a for a in result.docs if a.startswith("impersonations/")]
    assert not (tmp_path / "tree" / "impersonations").exists()
    # its token-features say the feature is off: Metabase's answer would be a 402, so the route is not asked
    assert not [r for r in inst.emu.request_log if r[1] == ROUTE]


def test_the_seed_export_has_one_doc_per_group_and_database(ee_tree):
    _, result = ee_tree
    paths = {a: p for a, p in result.paths.items() if a.startswith("impersonations/")}
    assert paths == {ADDRESS: "impersonations/analysts/finance.json"}
    assert result.docs[ADDRESS] == {"group": {"$ref": "groups/Analysts"}, "database": {"$ref": "databases/Finance"},
                                    "attribute": "db_role"}
    grants = result.docs["data-permissions/graph"]["grants"]
    grant = next(g for g in grants if g["group"] == {"$ref": "groups/Analysts"}
                 and g["database"] == {"$ref": "databases/Finance"})
    assert grant["permissions"]["view-data"] == "impersonated"
    assert KIND.version_notes(MetabaseVersion.parse("v0.61.4"))
    assert KIND.version_notes(MetabaseVersion.parse("v1.61.4")) == []


def test_payload_turns_refs_into_ids():
    _, doc, _ = golden(KIND, next(p for p in cases("impersonations") if p.stem == "role-from-attribute"))
    ids = {"groups/Analysts": 7, "databases/Finance": 9}
    assert KIND.refs(doc) == set(ids)
    assert KIND.payload(doc, Resolver(ids), "main") == {"group_id": 7, "db_id": 9, "attribute": "db_role"}


# ---------------------------------------------------------------- import

def test_round_trip_equals_the_source_apart_from_entity_ids(ee_tree, imported, tmp_path):
    assert_round_trip(ee_tree, imported, tmp_path)
    admin = imported[2]
    assert [r["attribute"] for r in admin.get(ROUTE).json()] == ["db_role"]


def test_plan_again_is_empty_and_a_second_apply_writes_nothing(ee_tree, imported):
    out, _ = ee_tree
    emu, api, _, _, state = imported
    assert_settled(importer(out, api, state), emu)


def test_the_database_is_never_open_to_its_group_during_an_import(imported):
    """Metabase derives "impersonated" from the row: the one graph PUT that brings the row is the first write to say
    impersonated, and every other graph write comes after it."""
    emu, *_ = imported
    writes = [(m, p) for m, p, status in emu.request_log if m in ("POST", "PUT") and status < 400]
    graphs = [i for i, w in enumerate(writes) if w == ("PUT", "/api/permissions/graph")]
    assert len(graphs) == 2  # the impersonation's, then the data permissions graph


def test_drift_is_repaired(ee_tree, tmp_path):
    out, _ = ee_tree
    emu, api, admin = empty_instance()
    state = tmp_path / "b.json"
    first = importer(out, api, state)
    first.apply(first.plan())
    group, db = first.ids["groups/Analysts"], first.ids["databases/Finance"]
    graph = admin.get("/api/permissions/graph").json()
    admin.put("/api/permissions/graph", json={"revision": graph["revision"], "groups": {},
                                              "impersonations": [{"group_id": group, "db_id": db, "attribute": "x"}]})
    repair = importer(out, api, state)
    plan = repair.plan()
    assert {c.address: c.action for c in plan.changes if c.action != "noop"} == {ADDRESS: "update"}
    repair.apply(plan)
    assert [r["attribute"] for r in admin.get(ROUTE).json()] == ["db_role"]
    assert_settled(importer(out, api, state), emu)

    # A graph change away from impersonated deleted it: created again, before the graph is written back.
    admin.put("/api/permissions/graph", json={"revision": admin.get("/api/permissions/graph").json()["revision"],
                                              "groups": {str(group): {str(db): {"view-data": "blocked"}}}})
    assert admin.get(ROUTE).json() == []
    again = importer(out, api, state)
    plan = again.plan()
    assert {c.address: c.action for c in plan.changes if c.action != "noop"} == {
        ADDRESS: "create", "data-permissions/graph": "update"}
    again.apply(plan)
    assert [r["attribute"] for r in admin.get(ROUTE).json()] == ["db_role"]
    assert_settled(importer(out, api, state), emu)


@pytest.mark.parametrize("drifted", [False, True], ids=["fresh", "after-an-update"])
def test_prune_deletes(ee_tree, tmp_path, drifted):
    out, _ = ee_tree
    emu, api, admin = empty_instance()
    state = tmp_path / "b.json"
    first = importer(out, api, state)
    first.apply(first.plan())
    if drifted:  # repaired by an update, which replaces the row: prune must find the new one
        group, db = first.ids["groups/Analysts"], first.ids["databases/Finance"]
        graph = admin.get("/api/permissions/graph").json()
        admin.put("/api/permissions/graph", json={"revision": graph["revision"], "groups": {}, "impersonations": [
            {"group_id": group, "db_id": db, "attribute": "x"}]})
        repair = importer(out, api, state)
        repair.apply(repair.plan())
    pruned = tmp_path / "pruned"
    shutil.copytree(out, pruned)
    (pruned / "impersonations" / "analysts" / "finance.json").unlink()
    prune = importer(pruned, api, state, prune=True)
    plan = prune.plan()
    assert [c.address for c in plan.of("archive") if c.address.startswith("impersonations/")] == [ADDRESS]
    prune.apply(plan)
    assert admin.get(ROUTE).json() == []
    # Already gone (a graph change deleted it): a 404 is no error.
    KIND.archive(api, 999)


def test_an_oss_target_is_refused_at_plan_time_before_any_write(ee_tree, tmp_path):
    out, _ = ee_tree
    emu, api, _ = empty_instance(premium_features=None)
    imp = importer(out, api, tmp_path / "b.json")
    plan = imp.plan()
    refused = [p for p in plan.problems if p.startswith("impersonations/")]
    assert len(refused) == 1 and "no advanced_permissions feature (its token-features)" in refused[0]
    assert "Pro or Enterprise" in refused[0]
    before = len(emu.request_log)
    with pytest.raises(MbportError, match="problem"):
        imp.apply(plan)
    assert writes_since(emu, before) == []  # the target is untouched


def test_check_finds_an_impersonation_the_graph_does_not_say_impersonated(ee_tree, tmp_path):
    from mbport.check import check

    out, _ = ee_tree
    assert check(out, REGISTRY) == []
    tree = tmp_path / "tree"
    shutil.copytree(out, tree)
    graph_file = tree / "data-permissions" / "graph.json"
    text = graph_file.read_text()
    assert text.count('"impersonated"') == 1
    graph_file.write_text(text.replace('"impersonated"', '"blocked"'))
    problems = check(tree, REGISTRY)
    assert len(problems) == 1 and problems[0].startswith("impersonations/analysts/finance.json: ")
    assert "gives blocked view-data there, not `impersonated`" in problems[0]
