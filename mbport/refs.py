"""Portable references: addresses, `{"$ref": ...}` markers, and the walkers that find every id in a payload.

One walker serves every direction. It knows *where* ids hide (MBQL 4 and 5 queries, native template tags
and `{{#12-name}}` text, parameters, parameter mappings, visualization settings with JSON-encoded keys,
click behaviours, link cards, visualizer sources) and calls `fn(kind, value)` for each id slot; `fn`
returns the replacement. Export passes numeric ids and gets refs back, import passes refs and gets target
ids back, dependency discovery records what it is shown and returns it unchanged.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, TypeGuard

import orjson

from .canonical import (
    NAMED_MAPS,
    QUERY_NOISE,
    aggregation_refs,
    copy_level,
    copy_without_noise,
    drop_unreferenced_uuids,
    tags_by_name,
)

REF = "$ref"
SECRET = "$secret"

IdFn = Callable[[str, Any], Any]


# ---- addresses: kind/key, key parts joined by "/" with "%" and "/" escaped ----

def quote_part(part: Any) -> str:
    text = "" if part is None else str(part)
    return text.replace("%", "%25").replace("/", "%2F")


def unquote_part(part: str) -> str:
    return part.replace("%2F", "/").replace("%25", "%")


def address(kind: str, *parts: Any) -> str:
    if len(parts) == 1:  # most kinds: the entity_id alone (index and normalize ask for every object's address)
        return kind + "/" + quote_part(parts[0])
    return kind + "/" + "/".join([quote_part(p) for p in parts])


def split_address(addr: str) -> tuple[str, list[str]]:
    kind, _, rest = addr.partition("/")
    return kind, [unquote_part(p) for p in rest.split("/")]


def address_kind(addr: str) -> str:
    return addr.partition("/")[0]


def ref_to(kind: str, *parts: Any) -> dict[str, str]:
    """The ref to the doc of `kind` whose key is `parts`."""
    return ref(address(kind, *parts))


def ref(addr: str) -> dict[str, str]:
    return {REF: addr}


def is_ref(value: Any) -> TypeGuard[dict[str, str]]:
    return isinstance(value, dict) and REF in value and len(value) == 1 and isinstance(value[REF], str)


def is_secret(value: Any) -> bool:
    return isinstance(value, dict) and SECRET in value and len(value) == 1


def _is_id(value: Any) -> bool:
    """A slot value worth handing to fn: a numeric id (not a bool) or a ref."""
    return (isinstance(value, int) and not isinstance(value, bool)) or is_ref(value)


# ---- the walker ----

# `{{#12-name}}` in SQL; portable form `{{#[cards/<key>]-name}}`.
CARD_TAG_SQL = re.compile(r"\{\{(\s*)#(\d+|\[[^\]]+\])((?:-[^}\s]*)?)(\s*)\}\}")
CARD_TAG_NAME = re.compile(r"^#(\d+|\[[^\]]+\])(-.*)?$")
VISUALIZER_SOURCE = re.compile(r"card:(\d+|\[[^\]]+\])")
# Entries of a click behaviour's parameterMapping whose key/id is a JSON-encoded dimension.
_JSON_ARRAY = re.compile(r"^\s*\[")

ID_CLAUSES = {"metric": "cards", "segment": "segments", "measure": "measures"}
# `["metric", id]` in an MBQL 4 query on a table: a legacy metric on 0.50 (api/legacy-metric), a metric card on the
# same table from 0.51 on. The walker asks for the legacy metric; an export whose source has none takes the card.
LEGACY_METRICS = "legacy-metrics"
REF_FALLBACK = {LEGACY_METRICS: "cards"}
LINK_MODELS = {
    "card": "cards", "dataset": "cards", "metric": "cards", "question": "cards", "dashboard": "dashboards",
    "collection": "collections", "table": "tables", "database": "databases", "action": "actions",
}


# isinstance with a tuple: `list | dict` written in the call builds a union on every call (about four times slower
# on 3.11), and the walker asks it for every node of every stored query
_CONTAINERS = (list, dict)
# The keys of a query map that `_query_dict` treats apart (id slots, template tags, native text)
_SLOT_KEYS = frozenset({"source-table", "source-card", "card-id", "database", "source-field", "fk-field-id", "field-id",
                        "snippet-id", "table-id", "template-tags", "native"})


class Walker:
    """Rewrites (or just visits) every id slot in Metabase payloads; see the module docstring."""

    # While `canonical_query` walks: the query's noise is left out on the way (mbport.canonical), the `lib/uuid`s
    # kept so far with their dicts, and the uuids that refs name (set then: a walker is made per doc field).
    _canonical = False
    _uuids: list[tuple[dict[str, Any], str]]
    _referenced: set[str]

    def __init__(self, fn: IdFn):
        self.fn = fn
        self._on_table = False  # inside an MBQL 4 query whose source is a table (not a card)

    def canonical_query(self, node: Any) -> Any:
        """`self.query(mbport.canonical.canonical_query(node))` in one walk instead of a copy and a walk: export
        makes a card's doc from a query of hundreds of nodes, thousands of times (bench-L's 5,000 card queries:
        0.145 s of CPU copied then walked, 0.105 s this way). What the walk does not go into (a value in no id
        slot) is copied by canonical_query's own code, so the result is the same (tests/unit/test_refs.py)."""
        return self.canonical("query", node)

    def canonical(self, shape: str, node: Any) -> Any:
        """`getattr(self, shape)(canonical_query(node))` in one walk, for a query, parameters or parameter mappings
        (bench-L's 5,000 dashcards' mappings: copied once, not copied and then walked)."""
        self._canonical, self._uuids, self._referenced = True, [], set()
        try:
            if shape != "query" and isinstance(node, list):  # (a query's clauses note this themselves)
                self._note_aggregation(node)
            out = getattr(self, shape)(node)
            drop_unreferenced_uuids(self._uuids, self._referenced)
        finally:
            self._canonical = False
            del self._uuids, self._referenced
        return out

    def _as_is(self, value: Any) -> Any:
        """A value in no id slot: itself, or (in canonical_query) its copy without noise."""
        if self._canonical and isinstance(value, _CONTAINERS):
            return copy_without_noise(value, self._referenced, self._uuids)
        return value

    def _copy(self, node: dict, slots: tuple[str, ...]) -> dict:
        """A map whose `slots` the caller walks next: a plain copy, or (canonical) one without noise, its slots as
        they are (their walk drops their noise)."""
        if self._canonical:
            return copy_level(node, self._referenced, self._uuids, slots)
        return dict(node)

    def _note_aggregation(self, node: list) -> None:
        """canonical_query's note of an MBQL 5 aggregation ref (`["aggregation", {opts}, "<uuid>"]`): its uuid is kept."""
        if len(node) == 3 and node[0] == "aggregation" and isinstance(node[1], dict) and isinstance(node[2], str):
            self._referenced.add(node[2])

    # --- slots ---
    def id(self, kind: str, value: Any) -> Any:
        if type(value) is int or _is_id(value):  # a plain int first: most slots hold one
            return self.fn(kind, value)
        return self._as_is(value)

    def _bracketed(self, kind: str, token: str) -> str:
        """`12` or `[cards/x]` inside text -> the same form for fn's answer."""
        if token.startswith("["):
            value: Any = {REF: token[1:-1]}
        else:
            value = int(token)
        out = self.fn(kind, value)
        return f"[{out[REF]}]" if is_ref(out) else str(out)

    # --- queries (MBQL 4, MBQL 5, native, fragments such as segment definitions) ---
    def query(self, node: Any, named: bool = False) -> Any:
        """`named`: the keys of this map are names a user gave (canonical_query keeps them all)."""
        if isinstance(node, list):
            return self.clause(node)
        if not isinstance(node, dict):
            return node
        if "source-table" in node or "source-card" in node or "source-query" in node:
            source = node.get("source-table")
            on_table = (isinstance(source, int) and not isinstance(source, bool)) or (
                isinstance(source, dict) and is_ref(source) and str(source[REF]).startswith("tables/"))
            outer, self._on_table = self._on_table, on_table
            try:
                return self._query_dict(node, named)
            finally:
                self._on_table = outer
        return self._query_dict(node, named)

    def _query_dict(self, node: dict, named: bool = False) -> dict:
        out: dict[str, Any] = {}
        canonical = self._canonical
        for key, value in node.items():
            if canonical and not named and key in QUERY_NOISE:  # mbport.canonical.copy_without_noise, on the way
                if key != "lib/uuid":
                    if isinstance(value, _CONTAINERS):
                        self._referenced.update(aggregation_refs(value))
                    continue
                self._uuids.append((out, value))  # dropped at the end unless a ref names it
            if key not in _SLOT_KEYS:  # most keys: no id slot (one set lookup instead of the chain below)
                out[key] = (self.query(value, canonical and key in NAMED_MAPS and not named)
                            if isinstance(value, _CONTAINERS) else value)
            elif key == "source-table":
                out[key] = self.source_table(value)
            elif key in ("source-card", "card-id"):
                out[key] = self.id("cards", value)
            elif key == "database" and _is_id(value):
                out[key] = self.id("databases", value)
            elif key in ("source-field", "fk-field-id", "field-id"):
                out[key] = self.id("fields", value)
            elif key == "snippet-id":
                out[key] = self.id("snippets", value)
            elif key == "table-id":
                out[key] = self.id("tables", value)
            elif key == "template-tags":
                out[key] = self.template_tags(tags_by_name(value) if canonical and isinstance(value, list) else value)
            elif key == "native" and isinstance(value, str):  # MBQL 5 native stage
                out[key] = self.sql(value)
            elif key == "native" and isinstance(value, dict):  # MBQL 4 {type: native, native: {query ...}}
                inner = self.query({k: v for k, v in value.items() if k != "query"})
                if isinstance(value.get("query"), str):
                    inner["query"] = self.sql(value["query"])
                elif "query" in value:
                    inner["query"] = self._as_is(value["query"])
                # in the raw's order, in place: canonical_query noted this very dict if it keeps a lib/uuid
                ordered = [(k, inner[k]) for k in value if k in inner]
                inner.clear()
                inner.update(ordered)
                out[key] = inner
            elif isinstance(value, _CONTAINERS):
                out[key] = self.query(value, canonical and key in NAMED_MAPS and not named)
            else:
                out[key] = value  # a scalar in no id slot stays as it is (no call: queries are mostly scalars)
        return out

    def source_table(self, value: Any) -> Any:
        if isinstance(value, str) and value.startswith("card__") and value[6:].isdigit():
            new = self.fn("cards", int(value[6:]))
            return f"card__{new}" if isinstance(new, int) else new
        if is_ref(value) and value[REF].startswith("cards/"):
            new = self.fn("cards", value)
            return f"card__{new}" if isinstance(new, int) else new
        return self.id("tables", value)

    def clause(self, node: list) -> list:
        if node and isinstance(node[0], str):
            head = node[0]
            if head == "field" and len(node) >= 3:
                if isinstance(node[1], dict) and not is_ref(node[1]):  # MBQL 5: ["field", {opts}, id]
                    # (the most common clause of all: a plain id without the call of `id`, no empty rest)
                    opts, ident = self.query(node[1]), node[2]
                    ident = self.fn("fields", ident) if type(ident) is int else self.id("fields", ident)
                    return ["field", opts, ident, *self._rest(node[3:])] if len(node) > 3 else ["field", opts, ident]
                ident, opts = node[1], node[2]  # MBQL 4: ["field", id, opts]
                ident = self.fn("fields", ident) if type(ident) is int else self.id("fields", ident)
                opts = self.query(opts) if isinstance(opts, _CONTAINERS) else opts
                return ["field", ident, opts, *self._rest(node[3:])] if len(node) > 3 else ["field", ident, opts]
            if head == "field-id" and len(node) == 2:
                return ["field-id", self.id("fields", node[1])]
            if head in ID_CLAUSES and len(node) >= 2:
                kind = ID_CLAUSES[head]
                if len(node) >= 3 and isinstance(node[1], dict) and not is_ref(node[1]):
                    return [head, self.query(node[1]), self.id(kind, node[2]), *self._rest(node[3:])]
                if head == "metric" and self._on_table:
                    kind = LEGACY_METRICS
                return [head, self.id(kind, node[1]), *self._rest(node[2:])]
            if head == "aggregation" and self._canonical:
                self._note_aggregation(node)  # an MBQL 5 ref to an aggregation: its lib/uuid is kept
        return [self.query(x) if isinstance(x, _CONTAINERS) else x for x in node]

    def _rest(self, items: list) -> list:
        return [self.query(x) if isinstance(x, _CONTAINERS) else x for x in items]

    def template_tags(self, tags: Any) -> Any:
        """Native template tags, as a map keyed by name (<= 0.62) or a list of tags (0.63+)."""
        if isinstance(tags, list):
            return [self.template_tag(t) for t in tags]
        if isinstance(tags, dict):
            return {self.card_tag_name(name): self.template_tag(
                # (canonical_query turns any list under a "template-tags" key into a map, a tag's own name too)
                tags_by_name(tag) if self._canonical and name == "template-tags" and isinstance(tag, list) else tag)
                for name, tag in tags.items()}
        return tags

    def template_tag(self, tag: Any) -> Any:
        if not isinstance(tag, dict):
            return self._as_is(tag)
        out = self.query(tag)
        if isinstance(out.get("name"), str):
            out["name"] = self.card_tag_name(out["name"])
        return out

    def card_tag_name(self, name: str) -> str:
        m = CARD_TAG_NAME.match(name)
        if not m:
            return name
        return "#" + self._bracketed("cards", m.group(1)) + (m.group(2) or "")

    def sql(self, text: str) -> str:
        def swap(m: re.Match) -> str:
            return "{{" + m.group(1) + "#" + self._bracketed("cards", m.group(2)) + m.group(3) + m.group(4) + "}}"

        return CARD_TAG_SQL.sub(swap, text)

    # --- parameters and mappings ---
    def parameters(self, params: Any) -> Any:
        if not isinstance(params, list):
            return self._as_is(params)
        out = []
        for p in params:
            if not isinstance(p, dict):
                out.append(self._as_is(p))
                continue
            p = self._copy(p, ("values_source_config", "target"))
            cfg = p.get("values_source_config")
            if isinstance(cfg, dict):
                cfg = self._copy(cfg, ("card_id", "value_field", "label_field"))
                if "card_id" in cfg:
                    cfg["card_id"] = self.id("cards", cfg["card_id"])
                for key in ("value_field", "label_field"):
                    if key in cfg:
                        cfg[key] = self.query(cfg[key])
                p["values_source_config"] = cfg
            elif "values_source_config" in p:
                p["values_source_config"] = self._as_is(cfg)
            if "target" in p:
                p["target"] = self.query(p["target"])
            out.append(p)
        return out

    def parameter_mappings(self, mappings: Any) -> Any:
        if not isinstance(mappings, list):
            return self._as_is(mappings)
        out = []
        for m in mappings:
            if isinstance(m, dict):
                m = self._copy(m, ("card_id", "target"))
                if "card_id" in m:
                    m["card_id"] = self.id("cards", m["card_id"])
                if "target" in m:
                    m["target"] = self.query(m["target"])
            else:
                m = self._as_is(m)
            out.append(m)
        return out

    # --- visualization settings ---
    def viz(self, settings: Any) -> Any:
        if not isinstance(settings, dict):
            return settings
        out: dict[str, Any] = {}
        for key, value in settings.items():
            if key == "column_settings" and isinstance(value, dict):
                out[key] = {self.json_string(k): self.viz(v) for k, v in value.items()}
            elif key == "click_behavior":
                out[key] = self.click_behavior(value)
            elif key == "link" and isinstance(value, dict):
                out[key] = self.link(value)
            elif key == "timeline.selected_timeline_ids" and isinstance(value, list):
                out[key] = [self.id("timelines", v) for v in value]
            elif key == "timeline.excluded_timeline_event_ids" and isinstance(value, list):
                out[key] = [self.id("events", v) for v in value]
            else:
                out[key] = self.viz_value(value)
        return out

    def viz_value(self, value: Any) -> Any:
        """Anything else in settings: nested settings, field clauses, `card:12` visualizer sources."""
        if isinstance(value, dict):
            return self.viz(value)
        if isinstance(value, list):
            return self.clause(value) if value and value[0] in ("field", "field-id") else [self.viz_value(v) for v in value]
        if isinstance(value, str) and "card:" in value:
            return VISUALIZER_SOURCE.sub(lambda m: "card:" + self._bracketed("cards", m.group(1)), value)
        return value

    def json_string(self, text: Any) -> Any:
        """A JSON-encoded reference used as a key or id (column_settings keys, click-behaviour dimensions)."""
        if not isinstance(text, str) or not _JSON_ARRAY.match(text):
            return text
        try:
            decoded = orjson.loads(text)
        except orjson.JSONDecodeError:
            return text
        walked = self.query(decoded)
        return text if walked == decoded else orjson.dumps(walked).decode()

    def click_behavior(self, cb: Any) -> Any:
        if not isinstance(cb, dict):
            return cb
        out = dict(cb)
        link_type = cb.get("linkType")
        if "targetId" in cb:
            kind = {"dashboard": "dashboards", "question": "cards"}.get(str(link_type))
            if kind:
                out["targetId"] = self.id(kind, cb["targetId"])
        if "tabId" in cb:
            out["tabId"] = self.id("tabs", cb["tabId"])
        mapping = cb.get("parameterMapping")
        if isinstance(mapping, dict):
            new_mapping = {}
            for key, entry in mapping.items():
                if isinstance(entry, dict):
                    entry = dict(entry)
                    if "id" in entry:
                        entry["id"] = self.json_string(entry["id"])
                    for side in ("source", "target"):
                        if isinstance(entry.get(side), dict):
                            part = dict(entry[side])
                            if "id" in part:
                                part["id"] = self.json_string(part["id"])
                            if "dimension" in part:
                                part["dimension"] = self.query(part["dimension"])
                            entry[side] = part
                new_mapping[self.json_string(key)] = entry
            out["parameterMapping"] = new_mapping
        return out

    def link(self, link: dict) -> dict:
        out = dict(link)
        entity = link.get("entity")
        if isinstance(entity, dict) and "id" in entity:
            kind = LINK_MODELS.get(str(entity.get("model")))
            if kind:
                entity = dict(entity)
                entity["id"] = self.id(kind, entity["id"])
                if "db_id" in entity:
                    entity["db_id"] = self.id("databases", entity["db_id"])
                out["entity"] = entity
        return out


