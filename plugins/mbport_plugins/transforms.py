"""Transforms (Metabase >= 0.59): query and Python programs that write a table, their tags, the jobs that run them on
a schedule, and the Python library they import. Metabase's `transforms_rest/api/*.clj` and
`transforms_python/api.clj` are the API; from 0.64 a self-hosted instance refuses transforms until an admin turns
them on (`transforms-enabled`), which import finds at plan time."""

from __future__ import annotations

import builtins
from typing import Any

from mbport.api import (FORESEEN, TRANSFORMS_FOLDER, ApiError, DeletedOnPrune, DescribesChanges, ExportContext, Kind,
                        Match, Needs, NeverPruned, Requires, VersionNotes, WriteRequest, canonical_query, common, copy,
                        custom, describe_query, is_ref, query_for_target, ref, skip, token_lacks)

SINCE = (0, 59)  # /api/transform, /api/transform-tag, /api/transform-job ("not available before v59")
# Before that, Enterprise builds from 0.57 (migration v57.2025-08-22T00:00:00 "Create transform table") kept transforms
# under /api/ee/transform, behind the transforms feature (api_routes/routes.clj; transforms/api.clj `get-transforms`).
EE_PREVIEW_SINCE = (0, 57)
ENABLED_SETTING_SINCE = (0, 64)
JOB_ACTIVE_SINCE = (0, 60)
# A Python program needs an Enterprise token with transforms-python (plan names it; --skip-unsupported leaves it out).
PYTHON = Needs("Python transforms", premium_feature="transforms-python",
               when=lambda source: isinstance(source, dict) and source.get("type") == "python")
DISABLED = ("transforms are turned off on it (its `transforms-enabled` setting is false): start it with "
            "MB_TRANSFORMS_ENABLED=true or turn transforms on in Data Studio, then import again")


def _disabled(api: Any) -> bool:
    """A 0.64+ instance whose admin has not turned transforms on (token_check.clj `query-transforms-enabled?`):
    the setting is in the signed-in session's properties."""
    try:
        return api.version >= ENABLED_SETTING_SINCE and api.properties.get("transforms-enabled") is False
    except (AttributeError, TypeError):  # a client that cannot tell (a test double): the listing answers for itself
        return False


def _listing(kind: Kind, api: Any, ctx: ExportContext, path: str) -> Any:
    """GET `path`, or None when the instance has no room for the kind: transforms turned off (0.64+) or a token
    without the feature (402), noted in ctx.unavailable; a release before transforms or an OSS build for an EE route
    (404), which the kind's `since` / `premium_feature` name at plan time."""
    if _disabled(api):
        ctx.unavailable[kind.name] = DISABLED
        return None
    feature = getattr(kind, "premium_feature", None)
    if feature and token_lacks(api, feature):  # api_routes/routes.clj: "/transforms-python" :transforms-python
        ctx.unavailable[kind.name] = f"its token has no {feature} feature ({FORESEEN})"
        return None
    try:
        return api.get(path)
    except ApiError as exc:
        if exc.status == 402:
            feature = getattr(kind, "premium_feature", None) or "transforms"
            ctx.unavailable[kind.name] = f"its token has no {feature} feature ({exc.status})"
            return None
        if exc.status == 404:  # a release before transforms, an EE route on an OSS build: Requires says which
            return None
        raise


def _ee_preview_warning(api: Any, ctx: ExportContext) -> None:
    """An Enterprise 0.57 or 0.58 instance with transforms under /api/ee/transform: mbport reads them from 0.59's
    /api/transform only, so it says they are left out instead of leaving them out silently."""
    try:
        version = api.version
        if not (version.is_enterprise and EE_PREVIEW_SINCE <= version < SINCE):
            return
        found = api.get("/api/ee/transform")
    except AttributeError:  # a client that cannot tell (a test double)
        return
    except ApiError as exc:
        if exc.status in (402, 403, 404):  # no such route, or no transforms feature: nothing left out
            return
        ctx.warnings.append(f"transforms: could not tell whether this Enterprise release keeps transforms under "
                            f"/api/ee/transform ({exc.status}); if it does, they are not exported")
        return
    if isinstance(found, builtins.list) and found:
        ctx.warnings.append(f"transforms: this Enterprise release keeps {len(found)} transform(s) under "
                            "/api/ee/transform, before their 0.59 API; they are not exported (upgrade it to 0.59 or "
                            "later to export them)")


def _untouched_default(raw: dict[str, Any]) -> bool:
    """A default tag or job as Metabase made it (its first edit clears `built_in_type`): every instance from 0.59 on
    has it, so a tree holds it only where something refers to it."""
    return raw.get("built_in_type") is not None


def _describe_tags(old: Any, new: Any, names: Any) -> list[str]:
    """`mbport diff`: tags added and removed, by name ("tags: +finance, -daily")."""
    before, after = [names.name(t) for t in old or [] if t], [names.name(t) for t in new or [] if t]
    changes = [f"+{t}" for t in after if t not in before] + [f"-{t}" for t in before if t not in after]
    return [f"tags: {', '.join(changes)}" if changes else "tags reordered"]


