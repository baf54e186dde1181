"""Tenants (Enterprise `tenants` feature, Metabase >= 0.58): tenants, each with its own root collection, and the
users that belong to one (enterprise/backend/src/metabase_enterprise/tenants/)."""

from __future__ import annotations

from typing import Any

from .. import errors, premium
from ..store import Row, State
from . import collections, groups, settings
from .versions import TENANTS_SINCE, minor_version

FEATURE = "tenants"  # tenants/core.clj `:feature :tenants`
SHARED_NAMESPACE = "shared-tenant-collection"  # collection.clj `shared-tenant-ns`
TENANT_NAMESPACE = "tenant-specific"  # a tenant's own collection tree (`is-dedicated-tenant-collection-or-descendant?`)
TENANT_ROOT_TYPE = "tenant-specific-root-collection"
TAKEN = "This tenant name or slug is already taken."


def use_tenants(state: State) -> bool:
    """permissions `use-tenants`: the token has the feature and the setting is on."""
    return (minor_version(state) >= TENANTS_SINCE and premium.enabled(state, FEATURE)
            and bool(settings.get_value(state, "use-tenants")))


def present(state: State, tenant: Row) -> dict[str, Any]:
    """tenants/api.clj `present-tenants`: the row's public keys and `member_count` (active personal users)."""
    members = state.table("user").where(tenant_id=tenant["id"], type="personal", is_active=True)
    return {**{k: tenant.get(k) for k in ("id", "name", "slug", "is_active", "attributes", "tenant_collection_id")},
            "member_count": len(members)}


def get(state: State, tenant_id: int) -> Row:
    tenant = state.table("tenant").get(tenant_id)
    if tenant is None:
        raise errors.not_found()
    return tenant


def create(state: State, body: dict[str, Any]) -> Row:
    """tenants/api.clj `create-tenant!`: a unique name and slug (400 otherwise); the tenant gets its own root
    collection in the tenant-specific namespace, named after it (tenants/model.clj `define-before-insert`: "Tenant
    Collection: <name>", kept when the tenant is renamed)."""
    if state.table("tenant").first(lambda t: t["name"] == body["name"] or t["slug"] == body["slug"]):
        raise errors.bad_request(TAKEN)
    tenant = state.table("tenant").insert({"name": body["name"], "slug": body["slug"], "is_active": True,
                                           "attributes": body.get("attributes"), "tenant_collection_id": None})
    root = collections.insert_typed(state, name=f"Tenant Collection: {body['name']}", type=TENANT_ROOT_TYPE,
                                    namespace=TENANT_NAMESPACE)
    tenant.update(tenant_collection_id=root["id"])
    return tenant


def update(state: State, tenant: Row, body: dict[str, Any]) -> Row:
    """tenants/api.clj `PUT /:id` (`update-tenant!`): name (unique), attributes, is_active; deactivating a tenant
    deactivates its users and trashes its collection, activating it brings back both."""
    name = body.get("name")
    if name and state.table("tenant").first(lambda t: t["name"] == name and t["id"] != tenant["id"]):
        raise errors.bad_request("This name is already taken.")
    changes = {k: body[k] for k in ("name", "attributes", "is_active") if k in body and (k == "attributes" or body[k]
                                                                                         is not None)}
    tenant.update(changes)
    root = state.table("collection").get(tenant.get("tenant_collection_id") or -1)
    if body.get("is_active") is False:
        for user in state.table("user").where(tenant_id=tenant["id"], is_active=True):
            user.update(is_active=False, deactivated_with_tenant=True)
        if root is not None and not root.get("archived"):
            collections.archive(state, root)
    elif body.get("is_active") is True:
        for user in state.table("user").where(tenant_id=tenant["id"], is_active=False, deactivated_with_tenant=True):
            user.update(is_active=True, deactivated_with_tenant=None)
        if root is not None and root.get("archived"):
            collections.unarchive(state, root)
    return tenant


def before_setting(state: State, key: str, value: Any) -> None:
    """permissions/settings.clj `update-use-tenants!`: turning tenants off deactivates every tenant and every active
    tenant user (`deactivated_with_tenant`, so a tenant's reactivation brings them back); tenants' collections and
    groups stay. (An earlier `turn-off-tenants!` refused while a tenant user existed, written before the Tenant
    model existed — "TODO: when we have `:model/Tenant`" — so no release with /api/ee/tenant has it.)"""
    if key != "use-tenants" or value:
        return
    for tenant in state.table("tenant").where(is_active=True):
        tenant.update(is_active=False)
    for user in state.table("user").where(lambda u: u.get("tenant_id") is not None and bool(u.get("is_active"))):
        user.update(is_active=False, deactivated_with_tenant=True)


def after_setting(state: State, key: str, value: Any) -> None:
    """Turning `use-tenants` on makes the "All tenant users" group (permissions/api.clj `turn-on-tenants!`)."""
    if key == "use-tenants" and value:
        groups.ensure_all_tenant_users(state)


def check_tenant_user(state: State, tenant_id: Any) -> None:
    """A user may join a tenant only with tenants on (users/api.clj: "Cannot create a Tenant User as Tenants are not
    enabled for this instance.") and a tenant that exists."""
    if tenant_id is None:
        return
    if not use_tenants(state):
        raise errors.checkp("tenant_id", "Cannot create a Tenant User as Tenants are not enabled for this instance.")
    get(state, tenant_id)


def check_collection_update(coll: Row) -> None:
    """collections_rest/api.clj `PUT /:id`: a tenant's root collection cannot be updated (renamed, moved or archived:
    a bare `check-400`); only its tenant's deactivation archives it."""
    if coll.get("type") == TENANT_ROOT_TYPE:
        raise errors.bad_request("Invalid Request.")


def check_new_collection(state: State, namespace: str | None) -> None:
    """collections/create.clj `validate-new-tenant-collection!`: a shared tenant collection needs tenants on."""
    if namespace == SHARED_NAMESPACE and not use_tenants(state):
        raise errors.bad_request("Cannot create tenant collection on OSS." if not premium.enabled(state, FEATURE)
                                 else "Invalid Request.")
