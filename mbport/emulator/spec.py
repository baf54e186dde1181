"""Metabase's OpenAPI spec (the subset the emulator serves), read the way Metabase's server behaves.

Two readings make the generated spec match the server (api-surface.md §1 items 2 and 3a): every `oneOf`
is an `anyOf`, and a parameter or property that has a `default` is optional (the server fills it in).
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from importlib import resources
from typing import Any
from urllib.parse import quote

import jsonschema_rs
import orjson
from jsonschema import Draft202012Validator
from referencing import Registry
from referencing.jsonschema import DRAFT202012

from . import errors

SPEC_URI = "urn:metabase-openapi"
_MISSING = object()


def _relax(node: Any) -> Any:
    """oneOf -> anyOf everywhere; drop from `required` the properties that carry a default."""
    if isinstance(node, list):
        return [_relax(x) for x in node]
    if not isinstance(node, dict):
        return node
    out = {("anyOf" if k == "oneOf" else k): _relax(v) for k, v in node.items()}
    props = out.get("properties")
    if isinstance(out.get("required"), list) and isinstance(props, dict):
        out["required"] = [r for r in out["required"] if not _has_default(props.get(r))]
    return out


def _has_default(schema: Any) -> bool:
    return isinstance(schema, dict) and "default" in schema


@functools.cache
def load_spec() -> dict[str, Any]:
    raw = orjson.loads(resources.files("mbport.emulator").joinpath("openapi.json").read_bytes())
    # Operations only older releases have (openapi_old.json says where each comes from); their routes check the
    # profile and answer 404 on releases without them.
    old = orjson.loads(resources.files("mbport.emulator").joinpath("openapi_old.json").read_bytes())
    for path, ops in old["paths"].items():
        raw["paths"].setdefault(path, {}).update(ops)
    return _relax(raw)


@functools.cache
def _registry() -> Registry:
    return Registry().with_resource(SPEC_URI, DRAFT202012.create_resource(load_spec()))


@functools.cache
def _fast_registry() -> jsonschema_rs.Registry:
    return jsonschema_rs.Registry([(SPEC_URI, load_spec())])


def _pointer(*parts: str) -> str:
    return "/".join(p.replace("~", "~0").replace("/", "~1") for p in parts)


@dataclass
class Param:
    name: str
    location: str
    required: bool
    schema: dict[str, Any]
    check: Check


@dataclass
class Operation:
    """One spec operation: its parameters and body validator."""

    method: str
    path: str
    params: list[Param] = field(default_factory=list)
    body_check: Check | None = None
    body_required: list[str] = field(default_factory=list)
    body_schema: dict[str, Any] | None = None


class Check:
    """One schema of the spec: a compiled (Rust) validator says whether a value is valid, fast; the reference
    Python validator, built only when a value is not, says why (the messages Metabase-shaped errors show)."""

    def __init__(self, pointer: str):
        self.ref = {"$ref": f"{SPEC_URI}#/{quote(pointer, safe='/~')}"}  # a URI: braces of path templates escaped
        self._fast = jsonschema_rs.Draft202012Validator(self.ref, registry=_fast_registry(), validate_formats=False)
        self._explainer: Draft202012Validator | None = None

    def errors(self, value: Any) -> list[Any]:
        if self._fast.is_valid(value):
            return []
        if self._explainer is None:
            self._explainer = Draft202012Validator(self.ref, registry=_registry())
        return list(self._explainer.iter_errors(value))


@functools.cache
def operation(method: str, path: str) -> Operation:
    """The spec operation for METHOD and spec path template (e.g. '/api/card/{id}'); KeyError if absent."""
    spec = load_spec()
    op = spec["paths"][path][method.lower()]
    result = Operation(method.upper(), path)
    for i, p in enumerate(op.get("parameters", [])):
        ptr = _pointer("paths", path, method.lower(), "parameters", str(i), "schema")
        schema = p.get("schema", {})
        required = bool(p.get("required")) and not _has_default(schema)
        result.params.append(Param(p["name"], p["in"], required, schema, Check(ptr)))
    body = op.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema")
    if body is not None:
        ptr = _pointer("paths", path, method.lower(), "requestBody", "content", "application/json", "schema")
        result.body_check = Check(ptr)
        result.body_schema = body
    return result


def spec_paths() -> dict[str, dict[str, Any]]:
    return load_spec()["paths"]


# ---- coercion of string parameters (malli's string decoders) ----

def _types(schema: dict[str, Any], seen: int = 0) -> set[str]:
    """The JSON types a (possibly anyOf / $ref) schema admits."""
    if seen > 8 or not isinstance(schema, dict):
        return set()
    if "$ref" in schema:
        target = _registry().resolver().lookup(schema["$ref"] if schema["$ref"].startswith("urn:") else SPEC_URI + schema["$ref"]).contents
        return _types(target, seen + 1)
    out: set[str] = set()
    t = schema.get("type")
    if isinstance(t, str):
        out.add(t)
    elif isinstance(t, list):
        out.update(t)
    if "enum" in schema:
        out.update(type(v).__name__.replace("str", "string").replace("bool", "boolean") for v in schema["enum"])
    for key in ("anyOf", "allOf"):
        for sub in schema.get(key, []):
            out |= _types(sub, seen + 1)
    return out


_INT = re.compile(r"^-?\d+$")


def coerce_scalar(value: str, types: set[str]) -> Any:
    if "integer" in types and _INT.match(value):
        return int(value)
    if "number" in types:
        try:
            return float(value) if not _INT.match(value) else int(value)
        except ValueError:
            pass
    if "boolean" in types and value in ("true", "false"):
        return value == "true"
    if "null" in types and value == "" and "string" not in types:
        return None
    return value


def coerce_param(values: list[str], schema: dict[str, Any]) -> Any:
    types = _types(schema)
    if "array" in types:
        item_schema = _array_items(schema)
        item_types = _types(item_schema) if item_schema else {"string"}
        return [coerce_scalar(v, item_types) for v in values]
    return coerce_scalar(values[-1], types)


def _array_items(schema: dict[str, Any]) -> dict[str, Any] | None:
    if schema.get("type") == "array":
        return schema.get("items")
    for sub in schema.get("anyOf", []):
        found = _array_items(sub)
        if found is not None:
            return found
    return None


# ---- errors in Metabase's shape ----

def _describe(schema: Any) -> str | None:
    """Metabase puts malli's humanized message in the generated `description`; reuse it."""
    if not isinstance(schema, dict):
        return None
    if schema.get("description"):
        return schema["description"]
    for sub in schema.get("anyOf", []):
        text = _describe(sub)
        if text:
            return ("nullable " + text) if any(s.get("type") == "null" for s in schema["anyOf"]) else text
    return None


