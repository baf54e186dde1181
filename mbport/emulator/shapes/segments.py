"""What segment answers look like, and the query describer's words for filters that segments and measures share."""

from __future__ import annotations

from typing import Any

from ..store import Row, State
from .users import creator

# How Metabase's query describer words the common filter operators.
_FILTER_PHRASES = {
    "=": "is", "!=": "is not", "<": "is less than", ">": "is greater than", "<=": "is less than or equal to",
    ">=": "is greater than or equal to", "contains": "contains", "does-not-contain": "does not contain",
    "starts-with": "starts with", "ends-with": "ends with",
}



_UNARY_PHRASES = {"is-null": "is empty", "not-null": "is not empty", "is-empty": "is empty", "not-empty": "is not empty"}



def _field_id(ref: Any) -> int | None:
    """The field id of an MBQL 4 (["field", id, opts]) or MBQL 5 (["field", {opts}, id]) reference."""
    if isinstance(ref, list) and len(ref) >= 2 and ref[0] == "field":
        for part in ref[1:]:
            if isinstance(part, int):
                return part
    return None



def describe_column(state: State, ref: Any) -> str:
    field_id = _field_id(ref)
    field = state.table("metabase_field").get(field_id) if field_id else None
    if field:
        return field.get("display_name") or field.get("name") or str(field_id)
    if isinstance(ref, list) and len(ref) >= 2 and isinstance(ref[-1], str):
        return ref[-1]
    if isinstance(ref, list) and len(ref) >= 2 and isinstance(ref[1], str):
        return ref[1]
    return "column"



def clause_args(clause: list[Any]) -> list[Any]:
    """Arguments of a clause, skipping the MBQL 5 options map in second position."""
    args = clause[1:]
    return args[1:] if args and isinstance(args[0], dict) else args



def describe_filter(state: State, clause: Any) -> str:
    if not isinstance(clause, list) or not clause:
        return str(clause)
    op, args = clause[0], clause_args(clause)
    if op in ("and", "or"):
        return f" {op} ".join(describe_filter(state, a) for a in args)
    if op == "not" and args:
        return f"not {describe_filter(state, args[0])}"
    if op in _UNARY_PHRASES and args:
        return f"{describe_column(state, args[0])} {_UNARY_PHRASES[op]}"
    if op == "between" and len(args) >= 3:
        return f"{describe_column(state, args[0])} is between {args[1]} and {args[2]}"
    if op in _FILTER_PHRASES and len(args) >= 2:
        values = " or ".join(str(v) for v in args[1:] if not isinstance(v, dict))
        return f"{describe_column(state, args[0])} {_FILTER_PHRASES[op]} {values}"
    if op == "segment" and args:
        segment = state.table("segment").get(args[-1])
        return segment["name"] if segment else "segment"
    return op



def query_part(definition: Any, mbql4_key: str, mbql5_key: str) -> list[Any]:
    """The clauses under one top-level key of an MBQL 4 fragment/query or an MBQL 5 query's last stage."""
    if not isinstance(definition, dict):
        return []
    if isinstance(definition.get("stages"), list) and definition["stages"]:
        found = definition["stages"][-1].get(mbql5_key)
    elif isinstance(definition.get("query"), dict):
        found = definition["query"].get(mbql4_key)
    else:
        found = definition.get(mbql4_key)
    if found is None:
        return []
    # An MBQL 4 filter is one clause; MBQL 5 `filters` and aggregations are lists of clauses.
    return [found] if found and isinstance(found[0], str) else list(found)



def definition_description(state: State, definition: Any) -> str | None:
    filters = query_part(definition, "filter", "filters")
    if not filters:
        return None
    return "Filtered by " + " and ".join(describe_filter(state, f) for f in filters)



def hydrate(state: State, segment: Row, *, description: bool = False) -> dict[str, Any]:
    out = dict(segment)
    out["creator"] = creator(state, segment.get("creator_id"))
    if description:
        out["definition_description"] = definition_description(state, segment.get("definition"))
    return out
