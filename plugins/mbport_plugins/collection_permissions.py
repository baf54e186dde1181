"""The collection permissions graphs (default and snippets namespaces) as two docs of (group, collection) grants."""

from __future__ import annotations

from typing import Any

from mbport.api import (
    ADMIN_ADDRESS,
    IMPORT_INFO,
    DescribesChanges,
    ExportContext,
    ImportsAfter,
    Kind,
    Match,
    Narrows,
    NeverPruned,
    SetLikeFields,
    Unreferenced,
    WriteRequest,
    address_kind,
    copy,
    custom,
    describe_grants,
    group_entries,
    narrow_grants,
    pending,
    put_graph,
    skip,
    target_admin_ids,
)

NAMESPACES = {"default": {}, "snippets": {"namespace": "snippets"}}
ROOT = "root"
LEVELS = ("read", "write")


class CollectionPermissions(Narrows, SetLikeFields, ImportsAfter, DescribesChanges, NeverPruned, Unreferenced,
                            Kind):
    set_like_fields = ("grants",)
    """`GET /api/collection/graph` and `?namespace=snippets` as `collection-permissions/default` and
    `collection-permissions/snippets`.

    `list` returns one raw graph per namespace, tagged with the namespace. `normalize` makes a sorted list of
    `{group, collection, access}` grants, `collection` being a collections ref or `"root"`, `access` being
    `read` or `write`, with `collection_path` beside the ref ("Company / Sales": the collection's names from the
    top, for a reader of the file or its git diff; import and diff go by the ref, and trees without it import). A (group, collection) pair that is absent means no access: Metabase stopped returning
    `none` in 0.56.13, and older servers' `none` entries are dropped so both eras give the same doc. The
    Administrators group is left out (it always has write everywhere); personal collections are never in
    the graph.

    Import: like the data graph (matched by namespace, written after every group and collection, retried on a
    409); grants the doc lacks between the tree's groups and collections are revoked with an explicit "none".
    """

    name = "collection-permissions"
    endpoint = "/api/collection/graph"
    after = ("groups", "collections")
    fields = {
        "namespace": copy(send=False),
        "groups": custom("kept as `grants` with groups and collections as refs"),
        "id": skip("mbport's id for the graph: its namespace, so import can match it"),
        "revision": skip("the server's edit counter; import PUTs with the target's current revision"),
    }
    match = Match("namespace", address=True)

    def list(self, api, ctx: ExportContext) -> list[dict[str, Any]]:
        return [{**api.get(self.endpoint, params=params), "namespace": ns, "id": ns} for ns, params in NAMESPACES.items()]

    def normalize_more(self, doc, raw, ctx: ExportContext):
        grants = []
        for group, entries in group_entries(raw, ctx):
            for cid, access in (entries or {}).items():
                if access not in LEVELS:
                    continue  # "none" (before 0.56.13) is the same as absent
                collection = ROOT if cid == ROOT else ctx.ref("collections", int(cid))
                grant = {"group": group, "collection": collection, "access": access}
                path = None if cid == ROOT else collection_paths(ctx).get(int(cid))
                if path:
                    grant["collection_path"] = path  # for readers (git diff); import reads the ref
                grants.append(grant)
        grants.sort(key=lambda g: (g["group"]["$ref"], "" if g["collection"] == ROOT else g["collection"]["$ref"]))
        doc["grants"] = grants
        imported = ctx.options.get("import")
        if imported:  # normalizing the target's graph for a plan: keep only the groups and collections of the tree
            ids, tree = imported["ids"], imported["tree"]
            doc["grants"] = [g for g in grants if g["group"]["$ref"] in ids
                             and (g["collection"] == ROOT or g["collection"]["$ref"] in ids)]
            # A group or collection still to be created: new collections copy their parent's grants, so what
            # the target will have is unknown until then.
            doc[IMPORT_INFO] = {"pending": pending(tree, ids, ("groups", "collections"))}
        return doc

    def describe_change(self, field, old, new, names):
        if field != "grants":
            return super().describe_change(field, old, new, names)
        return describe_grants(old, new, names, _cells, lambda what: "none", _where)

    # ---- import: never created, always matched; PUT what differs (explicit "none" revokes) with the revision ----
    import_after = ("groups", "collections")

    def compare(self, wanted, current, options):
        if (current.get(IMPORT_INFO) or {}).get("pending"):
            return ["grants"]
        return [] if _grant_map(wanted) == _grant_map(current) else ["grants"]

    def narrow(self, doc, current, selected, docs):
        return narrow_grants(doc, current, selected, docs)

    def payload(self, doc, resolve, stage):
        """Wanted access per (group id, "root" | collection id), and every group and collection of the tree that
        the target has (their pairs the doc leaves out are revoked)."""
        ids = dict(resolve.ids)  # a snapshot: writes running beside this one add ids meanwhile
        wanted = {}
        for grant in doc.get("grants") or []:
            cid = ROOT if grant["collection"] == ROOT else str(resolve(grant["collection"]))
            wanted[(str(resolve(grant["group"])), cid)] = grant["access"]
        return {
            "namespace": doc["namespace"], "wanted": wanted,
            "groups": {str(tid) for a, tid in ids.items() if address_kind(a) == "groups" and a != ADMIN_ADDRESS},
            "collections": {ROOT} | {str(tid) for a, tid in ids.items() if address_kind(a) == "collections"},
        }

    def create(self, req: WriteRequest) -> dict[str, Any]:
        return self.update(req.but(target_id=req.doc["namespace"]))

    def update(self, req: WriteRequest) -> dict[str, Any]:
        admins = {str(gid) for gid in target_admin_ids(req.target)}

        def changes_for(graph: dict[str, Any]) -> dict[str, dict[str, str]]:
            current = graph.get("groups") or {}
            changes: dict[str, dict[str, str]] = {}
            for (gid, cid), access in req.payload["wanted"].items():
                if gid not in admins and current.get(gid, {}).get(cid) != access:
                    changes.setdefault(gid, {})[cid] = access
            for gid, entries in current.items():
                if gid in admins or gid not in req.payload["groups"]:
                    continue
                for cid, access in entries.items():
                    # Since 0.56.13 a PUT leaves out pairs alone: revoking needs an explicit "none".
                    if access in LEVELS and cid in req.payload["collections"] and (gid, cid) not in req.payload["wanted"]:
                        changes.setdefault(gid, {})[cid] = "none"
            return changes

        put_graph(req.api, self.endpoint, changes_for, "collection permissions", NAMESPACES[req.payload["namespace"]])
        return {"id": req.target_id}


