"""EE connection impersonations: one doc per (group, database), naming the user attribute that holds the database role."""

from __future__ import annotations

import builtins
from typing import Any

from mbport.api import (
    BUILT_IN_GROUPS,
    GRAPH_ADDRESS,
    ApiError,
    DiagnoseContext,
    ExportContext,
    ImportsAfter,
    Kind,
    Match,
    MbportError,
    PartOf,
    PathHint,
    Phase,
    ReplacedOnUpdate,
    Requires,
    Unreferenced,
    VersionNotes,
    WriteRequest,
    copy,
    get_unless_missing,
    granted_view_data,
    is_ref,
    put_graph,
    ref,
    ref_to,
    skip,
    slugify,
)

GRAPH_ENDPOINT = "/api/permissions/graph"
FEATURE_HINT = ("connection impersonation needs a Metabase Pro or Enterprise instance whose token has the "
                "advanced_permissions feature; import into one, or remove the impersonations folder from the tree")


class Impersonations(ReplacedOnUpdate, Requires, VersionNotes, ImportsAfter, PartOf, Unreferenced, Kind):
    """`GET /api/ee/advanced-permissions/impersonation`: every connection impersonation as one doc.

    An impersonation makes a group's queries on one database run as the database role named by a user attribute
    (`attribute`); the data permissions graph shows it as `view-data: impersonated` for that (group, database).
    `list` is quietly empty on an instance without the feature (402, or 404 on an OSS build), so such an export has
    no `impersonations/` folder. The address is `impersonations/<group>/<database>`, the file
    `impersonations/<group>/<database>.json`.

    Import: matched by (group, database); Metabase has no create or update route, so both are a permissions graph
    PUT carrying the item in `impersonations` and `view-data: impersonated` for the pair (each such write replaces
    the pair's row, which gets a new id). `--prune` deletes an impersonation mbport created that the tree no
    longer has (often gone already: Metabase deletes it itself when the graph gives the pair another view-data).
    """

    name = "impersonations"
    premium_feature = "advanced_permissions"
    endpoint = "/api/ee/advanced-permissions/impersonation"
    after = ("groups", "databases")  # their names make an impersonation's address
    part_of = ("group",)  # deleted with the group
    fields = {
        "id": skip("instance-specific id (a new one on every write); the key is (group, database)"),
        "group_id": ref("groups", as_="group"), "db_id": ref("databases", as_="database"),
        "attribute": copy(),
        "group": skip("added by mbport from the groups listing: the group's address, for the doc's"),
        "database": skip("added by mbport from the databases listing: the database's address, for the doc's"),
    }
    match = Match("group", "database", address=True)  # impersonations/<group>/<database>

    # ---- export ----
    def list(self, api, ctx: ExportContext) -> list[dict[str, Any]]:
        # 402/404: a token without advanced_permissions, or an OSS build: none to export
        rows = get_unless_missing(api, self.endpoint, missing=(402, 404), ctx=ctx, kind=self.name,
                                  why="it has no advanced_permissions feature ({status}); " + FEATURE_HINT)
        if rows is None:
            return []
        groups = {g["id"]: BUILT_IN_GROUPS.get(g.get("magic_group_type"), g["name"]) for g in ctx.raw.get("groups", [])}
        dbs = {d["id"]: d["name"] for d in ctx.raw.get("databases", [])}
        return [{**row, "group": ref_to("groups", groups.get(row["group_id"], f"missing-id-{row['group_id']}")),
                 "database": ref_to("databases", dbs.get(row["db_id"], f"missing-id-{row['db_id']}"))}
                for row in sorted(rows or [], key=lambda r: r["id"])]

    def path(self, doc, folders) -> PathHint:
        group, database = self.key_parts(doc)
        return PathHint((slugify(group),), database)

    def label(self, doc, docs=None):
        group, database = self.key_parts(doc)
        return f"{group} on {database} as {doc.get('attribute')}"

    def diagnose(self, doc: dict[str, Any], phase: Phase, ctx: DiagnoseContext):
        """The tree's data permissions graph must say `impersonated` for the pair: otherwise every import writes
        the impersonation and the graph's write deletes it again (Metabase drops an impersonation whose database
        is given another view-data value)."""
        if phase != Phase.TREE:
            return []
        graph = ctx.docs.get(GRAPH_ADDRESS)
        if graph is None or not is_ref(doc.get("database")) or not is_ref(doc.get("group")):
            return []  # no graph in this tree (a selection): nothing to contradict
        view = granted_view_data(graph, doc["group"], doc["database"])
        if view == "impersonated":
            return []
        shown = "per-table" if isinstance(view, dict) else (view or "no")
        return [f"{self.label(doc)}: the data permissions graph gives {shown} view-data there, not `impersonated`; "
                "export again, or make the graph say `impersonated` for this database"]

    # ---- import: matched by (group, database); written through the permissions graph ----
    # Written before the data permissions graph (which waits for every impersonation), and in one PUT with
    # `view-data: impersonated` for the pair: Metabase stores an impersonated database's view-data as unrestricted
    # and derives "impersonated" from the impersonation row, so a graph written without the row (first, or alone
    # after an import that stopped) would let the group query the whole database with the connection's own role.
    # In one PUT the value and the row are one transaction; Metabase applies the graph first (keeping a row whose
    # pair it sets to impersonated), then inserts the row.
    # After sandboxes too, so that every graph write of an import comes after the sandbox rows exist (see sandboxes.py).
    import_after = ("sandboxes",)

    def create(self, req: WriteRequest) -> dict[str, Any]:
        def changes_for(graph: dict[str, Any]) -> dict[str, Any]:
            return {str(req.payload["group_id"]): {str(req.payload["db_id"]): {"view-data": "impersonated"}}}

        try:
            answer = put_graph(req.api, GRAPH_ENDPOINT, changes_for, "data permissions", extra={"impersonations": [req.payload]})
        except ApiError as exc:
            if exc.status == 402:
                raise MbportError(f"{self.address_of(req.doc)}: the target instance has no advanced_permissions feature "
                                  f"({exc.status})", hint=FEATURE_HINT) from None
            raise
        rows = (answer or {}).get("impersonations") or []
        if not rows:
            raise MbportError(f"{self.address_of(req.doc)}: the permissions graph PUT did not answer with the impersonation")
        return rows[0]

    def update(self, req: WriteRequest) -> dict[str, Any]:
        # No update route: the graph PUT replaces the pair's row (a new id) with the tree's attribute.
        return self.create(req)

    def archive(self, api, target_id):
        try:
            api.delete(f"{self.endpoint}/{target_id}")
        except ApiError as exc:
            if exc.status != 404:  # already gone: a graph change away from impersonated deletes it
                raise

    def version_notes(self, version: Any) -> builtins.list[str]:
        """Called by `mbport doctor`: an OSS build has no connection impersonations to export or import."""
        if not getattr(version, "is_enterprise", True):
            return ["no connection impersonations to export or import (an Enterprise feature)"]
        return []
