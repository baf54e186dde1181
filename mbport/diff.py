"""Semantic diff of two trees: per object, what changed, in the words a Metabase admin uses.

The comparison knows no kind by name: it asks each kind's `describe_change(field, old, new, names)` hook for
phrases. Where the hook has none (it answers None), `describe_field` phrases the change: it reads the kind's
`phrases` in mbport.display (field → label, or value → phrase) and handles what every kind shares: renames, archiving,
moves between containers, refs, scalars, maps and lists of keyed items. Kinds with richer fields (queries, dashcards, tabs) call the helpers
below (`describe_query`, `describe_dashcards`, `describe_tabs`) from their own hook.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .capabilities import describe_change
from .display import words
from .refs import REF, address_kind, is_ref, split_address

if TYPE_CHECKING:  # annotations only: importing mbport.api (which re-exports the describe_* phrases) stays light
    from .kind import Kind
    from .registry import Registry
    from .tree import Tree

MAX_ITEMS = 5  # list at most this many changed keys/items per field before "and N more"

# Keys that identify an item inside a list of objects, tried in order (entity_id, then natural keys, then refs).
ITEM_KEYS = ("entity_id", "name", "email", "slug", "id", "user", "group", "database", "collection", "card")


class Missing:
    """The value of a field an object does not have (top-level nulls are written as absent)."""

    def __repr__(self) -> str:
        return "MISSING"


MISSING = Missing()


@dataclass
class ObjectChange:
    address: str
    kind: str
    label: str  # "card", "dashboard" ...
    name: str
    change: str  # added | removed | changed
    details: list[str] = field(default_factory=list)

    def line(self) -> str:
        return f"{self.label} {quote(self.name)}: " + "; ".join(self.details)

    def as_json(self) -> str:
        return json.dumps({"address": self.address, "kind": self.kind, "name": self.name, "change": self.change,
                           "details": self.details}, ensure_ascii=False, sort_keys=True)


class Names:
    """Readable names for refs, looked up in the new tree first, then the old one (for removed objects)."""

    def __init__(self, registry: Registry, *doc_maps: dict[str, dict[str, Any]]):
        self.registry = registry
        self.doc_maps = doc_maps

    def sides(self, addr: str) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
        """The doc at `addr` on the old side and on the new side (None where that side lacks it)."""
        return (self.doc_maps[-1].get(addr) if len(self.doc_maps) > 1 else None,
                next((docs[addr] for docs in self.doc_maps[:-1] if addr in docs), None))

    def doc(self, addr: str) -> dict[str, Any] | None:
        for docs in self.doc_maps:
            if addr in docs:
                return docs[addr]
        return None

    def name(self, value: Any) -> str:
        """'Sales' for a ref to the Sales collection; a readable fallback for anything else."""
        if value is None or value is MISSING:
            return "(none)"
        if not is_ref(value):
            return fmt(value)
        addr = value[REF]
        doc = self.doc(addr)
        if doc is not None:
            return quote(display_name(doc, addr))
        owner = self.registry.owner(addr) if self.registry.known_kind(address_kind(addr)) else addr
        key = split_address(addr)[1][-1]
        holder = self.doc(owner) if owner != addr else None
        if holder is not None:
            found = _find_keyed(holder, key)
            if found is not None and (found.get("name") or found.get("display_name")):
                return quote(found.get("name") or found.get("display_name"))
        return quote(key or addr)


def _find_keyed(node: Any, key: str) -> dict[str, Any] | None:
    """The object inside `node` whose entity_id (or name) is `key`: a tab in a dashboard, a field in a table."""
    if isinstance(node, dict):
        if node.get("entity_id") == key or (node.get("name") == key and "entity_id" not in node):
            return node
        node = list(node.values())
    if isinstance(node, list):
        for item in node:
            found = _find_keyed(item, key)
            if found is not None:
                return found
    return None


def display_name(doc: dict[str, Any], addr: str) -> str:
    for key in ("name", "email", "display_name"):
        if isinstance(doc.get(key), str) and doc[key]:
            return doc[key]
    group = doc.get("group")
    if is_ref(group):
        return split_address(group[REF])[1][-1]
    parts = split_address(addr)[1]
    return "/".join(p for p in parts if p) or address_kind(addr)


def kind_label(registry: Registry, kind: str) -> str:
    aliases = words(kind).aliases
    if kind in registry.kinds and aliases:
        return aliases[0]
    return kind.removesuffix("s").replace("-", " ")


def quote(text: Any) -> str:
    return "'" + str(text) + "'"


def fmt(value: Any) -> str:
    """A short readable value: bare words as they are, other text quoted, structures summarised."""
    if value is None or value is MISSING:
        return "(none)"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, str):
        if len(value) > 60:
            return quote(value[:57] + "…")
        return value if value and all(c.isalnum() or c in "._/-:" for c in value) else quote(value)
    if is_ref(value):
        return quote(split_address(value[REF])[1][-1])
    return "…"


def is_scalar(value: Any) -> bool:
    return value is None or value is MISSING or isinstance(value, str | int | float | bool)


# ---------------------------------------------------------------- the default phrasing of one field

def describe_field(kind: Kind, field_name: str, old: Any, new: Any, names: Names) -> list[str]:
    """What a change of `field_name` means, for any kind: what diff says where `DescribesChanges.describe_change` says nothing."""
    entry = words(kind.name).phrases.get(field_name)
    if isinstance(entry, dict):
        if is_scalar(new) and new in entry and new is not MISSING:
            return [entry[new]]
        entry = None
    label = entry if isinstance(entry, str) else field_name.replace("_", " ")
    if field_name == "archived":
        return ["archived" if new else "restored from the archive"]
    if field_name == "archived_directly":  # only ever false in a tree: in the Trash because its container is
        return ["in the Trash with its collection" if new is False else "in the Trash on its own"]
    if field_name == kind.spec.container:
        return [f"moved from {names.name(old)} to {names.name(new)}"]
    if field_name == "name" and isinstance(old, str) and isinstance(new, str):
        return [f"renamed {quote(old)} → {quote(new)}"]
    if field_name == "description":
        if old in (None, MISSING, ""):
            return ["description added"]
        return ["description removed"] if new in (None, MISSING, "") else ["description changed"]
    return describe_value(label, old, new, names)


def describe_value(label: str, old: Any, new: Any, names: Names) -> list[str]:
    """Generic phrasing by shape: refs and scalars show old → new, maps and keyed lists list their items."""
    if is_ref(old) or is_ref(new):
        return [f"{label}: {names.name(old)} → {names.name(new)}"]
    if is_scalar(old) and is_scalar(new):
        if isinstance(old, str) and isinstance(new, str) and (len(old) > 60 or len(new) > 60 or "\n" in old + new):
            return [f"{label} changed"]
        if old in (None, MISSING):
            return [f"{label} set to {fmt(new)}"]
        if new in (None, MISSING):
            return [f"{label} removed (was {fmt(old)})"]
        return [f"{label}: {fmt(old)} → {fmt(new)}"]
    if isinstance(old, dict | Missing | None) and isinstance(new, dict | Missing | None) and \
            (isinstance(old, dict) or isinstance(new, dict)) and not _is_query(old) and not _is_query(new):
        return _describe_map(label, old if isinstance(old, dict) else {}, new if isinstance(new, dict) else {}, names)
    if _keyed_list(old) and _keyed_list(new):
        return _describe_items(label, old or [], new or [], names)
    if old in (None, MISSING, [], {}):
        return [f"{label} added"]
    if new in (None, MISSING, [], {}):
        return [f"{label} removed"]
    return [f"{label} changed"]


def _is_query(value: Any) -> bool:
    return isinstance(value, dict) and ("stages" in value or "source-table" in value or "native" in value
                                        or value.get("type") in ("native", "query"))


def _describe_map(label: str, old: dict, new: dict, names: Names) -> list[str]:
    keys = sorted(k for k in set(old) | set(new) if old.get(k, MISSING) != new.get(k, MISSING))
    out = []
    for key in keys[:MAX_ITEMS]:
        a, b = old.get(key, MISSING), new.get(key, MISSING)
        if is_scalar(a) and is_scalar(b) or is_ref(a) or is_ref(b):
            out += describe_value(f"{label} {key}", a, b, names)
        elif a is MISSING:
            out.append(f"{label} {key} added")
        elif b is MISSING:
            out.append(f"{label} {key} removed")
        else:
            out.append(f"{label} {key} changed")
    if len(keys) > MAX_ITEMS:
        out.append(f"and {len(keys) - MAX_ITEMS} more {label} changes")
    return out


def _keyed_list(value: Any) -> bool:
    return value in (None, MISSING) or (isinstance(value, list) and all(isinstance(i, dict) for i in value)
                                        and _item_key(value) is not None)


def _item_key(items: list[dict]) -> str | None:
    for key in ITEM_KEYS:
        if items and all(key in i for i in items):
            return key
    return None if items else ITEM_KEYS[0]


def _identity(item: dict, key: str) -> str:
    value = item.get(key)
    return value[REF] if is_ref(value) else json.dumps(value, sort_keys=True)


def _item_name(item: dict, key: str, names: Names) -> str:
    value = item.get(key)
    if is_ref(value):
        return names.name(value)
    for k in ("name", "display_name", "email"):
        if isinstance(item.get(k), str):
            return quote(item[k])
    return fmt(value)


def _describe_items(label: str, old: list[dict], new: list[dict], names: Names) -> list[str]:
    key = _item_key(old or new) or ITEM_KEYS[0]
    if any(key not in i for i in old + new):
        return [f"{label}s changed"]
    before = {_identity(i, key): i for i in old}
    after = {_identity(i, key): i for i in new}
    out = []
    for ident in after.keys() - before.keys():
        out.append(f"{label} {_item_name(after[ident], key, names)} added")
    for ident in before.keys() - after.keys():
        out.append(f"{label} {_item_name(before[ident], key, names)} removed")
    for ident in sorted(before.keys() & after.keys()):
        a, b = before[ident], after[ident]
        if a != b:
            changed = sorted(k for k in set(a) | set(b) if a.get(k) != b.get(k))
            what = ", ".join(k.replace("_", " ") for k in changed[:3]) + (" …" if len(changed) > 3 else "")
            out.append(f"{label} {_item_name(b, key, names)}: {what} changed")
    if not out and [_identity(i, key) for i in old] != [_identity(i, key) for i in new]:
        out.append(f"{label}s reordered")
    out.sort()
    if len(out) > MAX_ITEMS:
        out = out[:MAX_ITEMS] + [f"and {len(out) - MAX_ITEMS} more {label} changes"]
    return out


# ---------------------------------------------------------------- queries

def _stages(query: Any) -> list[dict[str, Any]]:
    """MBQL 5 stages, or an MBQL 4 query seen as stages (source queries first)."""
    if not isinstance(query, dict):
        return []
    if isinstance(query.get("stages"), list):
        return [s for s in query["stages"] if isinstance(s, dict)]
    if query.get("type") == "native" or isinstance(query.get("native"), dict):
        native = query.get("native") or {}
        return [{"native": native.get("query"), "template-tags": native.get("template-tags")}]
    inner = query.get("query") if isinstance(query.get("query"), dict) else query
    chain: list[dict[str, Any]] = []
    while isinstance(inner, dict):
        chain.insert(0, {k: v for k, v in inner.items() if k != "source-query"})
        inner = inner.get("source-query")
    return chain


MBQL_PARTS = (
    ("source-table", "data source"), ("source-card", "data source"), ("joins", "joins"), ("expressions", "custom columns"),
    ("filter", "filters"), ("filters", "filters"), ("aggregation", "summaries"), ("breakout", "grouping"),
    ("order-by", "sort"), ("limit", "row limit"), ("fields", "columns"), ("page", "paging"),
)


def describe_query(old: Any, new: Any, names: Names) -> list[str]:
    """SQL vs query-builder changes of a card's (or segment's) query, part by part."""
    if old in (None, MISSING) or new in (None, MISSING):
        return ["query added" if old in (None, MISSING) else "query removed"]
    out = []
    db_old, db_new = _database(old), _database(new)
    if db_old != db_new:
        out.append(f"database: {names.name(db_old)} → {names.name(db_new)}")
    a, b = _stages(old), _stages(new)
    native_a = any("native" in s for s in a)
    native_b = any("native" in s for s in b)
    if native_a != native_b:
        out.append("rewritten in SQL" if native_b else "rewritten with the query builder")
        return out
    if native_a:
        sql_a = [s.get("native") for s in a]
        sql_b = [s.get("native") for s in b]
        if sql_a != sql_b:
            out.append("SQL changed")
        tags_a = [s.get("template-tags") or {} for s in a]
        tags_b = [s.get("template-tags") or {} for s in b]
        if tags_a != tags_b:
            out.append("SQL variables changed")
        return out or ["query changed"]
    if len(a) != len(b):
        out.append(f"query steps: {len(a)} → {len(b)}")
    for sa, sb in zip(a, b, strict=False):
        for key, label in MBQL_PARTS:
            va, vb = sa.get(key), sb.get(key)
            if va == vb:
                continue
            if key == "limit":
                out.append(f"row limit: {fmt(va)} → {fmt(vb)}")
            elif key in ("source-table", "source-card"):
                out.append(f"data source: {names.name(va)} → {names.name(vb)}")
            elif not va:
                out.append(f"{label} added")
            elif not vb:
                out.append(f"{label} removed")
            else:
                out.append(f"{label} changed")
    out = list(dict.fromkeys(out))
    return out or ["query changed"]


def _database(query: Any) -> Any:
    return query.get("database") if isinstance(query, dict) else None


# ---------------------------------------------------------------- dashboards

def describe_tabs(old: Any, new: Any, names: Names) -> list[str]:
    a = {t.get("entity_id"): t for t in old or [] if isinstance(t, dict)}
    b = {t.get("entity_id"): t for t in new or [] if isinstance(t, dict)}
    out = [f"tab {quote(b[k].get('name'))} added" for k in b if k not in a]
    out += [f"tab {quote(a[k].get('name'))} removed" for k in a if k not in b]
    for k in a.keys() & b.keys():
        if a[k].get("name") != b[k].get("name"):
            out.append(f"tab renamed {quote(a[k].get('name'))} → {quote(b[k].get('name'))}")
    if not out and [t.get("entity_id") for t in old or []] != [t.get("entity_id") for t in new or []]:
        out.append("tabs reordered")
    return sorted(out) or ["tabs changed"]


def _value_words(value: Any) -> Any:
    """A filter's value list read as words (`paid, refunded`); other values as they are."""
    if isinstance(value, list) and all(is_scalar(v) for v in value):
        return ", ".join(fmt(v) for v in value) if value else None
    return value