class TransformTags(Requires, DeletedOnPrune, Kind):
    """Tags group transforms for jobs. Names are unique instance-wide (400 otherwise), so they are the address; the
    default ones (hourly, daily, weekly, monthly) exist on every instance: the tree holds one only when a transform
    or job uses it or it was edited, and import adopts it by name. No archive: a prune DELETEs it, which takes the tag
    off every transform and job (transform_tag.clj)."""

    name = "transform-tags"
    since = SINCE
    endpoint = "/api/transform-tag"
    fields = {
        **common("created_at", "updated_at"),
        "id": skip("instance-specific id; the key is the name"),
        "entity_id": skip("random per instance; tags are matched by their unique name"),
        "name": copy(),
        "built_in_type": skip("set by Metabase's migration on its default tags, cleared by their first edit"),
        "can_run": skip("the reading user's permission"),
    }
    match = Match("name", address=True)
    after = ("transforms", "transform-jobs")  # which default tags they use

    def list(self, api, ctx: ExportContext) -> list[dict[str, Any]]:
        rows = _listing(self, api, ctx, self.endpoint)
        used = {t for kind in self.after for raw in ctx.raw.get(kind, []) for t in raw.get("tag_ids") or []}
        keep = [r for r in rows or [] if ctx.options.get("target") or not _untouched_default(r) or r["id"] in used]
        return sorted(keep, key=lambda r: r["id"])


class TransformJobs(Requires, DescribesChanges, DeletedOnPrune, Kind):
    """Jobs run the transforms carrying any of their tags on a Quartz cron schedule. The default jobs (fixed
    entity_ids on every instance) are left out until someone edits one; others are matched by name."""

    name = "transform-jobs"
    since = SINCE
    endpoint = "/api/transform-job"
    fields = {
        **common("created_at", "updated_at"),
        "id": skip("instance-specific id; the key is entity_id"),
        "entity_id": copy(), "name": copy(), "description": copy(default=None), "schedule": copy(),
        "ui_display_type": copy(default="cron/raw"),
        "tag_ids": ref("transform-tags", many=True),  # in the job's order
        "built_in_type": skip("set by Metabase's migration on its default jobs, cleared by their first edit"),
        # Disabled jobs do not run on schedule (0.60+: migrations/060/20260504_transform_job_active.yaml); POST makes
        # every job active, PUT {"active": false} disables one (Data Studio's Disable)
        "active": copy(default=True, post=False, needs=Needs("disabled transform jobs", since=JOB_ACTIVE_SINCE,
                                                 when=lambda active: active is False)),
        "last_run": skip("run history of this instance"),
        "next_run": skip("when the scheduler fires next, on this instance"),
    }
    match = Match("name")

    def list(self, api, ctx: ExportContext) -> list[dict[str, Any]]:
        rows = _listing(self, api, ctx, self.endpoint)
        keep = [r for r in rows or [] if ctx.options.get("target") or not _untouched_default(r)]
        return sorted(keep, key=lambda r: r["id"])

    def describe_change(self, field: str, old: Any, new: Any, names: Any) -> builtins.list[str] | None:
        return _describe_tags(old, new, names) if field == "tag_ids" else super().describe_change(field, old, new, names)


