"""The id walker finds every id in real Metabase payloads and maps them both ways without loss."""

import json
from pathlib import Path

import pytest

from mbport.refs import Walker, address, collect_refs, ref, split_address

RECORDED = Path(__file__).resolve().parents[3] / "shared" / "metabase" / "recorded"


def exporter(seen):
    def fn(kind, value):
        seen.append((kind, value))
        return ref(address(kind, f"id{value}"))

    return fn


def importer(kind, value):
    k, parts = split_address(value["$ref"])
    assert k == kind, (k, kind)
    return int(parts[0][2:])


def roundtrip(method, payload):
    seen = []
    exported = getattr(Walker(exporter(seen)), method)(payload)
    back = getattr(Walker(importer), method)(exported)
    assert back == payload
    return exported, seen


def test_address_escaping_roundtrip():
    addr = address("fields", "Sample DB", None, "a/b%c", "x")
    assert addr == "fields/Sample DB//a%2Fb%25c/x"
    assert split_address(addr) == ("fields", ["Sample DB", "", "a/b%c", "x"])


def test_mbql4_query_slots():
    query = {
        "database": 2, "type": "query",
        "query": {
            "source-table": 10,
            "joins": [{"source-table": "card__7", "alias": "M", "condition": ["=", ["field", 84, None], ["field", "id", {"join-alias": "M", "base-type": "type/Integer"}]]}],
            "filter": ["and", ["segment", 3], [">", ["field", 79, {"source-field": 80}], 5]],
            "aggregation": [["metric", 9], ["sum", ["field", 81, None]]],
            "breakout": [["field", 82, {"temporal-unit": "month"}]],
        },
    }
    exported, seen = roundtrip("query", query)
    assert ("databases", 2) in seen and ("tables", 10) in seen and ("cards", 7) in seen
    # ["metric", 9] on a table: a legacy metric on 0.50, else the metric card (ExportContext.ref falls back).
    assert ("segments", 3) in seen and ("legacy-metrics", 9) in seen and ("fields", 80) in seen
    assert exported["query"]["joins"][0]["source-table"] == ref("cards/id7")
    # the literal 5 and the column name "id" are values, not ids
    assert ["field", "id", {"join-alias": "M", "base-type": "type/Integer"}] in exported["query"]["joins"][0]["condition"]
    assert 5 in exported["query"]["filter"][2]


def test_mbql5_query_and_native_tags():
    query = {
        "lib/type": "mbql/query", "database": 2,
        "stages": [
            {"lib/type": "mbql.stage/native",
             "native": "select * from {{#12-orders-model}} o where {{ snippet: Paid }} and [[o.x = {{cat}}]] {{#13}}",
             "template-tags": {
                 "#12-orders-model": {"type": "card", "card-id": 12, "name": "#12-orders-model", "display-name": "#12 Orders Model", "id": "u1"},
                 "#13": {"type": "card", "card-id": 13, "name": "#13", "id": "u3"},
                 "snippet: Paid": {"type": "snippet", "snippet-id": 4, "snippet-name": "Paid", "name": "snippet: Paid", "id": "u2"},
                 "cat": {"type": "dimension", "dimension": ["field", {"lib/uuid": "x"}, 55], "name": "cat", "widget-type": "category", "id": "u4"},
             }},
        ],
    }
    exported, seen = roundtrip("query", query)
    stage = exported["stages"][0]
    assert "{{#[cards/id12]-orders-model}}" in stage["native"] and "{{#[cards/id13]}}" in stage["native"]
    assert set(stage["template-tags"]) == {"#[cards/id12]-orders-model", "#[cards/id13]", "snippet: Paid", "cat"}
    assert stage["template-tags"]["cat"]["dimension"][2] == ref("fields/id55")
    assert ("snippets", 4) in seen
    assert collect_refs(exported) >= {"cards/id12", "cards/id13", "snippets/id4", "fields/id55", "databases/id2"}


def test_template_tags_as_list_063():
    tags = [{"type": "card", "card-id": 12, "name": "#12-x"}, {"type": "text", "name": "t"}]
    exported, _ = roundtrip("template_tags", tags)
    assert exported[0] == {"type": "card", "card-id": ref("cards/id12"), "name": "#[cards/id12]-x"}


def test_mbql4_native_query_text():
    query = {"database": 1, "type": "native", "native": {"query": "select * from {{#5-a}}", "template-tags": {"#5-a": {"card-id": 5, "type": "card", "name": "#5-a"}}}}
    exported, _ = roundtrip("query", query)
    assert exported["native"]["query"] == "select * from {{#[cards/id5]-a}}"