# Only the text forms the walker writes: `{{#[cards/x]-name}}` in SQL and `card:[cards/x]` visualizer sources.
# A name such as "#[WIP] Revenue" is text, not a ref. (A card tag in SQL always has a template tag whose
# `card-id` is a `$ref` too, so the SQL form is only read where it stands inside `{{ }}`.)
_TEXT_REFS = re.compile(r"\{\{\s*#\[([a-z-]+/[^\]]+)\]|card:\[(cards/[^\]]+)\]")


def null_refs(node: Any, addresses: set[str]) -> Any:
    """A copy of `node` where every ref to one of `addresses` is null."""
    if is_ref(node):
        return None if node[REF] in addresses else node
    if isinstance(node, dict):
        return {k: null_refs(v, addresses) for k, v in node.items()}
    if isinstance(node, list):
        return [null_refs(v, addresses) for v in node]
    return node


def collect_refs(*payloads: Any) -> set[str]:
    """Every `$ref` address anywhere in the payloads (docs are already portable, so a plain scan suffices).

    A loop over a stack, not a call per node: plan asks it several times per doc (the dependency graph, the check
    of refs, each stage's refs), and most nodes are scalars that hold nothing."""
    found: set[str] = set()
    stack: list[Any] = list(payloads)
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            if is_ref(node):
                found.add(node[REF])
                continue
            for k, v in node.items():
                if isinstance(k, str):
                    if "[" in k:
                        _text_refs(k, found, stack)
                elif isinstance(k, _CONTAINERS):
                    stack.append(k)
                if isinstance(v, _CONTAINERS):
                    stack.append(v)
                elif isinstance(v, str) and "[" in v:
                    _text_refs(v, found, stack)
        elif isinstance(node, list):
            for v in node:
                if isinstance(v, _CONTAINERS):
                    stack.append(v)
                elif isinstance(v, str) and "[" in v:
                    _text_refs(v, found, stack)
        elif isinstance(node, str) and "[" in node:
            _text_refs(node, found, stack)
    return found


