"""Permission groups by name; the built-in All Users and Administrators are marked by their role."""

from __future__ import annotations

from typing import Any

from mbport.api import BUILT_IN_GROUPS, Kind, PathHint


class Groups(Kind):
    name = "groups"
    endpoint = "/api/permissions/group"
    description = "Permission groups (built-in ones are matched by role, never created)."
    aliases = ("group",)
    colour = "#d6d6d6"
    key_fields = ("name",)
    keep = ("name", "magic_group_type")
    drop = {
        "id": "instance-specific id; the key is the name",
        "entity_id": "groups are matched by name across instances",
        "member_count": "derived from memberships",
        "is_tenant_group": "EE tenants (not supported yet)",
        "members": "memberships kind",
    }

    def key_parts(self, raw_or_doc: dict[str, Any]) -> tuple[Any, ...]:
        # Built-in groups are keyed by their role's usual name, so a renamed label elsewhere still matches.
        return (BUILT_IN_GROUPS.get(raw_or_doc.get("magic_group_type"), raw_or_doc["name"]),)

    def normalize_more(self, doc, raw, ctx):
        if doc.get("magic_group_type") is None:
            doc.pop("magic_group_type", None)
        else:
            doc["name"] = BUILT_IN_GROUPS.get(doc["magic_group_type"], doc["name"])
        return doc

    def path(self, doc, folders) -> PathHint:
        return PathHint((), doc["name"])

    # ---- import: built-in groups by role, others by name; groups are never deleted ----
    archivable = False

    def match_key(self, doc, resolve):
        return ("role", doc["magic_group_type"]) if doc.get("magic_group_type") else ("name", doc["name"])

    def raw_match_key(self, raw):
        return ("role", raw["magic_group_type"]) if raw.get("magic_group_type") else ("name", raw["name"])

    def comparable(self, doc):
        return {"magic_group_type": doc["magic_group_type"]} if doc.get("magic_group_type") else {"name": doc["name"]}

    def payload(self, doc, resolve, stage):
        return {"name": doc["name"]}

    def update(self, api, target_id, payload, doc, stage, target):
        if doc.get("magic_group_type"):
            return target.find(self.name, target_id) or {"id": target_id}  # built-in groups cannot be renamed
        return api.put(f"{self.endpoint}/{target_id}", json=payload)
