"""What transform, transform tag, transform job and Python library answers look like (transforms_rest/api/*.clj)."""

from __future__ import annotations

from typing import Any

from ..models import transforms as model
from ..models.versions import minor_version
from ..store import Row, State
from .tables import table_out
from .users import creator

# TransformResponse (transforms_rest/api/transform.clj): a closed map; `table` only on GET /:id.
_TRANSFORM_COLUMNS = ("id", "name", "description", "source", "target", "source_type", "source_database_id",
                      "entity_id", "created_at", "updated_at", "creator_id", "collection_id", "target_db_id",
                      "run_trigger", "dependency_analysis_version", "owner_user_id", "owner_email")


def _owner(state: State, row: Row) -> dict[str, Any] | None:
    """OwnerResponse: the owning user, or just the email of an owner who is no user."""
    user = state.table("user").get(row.get("owner_user_id")) if row.get("owner_user_id") else None
    if user is not None:
        return {k: user.get(k) for k in ("id", "email", "first_name", "last_name", "common_name")}
    return {"email": row["owner_email"]} if row.get("owner_email") else None


def transform_out(state: State, row: Row, *, detail: bool = False) -> dict[str, Any]:
    """Hydrated with :last_run (no run has happened here), :transform_tag_ids, :creator, :owner, and
    `source_readable` (add-source-readable: the caller may read the source tables, always so for an admin)."""
    out = {k: row.get(k) for k in _TRANSFORM_COLUMNS}
    out.update(creator=creator(state, row.get("creator_id")), owner=_owner(state, row), last_run=None,
               tag_ids=list(row.get("tag_ids") or []), source_readable=True)
    if detail:
        table = model.target_table(state, row)
        out["table"] = table_out(table) if table is not None else None
    return out


def tag_out(state: State, row: Row) -> dict[str, Any]:
    """TransformTagResponse, with :can_run (every transform carrying it is writable: true for an admin)."""
    return {k: row.get(k) for k in ("id", "name", "entity_id", "created_at", "updated_at", "built_in_type")} | {
        "can_run": True}


def job_out(state: State, row: Row) -> dict[str, Any]:
    """A job hydrated with :tag_ids (in position order) and :last_run (none has run here)."""
    keys = ("id", "name", "description", "schedule", "ui_display_type", "entity_id", "created_at", "updated_at",
            "built_in_type") + (("active",) if minor_version(state) >= model.JOB_ACTIVE_SINCE else ())
    return {k: row.get(k) for k in keys} | {"tag_ids": list(row.get("tag_ids") or []), "last_run": None}


def library_out(row: Row) -> dict[str, Any]:
    """transforms_python/api.clj `get-library-by-path`: select-keys [:source :path :created_at :updated_at]."""
    return {k: row.get(k) for k in ("source", "path", "created_at", "updated_at")}
