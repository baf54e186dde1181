"""Collections, personal collections (keyed by owner), tenants' own collections (keyed by tenant), snippet folders and
transform folders (the `snippets` and `transforms` namespaces); they give the tree its folders."""

from __future__ import annotations

from typing import Any

from mbport.api import (ARCHIVE_STAGE, ARCHIVED, PERSONAL_FOLDER, SHARED_TENANT_NAMESPACE, SNIPPETS_FOLDER,
                        TENANT_NAMESPACE, TENANT_ROOT_TYPE, TENANTS_FOLDER, TRANSFORMS_FOLDER,
                        CollectionCascade, ExportContext, Kind, MadeByMetabase, MatchesByCode, MbportError,
                        Needs, PathContext, PathHint, ProvidesFolders, StagedWrites, WriteRequest,
                        archived_with_container, common, copy, ensure_tenants_on, get_each, has_tenants, hold_back, ref,
                        skip, skips)

# The Library (Data Studio, Enterprise `library` feature, 0.59+): a root collection POST /api/ee/library makes with
# its Data and Metrics collections, and from 0.65 its Dashboards (migrations/065/20261006_library_dashboards.yaml);
# sub-collections inherit the type (collections/create.clj).
LIBRARY, LIBRARY_DASHBOARDS = "library", "library-dashboards"
LIBRARY_TYPES = ("library", "library-data", "library-metrics", LIBRARY_DASHBOARDS)
TENANT_COLLECTIONS = Needs("tenant collections", since=(0, 58), premium_feature="tenants",
                           when=lambda namespace: namespace in (SHARED_TENANT_NAMESPACE, TENANT_NAMESPACE))
IN_LIBRARY = Needs("Library collections", since=(0, 59), premium_feature="library",
                   when=lambda kind: kind in LIBRARY_TYPES)
LIBRARY_DASHBOARDS_NEEDS = Needs("Library dashboards", since=(0, 65), premium_feature="library",
                                 when=lambda kind: kind == LIBRARY_DASHBOARDS)
# Collection namespaces other than the default: their folders sit under these tree folders.
NAMESPACE_FOLDERS = {"snippets": SNIPPETS_FOLDER, "transforms": TRANSFORMS_FOLDER}
# An older release takes a `transforms` collection without complaint (collection.clj `assert-valid-namespace` only
# checks the parent's namespace) but has no transforms to put in it: a folder nothing can use, refused by name.
TRANSFORM_FOLDERS = Needs("transform folders", since=(0, 59), when=lambda namespace: namespace == "transforms")


def _parent_id(raw: dict[str, Any]) -> int | None:
    ancestors = _ancestors(raw)
    return ancestors[-1] if ancestors else None


