"""mbport.body_types: the JSON types of Metabase's write bodies, derived from its OpenAPI spec, and how a value is judged."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from mbport import body_types

ROOT = Path(__file__).parents[2]


def test_the_packaged_types_are_those_of_the_emulators_spec():
    """mbport/body_types.json is what scripts/extract_body_types.py derives from the spec the emulator checks bodies
    with: regenerate it when that spec changes."""
    loaded = importlib.util.spec_from_file_location("extract_body_types", ROOT / "scripts" / "extract_body_types.py")
    assert loaded is not None and loaded.loader is not None
    module = importlib.util.module_from_spec(loaded)
    loaded.loader.exec_module(module)
    assert (ROOT / "mbport" / body_types.FILE).read_bytes() == module.render()


SPEC = {"paths": {
    "/api/thing": {"post": {"requestBody": {"content": {"application/json": {"schema": {
        "type": "object", "properties": {"name": {"type": "string", "minLength": 1}, "size": {"$ref": "#/components/schemas/size"},
                                         "kind": {"enum": ["a", "b"]}, "free": {"description": "anything"}}}}}}}},
    "/api/thing/{thing-id}": {"put": {"requestBody": {"content": {"application/json": {"schema": {
        "type": "object", "properties": {"name": {"oneOf": [{"type": "string"}, {"type": "null"}]},
                                         "only_put": {"type": "boolean"}}}}}}}}},
    "components": {"schemas": {"size": {"allOf": [{"type": "integer"}, {"type": ["number", "string"]}]}}}}


def test_types_are_derived_through_refs_unions_and_enums_only():
    ops = body_types.derive(SPEC)
    assert set(ops) == {"POST /api/thing", "PUT /api/thing/{}"}
    post = ops["POST /api/thing"]["p"]
    assert post["name"] == {"t": ["string"]}  # bounds and patterns are left out: releases move them
    assert post["size"] == {"t": ["integer"]}  # allOf: what every branch takes
    assert post["kind"] == {"t": ["string"]} and post["free"] == {}
    assert ops["PUT /api/thing/{}"]["p"]["name"] == {"t": ["null", "string"]}


def test_a_field_takes_what_any_body_describing_it_takes(monkeypatch):
    monkeypatch.setattr(body_types, "operations", lambda: body_types.derive(SPEC))
    body = body_types.body(("POST /api/thing", "PUT /api/thing/{id}"))
    assert body_types.field(body, "name") == {"t": ["null", "string"]}
    assert body_types.field(body, "only_put") == {"t": ["boolean"]}
    assert body_types.body(("POST /api/nothing",)) is None


def test_values_are_judged_by_json_type():
    whole = {"t": ["integer"]}
    assert body_types.accepts(whole, 3) and body_types.accepts(whole, 3.0) and not body_types.accepts(whole, 3.5)
    assert not body_types.accepts(whole, True) and not body_types.accepts(whole, "3")
    assert body_types.accepts({"t": ["number"]}, 3) and body_types.accepts({}, object())
    assert body_types.describe({"t": ["null", "integer", "string"]}) == "a whole number or a string or null"
