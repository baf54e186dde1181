"""Version crossings several kinds share: what a Metabase release line changes in the queries a kind writes and reads
(versions.md §2), so that a tree exported on one release imports into another. Plugins reach it through mbport.api.

- MBQL 5 (0.57+) against MBQL 4 (before): a target older than 0.57 takes MBQL 4, and a tree exported in MBQL 4 is
  written in MBQL 4 with classic dimension refs (0.61 stores a classic query carrying MBQL 5 refs as an empty one, 0.62
  refuses it) and compared with the target's query read in MBQL 4.
- Native template tags: a list from 0.63 on, a map keyed by name before; the tree always holds the map.
"""

from __future__ import annotations

from typing import Any

import orjson

from .errors import MbportError
from .kindutil import mbql4_query
from .mbql import is_legacy as is_mbql4
from .mbql import is_mbql5

MBQL5_SINCE = (0, 57)  # queries stored (and answered) as MBQL 5 from here on; older servers take MBQL 4
TEMPLATE_TAG_LISTS_SINCE = (0, 63)  # native template tags come (and must be sent) as a list from here on

__all__ = ["MBQL5_SINCE", "TEMPLATE_TAG_LISTS_SINCE", "check_stored_query", "is_mbql4", "is_mbql5",
           "query_for_target", "query_in_tree_dialect", "stored_query", "template_tags_as"]


def template_tags_as(query: Any, as_list: bool) -> Any:
    """MBQL 5 native stages with `template-tags` in the target's shape: a list (>= 0.63) or a map keyed by name.

    The tree always holds the map. MBQL 4 (`{type: native, native: {...}}`) has only ever used the map.
    """
    if not isinstance(query, dict) or not isinstance(query.get("stages"), list):
        return query
    stages = []
    for stage in query["stages"]:
        tags = stage.get("template-tags") if isinstance(stage, dict) else None
        if isinstance(tags, dict) and as_list:
            stage = {**stage, "template-tags": [{**tag, "name": name} for name, tag in tags.items()]}
        elif isinstance(tags, list) and not as_list:
            stage = {**stage, "template-tags": {t["name"]: t for t in tags if isinstance(t, dict) and "name" in t}}
        stages.append(stage)
    return {**query, "stages": stages}


def query_for_target(api: Any, query: Any) -> Any:
    """A query with its template tags in the shape the target's version writes."""
    return template_tags_as(query, api.version >= TEMPLATE_TAG_LISTS_SINCE)


def stored_query(api: Any, query: Any) -> Any:
    """A saved query (a card's `dataset_query`) in the form the target's version stores: MBQL 4 for a target older
    than 0.57 (an MBQL 5 native stage rebuilt as `{type: native, native: {query, template-tags}}`) and for a tree
    query in MBQL 4 (its dimension tags' refs in classic form); otherwise its template tags in the target's shape."""
    if api.version < MBQL5_SINCE or is_mbql4(query):
        return mbql4_query(query) if query else query
    return query_for_target(api, query)


def check_stored_query(raw: dict[str, Any], payload: dict[str, Any], addr: str) -> dict[str, Any]:
    """0.61 answers 200 to a query it cannot read and stores an empty one (versions.md): never accept that."""
    sent, stored = payload.get("dataset_query"), raw.get("dataset_query")
    if sent and not stored:
        raise MbportError(f"{addr}: the target stored an empty query for this card",
                          hint="the query mixes MBQL 4 and MBQL 5 forms; re-export the source on one version")
    return raw


def query_in_tree_dialect(api: Any, endpoint: str, raw: dict[str, Any], tree_query: Any) -> dict[str, Any]:
    """A target raw object whose `dataset_query` is read in MBQL 4 when the tree's query is MBQL 4 and the target's
    MBQL 5 (a tree exported on <= 0.56 against a >= 0.57 target), else plan would show an update forever. The list
    row's `legacy_query` (0.57-0.61) costs nothing; otherwise one `GET endpoint/:id?legacy-mbql=true`."""
    if not (is_mbql4(tree_query) and is_mbql5(raw.get("dataset_query"))):
        return raw
    legacy = raw.get("legacy_query")
    if isinstance(legacy, str) and legacy:
        query = orjson.loads(legacy)
    else:
        query = api.get(f"{endpoint}/{raw['id']}", params={"legacy-mbql": "true"}).get("dataset_query")
    return {**raw, "dataset_query": query} if is_mbql4(query) else raw
