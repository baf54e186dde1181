"""EE sandboxes (row-level security): one doc per (group, table), with the sandboxing question and user attributes."""

from __future__ import annotations

import builtins
from typing import Any

from mbport.api import (
    BUILT_IN_GROUPS,
    GRAPH_ADDRESS,
    NO_SCHEMA,
    ApiError,
    DiagnoseContext,
    ExportContext,
    Kind,
    Match,
    MbportError,
    PartOf,
    PathHint,
    Phase,
    Requires,
    Unreferenced,
    VersionNotes,
    WriteRequest,
    address,
    canonical_query,
    custom,
    get_unless_missing,
    granted_view_data,
    is_ref,
    ref,
    ref_to,
    skip,
    slugify,
    split_address,
)

FEATURE_HINT = ("sandboxes need a Metabase Pro or Enterprise instance whose token has the sandboxes feature; "
                "import into one, or remove the sandboxes folder from the tree")


class Sandboxes(Requires, VersionNotes, PartOf, Unreferenced, Kind):
    """`GET /api/mt/gtap`: every sandbox (Metabase's "group table access policy") as one doc.

    A sandbox gives one group a filtered view of one table: through a question (`card`, optional) and/or user
    attributes mapped onto a field of the table or question (`["dimension", <field ref>]`) or onto a variable of
    a SQL question (`["variable", ["template-tag", <name>]]`). `list` is quietly empty on an instance without
    the feature (OSS answers 402 or 404), so such an export has no `sandboxes/` folder. The address is
    `sandboxes/<group>/<database>/<schema>/<table>`, the file `sandboxes/<group>/<database>/<schema>/<table>.json`.

    Import: matched by (group, table); created with `POST /api/mt/gtap` before the data permissions graph (see
    `import_after` of data-permissions: no moment where the group sees the whole table), then `PUT` for the
    question and the attributes. `--prune` deletes a sandbox mbport created that the tree no longer has (often gone already:
    Metabase deletes a sandbox itself when the graph no longer says `sandboxed` for its table).
    """

    name = "sandboxes"
    premium_feature = "sandboxes"
    endpoint = "/api/mt/gtap"
    after = ("groups", "tables")  # their names make a sandbox's address
    part_of = ("group",)  # deleted with the group
    fields = {
        "id": skip("instance-specific id; the key is (group, table)"),
        "group_id": ref("groups", as_="group"), "table_id": ref("tables", as_="table"),
        "card_id": ref("cards", as_="card"),
        "attribute_remappings": custom("kept with field ids walked into refs"),
        "permission_id": skip("the legacy permissions row the sandbox was tied to (instance bookkeeping)"),
        "group": skip("added by mbport from the groups listing: the group's address, for the doc's"),
        "table": skip("added by mbport from the tables listing: the table's address, for the doc's"),
    }
    match = Match("group", "table", address=True)  # sandboxes/<group>/<database>/<schema>/<table>

    # ---- export ----
    def list(self, api, ctx: ExportContext) -> list[dict[str, Any]]:
        # An OSS instance, or a token without sandboxes: there are none to export.
        rows = get_unless_missing(api, self.endpoint, missing=_no_feature, ctx=ctx, kind=self.name,
                                  why="it has no sandboxes feature ({status}); " + FEATURE_HINT)
        if rows is None:
            return []
        groups = {g["id"]: BUILT_IN_GROUPS.get(g.get("magic_group_type"), g["name"]) for g in ctx.raw.get("groups", [])}
        # The tables kind's key: (database name, schema, table name).
        tables = {t["id"]: [t.get("db"), t.get("schema") or "", t["name"]] for t in ctx.raw.get("tables", [])}
        return [{**row, "group": ref_to("groups", groups.get(row["group_id"], f"missing-id-{row['group_id']}")),
                 "table": ref_to("tables", *tables.get(row["table_id"], [f"missing-id-{row['table_id']}"]))}
                for row in sorted(rows or [], key=lambda r: r["id"])]

    def normalize_more(self, doc, raw, ctx: ExportContext) -> dict[str, Any]:
        walker = ctx.walker
        remappings = {attr: ctx.ref("fields", target) if _is_field_id(target) else walker.query(canonical_query(target))
                      for attr, target in (raw.get("attribute_remappings") or {}).items()}
        if remappings:
            doc["attribute_remappings"] = dict(sorted(remappings.items()))
        return doc

    def path(self, doc, folders) -> PathHint:
        group, *table = self.key_parts(doc)
        if len(table) != 3:  # a dangling table ref: keep the doc findable under its group
            return PathHint((slugify(group),), "-".join(table))
        db, schema, name = table
        return PathHint((slugify(group), slugify(db), slugify(schema or NO_SCHEMA)), name)

    def label(self, doc, docs=None):
        group, *table = self.key_parts(doc)
        return f"{group} on {'.'.join(p for p in table if p)}"

    def diagnose(self, doc: dict[str, Any], phase: Phase, ctx: DiagnoseContext):
        """The tree's data permissions graph must say `sandboxed` for the sandbox's group and table: otherwise every
        import creates the sandbox and the graph's write deletes it again (Metabase drops a sandbox whose table
        is given another view-data value)."""
        if phase != Phase.TREE:
            return []
        graph = ctx.docs.get(GRAPH_ADDRESS)
        if graph is None or not is_ref(doc.get("table")) or not is_ref(doc.get("group")):
            return []  # no graph in this tree (a selection): nothing to contradict
        _, (db, schema, table) = split_address(doc["table"]["$ref"])
        view = granted_view_data(graph, doc["group"], {"$ref": address("databases", db)})
        value = (view.get(schema) or {}).get(table) if isinstance(view, dict) else view
        if value == "sandboxed":
            return []
        return [f"{self.label(doc)}: the data permissions graph gives {value or 'no'} view-data there, not "
                "`sandboxed`; export again, or make the graph say `sandboxed` for this table"]

    # ---- import: matched by (group, table); POST, then PUT for the question and the attributes ----
    # Written before the data permissions graph (which waits for every sandbox): Metabase stores a sandboxed
    # table's view-data as unrestricted and derives "sandboxed" from the sandbox row, so a graph written first
    # would open the table to the whole group until its sandbox exists, and for good if the import stopped.

    def payload(self, doc, resolve, stage):
        walker = resolve.walker()
        remappings = {attr: resolve(target) if is_ref(target) else walker.query(target)
                      for attr, target in (doc.get("attribute_remappings") or {}).items()}
        return {**self.spec.payload(doc, resolve), "attribute_remappings": remappings or None}

    def create(self, req: WriteRequest) -> dict[str, Any]:
        try:
            return req.api.post(self.endpoint, json=req.payload)
        except ApiError as exc:
            if _no_feature(exc):
                raise MbportError(f"{self.address_of(req.doc)}: the target instance has no sandboxes feature "
                                  f"({exc.status})", hint=FEATURE_HINT) from None
            raise

    def update(self, req: WriteRequest) -> dict[str, Any]:
        # The group and the table are the sandbox's identity (PUT cannot change them); the rest is rewritten.
        body = {k: req.payload[k] for k in ("card_id", "attribute_remappings")}
        return req.api.put(f"{self.endpoint}/{req.target_id}", json=body)

    def archive(self, api, target_id):
        try:
            api.delete(f"{self.endpoint}/{target_id}")
        except ApiError as exc:
            if exc.status != 404:  # already gone: a graph change that ends a sandbox deletes it
                raise

    def version_notes(self, version: Any) -> builtins.list[str]:
        """Called by `mbport doctor`: an OSS build has no sandboxes to export or import."""
        if not getattr(version, "is_enterprise", True):
            return ["no sandboxes to export or import (an Enterprise feature)"]
        return []


def _no_feature(exc: ApiError) -> bool:
    """Metabase's answers when sandboxes are unavailable: 402 (no token feature), 404 (an OSS build has no
    /api/mt routes), or the 403 older builds gave ("sandboxing is not enabled")."""
    if exc.status in (402, 404):
        return True
    return exc.status == 403 and "sandboxing is not enabled" in str(exc.body)


def _is_field_id(value: Any) -> bool:
    """A bare field id, one of the targets Metabase's schema allows (besides field names and parameter targets)."""
    return isinstance(value, int) and not isinstance(value, bool)

