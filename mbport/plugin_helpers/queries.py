"""Queries in the target's shape: native template tags as a list (0.63+) or a map keyed by name (versions.md 0.63)."""

from __future__ import annotations

from typing import Any

TEMPLATE_TAG_LISTS_SINCE = (0, 63)  # native template tags come (and must be sent) as a list from here on


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
