"""Group memberships: one doc per group listing its members (users by email) and their manager flag."""

from __future__ import annotations

from typing import Any

from mbport.api import (
    BUILT_IN_GROUPS,
    ExportContext,
    Kind,
    Match,
    NeverPruned,
    PartOf,
    WriteRequest,
    custom,
    ref,
    skip,
)

# Every user is in one of these by tenancy, and only Metabase adds or removes them (400 for anyone else).
MANAGED = frozenset(f"groups/{BUILT_IN_GROUPS[role]}" for role in ("all-internal-users", "all-external-users"))


class Memberships(PartOf, NeverPruned, Kind):
    name = "memberships"
    endpoint = "/api/permissions/membership"
    after = ("groups", "users")
    key_fields = ("group_name",)
    part_of = ("group",)
    fields = {
        "id": ref("groups", as_="group"),  # the doc is keyed by the group
        "name": skip("the group's name (in the group ref)"),
        "members": custom("rebuilt as refs to users"),
        "magic_group_type": skip("the group's role (in the group ref)"),
    }
    match = Match("group")

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
        return (BUILT_IN_GROUPS.get(raw_or_doc.get("magic_group_type"), raw_or_doc["name"]),)

    def index(self, raw):
        return ()  # nothing points at a membership doc

    def normalize_more(self, doc, raw, ctx: ExportContext) -> dict[str, Any]:
        users = ctx.index
        members = []
        for m in raw["members"]:
            if ("users", m["user_id"]) not in users:
                continue  # API-key users and other hidden users are not people to migrate
            members.append({"user": ctx.ref("users", m["user_id"]), "is_group_manager": bool(m.get("is_group_manager"))})
        members.sort(key=lambda m: m["user"]["$ref"])
        return {**doc, "members": members}

    # ---- import: add the members the tree lists; remove others only with --prune ----

    def compare(self, wanted, current, options):
        if wanted["group"]["$ref"] in MANAGED:
            return []  # everyone is a member of All Users or All tenant users; Metabase manages them
        want = {m["user"]["$ref"]: m for m in wanted["members"]}
        have = {m["user"]["$ref"]: m for m in current["members"]}
        missing = any(have.get(user) != m for user, m in want.items())
        extra = options.prune and set(have) - set(want)
        return ["members"] if missing or extra else []

    def payload(self, doc, resolve, stage):
        return {"group_id": resolve(doc["group"]),
                "members": [{"user_id": resolve(m["user"]), "is_group_manager": m["is_group_manager"]} for m in doc["members"]]}

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
