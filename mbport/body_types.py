"""The JSON types Metabase's write requests take, per operation and body field (derived from its OpenAPI spec into
body_types.json by scripts/extract_body_types.py): `check` judges a doc's plain values by them before any write.

Only JSON types are kept (never enums, bounds or patterns, which move between releases): a value is refused only
when its type is one no body of the kind's operations takes for that field, so nothing a release accepts is."""

from __future__ import annotations

import functools
import re
from pathlib import Path
from typing import Any

import orjson

# A body field's node: "t" the JSON types it takes (absent: any value), "p" an object's fields, "i" a list's items.
Node = dict[str, Any]
FILE = "body_types.json"
DEPTH = 8  # nodes below this depth take any value (the walked structures' insides are Metabase's own)
_PARAM = re.compile(r"\{[^}]*\}")
_TYPES = ("null", "boolean", "integer", "number", "string", "array", "object")


def op_key(method: str, path: str) -> str:
    """`PUT /api/card/{}`: an operation's name, whatever its path parameters are called."""
    return f"{method.upper()} {_PARAM.sub('{}', path)}"


@functools.cache
def operations() -> dict[str, Node]:
    """Operation name → its JSON body's node."""
    return orjson.loads((Path(__file__).parent / FILE).read_bytes())


def body(writes: tuple[str, ...]) -> Node | None:
    """What these write bodies take: each field what any of the bodies that describe it takes (a field PUT alone
    describes is PUT's, e.g. a card's `embedding_type`); None: none known. A write is an operation ("PUT
    /api/table/{id}"), or a place inside its body ("PUT /api/dashboard/{id} dashcards[]": the items of its dashcards)."""
    known = [node for node in map(_at, writes) if node is not None]
    if not known:
        return None
    fields: dict[str, Node] = {}
    for node in known:
        for name, inner in node.get("p", {}).items():
            fields[name] = merge(fields[name], inner) if name in fields else inner
    return {"t": ["object"], "p": fields}


def _at(write: str) -> Node | None:
    method, path, *inside = write.split(" ")
    node = operations().get(op_key(method, path))
    for part in inside:
        node = field(node, part.removesuffix("[]"))
        node = items(node) if part.endswith("[]") else node
    return node


def field(node: Node | None, name: str) -> Node | None:
    """The node of an object body's field `name` (None: not a field the body describes)."""
    return (node or {}).get("p", {}).get(name)


def items(node: Node | None) -> Node | None:
    return (node or {}).get("i")


def merge(a: Node, b: Node) -> Node:
    """What either node takes (never less): types united (any if either takes any); an object's fields and a list's
    items as either restricts them (a field only one of them describes is free)."""
    out: Node = {}
    if "t" in a and "t" in b:
        out["t"] = sorted(set(a["t"]) | set(b["t"]), key=_TYPES.index)
    for key, can in (("p", "object"), ("i", "array")):
        if not _can(a, can):
            inner = b.get(key)
        elif not _can(b, can):
            inner = a.get(key)
        elif key in a and key in b:
            inner = ({k: merge(v, b["p"][k]) for k, v in a["p"].items() if k in b["p"]} if key == "p"
                     else merge(a["i"], b["i"]))
        else:
            inner = None
        if inner is not None:
            out[key] = inner
    return out


def _can(node: Node, t: str) -> bool:
    return "t" not in node or t in node["t"]


def json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "integer" if value.is_integer() else "number"  # JSON Schema: 1.0 is an integer
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list) else "object"


def accepts(node: Node | None, value: Any) -> bool:
    """Whether the node's types take the value's (an integer is a number too)."""
    if node is None or "t" not in node:
        return True
    t = json_type(value)
    return t in node["t"] or (t == "integer" and "number" in node["t"])


def describe(node: Node) -> str:
    """`a string or null`: the node's types in words."""
    words = {"null": "null", "boolean": "true or false", "integer": "a whole number", "number": "a number",
             "string": "a string", "array": "a JSON list", "object": "a JSON object"}
    types = [t for t in node.get("t", []) if t != "null" and not (t == "integer" and "number" in node["t"])]
    types += ["null"] if "null" in node.get("t", []) else []
    return " or ".join(words[t] for t in types) if types else "nothing (no value is taken)"


# ---- derivation from the OpenAPI spec (scripts/extract_body_types.py; tests/unit/test_body_types.py keeps them equal) ----

def derive(spec: dict[str, Any]) -> dict[str, Node]:
    """Operation name → body node, of every POST and PUT with a JSON body in `spec`."""
    schemas = spec.get("components", {}).get("schemas", {})
    out = {}
    for path, ops in sorted(spec["paths"].items()):
        for method, op in sorted(ops.items()):
            schema = op.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema")
            if method in ("post", "put") and schema is not None:
                out[op_key(method, path)] = _node(schema, schemas, 0)
    return out


def _node(schema: Any, schemas: dict[str, Any], depth: int) -> Node:
    if depth > DEPTH or not isinstance(schema, dict):
        return {}
    ref = schema.get("$ref")
    if isinstance(ref, str):
        target = schemas.get(ref.rsplit("/", 1)[-1])
        return _node(target, schemas, depth + 1) if target is not None else {}
    node: Node = {}
    if "type" in schema:
        node["t"] = sorted({schema["type"]} if isinstance(schema["type"], str) else set(schema["type"]),
                           key=_TYPES.index)
    elif "enum" in schema or "const" in schema:
        values = schema.get("enum", [schema.get("const")])
        node["t"] = sorted({json_type(v) if not isinstance(v, float) else "number" for v in values}, key=_TYPES.index)
    if isinstance(schema.get("properties"), dict):
        node["p"] = {k: _node(v, schemas, depth + 1) for k, v in sorted(schema["properties"].items())}
    if isinstance(schema.get("items"), dict):
        node["i"] = _node(schema["items"], schemas, depth + 1)
    for key in ("anyOf", "oneOf"):
        if isinstance(schema.get(key), list) and schema[key]:
            branches = functools.reduce(merge, [_node(s, schemas, depth + 1) for s in schema[key]])
            node = _narrow(node, branches)
    if isinstance(schema.get("allOf"), list):  # every branch must hold: each one's types narrow the rest
        for sub in schema["allOf"]:
            node = _narrow(node, _node(sub, schemas, depth + 1))
    return node


def _narrow(a: Node, b: Node) -> Node:
    """What both nodes take (types intersected where both say, an empty intersection read as any: never refuse on a
    reading of the spec that takes nothing); fields and items restricted by both."""
    out = {k: v for k, v in a.items() if k != "t"}
    if "t" in a and "t" in b:
        both = {t for t in a["t"] if t in b["t"]}
        if ("integer" in a["t"] and "number" in b["t"]) or ("integer" in b["t"] and "number" in a["t"]):
            both.add("integer")
        if both:
            out["t"] = sorted(both, key=_TYPES.index)
    elif "t" in a or "t" in b:
        out["t"] = a.get("t") or b.get("t")
    if "p" in b:
        out["p"] = {**a.get("p", {}), **{k: _narrow(a["p"][k], v) if k in a.get("p", {}) else v
                                         for k, v in b["p"].items()}}
    if "i" in b:
        out["i"] = _narrow(a["i"], b["i"]) if "i" in a else b["i"]
    return out
