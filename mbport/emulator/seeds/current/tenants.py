"""Tenants (0.58+, Enterprise `tenants`): `use-tenants` on, tenants Acme (with attributes) and Globex (deactivated),
a tenant user of each, a tenant group Alice is in (beside the "All tenant users" group turning tenants on makes), a
shared tenant collection with a question in it, and in Acme's own collection (made with the tenant) a question and a
folder with another (`tenant:acme`, `tenant:globex`, `user:alice`, `user:gus`, `group:Customer analysts`,
`coll:Customer reports`, `coll:Acme's own`, `coll:Acme drafts`)."""

from __future__ import annotations

from typing import Any

import httpx

from mbport.emulator.seeds import ok


def load(api: httpx.Client, ids: dict[str, Any]) -> None:
    ok(api.put("/api/setting/use-tenants", json={"value": True}))
    ids["tenant:acme"] = ok(api.post("/api/ee/tenant", json={
        "name": "Acme", "slug": "acme", "attributes": {"region": "EU"}}))["id"]
    ids["tenant:globex"] = ok(api.post("/api/ee/tenant", json={"name": "Globex", "slug": "globex"}))["id"]
    for key, first, tenant in (("alice", "Alice", "acme"), ("gus", "Gus", "globex")):
        ids[f"user:{key}"] = ok(api.post("/api/user", json={
            "email": f"{key}@{tenant}.example", "first_name": first, "last_name": "Customer",
            "tenant_id": ids[f"tenant:{tenant}"]}))["id"]
    ids["group:Customer analysts"] = ok(api.post("/api/permissions/group", json={
        "name": "Customer analysts", "is_tenant_group": True}))["id"]
    ok(api.post("/api/permissions/membership", json={"group_id": ids["group:Customer analysts"],
                                                     "user_id": ids["user:alice"]}))
    ok(api.put(f"/api/ee/tenant/{ids['tenant:globex']}", json={"is_active": False}))  # Gus goes with it
    ids["coll:Customer reports"] = ok(api.post("/api/collection", json={
        "name": "Customer reports", "namespace": "shared-tenant-collection"}))["id"]
    native = {"database": ids["db:warehouse"], "type": "native", "native": {"query": "SELECT count(*) FROM orders"}}
    ok(api.post("/api/card", json={"name": "Order volume", "display": "scalar", "dataset_query": native,
                                   "visualization_settings": {}, "collection_id": ids["coll:Customer reports"]}))
    # Acme's own collection (made with the tenant) holds a question and a folder Acme's people made in it
    acme_root = ok(api.get(f"/api/ee/tenant/{ids['tenant:acme']}"))["tenant_collection_id"]
    ids["coll:Acme's own"] = acme_root
    ids["coll:Acme drafts"] = ok(api.post("/api/collection", json={"name": "Acme drafts", "parent_id": acme_root}))["id"]
    for name, where in (("Acme orders", acme_root), ("Acme draft orders", ids["coll:Acme drafts"])):
        ok(api.post("/api/card", json={"name": name, "display": "scalar", "dataset_query": native,
                                       "visualization_settings": {}, "collection_id": where}))
