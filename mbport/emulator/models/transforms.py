"""Transforms (Metabase >= 0.59): query and Python transforms that write a table, their tags, jobs and Python library.

Sources (metabase/metabase): `src/metabase/transforms/crud.clj` (create/update checks), `transforms/schema.clj`
(source and target shapes), `transforms_rest/api/transform*.clj` (routes), `models/transform_tag.clj` and
`transform_job.clj` (built-in rows, tag order), `enterprise/.../transforms_python/models/python_library.clj`, and
`premium_features/token_check.clj` `query-transforms-enabled?` / `python-transforms-enabled?` (the 0.64 gate).
Tag links are lists on the rows (`tag_ids`, in order); deleting a tag takes it out of every transform and job.
"""

from __future__ import annotations

import re
from typing import Any

from ... import mbql
from .. import errors, premium
from ..store import Row, State
from . import databases, settings
from .versions import minor_version

TRANSFORM, TAG, JOB, LIBRARY = "transform", "transform_tag", "transform_job", "transform_library"

SINCE = 59  # /api/transform, /api/transform-tag, /api/transform-job (versions.md: "not available before v59")
# transform_job.active (resources/migrations/060/20260504_transform_job_active.yaml, changeSet v60.2026-05-04:
# "Inactive jobs do not run on schedule", default true): Data Studio's Disable / Re-enable send PUT {"active": ...}
# (frontend JobMoreMenu.unit.spec.tsx); a job is created active whatever POST says (its body has no such key)
JOB_ACTIVE_SINCE = 60
ENABLED_SETTING_SINCE = 64  # self-hosted instances must turn on `transforms-enabled` (api changelog 0.64)
ENABLED_SETTING = "transforms-enabled"

# Token features (Metabase's names). Before 0.64 an Enterprise build needs `transforms` (the add-on) for query
# transforms; from 0.64 a self-hosted one needs only the setting. Python transforms and their library need
# `transforms-python` (api_routes/routes.clj mounts /api/ee/transforms-python behind it: "Transforms Python").
FEATURE, BASIC_FEATURE, PYTHON_FEATURE, PYTHON_FEATURE_NAME = (
    "transforms", "transforms-basic", "transforms-python", "Transforms Python")

# The default tags and jobs every instance has (transforms/seed.clj, later a migration with `built_in_type`).
BUILT_IN = (
    ("hourly", "Hourly job", "Executes transforms tagged with 'hourly' every hour", "0 0 * * * ? *",
     "hourly000000000000000"),
    ("daily", "Daily job", "Executes transforms tagged with 'daily' once per day", "0 0 0 * * ? *",
     "daily0000000000000000"),
    ("weekly", "Weekly job", "Executes transforms tagged with 'weekly' once per week", "0 0 0 ? * 1 *",
     "weekly000000000000000"),
    ("monthly", "Monthly job", "Executes transforms tagged with 'monthly' once per month", "0 0 0 1 * ? *",
     "monthly00000000000000"),
)
# python_library.clj: the one library path allowed, created by a migration with this entity_id.
LIBRARY_PATH, LIBRARY_ENTITY_ID = "common.py", "cWWH9qJPvHNB3rP2vLZrK"

NOT_ENABLED = "Premium features required for this transform type are not enabled."


def init_state(state: State) -> None:
    if minor_version(state) < SINCE:
        return
    now = state.now()
    for kind, job, description, schedule, entity_id in BUILT_IN:
        # A migration's insert runs no entity-id hook: the default tags have none (TransformTagResponse allows nil).
        tag = state.table(TAG).insert({"name": kind, "built_in_type": kind, "entity_id": None}, now)
        state.table(JOB).insert({"name": job, "description": description, "schedule": schedule,
                                 "ui_display_type": "cron/raw", "entity_id": entity_id, "built_in_type": kind,
                                 "active": True, "tag_ids": [tag["id"]]}, now)
    state.table(LIBRARY).insert({"path": LIBRARY_PATH, "source": "", "entity_id": LIBRARY_ENTITY_ID}, now)


