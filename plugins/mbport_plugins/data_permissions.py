"""The data permissions graph as one doc: per (group, database) grants, with tables named instead of numbered."""

from __future__ import annotations

from typing import Any

from mbport.kind import ExportContext, Kind, PathHint
from mbport.refs import split_address

# Permissions whose value nests the schema map one level down ({"schemas": ..., "native": ...}); `data` is the
# pre-0.50 form of view-data/create-queries.
NESTED = frozenset({"download", "data-model", "data"})
ADMIN_ROLE = "admin"
ADMIN_ADDRESS = "groups/Administrators"


class DataPermissions(Kind):
    """`GET /api/permissions/graph` as a single doc (`data-permissions/graph`).

    `list` returns the graph as one raw object. `normalize` turns group and database ids into refs and
    table-level entries (`{"<schema>": {"<table id>": value}}`) into entries keyed by the table's name (unique
    within a database and schema). Metabase leaves least-permissive values out of the graph (no
    `view-data: blocked`, `create-queries: no`, download/data-model `none`, `details: no`), so a missing key
    means the least permissive value, and a (group, database) pair that is missing has none at all. The
    Administrators group is left out: its full permissions are synthesised by Metabase and cannot be changed.
    """

    name = "data-permissions"
    endpoint = "/api/permissions/graph"
    description = "Data permissions: what each group may see, query, download and edit in each database."
    aliases = ("data-permission",)
    after = ("groups", "databases", "tables")
    key_fields = ()
    keep = ()
    drop = {
        "revision": "the server's edit counter; import PUTs with the target's current revision",
        "groups": "kept as `grants` with groups, databases and tables as refs and names",
        "sandboxes": "EE sandboxes are not exported yet", "impersonations": "EE impersonations are not exported yet",
    }

    def list(self, api, ctx: ExportContext) -> list[dict[str, Any]]:
        return [api.get(self.endpoint)]

    def key_parts(self, raw_or_doc: dict[str, Any]) -> tuple[Any, ...]:
        return ("graph",)

    def index(self, raw):
        return ()  # nothing points at the graph

    def normalize(self, raw, ctx: ExportContext) -> dict[str, Any]:
        admins = admin_group_ids(ctx)
        grants = []
        for gid, dbs in (raw.get("groups") or {}).items():
            group = ctx.ref("groups", int(gid))
            if int(gid) in admins or group["$ref"] == ADMIN_ADDRESS:
                continue
            for db_id, perms in (dbs or {}).items():
                if not perms:
                    continue
                database = ctx.ref("databases", int(db_id))
                grants.append({"group": group, "database": database,
                               "permissions": {p: _perm(p, v, ctx) for p, v in perms.items()}})
        grants.sort(key=lambda g: (g["group"]["$ref"], g["database"]["$ref"]))
        return {"grants": grants}

    def path(self, doc, folders) -> PathHint:
        return PathHint((), "graph")


def admin_group_ids(ctx: ExportContext) -> set[int]:
    """Ids of the Administrators group (by its role, so a renamed one is still found)."""
    return {g["id"] for g in ctx.raw.get("groups", []) if g.get("magic_group_type") == ADMIN_ROLE}


def _perm(perm: str, value: Any, ctx: ExportContext) -> Any:
    if not isinstance(value, dict):
        return value
    if perm in NESTED:
        return {k: _schemas(v, ctx) for k, v in value.items()}
    return _schemas(value, ctx)


def _schemas(value: Any, ctx: ExportContext) -> Any:
    """{schema: value | {table id: value}} with each table id replaced by the table's name."""
    if not isinstance(value, dict):
        return value
    out: dict[str, Any] = {}
    for schema, tables in value.items():
        if isinstance(tables, dict):
            out[schema] = {table_name(tid, ctx): v for tid, v in tables.items()}
        else:
            out[schema] = tables
    return out


def table_name(table_id: Any, ctx: ExportContext) -> str:
    """A table's name from the tables index; a missing table keeps its dangling address (and warns)."""
    try:
        tid = int(table_id)
    except (TypeError, ValueError):
        return str(table_id)
    addr = ctx.ref("tables", tid)["$ref"]
    kind, parts = split_address(addr)
    return parts[-1] if kind == "tables" and len(parts) == 3 else addr
