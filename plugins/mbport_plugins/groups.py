"""Permission groups by name; the built-in All Users and Administrators are marked by their role."""

from __future__ import annotations

from typing import Any

from mbport.api import BUILT_IN_GROUPS, Kind, WriteRequest, copy, skip


class Groups(Kind):
    name = "groups"
    endpoint = "/api/permissions/group"
    fields = {
        "id": skip("instance-specific id; the key is the name"),
        # Built-in groups by their role's usual name, so a renamed label elsewhere still matches.
        "name": copy(read=lambda raw: BUILT_IN_GROUPS.get(raw.get("magic_group_type"), raw["name"])),
        "magic_group_type": copy(send=False),  # the built-in groups' role: they are matched by it
        "entity_id": skip("groups are matched by name across instances"),
        "member_count": skip("derived from memberships"),
        "is_tenant_group": skip("EE tenants (not supported yet)"),
        "members": skip("memberships kind"),
    }
    key_fields = ("name",)

    def key_parts(self, raw_or_doc: dict[str, Any]) -> tuple[Any, ...]:
        return (BUILT_IN_GROUPS.get(raw_or_doc.get("magic_group_type"), raw_or_doc["name"]),)

    # ---- import: built-in groups by role, others by name; groups are never deleted ----
    archivable = False

    def match_key(self, doc, resolve):
        return ("role", doc["magic_group_type"]) if doc.get("magic_group_type") else ("name", doc["name"])

    def raw_match_key(self, raw):
        return ("role", raw["magic_group_type"]) if raw.get("magic_group_type") else ("name", raw["name"])

    def comparable(self, doc):
        return {"magic_group_type": doc["magic_group_type"]} if doc.get("magic_group_type") else {"name": doc["name"]}

    def update(self, req: WriteRequest) -> dict[str, Any]:
        if req.doc.get("magic_group_type"):
            return req.target.find(self.name, req.target_id) or {"id": req.target_id}  # built-in groups cannot be renamed
        return req.api.put(f"{self.endpoint}/{req.target_id}", json=req.payload)
