"""The collection permissions graphs (default and snippets namespaces) as two docs of (group, collection) grants."""

from __future__ import annotations

from typing import Any

from mbport.api import REF, ExportContext, GrantGraph, Match, SetLikeFields, copy, custom, is_ref, skip

NAMESPACES = {"default": {}, "snippets": {"namespace": "snippets"}}
ROOT = "root"
LEVELS = ("read", "write")


class CollectionPermissions(SetLikeFields, GrantGraph):
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

    set_like_fields = ("grants",)

    name = "collection-permissions"
    endpoint = "/api/collection/graph"
    after = ("groups", "collections")
    fields = {
        "namespace": copy(send=False),
        "groups": custom("kept as `grants` with groups and collections as refs", as_="grants"),
        "id": skip("mbport's id for the graph: its namespace, so import can match it"),
        "revision": skip("the server's edit counter; import PUTs with the target's current revision"),
    }
    match = Match("namespace", address=True)
    on, value, unnamed = ("collection", "collections"), "access", frozenset({ROOT})

    def list(self, api, ctx: ExportContext) -> list[dict[str, Any]]:
        return [{**api.get(self.endpoint, params=params), "namespace": ns, "id": ns} for ns, params in NAMESPACES.items()]

    def grant(self, key, value, ctx):
        if value not in LEVELS:
            return None  # "none" (before 0.56.13) is the same as absent
        path = None if key == ROOT else collection_paths(ctx).get(int(key))
        grant = {"collection": ROOT if key == ROOT else ctx.ref("collections", int(key)), "access": value}
        return {**grant, "collection_path": path} if path else grant  # for readers (git diff); import reads the ref

    def cells(self, grant):
        collection = grant.get("collection")
        where = collection["$ref"] if isinstance(collection, dict) else str(collection)
        return {(grant["group"]["$ref"], "", (where,)): grant.get("access")}

    def describe_change(self, field, old, new, names):
        """An archived collection is not in the graph (api-surface §22: no archived collections): its grants leave the
        doc with its archive and come back with its restore, which `mbport diff` says of the collection itself."""
        if field == "grants":
            hidden = {a for docs in names.doc_maps for a, d in docs.items()
                      if d.get("archived") and a.startswith("collections/")}
            old, new = ([g for g in side if not (is_ref(g.get("collection")) and g["collection"][REF] in hidden)]
                        if isinstance(side, list) else side for side in (old, new))
            if old == new:
                return []
        return super().describe_change(field, old, new, names)

    def where(self, key, names):
        return "'Our analytics'" if key[2][0] == ROOT else names.name({"$ref": key[2][0]})

    # ---- import: never created, always matched; PUT what differs (explicit "none" revokes) with the revision ----
    import_after = ("groups", "collections")

    def change(self, want, have, scope):
        # Since 0.56.13 a PUT leaves out pairs alone: revoking needs an explicit "none".
        want, have = want or "none", have if have in LEVELS else "none"
        return want if want != have else None

    def graph_params(self, doc):
        return NAMESPACES[doc["namespace"]]


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
