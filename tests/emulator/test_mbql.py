"""MBQL 4 <-> 5 conversion: recorded cards from both eras as golden data, plus the common clauses one by one."""

import json
from pathlib import Path

import pytest

from mbport import mbql
from mbport.emulator.profiles import get_profile

RECORDED = Path("/work/shared/metabase/recorded")
CARD_IDS = sorted(int(p.stem) for p in (RECORDED / "mbql4" / "card").glob("*.json"))


def recorded_query(era: str, card_id: int) -> dict:
    return json.loads((RECORDED / era / "card" / f"{card_id}.json").read_text())["dataset_query"]


def without_uuids(x):
    """The query with every lib/uuid value blanked (they are random on each conversion)."""
    if isinstance(x, dict):
        return {k: ("<uuid>" if k == mbql.UUID else without_uuids(v)) for k, v in x.items()}
    if isinstance(x, list):
        return [without_uuids(v) for v in x]
    return x


def uuids_in(x) -> list[str]:
    if isinstance(x, dict):
        return [v for k, v in x.items() if k == mbql.UUID] + [u for v in x.values() for u in uuids_in(v)]
    if isinstance(x, list):
        return [u for v in x for u in uuids_in(v)]
    return []


def stage(query: dict, index: int = 0) -> dict:
    return query["stages"][index]


@pytest.mark.parametrize("card_id", CARD_IDS)
def test_recorded_mbql4_converts_to_recorded_mbql5(card_id):
    converted = mbql.to_mbql5(recorded_query("mbql4", card_id))
    assert without_uuids(converted) == without_uuids(recorded_query("mbql5", card_id))


@pytest.mark.parametrize("card_id", CARD_IDS)
def test_recorded_mbql5_converts_back_to_recorded_mbql4(card_id):
    assert mbql.to_legacy(recorded_query("mbql5", card_id)) == recorded_query("mbql4", card_id)


def test_golden_data_is_present():
    assert len(CARD_IDS) >= 7


def test_every_clause_gets_its_own_fresh_uuid():
    query = mbql.to_mbql5(recorded_query("mbql4", 27))
    uuids = uuids_in(query)
    assert len(uuids) == 4 and len(set(uuids)) == 4  # the =, its two field refs, the join
    assert uuids_in(mbql.to_mbql5(recorded_query("mbql4", 27))) != uuids


def test_source_table_card_and_filter_and_split():
    legacy = {"database": 1, "type": "query", "query": {
        "source-table": "card__7",
        "filter": ["and", ["=", ["field", 1, None], 5], ["contains", ["field", 2, None], "x", {"case-sensitive": False}]],
    }}
    converted = mbql.to_mbql5(legacy)
    first = stage(converted)
    assert first["source-card"] == 7 and "source-table" not in first
    assert len(first["filters"]) == 2
    contains = first["filters"][1]
    assert contains[0] == "contains" and contains[1]["case-sensitive"] is False
    assert contains[2][0] == "field" and contains[2][2] == 2 and contains[3] == "x"
    assert mbql.to_legacy(converted) == legacy


def test_aggregation_breakout_order_by_limit_and_aggregation_refs():
    legacy = {"database": 1, "type": "query", "query": {
        "source-table": 3,
        "aggregation": [["count"], ["aggregation-options", ["sum", ["field", 4, None]], {"name": "total",
                                                                                       "display-name": "Total"}]],
        "breakout": [["field", 5, {"temporal-unit": "month"}]],
        "order-by": [["desc", ["aggregation", 1]], ["asc", ["field", 5, {"temporal-unit": "month"}]]],
        "limit": 10,
    }}
    converted = mbql.to_mbql5(legacy)
    first = stage(converted)
    count, total = first["aggregation"]
    assert count[0] == "count" and set(count[1]) == {mbql.UUID}
    assert total[1]["name"] == "total" and total[1]["display-name"] == "Total"
    assert first["breakout"][0] == ["field", {"temporal-unit": "month", mbql.UUID: first["breakout"][0][1][mbql.UUID]}, 5]
    desc = first["order-by"][0]
    assert desc[0] == "desc" and desc[2][0] == "aggregation"
    assert desc[2][2] == total[1][mbql.UUID], "MBQL 5 aggregation refs point at the aggregation's lib/uuid"
    assert first["limit"] == 10
    assert mbql.to_legacy(converted) == legacy


