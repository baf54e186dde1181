"""One side's objects in comparable form: volatile fields dropped, every id replaced by the paired object's
identity (queries in either MBQL version, template tags, SQL card tags, visualization settings, click behaviours,
parameter mappings), set-like lists sorted; then a structural diff of two such forms."""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass, field
from typing import Any

import orjson

from .. import mbql
from ..refs import REF_FALLBACK, Walker
from .fields import (
    COMPARED,
    ID_KEYS,
    ID_KEYS_IN,
    NAMED_MAPS,
    NUMBERS,
    SET_LIKE,
    VOLATILE,
    WALKED,
    WORDS,
    volatile_reason,
)

_ID_LIKE = re.compile(r"(^id$|_id$|-id$|Id$)")


@dataclass
class Tokens:
    """(kind, id) → identity text of one side; an id nobody paired names itself and its side."""

    side: str  # "source" or "target"
    names: dict[tuple[str, Any], str] = field(default_factory=dict)
    unclassified: list[tuple[str, str, Any]] = field(default_factory=list)  # (owner, path, value)
    unknown_fields: set[tuple[str, str]] = field(default_factory=set)  # (kind, key): neither compared nor listed

    def of(self, kind: str, value: Any) -> Any:
        if isinstance(value, bool) or value is None:
            return value
        if isinstance(value, str) and value.isdigit():
            value = int(value)
        if isinstance(value, str):
            return self.names.get((kind, value), value)  # a kind keyed by text: a cache policy's `question:12`
        if not isinstance(value, int):
            return value
        found = self.names.get((kind, value))
        if found is None and kind in REF_FALLBACK and not any(k == kind for k, _ in self.names):
            return self.of(REF_FALLBACK[kind], value)  # a side without legacy metrics: the metric card
        return found or f"{kind[:-1] if kind.endswith('s') else kind} #{value} (not found on the {self.side})"


class Canon:
    """Turns one object of one side into its comparable form."""

    def __init__(self, tokens: Tokens, kind: str, owner: str):
        self.tokens, self.kind, self.owner = tokens, kind, owner
        self.id_keys = {**ID_KEYS, **ID_KEYS_IN.get(kind, {})}
        self.walker = Walker(lambda k, v: self.tokens.of(k, v) if not isinstance(v, dict) else v)

    # --- the object ---
    def doc(self, doc: dict) -> dict:
        return self.mapping(doc, "", top=True)

    def mapping(self, node: dict, path: str, top: bool = False) -> dict:
        out: dict[str, Any] = {}
        for key, value in node.items():
            key = str(key)
            if volatile_reason(self.kind, key) if top else key in VOLATILE:
                continue
            here = f"{path}.{key}" if path else key
            if key not in COMPARED and key not in self.id_keys and key not in WALKED and key not in NUMBERS:
                self.tokens.unknown_fields.add((self.kind, key))
            out[key] = self.value(key, value, here)
        return out

    def value(self, key: str, value: Any, path: str) -> Any:
        if key in NAMED_MAPS and isinstance(value, dict):  # keys are identities, values objects
            return {k: self.mapping(v, f"{path}.{k}") if isinstance(v, dict) else self.value(k, v, f"{path}.{k}")
                    for k, v in value.items()}
        if key in self.id_keys:
            kind = self.id_keys[key]
            if isinstance(value, list):
                return sorted((self.tokens.of(kind, v) for v in value), key=_sort_key)
            if isinstance(value, dict):  # e.g. a hydrated {id, name}: the id is the identity
                return self.tokens.of(kind, value.get("id"))
            return self.tokens.of(kind, value)
        if key in WALKED:
            return self.walked(key, value, path)
        if isinstance(value, dict):
            return self.mapping(value, path)
        if isinstance(value, list):
            items = [self.value(key, v, f"{path}[{i}]") if isinstance(v, dict | list) else self.scalar(key, v, path)
                     for i, v in enumerate(value)]
            return sorted(items, key=_sort_key) if key in SET_LIKE else items
        return self.scalar(key, value, path)

    def scalar(self, key: str, value: Any, path: str) -> Any:
        if isinstance(value, int) and not isinstance(value, bool) and key not in NUMBERS:
            self.tokens.unclassified.append((self.owner, path, value))
        return value

    # --- user content read with the id walker ---
    def walked(self, key: str, value: Any, path: str) -> Any:
        w = self.walker
        if key in ("dataset_query", "definition"):
            out = w.query(semantic_query(value, fragment=key == "definition"))
        elif key == "visualization_settings":
            out = w.viz(value or {})  # Metabase reads a null visualization_settings as {}
        elif key == "parameters":
            out = w.parameters(value)
        elif key == "parameter_mappings":
            out = w.parameter_mappings(value)
        elif key in ("target", "field_ref"):
            out = w.query(value)
        else:  # anything else may still hold a field clause (a sandbox's attribute remappings)
            out = w.query(copy.deepcopy(value))  # replaced in place below: never the fetched doc itself
        self.leftover_ids(out, path)
        return out

    def leftover_ids(self, node: Any, path: str) -> None:
        """Ids the walker left alone: under a known id key (a link card's `collection_id`) they are replaced
        here; under any other id-like key they are reported: an id nobody knows how to pair."""
        if isinstance(node, dict):
            for k, v in node.items():
                here = f"{path}.{k}"
                if isinstance(v, int) and not isinstance(v, bool) and k in self.id_keys:
                    node[k] = self.tokens.of(self.id_keys[k], v)
                elif isinstance(v, int) and not isinstance(v, bool) and _ID_LIKE.search(str(k)):
                    self.tokens.unclassified.append((self.owner, here, v))
                else:
                    self.leftover_ids(v, here)
        elif isinstance(node, list):
            for i, v in enumerate(node):
                self.leftover_ids(v, f"{path}[{i}]")


