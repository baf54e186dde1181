"""Tables and their fields, by name: the metadata admins edit (names, descriptions, types, visibility, FKs, remaps).

Tables and fields are never created on import: they come from the warehouse sync and are matched by
(database, schema, name) and (table, field name path).
"""

from __future__ import annotations

from typing import Any

from mbport.api import (NO_SCHEMA, OMIT, DeferredRefs, ExportContext, FetchesDetail, Kind, LabelContext, Locates,
                        Match, MatchedOnly, Needs, NeverPruned, PathHint, Shape, SubObjects, WriteRequest, collect_refs,
                        copy, custom, each, present, ref, ref_to, skip, skips, slugify, split_address)

TABLE_FIELDS = ("name", "schema", "display_name", "description", "visibility_type", "entity_type", "field_order",
                "caveats", "points_of_interest", "show_in_getting_started")
# Data Studio (Metabase 0.59+): who owns a table and how it is classified (PUT /api/table/:id writes them; OSS).
# `data_layer` mirrors `visibility_type` (hidden ↔ hidden, else internal) except for `final`, the one value it adds:
# only that is kept (warehouse_schema/models/table.clj `sync-visibility-fields`).
# An older target holds the table without them (--skip-unsupported writes the rest: its cards stay on it).
STUDIO = Needs("Data Studio table settings (owners, layers, sources)", since=(0, 59), droppable=True)
# Publishing a table into a Library Data collection (Enterprise `library` feature, 0.59+).
PUBLISHED = Needs("published tables (the Library)", since=(0, 59), premium_feature="library", droppable=True)
STUDIO_FIELDS = ("data_source", "owner_email")
FIELD_FIELDS = ("name", "display_name", "description", "semantic_type", "visibility_type", "has_field_values",
                "coercion_strategy", "settings", "json_unfolding", "base_type", "caveats", "points_of_interest")
# The labels of an internal remapping (the field's FieldValues `human_readable_values`), as value → label pairs,
# added to the raw field by `Tables.fetch` (Metabase keeps them apart from the field and its dimension).
REMAPPED_VALUES = "remapped_values"
PATH = "_name_path"  # a field's names from its top-level parent down, added to each raw field on export
# A field doc: its admin-edited metadata (sent back by the PUT but for name, base_type, json_unfolding: sync's), where
# it sits (`parent`, `position`), its FK target and its remapping (`_remapping`); the rest is sync's or statistics.
FIELD = {
    **{k: copy(send=k not in ("name", "base_type", "json_unfolding")) for k in FIELD_FIELDS},
    # Metabase 0.66 rejects nulls for these; in a tree, absent means "as synced" anyway.
    **{k: copy(send=present) for k in ("display_name", "visibility_type", "has_field_values")},
    PATH: copy(as_="parent", read=lambda f: f[PATH][:-1] or None, send=False),
    "position": copy(read=lambda f: f.get("position", 0), send=False),
    # null clears the FK; a target field not matched yet is left out (the second pass sets it)
    "fk_target_field_id": ref("fields", as_="fk_target", late=True,
                              send=lambda target_id, f: OMIT if target_id is None and f.get("fk_target") else target_id),
    "dimensions": custom("the first one becomes `remapping` (type, name, display field)"),
    REMAPPED_VALUES: custom("an internal remapping's labels: the remapping's `values`"),
    "active": skip("only active fields are exported"),
    **{k: skip("instance-specific id") for k in ("id", "table_id", "parent_id")},
    **{k: skip("server timestamp") for k in ("created_at", "updated_at", "last_analyzed")},
    **{k: skip("what the warehouse reports (sync)") for k in (
        "database_type", "database_position", "database_is_auto_increment", "database_required",
        "database_is_nullable", "database_is_pk", "database_indexed", "database_default", "database_is_generated",
        "database_partitioned", "effective_type", "nfc_path", "custom_position", "preview_display")},
    **{k: skip("sync's statistics") for k in ("fingerprint", "fingerprint_version")},
    "target": skip("hydrated FK target field"),
}


