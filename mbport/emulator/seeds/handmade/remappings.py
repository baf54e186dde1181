"""Field remappings: an external one (orders.product_id shows products.title, FK set), an internal one with
custom labels (orders.quantity as pack sizes), and a field whose remapping was removed (orders.customer_id)."""

from __future__ import annotations

from typing import Any

import httpx

from mbport.emulator.seeds import ok


def load(api: httpx.Client, ids: dict[str, Any]) -> None:
    """Admin data-model edits, in the order the data model page makes them (the field first, then its display)."""
    ok(api.put(f"/api/field/{ids['f:orders.product_id']}",
               json={"semantic_type": "type/FK", "fk_target_field_id": ids["f:products.id"]}))
    ok(api.post(f"/api/field/{ids['f:orders.product_id']}/dimension",
                json={"type": "external", "name": "Product", "human_readable_field_id": ids["f:products.title"]}))
    quantity = ids["f:orders.quantity"]
    ok(api.put(f"/api/field/{quantity}", json={"semantic_type": "type/Category", "has_field_values": "list"}))
    ok(api.post(f"/api/field/{quantity}/dimension", json={"type": "internal", "name": "Pack size"}))
    ok(api.post(f"/api/field/{quantity}/values", json={"values": [[3, "Three-pack"], [10, "Ten-pack"]]}))
    customer = ids["f:orders.customer_id"]
    ok(api.put(f"/api/field/{customer}", json={"semantic_type": "type/FK", "fk_target_field_id": ids["f:customers.id"]}))
    ok(api.post(f"/api/field/{customer}/dimension",
                json={"type": "external", "name": "Customer", "human_readable_field_id": ids["f:customers.name"]}))
    ok(api.delete(f"/api/field/{customer}/dimension"))
