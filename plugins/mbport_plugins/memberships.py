"""Group memberships: one doc per group listing its members (users by email) and their manager flag."""

from __future__ import annotations

from typing import Any

from mbport.kind import ExportContext, Kind, PathHint


class Memberships(Kind):
    name = "memberships"
    endpoint = "/api/permissions/membership"
    description = "Who is in which group (one doc per group)."
    after = ("groups", "users")
    key_fields = ("group_name",)
    keep = ()
    drop = {"id": "the group's id; the doc is keyed by the group", "name": "the group's name (in the group ref)",
            "members": "rebuilt as refs to users"}

    def list(self, api, ctx: ExportContext) -> list[dict[str, Any]]:
        """One pseudo-object per exported group, with its members from the membership map."""
        by_user = api.get(self.endpoint)
        groups = {g["id"]: {"id": g["id"], "name": g["name"], "magic_group_type": g.get("magic_group_type"), "members": []}
                  for g in ctx.raw.get("groups", [])}
        for items in by_user.values():
            for m in items:
                if m["group_id"] in groups:
                    groups[m["group_id"]]["members"].append(m)
        return [groups[g] for g in sorted(groups)]

    def key_parts(self, raw_or_doc: dict[str, Any]) -> tuple[Any, ...]:
        if "group" in raw_or_doc:  # a loaded doc: the key is the group's key
            return (raw_or_doc["group"]["$ref"].split("/", 1)[1],)
        from .groups import BUILT_IN

        return (BUILT_IN.get(raw_or_doc.get("magic_group_type"), raw_or_doc["name"]),)

    def index(self, raw):
        return ()  # nothing points at a membership doc

    def normalize(self, raw, ctx: ExportContext) -> dict[str, Any]:
        users = ctx.index
        members = []
        for m in raw["members"]:
            if ("users", m["user_id"]) not in users:
                continue  # API-key users and other hidden users are not people to migrate
            members.append({"user": ctx.ref("users", m["user_id"]), "is_group_manager": bool(m.get("is_group_manager"))})
        members.sort(key=lambda m: m["user"]["$ref"])
        return {"group": ctx.ref("groups", raw["id"]), "members": members}

    def path(self, doc, folders) -> PathHint:
        return PathHint((), doc["group"]["$ref"].split("/", 1)[1])
