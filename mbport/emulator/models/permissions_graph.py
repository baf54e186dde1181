"""The data permissions graph: per group and database (and table) view-data, create-queries, download, data-model and details; revisions, defaults for new groups and databases, premium checks."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .. import errors, events, premium
from ..store import Row, State
from . import groups as group_model
from . import impersonations, sandboxes
from .versions import minor_version

# Values per permission, most permissive first (Metabase's data-permissions order); the last is the least.
VALUES: dict[str, tuple[str, ...]] = {
    "view-data": ("unrestricted", "legacy-no-self-service", "blocked"),
    "create-queries": ("query-builder-and-native", "query-builder", "no"),
    "download": ("full", "limited", "none"),
    "data-model": ("all", "none"),
    "details": ("yes", "no"),
    "transforms": ("yes", "no"),
    "workspaces": ("yes", "no"),
}


# download and data-model are nested under "schemas" in the API graph.
NESTED = ("download", "data-model")


# The order Metabase applies a group's changes in: view-data last, so it wins over implied values.
APPLY_ORDER = ("details", "transforms", "workspaces", "data-model", "download", "create-queries", "view-data")


# Accepted in a PUT but mapped onto another stored value (EE concepts the OSS graph stores as unrestricted).
VIEW_DATA_ALIASES = {"sandboxed": "unrestricted", "impersonated": "unrestricted"}


TABLE_VALUES = {"create-queries": ("query-builder", "no")}


ADMIN_PERMS = {
    "view-data": "unrestricted",
    "create-queries": "query-builder-and-native",
    "download": {"schemas": "full"},
    "data-model": {"schemas": "all"},
    "details": "yes",
}


NATIVE_NEEDS_DATA = (
    "Invalid DB permissions: If you have write access for native queries, you must have data access to all schemas."
)


class InvalidGraph(Exception):
    """A PUT body that does not match Metabase's permissions-graph schema."""


def least(perm: str) -> str:
    return VALUES[perm][-1]


def _store(state: State) -> dict[str, Any]:
    """perms: {(group_id, db_id): {perm: scalar | {schema: {table_id: value}}}}; known_groups: group ids seen."""
    return state.extra.setdefault("data_permissions", {"revision": 0, "perms": {}, "known_groups": set()})


def _databases(state: State) -> list[Row]:
    # The audit database and router destinations never appear in the graph.
    return [d for d in state.table("metabase_database") if not d.get("is_audit") and not d.get("router_database_id")]


def _non_admin_groups(state: State) -> list[Row]:
    groups = [g for g in state.table("permissions_group") if g.get("magic_group_type") != group_model.ADMIN]
    # All Users first: new groups copy its permissions.
    return sorted(groups, key=lambda g: (g.get("magic_group_type") != group_model.ALL_USERS, g["id"]))


def _admin_id(state: State) -> int | None:
    admin = group_model.find_magic_group(state, group_model.ADMIN)
    return admin["id"] if admin else None


def _leaf_values(value: Any) -> list[str]:
    if isinstance(value, dict):
        return [v for tables in value.values() for v in tables.values()]
    return [value] if value is not None else []


def _most_restrictive(perm: str, values: Sequence[str | None]) -> str | None:
    ranked = [v for v in values if v in VALUES[perm]]
    return max(ranked, key=VALUES[perm].index) if ranked else None


def _new_database_perms(store: dict[str, Any], group_id: int) -> dict[str, Any]:
    """A group's permissions on a database added after it: its lowest levels elsewhere (OSS: view-data unrestricted)."""
    elsewhere = [p for (gid, _), p in store["perms"].items() if gid == group_id]

    def lowest(perm: str, default: str) -> str:
        return _most_restrictive(perm, [v for p in elsewhere for v in _leaf_values(p.get(perm))]) or default

    return {
        "view-data": "unrestricted",
        "create-queries": lowest("create-queries", "query-builder-and-native"),
        "download": lowest("download", "full"),
        "data-model": "none",
        "details": "no",
    }