def test_expressions_map_becomes_named_list_and_back():
    legacy = {"database": 1, "type": "query", "query": {
        "source-table": 3,
        "expressions": {"double": ["*", ["field", 4, None], 2], "one": 1},
        "fields": [["expression", "double"], ["field", 4, None]],
    }}
    converted = mbql.to_mbql5(legacy)
    first = stage(converted)
    double, one = first["expressions"]
    assert double[0] == "*" and double[1][mbql.EXPRESSION_NAME] == "double"
    assert one[0] == "value" and one[1][mbql.EXPRESSION_NAME] == "one" and one[2] == 1
    assert first["fields"][0][0] == "expression" and first["fields"][0][2] == "double"
    assert mbql.to_legacy(converted) == legacy


def test_source_query_becomes_stages_and_back():
    legacy = {"database": 1, "type": "query", "query": {
        "source-query": {"source-table": 3, "aggregation": [["count"]], "breakout": [["field", 4, None]]},
        "filter": [">", ["field", "count", {"base-type": "type/Integer"}], 3],
    }}
    converted = mbql.to_mbql5(legacy)
    assert [s["lib/type"] for s in converted["stages"]] == ["mbql.stage/mbql", "mbql.stage/mbql"]
    assert stage(converted, 0)["source-table"] == 3
    ref = stage(converted, 1)["filters"][0][2]
    assert ref[0] == "field" and ref[2] == "count" and ref[1]["effective-type"] == "type/Integer"
    assert mbql.to_legacy(converted) == legacy


def test_join_with_source_query_strategy_and_several_conditions():
    join = {"alias": "P", "strategy": "inner-join", "fields": [["field", 9, {"join-alias": "P"}]],
            "source-query": {"source-table": 5, "filter": ["=", ["field", 8, None], 1]},
            "condition": ["and", ["=", ["field", 1, None], ["field", 9, {"join-alias": "P"}]],
                          ["=", ["field", 2, None], ["field", 10, {"join-alias": "P"}]]]}
    legacy = {"database": 1, "type": "query", "query": {"source-table": 3, "joins": [join]}}
    converted = mbql.to_mbql5(legacy)
    join5 = stage(converted)["joins"][0]
    assert join5["lib/type"] == "mbql/join" and mbql.UUID in join5["lib/options"]
    assert len(join5["conditions"]) == 2 and join5["strategy"] == "inner-join"
    assert join5["stages"][0]["source-table"] == 5 and len(join5["stages"][0]["filters"]) == 1
    assert mbql.to_legacy(converted) == legacy


def test_join_without_alias_gets_metabases_default():
    legacy = {"database": 1, "type": "query", "query": {"source-table": 3, "joins": [
        {"source-table": "card__4", "condition": ["=", ["field", 1, None], ["field", 2, None]]}]}}
    join5 = stage(mbql.to_mbql5(legacy))["joins"][0]
    assert join5["alias"] == "__join"
    assert join5["stages"][0]["source-card"] == 4


def test_metric_segment_and_measure_clauses():
    legacy = {"database": 1, "type": "query", "query": {
        "source-table": 3, "aggregation": [["metric", 12], ["measure", 4]], "filter": ["segment", 7]}}
    converted = mbql.to_mbql5(legacy)
    first = stage(converted)
    assert [a[0] for a in first["aggregation"]] == ["metric", "measure"]
    assert first["aggregation"][0][2] == 12 and first["filters"][0][2] == 7
    assert mbql.uses_clause(converted, "segment", 7) and not mbql.uses_clause(converted, "segment", 8)
    assert mbql.to_legacy(converted) == legacy