def test_viz_settings_json_keys_click_behaviour_links():
    settings = {
        "column_settings": {
            '["ref",["field",12,null]]': {"column_title": "Total", "click_behavior": {"type": "link", "linkType": "dashboard", "targetId": 3, "tabId": 8, "parameterMapping": {"abc": {"id": "abc", "source": {"type": "column", "id": "TOTAL", "name": "Total"}, "target": {"type": "parameter", "id": "abc"}}}}},
            '["name","count"]': {"show_mini_bar": True},
        },
        "click_behavior": {"type": "link", "linkType": "question", "targetId": 44, "parameterMapping": {
            '["dimension",["field",31,null]]': {"id": '["dimension",["field",31,null]]', "source": {"type": "column", "id": "X", "name": "X"}, "target": {"type": "dimension", "id": '["dimension",["field",31,null]]', "dimension": ["dimension", ["field", 31, None]]}}}},
        "link": {"entity": {"id": 9, "model": "dataset", "name": "M"}},
        "timeline.selected_timeline_ids": [2],
        "table.columns": [{"name": "X", "fieldRef": ["field", 31, None], "enabled": True}],
        "visualization": {"columnValuesMapping": {"COLUMN_1": [{"sourceId": "card:44", "originalName": "x", "name": "COLUMN_1"}]}},
        "graph.dimensions": ["CREATED_AT"],
    }
    exported, seen = roundtrip("viz", settings)
    assert '["ref",["field",{"$ref":"fields/id12"},null]]' in exported["column_settings"]
    assert '["name","count"]' in exported["column_settings"]
    assert ("dashboards", 3) in seen and ("tabs", 8) in seen and ("cards", 44) in seen
    assert ("timelines", 2) in seen and ("fields", 31) in seen
    assert exported["link"]["entity"]["id"] == ref("cards/id9")
    assert exported["visualization"]["columnValuesMapping"]["COLUMN_1"][0]["sourceId"] == "card:[cards/id44]"
    assert "cards/id44" in collect_refs(exported) and "fields/id31" in collect_refs(exported)


def test_parameters_and_mappings():
    params = [{"id": "p1", "type": "category", "values_source_type": "card", "values_source_config": {"card_id": 7, "value_field": ["field", 70, None]}, "filteringParameters": ["p2"]}]
    mappings = [{"parameter_id": "p1", "card_id": 7, "target": ["dimension", ["field", 71, {"stage-number": 0}]]}]
    _, seen = roundtrip("parameters", params)
    assert ("cards", 7) in seen and ("fields", 70) in seen
    _, seen = roundtrip("parameter_mappings", mappings)
    assert ("fields", 71) in seen


@pytest.mark.skipif(not RECORDED.exists(), reason="recorded responses not available")
@pytest.mark.parametrize("era", ["mbql4", "mbql5"])
def test_recorded_dashboards_and_cards_roundtrip(era):
    dash = json.loads((RECORDED / era / "dashboard" / "2.json").read_text())
    for dc in dash["dashcards"]:
        for method, key in (("viz", "visualization_settings"), ("parameter_mappings", "parameter_mappings")):
            roundtrip(method, dc[key])
    roundtrip("parameters", dash["parameters"])
    for card_file in sorted((RECORDED / era / "card").glob("*.json")):
        card = json.loads(card_file.read_text())
        exported, seen = roundtrip("query", card["dataset_query"])
        assert ("databases", card["database_id"]) in seen
        if f'"source-table": {card["table_id"] or -1}' in json.dumps(card["dataset_query"]):
            assert ("tables", card["table_id"]) in seen
        roundtrip("viz", card["visualization_settings"])


def test_names_that_look_like_refs_are_text():
    doc = {"name": "#[WIP] Revenue", "description": "see card:[draft]", "native": "select 1 -- [x]"}
    assert collect_refs(doc) == set()
    assert collect_refs({"native": "select * from {{#[cards/abc]-x}}", "s": "card:[cards/def]"}) == {"cards/abc", "cards/def"}


def test_a_metric_clause_on_a_table_is_a_legacy_metric_only_where_the_source_has_them():
    from mbport.kind import ExportContext

    query = {"source-table": 10, "aggregation": [["metric", 9]]}
    on_card = {"source-table": "card__9", "aggregation": [["metric", 9]]}
    newer = ExportContext(raw={"legacy-metrics": []}, index={("cards", 9): "cards/m"})
    assert newer.walker.query(query)["aggregation"] == [["metric", {"$ref": "cards/m"}]]
    old = ExportContext(raw={"legacy-metrics": [{"id": 9}]},
                        index={("cards", 9): "cards/m", ("legacy-metrics", 9): "legacy-metrics/l"})
    assert old.walker.query(query)["aggregation"] == [["metric", {"$ref": "legacy-metrics/l"}]]
    assert old.walker.query(on_card)["aggregation"] == [["metric", {"$ref": "cards/m"}]]