def describe_parameters(old: Any, new: Any, names: Names) -> list[str]:
    """A dashboard's filters, each followed by its `id` (Metabase's key: mappings and links point at it), so a
    renamed filter reads as renamed, not as one removed and another added; what else changed says old → new."""
    a = {p.get("id"): p for p in old or [] if isinstance(p, dict)}
    b = {p.get("id"): p for p in new or [] if isinstance(p, dict)}
    if None in a or None in b:
        return describe_value("filters", old, new, names)
    out = [f"filter {quote(b[k].get('name'))} added" for k in b if k not in a]
    out += [f"filter {quote(a[k].get('name'))} removed" for k in a if k not in b]
    for k in a.keys() & b.keys():
        x, y = a[k], b[k]
        what: list[str] = []
        for f in sorted(f for f in set(x) | set(y) if x.get(f, MISSING) != y.get(f, MISSING)):
            if f == "name":
                what.insert(0, f"renamed {quote(x.get('name'))} → {quote(y.get('name'))}")
            else:
                what += describe_value(f.replace("_", " "), _value_words(x.get(f, MISSING)),
                                       _value_words(y.get(f, MISSING)), names)
        if what:
            out.append(f"filter {quote(x.get('name'))}: " + ", ".join(what))
    if not out and list(a) != list(b):
        out.append("filters reordered")
    return sorted(out)