def _text_refs(text: str, found: set[str], stack: list[Any]) -> None:
    """The refs written in text (`{{#[cards/x]-name}}`, `card:[cards/x]`); a JSON-encoded key holding a `$ref` is
    scanned as what it encodes."""
    for m in _TEXT_REFS.finditer(text):
        found.add(m.group(1) or m.group(2))
    if _JSON_ARRAY.match(text) and REF in text:
        try:
            stack.append(orjson.loads(text))
        except orjson.JSONDecodeError:
            pass


# Kinds a click behaviour or link card can point at that may point back (through a dashcard or a dashboard).
CYCLE_KINDS = frozenset({"dashboards", "cards", "tabs", "dashcards"})


def late_bound_refs(settings: Any) -> set[str]:
    """Content refs inside click behaviours and link cards, at any depth (column settings carry them too).

    A card may drill through to the dashboard that shows it, and dashboards link to each other: Metabase
    allows these cycles, so import fills such refs in once every object exists. Fields, tables and databases
    are never created by import, so they never close a cycle.
    """
    found: set[str] = set()
    if isinstance(settings, dict):
        for key, value in settings.items():
            if key in ("click_behavior", "link"):
                found |= {a for a in collect_refs(value) if address_kind(a) in CYCLE_KINDS}
            else:
                found |= late_bound_refs(value)
    elif isinstance(settings, list):
        for value in settings:
            found |= late_bound_refs(value)
    return found
