"""What verify reads of each kind of object: the richest GET per object, the natural key that pairs it across
instances when no state does, its label, and how contextual ids (an `id` that means a card here) are named.

One class per kind; the engine (`mbport.verify.engine`) knows none of them by name. Each reads through its own
GETs and never through an exporter's plugin.
"""

from __future__ import annotations

import json
import re
from typing import Any

from ..client import ApiError
from ..crossings import NOTIFICATIONS_SINCE, notification_of_alert
from ..errors import MbportError
from ..plugin_helpers.schedules import canonical_cron

Doc = dict[str, Any]


def _paged(api, path: str, params: dict | None = None) -> list[Doc]:
    """A list endpoint's rows, whether it answers a bare array or Metabase's {data, total} envelope."""
    out = api.get(path, params=params)
    if isinstance(out, dict) and "data" in out:
        rows, total = list(out["data"]), out.get("total")
        while total is not None and len(rows) < total and out["data"]:
            out = api.get(path, params={**(params or {}), "limit": 1000, "offset": len(rows)})
            rows.extend(out.get("data") or [])
        return rows
    return list(out or [])


def _unique(rows: list[Doc]) -> list[Doc]:
    seen, out = set(), []
    for row in rows:
        if isinstance(row, dict) and row.get("id") not in seen:
            seen.add(row.get("id"))
            out.append(row)
    return out


def _version(api) -> Any:
    """The instance's version (a MetabaseVersion), None when the client cannot tell."""
    try:
        return api.version
    except (AttributeError, MbportError):
        return None


def _optional(fn):
    """A kind the instance may not have (an OSS build answers 402 to Enterprise endpoints, old versions 404). A 403
    is an error: an account that may not read something must not make verify skip it."""
    try:
        return fn()
    except ApiError as exc:
        if exc.status in (402, 404):
            return None
        raise


class Kind:
    name = ""  # plural, as in the import state's addresses ("cards/<entity_id>")
    # Kinds whose docs `fetch` reads (side.docs), or that it writes more than its own docs into the side: fetched
    # when verify reaches them; every other kind is fetched ahead, at once (mbport.verify.engine).
    needs: tuple[str, ...] = ()
    noun = ""  # what an admin calls one
    pairs_by_state = True  # the state's addresses end with this kind's entity_id

    def fetch(self, side) -> list[Doc] | None:
        """Every object, each from its richest GET; None when the instance does not have this kind."""
        raise NotImplementedError

    def key(self, doc: Doc, side) -> tuple:
        raise NotImplementedError

    def label(self, doc: Doc, side) -> str:
        return str(doc.get("name"))

    def prepare(self, doc: Doc, side) -> Doc:
        """The doc with contextual ids renamed to what they mean (an `id` that is a card's becomes `card_id`)."""
        return doc

    def depth(self, doc: Doc) -> int:
        """The generation of the object among its kind (paired in order: a key may name an earlier one)."""
        return 0

    def personal(self, doc: Doc, side) -> bool:
        """Whether the object lives in someone's personal collection (left out unless include_personal)."""
        return doc.get("collection_id") in side.personal

    def personal_name(self, doc: Doc, side, collection: Any = None) -> str:
        """What a ref to a personal object (not compared) reads on either side: its label and its owner's email."""
        owner = side.owners.get(doc.get("collection_id") if collection is None else collection)
        return f"{self.noun} '{self.label(doc, side)}'{f' of {owner}' if owner else ''} (in a personal collection, " \
               "not compared)"

    def built_in(self, doc: Doc) -> bool:
        """Whether the instance made the object itself (a built-in transform tag): not content a migration from an
        instance without this kind brings, so left out of the comparison when the other side lacks the kind."""
        return False

    def children(self, doc: Doc, side) -> dict[str, list[tuple[Any, tuple, str]]]:
        """{kind: [(id, key, label)]} of the sub-objects other objects refer to (a dashboard's tabs and dashcards)."""
        return {}

    def detail(self, side, path: str, rows: list[Doc], params: dict | None = None) -> list[Doc]:
        return [d for d in side.api.map(lambda r: _optional(lambda: side.api.get(f"{path}/{r['id']}", params=params)),
                                        rows) if d]


SAMPLE_BUNDLE_KEYS = ("engine", "timezone", "dbms_version", "features")


class Databases(Kind):
    name, noun, pairs_by_state = "databases", "database", False
    SCHEDULES = ("metadata_sync_schedule", "cache_field_values_schedule", "schedules")

    def fetch(self, side):
        return self.detail(side, "/api/database", _paged(side.api, "/api/database"))

    def key(self, doc, side):
        name = doc.get("name")
        return (side.map_database.get(name, name),)

    def prepare(self, doc, side):
        name = doc.get("name")
        if name in side.map_database or name in side.map_database.values():
            # --map-database: the target's own database stands for the source's; its connection and settings
            # are its own by design (mbport never writes a mapped database), so only the pairing is compared.
            return {"mapped": f"{side.map_database.get(name, name)}"}
        doc = dict(doc)
        doc.pop("tables", None)
        if doc.get("is_sample"):
            # The bundled sample database's driver is the bundle's: H2 before 0.63, SQLite since (sample_data/impl.clj
            # `sample-database-engine`); the same data either way.
            for key in SAMPLE_BUNDLE_KEYS:
                doc.pop(key, None)
        if not (doc.get("details") or {}).get("let-user-control-scheduling"):
            # Metabase picks random sync and scan times per instance unless the admin chose them (then the
            # details say so, and the schedules are compared).
            for key in self.SCHEDULES:
                if key in doc:
                    doc[key] = "(chosen by Metabase)"
        return doc


