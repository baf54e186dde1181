"""MBQL 4 (legacy) <-> MBQL 5 conversion for the clauses saved cards carry; unknown clauses pass through intact."""

from __future__ import annotations

import copy
import uuid
from collections.abc import Callable
from typing import Any

UUID = "lib/uuid"
EXPRESSION_NAME = "lib/expression-name"
MBQL_STAGE = "mbql.stage/mbql"
NATIVE_STAGE = "mbql.stage/native"

# Clauses Metabase's converter rewrites into [tag, {options}, args...]. Anything else is left as it is (only the
# refs inside it are converted), because a JSON client cannot tell an unknown clause from a list of literals.
KNOWN_CLAUSES = frozenset({
    # filters
    "=", "!=", "<", "<=", ">", ">=", "between", "and", "or", "not", "is-null", "not-null", "is-empty", "not-empty",
    "contains", "does-not-contain", "starts-with", "ends-with", "time-interval", "relative-time-interval", "inside",
    "during", "in", "not-in", "segment", "metric", "measure",
    # aggregations
    "count", "cum-count", "sum", "cum-sum", "avg", "distinct", "min", "max", "median", "percentile", "stddev", "var",
    "share", "count-where", "sum-where", "distinct-where", "offset",
    # expressions
    "+", "-", "*", "/", "coalesce", "case", "if", "concat", "substring", "upper", "lower", "trim", "ltrim", "rtrim",
    "replace", "regex-match-first", "length", "abs", "ceil", "floor", "round", "power", "sqrt", "exp", "log",
    "datetime-add", "datetime-subtract", "datetime-diff", "get-year", "get-quarter", "get-month", "get-week",
    "get-day", "get-day-of-week", "get-hour", "get-minute", "get-second", "convert-timezone", "now",
    "relative-datetime", "absolute-datetime", "interval", "temporal-extract", "week-of-year", "split-part", "text",
    "integer", "float", "date", "today", "host", "domain", "subdomain", "path", "month-name", "quarter-name",
    "day-name", "collate",
})
# Legacy clauses whose last argument is an options map ({"case-sensitive": false}, {"include-current": true}).
TRAILING_OPTIONS = frozenset({"contains", "does-not-contain", "starts-with", "ends-with", "time-interval",
                              "relative-time-interval"})
AGGREGATION_NAME_KEYS = ("name", "display-name")
# Clauses outside KNOWN_CLAUSES whose MBQL 5 form puts an options map second (refs and order-by directions).
REF_AND_DIRECTION_CLAUSES = frozenset({"field", "expression", "aggregation", "value", "asc", "desc"})


def new_uuid() -> str:
    return str(uuid.uuid4())


def is_mbql5(query: Any) -> bool:
    return isinstance(query, dict) and (query.get("lib/type") == "mbql/query" or "stages" in query)


def is_legacy(query: Any) -> bool:
    return isinstance(query, dict) and query.get("type") in ("query", "native")


# ---------------------------------------------------------------- MBQL 4 -> 5

_DIRECTIONS = {"asc": "asc", "desc": "desc", "ascending": "asc", "descending": "desc"}


def _order_by(clauses: Any) -> Any:
    """legacy_mbql/normalize.cljc `canonicalize-order-by`: MBQL 95 directions ("ascending"/"descending") and the
    reversed [<field> <direction>] form become [asc|desc <field>], a bare field id a field ref; duplicates go."""
    if not isinstance(clauses, list):
        return clauses
    out: list = []
    for clause in clauses:
        if isinstance(clause, list) and len(clause) == 2:
            first, second = clause
            if isinstance(second, str) and second.lower().lstrip(":") in _DIRECTIONS and not (
                    isinstance(first, str) and first.lower().lstrip(":") in _DIRECTIONS):
                first, second = second, first  # the reversed form
            if isinstance(first, str) and first.lower().lstrip(":") in _DIRECTIONS:
                field = ["field", second, None] if isinstance(second, int) and not isinstance(second, bool) else second
                clause = [_DIRECTIONS[first.lower().lstrip(":")], field]
        if clause not in out:
            out.append(clause)
    return out


