"""Users, keyed by email; never passwords. Deactivated users are kept with `is_active: false`."""

from __future__ import annotations

from typing import Any

from mbport.api import ExportContext, Kind, PathHint

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
    colour = "#e5e5e5"
    phrases = {
        "is_active": {True: "reactivated", False: "deactivated"},
        "is_superuser": {True: "made an admin", False: "no longer an admin"},
        "first_name": "first name", "last_name": "last name", "login_attributes": "user attributes", "locale": "language",
        "sso_source": "sign-in method",
    }
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

    # ---- import: matched by email; created without a password; deactivated with DELETE ----
    def match_key(self, doc, resolve):
        return (doc["email"].lower(),)

    def raw_match_key(self, raw):
        return (str(raw.get("email", "")).lower(),)

    def comparable(self, doc):
        # A deactivated user cannot be edited through the API: only whether they are active matters then.
        if doc.get("is_active") is False:
            return {"email": doc["email"], "is_active": False}
        return {k: v for k, v in doc.items() if k != "sso_source"}

    def payload(self, doc, resolve, stage):
        return {"email": doc["email"], "first_name": doc.get("first_name"), "last_name": doc.get("last_name"),
                "login_attributes": doc.get("login_attributes"), **({"locale": doc["locale"]} if doc.get("locale") else {})}

    def create(self, api, payload, doc, target):
        body = {k: v for k, v in payload.items() if k != "locale"}
        raw = api.post(self.endpoint, json=body)
        if doc.get("is_active") is False:
            api.delete(f"{self.endpoint}/{raw['id']}")
        return raw

    def update(self, api, target_id, payload, doc, stage, target):
        current = target.find(self.name, target_id) or {}
        wanted_active = doc.get("is_active", True)
        if wanted_active and current.get("is_active") is False:
            api.put(f"{self.endpoint}/{target_id}/reactivate")
        raw = current
        if wanted_active or current.get("is_active", True):
            raw = api.put(f"{self.endpoint}/{target_id}", json=payload)
        if not wanted_active and current.get("is_active", True):
            api.delete(f"{self.endpoint}/{target_id}")
        return raw

    def archive(self, api, target_id):
        api.delete(f"{self.endpoint}/{target_id}")  # Metabase deactivates; users are never deleted