def _dashcard_label(dc: dict[str, Any], names: Names) -> str:
    if dc.get("card"):
        return names.name(dc["card"])
    virtual = (dc.get("visualization_settings") or {}).get("virtual_card") or {}
    text = (dc.get("visualization_settings") or {}).get("text")
    what = virtual.get("display") or ("action" if dc.get("action") else "text")
    return f"{what} {quote(text[:40])}" if isinstance(text, str) and text else what


def _on_tab(dc: dict[str, Any], names: Names, word: str = "on") -> str:
    return f" {word} tab {names.name(dc['tab'])}" if dc.get("tab") else ""


def hidden_by_metabase(card: dict[str, Any] | None) -> bool:
    """Whether GET /api/dashboard leaves out the dashcards of this card doc: an archived card, unless it is a
    dashboard question archived along with its dashboard (dashboards/models/dashboard.clj `dashcards` hydration)."""
    if not card or not card.get("archived"):
        return False
    return not (card.get("dashboard") and card.get("archived_directly") is False)


def _hidden_change(dc: dict[str, Any], names: Names, hidden_on: int) -> bool:
    """Whether a dashcard is missing from one side only because its question was archived (hidden_on=1: the new side)
    or restored (0: the old side) in the same diff, so Metabase hides it there."""
    if not is_ref(dc.get("card")):
        return False
    sides = names.sides(dc["card"][REF])
    return None not in sides and hidden_by_metabase(sides[hidden_on]) and not hidden_by_metabase(sides[1 - hidden_on])


