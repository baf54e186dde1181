"""MBQL compiled to SQLite SQL stage by stage (MBQL 5 is read through its legacy form), with result columns shaped
like Metabase's annotated `data.cols` (query_processor/middleware/annotate.clj, lib/metadata/calculation.cljc)."""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ... import mbql
from ..store import Row, State
from . import temporal
from .base import Compiled, QueryError, literal, quote, value_type

# The keys of a field's metadata that a result column carries (what the simple path always answered).
FIELD_KEYS = ("description", "semantic_type", "table_id", "coercion_strategy", "name", "settings", "fk_target_field_id",
              "effective_type", "nfc_path", "parent_id", "id", "position", "visibility_type", "display_name",
              "fingerprint", "base_type")
_JOIN_SQL = {"left-join": "LEFT JOIN", "inner-join": "INNER JOIN", "right-join": "RIGHT JOIN", "full-join": "FULL JOIN"}
_COMPARISONS = {"<": "<", ">": ">", "<=": "<=", ">=": ">="}
# Aggregations the SQLite driver lacks (driver features :percentile-aggregations, :standard-deviation-aggregations):
# Metabase's check-features middleware fails the query.
_UNSUPPORTED_AGGREGATIONS = {"median": "percentile-aggregations", "percentile": "percentile-aggregations",
                             "stddev": "standard-deviation-aggregations", "var": "standard-deviation-aggregations"}
_UNSUPPORTED_EXPRESSIONS = {"regex-match-first": "regex", "host": "regex", "domain": "regex", "subdomain": "regex",
                            "path": "regex", "convert-timezone": "convert-timezone", "offset": "window-functions/offset"}


def is_temporal(base_type: str | None) -> bool:
    return any(t in (base_type or "") for t in ("Date", "Time", "Instant"))


def strip_id(name: str) -> str:
    """lib/util.cljc `strip-id`: "Product ID" -> "Product" (an implicitly joined column is named after its FK)."""
    return re.sub(r"(?i)\s+id$", "", name).strip()


@dataclass
class Col:
    """A column a stage can read (from its source or joins) or returns."""
    name: str
    sql: str
    info: dict  # Metabase column keys besides name, source and field_ref
    field_ref: Any = None
    source: str = "fields"
    field_id: int | None = None
    join_alias: str | None = None
    unit: str | None = None

    def out(self) -> dict:
        return {**self.info, "name": self.name, "source": self.source, "field_ref": self.field_ref}

    @property
    def base_type(self) -> str:
        return self.info.get("base_type") or "type/*"


@dataclass
class Join:
    alias: str
    table: Row | None
    cols: list[Col]  # a table's default columns or a subquery's columns


@dataclass
class Scope:
    """What one stage reads: a table or the previous stage, and its joins."""
    alias: str
    table: Row | None
    cols: list[Col]
    joins: dict[str, Join] = field(default_factory=dict)
    join_sql: list[str] = field(default_factory=list)
    implicit: dict[tuple, str] = field(default_factory=dict)
    expressions: dict[str, Col] = field(default_factory=dict)
    from_sql: str = ""


class UniqueNames:
    """lib/util.cljc `unique-name-generator`: the second "count" is "count_2" (case-insensitively)."""

    def __init__(self) -> None:
        self.seen: dict[str, int] = {}

    def __call__(self, name: str) -> str:
        key = name.lower()
        if key not in self.seen:
            self.seen[key] = 1
            return name
        while True:
            self.seen[key] += 1
            candidate = f"{name}_{self.seen[key]}"
            if candidate.lower() not in self.seen:
                self.seen[candidate.lower()] = 1
                return candidate


def stages_of(inner: dict) -> list[dict]:
    """A legacy inner query as its stages, innermost first (each source-query is the stage before)."""
    out = []
    current: Any = inner
    while isinstance(current, dict):
        out.append({k: v for k, v in current.items() if k != "source-query"})
        current = current.get("source-query")
    return out[::-1]


def legacy(query: dict) -> dict:
    return mbql.to_legacy(query) if mbql.is_mbql5(query) else query