class Transforms(Requires, VersionNotes, DescribesChanges, DeletedOnPrune, Kind):
    """A transform: its source (an MBQL or native query, or a Python program reading tables) and the table it
    writes (database, schema, name), in its transform folder (a collection of the `transforms` namespace). No
    archive: a prune DELETEs the definition (its output table stays in the warehouse)."""

    name = "transforms"
    since = SINCE
    endpoint = "/api/transform"
    fields = {
        **common("created_at", "updated_at", "creator_id", "creator", "dependency_analysis_version"),
        "id": skip("instance-specific id; the key is entity_id"),
        "entity_id": copy(), "name": copy(), "description": copy(default=None),
        "source": custom("the query walked into refs (MBQL, or native with its card and snippet tags); a Python "
                         "program's database and source tables as refs", needs=PYTHON),
        "target": custom("the table it writes: the database as a ref, schema and table name as they are"),
        "run_trigger": copy(default="none"),
        # a transform folder: a collection under `@transforms`, which the transforms tree leaves out of the doc's path
        "collection_id": ref("collections", as_="collection", under=TRANSFORMS_FOLDER),
        "owner_user_id": ref("users", as_="owner"),
        "owner_email": copy(default=None),
        "owner": skip("hydrated copy of owner_user_id / owner_email"),
        "tag_ids": ref("transform-tags", many=True),  # in order
        "source_type": skip("derived from the source (native, mbql or python)"),
        "source_database_id": skip("derived from the source"),
        "target_db_id": skip("derived from the target or the source"),
        "source_readable": skip("the reading user's permission on the source tables"),
        "last_run": skip("run history of this instance"),
        "table": skip("the table a run wrote, as synced: the warehouse's, not the definition"),
    }
    match = Match("name", within="collection")

    def list(self, api, ctx: ExportContext) -> list[dict[str, Any]]:
        rows = _listing(self, api, ctx, self.endpoint)
        if rows is None and self.name not in ctx.unavailable:
            _ee_preview_warning(api, ctx)
        return sorted(rows or [], key=lambda r: r["id"])

    def normalize_more(self, doc, raw, ctx: ExportContext):
        source = dict(raw.get("source") or {})
        if source.get("type") == "python":
            source["source-database"] = ctx.ref("databases", source.get("source-database"))
            source["source-tables"] = {alias: ctx.ref("tables", table)
                                       for alias, table in sorted((source.get("source-tables") or {}).items())}
        elif "query" in source:
            source["query"] = ctx.walker.query(canonical_query(source["query"]))
        doc["source"] = source
        target = dict(raw.get("target") or {})
        if target.get("database") is not None:
            target["database"] = ctx.ref("databases", target["database"])
        doc["target"] = target
        return doc

    def payload(self, doc, resolve, stage):
        body = self.spec.payload(doc, resolve)
        source = dict(doc["source"])
        if source.get("type") == "python":
            source["source-database"] = resolve(source.get("source-database"))
            source["source-tables"] = {alias: resolve(t) for alias, t in (source.get("source-tables") or {}).items()}
        elif "query" in source:
            source["query"] = resolve.walker().query(source["query"])
        target = dict(doc["target"])
        if is_ref(target.get("database")):
            target["database"] = resolve(target["database"])
        return {**body, "source": source, "target": target}

    @staticmethod
    def _for_target(req: WriteRequest) -> dict[str, Any]:
        """Native template tags in the shape the target's version writes (a list from 0.63)."""
        source = req.payload["source"]
        if "query" in source:
            source = {**source, "query": query_for_target(req.api, source["query"])}
        return {**req.payload, "source": source}

    def create(self, req: WriteRequest) -> dict[str, Any]:
        return req.api.post(self.endpoint, json=self._for_target(req))

    def update(self, req: WriteRequest) -> dict[str, Any]:
        return req.api.put(f"{self.endpoint}/{req.target_id}", json=self._for_target(req))

    def describe_change(self, field: str, old: Any, new: Any, names: Any) -> builtins.list[str] | None:
        """`mbport diff`: the source read like a card's query, the target table by name, tags added and removed."""
        if field == "tag_ids":
            return _describe_tags(old, new, names)
        if field == "target" and isinstance(old, dict) and isinstance(new, dict):
            def table(t: dict[str, Any]) -> str:
                return ".".join(str(p) for p in (t.get("schema"), t.get("name")) if p)
            return [f"writes {table(new)} instead of {table(old)}" if table(old) != table(new)
                    else "target database changed"]
        if field == "source" and isinstance(old, dict) and isinstance(new, dict):
            if old.get("type") != new.get("type"):
                return [f"source: {old.get('type')} → {new.get('type')}"]
            if "query" in new:
                return describe_query(old.get("query"), new.get("query"), names)
            return ["Python code changed" if old.get("body") != new.get("body") else "Python source tables changed"]
        return super().describe_change(field, old, new, names)

    def version_notes(self, version: Any) -> builtins.list[str]:
        """Called by `mbport doctor`: from 0.64 transforms must be turned on before they can be imported."""
        if version >= ENABLED_SETTING_SINCE:
            return ["transforms are refused until an admin turns them on (`transforms-enabled`: "
                    "MB_TRANSFORMS_ENABLED=true, or Data Studio)"]
        return []


class PythonLibraries(Requires, NeverPruned, Kind):
    """The shared Python code transforms import (`import common`): one library per instance, `common.py`, which
    exists from the start (empty: left out of the tree); the API reads and writes it by path and cannot delete it."""

    name = "python-libraries"
    since = SINCE
    premium_feature = "transforms-python"
    endpoint = "/api/ee/transforms-python/library"
    PATHS = ("common",)  # python_library.clj: "Only 'common' is currently supported."
    fields = {
        **common("created_at", "updated_at"),
        "id": skip("the API has no ids: mbport keys a library by its path"),
        "path": copy(), "source": copy(),
    }
    match = Match("path", address=True)

    def list(self, api, ctx: ExportContext) -> list[dict[str, Any]]:
        rows = []
        for path in self.PATHS:
            raw = _listing(self, api, ctx, f"{self.endpoint}/{path}")
            if raw is None:
                return []
            if raw.get("source") or ctx.options.get("target"):  # the empty one every instance starts with: nothing
                rows.append({**raw, "id": raw["path"]})
        return rows

    def payload(self, doc, resolve, stage):
        return {"source": doc["source"]}

    def create(self, req: WriteRequest) -> dict[str, Any]:
        return self.update(req)

    def update(self, req: WriteRequest) -> dict[str, Any]:
        """An upsert by path (`update-library-source!`)."""
        path = req.doc["path"].removesuffix(".py")
        raw = req.api.put(f"{self.endpoint}/{path}", json=req.payload)
        return {**raw, "id": raw["path"]}