DATA_STUDIO_DEFAULTS = {"data_layer": "internal", "data_source": None, "data_authority": "unconfigured",
                        "owner_email": None, "owner_user_id": None, "is_published": False, "collection_id": None}


class Tables(Kind):
    name, noun, pairs_by_state = "tables", "table", False

    def fetch(self, side):
        rows = _paged(side.api, "/api/table")
        return [d for d in side.api.map(lambda r: _optional(lambda: side.api.get(
            f"/api/table/{r['id']}/query_metadata",
            params={"include_hidden_fields": "true", "include_sensitive_fields": "true"})), rows) if d]

    def key(self, doc, side):
        return (side.token("databases", doc.get("db_id")), _schema(doc, side), doc.get("name"))

    def label(self, doc, side):
        """The table's name, with its schema and database when another table has the same name."""
        same = [t for t in side.docs.get("tables", {}).values() if t.get("name") == doc.get("name")]
        if len(same) < 2:
            return str(doc.get("name"))
        db = (side.docs.get("databases", {}).get(doc.get("db_id")) or {}).get("name")
        return ".".join(str(p) for p in (db, doc.get("schema"), doc.get("name")) if p)

    def prepare(self, doc, side):
        # Data Studio's columns (0.59+) at their defaults say nothing a release without them does not say too.
        doc = {k: v for k, v in doc.items() if k not in DATA_STUDIO_DEFAULTS or DATA_STUDIO_DEFAULTS[k] != v}
        doc["schema"] = _schema(doc, side)
        # The custom order of the table's fields: field_order says whether it is custom; the order is content.
        fields = sorted(doc.get("fields") or [], key=lambda f: (f.get("position") or 0, f.get("id") or 0))
        doc["fields_order"] = [side.token("fields", f.get("id")) for f in fields]
        return doc


def _schema(table: Doc, side: Any) -> str:
    """A table's schema; none in the bundled sample database, whose schema is the bundle's (PUBLIC in the H2 one
    before 0.63, none in the SQLite one since)."""
    database = side.docs.get("databases", {}).get(table.get("db_id")) or {}
    return "" if database.get("is_sample") else table.get("schema") or ""


class Fields(Kind):
    """Fields of every table (from the table's query_metadata), and the values of remapped ones."""

    name, noun, pairs_by_state = "fields", "field", False
    needs = ("tables",)

    def fetch(self, side):
        fields = [dict(f) for t in side.docs.get("tables", {}).values() for f in t.get("fields") or []]

        def values(f: Doc) -> Doc:
            if any(d.get("type") == "internal" for d in f.get("dimensions") or [] if isinstance(d, dict)) \
                    or f.get("has_field_values") == "list" and f.get("semantic_type") in ("type/Category",):
                got = _optional(lambda: side.api.get(f"/api/field/{f['id']}/values"))
                if isinstance(got, dict):
                    f["values"] = {"values": got.get("values"), "has_more_values": got.get("has_more_values")}
            return f

        return side.api.map(values, fields)

    def _path(self, doc, side) -> list[str]:
        names, seen, node = [], set(), doc
        while node is not None and node.get("id") not in seen:
            seen.add(node.get("id"))
            names.append(str(node.get("name")))
            node = side.docs.get("fields", {}).get(node.get("parent_id")) if node.get("parent_id") else None
        return names[::-1]

    def key(self, doc, side):
        return (side.token("tables", doc.get("table_id")), *self._path(doc, side))

    def label(self, doc, side):
        table = side.docs.get("tables", {}).get(doc.get("table_id"), {})
        return f"{Tables().label(table, side)}.{'.'.join(self._path(doc, side))}"

    def prepare(self, doc, side):
        doc = dict(doc)
        doc["dimensions"] = [{k: v for k, v in d.items() if k not in ("id", "field_id", "entity_id")}
                             for d in doc.get("dimensions") or [] if isinstance(d, dict)]
        return doc


class Groups(Kind):
    name, noun, pairs_by_state = "groups", "group", False

    def fetch(self, side):
        return self.detail(side, "/api/permissions/group", side.api.get("/api/permissions/group"))

    def key(self, doc, side):
        return (doc.get("magic_group_type") or "", "" if doc.get("magic_group_type") else doc.get("name"))

    def prepare(self, doc, side):
        # A built-in group's name is Metabase's label, not content: All Users reads "All internal users" while tenants
        # are on (permissions_rest/api.clj maybe-fix-name), and nobody can rename it.
        return {k: v for k, v in doc.items() if k != "name"} if doc.get("magic_group_type") else doc


class Tenants(Kind):
    """Tenants (0.58+, Enterprise `tenants`), paired by slug."""

    name, noun, pairs_by_state = "tenants", "tenant", False

    def fetch(self, side):
        rows = _optional(lambda: side.api.get("/api/ee/tenant", params={"status": "all"}))
        return None if rows is None else rows["data"]

    def key(self, doc, side):
        return (doc.get("slug"),)

    def prepare(self, doc, side):
        return {k: v for k, v in doc.items() if k != "tenant_collection_id"}  # made with the tenant, not exported