class MbqlCompiler:
    """Compiles one MBQL query (with its source cards, joins and stages) for one warehouse."""

    def __init__(self, state: State, depth: int, probe: Callable[[str, list], list[str]] | None,
                 compile_card: Callable[[dict, int], Compiled]):
        if depth > 8:
            raise QueryError("Circular card references.")
        self.state, self.depth, self.probe, self.compile_card = state, depth, probe, compile_card
        self.fields = state.table("metabase_field")
        self.tables = state.table("metabase_table")

    # ---- the query, stage by stage

    def compile(self, query: dict, extra_filters: list[tuple[int | None, Any]] | None = None) -> Compiled:
        inner = legacy(query).get("query") or {}
        stages = stages_of(inner)
        for stage_number, clause in extra_filters or []:
            index = len(stages) - 1 if stage_number in (None, -1) else stage_number
            if not 0 <= index < len(stages):
                raise QueryError(f"Stage {stage_number} does not exist.")
            stage = stages[index]
            stage["filter"] = ["and", stage["filter"], clause] if stage.get("filter") else clause
        sql, params, cols = self.stages(stages)
        return Compiled(sql, params, cols=[c.out() for c in cols])

    def stages(self, stages: list[dict]) -> tuple[str, list, list[Col]]:
        sql: str | None = None
        params: list = []
        cols: list[Col] = []
        for i, stage in enumerate(stages):
            if i == 0:
                scope, params = self.first_scope(stage)
            else:
                scope = Scope(quote("source"), None, [self.passed_on(c) for c in cols], from_sql=f"({sql}) AS {quote('source')}")
            sql, more, cols = self.stage(stage, scope)
            params = params + more
        return sql or "", params, cols

    def first_scope(self, stage: dict) -> tuple[Scope, list]:
        if "native" in stage and "source-table" not in stage:  # a native source query
            from .native import NativeCompiler, tags_by_name

            sub = NativeCompiler(self.state, tags_by_name(stage.get("template-tags")), {}, self.depth + 1).compile(
                stage["native"])
            return self.subquery_scope(sub, None), sub.params
        source = stage.get("source-table")
        if isinstance(source, str) and source.startswith("card__"):
            sub, card = self.card_query(source)
            return self.subquery_scope(sub, card), sub.params
        table = self.tables.get(source) if isinstance(source, int) else None
        if table is None:
            raise QueryError(f"Table {source!r} does not exist.")
        alias = quote(table["name"])
        return Scope(alias, table, self.table_cols(table, alias), from_sql=alias), []

    def card_query(self, source: str) -> tuple[Compiled, Row]:
        """A saved card as a source: its query (native or MBQL) runs as a subquery (query_processor/middleware/
        fetch_source_query.clj). A card in the Trash still runs; a deleted one fails the query."""
        try:
            card_id = int(source[len("card__"):])
        except ValueError as exc:
            raise QueryError(f"Invalid source card: {source!r}") from exc
        card = self.state.table("card").get(card_id)
        if card is None:
            raise QueryError(f"Card {card_id} does not exist.", "invalid-query")
        return self.compile_card(card.get("dataset_query") or {}, self.depth + 1), card

    def subquery_scope(self, sub: Compiled, card: Row | None) -> Scope:
        if sub.cols is not None:
            cols = [self.passed_on(Col(c["name"], "", {k: v for k, v in c.items()
                                                       if k not in ("name", "source", "field_ref")},
                                       c.get("field_ref"), c.get("source", "fields"), c.get("id"),
                                       _join_alias(c.get("field_ref")), c.get("unit"))) for c in sub.cols]
        else:
            names = self.probe(sub.sql, sub.params) if self.probe else []
            saved: list = (card.get("result_metadata") if card else None) or []
            meta = {m.get("name"): m for m in saved if isinstance(m, dict)}
            cols = []
            for name in names:
                m = meta.get(name, {})
                base = m.get("base_type") or "type/*"
                cols.append(Col(name, f'{quote("source")}.{quote(name)}',
                                {"display_name": m.get("display_name") or name, "base_type": base,
                                 "effective_type": m.get("effective_type") or base,
                                 "semantic_type": m.get("semantic_type")},
                                ["field", name, {"base-type": base}], "fields",
                                m.get("id") if isinstance(m.get("id"), int) else None))  # a model's column mapped to a field
        if card is not None and card.get("type") == "model":
            self.apply_model_metadata(cols, card)
        return Scope(quote("source"), None, cols, from_sql=f"({sub.sql}) AS {quote('source')}")

    @staticmethod
    def apply_model_metadata(cols: list[Col], card: Row) -> None:
        """A model's edited column metadata (display names, descriptions, semantic types) shows through."""
        edited = {m.get("name"): m for m in card.get("result_metadata") or [] if isinstance(m, dict)}
        for col in cols:
            m = edited.get(col.name)
            if m:
                for key in ("display_name", "description", "semantic_type", "settings"):
                    if key in m:
                        col.info[key] = m[key]

    def passed_on(self, col: Col) -> Col:
        """A column of the previous stage as the next stage reads it: by name, from "source"."""
        ref: list[Any] = ["field", col.field_id, None] if col.field_id is not None and \
            col.source in ("fields", "breakout") else ["field", col.name, {"base-type": col.base_type}]
        if col.unit and col.field_id is not None:
            ref = ["field", col.field_id, {"temporal-unit": col.unit}]
        info = dict(col.info)
        return Col(col.name, f'{quote("source")}.{quote(col.name)}', info, ref, "fields", col.field_id,
                   col.join_alias, col.unit)

    def table_cols(self, table: Row, alias: str) -> list[Col]:
        """A table's columns when the query names none: every active top-level field but the sensitive and retired
        ones, by position then name (query_processor/middleware/add_implicit_clauses.clj `table->sorted-fields`)."""
        rows = self.fields.where(table_id=table["id"], active=True)
        shown = sorted((f for f in rows if f.get("visibility_type") not in ("sensitive", "retired")
                        and f.get("parent_id") is None), key=lambda f: (f["position"], f["name"].lower()))
        return [self.field_col(f, alias) for f in shown]

    def field_col(self, f: dict, alias: str, join_alias: str | None = None) -> Col:
        info = {k: f.get(k) for k in FIELD_KEYS}
        ref = ["field", f["id"], {"join-alias": join_alias} if join_alias else None]
        if join_alias:
            info["display_name"] = f"{join_alias} → {f['display_name']}"
        return Col(f["name"], f"{alias}.{quote(f['name'])}", info, ref, "fields", f["id"], join_alias)

    # ---- one stage

    def stage(self, stage: dict, scope: Scope) -> tuple[str, list, list[Col]]:
        params: list = []
        for join in stage.get("joins") or []:
            params += self.join(join, scope)
        for name, expr in (stage.get("expressions") or {}).items():
            sql, base = self.expr(expr, scope)
            scope.expressions[name] = Col(name, sql, {"display_name": name, "base_type": base, "effective_type": base},
                                          ["expression", name])
        names = UniqueNames()
        breakouts = [self.ref(b, scope) for b in stage.get("breakout") or []]
        aggregations = stage.get("aggregation") or []
        out: list[Col] = []
        if breakouts or aggregations:
            for b in breakouts:
                col = Col(names(b.name), b.sql, {**b.info}, b.field_ref, "breakout", b.field_id, b.join_alias, b.unit)
                out.append(col)
            for i, clause in enumerate(aggregations):
                sql, info, name = self.aggregation(clause, scope, [b.sql for b in breakouts])
                out.append(Col(names(name), sql, {**info, "aggregation_index": i}, ["aggregation", i], "aggregation"))
        else:
            chosen = [self.ref(f, scope) for f in stage["fields"]] if stage.get("fields") else \
                [*scope.cols, *scope.expressions.values()]
            chosen += [c for j in stage.get("joins") or [] for c in self.join_fields(j, scope)]
            for c in chosen:
                out.append(Col(names(c.name), c.sql, c.info, c.field_ref, c.source, c.field_id, c.join_alias, c.unit))
        where = self.cond(stage["filter"], scope) if stage.get("filter") else None
        order = self.order_by(stage.get("order-by") or [], scope, out, breakouts)
        select = ", ".join(f"{c.sql} AS {quote(c.name)}" for c in out) or "*"
        sql = f"SELECT {select} FROM {scope.from_sql}"
        if scope.join_sql:  # after the filter and sorts, which may add implicit joins
            sql += " " + " ".join(scope.join_sql)
        if where:
            sql += " WHERE " + where
        if breakouts:
            sql += " GROUP BY " + ", ".join(b.sql for b in breakouts)
        if order:
            sql += " ORDER BY " + ", ".join(order)
        limit, offset = stage.get("limit"), None
        page = stage.get("page")
        if isinstance(page, dict) and page.get("items"):
            items = int(page["items"])
            limit, offset = items, (int(page.get("page") or 1) - 1) * items
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
            if offset:
                sql += f" OFFSET {offset}"
        return sql, params, out

    def order_by(self, clauses: list, scope: Scope, out: list[Col], breakouts: list[Col]) -> list[str]:
        """Explicit order-bys, then every breakout not sorted yet, ascending
        (query_processor/middleware/add_implicit_clauses.clj `add-implicit-breakout-order-by`)."""
        order, sorted_refs = [], []
        for clause in clauses:
            if not (isinstance(clause, list) and len(clause) == 2 and clause[0] in ("asc", "desc")):
                # legacy_mbql/normalize.cljc `canonicalize-order-by` leaves a clause other than [direction ref] as
                # it is (`[:desc {} [:aggregation 0]]`, an MBQL 5 clause with its options), and the schema's
                # OrderBy (`[:asc|:desc Reference]`) refuses it: the query fails, it is not run unsorted.
                raise QueryError(f"Invalid query: order-by clause {clause!r} is not [asc|desc <ref>]")
            direction, ref = ("DESC" if clause[0] == "desc" else "ASC"), clause[1]
            if isinstance(ref, list) and ref[:1] == ["aggregation"]:
                aggs = [c for c in out if c.source == "aggregation"]
                index = ref[1] if len(ref) > 1 else None
                if not isinstance(index, int) or not 0 <= index < len(aggs):
                    raise QueryError(f"No aggregation at index {index}")
                order.append(f"{quote(aggs[index].name)} {direction}")
                continue
            match = next((c for c in out if c.source == "breakout" and _same_ref(c.field_ref, ref)), None)
            if match is not None:
                sorted_refs.append(match.name)
                order.append(f"{quote(match.name)} {direction}")
            else:
                order.append(f"{self.ref(ref, scope).sql} {direction}")
        for col in out:
            if col.source == "breakout" and col.name not in sorted_refs:
                order.append(f"{quote(col.name)} ASC")
        return order

    # ---- joins

    def join(self, join: dict, scope: Scope) -> list:
        alias = join.get("alias")
        source = join.get("source-table")
        params: list = []
        if isinstance(source, int):
            table = self.tables.get(source)
            if table is None:
                raise QueryError(f"Table {source!r} does not exist.")
            alias = alias or table["name"]
            target, cols = quote(table["name"]), self.table_cols(table, quote(alias))
            cols = [self.field_col(f, quote(alias), alias) for c in cols if (f := self.fields.get(c.field_id))]
        else:
            if isinstance(source, str) and source.startswith("card__"):
                sub, card = self.card_query(source)
            elif isinstance(join.get("source-query"), dict):
                sub = MbqlCompiler(self.state, self.depth + 1, self.probe, self.compile_card).compile(
                    {"type": "query", "query": join["source-query"]})
                card = None
            else:
                raise QueryError("A join needs a source table, card or query.")
            alias = alias or "source"
            inner = self.subquery_scope(sub, card)
            table, target, params = None, f"({sub.sql})", sub.params
            cols = [Col(c.name, f"{quote(alias)}.{quote(c.name)}",
                        {**c.info, "display_name": f"{alias} → {c.info.get('display_name') or c.name}"},
                        ["field", c.field_id if c.field_id is not None else c.name,
                         {"join-alias": alias} if c.field_id is not None else
                         {"base-type": c.base_type, "join-alias": alias}], "fields", c.field_id, alias, c.unit)
                    for c in inner.cols]
        table_join = Join(alias, table, cols)
        scope.joins[alias] = table_join
        strategy = _JOIN_SQL.get(join.get("strategy") or "left-join")
        if strategy is None:
            raise QueryError(f"Invalid join strategy: {join.get('strategy')!r}")
        condition = self.cond(join["condition"], scope) if join.get("condition") else "1 = 1"
        scope.join_sql.append(f"{strategy} {target} AS {quote(alias)} ON {condition}")
        return params

    def join_fields(self, join: dict, scope: Scope) -> list[Col]:
        alias = join.get("alias") or next(iter(scope.joins))
        fields = join.get("fields")
        if fields == "all":
            return list(scope.joins[alias].cols)
        if isinstance(fields, list):
            return [self.ref(f, scope) for f in fields]
        return []

    # ---- references

    def ref(self, clause: Any, scope: Scope) -> Col:
        if not isinstance(clause, list) or not clause:
            raise QueryError(f"Invalid field reference: {clause!r}")
        if clause[0] == "expression":
            col = scope.expressions.get(clause[1])
            if col is None:
                raise QueryError(f"No expression named {clause[1]!r}")
            return col
        if clause[0] != "field" or len(clause) < 2:
            sql, base = self.expr(clause, scope)
            return Col("expression", sql, {"display_name": "Expression", "base_type": base, "effective_type": base},
                       clause)
        target, opts = clause[1], (clause[2] if len(clause) > 2 and isinstance(clause[2], dict) else {})
        col = self.base_ref(target, opts, scope)
        unit, binning = opts.get("temporal-unit"), opts.get("binning")
        if unit and unit != "default" and col.unit != unit:  # a previous stage's bucketed column stays as it is
            col = self.bucketed(col, unit, clause)
        elif binning:
            col = self.binned(col, binning, clause)
        return col

    def base_ref(self, target: Any, opts: dict, scope: Scope) -> Col:
        alias = opts.get("join-alias")
        if opts.get("source-field") is not None:
            return self.implicit(target, opts, scope)
        if alias:
            join = scope.joins.get(alias)
            if join is None:
                # a previous stage's joined column, read by id
                found = self.in_cols(scope.cols, target, alias)
                if found is None:
                    raise QueryError(f"No join named {alias!r} in this stage.")
                return found
            found = self.in_cols(join.cols, target, alias)
            if found is None and join.table is not None and isinstance(target, int):
                f = self.fields.get(target)
                if f is not None and f["table_id"] == join.table["id"]:
                    found = self.field_col(f, quote(alias), alias)
            if found is None:
                raise QueryError(f"Column {target!r} not found in join {alias!r}.")
            return found
        if scope.table is not None:
            f = self.fields.get(target) if isinstance(target, int) else \
                self.fields.first(table_id=scope.table["id"], name=target, active=True)
            if f is not None and f["table_id"] == scope.table["id"]:
                col = self.field_col(f, scope.alias)
                col.field_ref = ["field", f["id"], None]
                return col
            for join in scope.joins.values():  # a joined column referenced without its alias
                if join.table is not None and f is not None and f["table_id"] == join.table["id"]:
                    return self.field_col(f, quote(join.alias), join.alias)
        else:
            found = self.in_cols(scope.cols, target, None)
            if found is not None:
                return found
        raise QueryError(f"Column {target!r} is not available in this query.")

    @staticmethod
    def in_cols(cols: list[Col], target: Any, alias: str | None) -> Col | None:
        if isinstance(target, int):
            candidates = [c for c in cols if c.field_id == target]
            return next((c for c in candidates if c.join_alias == alias), candidates[0] if candidates else None)
        return next((c for c in cols if c.name == target), None) or \
            next((c for c in cols if c.name.lower() == str(target).lower()), None)

    def implicit(self, target: Any, opts: dict, scope: Scope) -> Col:
        """A column of the table an FK points to (`source-field`): a LEFT JOIN named like Metabase's
        `<TABLE>__via__<FK>` (query_processor/middleware/add_implicit_joins.clj)."""
        fk = self.base_ref(opts["source-field"], {"join-alias": opts.get("source-field-join-alias")}
                           if opts.get("source-field-join-alias") else {}, scope)
        f = self.fields.get(target) if isinstance(target, int) else None
        fk_row = self.fields.get(fk.field_id) if fk.field_id is not None else None
        pk = self.fields.get(fk_row.get("fk_target_field_id")) if fk_row else None
        if f is None or pk is None:
            raise QueryError(f"Cannot join through field {opts['source-field']!r}: it points to no table.")
        table = self.tables.get(f["table_id"])
        if table is None:
            raise QueryError(f"Table {f['table_id']!r} does not exist.")
        key = (fk.sql, table["id"])
        alias = scope.implicit.get(key)
        if alias is None:
            alias = f"{table['name']}__via__{fk.name}"
            scope.implicit[key] = alias
            scope.join_sql.append(f"LEFT JOIN {quote(table['name'])} AS {quote(alias)} "
                                  f"ON {fk.sql} = {quote(alias)}.{quote(pk['name'])}")
        col = self.field_col(f, quote(alias))
        col.info["display_name"] = f"{strip_id(fk.info.get('display_name') or fk.name)} → {f['display_name']}"
        col.field_ref = ["field", f["id"], {"source-field": opts["source-field"]}]
        return col

    def bucketed(self, col: Col, unit: str, clause: list) -> Col:
        """A column with a temporal unit: truncated or extracted; its display name says the unit
        (lib/temporal_bucket.cljc, "Created At: Month")."""
        info = dict(col.info)
        info["display_name"] = f"{col.info.get('display_name') or col.name}: {temporal.UNIT_NAMES.get(unit, unit)}"
        info["unit"] = unit
        if unit in temporal.EXTRACTIONS:
            info["base_type"] = info["effective_type"] = "type/Integer"
            info["semantic_type"] = None
        return Col(col.name, temporal.bucket(col.sql, unit), info, _clean_ref(clause), col.source, col.field_id,
                   col.join_alias, unit)

    def binned(self, col: Col, binning: dict, clause: list) -> Col:
        """Numeric binning (lib/binning.cljc, query_processor/middleware/binning.clj): floor(x / width) * width,
        with the width of num-bins made "nicer" from the field's fingerprint."""
        strategy = binning.get("strategy")
        if strategy == "bin-width":
            width = float(binning.get("bin-width") or 1)
            label = f"{binning.get('bin-width')}"
        else:
            bins = int(binning.get("num-bins") or 8) if strategy == "num-bins" else 8
            stats = (((col.info.get("fingerprint") or {}).get("type") or {}).get("type/Number") or {})
            low, high = stats.get("min"), stats.get("max")
            if low is None or high is None:
                raise QueryError(f"Cannot bin {col.name!r}: its fingerprint has no minimum and maximum.")
            width = _nicer_width((high - low) / bins if high > low else 1.0)
            label = f"{bins} bins" if strategy == "num-bins" else "Auto binned"
        info = {**col.info, "display_name": f"{col.info.get('display_name') or col.name}: {label}",
                "binning_info": {"binning_strategy": strategy, "bin_width": width}}
        width_sql = repr(int(width)) if width == int(width) else repr(width)
        sql = f"(CAST(floor({col.sql} * 1.0 / {width_sql}) AS INTEGER) * {width_sql})"
        return Col(col.name, sql, info, _clean_ref(clause), col.source, col.field_id, col.join_alias)

    # ---- aggregations

    def aggregation(self, clause: Any, scope: Scope, breakouts: list[str]) -> tuple[str, dict, str]:
        """SQL, column info and column name of one aggregation (lib/aggregation.cljc display-name-method and
        column-name-method: "Count", "Sum of Total", "count", "sum")."""
        if isinstance(clause, list) and clause[:1] == ["aggregation-options"]:
            sql, info, name = self.aggregation(clause[1], scope, breakouts)
            opts = clause[2] if len(clause) > 2 and isinstance(clause[2], dict) else {}
            if opts.get("display-name"):
                info = {**info, "display_name": opts["display-name"]}
            return sql, info, opts.get("name") or name
        if not isinstance(clause, list) or not clause:
            raise QueryError(f"Invalid aggregation: {clause!r}")
        tag, args = clause[0], clause[1:]
        if tag in _UNSUPPORTED_AGGREGATIONS:
            raise QueryError(f"{_UNSUPPORTED_AGGREGATIONS[tag]} is not supported by sqlite driver.",
                             "unsupported-feature")
        if tag in ("metric", "measure"):
            return self.macro_aggregation(tag, args, scope, breakouts)

        def arg(i: int = 0) -> tuple[str, str, str]:
            col = self.ref(args[i], scope) if isinstance(args[i], list) and args[i][:1] in (["field"], ["expression"]) \
                else None
            if col is not None:
                return col.sql, col.base_type, col.info.get("display_name") or col.name
            sql, base = self.expr(args[i], scope)
            return sql, base, "Expression"

        quantity = {"semantic_type": "type/Quantity"}
        if tag in ("count", "cum-count"):
            inner = f"COUNT({arg()[0]})" if args else "COUNT(*)"
            label = f" of {arg()[2]}" if args else ""
            if tag == "count":
                return inner, _info(f"Count{label}", "type/Integer", quantity), "count"
            return self.cumulative(inner, breakouts), _info(f"Cumulative count{label}", "type/Integer",
                                                            quantity), "cum_count"
        if tag in ("sum", "cum-sum", "avg", "min", "max", "distinct"):
            sql, base, label = arg()
            if tag == "sum":
                return f"SUM({sql})", _info(f"Sum of {label}", base), "sum"
            if tag == "cum-sum":
                return self.cumulative(f"SUM({sql})", breakouts), _info(f"Cumulative sum of {label}", base), "sum"
            if tag == "avg":
                return f"AVG({sql})", _info(f"Average of {label}", "type/Float"), "avg"
            if tag in ("min", "max"):
                return f"{tag.upper()}({sql})", _info(f"{tag.title()} of {label}", base), tag
            return f"COUNT(DISTINCT {sql})", _info(f"Distinct values of {label}", "type/Integer", quantity), "count"
        if tag == "count-where":
            cond = self.cond(args[0], scope)
            return (f"COUNT(CASE WHEN {cond} THEN 1 END)",
                    _info("Count of rows matching condition", "type/Integer", quantity), "count-where")
        if tag == "sum-where":
            sql, base, label = arg()
            cond = self.cond(args[1], scope)
            return (f"SUM(CASE WHEN {cond} THEN {sql} ELSE 0 END)", _info(f"Sum of {label} matching condition", base),
                    "sum_where")
        if tag == "distinct-where":
            sql, _base, label = arg()
            cond = self.cond(args[1], scope)
            return (f"COUNT(DISTINCT CASE WHEN {cond} THEN {sql} END)",
                    _info(f"Distinct values of {label} matching condition", "type/Integer"), "distinct_where")
        if tag == "share":
            cond = self.cond(args[0], scope)
            return (f"(CAST(COUNT(CASE WHEN {cond} THEN 1 END) AS REAL) / COUNT(*))",
                    _info("Share of rows matching condition", "type/Float"), "share")
        if tag in _ARITHMETIC:  # an expression of aggregations: ["+", ["sum", x], 1]
            parts = [self.aggregation(a, scope, breakouts)[0] if isinstance(a, list) else literal(a) for a in args]
            sql = _arithmetic(tag, parts)
            return sql, _info("Expression", "type/Float" if tag == "/" else "type/Number"), "expression"
        raise QueryError(f"The emulator cannot run the aggregation {tag!r}.")

    @staticmethod
    def cumulative(inner: str, breakouts: list[str]) -> str:
        """cum-count and cum-sum as a running total over the first breakout, partitioned by the others
        (docs/questions/query-builder/expressions/cumulativecount.md: "Compute cumulative counts for the
        additional breakouts over the first column"); without a breakout it is the plain aggregate."""
        if not breakouts:
            return inner
        partition = f"PARTITION BY {', '.join(breakouts[1:])} " if len(breakouts) > 1 else ""
        return f"SUM({inner}) OVER ({partition}ORDER BY {breakouts[0]} ROWS UNBOUNDED PRECEDING)"

    def macro_aggregation(self, tag: str, args: list, scope: Scope, breakouts: list[str]) -> tuple[str, dict, str]:
        """["metric", card-id] and ["measure", id]: the saved aggregation, limited by its own filter, named after the
        metric or measure (query_processor/middleware/metrics.clj expands them inline)."""
        object_id = args[-1] if args else None
        legacy_metric = (self.state.table("legacy_metric").get(object_id)
                         if tag == "metric" and self.state.profile.legacy_metrics else None)
        if legacy_metric is not None:
            # 0.50: ["metric", id] on a table is a legacy metric, expanded by expand_macros.clj from its definition
            # (a v2 metric card is used as a source, card__<id>, which 0.50 keeps apart from these ids).
            definition = legacy_metric.get("definition") or {}
            inner = (definition.get("query") if "query" in definition else definition) or {}
            name = legacy_metric["name"]
        elif tag == "metric":
            card = self.state.table("card").get(object_id)
            if card is None or card.get("type") != "metric":
                raise QueryError(f"Metric {object_id} does not exist.")
            inner = stages_of(legacy(card.get("dataset_query") or {}).get("query") or {})[-1]
            name = card["name"]
        else:
            measure = self.state.table("measure").get(object_id)
            if measure is None:
                raise QueryError(f"Measure {object_id} does not exist.")
            definition = measure.get("definition") or {}
            inner = (legacy(definition).get("query") if mbql.is_mbql5(definition) or "query" in definition
                     else definition) or {}
            name = measure["name"]
        aggregation = (inner.get("aggregation") or [None])[0]
        if aggregation is None:
            raise QueryError(f"{tag.title()} {object_id} has no aggregation.")
        if inner.get("filter"):
            aggregation = _where(aggregation, inner["filter"])
        sql, info, column = self.aggregation(aggregation, scope, breakouts)
        return sql, {**info, "display_name": name}, column

    # ---- filters

    def cond(self, clause: Any, scope: Scope) -> str:
        if not isinstance(clause, list) or not clause:
            if isinstance(clause, bool):
                return "1 = 1" if clause else "1 = 0"
            raise QueryError(f"Invalid filter: {clause!r}")
        tag, args = clause[0], clause[1:]
        if tag in ("and", "or"):
            parts = [self.cond(a, scope) for a in args]
            return "(" + f" {tag.upper()} ".join(parts) + ")"
        if tag == "not":
            return f"(NOT {self.cond(args[0], scope)})"
        if tag == "segment":
            segment = self.state.table("segment").get(args[0]) if args else None
            if segment is None:
                raise QueryError(f"Segment {args[0] if args else None} does not exist.")
            definition = segment.get("definition") or {}
            inner = legacy(definition).get("query") if mbql.is_mbql5(definition) or "query" in definition \
                else definition
            found = (inner or {}).get("filter")
            return self.cond(found, scope) if found else "1 = 1"
        if tag in ("is-null", "not-null", "is-empty", "not-empty"):
            x = self.operand(args[0], scope)[0]
            return {"is-null": f"({x} IS NULL)", "not-null": f"({x} IS NOT NULL)",
                    "is-empty": f"({x} IS NULL OR {x} = '')", "not-empty": f"({x} IS NOT NULL AND {x} <> '')"}[tag]
        if tag in ("contains", "does-not-contain", "starts-with", "ends-with"):
            return self.text_filter(tag, args, scope)
        if tag in ("=", "!=", "in", "not-in"):
            lhs, values = args[0], args[1:]
            if len(values) == 1 and isinstance(values[0], list) and tag in ("in", "not-in") and \
                    not (values[0] and isinstance(values[0][0], str) and values[0][0] in _CLAUSE_TAGS):
                values = values[0]
            x, rhs = self.comparison(lhs, values, scope)
            if tag in ("=", "in"):
                return f"({x} = {rhs[0]})" if len(rhs) == 1 else f"({x} IN ({', '.join(rhs)}))"
            # `!=` keeps the NULL rows (sql/qp.clj `correct-null-behaviour`)
            test = f"{x} <> {rhs[0]}" if len(rhs) == 1 else f"{x} NOT IN ({', '.join(rhs)})"
            return f"({test} OR {x} IS NULL)"
        if tag in _COMPARISONS:
            x, rhs = self.comparison(args[0], args[1:2], scope)
            return f"({x} {_COMPARISONS[tag]} {rhs[0]})"
        if tag == "between":
            x, (low, high) = self.comparison(args[0], args[1:3], scope)
            return f"({x} BETWEEN {low} AND {high})"
        if tag == "inside":
            lat, lon = self.operand(args[0], scope)[0], self.operand(args[1], scope)[0]
            north, west, south, east = (literal(v) for v in args[2:6])
            return f"({lat} BETWEEN {south} AND {north} AND {lon} BETWEEN {west} AND {east})"
        if tag in ("time-interval", "relative-time-interval"):
            col = self.ref(_without_unit(args[0]), scope) if isinstance(args[0], list) else None
            if col is None:
                raise QueryError(f"Invalid {tag} filter.")
            opts = args[-1] if isinstance(args[-1], dict) else {}
            if tag == "time-interval":
                start, end = temporal.interval(args[1], args[2], bool(opts.get("include-current")))
            else:
                start, end = temporal.interval(args[1], args[2], False, (int(args[3]), args[4]))
            return temporal.in_range(col.sql, start, end)
        if tag == "during":
            col = self.ref(_without_unit(args[0]), scope)
            value, unit = args[1], args[2]
            start = temporal.truncate(_parse_moment(value), unit)
            return temporal.in_range(col.sql, start, temporal.add(start, 1, unit))
        sql, _base = self.expr(clause, scope)  # a boolean expression or column
        return f"({sql})"

    def comparison(self, lhs: Any, values: list, scope: Scope) -> tuple[str, list[str]]:
        """Both sides of a comparison; a temporal column compares by its unit, by day against a date, and as an
        instant against a timestamp."""
        col_sql, base, unit = self.operand(lhs, scope)
        raw = [v[1] if isinstance(v, list) and v[:1] == ["value"] else v for v in values]
        if unit:  # the column is bucketed: the values are bucketed the same way
            return col_sql, [temporal.bucket(self.operand(v, scope)[0], unit) if not isinstance(v, int | float)
                             else literal(v) for v in raw]
        if is_temporal(base) and raw and all(isinstance(v, str) for v in raw):
            if all(temporal.is_date_only(v) for v in raw):
                return f"date({col_sql})", [literal(v) for v in raw]
            return temporal.as_datetime(col_sql), [f"datetime({literal(v)})" for v in raw]
        return col_sql, [self.operand(v, scope)[0] for v in raw]

    def operand(self, x: Any, scope: Scope) -> tuple[str, str, str | None]:
        if isinstance(x, list) and x[:1] in (["field"], ["expression"]):
            col = self.ref(x, scope)
            return col.sql, col.base_type, col.unit if col.unit not in temporal.EXTRACTIONS else None
        sql, base = self.expr(x, scope)
        return sql, base, None

    def text_filter(self, tag: str, args: list, scope: Scope) -> str:
        opts = args[-1] if isinstance(args[-1], dict) else {}
        values = [a for a in args[1:] if not isinstance(a, dict)]
        x = self.operand(args[0], scope)[0]
        sensitive = opts.get("case-sensitive", True)
        parts = []
        for value in values:
            v = self.operand(value, scope)[0]
            a, b = (x, v) if sensitive else (f"lower({x})", f"lower({v})")
            parts.append({"contains": f"instr({a}, {b}) > 0", "does-not-contain": f"instr({a}, {b}) = 0",
                          "starts-with": f"substr({a}, 1, length({b})) = {b}",
                          "ends-with": f"substr({a}, -length({b})) = {b}"}[tag])
        joined = "(" + (" AND " if tag == "does-not-contain" else " OR ").join(parts) + ")"
        return f"({joined} OR {x} IS NULL)" if tag == "does-not-contain" else joined

    # ---- expressions

    def expr(self, x: Any, scope: Scope) -> tuple[str, str]:
        """SQL and base type of an expression (lib/expression.cljc `type-of-method` for the types)."""
        if not isinstance(x, list):
            return literal(x), value_type(x)
        if not x:
            raise QueryError("Invalid expression: []")
        tag, args = x[0], x[1:]
        if tag in ("field", "expression"):
            col = self.ref(x, scope)
            return col.sql, col.base_type
        if tag == "value":
            return literal(args[0]), value_type(args[0])
        if tag in _UNSUPPORTED_EXPRESSIONS:
            raise QueryError(f"{_UNSUPPORTED_EXPRESSIONS[tag]} is not supported by sqlite driver.",
                             "unsupported-feature")
        if tag in _ARITHMETIC:
            intervals = [a for a in args if isinstance(a, list) and a[:1] == ["interval"]]
            if intervals:
                sql, base = self.expr(args[0], scope)
                for iv in intervals:
                    sign = -1 if tag == "-" else 1
                    sql = _date_add(sql, sign * iv[1], iv[2], base)
                return sql, base
            parts = [self.expr(a, scope) for a in args]
            if tag == "/":
                return _arithmetic(tag, [p[0] for p in parts]), "type/Float"
            base = "type/Integer" if all(p[1] in _INTEGERS for p in parts) else "type/Float"
            return _arithmetic(tag, [p[0] for p in parts]), base
        if tag in ("and", "or", "not", "=", "!=", "<", ">", "<=", ">=", "between", "is-null", "not-null", "is-empty",
                   "not-empty", "contains", "does-not-contain", "starts-with", "ends-with", "in", "not-in",
                   "time-interval", "relative-time-interval", "segment", "during", "inside"):
            return self.cond(x, scope), "type/Boolean"
        if tag == "coalesce":
            parts = [self.expr(a, scope) for a in args]
            return f"COALESCE({', '.join(p[0] for p in parts)})", parts[0][1]
        if tag in ("case", "if"):
            branches = args[0] if args else []
            default = args[1].get("default") if len(args) > 1 and isinstance(args[1], dict) else None
            whens, base = [], "type/*"
            for pred, value in branches:
                v, base = self.expr(value, scope)
                whens.append(f"WHEN {self.cond(pred, scope)} THEN {v}")
            tail = f" ELSE {self.expr(default, scope)[0]}" if default is not None else ""
            return f"(CASE {' '.join(whens)}{tail} END)", base
        if tag == "concat":
            return "(" + " || ".join(f"COALESCE(CAST({self.expr(a, scope)[0]} AS TEXT), '')" for a in args) + ")", \
                "type/Text"
        text = {"upper": "upper({0})", "lower": "lower({0})", "trim": "trim({0})", "ltrim": "ltrim({0})",
                "rtrim": "rtrim({0})", "text": "CAST({0} AS TEXT)"}
        if tag in text:
            return text[tag].format(self.expr(args[0], scope)[0]), "type/Text"
        if tag == "substring":
            s = self.expr(args[0], scope)[0]
            rest = ", ".join(self.expr(a, scope)[0] for a in args[1:])
            return f"substr({s}, {rest})", "type/Text"
        if tag == "replace":
            a, b, c = (self.expr(v, scope)[0] for v in args[:3])
            return f"replace({a}, {b}, {c})", "type/Text"
        if tag == "split-part":
            return self.split_part(args, scope), "type/Text"
        if tag == "length":
            return f"length({self.expr(args[0], scope)[0]})", "type/Integer"
        numeric = {"abs": ("abs({0})", None), "ceil": ("CAST(ceil({0}) AS INTEGER)", "type/Integer"),
                   "floor": ("CAST(floor({0}) AS INTEGER)", "type/Integer"),
                   "round": ("CAST(round({0}) AS INTEGER)", "type/Integer"), "sqrt": ("sqrt({0})", "type/Float"),
                   "exp": ("exp({0})", "type/Float"), "log": ("log10({0})", "type/Float"),
                   "integer": ("CAST({0} AS INTEGER)", "type/Integer"), "float": ("CAST({0} AS REAL)", "type/Float")}
        if tag in numeric:
            sql, base = self.expr(args[0], scope)
            template, out = numeric[tag]
            return template.format(sql), out or base
        if tag == "power":
            return f"power({self.expr(args[0], scope)[0]}, {self.expr(args[1], scope)[0]})", "type/Float"
        extract = {"get-year": "year-of-era", "get-quarter": "quarter-of-year", "get-month": "month-of-year",
                   "get-week": "week-of-year", "get-day": "day-of-month", "get-day-of-week": "day-of-week",
                   "get-hour": "hour-of-day", "get-minute": "minute-of-hour"}
        if tag in extract:
            return temporal.bucket(self.expr(args[0], scope)[0], extract[tag]), "type/Integer"
        if tag == "get-second":
            return f"CAST(strftime('%S', {self.expr(args[0], scope)[0]}) AS INTEGER)", "type/Integer"
        if tag == "temporal-extract":
            unit = {"year": "year-of-era", "quarter": "quarter-of-year", "month": "month-of-year",
                    "week": "week-of-year", "day": "day-of-month", "day-of-week": "day-of-week",
                    "hour": "hour-of-day", "minute": "minute-of-hour"}.get(args[1], args[1])
            return temporal.bucket(self.expr(args[0], scope)[0], unit), "type/Integer"
        if tag in ("datetime-add", "datetime-subtract"):
            sql, base = self.expr(args[0], scope)
            n = args[1] if tag == "datetime-add" else -args[1]
            return _date_add(sql, n, args[2], base), base
        if tag == "datetime-diff":
            a, b, unit = self.expr(args[0], scope)[0], self.expr(args[1], scope)[0], args[2]
            return _date_diff(a, b, unit), "type/Integer"
        if tag == "now":
            return "strftime('%Y-%m-%dT%H:%M:%SZ', 'now')", "type/DateTimeWithLocalTZ"
        if tag == "today":
            return "date('now')", "type/Date"
        if tag == "date":
            return f"date({self.expr(args[0], scope)[0]})", "type/Date"
        if tag in ("relative-datetime", "absolute-datetime"):
            return literal(_moment_value(x)), "type/DateTime"
        if tag == "month-name":
            return _names_case(self.expr(args[0], scope)[0], _MONTHS), "type/Text"
        if tag == "quarter-name":
            return f"('Q' || {self.expr(args[0], scope)[0]})", "type/Text"
        if tag == "day-name":
            return _names_case(self.expr(args[0], scope)[0], _DAYS), "type/Text"
        if tag in ("count", "sum", "avg", "min", "max", "distinct", "count-where", "sum-where", "share",
                   "cum-count", "cum-sum", "median", "percentile", "stddev", "var", "metric", "measure"):
            raise QueryError(f"The aggregation {tag!r} is only allowed in a stage's aggregations.")
        raise QueryError(f"The emulator cannot run the MBQL clause {tag!r}.")

    def split_part(self, args: list, scope: Scope) -> str:
        text, sep = self.expr(args[0], scope)[0], self.expr(args[1], scope)[0]
        n = args[2] if isinstance(args[2], int) else 1
        sql = text
        for _ in range(n - 1):
            sql = f"substr({sql}, instr({sql}, {sep}) + length({sep}))"
        return f"(CASE WHEN instr({sql}, {sep}) > 0 THEN substr({sql}, 1, instr({sql}, {sep}) - 1) ELSE {sql} END)"


