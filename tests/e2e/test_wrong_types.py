"""A plain value of a JSON type Metabase's write body does not take for its field ("display": 42 on a card, a
dashcard's "size_x": "4", a table field's description 42) is named by `check` with its file, object and field, so plan
and import stop before any write instead of a 400 after the writes before it (mbport.body_types: the types of Metabase's
own OpenAPI bodies). Items a kind's `more` function builds (tables' fields, alerts' recipients) are checked too."""

from __future__ import annotations

from pathlib import Path

from mbport.check import check
from tests.conftest import writes_since
from tests.e2e.conftest import edit
from tests.e2e.instances import mbport, routed_instances

CARD = Path("cards/company/product-categories.json")
DASHBOARD = Path("dashboards/company/sales/sales-overview.json")
TABLE = Path("tables/shop-warehouse/no-schema/orders.json")
ALERT = Path("alerts/company/sales/revenue-by-month/alert-1.json")
COLLECTION = Path("collections/company.json")


def test_a_plain_value_of_the_wrong_type_is_named_with_its_file(edited, registry):
    edit(edited, CARD, lambda doc: doc.update(display=42))
    assert check(edited, registry) == [
        f"{CARD}: field 'display' in cards 'Product categories' must be a string or null, not a number"]


def test_import_stops_before_any_write(monkeypatch, tmp_path):
    """The instance's own export, a collection renamed and a card's display made a number, imported back: judged by
    what the target holds, no write at all (before, the rename was written, then the card's PUT answered 400)."""
    target = routed_instances(monkeypatch).add("prod", seed="sample")
    tree = tmp_path / "tree"
    flags = ["--url", target.url, "--session-token", target.session]
    assert mbport("export", *flags, "--out", tree).code == 0
    edit(tree, CARD, lambda doc: doc.update(display=42))
    edit(tree, COLLECTION, lambda doc: doc.update(name="Company (renamed)"))
    before = len(target.emu.request_log)
    run = mbport("import", tree, *flags, "--state", tmp_path / "state.json")
    assert run.code == 1 and "Traceback" not in run.err
    assert f"{CARD}: field 'display' in cards 'Product categories' must be a string or null, not a number" in run.err
    assert writes_since(target.emu, before) == []


def test_a_nested_plain_value_is_judged_by_its_place_in_the_body(edited, registry):
    edit(edited, DASHBOARD, lambda doc: doc["dashcards"][0].update(size_x="4"))
    [problem] = check(edited, registry)
    assert problem.startswith(f"{DASHBOARD}: field 'dashcards[].size_x' in dashboards")
    assert problem.endswith("must be a whole number, not a string")


def test_what_the_declaration_sends_is_what_is_judged(edited, registry):
    """A value Metabase takes in the form mbport sends it is no problem: an integral number where a whole number goes,
    a pulse's flag sent as true/false whatever it holds."""
    edit(edited, CARD, lambda doc: doc.update(cache_ttl=60.0))
    assert check(edited, registry) == []


def test_a_tables_field_is_checked_for_unknown_names_and_wrong_types(edited, registry):
    """A table's fields are built by a `more` function (their remapping): their names and types are checked too."""
    def wrong(doc):
        doc["fields"][0]["dispaly_name"] = doc["fields"][0].pop("display_name")
        doc["fields"][1]["description"] = 42
        doc["fields"][1]["remapping"] = ["internal"]

    edit(edited, TABLE, wrong)
    problems = sorted(check(edited, registry))
    assert [p.split(": ", 1)[0] for p in problems] == [str(TABLE)] * 3
    assert any("unknown field 'fields[].dispaly_name' (did you mean 'display_name'?) in tables" in p for p in problems)
    assert any("field 'fields[].description' in tables" in p and p.endswith("must be a string or null, not a number")
               for p in problems)
    assert any("field 'fields[].remapping' in tables" in p and p.endswith("must be a JSON object, not a list")
               for p in problems)


def test_an_alerts_recipient_is_checked_for_unknown_names(edited, registry):
    edit(edited, ALERT, lambda doc: doc["handlers"][0]["recipients"][1].update(
        vaule=doc["handlers"][0]["recipients"][1].pop("value")))
    [problem] = check(edited, registry)
    assert problem.startswith(f"{ALERT}: unknown field 'handlers[].recipients[].vaule' (did you mean 'value'?) in "
                              "alerts")