class Users(Kind):
    name, noun, pairs_by_state = "users", "user", False

    def fetch(self, side):
        # 0.58+ lists tenant users only when asked (`tenancy`); older releases ignore the parameter
        rows = _paged(side.api, "/api/user", {"include_deactivated": "true", "tenancy": "all"})
        return self.detail(side, "/api/user", rows)

    def key(self, doc, side):
        return (str(doc.get("email") or "").lower(),)

    def label(self, doc, side):
        return str(doc.get("email"))


class Collections(Kind):
    name, noun = "collections", "collection"
    needs = ("tenants", "users")  # and it notes the personal ones (side.personal, their owners' emails: side.owners)
    TENANT_ROOT = "tenant-specific-root-collection"  # a tenant's own collection, made with it (tenants/model.clj)

    def fetch(self, side):
        rows = []
        for namespace in ({}, {"namespace": "snippets"}, {"namespace": "shared-tenant-collection"},
                          {"namespace": "tenant-specific"}, {"namespace": "transforms"}):
            for params in (namespace, {**namespace, "archived": "true"}):
                rows += [r for r in side.api.get("/api/collection", params=params) if isinstance(r.get("id"), int)]
        docs = self.detail(side, "/api/collection", _unique(rows))
        tenants = (list(side.docs["tenants"].values()) if "tenants" in side.docs  # read just before, unless --kinds
                   else (_optional(lambda: side.api.get("/api/ee/tenant", params={"status": "all"})) or {"data": []})["data"])
        owners = {t.get("tenant_collection_id"): t["id"] for t in tenants}
        by_id = {d["id"]: d for d in docs}
        for d in docs:
            if d.get("type") == self.TENANT_ROOT:  # whose it is: only the tenant's `tenant_collection_id` says
                d["tenant_id"] = owners.get(d["id"])
        for d in docs:
            root = next((p for p in str(d.get("location") or "/").split("/") if p), None)
            owner = d.get("personal_owner_id") or (root and (by_id.get(int(root)) or {}).get("personal_owner_id"))
            if owner:
                side.personal.add(d["id"])
                side.owners[d["id"]] = str((side.docs.get("users", {}).get(owner) or {}).get("email") or "")
        # Parents before children, so a child's key can name its parent.
        return sorted(docs, key=lambda d: (len([p for p in str(d.get("location") or "/").split("/") if p]), d["id"]))

    def key(self, doc, side):
        if doc.get("type") == "trash":
            return ("trash",)
        if doc.get("personal_owner_id"):
            return ("personal", side.token("users", doc["personal_owner_id"]))
        if doc.get("type") == self.TENANT_ROOT:
            return ("tenant", side.token("tenants", doc.get("tenant_id")))
        parents = [p for p in str(doc.get("location") or "/").split("/") if p]
        parent = side.token("collections", int(parents[-1])) if parents else "root"
        return (doc.get("namespace") or "", parent, doc.get("name"))

    def personal(self, doc, side):
        return doc["id"] in side.personal

    def personal_name(self, doc, side, collection=None):
        return super().personal_name(doc, side, doc["id"])

    def depth(self, doc):
        return len([p for p in str(doc.get("location") or "/").split("/") if p])

    def prepare(self, doc, side):
        doc = dict(doc)
        if doc.get("type") == self.TENANT_ROOT:
            doc.pop("name", None)  # "Tenant Collection: <the tenant's name when it was made>", by Metabase
        parents = [p for p in str(doc.get("location") or "/").split("/") if p]
        doc["location"] = [side.token("collections", int(p)) for p in parents]
        return doc


class Snippets(Kind):
    name, noun = "snippets", "snippet"

    def fetch(self, side):
        rows = [r for params in ({}, {"archived": "true"}) for r in side.api.get("/api/native-query-snippet", params=params)]
        return self.detail(side, "/api/native-query-snippet", _unique(rows))

    def key(self, doc, side):
        return (doc.get("name"),)


class Segments(Kind):
    name, noun, path = "segments", "segment", "/api/segment"

    def fetch(self, side):
        rows = _optional(lambda: side.api.get(self.path))
        return None if rows is None else self.detail(side, self.path, rows)

    def key(self, doc, side):
        return (side.token("tables", doc.get("table_id")), doc.get("name"))


def _dimensions(doc: Doc) -> Doc:
    """A measure's or metric's persisted dimensions (0.65) without what each server makes up: their ids (random
    UUIDs, which `plan` names as impossible to restore), the mappings that only pair ids with columns, groups."""
    doc = dict(doc)
    doc.pop("dimension_mappings", None)
    if isinstance(doc.get("dimensions"), list):
        doc["dimensions"] = [{k: v for k, v in d.items() if k not in ("id", "sources", "group")}
                             for d in doc["dimensions"] if isinstance(d, dict)]
    return doc


class Measures(Segments):
    name, noun, path = "measures", "measure", "/api/measure"

    def prepare(self, doc, side):
        return _dimensions(doc)


class LegacyMetrics(Segments):
    name, noun, path = "legacy-metrics", "legacy metric", "/api/legacy-metric"


def _verified(doc: Doc) -> str | None:
    """Whether the item is verified now (content verification): its newest review (`most_recent`) says so, with the
    note. The reviews themselves are each instance's history (`moderation_reviews` is not compared)."""
    latest = next((r for r in doc.get("moderation_reviews") or [] if r.get("most_recent")), None)
    if latest is None or latest.get("status") != "verified":
        return None
    return f"verified: {latest['text']}" if latest.get("text") else "verified"