def require_version(state: State) -> None:
    """Before 0.59 the routes do not exist (404, like any unknown route). Not `route(available=)`: exports list
    every kind, and a 0.56 instance answering 404 is what they expect, not a request the spec rejects."""
    if minor_version(state) < SINCE:
        raise errors.not_found()


EE_PREVIEW_SINCE = 57  # migrations v57.2025-08-22T00:00:00 "Create transform table"


def require_ee_preview(state: State) -> None:
    """/api/ee/transform: Enterprise builds from 0.57 (the transform table's migration) until 0.59 moved transforms to
    /api/transform kept them there, behind the transforms feature (api_routes/routes.clj `ee-routes-map` "/transform";
    transforms/api.clj `get-transforms`); 404 elsewhere (an OSS build has no /api/ee routes)."""
    if not (EE_PREVIEW_SINCE <= minor_version(state) < SINCE and state.profile.enterprise):
        raise errors.not_found()
    premium.require(state, FEATURE, "Transforms")


def query_transforms_enabled(state: State) -> bool:
    """token_check.clj `query-transforms-enabled?`: from 0.64 the `transforms-enabled` setting (self-hosted); before,
    any OSS build, and an Enterprise build with the transforms add-on."""
    if minor_version(state) >= ENABLED_SETTING_SINCE:
        return bool(settings.get_value(state, ENABLED_SETTING))
    return not state.profile.enterprise or premium.enabled(state, FEATURE)


def python_transforms_enabled(state: State) -> bool:
    """`python-transforms-enabled?`: Enterprise only, with transforms-python (and, from 0.64, the setting and
    transforms-basic; before, the transforms add-on)."""
    if not premium.enabled(state, PYTHON_FEATURE):
        return False
    if minor_version(state) >= ENABLED_SETTING_SINCE:
        return bool(settings.get_value(state, ENABLED_SETTING)) and premium.enabled(state, BASIC_FEATURE)
    return premium.enabled(state, FEATURE)


def source_type(source: dict[str, Any]) -> str:
    """The stored `source_type`: python, or native/mbql by the query (transforms/util.clj `transform-source-type`)."""
    if source.get("type") == "python":
        return "python"
    query = source.get("query") or {}
    stages = query.get("stages") or []
    if query.get("type") == "native" or (stages and stages[0].get("lib/type") == "mbql.stage/native"):
        return "native"
    return "mbql"


def enabled_types(state: State) -> set[str]:
    """transforms/util.clj `enabled-source-types`: what GET /api/transform lists (none: 403)."""
    out = {"native", "mbql"} if query_transforms_enabled(state) else set()
    return out | ({"python"} if python_transforms_enabled(state) else set())


def _source_db(source: dict[str, Any]) -> int | None:
    if source.get("type") == "python":
        return source.get("source-database")
    return (source.get("query") or {}).get("database")


def target_db_id(transform: dict[str, Any]) -> int | None:
    """transforms/interface.clj `target-db-id`: the target's database, else the source's."""
    return (transform.get("target") or {}).get("database") or _source_db(transform.get("source") or {})


def _normalize_source(state: State, source: dict[str, Any]) -> dict[str, Any]:
    """The source as Metabase stores it: the query as MBQL 5 (>= 0.57); a Python transform's `source-tables` as a
    map alias -> table id (the form the API answers, crud.clj `python-source-table-ref->table-id`)."""
    if source.get("type") == "python":
        tables = source.get("source-tables") or {}
        if isinstance(tables, list):
            tables = {t.get("alias"): t.get("table_id") for t in tables if isinstance(t, dict)}
        return {**source, "source-tables": tables}
    query = source.get("query") or {}
    stored = mbql.to_mbql5(query, state.profile) if state.profile.mbql5 else mbql.to_legacy(query)
    return {**source, "query": stored}


