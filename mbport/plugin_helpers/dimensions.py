"""Persisted dimensions of measures and metric cards (Metabase 0.65): exported, and named by plan as something no
API request writes."""

from __future__ import annotations

from typing import Any

from ..refs import Walker

# measures/api.clj `POST /` and `PUT /:id` take name, table, definition, description (and archived); a card PUT
# has no dimensions either: the server seeds them on first read with `random-uuid` ids (lib_metric/dimension.cljc).
DIMENSIONS_UNWRITABLE = ("their ids are random UUIDs each server makes on first read, which explorations refer to; "
                         "display names and the default are curated on the server")
_KEYS = (("name", "name"), ("display-name", "display_name"), ("effective-type", "effective_type"),
         ("semantic-type", "semantic_type"), ("description", "description"))


def dimensions_doc(raw: dict[str, Any], walker: Walker) -> list[dict[str, Any]] | None:
    """The dimensions of a raw measure or metric card as the tree keeps them: id, names, types, default, status, and
    the column each one maps to (`field`, a ref; from `dimension_mappings`, else the dimension's source), in the
    server's order (the curated one)."""
    dims = raw.get("dimensions")
    if not isinstance(dims, list) or not dims:
        return None
    targets: dict[Any, Any] = {}
    for mapping in raw.get("dimension_mappings") or []:
        target = mapping.get("target") if isinstance(mapping, dict) else None
        if isinstance(target, list) and len(target) == 3 and target[0] == "field" and isinstance(target[2], int):
            targets[mapping.get("dimension-id")] = target[2]
    out = []
    for dim in dims:
        if not isinstance(dim, dict):
            continue
        item: dict[str, Any] = {"id": dim.get("id")}
        for raw_key, key in _KEYS:
            value = dim.get(raw_key, dim.get(key))
            if value is not None:
                item[key] = value
        if dim.get("default"):
            item["default"] = True
        if str(dim.get("status") or "").endswith("orphaned"):
            item["status"] = "orphaned"
        field_id = targets.get(dim.get("id"))
        if field_id is None:
            field_id = next((s.get("field-id") for s in dim.get("sources") or [] if isinstance(s, dict)), None)
        if field_id is not None:
            item["field"] = walker.id("fields", field_id)
        out.append(item)
    return out
