"""Group memberships: one doc per group listing its members (users by email) and their manager flag."""

from __future__ import annotations

from typing import Any

from mbport.api import (BUILT_IN_GROUPS, ExportContext, Kind, MadeByMetabase, Match, NeverPruned, PartOf,
                        Unreferenced, WriteRequest, copy, each, ref, ref_to, skip)

# Every user is in one of these by tenancy, and only Metabase adds or removes them (400 for anyone else).
MANAGED = frozenset(f"groups/{BUILT_IN_GROUPS[role]}" for role in ("all-internal-users", "all-external-users"))
MEMBER = {
    "user_id": ref("users", as_="user"), "is_group_manager": copy(read=lambda m: bool(m.get("is_group_manager"))),
    "membership_id": skip("instance-specific id"), "group_id": skip("the doc's group"),
}


class Memberships(PartOf, NeverPruned, Unreferenced, MadeByMetabase, Kind):
    name = "memberships"
    endpoint = "/api/permissions/membership"
    after = ("groups", "users")
    part_of = ("group",)
    fields = {
        "id": ref("groups", as_="group", send_as="group_id"),  # the doc is keyed by the group
        "group": skip("added by mbport: the group's address, for the doc's"),
        "members": each(MEMBER, sort=lambda m: m["user"]["$ref"]),
    }
    match = Match("group", address=True)  # memberships/<group>

    def list(self, api, ctx: ExportContext) -> list[dict[str, Any]]:
        """One pseudo-object per exported group, with its members from the membership map: the users the users kind
        lists (API-key users and other hidden users are not people to migrate)."""
        by_user = api.get(self.endpoint)
        people = {u["id"] for u in ctx.raw.get("users") or []}
        groups = {g["id"]: {"id": g["id"], "members": [],
                            "group": ref_to("groups", BUILT_IN_GROUPS.get(g.get("magic_group_type"), g["name"]))}
                  for g in ctx.raw.get("groups", [])}
        for items in by_user.values():
            for m in items:
                if m["group_id"] in groups and m["user_id"] in people:
                    groups[m["group_id"]]["members"].append(m)
        return [groups[g] for g in sorted(groups)]

    # ---- import: add the members the tree lists; remove others only with --prune ----

    def made_by_metabase(self, obj, docs):
        # Metabase adds every user to one of the managed groups by tenancy; a group it makes has no members yet, so a
        # doc listing none is there as soon as its group is (nothing to write)
        return obj["group"]["$ref"] in MANAGED or (bool(docs) and not obj.get("members"))

    def compare(self, wanted, current, options):
        if wanted["group"]["$ref"] in MANAGED:
            return []  # everyone is a member of All Users or All tenant users; Metabase manages them
        want = {m["user"]["$ref"]: m for m in wanted["members"]}
        have = {m["user"]["$ref"]: m for m in current["members"]}
        missing = any(have.get(user) != m for user, m in want.items())
        extra = options.prune and set(have) - set(want)
        return ["members"] if missing or extra else []

    def create(self, req: WriteRequest) -> dict[str, Any]:
        return self._sync(req.api, req.payload, req.doc, req.target, current=[])

    def update(self, req: WriteRequest) -> dict[str, Any]:
        current = (req.target.find(self.name, req.target_id) or {}).get("members", [])
        return self._sync(req.api, req.payload, req.doc, req.target, current)

    def _sync(self, api, payload, doc, target, current):
        group_id = payload["group_id"]
        if doc["group"]["$ref"] in MANAGED:
            return {"id": group_id}
        have = {m["user_id"]: m for m in current}
        want = {m["user_id"] for m in payload["members"]}
        for m in payload["members"]:
            existing = have.get(m["user_id"])
            if existing is None:
                body = {"group_id": group_id, "user_id": m["user_id"]}
                if m["is_group_manager"]:
                    body["is_group_manager"] = True
                api.post(self.endpoint, json=body)
            elif bool(existing.get("is_group_manager")) != m["is_group_manager"]:
                api.put(f"{self.endpoint}/{existing['membership_id']}", json={"is_group_manager": m["is_group_manager"]})
        if target.options.prune:
            me = api.get("/api/user/current").get("id")
            for user_id, m in have.items():
                if user_id not in want and user_id != me:
                    api.delete(f"{self.endpoint}/{m['membership_id']}")
        return {"id": group_id}
