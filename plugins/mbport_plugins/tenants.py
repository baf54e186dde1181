"""Tenants (Metabase 0.58+, Enterprise `tenants`): the customers of a multi-tenant instance, keyed by slug; their
users carry a `tenant` ref (users kind) and shared tenant collections their namespace (collections kind)."""

from __future__ import annotations

from typing import Any

from mbport.api import (FALSY, ExportContext, Kind, Match, Requires, WriteRequest, copy, ensure_tenants_on,
                        get_unless_missing, skip)


class Tenants(Requires, Kind):
    name = "tenants"
    endpoint = "/api/ee/tenant"
    since = (0, 58)  # /api/ee/tenant (versions.md; tenants/api.clj)
    premium_feature = "tenants"
    fields = {
        "id": skip("instance-specific id; the key is the slug"),
        "name": copy(), "slug": copy(put=False),  # PUT cannot change the slug (tenants/api.clj UpdateTenantArguments)
        "attributes": copy(default=FALSY),
        "is_active": copy(default=True, post=False),  # POST takes name, slug, attributes: a deactivated one is PUT after
        "member_count": skip("derived from the tenant's active users"),
        "tenant_collection_id": skip("the tenant's own collection, made with it"),
    }
    match = Match("slug", address=True)  # tenants/<slug>

    def list(self, api, ctx: ExportContext) -> list[dict[str, Any]]:
        # 402/404: an OSS build, a token without tenants, a release before them: none
        answer = get_unless_missing(api, self.endpoint, params={"status": "all"}, missing=(402, 404),
                                    feature=self.premium_feature)  # api_routes/routes.clj: "/tenant" :tenants
        return answer["data"] if answer else []

    def create(self, req: WriteRequest) -> dict[str, Any]:
        ensure_tenants_on(req.api)
        return super().create(req)

    archived_when = {"is_active": False}

    def archive(self, api, target_id):
        api.put(f"{self.endpoint}/{target_id}", json={"is_active": False})  # tenants are deactivated, not deleted