def describe_dashcards(old: Any, new: Any, names: Names) -> list[str]:
    a = {d.get("entity_id") or json.dumps(d, sort_keys=True): d for d in old or [] if isinstance(d, dict)}
    b = {d.get("entity_id") or json.dumps(d, sort_keys=True): d for d in new or [] if isinstance(d, dict)}
    shown = [k for k in b if k not in a and _hidden_change(b[k], names, 0)]
    hidden = [k for k in a if k not in b and _hidden_change(a[k], names, 1)]
    out = [f"dashcards of archived questions {what} ({', '.join(sorted(_dashcard_label(d[k], names) for k in keys))})"
           for what, d, keys in (("hidden by Metabase", a, hidden), ("shown again", b, shown)) if keys]
    out += [f"dashcard {_dashcard_label(b[k], names)} added{_on_tab(b[k], names)}" for k in b
            if k not in a and k not in shown]
    out += [f"dashcard {_dashcard_label(a[k], names)} removed{_on_tab(a[k], names, 'from')}" for k in a
            if k not in b and k not in hidden]
    for k in sorted(a.keys() & b.keys()):
        x, y = a[k], b[k]
        if x == y:
            continue
        label, what = _dashcard_label(y, names), []
        if x.get("tab") != y.get("tab"):
            what.append(f"moved to tab {names.name(y.get('tab'))}" if y.get("tab") else "moved off its tab")
        if x.get("card") != y.get("card"):
            what.append(f"now shows {names.name(y.get('card'))}")
        if any(x.get(f) != y.get(f) for f in ("row", "col")):
            what.append("moved")
        if any(x.get(f) != y.get(f) for f in ("size_x", "size_y")):
            what.append("resized")
        if x.get("visualization_settings") != y.get("visualization_settings"):
            what.append("visualization settings changed")
        if x.get("parameter_mappings") != y.get("parameter_mappings"):
            what.append("filter wiring changed")
        if x.get("series") != y.get("series"):
            what.append("series changed")
        known = {"tab", "card", "row", "col", "size_x", "size_y", "visualization_settings", "parameter_mappings", "series"}
        other = sorted(f for f in set(x) | set(y) if f not in known and x.get(f) != y.get(f))
        what += [f"{f.replace('_', ' ')} changed" for f in other]
        out.append(f"dashcard {label}: " + ", ".join(what))
    return sorted(out) or ["dashcards reordered"]