def _canonical_legacy(inner: Any) -> Any:
    """The legacy inner query (and its source queries) as Metabase normalizes it before converting or storing it."""
    if not isinstance(inner, dict):
        return inner
    out = dict(inner)
    if "order-by" in out:
        out["order-by"] = _order_by(out["order-by"])
    if isinstance(out.get("source-query"), dict):
        out["source-query"] = _canonical_legacy(out["source-query"])
    return out


def to_mbql5(query: Any, profile: Any = None) -> Any:
    """The MBQL 5 form Metabase >= 0.57 stores for `query` (legacy or already MBQL 5; lib/uuids filled in)."""
    tags_as_list = bool(getattr(profile, "template_tags_list", False))
    if is_mbql5(query):
        return _normalize5(copy.deepcopy(query), tags_as_list)
    if not is_legacy(query):
        return copy.deepcopy(query)
    out = {k: copy.deepcopy(v) for k, v in query.items() if k not in ("type", "query", "native")}
    if query["type"] == "native":
        stages = [_native_stage5(query.get("native") or {}, tags_as_list)]
    else:
        stages = _inner_to_stages(_canonical_legacy(query.get("query") or {}), tags_as_list)
    out["lib/type"] = "mbql/query"
    out["stages"] = stages
    out["lib.convert/converted?"] = True
    return out


def _inner_to_stages(inner: dict, tags_as_list: bool) -> list[dict]:
    if "native" in inner and "source-table" not in inner:  # a native source-query
        return [_native_stage5({**inner, "query": inner["native"]}, tags_as_list)]
    stages = _inner_to_stages(inner["source-query"], tags_as_list) if "source-query" in inner else []
    aggregations = [_to5(a, []) for a in inner.get("aggregation") or []]
    agg_uuids = [a[1].get(UUID) if isinstance(a, list) and len(a) > 1 and isinstance(a[1], dict) else None
                 for a in aggregations]
    stage: dict[str, Any] = {"lib/type": MBQL_STAGE}
    for key, value in inner.items():
        if key == "source-query":
            continue
        if key == "source-table" and isinstance(value, str) and value.startswith("card__"):
            stage["source-card"] = int(value[len("card__"):])
        elif key == "aggregation":
            stage["aggregation"] = aggregations
        elif key == "filter":
            stage["filters"] = [_to5(f, agg_uuids) for f in _split_and(value)]
        elif key == "expressions":
            stage["expressions"] = [_expression5(name, expr, agg_uuids) for name, expr in value.items()]
        elif key == "joins":
            stage["joins"] = [_join5(j, tags_as_list) for j in value]
        elif key == "source-metadata":
            stage["lib/stage-metadata"] = {"lib/type": "metadata/results", "columns": copy.deepcopy(value)}
        else:
            stage[key] = _to5(value, agg_uuids)
    return stages + [stage]


def _split_and(clause: Any) -> list:
    if clause is None:
        return []
    if isinstance(clause, list) and clause and clause[0] == "and":
        args = clause[2:] if len(clause) > 1 and isinstance(clause[1], dict) else clause[1:]
        return list(args)
    return [clause]


def _expression5(name: str, expr: Any, agg_uuids: list) -> list:
    converted = _to5(expr, agg_uuids)
    if isinstance(converted, list) and len(converted) > 1 and isinstance(converted[1], dict):
        converted[1][EXPRESSION_NAME] = name
        return converted
    # A literal expression becomes a :value clause carrying the name.
    return ["value", {UUID: new_uuid(), EXPRESSION_NAME: name, "effective-type": _literal_type(expr)}, expr]


def _literal_type(value: Any) -> str:
    if isinstance(value, bool):
        return "type/Boolean"
    if isinstance(value, int):
        return "type/Integer"
    if isinstance(value, float):
        return "type/Float"
    return "type/Text"


