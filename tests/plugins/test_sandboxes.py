"""Sandboxes: golden cases, a quiet empty export on OSS, and the EE round trip (export A → import into an empty
Enterprise B → export B equals A apart from entity ids; plan again is empty; drift repaired; --prune deletes;
an OSS target is one clear error)."""

from __future__ import annotations

import shutil
from typing import Any

import pytest

from mbport.client import ApiError, MetabaseVersion
from mbport.errors import MbportError
from mbport.kind import ExportContext, PathContext
from mbport.resolve import Resolver
from tests.conftest import assert_settled, writes_since
from tests.plugins.ee_content import REGISTRY, assert_round_trip, empty_instance, importer
from tests.plugins.emulated_content import add_everything, cases, golden, new_instance

KIND = REGISTRY["sandboxes"]


# ---------------------------------------------------------------- export

@pytest.mark.parametrize("path", cases("sandboxes"), ids=lambda p: p.stem)
def test_golden_case_addresses_and_paths(path):
    case, doc, _ = golden(KIND, path)
    assert KIND.address_of(case["raw"]) == KIND.address_of(doc)
    group, db, schema, table = KIND.key_parts(doc)
    assert KIND.address_of(doc) == f"sandboxes/{group}/{db}/{schema}/{table}"
    hint = KIND.path(doc, PathContext({}))
    assert hint.folder[0] == group.lower().replace(" ", "-") and hint.stem == table


class Refusing:
    """An api whose every GET fails with one status and body, like an instance without the feature."""

    def __init__(self, status: int, body: Any):
        self.status, self.body = status, body

    def get(self, path, params=None):
        raise ApiError("GET", path, self.status, self.body)


@pytest.mark.parametrize(("status", "body"), [
    (402, {"message": "Sandboxes is a paid feature not currently available to your instance.",
           "status": "error-premium-feature-not-available"}),
    (404, "Not found."),
    (403, "Error: sandboxing is not enabled for this instance. Please check you have set a valid Enterprise token."),
])
def test_an_instance_without_the_feature_has_no_sandboxes(status, body):
    assert KIND.list(Refusing(status, body), ExportContext()) == []


def test_other_errors_are_not_swallowed():
    with pytest.raises(ApiError):
        KIND.list(Refusing(403, "You don't have permissions to do that."), ExportContext())
    with pytest.raises(ApiError):
        KIND.list(Refusing(500, {"message": "boom"}), ExportContext())


def test_an_oss_export_is_quietly_without_sandboxes(tmp_path):
    inst = add_everything(new_instance())
    result = inst.export(tmp_path / "tree")
    assert not [a for a in result.docs if a.startswith("sandboxes/")]
    assert not (tmp_path / "tree" / "sandboxes").exists()
    assert not [w for w in result.warnings if "sandbox" in w.lower()]
    # its token-features say the feature is off: Metabase's answer would be a 402, so the route is not asked
    assert not [r for r in inst.emu.request_log if r[1] == "/api/mt/gtap"]