class Collections(StagedWrites, ProvidesFolders, CollectionCascade, MatchesByCode, MadeByMetabase, Kind):
    name = "collections"
    endpoint = "/api/collection"
    after = ("tenants",)  # a tenant's own collection is known by the tenant's `tenant_collection_id`
    fields = {
        **common(*("created_at", "updated_at", "can_write", "can_delete", "can_restore", "is_remote_synced",
                   "entity_id_translated")),
        "id": skip("instance-specific id; the key is entity_id"),
        "entity_id": copy(), "name": copy(),
        **{k: copy(default=None) for k in ("description", "authority_level")},
        # snippets, transforms, tenants' collections
        "namespace": copy(default=None, needs=(TENANT_COLLECTIONS, TRANSFORM_FOLDERS)),
        "type": copy(default=None, needs=(IN_LIBRARY, LIBRARY_DASHBOARDS_NEEDS)),
        **ARCHIVED,
        "personal_owner_id": ref("users", as_="personal_owner"),
        # a tenant's own collection: the tenant it was made with (`list` reads it off the tenants' list)
        "tenant_id": ref("tenants", as_="tenant", send=False),
        "location": ref("collections", as_="parent", container=True, read=_parent_id),
        "parent_id": skip("becomes the `parent` ref"),
        "effective_location": skip("derived from location for the current user"),
        "effective_ancestors": skip("hydrated copies of the ancestors"),
        "slug": skip("derived from the name"),
        "is_personal": skip("derived from personal_owner_id"),
        "archive_operation_id": skip("server bookkeeping of how it was archived"),
        "is_sample": skip("sample content flag set by Metabase"),
        **skips("tree listing hydration", "here", "below", "children"),
        "collection_preview": skip("display preference hydration"),
    }

    def list(self, api, ctx: ExportContext) -> list[dict[str, Any]]:
        include_personal = ctx.options.get("include_personal", False)
        seen: dict[Any, dict[str, Any]] = {}
        # GET /api/collection lists one namespace at a time: the default, snippet folders, transform folders, and
        # where there can be tenants (0.58+, a token with the feature) their shared collections and each tenant's own
        # tree (collections_rest/api.clj `GET /`: `?namespace=`)
        namespaces: tuple[dict[str, str], ...] = ({}, *({"namespace": ns} for ns in NAMESPACE_FOLDERS)) + (
            ({"namespace": SHARED_TENANT_NAMESPACE}, {"namespace": TENANT_NAMESPACE}) if has_tenants(api) else ())
        queries = [p | archived for p in namespaces for archived in ({}, {"archived": "true"})]
        for rows in get_each(api, self.endpoint, queries):
            for raw in rows:
                if not isinstance(raw.get("id"), int) or raw.get("type") in ("trash", "instance-analytics"):
                    continue  # the root and Trash pseudo-collections, Metabase's own analytics
                seen.setdefault(raw["id"], raw)
        rows = list(seen.values())
        owners = {t.get("tenant_collection_id"): t["id"] for t in ctx.raw.get("tenants") or []}
        for raw in rows:
            if raw.get("type") == TENANT_ROOT_TYPE:  # the raw collection does not say whose it is
                raw["tenant_id"] = owners.get(raw["id"])
        if not include_personal:  # held back: taken along where shared content uses what they hold
            personal = {r["id"] for r in rows if r.get("personal_owner_id")}
            for raw in rows:
                if raw["id"] in personal or set(_ancestors(raw)) & personal:
                    hold_back(ctx, self.name, raw)
            rows = [r for r in rows if (self.name, r["id"]) not in ctx.held_back]
        return sorted(rows, key=lambda r: r["id"])

    def path(self, doc, folders: PathContext) -> PathHint:
        """In its parent's folder (the default); a top-level personal or namespaced one in its own folder."""
        if doc.get("personal_owner") and not doc.get("parent"):
            owner = doc["personal_owner"]["$ref"].split("/", 1)[1]
            return PathHint((PERSONAL_FOLDER,), owner)
        if doc.get("tenant") and not doc.get("parent"):
            return PathHint((TENANTS_FOLDER,), doc["tenant"]["$ref"].split("/", 1)[1])
        if doc.get("namespace") in NAMESPACE_FOLDERS and not doc.get("parent"):
            return PathHint((NAMESPACE_FOLDERS[doc["namespace"]],), doc["name"])
        return super().path(doc, folders)


    # ---- import: by entity_id, then (parent, name, namespace); personal ones by owner and tenants' own by tenant,
    # never created ----
    def match_key(self, doc, resolve):
        if doc.get("personal_owner"):
            return ("personal", resolve(doc["personal_owner"]))
        if doc.get("type") == TENANT_ROOT_TYPE:
            return ("tenant", resolve(doc.get("tenant")))
        if doc.get("type") == LIBRARY:
            return ("library",)  # one per instance, whatever the name (Metabase translates it)
        return ("collection", resolve(doc.get("parent")), doc["name"], doc.get("namespace"))

    def raw_match_key(self, raw):
        if raw.get("personal_owner_id"):
            return ("personal", raw["personal_owner_id"])
        if raw.get("type") == TENANT_ROOT_TYPE:
            return ("tenant", raw.get("tenant_id"))
        if raw.get("type") == LIBRARY:
            return ("library",)
        ancestors = _ancestors(raw)
        return ("collection", ancestors[-1] if ancestors else None, raw["name"], raw.get("namespace"))

    def made_by_metabase(self, obj, docs):
        """A personal collection (made with its user), a tenant's own (with the tenant), the Library's Data, Metrics
        and Dashboards (with the Library, which sits at the top level)."""
        if obj.get("personal_owner") or obj.get("personal_owner_id") or obj.get("type") == TENANT_ROOT_TYPE:
            return True
        if obj.get("type") not in LIBRARY_TYPES[1:]:
            return False
        parent = obj.get("parent")
        return (docs.get(parent["$ref"], {}).get("type") == LIBRARY if parent else False) if docs else \
            len(_ancestors(obj)) == 1

    def comparable(self, doc):
        if doc.get("personal_owner"):
            return {"personal_owner": doc["personal_owner"]}  # Metabase names and places them itself
        if doc.get("type") == TENANT_ROOT_TYPE:
            return {"tenant": doc.get("tenant")}  # made, named and archived with its tenant
        if doc.get("type") == LIBRARY:
            return {"type": LIBRARY}
        return super().comparable(doc)

    # ---- archived collections: created live (main), archived once their contents are written (archive) ----
    stages = ("main", ARCHIVE_STAGE)

    def write_order(self, doc, docs):
        """A sub-collection archived with (or inside) an archived one is written, and archived on its own if it is,
        before the archive of the one the cascade comes from; a live one inside it, after (api-surface §23)."""
        return [] if doc.get("personal_owner") or doc.get("type") == TENANT_ROOT_TYPE else super().write_order(doc, docs)

    def payload(self, doc, resolve, stage):
        if doc.get("personal_owner"):
            return {"_owner": ("personal", resolve(doc["personal_owner"]))}
        if doc.get("type") == TENANT_ROOT_TYPE:
            return {"_owner": ("tenant", resolve(doc.get("tenant")))}
        body = {"name": doc["name"], "description": doc.get("description"), "parent_id": resolve(doc.get("parent"))}
        if doc.get("authority_level"):
            body["authority_level"] = doc["authority_level"]
        return body

    def create(self, req: WriteRequest) -> dict[str, Any]:
        if req.doc.get("personal_owner") or req.doc.get("type") == TENANT_ROOT_TYPE:
            # Metabase makes a personal collection with its user, a tenant's own with the tenant: find it instead of
            # making one.
            owner = req.payload.get("_owner")
            for raw in req.target.refresh(self.name):
                if self.raw_match_key(raw) == owner:
                    return raw
            whose = "owner's personal" if req.doc.get("personal_owner") else "tenant's own"
            raise MbportError(f"{self.address_of(req.doc)}: the {whose} collection does not exist on the target")
        if req.doc.get("type") == LIBRARY:
            # The Library comes with its Data and Metrics collections; Metabase refuses any change to the root
            # itself (library/validation.clj `check-library-update`).
            return req.api.post("/api/ee/library")
        body = dict(req.payload)
        if req.doc.get("type") in LIBRARY_TYPES:
            # Data, Metrics (and Dashboards) came with the Library: the one of that type right under the root is this one
            rows = req.target.refresh(self.name)
            roots = {r["id"] for r in rows if r.get("type") == LIBRARY}
            for raw in rows:
                if raw.get("type") == req.doc["type"] and _parent_id(raw) in roots and body["parent_id"] in roots:
                    if all(raw.get(k) == v for k, v in body.items() if k != "parent_id"):
                        return raw  # as Metabase made it: plan's `=` promised no write
                    return req.api.put(f"{self.endpoint}/{raw['id']}", json=body)
        if req.doc.get("namespace") == SHARED_TENANT_NAMESPACE:
            ensure_tenants_on(req.api)
        if req.doc.get("namespace"):
            body["namespace"] = req.doc["namespace"]
        return req.api.post(self.endpoint, json=body)  # live: the archive stage archives it after its contents

    def update(self, req: WriteRequest) -> dict[str, Any]:
        if req.doc.get("personal_owner") or req.doc.get("type") in (LIBRARY, TENANT_ROOT_TYPE):  # Metabase's own
            return req.target.find(self.name, req.target_id) or {"id": req.target_id}
        url = f"{self.endpoint}/{req.target_id}"
        on_its_own = bool(req.doc.get("archived")) and not archived_with_container(req.doc)
        if req.stage == ARCHIVE_STAGE:
            # Archived on its own: one PUT, and Metabase archives everything in it not archived on its own.
            # Archived with its parent, or live: nothing here (the parent's archive does it).
            current = req.api.get(url) if on_its_own else {"id": req.target_id}
            return req.api.put(url, json={"archived": True}) if on_its_own and not current.get("archived") else current
        # PUT writes an omitted `archived` as false: keep the target's state, unless the tree has it live.
        archived = bool(req.doc.get("archived")) and bool(req.api.get(url).get("archived"))
        return req.api.put(url, json={**req.payload, "archived": archived})


def _ancestors(raw: dict[str, Any]) -> list[int]:
    location = raw.get("location") or "/"
    return [int(p) for p in location.strip("/").split("/") if p]