def _fields_with_paths(raw: dict[str, Any]) -> list[dict[str, Any]]:
    names = {f["id"]: f for f in raw.get("fields", [])}
    return [{**f, PATH: _name_path(f, names)} for f in raw.get("fields", [])]


def _remapping(field: dict[str, Any], raw: dict[str, Any], ctx: ExportContext) -> dict[str, Any] | None:
    """An inactive field is left out; the first dimension becomes the field's `remapping`."""
    if raw.get("active") is False:
        return None
    dim = (raw.get("dimensions") or [None])[0]
    if dim:
        remap = {"type": dim.get("type"), "name": dim.get("name")}
        if dim.get("human_readable_field_id"):
            remap["human_readable_field"] = ctx.ref("fields", dim["human_readable_field_id"])
        if dim.get("type") == "internal" and raw.get(REMAPPED_VALUES):
            remap["values"] = raw[REMAPPED_VALUES]
        field["remapping"] = remap
    return field


class Tables(SubObjects, DeferredRefs, LabelContext, MatchedOnly, NeverPruned, Locates, FetchesDetail, Kind):
    name = "tables"
    endpoint = "/api/database/{id}/metadata"
    writes = ("PUT /api/table/{id}",)  # never created: matched, then updated
    after = ("databases",)
    sub_kinds = {"fields": 3}
    fields = {
        **{k: copy() for k in TABLE_FIELDS},
        "schema": copy(read=lambda raw: raw.get("schema") or ""),
        "db_id": ref("databases", as_="database"),
        "fields": each(FIELD, read=_fields_with_paths, more=_remapping, extras={"remapping": dict},
                       sort=lambda f: (f["position"], f.get("parent", []), f["name"]), writes=("PUT /api/field/{id}",)),
        "id": skip("instance-specific id; the key is (database, schema, name)"),
        "db": skip("the database's name, added by mbport (the listing's hydration)"),
        "database": skip("added by mbport: the database's address, for the table's"),
        "active": skip("only active tables are exported"),
        **skips("server timestamp", "created_at", "updated_at", "archived_at", "deactivated_at"),
        "initial_sync_status": skip("sync progress"),
        "estimated_row_count": skip("warehouse statistics"),
        "view_count": skip("usage statistics"),
        "is_upload": skip("set by the CSV upload feature"),
        **skips("reported by the driver", "is_writable", "database_require_filter"),
        "data_authority": copy(default="unconfigured", needs=STUDIO),
        "metrics": skip("legacy hydration"),
        "segments": skip("segments kind"),
        "entity_id": skip("tables are matched by name"),
        "is_published": skip("read with collection_id: `published_in`"),
        "published_as_model": skip("EE data studio: derived from publishing"),
        "data_layer": copy(read=lambda raw: "final" if raw.get("data_layer") == "final" else None, needs=STUDIO),
        "data_source": copy(needs=STUDIO),
        "owner_email": copy(needs=STUDIO),
        "owner_user_id": ref("users", as_="owner", needs=STUDIO),
        "collection_id": ref("collections", as_="published_in", needs=PUBLISHED,
                             read=lambda raw: raw.get("collection_id") if raw.get("is_published") else None),
        "dimension_options": skip("UI hydration"),
        **skips("derived from the fields", "pk_field", "fks"),
    }
    # tables/<database>/<schema>/<name>
    match = Match("schema", "name", within="database", fold={"schema": lambda schema: schema or ""}, address=True)

    def list(self, api, ctx: ExportContext) -> list[dict[str, Any]]:
        """The tables of every database's metadata; their remappings are the details `fetch` reads (so the kinds
        that need only the tables' ids and names start once the databases' metadata is read)."""
        databases = ctx.raw.get("databases", [])

        def metadata(db):
            meta = api.get(f"/api/database/{db['id']}/metadata", params={"include_hidden": "true", "remove_inactive": "true"})
            return [{**t, "db": db["name"], "database": ref_to("databases", db["name"])}
                    for t in meta.get("tables", []) if t.get("active", True)]

        return [t for tables in api.map(metadata, databases) for t in tables]

    def needs_fetch(self, summary: dict[str, Any]) -> bool:
        return any(_may_be_remapped(f) for f in summary.get("fields", []))

    def fetch(self, api, summary: dict[str, Any]) -> dict[str, Any]:
        """The listed table with each field's remapping (`dimensions`, and for internal ones the labelled values).

        `GET /api/database/:id/metadata` never hydrates `dimensions` (warehouses_rest/api.clj `db-metadata`:
        `[:tables [:fields :has_field_values [:target :has_field_values]] :segments :metrics]`); only
        `GET /api/table/:id/query_metadata` (warehouse_schema/table.clj `fetch-query-metadata*`) and the field
        GET/PUT do. So: one query_metadata per table with a field that may be remapped (`needs_fetch`; the batch
        form, `batch-fetch-query-metadatas*`, leaves hidden fields out and is not in every version), and one
        `GET /api/field/:id/values` per internal remapping (its labels live in FieldValues). None of these is
        cached between exports (no `fetch_key`): adding a remapping changes no timestamp the listing shows.
        """
        meta = api.get(f"/api/table/{summary['id']}/query_metadata", params=QUERY_METADATA, shape=DIMENSIONS)
        dims = {f["id"]: f.get("dimensions") or [] for f in meta.get("fields", [])}
        fields = [{**f, "dimensions": dims.get(f["id"], [])} for f in summary.get("fields", [])]
        internal = [f for f in fields if any(d.get("type") == "internal" for d in f["dimensions"])]

        def labels(field):
            pairs = api.get(f"/api/field/{field['id']}/values").get("values") or []
            return [list(p) for p in pairs if len(p) > 1]

        for field, pairs in zip(internal, api.map(labels, internal), strict=True):
            field[REMAPPED_VALUES] = pairs
        return {**summary, "fields": fields}

    def sub_items(self, obj, raw):
        """Its fields, by their names from the top-level parent down."""
        fields = obj.get("fields", [])
        by_id = {f["id"]: f for f in fields} if raw else {}
        return [("fields", f, _name_path(f, by_id) if raw else (*f.get("parent", []), f["name"])) for f in fields]

    def label_context(self, doc):
        """`orders` is in many databases (and schemas): say which."""
        db, schema, _name = self.key_parts(doc)
        return f"{db}.{schema}" if schema else db

    def path(self, doc, folders) -> PathHint:
        db = split_address(doc["database"]["$ref"])[1][0]
        return PathHint((slugify(db), slugify(doc["schema"] or NO_SCHEMA)), doc["name"])

    # ---- import: matched by (database, schema, name); only admin-edited metadata is written ----

    def deferred_refs(self, doc):
        # FK targets (declared late) and remapping fields point across tables, often both ways: set in a second pass.
        return super().deferred_refs(doc) | {r for f in doc.get("fields", []) for r in collect_refs(f.get("remapping"))}

    def locate(self, target, doc, resolve, claimed):
        """By (database, schema, name); in the bundled sample database by name alone: its schema is the bundle's
        (H2 and PUBLIC before 0.63, SQLite and none since: sample_data/impl.clj `sample-database-engine`), so the
        same table has another schema on either side of 0.63."""
        found = super().locate(target, doc, resolve, claimed)
        if found is not None:
            return found
        db = target.find("databases", resolve.optional(doc.get("database")))
        if not (db and db.get("is_sample")):
            return None
        return next((raw["id"] for raw in target.raw(self.name) if raw.get("db_id") == db["id"]
                     and raw.get("name") == doc.get("name") and raw["id"] not in claimed), None)

    def comparable(self, doc):
        """Without `schema`: part of the key a table is matched by, never written (the sample database's differs by
        release, see `locate`)."""
        fields = [{k: v for k, v in f.items() if k != "base_type"} for f in doc.get("fields", [])]
        return {**{k: v for k, v in doc.items() if k not in ("fields", "schema")}, "fields": fields}

    def compare(self, wanted, current, options):
        """Like any kind's, but a field difference names the field and what differs in it ("field quantity:
        remapping"), not only "fields": a table holds dozens of fields."""
        differ = super().compare(wanted, current, options)
        if "fields" not in differ:
            return differ
        def by_path(doc):
            return {(*f.get("parent", []), f["name"]): f for f in self.comparable(doc).get("fields", [])}
        old, new = by_path(current), by_path(wanted)
        detail = []
        for path in sorted(set(old) | set(new)):
            a, b = old.get(path), new.get(path)
            if a == b:
                continue
            name = ".".join(path)
            if a is None or b is None:
                detail.append(f"field {name}: {'not on the target' if a is None else 'not in the tree'}")
            else:
                keys = sorted(k for k in set(a) | set(b) if a.get(k) != b.get(k))
                detail.append(f"field {name}: {', '.join(keys)}")
        return [k for k in differ if k != "fields"] + (detail or ["fields"])

    def payload(self, doc, resolve, stage):
        """The table's own fields, and per field its editable metadata with FK/remap targets resolved if known."""
        fields = []
        for field in doc.get("fields", []):
            body = self.spec.nested("fields").payload(field, resolve)
            remap = field.get("remapping")
            values = None
            if remap:
                values = remap.get("values")
                remap = {"name": remap["name"], "type": remap["type"],
                         **({"human_readable_field_id": resolve.optional(remap["human_readable_field"])}
                            if remap.get("human_readable_field") else {})}
            fields.append({"path": (*field.get("parent", []), field["name"]), "body": body, "remapping": remap,
                           "values": values})
        table = {k: doc.get(k) for k in TABLE_FIELDS if k not in ("name", "schema")}
        studio = {k: doc.get(k) for k in STUDIO_FIELDS} | {"owner_user_id": resolve(doc.get("owner"))}
        if doc.get("data_authority"):  # never sent back to unconfigured: Metabase refuses that (400)
            studio["data_authority"] = doc["data_authority"]
        return {"table": {k: v for k, v in table.items() if v is not None or k == "description"}, "fields": fields,
                "studio": studio, "data_layer": doc.get("data_layer"),
                "published_in": resolve(doc.get("published_in"))}

    def update(self, req: WriteRequest) -> dict[str, Any]:
        current = req.target.find(self.name, req.target_id) or {}
        table_body = {k: v for k, v in req.payload["table"].items() if current.get(k) != v}
        if "data_layer" in current:  # Data Studio (0.59+): owners, sources and layers, published or not
            table_body |= {k: v for k, v in req.payload["studio"].items() if current.get(k) != v}
        if table_body:
            current = {**current, **req.api.put(f"/api/table/{req.target_id}", json=table_body)}
        _write_studio(req, current)
        by_id = {f["id"]: f for f in current.get("fields", [])}
        by_path = {tuple(_name_path(f, by_id)): f for f in current.get("fields", [])}
        for field in req.payload["fields"]:
            raw = by_path.get(tuple(field["path"]))
            if raw is None:
                continue  # a column this warehouse lacks; plan reports the difference
            changed = {k: v for k, v in field["body"].items() if raw.get(k) != v}
            dims = raw.get("dimensions") or []
            if changed:
                # The PUT answers the field with its dimensions: Metabase may just have dropped an internal one
                # (`clear-dimension-on-type-change!` runs on every PUT of a field that is not an integer category).
                dims = req.api.put(f"/api/field/{raw['id']}", json=changed).get("dimensions") or []
            _write_remapping(req.api, raw, field["remapping"], field["values"], dims[0] if dims else None)
        return req.api.get(f"/api/table/{req.target_id}/query_metadata", params={"include_hidden_fields": "true", "include_sensitive_fields": "true"})