def _join5(join: dict, tags_as_list: bool) -> dict:
    out: dict[str, Any] = {}
    source: dict[str, Any] = {}
    for key, value in join.items():
        if key in ("source-table", "source-query"):
            source[key] = value
        elif key == "condition":
            out["conditions"] = [_to5(c, []) for c in _split_and(value)]
        elif key == "fields":
            out["fields"] = value if isinstance(value, str) else [_to5(f, []) for f in value]
        else:
            out[key] = _to5(value, [])
    out.setdefault("alias", "__join")
    out["lib/type"] = "mbql/join"
    out["stages"] = _inner_to_stages(source["source-query"] if "source-query" in source else source, tags_as_list)
    out["lib/options"] = {UUID: new_uuid()}
    return out


def _native_stage5(native: dict, tags_as_list: bool) -> dict:
    stage: dict[str, Any] = {"lib/type": NATIVE_STAGE, "native": native.get("query")}
    for key, value in native.items():
        if key not in ("query", "template-tags", "native"):
            stage[key] = copy.deepcopy(value)
    tags = native.get("template-tags")
    if tags:
        stage["template-tags"] = _tags(tags, as_list=tags_as_list, convert=lambda x: _to5(x, []))
    return stage


def _tags(tags: Any, *, as_list: bool, convert: Callable[[Any], Any]) -> Any:
    """Template tags as a map keyed by name or as a list (0.63+), with dimension refs converted."""
    items = list(tags.items()) if isinstance(tags, dict) else [(t.get("name"), t) for t in tags]
    converted = []
    for name, tag in items:
        tag = copy.deepcopy(tag)
        tag.setdefault("name", name)
        if "dimension" in tag:
            tag["dimension"] = convert(tag["dimension"])
        converted.append(tag)
    return converted if as_list else {t["name"]: t for t in converted}


def _with_uuid(options: Any) -> dict:
    opts = dict(options) if isinstance(options, dict) else {}
    opts.setdefault(UUID, new_uuid())
    return opts


def _to5(x: Any, agg_uuids: list) -> Any:
    """Convert one legacy value (clause, ref, list or literal)."""
    if isinstance(x, dict):
        return {k: _to5(v, agg_uuids) for k, v in x.items()}
    if not isinstance(x, list) or not x or not isinstance(x[0], str):
        return [_to5(v, agg_uuids) for v in x] if isinstance(x, list) else x
    tag, args = x[0], list(x[1:])
    if args and isinstance(args[0], dict):
        # An options map first is MBQL 5 (legacy clauses put options last, if anywhere), even when a client
        # sent it without lib/uuid, as mbport's trees do.
        return [tag, _with_uuid(args[0]), *(_to5(a, agg_uuids) for a in args[1:])]
    if tag == "field" and len(args) >= 1:
        opts = _with_uuid(args[1] if len(args) > 1 else None)
        if "base-type" in opts:
            opts.setdefault("effective-type", opts["base-type"])
        return ["field", opts, args[0]]
    if tag == "expression" and args:
        return ["expression", _with_uuid(args[1] if len(args) > 1 else None), args[0]]
    if tag == "aggregation" and args and isinstance(args[0], int):
        index = args[0]
        target = agg_uuids[index] if 0 <= index < len(agg_uuids) and agg_uuids[index] else index
        return ["aggregation", _with_uuid(args[1] if len(args) > 1 else None), target]
    if tag == "aggregation-options" and len(args) == 2:
        inner = _to5(args[0], agg_uuids)
        if isinstance(inner, list) and len(inner) > 1 and isinstance(inner[1], dict):
            inner[1].update(args[1] or {})
        return inner
    if tag == "value" and args:
        info = args[1] if len(args) > 1 and isinstance(args[1], dict) else {}
        opts = _with_uuid({k.replace("_", "-"): v for k, v in info.items()})
        return ["value", opts, args[0]]
    if tag in ("asc", "desc") and len(args) == 1:
        return [tag, _with_uuid(None), _to5(args[0], agg_uuids)]
    if tag in ("case", "if") and args and isinstance(args[0], list):
        opts = args[1] if len(args) > 1 and isinstance(args[1], dict) else {}
        pairs = [[_to5(p, agg_uuids), _to5(v, agg_uuids)] for p, v in args[0]]
        out: list[Any] = [tag, _with_uuid({k: v for k, v in opts.items() if k != "default"}), pairs]
        if "default" in opts:
            out.append(_to5(opts["default"], agg_uuids))
        return out
    if tag in KNOWN_CLAUSES:
        trailing = args.pop() if tag in TRAILING_OPTIONS and args and isinstance(args[-1], dict) else None
        return [tag, _with_uuid(trailing), *(_to5(a, agg_uuids) for a in args)]
    return [tag, *(_to5(a, agg_uuids) for a in args)]


