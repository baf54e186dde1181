"""Stored queries without server noise: the one canonical form export, import and verify compare."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

# Server bookkeeping inside stored queries: regenerated on every save (lib/uuid), or added by some releases
# only (`*-idents` in 0.53-0.56 MBQL 4; on >= 0.57 the markers of a query stored in the legacy form and
# converted on read: `lib.convert/converted?` on the query or a stage, `lib/transformation-added-base-type`
# in a field ref's options; Metabase's serialization strips them too). versions.md says strip them, at any
# depth: they sit in clause option maps as well as on the query.
QUERY_NOISE = frozenset({
    "lib/uuid", "lib.convert/converted?", "lib/transformation-added-base-type",
    "aggregation-idents", "breakout-idents", "expression-idents", "ident",
})
# Maps whose keys a user named (an expression called "ident" must survive); their keys are never noise.
NAMED_MAPS = frozenset({"expressions", "template-tags"})


def canonical_query(node: Any) -> Any:
    """A stored query without server noise, native `template-tags` as a map keyed by name (0.63 sends a list).

    A `lib/uuid` is noise except where an MBQL 5 ref names it: `["aggregation", {opts}, "<uuid>"]` (an order-by
    or a later stage on an aggregation) points at that aggregation's `lib/uuid`, and Metabase keeps a uuid the
    client sends while it makes up one that is missing, so stripping it would leave the ref dangling on the
    target (metabase.lib.aggregation/resolve-aggregation: "No aggregation with uuid"). The uuid is stored, so
    keeping it stays deterministic."""
    referenced: set[str] = set()
    uuids: list[tuple[dict[str, Any], str]] = []
    out = copy_without_noise(node, referenced, uuids)
    drop_unreferenced_uuids(uuids, referenced)
    return out


def drop_unreferenced_uuids(uuids: list[tuple[dict[str, Any], str]], referenced: set[str]) -> None:
    """One walk: which uuids a ref names is known only at its end, so each `lib/uuid` was kept (and noted with
    the dict that holds it) until then."""
    for kept, uuid in uuids:
        if uuid not in referenced:
            del kept["lib/uuid"]


def aggregation_refs(node: Any) -> Iterator[str]:
    """The aggregation uuids that MBQL 5 refs inside `node` name."""
    if isinstance(node, list):
        if len(node) == 3 and node[0] == "aggregation" and isinstance(node[1], dict) and isinstance(node[2], str):
            yield node[2]
        for x in node:
            if isinstance(x, list | dict):
                yield from aggregation_refs(x)
    elif isinstance(node, dict):
        for x in node.values():
            if isinstance(x, list | dict):
                yield from aggregation_refs(x)


_CONTAINERS = (list, dict)  # a tuple: isinstance with it is faster than with `list | dict`


def copy_without_noise(node: Any, referenced: set[str], uuids: list[tuple[dict[str, Any], str]],
                       named: bool = False) -> Any:
    """canonical_query's copy, its `lib/uuid`s still in (noted in `uuids`) and the uuids refs name added to
    `referenced`: the caller drops the unreferenced ones once the whole query is copied."""
    if isinstance(node, list):  # scalars are copied without a call: a stored query is mostly scalars
        if len(node) == 3 and node[0] == "aggregation" and isinstance(node[1], dict) and isinstance(node[2], str):
            referenced.add(node[2])
        return [copy_without_noise(x, referenced, uuids) if isinstance(x, _CONTAINERS) else x for x in node]
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    for key, value in node.items():
        if not named and key in QUERY_NOISE:
            if key == "lib/uuid":
                uuids.append((out, value))  # dropped at the end unless a ref names it
            else:
                if isinstance(value, _CONTAINERS):  # not kept, but a ref inside it still names a uuid
                    referenced.update(aggregation_refs(value))
                continue
        if key == "template-tags" and isinstance(value, list):
            value = tags_by_name(value)
        out[key] = (copy_without_noise(value, referenced, uuids, named=key in NAMED_MAPS and not named)
                    if isinstance(value, _CONTAINERS) else value)
    return out


def copy_level(node: dict[str, Any], referenced: set[str], uuids: list[tuple[dict[str, Any], str]],
               slots: tuple[str, ...]) -> dict[str, Any]:
    """copy_without_noise of one map, but the values of `slots` left as they are: the caller walks those with a
    walker that drops their noise on the way (mbport.refs.Walker.canonical), instead of copying them twice."""
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key in QUERY_NOISE:
            if key == "lib/uuid":
                uuids.append((out, value))
            else:
                if isinstance(value, _CONTAINERS):
                    referenced.update(aggregation_refs(value))
                continue
        if key in slots:
            out[key] = value
            continue
        if key == "template-tags" and isinstance(value, list):
            value = tags_by_name(value)
        out[key] = (copy_without_noise(value, referenced, uuids, named=key in NAMED_MAPS)
                    if isinstance(value, _CONTAINERS) else value)
    return out


def tags_by_name(tags: list[Any]) -> dict[Any, Any]:
    """Native template tags as 0.63+ send them (a list) → the map keyed by name that older releases send."""
    return {t["name"]: t for t in tags if isinstance(t, dict) and "name" in t}