def _random_query(rng, depth=0):
    """A nested structure from the words a stored query uses: noise keys, maps of user names, id slots, clauses."""
    keys = ["lib/uuid", "ident", "aggregation-idents", "lib.convert/converted?", "expressions", "template-tags",
            "source-table", "source-card", "card-id", "field-id", "snippet-id", "table-id", "database", "native",
            "query", "name", "stages", "filters", "aggregation", "order-by", "x"]
    heads = ["field", "aggregation", "metric", "segment", "field-id", "count", "desc", "+"]
    uuids = ["u1", "u2", "u3"]
    leaf = [1, 2, "card__3", "u1", "u2", None, True, "select {{#4-x}}", "#5-y"]
    if depth > 4 or rng.random() < 0.25:
        return rng.choice(leaf)
    if rng.random() < 0.5:
        head = rng.choice(heads)
        if head == "aggregation" and rng.random() < 0.6:
            return ["aggregation", {"lib/uuid": rng.choice(uuids)} if rng.random() < 0.5 else {}, rng.choice(uuids)]
        return [head] + [_random_query(rng, depth + 1) for _ in range(rng.randint(0, 3))]
    out = {}
    for _ in range(rng.randint(0, 4)):
        key = rng.choice(keys)
        if key == "lib/uuid":
            out[key] = rng.choice(uuids)
        elif key == "expressions":  # custom columns: user names (one named like noise) → clauses
            out[key] = {rng.choice(["a", "ident", "lib/uuid"]): _random_query(rng, depth + 1) for _ in range(2)}
        elif key == "template-tags" and rng.random() < 0.5:
            out[key] = [{"name": rng.choice(["#6-z", "a", "b"]), "card-id": rng.choice([6, 7]), "ident": "i"}
                        for _ in range(rng.randint(0, 2))]
        else:
            out[key] = _random_query(rng, depth + 1)
    return out


def test_the_canonical_walk_is_the_walk_of_the_canonical_query():
    """Export walks a stored query and drops its noise in one pass (Walker.canonical_query): the result is the walk
    of canonical_query's copy, on recorded queries and on random structures of the words queries use."""
    import random

    from mbport.canonical import canonical_query

    queries = []
    if RECORDED.exists():
        queries = [json.loads(p.read_text())["dataset_query"] for p in sorted(RECORDED.glob("*/card/*.json"))]
    rng = random.Random(17)
    queries += [_random_query(rng) for _ in range(3000)]
    def outcome(walk, *args):
        try:
            return walk(*args)
        except (TypeError, KeyError, AttributeError) as exc:  # both refuse a structure no Metabase stores alike
            return type(exc)

    refused = 0
    for query in queries:
        one, two = [], []
        merged = outcome(Walker(exporter(one)).canonical_query, query)
        assert merged == outcome(lambda q, seen: Walker(exporter(seen)).query(canonical_query(q)), query, two), query
        assert one == two  # the same ids asked for, in the same order
        refused += isinstance(merged, type)
    assert refused < 300  # most of the random structures are walked


def _random_parameters(rng):
    """A list like dashboard parameters or parameter mappings (or not a list at all), of the words both use and the
    words a stored query uses inside them."""
    def item():
        if rng.random() < 0.1:
            return _random_query(rng, 3)
        keys = ["card_id", "target", "values_source_config", "parameter_id", "lib/uuid", "ident", "template-tags",
                "expressions", "x"]
        out = {}
        for key in rng.sample(keys, rng.randint(0, 5)):
            if key == "values_source_config" and rng.random() < 0.8:
                out[key] = {k: rng.choice(["u1", "u2"]) if k == "lib/uuid" else _random_query(rng, 2) for k in rng.sample(
                    ["card_id", "value_field", "label_field", "lib/uuid", "values", "ident"], rng.randint(0, 4))}
            elif key == "card_id":
                out[key] = rng.choice([1, 2, None, True, [3], {"lib/uuid": "u1"}])
            elif key == "lib/uuid":
                out[key] = rng.choice(["u1", "u2", "u3"])
            else:
                out[key] = _random_query(rng, 1)
        return out

    if rng.random() < 0.05:
        return _random_query(rng, 2)
    if rng.random() < 0.05:
        return ["aggregation", {"lib/uuid": "u1"}, "u1"]
    return [item() for _ in range(rng.randint(0, 3))]


@pytest.mark.parametrize("shape", ["parameters", "parameter_mappings"])
def test_the_canonical_walk_of_parameters_is_the_walk_of_their_canonical_copy(shape):
    """Export copies a dashcard's parameter mappings (a dashboard's, a card's parameters) once, dropping their noise
    as it walks them (Walker.canonical): the same result, and the same ids asked for in the same order, as walking
    canonical_query's copy."""
    import random

    from mbport.canonical import canonical_query

    def outcome(walk, *args):
        try:
            return walk(*args)
        except (TypeError, KeyError, AttributeError) as exc:  # both refuse a structure no Metabase stores alike
            return type(exc)

    rng = random.Random(23)
    refused = 0
    for _ in range(3000):
        node = _random_parameters(rng)
        one, two = [], []
        merged = outcome(Walker(exporter(one)).canonical, shape, node)
        assert merged == outcome(lambda n, seen: getattr(Walker(exporter(seen)), shape)(canonical_query(n)), node,
                                 two), node
        refused += isinstance(merged, type)
        assert one == two or isinstance(merged, type)  # (an error may come before or after an id was asked for)
    assert refused < 300