def test_case_and_time_interval_options():
    legacy = {"database": 1, "type": "query", "query": {
        "source-table": 3,
        "expressions": {"size": ["case", [[[">", ["field", 1, None], 10], "big"]], {"default": "small"}]},
        "filter": ["time-interval", ["field", 2, None], -30, "day", {"include-current": True}],
    }}
    converted = mbql.to_mbql5(legacy)
    case = stage(converted)["expressions"][0]
    assert case[0] == "case" and case[3] == "small" and case[2][0][1] == "big"
    interval = stage(converted)["filters"][0]
    assert interval[1]["include-current"] is True and interval[3:] == [-30, "day"]
    assert mbql.to_legacy(converted) == legacy


def test_unknown_clauses_pass_through_with_refs_inside_converted():
    legacy = {"database": 1, "type": "query", "query": {
        "source-table": 3, "filter": ["future-clause", ["field", 1, None], "x"], "mystery-key": {"a": [1, 2]}}}
    converted = mbql.to_mbql5(legacy)
    clause = stage(converted)["filters"][0]
    assert clause[0] == "future-clause" and clause[2] == "x"
    assert clause[1][0] == "field" and clause[1][2] == 1 and mbql.UUID in clause[1][1]
    assert stage(converted)["mystery-key"] == {"a": [1, 2]}
    assert mbql.to_legacy(converted) == legacy


def native_query(tags):
    return {"database": 1, "type": "native", "native": {"query": "select * from t where {{d}} {{snippet: s}}",
                                                        "template-tags": tags}}


TAGS = {
    "d": {"id": "a1", "name": "d", "display-name": "D", "type": "dimension", "dimension": ["field", 12, None],
          "widget-type": "category"},
    "snippet: s": {"id": "a2", "name": "snippet: s", "display-name": "S", "type": "snippet", "snippet-id": 3,
                   "snippet-name": "s"},
    "#5-q": {"id": "a3", "name": "#5-q", "display-name": "Q", "type": "card", "card-id": 5},
}


def test_native_template_tags_map_profile():
    converted = mbql.to_mbql5(native_query(TAGS), get_profile("0.61"))
    native_stage = stage(converted)
    assert native_stage["lib/type"] == "mbql.stage/native" and native_stage["native"].startswith("select")
    tags = native_stage["template-tags"]
    assert isinstance(tags, dict) and tags["snippet: s"]["snippet-id"] == 3 and tags["#5-q"]["card-id"] == 5
    assert tags["d"]["dimension"][0] == "field" and tags["d"]["dimension"][2] == 12
    assert mbql.source_card_ids(converted) == {5}
    assert mbql.to_legacy(converted) == native_query(TAGS)


def test_native_template_tags_list_profile():
    converted = mbql.to_mbql5(native_query(TAGS), get_profile("0.63"))
    tags = stage(converted)["template-tags"]
    assert isinstance(tags, list) and [t["name"] for t in tags] == ["d", "snippet: s", "#5-q"]
    assert mbql.to_legacy(converted) == native_query(TAGS)


def test_mbql5_input_is_kept_and_gets_missing_uuids():
    given = {"lib/type": "mbql/query", "database": 1, "stages": [
        {"lib/type": "mbql.stage/mbql", "source-table": 3, "filters": [["=", {}, ["field", {"base-type": "type/Text"}, 4], "x"]]}]}
    stored = mbql.to_mbql5(given)
    clause = stage(stored)["filters"][0]
    assert mbql.UUID in clause[1] and mbql.UUID in clause[2][1]
    assert without_uuids(stored) == without_uuids({**given, "stages": [{**given["stages"][0], "filters": [
        ["=", {mbql.UUID: 1}, ["field", {"base-type": "type/Text", mbql.UUID: 1}, 4], "x"]]}]})
    assert "lib.convert/converted?" not in stored
    kept = {"lib/type": "mbql/query", "database": 1, "stages": [
        {"lib/type": "mbql.stage/mbql", "source-table": 3, "limit": 1, "filters": [["=", {mbql.UUID: "u"}, 1, 1]]}]}
    assert mbql.to_mbql5(kept) == kept


