"""EE sandboxes (row-level security): one doc per (group, table), with the sandboxing question and user attributes."""

from __future__ import annotations

from typing import Any

from mbport.api import (NO_SCHEMA, ApiError, ExportContext, GraphRow, Match, PathHint, WriteRequest,
                        canonical_query, custom, is_ref, ref, skip, slugify)


class Sandboxes(GraphRow):
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

    name = noun = "sandboxes"
    premium_feature = "sandboxes"
    feature_hint = ("sandboxes need a Metabase Pro or Enterprise instance whose token has the sandboxes feature; "
                    "import into one, or remove the sandboxes folder from the tree")
    endpoint = "/api/mt/gtap"
    after = ("groups", "tables")  # their names make a sandbox's address
    after_listing = ("tables",)  # their names: listed, not their remappings
    on, view_data = ("table", "tables", "table_id"), "sandboxed"
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

    def object_key(self, raw):
        return raw.get("db"), raw.get("schema") or "", raw["name"]  # the tables kind's key

    def no_feature(self, exc):
        """Also the 403 older builds gave ("sandboxing is not enabled")."""
        return super().no_feature(exc) or (exc.status == 403 and "sandboxing is not enabled" in str(exc.body))

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
            raise self.feature_error(exc, req.doc) from None

    def update(self, req: WriteRequest) -> dict[str, Any]:
        # The group and the table are the sandbox's identity (PUT cannot change them); the rest is rewritten.
        body = {k: req.payload[k] for k in ("card_id", "attribute_remappings")}
        return req.api.put(f"{self.endpoint}/{req.target_id}", json=body)


def _is_field_id(value: Any) -> bool:
    """A bare field id, one of the targets Metabase's schema allows (besides field names and parameter targets)."""
    return isinstance(value, int) and not isinstance(value, bool)