def _error_key(err) -> str:
    if err.validator == "required":
        m = re.search(r"'([^']+)' is a required property", err.message)
        if m:
            return m.group(1)
    return str(err.absolute_path[0]) if err.absolute_path else "body"


def _schema_of(root: dict[str, Any] | None, key: str) -> Any:
    if not isinstance(root, dict):
        return None
    return (root.get("properties") or {}).get(key)


def body_errors(op: Operation, body: Any) -> errors.ApiError | None:
    if op.body_check is None:
        return None
    errs = sorted(op.body_check.errors(body), key=lambda e: (list(map(str, e.absolute_path)), e.message))
    if not errs:
        return None
    summary: dict[str, Any] = {}
    specific: dict[str, list[str]] = {}
    for err in errs:
        key = _error_key(err)
        message = _describe(_schema_of(op.body_schema, key)) or "value is not valid"
        summary.setdefault(key, message)
        detail = (
            "missing required key, received: nil" if err.validator == "required" else f"{err.message}"
        )
        specific.setdefault(key, []).append(detail)
    return errors.invalid(summary, specific)


def param_error(param: Param, value: Any) -> errors.ApiError | None:
    if value is _MISSING:
        if param.required:
            return errors.invalid(
                {param.name: _describe(param.schema) or "value is required"},
                {param.name: ["missing required key, received: nil"]},
            )
        return None
    errs = param.check.errors(value)
    if not errs:
        return None
    return errors.invalid(
        {param.name: _describe(param.schema) or "value is not valid"},
        {param.name: [e.message for e in errs[:3]]},
    )


MISSING = _MISSING
