"""Helpers for plugin authors: the contract every kind must meet, and golden normalize cases."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson

from .kind import ExportContext, Kind
from .refs import address
from .relabel import entity_id_map, relabel, without_unwritable  # noqa: F401 - re-exported: round-trip tests compare trees with them


def uncovered_fields(kind: Kind, raw: dict[str, Any]) -> set[str]:
    """Raw fields the kind's `fields` do not declare (copy, ref, walk, skip or custom): should be empty."""
    return kind.spec.uncovered(raw)


def numeric_ids_left(doc: Any, path: str = "") -> list[str]:
    """Places in a doc where a value still looks like an instance id (an `id`/`*_id` key with an int)."""
    found = []
    if isinstance(doc, dict):
        for key, value in doc.items():
            here = f"{path}.{key}"
            if (key == "id" or key.endswith("_id") or key.endswith("-id")) and isinstance(value, int) and not isinstance(value, bool):
                found.append(here)
            found += numeric_ids_left(value, here)
    elif isinstance(doc, list):
        for i, value in enumerate(doc):
            found += numeric_ids_left(value, f"{path}[{i}]")
    return found


def fake_index(kinds_and_ids: dict[str, list[Any]]) -> dict[tuple[str, Any], str]:
    """An id → address index where kind K's id N becomes `K/key-N` (for golden cases)."""
    return {(k, i): address(k, f"key-{i}") for k, ids in kinds_and_ids.items() for i in ids}


def load_case(path: Path) -> dict[str, Any]:
    """A golden case: {"raw": ..., "index": {kind: [ids]}, "options": {...}, "doc": expected}, and optionally
    "addresses" ({kind: {id: address}}, for refs whose address shape matters, e.g. tables), "context_raw" (raw
    objects of other kinds, e.g. groups with their roles) and "warnings" (expected)."""
    return orjson.loads(path.read_bytes())


def normalize_case(kind: Kind, case: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """(doc, warnings) of a golden case's raw object, normalized with the case's index, addresses and raw context."""
    index = fake_index(case.get("index", {}))
    index.update({(k, int(i)): a for k, by_id in case.get("addresses", {}).items() for i, a in by_id.items()})
    ctx = ExportContext(index=index, options=case.get("options", {}), raw=case.get("context_raw", {}))
    ctx.current = kind.address_of(case["raw"])
    return kind.normalize(case["raw"], ctx), ctx.warnings