# ---------------------------------------------------------------- trees

def diff_docs(registry: Registry, old: dict[str, dict[str, Any]], new: dict[str, dict[str, Any]],
              context: dict[str, dict[str, Any]] | None = None) -> list[ObjectChange]:
    """Every object added, removed or changed between two sets of docs (address → doc), by address; `context`: more
    docs of the new side to name refs by (the whole tree, when `old` and `new` hold only the changed docs)."""
    names = Names(registry, new, *([context] if context else []), old)
    changes = []
    for addr in sorted(set(old) | set(new)):
        kind_name = address_kind(addr)
        kind = registry.kinds.get(kind_name)
        a, b = old.get(addr), new.get(addr)
        if a == b:
            continue
        doc = b if b is not None else a
        assert doc is not None  # both absent would be equal, skipped above
        label = kind_label(registry, kind_name)
        name = display_name(doc, addr)
        if a is None:
            home = doc.get(kind.spec.container) if kind and kind.spec.container else None
            where = [f" in {names.name(home)}"] if home else [""]
            changes.append(ObjectChange(addr, kind_name, label, name, "added", ["added" + where[0]]))
            continue
        if b is None:
            changes.append(ObjectChange(addr, kind_name, label, name, "removed", ["removed"]))
            continue
        details: list[str] = []
        first = ("name", "archived", kind.spec.container if kind else None)  # what an admin notices first
        for field_name in sorted(set(a) | set(b), key=lambda f: (f not in first, first.index(f) if f in first else 0, f)):
            va, vb = a.get(field_name, MISSING), b.get(field_name, MISSING)
            if va == vb:
                continue
            if field_name == "archived_directly" and not b.get("archived"):
                continue  # out of the Trash: "restored from the archive" says it all
            if kind is None:
                details.append(f"{field_name} changed")
            else:
                described = describe_change(kind, field_name, va, vb, names)
                # [] is the kind saying the difference means nothing (a grant's collection path, shown for readers)
                details += describe_field(kind, field_name, va, vb, names) if described is None else described
        if details:
            changes.append(ObjectChange(addr, kind_name, label, name, "changed", list(dict.fromkeys(details))))
    return changes


def diff_trees(registry: Registry, old: Tree, new: Tree) -> list[ObjectChange]:
    return diff_docs(registry, old.docs, new.docs)