def _new_group_perms(store: dict[str, Any], all_users_id: int | None, db_id: int) -> dict[str, Any]:
    """A new group's permissions on an existing database: the most restrictive of All Users' there."""
    source = store["perms"].get((all_users_id, db_id), {})

    def coalesce(perm: str, default: str) -> str:
        return _most_restrictive(perm, _leaf_values(source.get(perm))) or default

    return {
        "view-data": coalesce("view-data", "unrestricted"),
        "create-queries": coalesce("create-queries", "query-builder-and-native"),
        "download": coalesce("download", "full"),
        "data-model": "none",
        "details": "no",
    }


def _external_group_perms() -> dict[str, Any]:
    """A tenant group's permissions on any database, whether the group or the database is the newer: the least of
    every permission (data_permissions.clj `set-external-group-permissions!`, called by permissions_group.clj
    `set-default-permission-values!` and database.clj `set-new-database-permissions!` for `is_tenant_group` groups)."""
    return {perm: least(perm) for perm in ("view-data", "create-queries", "download", "data-model", "details")}


def sync_defaults(state: State) -> None:
    """Give every (group, database) pair that has no permissions yet Metabase's defaults.

    A pair is new either because its database is new (the group gets new-database defaults) or because its group is
    new (it copies All Users). Doing this lazily makes it independent of whether, and in which order, the database
    and group areas call the hooks below.
    """
    store = _store(state)
    all_users = group_model.find_magic_group(state, group_model.ALL_USERS)
    all_users_id = all_users["id"] if all_users else None
    dbs = _databases(state)
    for group in _non_admin_groups(state):
        new_group = group["id"] not in store["known_groups"] and group["id"] != all_users_id
        for db in dbs:
            key = (group["id"], db["id"])
            if key not in store["perms"]:
                store["perms"][key] = (
                    _external_group_perms() if group.get("is_tenant_group")
                    else _new_group_perms(store, all_users_id, db["id"]) if new_group
                    else _new_database_perms(store, group["id"])
                )
        store["known_groups"].add(group["id"])


@events.on("database.created")
def on_database_created(state: State, db: Row) -> None:
    """A new database: every group gets its defaults on it."""
    sync_defaults(state)


@events.on("group.created")
def on_group_created(state: State, group: Row) -> None:
    """A new group: it copies All Users' permissions."""
    sync_defaults(state)


@events.on("database.deleted")
def on_database_deleted(state: State, db_id: int) -> None:
    """A deleted database takes its permissions, sandboxes and impersonations with it."""
    perms = _store(state)["perms"]
    for key in [k for k in perms if k[1] == db_id]:
        del perms[key]
    sandboxes.on_tables_deleted(state)
    impersonations.on_deleted(state, db_id=db_id)


@events.on("group.deleted")
def on_group_deleted(state: State, group: Row) -> None:
    """A deleted group takes its permissions, sandboxes and impersonations with it."""
    perms = _store(state)["perms"]
    for key in [k for k in perms if k[0] == group["id"]]:
        del perms[key]
    sandboxes.on_group_deleted(state, group)
    impersonations.on_deleted(state, group_id=group["id"])


@events.on("sandbox.created")
def downgrade_native(state: State, group_id: int, db_id: int) -> None:
    """A group sandboxed on a table of the database may no longer write native queries there (the sandbox's
    before-insert); no revision is saved for it."""
    sync_defaults(state)
    perms = _store(state)["perms"].get((group_id, db_id))
    if perms is not None and perms.get("create-queries") == "query-builder-and-native":
        perms["create-queries"] = "query-builder"


def _tables(state: State, db_id: int) -> list[Row]:
    return [t for t in state.table("metabase_table").where(db_id=db_id) if t.get("active", True)]


def _render_value(perm: str, value: Any) -> Any:
    """One stored value in API form, least-permissive values elided (None), uniform schemas collapsed."""
    if not isinstance(value, dict):
        return None if value == least(perm) else value
    rendered = {}
    for schema, tables in value.items():
        unique = set(tables.values())
        if len(unique) == 1:
            only = unique.pop()
            # Metabase keeps a collapsed schema-level value unless its API value is nil (download/data-model none).
            if not (perm in NESTED and only == least(perm)):
                rendered[schema] = only
        else:
            kept = {str(tid): v for tid, v in sorted(tables.items()) if v != least(perm)}
            if kept:
                rendered[schema] = kept
    return rendered or None