def semantic_query(query: Any, fragment: bool = False) -> Any:
    """A query in MBQL 4 whatever the server speaks (MBQL 5 from 0.57 on), without MBQL 5's random clause uuids,
    so a 0.56 source and a 0.61 target compare by meaning. A segment or measure definition is its inner query."""
    if isinstance(query, dict) and mbql.is_mbql5(query):
        query = mbql.to_legacy(query)
        if fragment and query.get("type") == "query":
            query = query.get("query")
    query = _strip(query)
    if isinstance(query, dict) and query.get("type") == "native":
        native = dict(query.get("native") or {})
        tags = native.get("template-tags")
        if isinstance(tags, list):  # 0.63 lists template tags; earlier versions key them by name
            native["template-tags"] = {t.get("name"): t for t in tags if isinstance(t, dict)}
        if not native.get("template-tags"):  # MBQL 5 → 4 conversion adds an empty map a 0.56 query does not have
            native.pop("template-tags", None)
        query = {**query, "native": native}
    return query


# Regenerated by the server on every save or conversion (0.53-0.56 `*-idents`, MBQL 5 `lib/uuid`), or markers
# of the conversion itself: never what a user wrote.
_QUERY_BOOKKEEPING = frozenset({"lib/uuid", "lib.convert/converted?", "lib/type", "aggregation-idents",
                                "breakout-idents", "expression-idents", "ident"})


def _strip(node: Any, named: bool = False) -> Any:
    """Drop `lib/uuid` and other per-conversion bookkeeping (not in maps whose keys a user named: an expression
    may be called "ident")."""
    if isinstance(node, dict):
        return {k: _strip(v, k in ("expressions", "template-tags")) for k, v in node.items()
                if named or k not in _QUERY_BOOKKEEPING}
    if isinstance(node, list):
        return [_strip(v) for v in node]
    return node


def _sort_key(item: Any) -> bytes:
    return orjson.dumps(item, option=orjson.OPT_SORT_KEYS)


# ---- diff ----

@dataclass
class Difference:
    kind: str
    name: str  # the object's identity, e.g. "card 'Revenue by month'"
    path: str  # "" for the whole object
    source: Any
    target: Any
    change: str  # "changed", "missing on target", "only on target", "only in source", "only in target", "rows", ...
    text: str | None = None  # a sentence of its own (rows: "12 rows vs 11")

    def line(self) -> str:
        if self.text:
            return f"{self.name}: {self.text}"
        where = f"{self.name}: {words(self.path, self.kind)}" if self.path else self.name
        if self.change == "changed":
            return f"{where}: {short(self.source)} → {short(self.target)}"
        if self.change in ("missing on target", "only on target") and self.path:
            value = self.source if self.change == "missing on target" else self.target
            if value not in (None, "", True, [], {}):
                return f"{where}: {short(value)} {self.change}"
        return f"{where}: {self.change}" if self.path or self.change not in ("only in source", "only in target") \
            else f"{self.name} {self.change}"

    def as_dict(self) -> dict:
        return {"kind": self.kind, "name": self.name, "path": self.path.replace(SEP, "."), "change": self.change,
                "source": self.source, "target": self.target, "message": self.line()}