# ---- helpers

_ARITHMETIC = {"+", "-", "*", "/"}
_INTEGERS = {"type/Integer", "type/BigInteger"}
_CLAUSE_TAGS = {"field", "expression", "value", "+", "-", "*", "/"}
_MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
           "November", "December"]
_DAYS = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"]
_SQLITE_UNITS = {"second": "seconds", "minute": "minutes", "hour": "hours", "day": "days", "month": "months",
                 "year": "years"}


def _info(display_name: str, base_type: str, extra: dict | None = None) -> dict:
    return {"display_name": display_name, "base_type": base_type, "effective_type": base_type,
            "semantic_type": None, **(extra or {})}


def _arithmetic(tag: str, parts: list[str]) -> str:
    if tag == "/":  # sql/qp.clj: division is floating point and a zero divisor gives NULL
        out = f"CAST({parts[0]} AS REAL)"
        for p in parts[1:]:
            out = f"({out} / NULLIF({p}, 0))"
        return out
    return "(" + f" {tag} ".join(parts) + ")"


def _date_add(sql: str, n: int, unit: str, base: str) -> str:
    if unit == "week":
        n, unit = n * 7, "day"
    if unit == "quarter":
        n, unit = n * 3, "month"
    if unit not in _SQLITE_UNITS:
        raise QueryError(f"Invalid interval unit: {unit!r}")
    modifier = literal(f"{n:+d} {_SQLITE_UNITS[unit]}")
    return f"date({sql}, {modifier})" if base == "type/Date" else \
        f"strftime('%Y-%m-%dT%H:%M:%SZ', {sql}, {modifier})"