def _render_db(perms: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for perm, value in perms.items():
        if perm == "view-data" and isinstance(value, dict):
            leaves = set(_leaf_values(value))
            if len(leaves) == 1:
                value = leaves.pop()
        rendered = _render_value(perm, value)
        if rendered is None:
            continue
        out[perm] = {"schemas": rendered} if perm in NESTED else rendered
    return out


def _admin_perms(state: State) -> dict[str, Any]:

    perms = dict(ADMIN_PERMS)
    if minor_version(state) >= 59:
        perms["transforms"] = "yes"
    return perms


def api_graph(state: State, *, group_ids: set[int] | None = None, db_id: int | None = None) -> dict[str, Any]:
    """GET /api/permissions/graph, optionally restricted to some groups or one database."""
    sync_defaults(state)
    store = _store(state)
    existing_groups = {g["id"] for g in state.table("permissions_group")}
    db_ids = [db_id] if db_id is not None else [d["id"] for d in _databases(state)]
    groups: dict[str, dict[str, Any]] = {}
    for (gid, dbid), perms in sorted(store["perms"].items()):
        if gid not in existing_groups or dbid not in db_ids or (group_ids is not None and gid not in group_ids):
            continue
        rendered = _render_db(perms)
        if rendered:
            groups.setdefault(str(gid), {})[str(dbid)] = rendered
    admin_id = _admin_id(state)
    if admin_id is not None and (group_ids is None or admin_id in group_ids):
        admin = _admin_perms(state)
        groups[str(admin_id)] = {str(d): dict(admin) for d in db_ids}
    sandboxes.merge_into_graph(state, groups, group_ids=group_ids, db_id=db_id)
    impersonations.merge_into_graph(state, groups, group_ids=group_ids, db_ids=set(db_ids))
    return {"revision": store["revision"], "groups": groups}


def _int_key(key: Any, what: str) -> int:
    if isinstance(key, str) and key.isdigit() and int(key) > 0:
        return int(key)
    raise InvalidGraph(f"Invalid permissions graph: {what} must be keyed by positive integer ids, got {key!r}.")


def _parse_granular(perm: str, value: Any) -> Any:
    """A scalar, or {schema: scalar | {table-id: scalar}} for view-data/create-queries/schemas."""
    allowed = VALUES[perm] + (tuple(VIEW_DATA_ALIASES) if perm == "view-data" else ())
    if isinstance(value, str):
        if value not in allowed:
            raise InvalidGraph(f"Invalid DB permissions: {value!r} is not a valid {perm} permission.")
        return value
    if not isinstance(value, dict):
        raise InvalidGraph(f"Invalid DB permissions: unrecognized permissions for {perm}.")
    table_allowed = TABLE_VALUES.get(perm, allowed)
    out: dict[str, Any] = {}
    for schema, schema_value in value.items():
        if isinstance(schema_value, str):
            if schema_value not in table_allowed:
                raise InvalidGraph("Invalid DB permissions: unrecognized permissions for a schema.")
            out[schema] = schema_value
        elif isinstance(schema_value, dict):
            tables = {}
            for tid, tv in schema_value.items():
                if not (isinstance(tid, str) and tid.isdigit()):
                    raise InvalidGraph("Invalid DB permissions: permissions for a schema must be keyed by table id.")
                if tv not in table_allowed:
                    raise InvalidGraph("Invalid DB permissions: unrecognized permissions for a table.")
                tables[int(tid)] = tv
            out[schema] = tables
        else:
            raise InvalidGraph("Invalid DB permissions: unrecognized permissions for a schema.")
    return out


def _parse_db_perms(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise InvalidGraph("Invalid DB permissions: unrecognized permissions for a database.")
    out: dict[str, Any] = {}
    for key, perm_value in value.items():
        if key in ("view-data", "create-queries"):
            out[key] = _parse_granular(key, perm_value)
        elif key in NESTED or key == "data":
            # The legacy `data: {native, schemas}` key is still accepted by the schema but no longer acted on.
            if not isinstance(perm_value, dict) or set(perm_value) - {"schemas", "native"}:
                raise InvalidGraph(f"Invalid DB permissions: unrecognized permissions for {key}.")
            if key != "data" and "schemas" in perm_value:
                out[key] = {"schemas": _parse_granular(key, perm_value["schemas"])}
        elif key in ("details", "transforms", "workspaces"):
            if perm_value not in ("yes", "no"):
                raise InvalidGraph(f"Invalid DB permissions: {perm_value!r} is not a valid {key} permission.")
            out[key] = perm_value
        else:
            raise InvalidGraph(f"Invalid DB permissions: unknown key {key!r}.")
    if out.get("create-queries") == "query-builder-and-native" and out.get("view-data") == "blocked":
        raise InvalidGraph(NATIVE_NEEDS_DATA)
    return out


def parse_graph(body: Any) -> dict[int, dict[int, dict[str, Any]]]:
    if not isinstance(body, dict) or not isinstance(body.get("groups"), dict):
        raise InvalidGraph("Invalid permissions graph: it must be keyed by group id, then by database id.")
    groups: dict[int, dict[int, dict[str, Any]]] = {}
    for gkey, dbs in body["groups"].items():
        gid = _int_key(gkey, "it")
        if dbs is None:
            continue
        if not isinstance(dbs, dict):
            raise InvalidGraph("Invalid permissions graph: permissions for a group must be keyed by database id.")
        groups[gid] = {_int_key(dkey, "permissions for a group"): _parse_db_perms(v) for dkey, v in dbs.items()}
    return groups


def _diff_new(old: Any, new: Any) -> Any:
    """What `new` has that `old` lacks, recursively through maps (clojure.data/diff's second value); None if nothing."""
    if isinstance(old, dict) and isinstance(new, dict):
        out = {}
        for k, v in new.items():
            d = _diff_new(old.get(k), v) if k in old else v
            if d is not None:
                out[k] = d
        return out or None
    return None if old == new else new


def _api_form(parsed: dict[int, dict[int, dict[str, Any]]]) -> dict[str, Any]:
    """The parsed graph with string keys, comparable with api_graph's output."""
    def keys_to_str(v: Any) -> Any:
        return {str(k): keys_to_str(x) for k, x in v.items()} if isinstance(v, dict) else v

    return keys_to_str(parsed)


def premium_error(perm: str) -> errors.ApiError:
    name = perm.replace("-", " ")
    return errors.ApiError(
        402,
        f"The {name} permissions functionality is only enabled if you have a premium token with the "
        "advanced-permissions feature.",
    )


def _check_premium(state: State, changes: dict[str, Any]) -> None:
    """Changes that need a premium feature the instance lacks: `sandboxed` needs sandboxes, the other EE values
    advanced-permissions (an OSS instance has neither)."""
    sandboxes_on = premium.enabled(state, "sandboxes")
    if premium.enabled(state, "advanced_permissions"):
        if not sandboxes_on and any(v == "sandboxed" for dbs in changes.values() for perms in dbs.values()
                                    for v in _view_values(perms)):
            raise premium_error("sandboxed")
        return
    for dbs in changes.values():
        for perms in dbs.values():
            for v in _view_values(perms):
                if v in ("blocked", "sandboxed", "impersonated") and not (v == "sandboxed" and sandboxes_on):
                    raise premium_error(v)
            for perm in NESTED:
                schemas = (perms.get(perm) or {}).get("schemas")
                if isinstance(schemas, dict) or (perm == "data-model" and schemas == "all"):
                    raise premium_error(perm)
            for perm in ("details", "transforms", "workspaces"):
                if perms.get(perm) == "yes":
                    raise premium_error(perm)


def _view_values(perms: dict[str, Any]) -> Sequence[str | None]:
    view = perms.get("view-data")
    return _leaf_values(view) if isinstance(view, dict) else [view]


def _alias(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _alias(v) for k, v in value.items()}
    return VIEW_DATA_ALIASES.get(value, value)


def _expand(value: Any, tables: list[Row], perm: str) -> dict[int, tuple[str, str]]:
    """A stored value as {table_id: (schema, value)}; native access only exists at database level."""
    if isinstance(value, dict):
        return {tid: (schema, v) for schema, ts in value.items() for tid, v in ts.items()}
    if value == "query-builder-and-native" and perm == "create-queries":
        value = "query-builder"
    return {t["id"]: (t.get("schema") or "", value) for t in tables}


def _set_value(state: State, current: dict[str, Any], db_id: int, perm: str, value: Any) -> None:
    """Write one permission: scalars at database level, maps merged into per-table values."""
    if perm in NESTED:
        value = value.get("schemas")
        if value is None:
            return
    if perm == "view-data":  # sandboxed and impersonated are stored as unrestricted, at every level
        value = _alias(value)
    if not isinstance(value, dict):
        current[perm] = value
        return
    tables = _tables(state, db_id)
    by_schema: dict[str, list[Row]] = {}
    for t in tables:
        by_schema.setdefault(t.get("schema") or "", []).append(t)
    final = _expand(current.get(perm, least(perm)), tables, perm)
    for schema, schema_value in value.items():
        if isinstance(schema_value, dict):
            final.update({int(tid): (schema, v) for tid, v in schema_value.items()})
        else:
            final.update({t["id"]: (schema, schema_value) for t in by_schema.get(schema, [])})
    values = {v for _, v in final.values()}
    # Like Metabase, table rows fold back into one database-level row only when nothing actually changed.
    if len(values) == 1 and tables and len(final) == len(tables) and current.get(perm) == next(iter(values)):
        return
    nested: dict[str, dict[int, str]] = {}
    for tid, (schema, v) in sorted(final.items()):
        nested.setdefault(schema, {})[tid] = v
    current[perm] = nested


def _apply(state: State, changes: dict[str, Any]) -> None:
    store = _store(state)
    admin_id = _admin_id(state)
    for gkey, dbs in changes.items():
        gid = int(gkey)
        if gid == admin_id:
            continue  # Administrators' permissions are implicit and always full.
        for dkey, perms in dbs.items():
            current = store["perms"].setdefault((gid, int(dkey)), {})
            for perm in APPLY_ORDER:
                if perm not in perms:
                    continue
                _set_value(state, current, int(dkey), perm, perms[perm])
                # Querying implies seeing the data (unless view-data itself is in the same change).
                if perm == "create-queries" and perms[perm] != "no" and not isinstance(perms[perm], dict):
                    current["view-data"] = "unrestricted"


def _check_targets_exist(state: State, parsed: dict[int, dict[int, Any]]) -> None:
    groups = state.table("permissions_group")
    dbs = state.table("metabase_database")
    for gid, db_map in parsed.items():
        if groups.get(gid) is None or any(dbs.get(dbid) is None for dbid in db_map):
            raise errors.not_found()


def update_graph(state: State, body: dict, *, force: bool, skip_graph: bool) -> dict[str, Any]:
    """PUT /api/permissions/graph: check everything, then apply the changes, sandboxes and impersonations."""
    try:
        parsed = parse_graph(body)
    except InvalidGraph as exc:
        raise errors.bad_request(f"Cannot parse permissions graph because it is invalid: {exc}") from exc
    _check_targets_exist(state, parsed)
    group_ids = set(parsed)
    old = api_graph(state, group_ids=group_ids)
    changes = _diff_new(old["groups"], _api_form(parsed)) or {}
    if not force and body.get("revision") != old["revision"]:
        raise errors.revision_conflict()
    _check_premium(state, changes)
    # Metabase applies all of it in one transaction, so everything is checked before anything is written.
    if body.get("sandboxes") is not None:
        sandboxes.check_items(state, body["sandboxes"])
    if body.get("impersonations") is not None:
        impersonations.check_items(state, body["impersonations"])
    _apply(state, changes)
    sandboxes.after_graph_change(state, changes)
    impersonations.after_graph_change(state, changes)
    # Every accepted PUT saves a PermissionsRevision, changed or not.
    _store(state)["revision"] += 1
    upserted = sandboxes.upsert(state, body["sandboxes"]) if body.get("sandboxes") is not None else None
    # After the graph, as in Metabase: a PUT that says `impersonated` for a pair and brings its row keeps the row.
    inserted = impersonations.insert(state, body["impersonations"]) if body.get("impersonations") is not None else None
    out: dict[str, Any] = {"revision": _store(state)["revision"]}
    if not skip_graph:
        out["groups"] = api_graph(state, group_ids=group_ids)["groups"]
    if upserted is not None:
        out["sandboxes"] = upserted
    if inserted is not None:
        out["impersonations"] = inserted
    return out