def _normalize5(query: dict, tags_as_list: bool) -> dict:
    """An MBQL 5 query as given, with missing lib/uuids added and template tags in the profile's shape."""
    query["stages"] = [_normalize_stage5(s, tags_as_list) for s in query.get("stages") or []]
    query.setdefault("lib/type", "mbql/query")
    return query


def _normalize_stage5(stage: dict, tags_as_list: bool) -> dict:
    if stage.get("lib/type") == NATIVE_STAGE:
        if stage.get("template-tags"):
            stage["template-tags"] = _tags(stage["template-tags"], as_list=tags_as_list,
                                           convert=lambda x: _to5(x, []))
        return stage
    out: dict[str, Any] = {}
    for key, value in stage.items():
        if key == "joins":
            out[key] = [_normalize_join5(j, tags_as_list) for j in value]
        elif key == "lib/stage-metadata":
            out[key] = value
        else:
            out[key] = _to5(value, [])
    out.setdefault("lib/type", MBQL_STAGE)
    return out


def _normalize_join5(join: dict, tags_as_list: bool) -> dict:
    out = {k: (_to5(v, []) if k not in ("stages", "lib/options") else v) for k, v in join.items()}
    out["stages"] = [_normalize_stage5(s, tags_as_list) for s in join.get("stages") or []]
    out["lib/options"] = _with_uuid(join.get("lib/options"))
    out.setdefault("lib/type", "mbql/join")
    return out


# ---------------------------------------------------------------- MBQL 5 -> 4

def to_legacy(query: Any, keep_tag_refs: bool = False) -> Any:
    """The MBQL 4 form of `query` (what ?legacy-mbql=true and legacy_query show); legacy input is returned as is.
    `keep_tag_refs`: a native query's dimension tags keep their MBQL 5 refs (what 0.61 on answers)."""
    if not is_mbql5(query):
        legacy = copy.deepcopy(query)
        if isinstance(legacy, dict) and isinstance(legacy.get("query"), dict):
            legacy["query"] = _canonical_legacy(legacy["query"])
        return legacy
    stages = query.get("stages") or []
    out: dict[str, Any] = {"database": query.get("database")}
    if stages and stages[-1].get("lib/type") == NATIVE_STAGE and len(stages) == 1:
        out["type"] = "native"
        out["native"] = _native4(stages[0], keep_tag_refs)
    else:
        out["type"] = "query"
        out["query"] = _stages_to_inner(stages)
    for key, value in query.items():
        if key not in ("database", "stages", "lib/type", "lib.convert/converted?", "lib/metadata"):
            out[key] = copy.deepcopy(value)
    return out


def _native4(stage: dict, keep_tag_refs: bool = False) -> dict:
    tags = stage.get("template-tags") or {}
    native: dict[str, Any] = {"template-tags": _tags(tags, as_list=False, convert=_keep if keep_tag_refs else _ref4)}
    native["query"] = stage.get("native")
    for key, value in stage.items():
        if key not in ("lib/type", "native", "template-tags", "lib/stage-metadata"):
            native[key] = copy.deepcopy(value)
    return native


def _ref4(x: Any) -> Any:
    return _to4(x, [])


def _keep(x: Any) -> Any:
    return x


def classic(query: Any) -> Any:
    """The MBQL 4 form a server that reads classic queries takes: MBQL 5 converted (a native stage rebuilt as
    `{type: native, native: {query, template-tags}}`) and dimension tags' refs in classic form, also in a query
    that was MBQL 4 already but carries the MBQL 5 refs 0.61 on answers in its MBQL 4 view."""
    out = to_legacy(query)
    native = out.get("native") if is_legacy(out) and out.get("type") == "native" else None
    if isinstance(native, dict) and native.get("template-tags"):
        native["template-tags"] = _tags(native["template-tags"], as_list=False, convert=_ref4)
    return out