class Cards(Kind):
    name, noun = "cards", "card"

    def fetch(self, side):
        rows = [r for f in ("all", "archived") for r in side.api.get("/api/card", params={"f": f})]
        docs = self.detail(side, "/api/card", _unique(rows))
        # A metric's dimensions (0.65) are made on its first read through /api/metric: read it as a user would.
        metrics = [d for d in docs if d.get("type") == "metric" and "dimensions" in d]
        for doc, metric in zip(metrics, side.api.map(
                lambda d: _optional(lambda: side.api.get(f"/api/metric/{d['id']}")), metrics), strict=True):
            if metric:
                doc["dimensions"] = metric.get("dimensions")
        return docs

    def key(self, doc, side):
        return (side.token("collections", doc.get("collection_id")), doc.get("type"), doc.get("name"))

    def prepare(self, doc, side):
        doc = {**_dimensions(doc), "verified": _verified(doc)}
        if doc.get("type") == "model":  # a model's column metadata is edited by people: content
            doc["result_metadata"] = [
                {("field_id" if k == "id" else k): v for k, v in col.items()
                 if k not in ("fingerprint", "ident", "lib/desired-column-alias", "lib/source-column-alias")}
                for col in doc.get("result_metadata") or [] if isinstance(col, dict)]
            doc["columns"] = doc.pop("result_metadata")
        return doc


class Documents(Kind):
    """Documents (0.57+), live and in the Trash, with the ids in their ProseMirror body named: card embeds and smart
    links (documents/prose_mirror.clj, SmartLinkNode.tsx)."""

    name, noun = "documents", "document"
    LINKS = {"card": "cards", "dataset": "cards", "metric": "cards", "dashboard": "dashboards",
             "collection": "collections", "table": "tables", "database": "databases", "document": "documents",
             "action": "actions", "segment": "segments", "user": "users", "transform": "transforms"}

    def fetch(self, side):
        live = _optional(lambda: side.api.get("/api/document"))
        if live is None:
            return None
        rows = list(live.get("items") or [])
        trash = _optional(lambda: side.api.get("/api/collection/trash"))
        archived = [c for c in side.api.get("/api/collection", params={"archived": "true"}) if c.get("archived")]
        for coll in ([trash] if trash else []) + archived:
            items = side.api.get(f"/api/collection/{coll['id']}/items", params={"models": "document", "archived": "true"})
            rows += [i for i in items.get("data") or [] if i.get("model") == "document"]
        return self.detail(side, "/api/document", _unique(rows))

    def key(self, doc, side):
        return (side.token("collections", doc.get("collection_id")), doc.get("name"))

    def prepare(self, doc, side):
        doc = dict(doc)
        # The body is the author's text and layout (heading levels, embed heights are numbers of the content): with
        # its ids named, it is compared as one canonical JSON text.
        doc["document"] = json.dumps(self._named(doc.get("document"), side), sort_keys=True, ensure_ascii=False)
        return doc

    def _named(self, node, side):
        if isinstance(node, list):
            return [self._named(x, side) for x in node]
        if not isinstance(node, dict):
            return node
        out = {k: self._named(v, side) if k == "content" else v for k, v in node.items()}
        attrs: dict[str, Any] = node["attrs"] if isinstance(node.get("attrs"), dict) else {}
        if node.get("type") == "cardEmbed" and isinstance(attrs.get("id"), int):
            out["attrs"] = {**attrs, "id": side.token("cards", attrs["id"])}
        elif node.get("type") == "smartLink" and attrs.get("model") in self.LINKS and isinstance(attrs.get("entityId"), int):
            out["attrs"] = {**attrs, "entityId": side.token(self.LINKS[attrs["model"]], attrs["entityId"])}
        return out


class Dashboards(Kind):
    """Dashboards with their tabs and dashcards (paired inside the dashboard: tabs by position, dashcards by tab
    and place), so a click behaviour's tab or a subscription's dashcard names the same thing on both sides."""

    name, noun = "dashboards", "dashboard"

    def fetch(self, side):
        rows = [r for f in ("all", "archived") for r in side.api.get("/api/dashboard", params={"f": f})]
        return self.detail(side, "/api/dashboard", _unique(rows))

    def key(self, doc, side):
        return (side.token("collections", doc.get("collection_id")), doc.get("name"))

    def children(self, doc, side) -> dict[str, list[tuple[Any, tuple, str]]]:
        """{kind: [(id, key, label)]} of the sub-objects other objects refer to."""
        tabs = sorted(doc.get("tabs") or [], key=lambda t: (t.get("position") or 0, t.get("id") or 0))
        out: dict[str, list] = {"tabs": [(t["id"], (i,), f"tab '{t.get('name')}'") for i, t in enumerate(tabs)]}
        tab_pos = {t["id"]: i for i, t in enumerate(tabs)}
        cards = []
        for dc in doc.get("dashcards") or []:
            card = side.token("cards", dc.get("card_id")) if dc.get("card_id") else \
                str(((dc.get("visualization_settings") or {}).get("virtual_card") or {}).get("display") or "card")
            key = (tab_pos.get(dc.get("dashboard_tab_id"), -1), dc.get("row"), dc.get("col"), card)
            cards.append((dc["id"], key, f"dashcard {card} at row {dc.get('row')}, col {dc.get('col')}"))
        out["dashcards"] = cards
        return out

    def prepare(self, doc, side):
        doc = {**doc, "verified": _verified(doc)}
        doc["tabs"] = {side.token("tabs", t.get("id")): t for t in doc.get("tabs") or []}
        doc["dashcards"] = {side.token("dashcards", dc.get("id")): {
            **{k: v for k, v in dc.items() if k not in ("card", "dashboard_id")},
            "series": [s.get("id") for s in dc.get("series") or []]} for dc in doc.get("dashcards") or []}
        return doc