def _write_studio(req: WriteRequest, current: dict[str, Any]) -> None:
    """The table's data layer (its own PUT: Metabase refuses a PUT that changes both it and visibility_type) and
    whether it is published in a Library Data collection (data_studio/api/table.clj `publish-tables`, which
    publishes the tables it displays through remappings too, `unpublish-tables` those that display it)."""
    if "data_layer" not in current:
        return  # a release before Data Studio: plan refused any doc that needs it
    layer = req.payload["data_layer"] or ("hidden" if current.get("data_layer") == "hidden" else "internal")
    if current.get("data_layer") != layer and (layer == "final" or current.get("data_layer") == "final"):
        req.api.put(f"/api/table/{req.target_id}", json={"data_layer": layer})
    target = req.payload["published_in"]
    if target is not None and (not current.get("is_published") or current.get("collection_id") != target):
        req.api.post("/api/ee/data-studio/table/publish-tables", json={"table_ids": [req.target_id],
                                                                      "collection_id": target})
    elif target is None and current.get("is_published"):
        req.api.post("/api/ee/data-studio/table/unpublish-tables", json={"table_ids": [req.target_id]})


QUERY_METADATA = {"include_hidden_fields": "true", "include_sensitive_fields": "true"}
# What export reads of a query_metadata answer: its fields' ids and remappings (a twentieth of its bytes).
DIMENSIONS = Shape(["fields"], lists={"fields": Shape(["id", "dimensions"], only=True)}, only=True)
INTEGER_TYPES = ("type/Integer", "type/BigInteger")