def _is_container(value: Any) -> bool:
    return isinstance(value, dict | list)


SEP = "\x1f"  # between the parts of a difference's path (identities such as "table 'a.b'" contain dots)
_NAMED_PATHS = NAMED_MAPS | {"graph"}


def words(path: str, kind: str = "") -> str:
    """A field path in an admin's words: `display` → visualization, a field's `dimensions` → remapping, and a
    dashcard or database named by its identity: `dashcard card 'X' at row 0, col 0: visualization settings.click
    behaviour`."""
    parts, i = path.split(SEP), 0
    segments: list[str] = []
    current: list[str] = []
    while i < len(parts):
        part = parts[i]
        if part in _NAMED_PATHS and i + 1 < len(parts):
            if current:
                segments.append(".".join(current))
                current = []
            segments.append(parts[i + 1])
            i += 2
            continue
        base = part.split("[", 1)[0]
        said = base if base == "dimensions" and kind != "fields" else WORDS.get(base, base)  # a metric's are its own
        current.append(said + part[len(base):])
        i += 1
    if current:
        segments.append(".".join(current))
    return ": ".join(segments)


def short(value: Any, limit: int = 80) -> str:
    if isinstance(value, str):
        text = value
    else:
        text = orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _identity(a: list, b: list) -> str | None:
    """A key that names each item of both lists once (channel_type, type, name ...), if there is one."""
    items = a + b
    if not all(isinstance(x, dict) for x in items):
        return None
    for key in ("channel_type", "name", "email", "key", "type"):
        if all(isinstance(x.get(key), str) for x in items) and len({x[key] for x in a}) == len(a) \
                and len({y[key] for y in b}) == len(b):
            return key
    return None


def diff(kind: str, name: str, a: Any, b: Any, path: str = "") -> list[Difference]:
    """Where two comparable forms differ: changed values, keys and set members on one side only."""
    if a == b:
        return []
    if isinstance(a, dict) and isinstance(b, dict):
        out: list[Difference] = []
        for key in list(a) + [k for k in b if k not in a]:
            here = f"{path}{SEP}{key}" if path else str(key)
            if key not in b:
                if a[key] is not None:  # a null and an absent key mean the same to Metabase
                    out.append(Difference(kind, name, here, a[key], None, "missing on target"))
            elif key not in a:
                if b[key] is not None:
                    out.append(Difference(kind, name, here, None, b[key], "only on target"))
            else:
                out.extend(diff(kind, name, a[key], b[key], here))
        return out
    if isinstance(a, list) and isinstance(b, list):
        if not a or not b:
            return [Difference(kind, name, path, a or None, b or None, "missing on target" if a else "only on target")]
        last = path.rsplit(SEP, 1)[-1].split("[", 1)[0]
        ident = _identity(a, b) if last in SET_LIKE else None
        if ident is not None:  # set-like items with an identity (a handler's channel): compared item by item
            xs, ys = {x[ident]: x for x in a}, {y[ident]: y for y in b}
            out = []
            for k in list(xs) + [k for k in ys if k not in xs]:
                out.extend(diff(kind, name, xs.get(k), ys.get(k), f"{path}[{k}]") if k in xs and k in ys else
                           [Difference(kind, name, path, xs.get(k), ys.get(k),
                                       "missing on target" if k in xs else "only on target")])
            return out
        if last in SET_LIKE or len(a) != len(b):
            ka, kb = [_sort_key(x) for x in a], [_sort_key(x) for x in b]
            out = [Difference(kind, name, path, x, None, "missing on target") for x, k in zip(a, ka, strict=False) if k not in kb]
            out += [Difference(kind, name, path, None, y, "only on target") for y, k in zip(b, kb, strict=False) if k not in ka]
            if out or len(a) == len(b):
                return out or [Difference(kind, name, path, a, b, "changed")]
            return [Difference(kind, name, path, a, b, "changed")]
        out = []
        for i, (x, y) in enumerate(zip(a, b, strict=False)):
            out.extend(diff(kind, name, x, y, f"{path}[{i}]"))
        return out
    return [Difference(kind, name, path, a, b, "changed")]