class Timelines(Kind):
    name, noun = "timelines", "timeline"

    def fetch(self, side):
        rows = [r for params in ({}, {"archived": "true"}) for r in side.api.get("/api/timeline", params=params)]
        return self.detail(side, "/api/timeline", _unique(rows), params={"include": "events", "archived": "true"})

    def key(self, doc, side):
        return (side.token("collections", doc.get("collection_id")), doc.get("name"))

    def prepare(self, doc, side):
        doc = dict(doc)
        doc["events"] = {f"event '{e.get('name')}' at {e.get('timestamp')}": {k: v for k, v in e.items()
                                                                              if k != "timeline_id"}
                         for e in doc.get("events") or []}
        return doc


class Actions(Kind):
    name, noun = "actions", "action"

    def fetch(self, side):
        rows = _optional(lambda: side.api.get("/api/action"))
        return None if rows is None else self.detail(side, "/api/action", rows)

    def key(self, doc, side):
        return (side.token("cards", doc.get("model_id")), doc.get("name"))


class Channels(Kind):
    """Notification channels, deactivated ones too (`include_inactive` is read from the request body:
    channel/api/channel.clj), paired by the name they were given (deactivation renames one `DEACTIVATED_<id> …`)."""

    name, noun, pairs_by_state = "channels", "channel", False
    DEACTIVATED = re.compile(r"^DEACTIVATED_\d+ ")

    def fetch(self, side):
        rows = _optional(lambda: side.api.request("GET", "/api/channel", params={"include_inactive": "true"},
                                                  json={"include_inactive": True}))
        return None if rows is None else self.detail(side, "/api/channel", rows)

    def key(self, doc, side):
        return (self.DEACTIVATED.sub("", str(doc.get("name") or "")),)

    def label(self, doc, side):
        return self.key(doc, side)[0]

    def prepare(self, doc, side):
        return {**doc, "name": self.key(doc, side)[0]}


def _transforms(side, path: str, kind: str) -> Any:
    """The answer of a transforms route; None where the instance has none: before 0.59 or an OSS build (404), a token
    without the feature (402), or transforms not turned on in 0.64+ (`transforms-enabled`, which the session's
    properties carry: token_check.clj `query-transforms-enabled?`; the routes answer 403 then)."""
    version = _version(side.api)
    try:
        off = version is not None and version >= (0, 64) and side.api.properties.get("transforms-enabled") is False
    except Exception:  # a client that cannot tell: the route answers for itself
        off = False
    if off:
        side.unavailable[kind] = "transforms are turned off there: transforms-enabled (MB_TRANSFORMS_ENABLED=true)"
        return None
    return _optional(lambda: side.api.get(path))


class TransformTags(Kind):
    """Transform tags (0.59+), the built-in ones too, paired by name (`/api/transform-tag`)."""

    name, noun, pairs_by_state = "transform-tags", "transform tag", False

    def fetch(self, side):
        rows = _transforms(side, "/api/transform-tag", self.name)
        return None if rows is None else list(rows)

    def key(self, doc, side):
        return (doc.get("name"),)

    def built_in(self, doc):
        return doc.get("built_in_type") is not None


class TransformJobs(TransformTags):
    """Transform jobs (0.59+): schedule, tags in order, whether active (0.60+), paired by name."""

    name, noun = "transform-jobs", "transform job"

    def fetch(self, side):
        rows = _transforms(side, "/api/transform-job", self.name)
        return None if rows is None else list(rows)


class Transforms(Kind):
    """Transforms (0.59+), each from its detail GET, paired by folder and name: the source (a query walked like a
    card's, or a Python program's database and tables) and the table it writes (database, schema, name)."""

    name, noun, pairs_by_state = "transforms", "transform", False

    def fetch(self, side):
        rows = _transforms(side, "/api/transform", self.name)
        return None if rows is None else self.detail(side, "/api/transform", rows)

    def key(self, doc, side):
        return (side.token("collections", doc.get("collection_id")), doc.get("name"))

    def prepare(self, doc, side):
        doc = {k: v for k, v in doc.items() if k != "owner"}  # a hydrated copy of owner_user_id / owner_email
        source = dict(doc.get("source") or {})
        if "query" in source:
            source["dataset_query"] = source.pop("query")  # walked (ids named) like a card's query
        if source.get("source-database") is not None:
            source["source-database"] = side.token("databases", source["source-database"])
        if isinstance(source.get("source-tables"), dict):
            source["source-tables"] = {alias: side.token("tables", t) for alias, t in source["source-tables"].items()}
        doc["source"] = source
        # The table it writes: not a parameter target (which `target` means elsewhere), so under its own name.
        writes = dict(doc.pop("target", None) or {})
        if writes.get("database") is not None:
            writes["database"] = side.token("databases", writes["database"])
        doc["writes"] = writes
        for key in ("source_database_id", "target_db_id"):
            if doc.get(key) is not None:
                doc[key] = side.token("databases", doc[key])
        return doc