def _date_diff(a: str, b: str, unit: str) -> str:
    days = f"(julianday({b}) - julianday({a}))"
    per = {"second": 86400, "minute": 1440, "hour": 24, "day": 1}
    if unit in per:
        return f"CAST({days} * {per[unit]} AS INTEGER)"
    if unit == "week":
        return f"CAST({days} / 7 AS INTEGER)"
    months = (f"((CAST(strftime('%Y', {b}) AS INTEGER) - CAST(strftime('%Y', {a}) AS INTEGER)) * 12 + "
              f"CAST(strftime('%m', {b}) AS INTEGER) - CAST(strftime('%m', {a}) AS INTEGER) - "
              f"(CASE WHEN strftime('%d%H%M%S', {b}) < strftime('%d%H%M%S', {a}) THEN 1 ELSE 0 END))")
    if unit == "month":
        return months
    if unit == "quarter":
        return f"({months} / 3)"
    if unit == "year":
        return f"({months} / 12)"
    raise QueryError(f"Invalid datetime-diff unit: {unit!r}")


def _names_case(sql: str, names: list[str]) -> str:
    whens = " ".join(f"WHEN {i} THEN {literal(n)}" for i, n in enumerate(names, start=1))
    return f"(CASE {sql} {whens} END)"


def _moment_value(x: list) -> str:
    if x[0] == "absolute-datetime":
        return str(x[1])
    n, unit = (x[1], x[2] if len(x) > 2 else "day")
    moment = temporal.now() if n == "current" else temporal.add(temporal.truncate(temporal.now(), unit), n, unit)
    return moment.strftime("%Y-%m-%d %H:%M:%S")


