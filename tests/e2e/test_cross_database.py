"""Content moved onto a warehouse with another name and other ids (`--map-database`) works on the target."""

from __future__ import annotations

import time
from pathlib import Path

from mbport.check import load_tree
from mbport.client import MetabaseClient
from mbport.emulator import Emulator, bootstrap
from mbport.emulator.sample_db import build_from_script
from mbport.engine import Importer
from mbport.export import run_export
from mbport.registry import load_plugins
from mbport.secrets import Secrets
from mbport.state import State
from tests.conftest import ADMIN_EMAIL, ADMIN_PASSWORD

WAREHOUSES = Path(__file__).resolve().parents[2] / "mbport" / "emulator" / "warehouses"


def instance(url):
    emu = Emulator()
    session = bootstrap.setup_admin(emu, ADMIN_EMAIL, ADMIN_PASSWORD)
    return emu, MetabaseClient(url, session_token=session, transport=emu.transport())


def add_warehouse(api, emu, name, script, tmp_path):
    path = build_from_script(WAREHOUSES / script, tmp_path / f"{name}.sqlite")
    db = api.post("/api/database", json={"name": name, "engine": "sqlite", "details": {"db": str(path)}})
    deadline = time.monotonic() + 10
    while api.get(f"/api/database/{db['id']}")["initial_sync_status"] != "complete" and time.monotonic() < deadline:
        time.sleep(0.02)
    return db["id"], {t["name"]: t for t in api.get(f"/api/database/{db['id']}/metadata")["tables"]}


def field_id(table, name):
    return next(f["id"] for f in table["fields"] if f["name"] == name)


def test_cards_run_on_a_mapped_warehouse_with_other_ids(tmp_path):
    src_emu, src = instance("http://a.test")
    db_a, tables_a = add_warehouse(src, src_emu, "Shop A", "warehouse_a.sql", tmp_path)
    orders = tables_a["orders"]
    src.post("/api/card", json={
        "name": "Orders table", "display": "table", "visualization_settings": {},
        "dataset_query": {"database": db_a, "type": "query", "query": {
            "source-table": orders["id"], "fields": [["field", field_id(orders, "id"), None], ["field", field_id(orders, "status"), None]],
            "order-by": [["asc", ["field", field_id(orders, "id"), None]]], "limit": 5}}})
    src.post("/api/card", json={
        "name": "Orders by status (SQL)", "display": "table", "visualization_settings": {},
        "dataset_query": {"database": db_a, "type": "native", "native": {
            "query": "select status, count(*) as n from orders where {{status}} group by status",
            "template-tags": {"status": {"id": "t1", "name": "status", "display-name": "Status", "type": "dimension",
                                         "dimension": ["field", field_id(orders, "status"), None], "widget-type": "category"}}}}})
    exported = run_export(src, load_plugins(), tmp_path / "tree")
    assert exported.warnings == []

    dst_emu, dst = instance("http://b.test")
    add_warehouse(dst, dst_emu, "Unrelated", "sample.sql", tmp_path)  # shifts every id on the target
    db_b, tables_b = add_warehouse(dst, dst_emu, "Shop B", "warehouse_b.sql", tmp_path)
    registry = load_plugins()
    importer = Importer(dst, registry, load_tree(tmp_path / "tree", registry), State.load(tmp_path / "s.json", dst.url),
                        {"map_database": {"Shop A": "Shop B"}, "secrets": Secrets(env={})})
    plan = importer.plan()
    assert plan.problems == [] and not [c for c in plan.changes if c.address.startswith("databases/") and c.action != "noop"]
    result = importer.apply(plan)
    assert result.failed == {}

    names = [d["name"] for d in dst.get("/api/database")["data"]]
    assert sorted(names) == ["Shop B", "Unrelated"]  # the mapped database was used, not created
    cards = {c["name"]: c for c in dst.get("/api/card", params={"f": "all"})}
    mbql = cards["Orders table"]
    assert mbql["database_id"] == db_b and mbql["table_id"] == tables_b["orders"]["id"] != orders["id"]
    for card in cards.values():
        run = dst.post(f"/api/card/{card['id']}/query")
        assert run["status"] == "completed", (card["name"], run.get("error"))
        assert run["row_count"] > 0
    # the answer comes from the target's own warehouse file
    import sqlite3

    with sqlite3.connect(tmp_path / "Shop B.sqlite") as conn:
        expected = [list(r) for r in conn.execute("select id, status from orders order by id limit 5")]
    assert dst.post(f"/api/card/{mbql['id']}/query")["data"]["rows"] == expected
