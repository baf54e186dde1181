"""Tenants (Metabase 0.58+, Enterprise `tenants`): what the kinds that hold tenant content share."""

from __future__ import annotations

from typing import Any

from ..spec import Needs

TENANTS = Needs("tenants", since=(0, 58), premium_feature="tenants")
SHARED_TENANT_NAMESPACE = "shared-tenant-collection"  # collections/models/collection.clj `shared-tenant-ns`
TENANT_NAMESPACE = "tenant-specific"  # each tenant's own collection tree, made with the tenant
# The root of that tree: tenants/model.clj `define-before-insert` makes it with the tenant (as Metabase makes a user's
# personal collection), named "Tenant Collection: <name>"; no API request may change it (collections_rest/api.clj
# `PUT /:id`), only the tenant's deactivation archives it (tenants/api.clj `update-tenant!`).
TENANT_ROOT_TYPE = "tenant-specific-root-collection"


def ensure_tenants_on(api: Any) -> None:
    """Turn the target's `use-tenants` setting on before writing tenant content: Metabase refuses tenant users and
    shared tenant collections without it (tenants/core.clj `validate-new-tenant-collection!`, users/api.clj), and a
    tree that holds such content came from an instance that had it on."""
    if not api.get("/api/setting/use-tenants"):
        api.put("/api/setting/use-tenants", json={"value": True})


def has_tenants(api: Any) -> bool:
    """Whether the instance can hold tenants: 0.58 or later, and a token with the feature."""
    try:
        return api.version >= TENANTS.since and bool((api.token_features or {}).get("tenants"))
    except Exception:  # a client that cannot tell (a test double): it has none
        return False