def _parse_moment(value: Any):
    import datetime as dt

    try:
        return dt.datetime.fromisoformat(str(value).replace("Z", "+00:00")).replace(tzinfo=None)
    except ValueError as exc:
        raise QueryError(f"Invalid date: {value!r}") from exc


def _where(aggregation: list, condition: Any) -> list:
    """An aggregation limited to the rows a filter keeps (a metric's or measure's own filter)."""
    tag = aggregation[0]
    if tag == "count":
        return ["count-where", condition]
    if tag == "sum":
        return ["sum-where", aggregation[1], condition]
    if tag == "distinct":
        return ["distinct-where", aggregation[1], condition]
    if tag in ("avg", "min", "max") and len(aggregation) > 1:
        return [tag, ["case", [[condition, aggregation[1]]]]]
    return aggregation


def _without_unit(ref: Any) -> Any:
    if isinstance(ref, list) and ref[:1] == ["field"] and len(ref) > 2 and isinstance(ref[2], dict):
        return ["field", ref[1], {k: v for k, v in ref[2].items() if k != "temporal-unit"} or None]
    return ref


def _clean_ref(ref: list) -> list:
    """A field ref as a result column carries it: its options without the base type."""
    if len(ref) > 2 and isinstance(ref[2], dict):
        opts = {k: v for k, v in ref[2].items() if k not in ("base-type", "effective-type")}
        return ["field", ref[1], opts or None]
    return ["field", ref[1], None]


def _same_ref(a: Any, b: Any) -> bool:
    if not (isinstance(a, list) and isinstance(b, list)) or a[:1] != ["field"] or b[:1] != ["field"]:
        return False
    opts_a = a[2] if len(a) > 2 and isinstance(a[2], dict) else {}
    opts_b = b[2] if len(b) > 2 and isinstance(b[2], dict) else {}
    keys = ("temporal-unit", "join-alias", "binning", "source-field")
    return a[1] == b[1] and all(opts_a.get(k) == opts_b.get(k) for k in keys)


def _join_alias(ref: Any) -> str | None:
    if isinstance(ref, list) and len(ref) > 2 and isinstance(ref[2], dict):
        return ref[2].get("join-alias")
    return None


def _nicer_width(width: float) -> float:
    """lib/binning/util.cljc `nicer-bin-width`: the smallest of 1, 1.25, 2, 2.5, 3, 5, 7.5, 10 (times a power of ten)
    that is at least the raw width."""
    if width <= 0:
        return 1.0
    magnitude = 10 ** math.floor(math.log10(width))
    for m in (1, 1.25, 2, 2.5, 3, 5, 7.5, 10):
        if m * magnitude >= width - 1e-12:
            return m * magnitude
    return 10 * magnitude