def test_mbql5_tags_are_reshaped_for_the_profile():
    given = mbql.to_mbql5(native_query(TAGS), get_profile("0.63"))
    as_map = mbql.to_mbql5(given, get_profile("0.61"))
    assert isinstance(stage(as_map)["template-tags"], dict)


def test_mbql95_sort_directions_are_canonicalized_before_conversion():
    # legacy_mbql/normalize.cljc `canonicalize-order-by`: clients still send "ascending"/"descending" and the
    # reversed [<field> <direction>] form; Metabase stores asc/desc.
    legacy = {"database": 1, "type": "query", "query": {"source-table": 3, "order-by": [
        ["ascending", ["field", 4, None]], [["field", 5, None], "descending"], ["asc", 6], ["asc", ["field", 4, None]]]}}
    converted = stage(mbql.to_mbql5(legacy))["order-by"]
    assert [(c[0], c[2][2]) for c in converted] == [("asc", 4), ("desc", 5), ("asc", 6)]
    assert mbql.to_legacy(legacy)["query"]["order-by"] == [
        ["asc", ["field", 4, None]], ["desc", ["field", 5, None]], ["asc", ["field", 6, None]]]


def test_legacy_input_to_legacy_is_unchanged_and_query_type():
    legacy = native_query({})
    assert mbql.to_legacy(legacy) == legacy
    assert mbql.query_type(legacy) == "native"
    assert mbql.query_type(mbql.to_mbql5(recorded_query("mbql4", 27))) == "query"
    empty_tags = stage(mbql.to_mbql5(legacy))
    assert "template-tags" not in empty_tags


def test_mbql5_refs_without_uuid_are_kept_as_mbql5():
    """Clients (mbport's trees) send MBQL 5 without lib/uuid; the options map stays first, the name last."""
    from mbport import mbql
    from mbport.emulator.profiles import get_profile

    query = {"lib/type": "mbql/query", "database": 1, "stages": [{
        "lib/type": "mbql.stage/mbql", "source-table": 3,
        "expressions": [["-", {"lib/expression-name": "Net total"}, 1, 2]],
        "fields": [["expression", {}, "Net total"]],
        "order-by": [["asc", {}, ["aggregation", {}, "some-uuid"]]]}]}
    stage = mbql.to_mbql5(query, get_profile(None))["stages"][0]
    assert stage["fields"][0][0] == "expression" and stage["fields"][0][2] == "Net total"
    assert stage["order-by"][0][2][2] == "some-uuid"


def test_mbql5_order_by_an_aggregation_without_uuids_converts_to_legacy():
    """A tree's MBQL 5 (lib/uuids dropped except an aggregation's a ref points at) sorted by that aggregation: written
    to a 0.56 target and read by verify as `["desc", ["aggregation", 0]]`, as Metabase's lib/convert.cljc
    `->legacy-MBQL` gives it (was: `["desc", {}, ["aggregation", 0]]`, an MBQL 5 direction 0.56 stored as is)."""
    query = {"lib/type": "mbql/query", "database": 1, "stages": [{
        "lib/type": "mbql.stage/mbql", "source-table": 3,
        "aggregation": [["count", {mbql.UUID: "agg-0"}], ["sum", {mbql.UUID: "agg-1"}, ["field", {}, 4]]],
        "breakout": [["field", {}, 5]],
        "order-by": [["desc", {}, ["aggregation", {}, "agg-1"]], ["asc", {}, ["field", {}, 5]]]}]}
    assert mbql.to_legacy(query)["query"]["order-by"] == [["desc", ["aggregation", 1]], ["asc", ["field", 5, None]]]
