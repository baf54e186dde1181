"""Users, keyed by email; never passwords. Deactivated users are kept with `is_active: false`."""

from __future__ import annotations

from typing import Any

from mbport.api import (FALSY, OMIT, TENANTS, ExportContext, Kind, Match, WriteRequest, copy,
                        ensure_tenants_on, ref, skip, skips)

TENANTS_SINCE = (0, 58)

PAGE = 500


def paged(api, path: str, params: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """Every item of a `{data, total}` envelope endpoint, page by page."""
    items: list[dict[str, Any]] = []
    while True:
        page = api.get(path, params={**(params or {}), "limit": PAGE, "offset": len(items)})
        data = page["data"] if isinstance(page, dict) else page
        items.extend(data)
        total = page.get("total") if isinstance(page, dict) else None
        if not data or total is None or len(items) >= total or len(data) < PAGE:
            return items


class Users(Kind):
    name = "users"
    endpoint = "/api/user"
    fields = {
        "email": copy(read=lambda raw: raw["email"].lower()),
        "first_name": copy(), "last_name": copy(),
        "locale": copy(send=lambda value, doc: value or OMIT),  # POST takes none: `create` PUTs it after
        "login_attributes": copy(default=FALSY),
        "is_active": copy(send=False),  # deactivation is a DELETE, reactivation its own PUT
        "sso_source": copy(send=False),
        "id": skip("instance-specific id; the key is the email"),
        "common_name": skip("derived from first and last name"),
        **skips("server timestamp", "date_joined", "last_login", "updated_at", "first_login"),
        **skips("UI onboarding flag", "is_qbnewb", "has_invited_second_user", "is_installer"),
        "is_superuser": skip("follows from membership of Administrators (memberships kind)"),
        **skips("memberships kind", "group_ids", "user_group_memberships"),
        "personal_collection_id": skip("the personal collection refers to its owner instead"),
        "tenant_collection_id": skip("EE tenants bookkeeping"),
        "is_data_analyst": skip("derived from the Data Analysts group membership"),
        "jwt_attributes": skip("written by SSO at login, not by admins"),
        "structured_attributes": skip("server view of login_attributes"),
        # a tenant user (0.58+, EE tenants): sent only for them (older releases have no such field)
        "tenant_id": ref("tenants", as_="tenant", needs=TENANTS, send=lambda value, doc: OMIT if value is None else value),
        **skips("UI hint", "has_question_and_dashboard", "custom_homepage"),
        "type": skip("only personal users are listed"),
        **skips("the reading user's permission", "can_access_data_model", "can_access_db_details",
                "can_access_monitoring", "can_access_setting", "can_access_subscription",
                "can_create_queries", "can_create_native_queries", "can_access_data_studio"),
    }
    match = Match("email", fold={"email": lambda email: str(email).lower()}, address=True)

    def list(self, api, ctx: ExportContext) -> list[dict[str, Any]]:
        # 0.58+ lists internal users only unless asked for tenant users too (users/models/user.clj `filter-clauses`)
        tenancy = {"tenancy": "all"} if api.version >= TENANTS_SINCE else {}
        return paged(api, self.endpoint, {"status": "all", **tenancy})

    # ---- import: matched by email; created without a password; deactivated with DELETE ----
    def comparable(self, doc):
        return {k: v for k, v in doc.items() if k != "sso_source"}

    def compare(self, wanted, current, options):
        # A user deactivated on both sides cannot be edited through the API: nothing to write then. Otherwise every
        # field counts (a reactivated user gets the tree's names; a user still active is PUT before it is
        # deactivated), and only the fields that differ are named: a deactivated target whose names are the tree's
        # differs by `is_active` alone.
        if wanted.get("is_active") is False and current.get("is_active") is False:
            return []
        return super().compare(wanted, current, options)

    def create(self, req: WriteRequest) -> dict[str, Any]:
        if req.doc.get("tenant"):
            ensure_tenants_on(req.api)
        body = {k: v for k, v in req.payload.items() if k != "locale"}
        raw = req.api.post(self.endpoint, json=body)
        if "locale" in req.payload:  # users/api.clj: POST "/" has no locale; PUT "/:id" writes it
            raw = req.api.put(f"{self.endpoint}/{raw['id']}", json={"locale": req.payload["locale"]})
        if req.doc.get("is_active") is False:
            req.api.delete(f"{self.endpoint}/{raw['id']}")
        return raw

    def update(self, req: WriteRequest) -> dict[str, Any]:
        current = req.target.find(self.name, req.target_id) or {}
        wanted_active = req.doc.get("is_active", True)
        if wanted_active and current.get("is_active") is False:
            req.api.put(f"{self.endpoint}/{req.target_id}/reactivate")
        raw = current
        if wanted_active or current.get("is_active", True):
            raw = req.api.put(f"{self.endpoint}/{req.target_id}", json=req.payload)
        if not wanted_active and current.get("is_active", True):
            req.api.delete(f"{self.endpoint}/{req.target_id}")
        return raw

    archived_when = {"is_active": False}

    def archive(self, api, target_id):
        api.delete(f"{self.endpoint}/{target_id}")  # Metabase deactivates; users are never deleted