def _may_be_remapped(field: dict[str, Any]) -> bool:
    """Whether a field can hold a remapping that does anything, from what database metadata shows of it.

    An external remapping displays a field of the table an FK points at: Metabase deletes it when the FK goes
    (warehouse_schema_rest/api/field.clj `clear-dimension-on-fk-change!`), so only FK fields hold one. An
    internal one displays the labels of the field's FieldValues, which only list fields have
    (`field-should-have-field-values?`, checked by `POST /api/field/:id/values`), and Metabase keeps it only on
    integer fields (`internal-remapping-allowed?`; the data model page offers custom mapping for numbers only).
    """
    if field.get("fk_target_field_id") or str(field.get("semantic_type") or "").startswith("type/FK"):
        return True
    return field.get("has_field_values") == "list" and field.get("base_type") in INTEGER_TYPES


def _write_remapping(api, raw: dict[str, Any], remap: dict[str, Any] | None, values: list | None,
                     have: dict[str, Any] | None) -> None:
    """Make the field's remapping the tree's: set or replace the dimension, write an internal one's labels
    (`POST /api/field/:id/values`, after the dimension, as the data model page does), or remove it."""
    if remap is None:
        if have:
            api.delete(f"/api/field/{raw['id']}/dimension")
        return
    if remap.get("human_readable_field_id", 0) is None:
        return  # its display field is not matched yet: the second pass writes it
    if not have or any(have.get(k) != v for k, v in remap.items()):
        api.post(f"/api/field/{raw['id']}/dimension", json=remap)
    if values is not None and values != raw.get(REMAPPED_VALUES):
        api.post(f"/api/field/{raw['id']}/values", json={"values": values})


def _name_path(field: dict[str, Any], by_id: dict[int, dict[str, Any]]) -> list[str]:
    """A nested (JSON-unfolded) field's names from the top-level parent down."""
    path = [field["name"]]
    seen = {field["id"]}
    parent = field.get("parent_id")
    while parent and parent in by_id and parent not in seen:
        seen.add(parent)
        path.insert(0, by_id[parent]["name"])
        parent = by_id[parent].get("parent_id")
    return path