def test_the_seed_export_has_one_doc_per_group_and_table(ee_tree):
    _, result = ee_tree
    paths = {a: p for a, p in result.paths.items() if a.startswith("sandboxes/")}
    assert paths == {
        "sandboxes/Analysts/Shop Warehouse//customers": "sandboxes/analysts/shop-warehouse/no-schema/customers.json",
        "sandboxes/Sales/Sample Database/PUBLIC/people": "sandboxes/sales/sample-database/public/people.json",
        "sandboxes/Sales/Shop Warehouse//orders": "sandboxes/sales/shop-warehouse/no-schema/orders.json",
    }
    people = result.docs["sandboxes/Sales/Sample Database/PUBLIC/people"]
    assert people == {"group": {"$ref": "groups/Sales"}, "table": {"$ref": "tables/Sample Database/PUBLIC/people"},
                      "attribute_remappings": {"region": ["dimension", [
                          "field", {"$ref": "fields/Sample Database/PUBLIC/people/state"}, None]]}}
    orders = result.docs["sandboxes/Sales/Shop Warehouse//orders"]
    assert orders["card"]["$ref"].startswith("cards/")
    assert orders["attribute_remappings"] == {"customer_id": ["variable", ["template-tag", "customer"]]}
    # The graph shows the sandboxed tables, by name.
    grants = result.docs["data-permissions/graph"]["grants"]
    sales_wh = next(g for g in grants if g["group"]["$ref"] == "groups/Sales"
                    and g["database"]["$ref"] == "databases/Shop Warehouse")
    assert sales_wh["permissions"]["view-data"] == {"": {"customers": "unrestricted", "orders": "sandboxed",
                                                         "products": "unrestricted"}}
    assert KIND.version_notes(MetabaseVersion.parse("v0.61.4"))
    assert KIND.version_notes(MetabaseVersion.parse("v1.61.4")) == []


def test_payload_turns_every_field_target_back_into_ids():
    case, doc, _ = golden(KIND, next(p for p in cases("sandboxes") if p.stem == "field-targets-without-question"))
    ids = {"groups/All Users": 1, "tables/Sample Database/PUBLIC/PEOPLE": 5,
           "fields/key-40": 400, "fields/key-41": 410, "fields/key-42": 420}
    assert KIND.refs(doc) == set(ids)
    assert KIND.payload(doc, Resolver(ids), "main") == {
        "group_id": 1, "table_id": 5, "card_id": None, "attribute_remappings": {
            "city": "CITY", "customer": 420, "region": ["dimension", ["field", 400, None]],
            "plan": ["dimension", ["field", {"base-type": "type/Text"}, 410], {"stage-number": 0}]}}


def test_query_bookkeeping_in_a_field_target_is_not_in_the_doc():
    import copy

    from mbport.testing import normalize_case

    case, doc, _ = golden(KIND, next(p for p in cases("sandboxes") if p.stem == "field-targets-without-question"))
    marked = copy.deepcopy(case)
    options = marked["raw"]["attribute_remappings"]["plan"][1][1]
    options.update({"lib/uuid": "3f0c1c8e-0000-4000-8000-000000000000", "lib/transformation-added-base-type": True})
    assert normalize_case(KIND, marked)[0] == doc


# ---------------------------------------------------------------- import

def test_round_trip_equals_the_source_apart_from_entity_ids(ee_tree, imported, tmp_path):
    assert_round_trip(ee_tree, imported, tmp_path)
    admin = imported[2]
    assert len(admin.get("/api/mt/gtap").json()) == 3


def test_verify_finds_no_difference_in_the_objects(seeded_ee, imported):  # noqa: F811
    objects, _ = _verified(seeded_ee, imported)
    assert objects == []


def test_verify_finds_every_sandbox_and_impersonation_equal_and_the_same_rows(seeded_ee, imported):  # noqa: F811
    objects, result = _verified(seeded_ee, imported)
    assert result.counts["sandboxes"].paired == 3 and result.counts["sandboxes"].equal == 3
    assert result.counts["impersonations"].paired == 1 and result.counts["impersonations"].equal == 1
    assert not [d for d in result.differences if d.kind.startswith("rows of ") or d.kind in ("users", "sandboxes")]


def _verified(seeded_ee, imported):  # noqa: F811
    from mbport.client import MetabaseClient
    from tests.verify.judge import judged

    emu, session = seeded_ee
    with MetabaseClient("http://a.test", session_token=session, transport=emu.transport()) as source:
        objects, _, result = judged(source, imported[1], imported[3].ids)
    return objects, result


def test_plan_again_is_empty_and_a_second_apply_writes_nothing(ee_tree, imported):
    out, _ = ee_tree
    emu, api, _, _, state = imported
    assert_settled(importer(out, api, state), emu)


