"""Relabelling a target's tree with the source's entity ids, through an import's state, so the two compare."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import orjson

from .refs import address_kind, quote_part, split_address

ENTITY_ID_LENGTH = 21  # Metabase's entity ids (NanoID); other key parts (names, slugs) are never renamed


def _aligned_parts(ids: dict[str, Any], target_index: dict[tuple[str, Any], str]) -> Iterator[tuple[Any, Any, bool]]:
    """(source key part, target key part, whether it is the object's own last part) for every key part that
    differs between an object's address in the tree and in the target's export. `ids` is the import's address
    → target id; `target_index` the target export's (kind, id) → address."""
    for source_addr, target_id in ids.items():
        try:
            target_addr = target_index.get((address_kind(source_addr), target_id))
        except TypeError:  # a target id that is a list or an object: never in the index
            continue
        if not target_addr or target_addr == source_addr:
            continue
        _, a_parts = split_address(source_addr)
        _, b_parts = split_address(target_addr)
        for i, (a, b) in enumerate(zip(a_parts, b_parts, strict=False)):
            if a != b:
                yield a, b, i == len(a_parts) - 1


def entity_id_map(ids: dict[str, Any], target_index: dict[tuple[str, Any], str],
                  tree: dict[str, Any] | None = None) -> dict[str, str]:
    """Target key part → source key part, for every object an import wrote or matched.

    Metabase never keeps a client's entity_id, so a tree exported from the target names the same objects
    with other entity_ids. Aligning the two addresses part by part gives the renaming. An entity id the
    compared `tree` uses itself is kept: that tree was exported after the import (a later backup of an instance a
    dashboard was restored into knows it by its new entity id).
    """
    renames = {b: a for a, b, _own in _aligned_parts(ids, target_index) if len(b) == ENTITY_ID_LENGTH}
    if tree and renames:
        used = set(_ENTITY_ID.findall(orjson.dumps(tree).decode()))
        renames = {b: a for b, a in renames.items() if b not in used}
    return renames


_ENTITY_ID = re.compile(rf"(?<![A-Za-z0-9_-])[A-Za-z0-9_-]{{{ENTITY_ID_LENGTH}}}(?![A-Za-z0-9_-])")


def name_map(ids: dict[str, Any], target_index: dict[tuple[str, Any], str]) -> dict[str, str]:
    """Target name → source name for the objects an import matched under another name (`--map-database
    SRC=DST`: the target's DST stands for the tree's SRC), read from the import's state."""
    return {b: a for a, b, own in _aligned_parts(ids, target_index)
            if own and len(b) != ENTITY_ID_LENGTH and len(a) != ENTITY_ID_LENGTH}


def relabel_names(docs: dict[str, Any], renames: dict[str, str]) -> tuple[dict[str, Any], set[str]]:
    """Docs whose addresses and refs name the target's DST as the tree's SRC (`renames` DST → SRC), and the
    addresses (after renaming) of the renamed objects themselves (a mapped database is the target's own)."""
    if not renames:
        return docs, set()
    encoded = {quote_part(b): quote_part(a) for b, a in renames.items()}
    mapped = {addr for addr in docs if split_address(addr)[1][-1] in renames}
    # A key part inside an address: after "kind/" or another part, before "/" or the end of the string (also
    # inside JSON-encoded strings, where quotes are escaped: column_settings keys hold field refs).
    pattern = re.compile(r'((?:"|\\")[a-z][a-z-]*/(?:[^"/\\]*/)*)(' + "|".join(
        re.escape(k) for k in sorted(encoded, key=len, reverse=True)) + r')(?=/|"|\\")')
    text = pattern.sub(lambda m: m.group(1) + encoded[m.group(2)], orjson.dumps(docs).decode())
    docs = orjson.loads(text)
    renamed = set()
    for addr in mapped:
        kind, parts = split_address(addr)
        renamed.add(address_kind(addr) + "/" + "/".join(quote_part(renames.get(p, p)) if i == len(parts) - 1
                                                       else quote_part(p) for i, p in enumerate(parts)))
    return docs, renamed


def relabel(docs: dict[str, Any], renames: dict[str, str], registry: Any = None) -> dict[str, Any]:
    """Docs (and their addresses) with target entity_ids replaced by the source's.

    With the registry, each kind's set-like lists are sorted again, since their order followed the
    target's entity_ids (sort the other side the same way: `relabel(docs, {}, registry)`).
    """
    if renames:
        pattern = re.compile("|".join(re.escape(k) for k in sorted(renames, key=len, reverse=True)))
        docs = orjson.loads(pattern.sub(lambda m: renames[m.group(0)], orjson.dumps(docs).decode()))
    if registry is not None:
        for addr, doc in docs.items():
            kind = registry.kinds.get(address_kind(addr))
            for name in getattr(kind, "set_like_fields", ()):
                if isinstance(doc.get(name), list):
                    doc[name] = sorted(doc[name], key=lambda item: orjson.dumps(item, option=orjson.OPT_SORT_KEYS))
    return docs


def without_unwritable(docs: dict[str, Any], registry: Any) -> dict[str, Any]:
    """Docs without the fields no API request writes (`copy(unwritable=...)`: a measure's dimension ids, a public
    link's UUID): an instance a tree was imported into holds its own there by design, which plan names before
    writing, so comparing the two leaves them out."""
    out = {}
    for addr, doc in docs.items():
        kind = registry.kinds.get(address_kind(addr))
        unwritable = kind.spec.unwritable if kind is not None else {}
        out[addr] = {k: v for k, v in doc.items() if k not in unwritable} if unwritable else doc
    return out
