"""Relabelling a target's tree with the source's entity ids, through an import's state, so the two compare."""

from __future__ import annotations

import re
from typing import Any

import orjson

from .refs import address_kind, split_address

ENTITY_ID_LENGTH = 21  # Metabase's entity ids (NanoID); other key parts (names, slugs) are never renamed


def entity_id_map(ids: dict[str, Any], target_index: dict[tuple[str, Any], str]) -> dict[str, str]:
    """Target key part → source key part, for every object an import wrote or matched.

    Metabase never keeps a client's entity_id, so a tree exported from the target names the same objects
    with other entity_ids. `ids` is the import's address → target id; `target_index` the target export's
    (kind, id) → address. Aligning the two addresses part by part gives the renaming.
    """
    renames: dict[str, str] = {}
    for source_addr, target_id in ids.items():
        try:
            target_addr = target_index.get((address_kind(source_addr), target_id))
        except TypeError:  # a target id that is a list or an object: never in the index
            continue
        if not target_addr or target_addr == source_addr:
            continue
        _, a_parts = split_address(source_addr)
        _, b_parts = split_address(target_addr)
        for a, b in zip(a_parts, b_parts, strict=False):
            if a != b and len(b) == ENTITY_ID_LENGTH:
                renames[b] = a
    return renames


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
