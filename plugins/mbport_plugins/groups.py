"""Permission groups by name; the built-in (magic) groups, All Users, Administrators and All tenant users, are marked by
their role and matched by it, never created."""

from __future__ import annotations

from typing import Any

from mbport.api import (BUILT_IN_GROUPS, FALSY, TENANTS, Kind, MadeByMetabase, MatchesByCode, MbportError,
                        NeverPruned, WriteRequest, copy, ensure_tenants_on, skip)


class Groups(MatchesByCode, NeverPruned, MadeByMetabase, Kind):
    name = "groups"
    endpoint = "/api/permissions/group"
    fields = {
        "id": skip("instance-specific id; the key is the name"),
        # Built-in groups by their role's usual name, so a renamed label elsewhere still matches.
        "name": copy(read=lambda raw: BUILT_IN_GROUPS.get(raw.get("magic_group_type"), raw["name"])),
        "magic_group_type": copy(send=False),  # the built-in groups' role: they are matched by it
        "entity_id": skip("groups are matched by name across instances"),
        "member_count": skip("derived from memberships"),
        # A tenant group (its members are tenant users); POST takes it, PUT only renames. Needs tenants on the target.
        "is_tenant_group": copy(default=FALSY, needs=TENANTS),
        "members": skip("memberships kind"),
    }

    def key_parts(self, raw_or_doc: dict[str, Any]) -> tuple[Any, ...]:
        return (BUILT_IN_GROUPS.get(raw_or_doc.get("magic_group_type"), raw_or_doc["name"]),)

    # ---- import: built-in groups by role, others by name; groups are never deleted ----

    def match_key(self, doc, resolve):
        return ("role", doc["magic_group_type"]) if doc.get("magic_group_type") else ("name", doc["name"])

    def raw_match_key(self, raw):
        return ("role", raw["magic_group_type"]) if raw.get("magic_group_type") else ("name", raw["name"])

    def made_by_metabase(self, obj, docs):
        return bool(obj.get("magic_group_type"))

    def comparable(self, doc):
        return {"magic_group_type": doc["magic_group_type"]} if doc.get("magic_group_type") else {"name": doc["name"]}

    def create(self, req: WriteRequest) -> dict[str, Any]:
        """An ordinary group is POSTed; a magic group is Metabase's own: found on the target by its role (All tenant
        users exists once tenants are on, and is hidden while they are off), never made as an ordinary group."""
        role = req.doc.get("magic_group_type")
        if req.doc.get("is_tenant_group"):
            ensure_tenants_on(req.api)
        if not role:
            return req.api.post(self.endpoint, json=req.payload)
        found = next((g for g in req.api.get(self.endpoint) if g.get("magic_group_type") == role), None)
        if found is None:
            raise MbportError(f"groups/{req.doc['name']}: the target has no built-in group of role {role!r}")
        return found

    def update(self, req: WriteRequest) -> dict[str, Any]:
        if req.doc.get("magic_group_type"):
            return req.target.find(self.name, req.target_id) or {"id": req.target_id}  # built-in groups cannot be renamed
        return req.api.put(f"{self.endpoint}/{req.target_id}", json={"name": req.payload["name"]})