def check_enabled(state: State, transform: dict[str, Any]) -> None:
    """crud.clj `check-feature-enabled!`: 402 when the transform's source type is not enabled."""
    kind = source_type(transform.get("source") or {})
    on = python_transforms_enabled(state) if kind == "python" else query_transforms_enabled(state)
    if not on:
        raise errors.ApiError(402, NOT_ENABLED)


def check_database(state: State, transform: dict[str, Any]) -> None:
    """crud.clj `check-database-feature`: the target database exists, is no sample, its driver writes tables."""
    db = state.table("metabase_database").get(target_db_id(transform))
    if db is None:
        raise errors.bad_request("The target database cannot be found.")
    if db.get("is_sample"):
        raise errors.bad_request("Cannot run transforms on the sample database.")
    needed = "transforms/python" if source_type(transform.get("source") or {}) == "python" else "transforms/table"
    if not databases.supports(state, db, needed):
        raise errors.bad_request("The database does not support the requested transform features.")


def target_table(state: State, transform: dict[str, Any]) -> Row | None:
    """transforms/util.clj `target-table`: the active table the target names in the target database."""
    target = transform.get("target") or {}
    return state.table("metabase_table").first(
        lambda t: t.get("db_id") == target_db_id(transform) and t.get("name") == target.get("name")
        and (t.get("schema") or None) == (target.get("schema") or None) and t.get("active", True))


def _check_tags(state: State, tag_ids: list[int]) -> list[int]:
    """transform.clj `update-transform-tags!`: unknown tag ids are dropped, duplicates too, order kept."""
    seen: list[int] = []
    for tag_id in tag_ids:
        if tag_id not in seen and state.table(TAG).get(tag_id) is not None:
            seen.append(tag_id)
    return seen


def _check_collection(state: State, collection_id: Any) -> None:
    if collection_id is not None and state.table("collection").get(collection_id) is None:
        raise errors.not_found()


def create(state: State, user: Row, body: dict[str, Any]) -> Row:
    """POST /api/transform (transforms_rest/api/transform.clj): the checks in Metabase's order, then the row."""
    check_database(state, body)
    check_enabled(state, body)
    if target_table(state, body) is not None:
        raise errors.ApiError(403, "A table with that name already exists.")
    _check_collection(state, body.get("collection_id"))
    source = _normalize_source(state, body["source"])
    owner = None if body.get("owner_email") else (body.get("owner_user_id") or user["id"])
    row = {
        "name": body["name"], "description": body.get("description"), "source": source, "target": body["target"],
        "run_trigger": body.get("run_trigger") or "none", "collection_id": body.get("collection_id"),
        "owner_email": body.get("owner_email"), "owner_user_id": owner, "creator_id": user["id"],
        "source_type": source_type(source), "source_database_id": _source_db(source),
        "dependency_analysis_version": 0, "tag_ids": _check_tags(state, body.get("tag_ids") or []),
    }
    row["target_db_id"] = target_db_id(row)
    return state.table(TRANSFORM).insert(row, state.now())


def update(state: State, transform: Row, body: dict[str, Any]) -> None:
    """PUT /api/transform/:id (crud.clj `update-transform!`): checked on the merged transform."""
    new = {**transform, **body}
    check_enabled(state, new)
    check_database(state, new)
    fields = ("schema", "name")
    moved = [(transform.get("target") or {}).get(k) for k in fields] != [(new.get("target") or {}).get(k)
                                                                         for k in fields]
    if moved and target_table(state, new) is not None:
        raise errors.ApiError(403, "A table with that name already exists.")
    if "collection_id" in body:
        _check_collection(state, body["collection_id"])
    changes = {k: v for k, v in body.items() if k != "tag_ids"}
    if "source" in changes:
        changes["source"] = _normalize_source(state, changes["source"])
        changes["source_type"] = source_type(changes["source"])
        changes["source_database_id"] = _source_db(changes["source"])
    if "tag_ids" in body:
        changes["tag_ids"] = _check_tags(state, body["tag_ids"])
    changes["updated_at"] = state.now()
    transform.update(changes)
    transform["target_db_id"] = target_db_id(transform)