def mbql5_refs_in_classic_tags(query: Any) -> bool:
    """A classic (`type: "native"`) query whose dimension tags hold MBQL 5 refs (`["field", {options}, id]`)."""
    if not is_legacy(query) or query.get("type") != "native":
        return False
    tags = (query.get("native") or {}).get("template-tags") or {}
    for tag in tags.values() if isinstance(tags, dict) else tags:
        dim = tag.get("dimension") if isinstance(tag, dict) else None
        if isinstance(dim, list) and len(dim) >= 3 and dim[0] == "field" and isinstance(dim[1], dict):
            return True
    return False


def _stages_to_inner(stages: list[dict]) -> dict:
    inner: dict[str, Any] | None = None
    for stage in stages:
        if stage.get("lib/type") == NATIVE_STAGE:
            current = _native4(stage)
            current["native"] = current.pop("query")
        else:
            current = _stage4(stage)
        if inner is not None:
            current["source-query"] = inner
        inner = current
    return inner or {}


def _stage4(stage: dict) -> dict:
    agg_uuids = [a[1].get(UUID) if isinstance(a, list) and len(a) > 1 and isinstance(a[1], dict) else None
                 for a in stage.get("aggregation") or []]
    out: dict[str, Any] = {}
    for key, value in stage.items():
        if key == "lib/type":
            continue
        if key == "source-card":
            out["source-table"] = f"card__{value}" if isinstance(value, int) else value  # a tree's ref stays one
        elif key == "filters":
            filters = [_to4(f, agg_uuids) for f in value]
            if filters:
                out["filter"] = filters[0] if len(filters) == 1 else ["and", *filters]
        elif key == "aggregation":
            out["aggregation"] = [_aggregation4(a, agg_uuids) for a in value]
        elif key == "expressions":
            out["expressions"] = {_expression_name(e): _expression4(e, agg_uuids) for e in value}
        elif key == "joins":
            out["joins"] = [_join4(j) for j in value]
        elif key == "lib/stage-metadata":
            out["source-metadata"] = copy.deepcopy(value.get("columns")) if isinstance(value, dict) else value
        else:
            out[key] = _to4(value, agg_uuids)
    return out


def _expression_name(expr: Any) -> str | None:
    return expr[1].get(EXPRESSION_NAME) if isinstance(expr, list) and len(expr) > 1 and isinstance(expr[1], dict) else None


def _expression4(expr: Any, agg_uuids: list) -> Any:
    if isinstance(expr, list) and expr and expr[0] == "value" and len(expr) == 3:
        return copy.deepcopy(expr[2])
    return _to4(expr, agg_uuids)


def _aggregation4(clause: Any, agg_uuids: list) -> Any:
    converted = _to4(clause, agg_uuids)
    opts = clause[1] if isinstance(clause, list) and len(clause) > 1 and isinstance(clause[1], dict) else {}
    names = {k: opts[k] for k in AGGREGATION_NAME_KEYS if k in opts}
    return ["aggregation-options", converted, names] if names else converted


def _join4(join: dict) -> dict:
    out: dict[str, Any] = {}
    for key, value in join.items():
        if key in ("lib/type", "lib/options", "stages"):
            continue
        if key == "conditions":
            conditions = [_to4(c, []) for c in value]
            out["condition"] = conditions[0] if len(conditions) == 1 else ["and", *conditions]
        elif key == "fields":
            out["fields"] = value if isinstance(value, str) else [_to4(f, []) for f in value]
        else:
            out[key] = _to4(value, [])
    inner = _stages_to_inner(join.get("stages") or [])
    if set(inner) == {"source-table"}:
        out.update(inner)
    else:
        out["source-query"] = inner
    return out


def _clean_options(opts: dict, drop: tuple[str, ...] = ()) -> dict:
    """Options as legacy MBQL carries them: no lib/* keys, no effective-type that only repeats base-type."""
    out = {k: v for k, v in opts.items() if "/" not in k and k not in drop}
    if "effective-type" in out and out["effective-type"] == out.get("base-type", out["effective-type"]):
        del out["effective-type"]
    return out