class PythonLibraries(Kind):
    """The transforms' shared Python library (0.59+, Enterprise `transforms-python`): `common.py`, the one path Metabase
    allows, read by path (nothing lists it): `GET /api/ee/transforms-python/library/common` answers its source and path
    (transforms_python/api.clj `get-library-by-path`: select-keys source, path, created_at, updated_at)."""

    name, noun, pairs_by_state = "python-libraries", "Python library", False
    PATHS = ("common",)  # models/python_library.clj: "Only 'common' is currently supported."

    def fetch(self, side):
        rows = [_transforms(side, f"/api/ee/transforms-python/library/{path}", self.name) for path in self.PATHS]
        return None if None in rows else [{**r, "id": r["path"]} for r in rows]

    def key(self, doc, side):
        return (doc.get("path"),)

    def label(self, doc, side):
        return str(doc.get("path"))

    def built_in(self, doc):
        return not doc.get("source")  # the empty one a migration gives every instance (as the export leaves it out)


class Glossary(Kind):
    """Glossary entries (0.61+), paired by term; the definition is compared as the entry's description (a
    `definition` key means an MBQL fragment to verify)."""

    name, noun, pairs_by_state = "glossary", "glossary term", False

    def fetch(self, side):
        rows = _optional(lambda: side.api.get("/api/glossary"))
        return None if rows is None else list(rows.get("data") or [])

    def key(self, doc, side):
        return (doc.get("term"),)

    def label(self, doc, side):
        return str(doc.get("term"))

    def prepare(self, doc, side):
        return {"name": doc.get("term"), "description": doc.get("definition")}


def _recipients(recipients: list, side) -> list:
    """Recipients as emails or users' identities (a user recipient carries the user's `id`)."""
    out = []
    for r in recipients or []:
        if isinstance(r, dict) and r.get("id") is not None:
            out.append(side.token("users", r["id"]))
        elif isinstance(r, dict):
            out.append(r.get("email"))
        else:
            out.append(r)
    return out


class Pulses(Kind):
    """Dashboard subscriptions."""

    name, noun = "pulses", "subscription"

    def fetch(self, side):
        rows = [r for params in ({}, {"archived": "true"}) for r in side.api.get("/api/pulse", params=params)]
        return self.detail(side, "/api/pulse", [r for r in _unique(rows) if r.get("dashboard_id")])

    def key(self, doc, side):
        return (side.token("dashboards", doc.get("dashboard_id")), doc.get("name"))

    def personal(self, doc, side):
        return (side.docs.get("dashboards", {}).get(doc.get("dashboard_id")) or {}).get("collection_id") in side.personal

    def prepare(self, doc, side):
        doc = dict(doc)
        hydrated = ("name", "description", "display", "collection_id", "download_perms")  # fields.VOLATILE_IN
        doc["cards"] = [{("card_id" if k == "id" else k): v for k, v in c.items() if k not in hydrated}
                        for c in doc.get("cards") or []]
        doc["channels"] = [{**{k: v for k, v in ch.items() if k != "recipients"},
                            "recipients": _recipients(ch.get("recipients"), side)} for ch in doc.get("channels") or []]
        return doc


class Alerts(Kind):
    """Alerts: notifications on a card (0.54+), else the older /api/alert."""

    name, noun, pairs_by_state = "alerts", "alert", False

    def fetch(self, side):
        version = _version(side.api)
        # A release that tells it has no notifications (< 0.54) is not asked for them; one that cannot tell (a
        # test double) is asked, and a 404 says the same.
        if version is None or version >= NOTIFICATIONS_SINCE:
            rows = _optional(lambda: side.api.get("/api/notification", params={"include_inactive": "true"}))
            if rows is not None:
                # Card alerts only: Metabase's own system notifications (user invited ...) are not content.
                return self.detail(side, "/api/notification",
                                   [r for r in rows if r.get("payload_type") == "notification/card"])
        rows = _optional(lambda: side.api.get("/api/alert", params={"archived": "true"})) or []
        rows += _optional(lambda: side.api.get("/api/alert")) or []
        # Before 0.54: the pulse-shaped alert as the notification 0.54's migration makes of it, so that both
        # eras compare (what the older shape cannot say is left out of the other side's form too: `_common`).
        return [notification_of_alert(a) for a in self.detail(side, "/api/alert", _unique(rows))]

    def key(self, doc, side):
        payload = doc.get("payload") or {}
        card = payload.get("card_id") or (doc.get("card") or {}).get("id")
        subs = sorted(str(s.get("event_name") or canonical_cron(s.get("cron_schedule"))) for s in doc.get("subscriptions") or [])
        return (doc.get("payload_type") or "alert", side.token("cards", card) if card else "", *subs)

    def label(self, doc, side):
        payload = doc.get("payload") or {}
        card = payload.get("card_id") or (doc.get("card") or {}).get("id")
        if card:
            return f"on {side.token('cards', card)}"
        events = ", ".join(str(s.get("event_name")) for s in doc.get("subscriptions") or [])
        return f"system: {events}"

    def prepare(self, doc, side):
        doc = _common(doc) if doc.get("payload_type") == "notification/card" else dict(doc)
        if isinstance(doc.get("payload"), dict):
            doc["payload"] = {k: v for k, v in doc["payload"].items()
                              if k not in ("id", "created_at", "updated_at", "card")}
        if isinstance(doc.get("card"), dict):
            doc["card"] = side.token("cards", doc["card"].get("id"))
        handlers = []
        for h in doc.get("handlers") or []:
            h = dict(h)
            h["recipients"] = [{k: v for k, v in r.items() if k not in ("id", "notification_handler_id",
                                                                       "created_at", "updated_at")}
                               for r in h.get("recipients") or []]
            handlers.append(h)
        if handlers:
            doc["handlers"] = handlers
        if doc.get("channels"):
            doc["channels"] = [{**ch, "recipients": _recipients(ch.get("recipients"), side)}
                               for ch in doc.get("channels") or []]
        return doc