# ---------------------------------------------------------------- tags

def check_tag_name(state: State, name: str, excluding: int | None = None) -> None:
    """transform_tag.clj: tag names are unique instance-wide."""
    if state.table(TAG).first(lambda t: t["name"] == name and t["id"] != excluding) is not None:
        raise errors.bad_request(f"A tag with the name '{name}' already exists.")


def rename_tag(state: State, tag: Row, name: str) -> None:
    """The first edit of a built-in tag makes it an ordinary one (`define-before-update`: built_in_type nil)."""
    tag.update(name=name, built_in_type=None, updated_at=state.now())


def delete_tag(state: State, tag_id: int) -> None:
    """DELETE /api/transform-tag/:id: "Removes it from all transforms and jobs" (the join rows cascade)."""
    for table in (TRANSFORM, JOB):
        for row in state.table(table):
            if tag_id in (row.get("tag_ids") or []):
                row["tag_ids"] = [t for t in row["tag_ids"] if t != tag_id]
    state.table(TAG).delete(tag_id)


# ---------------------------------------------------------------- jobs

# Quartz cron: seconds minutes hours day-of-month month day-of-week [year] (schedule.clj
# `validate-cron-expression` asks Quartz's CronExpression).
_CRON_FIELD = re.compile(r"^[0-9A-Za-z*?/,\-#LW]+$")


def valid_cron(schedule: str) -> bool:
    parts = schedule.split()
    return len(parts) in (6, 7) and all(_CRON_FIELD.match(p) for p in parts) and ("?" in (parts[3], parts[5]))


def check_job(state: State, body: dict[str, Any]) -> None:
    """transform_job.clj POST/PUT: a Quartz cron schedule, and tag ids that all exist."""
    schedule = body.get("schedule")
    if schedule is not None and not valid_cron(schedule):
        raise errors.bad_request(f"Invalid cron expression: {schedule}")
    tag_ids = body.get("tag_ids") or []
    if tag_ids and any(state.table(TAG).get(t) is None for t in tag_ids):
        raise errors.bad_request("Some tag IDs do not exist")


def create_job(state: State, body: dict[str, Any]) -> Row:
    check_job(state, body)
    return state.table(JOB).insert({
        "name": body["name"], "description": body.get("description"), "schedule": body["schedule"],
        "ui_display_type": body.get("ui_display_type") or "cron/raw", "built_in_type": None, "active": True,
        "tag_ids": list(dict.fromkeys(body.get("tag_ids") or [])),
    }, state.now())


def update_job(state: State, job: Row, body: dict[str, Any]) -> None:
    """Only the keys given and not null are written (`m/assoc-some`); a built-in job becomes an ordinary one."""
    check_job(state, body)
    changes = {k: body[k] for k in ("name", "description", "schedule", "ui_display_type") if body.get(k) is not None}
    if body.get("active") is not None and minor_version(state) >= JOB_ACTIVE_SINCE:
        changes["active"] = bool(body["active"])
    if "tag_ids" in body and body["tag_ids"] is not None:
        changes["tag_ids"] = [t for t in dict.fromkeys(body["tag_ids"]) if state.table(TAG).get(t) is not None]
    if changes:
        job.update(changes, built_in_type=None, updated_at=state.now())


# ---------------------------------------------------------------- the Python library

def library_path(path: str) -> str:
    """python_library.clj: `.py` is added, and only `common` is allowed (400 otherwise)."""
    normalized = path if path.endswith(".py") else path + ".py"
    if normalized != LIBRARY_PATH:
        raise errors.bad_request("Invalid library path. Only 'common' is currently supported.")
    return normalized


def put_library(state: State, path: str, source: str) -> Row:
    """`update-library-source!`: an upsert by path."""
    normalized = library_path(path)
    row = state.table(LIBRARY).first(path=normalized)
    if row is None:
        return state.table(LIBRARY).insert({"path": normalized, "source": source}, state.now())
    row.update(source=source, updated_at=state.now())
    return row
