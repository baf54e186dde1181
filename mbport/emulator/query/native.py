"""Native SQL with Metabase template tags (variables, field filters, snippets, card references) as SQLite SQL."""

from __future__ import annotations

import re
from typing import Any

from ..store import State
from .base import Compiled, QueryError
from .base import field_id as _field_id
from .base import quote as _quote

_TAG = re.compile(r"\{\{\s*(.+?)\s*\}\}")
_OPTIONAL = re.compile(r"\[\[(.+?)\]\]", re.S)


class NativeCompiler:
    """Expands Metabase template tags into SQLite SQL with bound parameters, in textual order."""

    def __init__(self, state: State, tags: dict[str, dict], values: dict[str, Any], depth: int = 0):
        self.state, self.tags, self.values, self.depth = state, tags, values, depth
        if depth > 8:
            raise QueryError("Circular card or snippet references.")

    def value_of(self, name: str) -> Any:
        tag = self.tags.get(name, {})
        value = self.values.get(name, tag.get("default"))
        return None if value in ([], "") else value

    def compile(self, sql: str) -> Compiled:
        params: list[Any] = []
        sql = self._inline_snippets(sql)
        sql = _OPTIONAL.sub(lambda m: m.group(1) if self._all_set(m.group(1)) else "", sql)
        text = _TAG.sub(lambda m: self._substitute(m.group(1), params), sql)
        return Compiled(text, params)

    def _inline_snippets(self, sql: str) -> str:
        def snippet(m: re.Match) -> str:
            name = m.group(1)
            if not name.lower().startswith("snippet:"):
                return m.group(0)
            tag = self.tags.get(name, {})
            rows = self.state.table("native_query_snippet")
            row = rows.get(tag["snippet-id"]) if tag.get("snippet-id") else None
            row = row or rows.first(name=tag.get("snippet-name") or name.split(":", 1)[1].strip())
            if row is None:
                raise QueryError(f"Snippet {name.split(':', 1)[1].strip()!r} does not exist.")
            return NativeCompiler(self.state, self.tags, self.values, self.depth + 1)._inline_snippets(row["content"])

        return _TAG.sub(snippet, sql)

    def _all_set(self, clause: str) -> bool:
        return all(name.startswith("#") or self.value_of(name) is not None for name in _TAG.findall(clause))

    def _substitute(self, name: str, params: list[Any]) -> str:
        if name.startswith("#"):
            return self._card_reference(name, params)
        tag = self.tags.get(name, {"type": "text"})
        value = self.value_of(name)
        if tag.get("type") == "dimension":
            return self._field_filter(tag, value, params)
        if value is None:
            if tag.get("required"):
                raise QueryError(f"You'll need to pick a value for '{tag.get('display-name') or name}' "
                                 "before this query can run.", "missing-required-parameter")
            raise QueryError(f'Cannot run the query: missing required parameters: #{{"{name}"}}',
                             "missing-required-parameter")
        items = value if isinstance(value, list) else [value]
        params.extend(_typed(tag.get("type"), v) for v in items)
        return ", ".join("?" for _ in items)

    def _card_reference(self, name: str, params: list[Any]) -> str:
        tag = self.tags.get(name, {})
        match = re.match(r"#(\d+)", name)
        card_id = tag.get("card-id") or (int(match.group(1)) if match else None)
        card = self.state.table("card").get(card_id) if card_id else None
        if card is None:
            raise QueryError(f"Card {card_id} does not exist.")
        from . import compile_query

        sub = compile_query(self.state, card["dataset_query"], [], self.depth + 1)
        params.extend(sub.params)
        return f"({sub.sql})"

    def _field_filter(self, tag: dict, value: Any, params: list[Any]) -> str:
        if value is None:
            return "1 = 1"  # an unset field filter matches everything
        f = self.state.table("metabase_field").get(_field_id(tag.get("dimension")))
        table = self.state.table("metabase_table").get(f["table_id"]) if f else None
        if f is None or table is None:
            raise QueryError("The field filter's field does not exist.")
        items = value if isinstance(value, list) else [value]
        params.extend(items)
        column = f"{_quote(table['name'])}.{_quote(f['name'])}"
        return f"{column} = ?" if len(items) == 1 else f"{column} IN ({', '.join('?' for _ in items)})"


def _typed(tag_type: str | None, value: Any) -> Any:
    if tag_type == "number" and isinstance(value, str):
        try:
            return float(value) if "." in value else int(value)
        except ValueError as exc:
            raise QueryError(f"Invalid number: {value!r}") from exc
    return value




def tags_by_name(tags: Any) -> dict[str, dict]:
    # a map keyed by name (<= 0.62) or a list of tags that carry their name (0.63)
    if isinstance(tags, list):
        return {t["name"]: t for t in tags if isinstance(t, dict) and "name" in t}
    return dict(tags or {})


def parameter_values(parameters: list[dict] | None) -> dict[str, Any]:
    """The values of parameters that target template tags, by tag name."""
    values = {}
    for p in parameters or []:
        target = p.get("target")
        if not (isinstance(target, list) and len(target) > 1 and isinstance(target[1], list)):
            continue
        if target[0] == "dimension" and target[1][:1] != ["template-tag"]:
            continue  # a field of an MBQL query: applied as a filter by the MBQL compiler
        name = next((x for x in reversed(target[1]) if isinstance(x, str) and x != "template-tag"), None)
        if name is not None and p.get("value") not in (None, [], ""):
            values[name] = p["value"]
    return values