def collection_paths(ctx: ExportContext) -> dict[int, str]:
    """Collection id → its names from the top joined by " / " ("Company / Sales / EMEA Reports")."""
    rows = ctx.raw.get("collections") or []
    key = ("collection_paths", id(rows))
    if key not in ctx.memo:
        # Only well-formed rows get a path: it is a reader's aid, and a broken row must not stop the export.
        names = {r["id"]: r["name"] for r in rows if isinstance(r.get("id"), int) and isinstance(r.get("name"), str)}
        paths = {}
        for r in rows:
            location = r.get("location") or "/"
            if not isinstance(r.get("id"), int) or not isinstance(location, str):
                continue
            chain = [int(p) for p in location.strip("/").split("/") if p.isdigit()] + [r["id"]]
            if all(names.get(i) for i in chain):
                paths[r["id"]] = " / ".join(names[i] for i in chain)
        ctx.memo[key] = (rows, paths)  # the rows kept with it: their id() stays theirs
    return ctx.memo[key][1]


def _grant_map(doc: dict[str, Any]) -> dict[tuple[str, str], str]:
    return {(g["group"]["$ref"], g["collection"] if g["collection"] == ROOT else g["collection"]["$ref"]): g["access"]
            for g in doc.get("grants") or []}


def _cells(grant: dict[str, Any]) -> dict[tuple[str, str, tuple[str, ...]], Any]:
    collection = grant.get("collection")
    where = collection["$ref"] if isinstance(collection, dict) else str(collection)
    return {(grant["group"]["$ref"], "", (where,)): grant.get("access")}


def _where(key: tuple[str, str, tuple[str, ...]], names: Any) -> str:
    collection = key[2][0]
    return "'Our analytics'" if collection == ROOT else names.name({"$ref": collection})
