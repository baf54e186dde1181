"""The handmade seed's base: a warehouse database (warehouse_b.sql), two groups and three people."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx

from mbport.emulator.seeds import SeedError, ok, wait_for_sync

USER_PASSWORD = "Handmade-passw0rd!"
SECRETS = (USER_PASSWORD,)
WAREHOUSE_SCRIPT = Path(__file__).resolve().parents[2] / "warehouses" / "warehouse_b.sql"


def load(api: httpx.Client, ids: dict[str, Any]) -> None:
    """People first (parts give them content), then the warehouse and its metadata ids."""
    _people(api, ids)
    _warehouse(api, ids)


def _people(api: httpx.Client, ids: dict[str, Any]) -> None:
    for name in ("Finance", "Support"):
        ids[f"group:{name}"] = ok(api.post("/api/permissions/group", json={"name": name}))["id"]
    groups = {g["name"]: g["id"] for g in ok(api.get("/api/permissions/group"))}
    ids["group:All Users"], ids["group:Administrators"] = groups["All Users"], groups["Administrators"]
    for key, first, last, group in (("rita", "Rita", "Reporter", "Finance"), ("tom", "Tom", "Triage", "Support"),
                                    ("uma", "Uma", "Upstairs", "Administrators")):
        user = ok(api.post("/api/user", json={
            "email": f"{key}@handmade.example", "first_name": first, "last_name": last, "password": USER_PASSWORD,
            "user_group_memberships": [{"id": ids["group:All Users"]}, {"id": ids[f"group:{group}"]}],
        }))
        ids[f"user:{key}"] = user["id"]
    ids["user:admin"] = ok(api.get("/api/user/current"))["id"]


def _warehouse(api: httpx.Client, ids: dict[str, Any]) -> None:
    from mbport.emulator.sample_db import build_from_script, cache_dir

    if not WAREHOUSE_SCRIPT.is_file():
        raise SeedError(f"seed handmade needs {WAREHOUSE_SCRIPT} (run from a source checkout of mbport)")
    path = build_from_script(WAREHOUSE_SCRIPT, cache_dir() / "seed-handmade-warehouse.sqlite")
    ids["db:warehouse"] = db = ok(api.post("/api/database", json={
        "name": "Handmade Warehouse", "engine": "sqlite", "details": {"db": str(path)}}))["id"]
    wait_for_sync(api, db, "handmade")
    meta = ok(api.get(f"/api/database/{db}/metadata", params={"include_hidden": "true"}))
    for table in meta["tables"]:
        ids[f"t:{table['name']}"] = table["id"]
        for field in table["fields"]:
            ids[f"f:{table['name']}.{field['name']}"] = field["id"]