def test_drift_is_repaired_and_prune_deletes(ee_tree, tmp_path):
    out, _ = ee_tree
    emu, api, admin = empty_instance()
    state = tmp_path / "b.json"
    first = importer(out, api, state)
    first.apply(first.plan())
    sandboxes = {s["table_id"]: s for s in admin.get("/api/mt/gtap").json()}
    orders = first.ids["tables/Shop Warehouse//orders"]
    people = first.ids["tables/Sample Database/PUBLIC/people"]
    admin.put(f"/api/mt/gtap/{sandboxes[orders]['id']}", json={"card_id": None, "attribute_remappings": {}})
    admin.delete(f"/api/mt/gtap/{sandboxes[people]['id']}")

    repair = importer(out, api, state)
    plan = repair.plan()
    changed = {c.address: c.action for c in plan.changes if c.action != "noop"}
    # The graph no longer shows people as sandboxed either; the graph is written first, then the sandbox.
    assert changed == {"sandboxes/Sales/Shop Warehouse//orders": "update",
                       "sandboxes/Sales/Sample Database/PUBLIC/people": "create", "data-permissions/graph": "update"}
    repair.apply(plan)
    assert not importer(out, api, state).plan().has_changes

    # A tree without the people sandbox: --prune deletes it; a sandbox already gone (404) is no error.
    pruned = tmp_path / "pruned"
    shutil.copytree(out, pruned)
    (pruned / "sandboxes" / "sales" / "sample-database" / "public" / "people.json").unlink()
    (pruned / "sandboxes" / "sales" / "shop-warehouse" / "no-schema" / "orders.json").unlink()
    graph = pruned / "data-permissions" / "graph.json"  # and the graph no longer sandboxes them (else refused)
    text = graph.read_text()
    assert text.count('"orders": "sandboxed"') == text.count('"people": "sandboxed"') == 1
    graph.write_text(text.replace('"orders": "sandboxed"', '"orders": "blocked"')
                     .replace('"people": "sandboxed"', '"people": "blocked"'))
    gone = next(s for s in admin.get("/api/mt/gtap").json() if s["table_id"] == orders)
    admin.delete(f"/api/mt/gtap/{gone['id']}")
    prune = importer(pruned, api, state, prune=True)
    plan = prune.plan()
    assert {c.address for c in plan.of("archive") if c.address.startswith("sandboxes/")} == {
        "sandboxes/Sales/Sample Database/PUBLIC/people", "sandboxes/Sales/Shop Warehouse//orders"}
    prune.apply(plan)
    assert [s["table_id"] for s in admin.get("/api/mt/gtap").json()] == [first.ids["tables/Shop Warehouse//customers"]]


def test_an_oss_target_is_refused_at_plan_time_before_any_write(ee_tree, tmp_path):
    out, _ = ee_tree
    emu, api, _ = empty_instance(premium_features=None)
    imp = importer(out, api, tmp_path / "b.json")
    plan = imp.plan()
    refused = [p for p in plan.problems if p.startswith("sandboxes/")]
    assert len(refused) == 3 and all("no sandboxes feature (its token-features)" in p and "Pro or Enterprise" in p
                                    for p in refused)
    before = len(emu.request_log)
    with pytest.raises(MbportError, match="problem"):
        imp.apply(plan)
    assert writes_since(emu, before) == []  # the target is untouched


def test_a_sandbox_write_that_meets_the_402_is_one_clear_error(ee_tree, tmp_path):
    """The feature lost between plan and apply (a token expired): the write names the sandbox."""
    out, _ = ee_tree
    tree = tmp_path / "tree"
    shutil.copytree(out, tree)
    shutil.rmtree(tree / "data-permissions")  # an OSS instance refuses the graph's `sandboxed` values first
    shutil.rmtree(tree / "impersonations")  # their graph write would meet the 402 first
    emu, api, _ = empty_instance()
    imp = importer(tree, api, tmp_path / "b.json")
    plan = imp.plan()
    emu.premium_features = None
    with pytest.raises(MbportError) as caught:
        imp.apply(plan)
    assert str(caught.value).startswith("sandboxes/") and "has no sandboxes feature (402)" in str(caught.value)
    assert "Pro or Enterprise" in caught.value.hint


