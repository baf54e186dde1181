"""Users, keyed by email; never passwords. Deactivated users are kept with `is_active: false`."""

from __future__ import annotations

from typing import Any

from mbport.kind import ExportContext, Kind, PathHint

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
    description = "People (by email): names, locale, attributes, active or deactivated."
    aliases = ("user",)
    key_fields = ("email",)
    keep = ("email", "first_name", "last_name", "locale", "login_attributes", "is_active", "sso_source")
    drop = {
        "id": "instance-specific id; the key is the email",
        "common_name": "derived from first and last name",
        "date_joined": "server timestamp",
        "last_login": "server timestamp",
        "updated_at": "server timestamp",
        "is_qbnewb": "UI onboarding flag",
        "is_superuser": "follows from membership of Administrators (memberships kind)",
        "group_ids": "memberships kind",
        "user_group_memberships": "memberships kind",
        "personal_collection_id": "the personal collection refers to its owner instead",
        "tenant_collection_id": "EE tenants bookkeeping",
        "is_data_analyst": "derived from the Data Analysts group membership",
        "jwt_attributes": "written by SSO at login, not by admins",
        "structured_attributes": "server view of login_attributes",
        "tenant_id": "EE tenants (not supported yet)",
        "has_invited_second_user": "UI onboarding flag",
        "has_question_and_dashboard": "UI hint",
        "first_login": "server timestamp",
        "custom_homepage": "UI hint",
        "is_installer": "UI onboarding flag",
        "type": "only personal users are listed",
        "can_access_data_model": "the reading user's permission",
        "can_access_db_details": "the reading user's permission",
        "can_access_monitoring": "the reading user's permission",
        "can_access_setting": "the reading user's permission",
        "can_access_subscription": "the reading user's permission",
        "can_create_queries": "the reading user's permission",
        "can_create_native_queries": "the reading user's permission",
        "can_access_data_studio": "the reading user's permission",
    }

    def list(self, api, ctx: ExportContext) -> list[dict[str, Any]]:
        return paged(api, self.endpoint, {"status": "all"})

    def key_parts(self, raw_or_doc: dict[str, Any]) -> tuple[Any, ...]:
        return (str(raw_or_doc["email"]).lower(),)

    def normalize_more(self, doc, raw, ctx):
        doc["email"] = doc["email"].lower()
        for empty in ("locale", "sso_source"):
            if doc.get(empty) is None:
                doc.pop(empty, None)
        if not doc.get("login_attributes"):
            doc.pop("login_attributes", None)
        return doc

    def path(self, doc, folders) -> PathHint:
        return PathHint((), doc["email"])
