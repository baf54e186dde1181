"""The collection permissions graphs (default and snippets namespaces) as two docs of (group, collection) grants."""

from __future__ import annotations

from typing import Any

from mbport.kind import ExportContext, Kind, PathHint

from .data_permissions import ADMIN_ADDRESS, admin_group_ids

NAMESPACES = {"default": {}, "snippets": {"namespace": "snippets"}}
ROOT = "root"
LEVELS = ("read", "write")


class CollectionPermissions(Kind):
    """`GET /api/collection/graph` and `?namespace=snippets` as `collection-permissions/default` and
    `collection-permissions/snippets`.

    `list` returns one raw graph per namespace, tagged with the namespace. `normalize` makes a sorted list of
    `{group, collection, access}` grants, `collection` being a collections ref or `"root"`, `access` being
    `read` or `write`. A (group, collection) pair that is absent means no access: Metabase stopped returning
    `none` in 0.56.13, and older servers' `none` entries are dropped so both eras give the same doc. The
    Administrators group is left out (it always has write everywhere); personal collections are never in
    the graph.
    """

    name = "collection-permissions"
    endpoint = "/api/collection/graph"
    description = "Collection permissions: which group may read or curate which collection (and snippet folder)."
    aliases = ("collection-permission",)
    after = ("groups", "collections")
    key_fields = ("namespace",)
    keep = ("namespace",)
    drop = {
        "revision": "the server's edit counter; import PUTs with the target's current revision",
        "groups": "kept as `grants` with groups and collections as refs",
    }

    def list(self, api, ctx: ExportContext) -> list[dict[str, Any]]:
        return [{**api.get(self.endpoint, params=params), "namespace": ns} for ns, params in NAMESPACES.items()]

    def index(self, raw):
        return ()  # nothing points at a graph

    def normalize_more(self, doc, raw, ctx: ExportContext):
        admins = admin_group_ids(ctx)
        grants = []
        for gid, entries in (raw.get("groups") or {}).items():
            group = ctx.ref("groups", int(gid))
            if int(gid) in admins or group["$ref"] == ADMIN_ADDRESS:
                continue
            for cid, access in (entries or {}).items():
                if access not in LEVELS:
                    continue  # "none" (before 0.56.13) is the same as absent
                collection = ROOT if cid == ROOT else ctx.ref("collections", int(cid))
                grants.append({"group": group, "collection": collection, "access": access})
        grants.sort(key=lambda g: (g["group"]["$ref"], "" if g["collection"] == ROOT else g["collection"]["$ref"]))
        doc["grants"] = grants
        return doc

    def path(self, doc, folders) -> PathHint:
        return PathHint((), doc["namespace"])
