"""A field no kind declares (a typo in a hand-edited tree), or a declared one of the wrong JSON type where the
declaration says it, is named by `check`, and so stops plan and import before any write; the seeds' exported trees
(tests/golden/) hold none."""

from __future__ import annotations

from pathlib import Path

import pytest

from mbport.check import check
from mbport.importing import TreeProblems, load_import_tree
from tests.e2e.conftest import GOLDEN, edit
from tests.e2e.instances import mbport

CARD = Path("cards/company/product-categories.json")
DASHBOARD = Path("dashboards/company/sales/sales-overview.json")


@pytest.mark.parametrize("seed", sorted(p.name for p in GOLDEN.iterdir() if p.is_dir()))
def test_every_golden_tree_checks_clean(seed, registry):
    assert check(GOLDEN / seed, registry) == []


def test_a_typo_in_a_field_name_is_named_with_its_file(edited, registry):
    edit(edited, CARD, lambda doc: doc.update(dispaly="bar"))
    assert check(edited, registry) == [
        f"{CARD}: unknown field 'dispaly' (did you mean 'display'?) in cards 'Product categories': no cards field "
        "is called that, so import would never write it"]


def test_a_typo_inside_a_dashcard_names_the_list_and_the_field(edited, registry):
    def typo(doc):
        doc["dashcards"][0]["rwo"] = doc["dashcards"][0].pop("row", 0)

    edit(edited, DASHBOARD, typo)
    [problem] = check(edited, registry)
    assert problem.startswith(f"{DASHBOARD}: unknown field 'dashcards[].rwo' (did you mean 'row'?) in dashboards")


def test_free_form_values_are_not_looked_into(edited, registry):
    """visualization_settings, parameters and the like are Metabase's own maps: any key is theirs to hold."""
    def free_form(doc):
        doc.setdefault("visualization_settings", {})["graph.dispaly_whatever"] = True
        doc["dataset_query"]["made-up-key"] = 1

    edit(edited, CARD, free_form)
    assert check(edited, registry) == []


def test_import_refuses_the_tree_before_reading_the_target(edited, registry):
    edit(edited, CARD, lambda doc: doc.update(dispaly="bar"))
    with pytest.raises(TreeProblems) as raised:
        load_import_tree(edited, registry)
    assert [p for p in raised.value.problems if "'dispaly'" in p and str(CARD) in p]


def test_check_exits_non_zero_naming_the_file(edited):
    edit(edited, CARD, lambda doc: doc.update(dispaly="bar"))
    result = mbport("check", edited)
    assert result.code == 1
    assert f"{CARD}: unknown field 'dispaly'" in result.out + result.err
    assert "Traceback" not in result.out + result.err


def test_a_value_of_the_wrong_json_type_is_named_where_the_declaration_gives_it(edited, registry):
    def wrong(doc):
        doc["collection"] = 42
        doc["visualization_settings"] = []

    edit(edited, CARD, wrong)
    assert sorted(check(edited, registry)) == [
        f"{CARD}: field 'collection' in cards 'Product categories' must be a ref {{\"$ref\": \"<kind>/<key>\"}}, "
        "not a number",
        f"{CARD}: field 'visualization_settings' in cards 'Product categories' must be a JSON object, not a list"]


def test_a_nested_item_of_the_wrong_type_is_named(edited, registry):
    edit(edited, DASHBOARD, lambda doc: doc["dashcards"][0].update(card=7))
    [problem] = check(edited, registry)
    assert problem.startswith(f"{DASHBOARD}: field 'dashcards[].card' in dashboards")
    assert problem.endswith("not a number")