def _to4(x: Any, agg_uuids: list) -> Any:
    if isinstance(x, dict):
        return {k: _to4(v, agg_uuids) for k, v in x.items()}
    if not isinstance(x, list) or not x or not isinstance(x[0], str):
        return [_to4(v, agg_uuids) for v in x] if isinstance(x, list) else x
    tag, args = x[0], x[1:]
    # a `{"$ref": ...}` in place of an id (mbport's trees) is not an options map; a tree's clauses carry no lib/uuid
    # (lib/convert.cljc `clause-with-options->legacy-MBQL` takes any map second as the options, whatever the tag)
    is_clause5 = bool(args) and isinstance(args[0], dict) and "$ref" not in args[0] and (
        UUID in args[0] or tag in KNOWN_CLAUSES or tag in REF_AND_DIRECTION_CLAUSES)
    if not is_clause5:
        return [tag, *(_to4(a, agg_uuids) for a in args)]
    opts, rest = args[0], list(args[1:])
    if tag == "field" and rest:
        return ["field", rest[0], _clean_options(opts) or None]
    if tag == "expression" and rest:
        clean = _clean_options(opts)
        return ["expression", rest[0], clean] if clean else ["expression", rest[0]]
    if tag == "aggregation" and rest:
        target = agg_uuids.index(rest[0]) if rest[0] in agg_uuids else rest[0]
        clean = _clean_options(opts)
        return ["aggregation", target, clean] if clean else ["aggregation", target]
    if tag == "value" and rest:
        info = {k.replace("-", "_"): v for k, v in _clean_options(opts).items()}
        return ["value", rest[0], info or None]
    if tag in ("asc", "desc") and len(rest) == 1:
        return [tag, _to4(rest[0], agg_uuids)]
    if tag in ("case", "if") and rest and isinstance(rest[0], list):
        out: list[Any] = [tag, [[_to4(p, agg_uuids), _to4(v, agg_uuids)] for p, v in rest[0]]]
        if len(rest) > 1:
            out.append({"default": _to4(rest[1], agg_uuids)})
        return out
    converted = [tag, *(_to4(a, agg_uuids) for a in rest)]
    extra = _clean_options(opts, drop=AGGREGATION_NAME_KEYS)
    if extra and tag in TRAILING_OPTIONS:
        converted.append(extra)
    return converted


# ---------------------------------------------------------------- query facts (for card columns)

def first_stage(query: Any) -> dict:
    q = to_mbql5(query) if is_legacy(query) else query
    stages = q.get("stages") if isinstance(q, dict) else None
    return stages[0] if stages else {}


def query_type(query: Any) -> str | None:
    if not query:
        return None
    return "native" if first_stage(query).get("lib/type") == NATIVE_STAGE else "query"


def source_card_ids(query: Any) -> set[int]:
    """Every card the query reads: source-card of any stage or join (legacy card__N too) and card template tags."""
    found: set[int] = set()

    def walk(x: Any) -> None:
        if isinstance(x, dict):
            for key, value in x.items():
                if key == "source-card" and isinstance(value, int):
                    found.add(value)
                elif key == "source-table" and isinstance(value, str) and value.startswith("card__"):
                    found.add(int(value[len("card__"):]))
                elif key == "card-id" and isinstance(value, int):
                    found.add(value)
                else:
                    walk(value)
        elif isinstance(x, list):
            for value in x:
                walk(value)

    walk(query)
    return found


def uses_clause(query: Any, tag: str, object_id: int) -> bool:
    """Whether a `[tag, ..., object_id]` clause (segment, metric, measure) occurs in either dialect."""
    def walk(x: Any) -> bool:
        if isinstance(x, list):
            if x and x[0] == tag and x[-1] == object_id and len(x) in (2, 3):
                return True
            return any(walk(v) for v in x)
        if isinstance(x, dict):
            return any(walk(v) for v in x.values())
        return False

    return walk(query)
