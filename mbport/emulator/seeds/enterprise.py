"""The `enterprise` seed: the `sample` instance plus Enterprise content (sandboxes, a connection impersonation, user
attributes), built via HTTP.

It needs an emulator with the `sandboxes` and `advanced_permissions` premium features: `mbport emulator serve --premium-features all
--seed enterprise`, or `Emulator(premium_features="all")` in tests.
"""

from __future__ import annotations

from typing import Any

import httpx

# Absolute imports, so `--seed mbport/emulator/seeds/enterprise.py` (a file seed) works too.
from mbport.emulator.seeds import SeedError, ok
from mbport.emulator.seeds import sample as sample_seed

SECRETS = sample_seed.SECRETS
SQLITE_ACTIONS = sample_seed.SQLITE_ACTIONS
# Fixed template-tag id of the sandboxing SQL question, so the seed is the same on every run.
TAG_CUSTOMER = "5b1d7c2e-8a43-4f0e-9c61-2d7e4b8a9f10"


def load(api: httpx.Client) -> None:
    """The sample instance, then a user attribute per seller, three sandboxes (see `_sandboxes`) and an
    impersonation (see `_impersonation`)."""
    features = ok(api.get("/api/session/properties")).get("token-features") or {}
    if not features.get("sandboxes") or not features.get("advanced_permissions"):
        raise SeedError("seed enterprise needs the sandboxes premium feature and advanced_permissions "
                        "(mbport emulator serve --premium-features all, or Emulator(premium_features='all'))")
    sample_seed.load(api)
    ids = _lookup(api)
    _attributes(api, ids)
    _sandboxes(api, ids)
    _impersonation(api, ids)


def _lookup(api: httpx.Client) -> dict[str, Any]:
    """Ids by name of what the sample seed made: `group:<name>`, `db:<name>`, `t:<db>.<table>`, `f:<db>.<table>.<field>`."""
    ids: dict[str, Any] = {f"group:{g['name']}": g["id"] for g in ok(api.get("/api/permissions/group"))}
    ids.update({f"user:{u['email'].split('@')[0]}": u["id"] for u in ok(api.get("/api/user"))["data"]})
    ids["c:Sales"] = next(c["id"] for c in ok(api.get("/api/collection")) if c.get("name") == "Sales")
    for db in ok(api.get("/api/database"))["data"]:
        short = {"Sample Database": "sample", "Shop Warehouse": "warehouse", "Finance": "finance"}.get(db["name"])
        if short is None:
            continue
        ids[f"db:{short}"] = db["id"]
        if short == "finance":
            continue  # no tables the seed needs
        meta = ok(api.get(f"/api/database/{db['id']}/metadata", params={"include_hidden": "true"}))
        for table in meta["tables"]:
            ids[f"t:{short}.{table['name']}"] = table["id"]
            for field in table["fields"]:
                ids[f"f:{short}.{table['name']}.{field['name']}"] = field["id"]
    return ids


def _attributes(api: httpx.Client, ids: dict) -> None:
    # The values sandboxes read: a seller sees their own customer's orders and their own region's people.
    ok(api.put(f"/api/user/{ids['user:sam']}", json={"login_attributes": {"customer_id": "1", "region": "CA"}}))
    ok(api.put(f"/api/user/{ids['user:ana']}", json={"login_attributes": {"plan": "pro"}}))


def _sandboxes(api: httpx.Client, ids: dict) -> None:
    """Sales: warehouse orders through a SQL question whose variable takes `customer_id`, sample people filtered
    on a field by `region` (no question); Analysts: warehouse customers through a query-builder question, filtered
    on one of its fields by `plan`."""
    f, wh = ids, ids["db:warehouse"]
    sql = ok(api.post("/api/card", json={
        "name": "Sandbox: my customer's orders", "display": "table", "visualization_settings": {},
        "collection_id": ids["c:Sales"], "dataset_query": {"database": wh, "type": "native", "native": {
            "query": "SELECT * FROM orders WHERE customer_id = {{customer}}",
            "template-tags": {"customer": {"id": TAG_CUSTOMER, "name": "customer", "display-name": "Customer",
                                           "type": "number", "required": True}}}},
    }))["id"]
    customers = ok(api.post("/api/card", json={
        "name": "Sandbox: customers", "display": "table", "visualization_settings": {},
        "collection_id": ids["c:Sales"], "dataset_query": {"database": wh, "type": "query", "query": {
            "source-table": ids["t:warehouse.customers"],
            "fields": [["field", f["f:warehouse.customers.id"], None], ["field", f["f:warehouse.customers.name"], None],
                       ["field", f["f:warehouse.customers.plan"], None]]}},
    }))["id"]
    for body in (
        {"group_id": ids["group:Sales"], "table_id": ids["t:warehouse.orders"], "card_id": sql,
         "attribute_remappings": {"customer_id": ["variable", ["template-tag", "customer"]]}},
        {"group_id": ids["group:Sales"], "table_id": ids["t:sample.people"],
         "attribute_remappings": {"region": ["dimension", ["field", f["f:sample.people.state"], None]]}},
        {"group_id": ids["group:Analysts"], "table_id": ids["t:warehouse.customers"], "card_id": customers,
         "attribute_remappings": {"plan": ["dimension", ["field", f["f:warehouse.customers.plan"], None]]}},
    ):
        ok(api.post("/api/mt/gtap", json=body))


def _impersonation(api: httpx.Client, ids: dict) -> None:
    """Analysts query Finance as the database role in their `db_role` attribute (written, as Metabase only allows,
    through the permissions graph, with the pair's view-data)."""
    revision = ok(api.get("/api/permissions/graph"))["revision"]
    group, db = ids["group:Analysts"], ids["db:finance"]
    ok(api.put("/api/permissions/graph", params={"skip-graph": "true"}, json={
        "revision": revision, "groups": {str(group): {str(db): {"view-data": "impersonated"}}},
        "impersonations": [{"group_id": group, "db_id": db, "attribute": "db_role"}]}))