def test_a_sandboxed_table_is_never_open_to_its_group_during_an_import(imported):
    """Metabase derives "sandboxed" from the sandbox row: every sandbox is created before the graph is written,
    so there is no moment (and no stopped import) where the graph has made the table unrestricted without it."""
    emu, *_ = imported
    writes = [(m, p) for m, p, status in emu.request_log if m in ("POST", "PUT") and status < 400]
    sandboxes = [i for i, w in enumerate(writes) if w == ("POST", "/api/mt/gtap")]
    graphs = [i for i, w in enumerate(writes) if w == ("PUT", "/api/permissions/graph")]
    assert sandboxes and graphs and max(sandboxes) < min(graphs)


def test_check_finds_a_sandbox_the_graph_does_not_say_sandboxed(ee_tree, tmp_path):
    from mbport.check import check

    out, _ = ee_tree
    assert check(out, REGISTRY) == []
    tree = tmp_path / "tree"
    shutil.copytree(out, tree)
    graph_file = tree / "data-permissions" / "graph.json"
    graph_file.write_text(graph_file.read_text().replace('"customers": "sandboxed"', '"customers": "unrestricted"'))
    problems = check(tree, REGISTRY)
    assert len(problems) == 1 and problems[0].startswith("sandboxes/analysts/shop-warehouse/no-schema/customers.json: ")
    assert "gives unrestricted view-data there, not `sandboxed`" in problems[0]


@pytest.mark.parametrize("folder", ["sandboxes", "impersonations"])
def test_a_graph_that_restricts_without_its_rows_is_refused_before_any_write(ee_tree, tmp_path, folder):
    """The graph says sandboxed (impersonated) but the tree has no sandbox (impersonation) and the target none
    either: Metabase would store the table (database) as unrestricted, so the import stops at plan time."""
    out, _ = ee_tree
    tree = tmp_path / "tree"
    shutil.copytree(out, tree)
    shutil.rmtree(tree / folder)
    emu, api, _ = empty_instance()
    imp = importer(tree, api, tmp_path / "b.json")
    plan = imp.plan()
    refused = [p for p in plan.problems if p.startswith("data-permissions/graph: ")]
    assert len(refused) == (3 if folder == "sandboxes" else 1)
    assert all("would leave the" in p and f"export the {folder} too" in p for p in refused)
    before = len(emu.request_log)
    with pytest.raises(MbportError, match="problem"):
        imp.apply(plan)
    assert writes_since(emu, before) == []


@pytest.mark.parametrize(("view", "problem"), [
    ({"": "sandboxed"}, None),  # Metabase collapses a schema whose every table is sandboxed
    ({"": "unrestricted"}, "gives unrestricted view-data there, not `sandboxed`"),
    ({"": {"customers": "sandboxed"}}, None),
    ({"": {"orders": "sandboxed"}}, "gives no view-data there"),
])
def test_check_reads_the_graph_at_the_sandboxes_table_or_its_schema(view, problem):
    """The graph gives view-data per table, or one value for a whole schema: both are read at the sandbox's table."""
    from mbport.hooks import DiagnoseContext, Phase

    group, database = {"$ref": "groups/Analysts"}, {"$ref": "databases/Shop"}
    graph = {"grants": [{"group": group, "database": database, "permissions": {"view-data": view}}]}
    doc = {"group": group, "table": {"$ref": "tables/Shop//customers"}}
    problems = KIND.diagnose(doc, Phase.TREE, DiagnoseContext(docs={"data-permissions/graph": graph}))
    assert problems == [] if problem is None else (len(problems) == 1 and problem in problems[0])
