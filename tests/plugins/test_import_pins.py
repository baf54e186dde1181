"""Pinned cards and dashboards (collection_position) survive an import although the target renumbers a
collection's pins on every write (Metabase's maybe-reconcile-collection-position!) and mbport writes concurrently."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mbport.check import load_tree
from mbport.client import MetabaseClient
from mbport.engine import Importer
from mbport.registry import load_plugins
from mbport.secrets import Secrets
from mbport.state import State
from tests.conftest import assert_settled
from tests.plugins.test_import_content import KINDS, export, new_instance

# name → wanted position; cards and dashboards share one numbering per collection
PINS = {"Revenue": 1, "Sales board": 2, "Orders": 3, "Ops board": 4, "Products": 5}


def build(api: MetabaseClient) -> int:
    """One collection with 3 pinned cards, 2 pinned dashboards, an unpinned card; a pinned card in the root."""
    db = api.post("/api/database/sample_database")["id"]
    coll = api.post("/api/collection", json={"name": "Pinned"})["id"]
    query = {"database": db, "type": "native", "native": {"query": "select 1"}}
    # created in the order that makes the server renumber: every create shifts the pins at and after it
    for name in sorted(PINS, key=PINS.get, reverse=True):
        if name.endswith("board"):
            made = api.post("/api/dashboard", json={"name": name, "collection_id": coll})
            api.put(f"/api/dashboard/{made['id']}", json={"collection_position": 1})
        else:
            api.post("/api/card", json={"name": name, "display": "table", "visualization_settings": {},
                                        "dataset_query": query, "collection_id": coll, "collection_position": 1})
    api.post("/api/card", json={"name": "Loose", "display": "table", "visualization_settings": {},
                                "dataset_query": query, "collection_id": coll})
    api.post("/api/card", json={"name": "Root pin", "display": "table", "visualization_settings": {},
                                "dataset_query": query, "collection_position": 1})
    return coll


def positions(api: MetabaseClient) -> dict[str, Any]:
    cards = api.get("/api/card", params={"f": "all"})
    dashboards = api.get("/api/dashboard", params={"f": "all"})
    return {x["name"]: (x.get("collection_id") is None, x.get("collection_position")) for x in cards + dashboards}


def importer(tmp: Path, api: MetabaseClient, registry) -> Importer:
    return Importer(api, registry, load_tree(tmp / "a", registry), State.load(tmp / "state.json", "http://b"),
                    {"secrets": Secrets(env={})})


def test_pins_round_trip_and_replan_empty(tmp_path, monkeypatch):
    registry = load_plugins(KINDS)
    emu_a, api_a = new_instance()
    build(api_a)
    wanted = positions(api_a)
    assert {n: p for n, (_root, p) in wanted.items() if n in PINS} == PINS
    assert wanted["Root pin"] == (True, 1) and wanted["Loose"] == (False, None)
    export(api_a, registry, tmp_path / "a")

    emu_b, api_b = new_instance()
    written: list[tuple[str, Any]] = []
    for name in ("cards", "dashboards"):
        kind = registry[name]
        original = kind.write_position

        def spy(req, _original=original):
            written.append((req.doc["name"], *req.payload.values()))
            return _original(req)

        monkeypatch.setattr(kind, "write_position", spy)
    first = importer(tmp_path, api_b, registry)
    result = first.apply(first.plan())
    assert result.failed == {}
    assert positions(api_b) == wanted
    # the pins are written last, lowest first, so each write shifts none set before it
    assert [w for w in written if w[0] in PINS] == sorted(PINS.items(), key=lambda item: item[1])

    assert_settled(importer(tmp_path, api_b, registry), emu_b)


def test_pins_shuffled_on_the_target_are_put_back(tmp_path):
    registry = load_plugins(KINDS)
    _emu_a, api_a = new_instance()
    build(api_a)
    wanted = positions(api_a)
    export(api_a, registry, tmp_path / "a")
    _emu_b, api_b = new_instance()
    first = importer(tmp_path, api_b, registry)
    first.apply(first.plan())
    # an admin drags the pins around and unpins one on the target
    ids = {c["name"]: c["id"] for c in api_b.get("/api/card", params={"f": "all"})}
    dash = {d["name"]: d["id"] for d in api_b.get("/api/dashboard", params={"f": "all"})}
    api_b.put(f"/api/card/{ids['Products']}", json={"collection_position": 1})
    api_b.put(f"/api/dashboard/{dash['Sales board']}", json={"collection_position": None})
    api_b.put(f"/api/card/{ids['Loose']}", json={"collection_position": 2})
    assert positions(api_b) != wanted

    fix = importer(tmp_path, api_b, registry)
    plan = fix.plan()
    assert {c.address.split("/")[0] for c in plan.of("update")} == {"cards", "dashboards"}
    assert fix.apply(plan).failed == {}
    assert positions(api_b) == wanted
    assert not importer(tmp_path, api_b, registry).plan().has_changes
