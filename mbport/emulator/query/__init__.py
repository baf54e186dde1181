"""The emulator's query processor: native SQL with template tags, and MBQL 4 or 5 compiled to SQLite SQL."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from ..store import State
from .base import Compiled, QueryError, field_id, literal, quote
from .compiler import MbqlCompiler
from .native import NativeCompiler, parameter_values, tags_by_name

__all__ = ["Compiled", "QueryError", "compile_query", "field_id", "literal", "quote", "parameter_filters"]

Probe = Callable[[str, list], list[str]]


def _native_stage(query: dict) -> dict | None:
    """The query as {native, template-tags} when it is a native query (either MBQL version), else None."""
    if query.get("lib/type") == "mbql/query" or "stages" in query:
        stages = query.get("stages") or [{}]
        if len(stages) == 1 and stages[0].get("lib/type") == "mbql.stage/native":
            return {"native": stages[0].get("native") or "", "template-tags": stages[0].get("template-tags")}
        return None
    if query.get("type") == "native":
        native = query.get("native") or {}
        return {"native": native.get("query") or "", "template-tags": native.get("template-tags")}
    if query.get("type") == "query":
        return None
    raise QueryError("Invalid query: expected a native or MBQL query.")


def compile_query(state: State, query: dict, parameters: list[dict] | None, depth: int = 0,
                  probe: Probe | None = None) -> Compiled:
    """SQL for a query: a native one with its template tags filled in, an MBQL one compiled stage by stage with
    the parameters that target its fields added as filters."""
    native = _native_stage(query)
    if native is not None:
        compiler = NativeCompiler(state, tags_by_name(native.get("template-tags")), parameter_values(parameters), depth)
        return compiler.compile(native["native"])

    def compile_card(card_query: dict, card_depth: int) -> Compiled:
        return compile_query(state, card_query, None, card_depth, probe)

    try:
        return MbqlCompiler(state, depth, probe, compile_card).compile(query, parameter_filters(parameters))
    except (KeyError, IndexError, TypeError, ValueError, AttributeError) as exc:
        # a clause with missing or mistyped arguments: Metabase's schema check fails the query, it does not crash
        raise QueryError(f"Invalid query: {type(exc).__name__} {exc}", "invalid-query") from exc


# ---- parameters on MBQL queries (query_processor/middleware/parameters/mbql.clj `expand`)

_RELATIVE = re.compile(r"^(past|next)(\d+)(minute|hour|day|week|month|quarter|year)s?(~)?"
                       r"(?:-from-(\d+)(minute|hour|day|week|month|quarter|year)s?)?$")
_THIS = re.compile(r"^(this|last|next)(minute|hour|day|week|month|quarter|year)$")
_QUARTER = re.compile(r"^Q([1-4])-(\d{4})$")
_MONTH = re.compile(r"^(\d{4})-(\d{2})$")


def parameter_filters(parameters: list[dict] | None) -> list[tuple[int | None, Any]]:
    """(stage number, filter) for each parameter with a value whose target is a field
    (["dimension", <field ref>, {"stage-number": n}]): params/ops.clj and params/dates.clj build the filter."""
    out = []
    for p in parameters or []:
        target = p.get("target")
        if not (isinstance(target, list) and len(target) > 1 and target[0] == "dimension"):
            continue
        ref = target[1]
        if not isinstance(ref, list) or ref[:1] != ["field"]:
            continue
        if len(ref) == 3 and isinstance(ref[1], dict) and not isinstance(ref[2], dict):  # an MBQL 5 ref
            ref = ["field", ref[2], {k: v for k, v in ref[1].items() if "/" not in k} or None]
        value = p.get("value")
        if value in (None, [], ""):
            continue
        opts = target[2] if len(target) > 2 and isinstance(target[2], dict) else {}
        out.append((opts.get("stage-number"), _param_filter(str(p.get("type") or "category"), ref, value,
                                                             p.get("options"))))
    return out


def _param_filter(kind: str, ref: list, value: Any, options: Any) -> list:
    values = value if isinstance(value, list) else [value]
    if kind.startswith("date") or (kind == "category" and isinstance(value, str) and _is_date_param(value)):
        return _date_filter(ref, values[0] if isinstance(value, list) else value)
    op = kind.split("/", 1)[1] if "/" in kind else "="
    opts = options if isinstance(options, dict) else {}
    if op in ("contains", "does-not-contain", "starts-with", "ends-with"):
        clauses = [[op, ref, v, opts] if opts else [op, ref, v] for v in values]
        return clauses[0] if len(clauses) == 1 else ["or" if op != "does-not-contain" else "and", *clauses]
    if op == "between":
        return ["between", ref, values[0], values[1]]
    if op in (">=", "<=", "<", ">"):
        return [op, ref, values[0]]
    if op == "!=":
        return ["!=", ref, *values]
    return ["=", ref, *values]


def _is_date_param(value: str) -> bool:
    return bool(_RELATIVE.match(value) or _THIS.match(value) or _QUARTER.match(value) or _MONTH.match(value)
                or re.match(r"^\d{4}-\d{2}-\d{2}", value) or "~" in value)


def _date_filter(ref: list, value: str) -> list:
    """params/dates.clj `date-string->filter`: relative ranges ("past30days", "thismonth"), ranges ("a~b", "~b",
    "a~"), months ("2024-03"), quarters ("Q1-2024") and single days."""
    plain = ["field", ref[1], {k: v for k, v in (ref[2] or {}).items() if k != "temporal-unit"} or None] \
        if len(ref) > 2 and isinstance(ref[2], dict) else ref
    m = _RELATIVE.match(value)
    if m:
        direction, n, unit, current, off_n, off_unit = m.groups()
        n = int(n) * (-1 if direction == "past" else 1)
        if off_n:
            shift = int(off_n) * (-1 if direction == "past" else 1)
            return ["relative-time-interval", plain, n, unit, shift, off_unit]
        return ["time-interval", plain, n, unit, {"include-current": True}] if current else \
            ["time-interval", plain, n, unit]
    m = _THIS.match(value)
    if m:
        which, unit = m.groups()
        return ["time-interval", plain, {"this": "current", "last": "last", "next": "next"}[which], unit]
    m = _QUARTER.match(value)
    if m:
        quarter, year = m.groups()
        return ["during", plain, f"{year}-{(int(quarter) - 1) * 3 + 1:02d}-01", "quarter"]
    m = _MONTH.match(value)
    if m:
        return ["during", plain, f"{value}-01", "month"]
    if "~" in value:
        low, high = value.split("~", 1)
        if low and high:
            return ["between", plain, low, high]
        return ["<=", plain, high] if high else [">=", plain, low]
    return ["=", plain, value]