def _common(doc: Doc) -> Doc:
    """A card notification reduced to what both alert eras hold (the rest is server bookkeeping or 0.54+ only:
    a template, the subscription's UI form, the creator, who is whoever ran the import)."""
    keep = {"payload_type", "active", "payload", "subscriptions", "handlers"}
    handler_keys = {"channel_type", "channel_id", "active", "recipients"}
    recipient_keys = {"type", "user_id", "permissions_group_id", "details"}
    return {**{k: v for k, v in doc.items() if k in keep},
            "subscriptions": [{k: canonical_cron(s[k]) if k == "cron_schedule" else s[k]
                               for k in ("type", "cron_schedule", "event_name") if s.get(k) is not None}
                              for s in doc.get("subscriptions") or []],
            "handlers": [{**{k: v for k, v in h.items() if k in handler_keys},
                          "recipients": [{k: v for k, v in r.items() if k in recipient_keys and v is not None}
                                         for r in h.get("recipients") or []]}
                         for h in doc.get("handlers") or []]}


class ApiKeys(Kind):
    name, noun, pairs_by_state = "api-keys", "API key", False

    def fetch(self, side):
        return _optional(lambda: side.api.get("/api/api-key"))

    def key(self, doc, side):
        return (doc.get("name"),)

    def prepare(self, doc, side):
        return {**doc, "group": side.token("groups", (doc.get("group") or {}).get("id"))}


class Settings(Kind):
    name, noun, pairs_by_state = "settings", "setting", False
    IDS = {"custom-homepage-dashboard": "dashboards"}  # settings whose value is an object's id

    def fetch(self, side):
        return [{**s, "id": s.get("key")} for s in side.api.get("/api/setting")]

    def key(self, doc, side):
        return (doc.get("key"),)

    def label(self, doc, side):
        return str(doc.get("key"))

    def prepare(self, doc, side):
        from .fields import INSTANCE_SETTINGS

        reason = INSTANCE_SETTINGS.get(str(doc.get("key")))
        if reason:
            return {**doc, "value": f"(not compared: {reason})"}
        if doc.get("key") in self.IDS and doc.get("value") is not None:  # an id of this instance: what it names
            return {**doc, "value": side.token(self.IDS[doc["key"]], doc["value"])}
        return doc


UNPAIRED = (" (only on source)", " (only on target)")


def plain(label: str) -> str:
    """A label without the marks of the unpaired objects it names: the object it labels is said to be unpaired once."""
    for mark in UNPAIRED:
        label = label.replace(mark, "")
    return label


def group_label(side, group_id: Any) -> str:
    """The group's name, the label of the docs about one group (its members, its permissions)."""
    return plain(side.token("groups", group_id)).removeprefix("group ").strip("'")


class Memberships(Kind):
    """Who is in each group (and who manages it): one object per group."""

    name, noun, pairs_by_state = "memberships", "group", False
    needs = ("users",)  # and it names the users no listing showed (side.tokens)

    def fetch(self, side):
        by_user = side.api.get("/api/permissions/membership")
        listed = side.docs.get("users", {})
        unlisted = sorted({int(u) for u in by_user if int(u) not in listed})
        # An API key's own user is not in /api/user: it is named by its key (Metabase names it after the key).
        key_users = set()
        for user in side.api.map(lambda u: _optional(lambda: side.api.get(f"/api/user/{u}")), unlisted):
            if user:
                email = str(user.get("email") or "")
                if email.endswith("@api-key.invalid"):
                    key_users.add(user["id"])
                side.tokens.names[("users", user["id"])] = (
                    f"API key '{user.get('first_name')}'" if user["id"] in key_users else f"user '{email}'")
        # The API keys an import left out are not compared, nor their places in groups.
        skip = key_users if "api-keys" in side.left_out else set()
        groups: dict[int, Doc] = {}
        for rows in by_user.values():
            for m in (m for m in rows if m["user_id"] not in skip):
                g = groups.setdefault(m["group_id"], {"id": m["group_id"], "members": [], "managers": []})
                g["members"].append(m["user_id"])
                if m.get("is_group_manager"):
                    g["managers"].append(m["user_id"])
        return list(groups.values())

    def key(self, doc, side):
        return (side.token("groups", doc["id"]),)

    def label(self, doc, side):
        return group_label(side, doc["id"])

    def prepare(self, doc, side):
        return {"members": [side.token("users", u) for u in doc["members"]],
                "managers": [side.token("users", u) for u in doc["managers"]]}


