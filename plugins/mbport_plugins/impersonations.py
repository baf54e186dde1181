"""EE connection impersonations: one doc per (group, database), naming the user attribute that holds the database role."""

from __future__ import annotations

from typing import Any

from mbport.api import (ApiError, GraphRow, ImportsAfter, Match, MbportError, PathHint, ReplacedOnUpdate,
                        WriteRequest, copy, put_graph, ref, skip, slugify)

GRAPH_ENDPOINT = "/api/permissions/graph"


class Impersonations(ReplacedOnUpdate, ImportsAfter, GraphRow):
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

    name, noun = "impersonations", "connection impersonations"
    premium_feature = "advanced_permissions"
    feature_hint = ("connection impersonation needs a Metabase Pro or Enterprise instance whose token has the "
                    "advanced_permissions feature; import into one, or remove the impersonations folder from the tree")
    endpoint = "/api/ee/advanced-permissions/impersonation"
    after = ("groups", "databases")  # their names make an impersonation's address
    on, view_data = ("database", "databases", "db_id"), "impersonated"
    fields = {
        "id": skip("instance-specific id (a new one on every write); the key is (group, database)"),
        "group_id": ref("groups", as_="group"), "db_id": ref("databases", as_="database"),
        "attribute": copy(),
        "group": skip("added by mbport from the groups listing: the group's address, for the doc's"),
        "database": skip("added by mbport from the databases listing: the database's address, for the doc's"),
    }
    match = Match("group", "database", address=True)  # impersonations/<group>/<database>

    def path(self, doc, folders) -> PathHint:
        group, database = self.key_parts(doc)
        return PathHint((slugify(group),), database)

    def label(self, doc, docs=None):
        group, database = self.key_parts(doc)
        return f"{group} on {database} as {doc.get('attribute')}"

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
            raise self.feature_error(exc, req.doc) from None
        rows = (answer or {}).get("impersonations") or []
        if not rows:
            raise MbportError(f"{self.address_of(req.doc)}: the permissions graph PUT did not answer with the impersonation")
        return rows[0]

    def update(self, req: WriteRequest) -> dict[str, Any]:
        # No update route: the graph PUT replaces the pair's row (a new id) with the tree's attribute.
        return self.create(req)