class DataPermissions(Kind):
    """The data permissions graph, one object per group: database → permission → (schema → table →) value."""

    name, noun, pairs_by_state = "data-permissions", "data permissions of group", False

    def fetch(self, side):
        graph = side.api.get("/api/permissions/graph")
        return [{"id": int(g), "graph": dbs} for g, dbs in (graph.get("groups") or {}).items()]

    def key(self, doc, side):
        return (side.token("groups", doc["id"]),)

    def label(self, doc, side):
        return group_label(side, doc["id"])

    def prepare(self, doc, side):
        def tables(node: Any, depth: int) -> Any:
            # value → {schema: value | {table id: value}}: numeric keys two levels down are table ids
            if isinstance(node, dict):
                return {(side.token("tables", int(k)) if depth == 1 and str(k).isdigit() else k): tables(v, depth + 1)
                        for k, v in node.items()}
            return node

        return {"graph": {side.token("databases", int(db)): {p: tables(v, 0) for p, v in perms.items()}
                                if isinstance(perms, dict) else perms
                                for db, perms in (doc.get("graph") or {}).items()}}


class CollectionPermissions(Kind):
    """The collection permissions graphs (collections and snippet folders), one object per group."""

    name, noun, pairs_by_state = "collection-permissions", "collection permissions of group", False

    def fetch(self, side):
        out: dict[int, Doc] = {}
        for params in ({}, {"namespace": "snippets"}):
            graph = side.api.get("/api/collection/graph", params=params)
            for g, perms in (graph.get("groups") or {}).items():
                granted = {c: v for c, v in perms.items() if v != "none"}  # before 0.56.13: "none" = absent
                if granted:
                    out.setdefault(int(g), {"id": int(g), "permissions": {}})["permissions"].update(granted)
        return list(out.values())

    def key(self, doc, side):
        return (side.token("groups", doc["id"]),)

    def label(self, doc, side):
        return group_label(side, doc["id"])

    def prepare(self, doc, side):
        return {"permissions": {("root" if c == "root" else side.token("collections", int(c))): v
                                for c, v in doc["permissions"].items()}}


class Sandboxes(Kind):
    name, noun, pairs_by_state = "sandboxes", "sandbox", False

    def fetch(self, side):
        return _optional(lambda: side.api.get("/api/mt/gtap"))

    def key(self, doc, side):
        return (side.token("groups", doc.get("group_id")), side.token("tables", doc.get("table_id")))

    def label(self, doc, side):
        table = Tables().label(side.docs.get("tables", {}).get(doc.get("table_id")) or {}, side)
        return f"{table} for {(side.docs.get('groups', {}).get(doc.get('group_id')) or {}).get('name')}"


class Impersonations(Kind):
    name, noun, pairs_by_state = "impersonations", "impersonation", False

    def fetch(self, side):
        return _optional(lambda: side.api.get("/api/ee/advanced-permissions/impersonation"))

    def key(self, doc, side):
        return (side.token("groups", doc.get("group_id")), side.token("databases", doc.get("db_id")))

    def label(self, doc, side):
        db = (side.docs.get("databases", {}).get(doc.get("db_id")) or {}).get("name")
        return f"{db} for {(side.docs.get('groups', {}).get(doc.get('group_id')) or {}).get('name')}"


class CachePolicies(Kind):
    """The default cache policy and those of single databases, dashboards and questions (`/api/cache`)."""

    name, noun, pairs_by_state = "cache-policies", "cache policy", False
    ITEMS = {"database": "databases", "dashboard": "dashboards", "question": "cards"}

    def fetch(self, side):
        rows = _optional(lambda: side.api.get("/api/cache", params={"model": "root"})["data"])
        if rows is None:
            return None
        granular = _optional(lambda: side.api.get("/api/cache", params={"model": list(self.ITEMS)})["data"]) or []
        return [{**r, "id": f"{r['model']}:{r['model_id']}"} for r in [*rows, *granular]]

    def key(self, doc, side):
        kind = self.ITEMS.get(doc["model"])
        return (doc["model"], side.token(kind, doc["model_id"]) if kind else doc["model_id"])

    def label(self, doc, side):
        kind = self.ITEMS.get(doc["model"])
        return f"of {side.token(kind, doc['model_id'])}" if kind else "default"

    def personal(self, doc, side):
        return ((doc.get("collection") or {}).get("id")) in side.personal

    def prepare(self, doc, side):
        # the item's name and collection are joined in from the item, which is compared on its own
        return {"strategy": doc.get("strategy")}


class Metabots(Kind):
    """The built-in Metabot instances (`/api/metabot/metabot`): their collection and verified-content switch."""

    name, noun, pairs_by_state = "metabots", "Metabot", False

    def fetch(self, side):
        found = _optional(lambda: side.api.get("/api/metabot/metabot"))
        # Every 0.61+ instance has the built-in ones: only those an admin changed are content (as in the export).
        return None if found is None else [m for m in found.get("items") or []
                                           if m.get("collection_id") is not None or m.get("use_verified_content")]

    def key(self, doc, side):
        return (doc.get("entity_id"),)  # fixed on every instance (metabot/settings.clj)


# In the order they are paired: a kind's key may name objects of the kinds before it.
KINDS: list[Kind] = [
    Databases(), Tables(), Fields(), Groups(), Tenants(), Users(), Collections(), Snippets(), Segments(), Measures(), LegacyMetrics(),
    Cards(), Documents(), Dashboards(), Timelines(), Actions(), Channels(), Glossary(), Pulses(), Alerts(), ApiKeys(),
    Settings(), Memberships(), DataPermissions(), CollectionPermissions(), Sandboxes(), Impersonations(),
    CachePolicies(), Metabots(), TransformTags(), TransformJobs(), Transforms(), PythonLibraries(),
]
