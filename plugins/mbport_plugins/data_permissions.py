"""The data permissions graph as one doc: per (group, database) grants, with tables named instead of numbered."""

from __future__ import annotations

from typing import Any

from mbport.api import (GRAPH_ID, IMPORT_INFO, DiagnoseContext, ExportContext, GrantGraph, Match, MbportError,
                        Phase, address, address_kind, collect_refs, custom, skip, split_address)

# Permissions whose value nests the schema map one level down ({"schemas": ..., "native": ...}); `data` is the
# pre-0.50 form of view-data/create-queries.
NESTED = frozenset({"download", "data-model", "data"})
# The least permissive value of each permission: what a key Metabase leaves out of the graph means.
LEAST = {"view-data": "blocked", "create-queries": "no", "download": "none", "data-model": "none", "details": "no",
         "transforms": "no", "workspaces": "no", "data": "none"}


class DataPermissions(GrantGraph):
    """`GET /api/permissions/graph` as a single doc (`data-permissions/graph`).

    `list` returns the graph as one raw object. `normalize` turns group and database ids into refs and
    table-level entries (`{"<schema>": {"<table id>": value}}`) into entries keyed by the table's name (unique
    within a database and schema). Metabase leaves least-permissive values out of the graph (no
    `view-data: blocked`, `create-queries: no`, download/data-model `none`, `details: no`), so a missing key
    means the least permissive value, and a (group, database) pair that is missing has none at all. The
    Administrators group is left out: its full permissions are synthesised by Metabase and cannot be changed.

    Import: the graph is never created, always matched, and written after every group, database and table
    (`import_after`). `update` reads the current graph, PUTs only the permissions of the tree's (group,
    database) pairs that differ in meaning (pairs and keys the doc leaves out = least permissive, sent
    explicitly), never Administrators, and reads again and retries on a 409.
    """

    name = "data-permissions"
    endpoint = "/api/permissions/graph"
    after = ("groups", "databases", "tables")
    after_listing = ("tables",)  # their ids and names: listed, not their remappings
    fields = {
        "groups": custom("kept as `grants` with groups, databases and tables as refs and names", as_="grants"),
        "id": skip("mbport's fixed id for the one graph (`graph`), so import can match it"),
        "revision": skip("the server's edit counter; import PUTs with the target's current revision"),
        "sandboxes": skip("EE sandboxes are their own kind (`sandboxes`)"),
        "impersonations": skip("EE connection impersonations are their own kind (`impersonations`)"),
    }
    match = Match(address="graph")  # the one graph is the target's
    on, value = ("database", "databases"), "permissions"

    def list(self, api, ctx: ExportContext) -> list[dict[str, Any]]:
        return [{**api.get(self.endpoint), "id": GRAPH_ID}]

    def grant(self, key, value, ctx):
        if not value:
            return None
        # table ids → names (a missing table keeps its dangling address, and warns)
        names = {p: _translate(p, v, lambda schema, table: table_name(table, ctx)) for p, v in value.items()}
        return {"database": ctx.ref("databases", int(key)), "permissions": names}

    def normalize_more(self, doc, raw, ctx: ExportContext):
        doc = super().normalize_more(doc, raw, ctx)
        ids = (ctx.options.get("import") or {}).get("ids")
        if ids is not None:  # plan: the tables the target has, per database and schema (for `change`)
            doc[IMPORT_INFO]["scopes"] = table_universe({a: a for a in ids if address_kind(a) == "tables"}, key=_table_name)
        return doc

    def cells(self, grant: dict[str, Any]) -> dict[tuple[str, str, tuple[str, ...]], Any]:
        """A grant's values per (group, permission, (database[, schema[, table]])), for `mbport diff`."""
        group, database = grant["group"]["$ref"], (grant.get("database") or {}).get("$ref", "?")
        cells: dict[tuple[str, str, tuple[str, ...]], Any] = {}
        for perm, value in (grant.get("permissions") or {}).items():
            for sub, level in _levels(perm, value).items():
                what = perm if sub in ("", "schemas") else f"{perm} {sub}"
                if not isinstance(level, dict):
                    cells[(group, what, (database,))] = level
                    continue
                for schema, tables in level.items():
                    if not isinstance(tables, dict):
                        cells[(group, what, (database, schema))] = tables
                        continue
                    for table, v in tables.items():
                        cells[(group, what, (database, schema, table))] = v
        return cells

    def where(self, key: tuple[str, str, tuple[str, ...]], names: Any) -> str:
        database, *rest = key[2]
        db = names.name({"$ref": database})
        if len(rest) == 2:
            return f"table '{rest[1]}' of {db}"
        if len(rest) == 1:
            return f"schema '{rest[0]}' of {db}" if rest[0] else f"every table of {db}"
        return db

    def least(self, what):
        return LEAST.get(what.split(" ")[0], "none")

    # ---- import: never created, always matched; PUT only what differs, with the current revision ----
    # Sandboxes and impersonations first: the graph's "sandboxed" and "impersonated" are only safe once their rows
    # exist (see sandboxes.py and impersonations.py).
    import_after = ("groups", "databases", "tables", "sandboxes", "impersonations")

    def change(self, want, have, scope):
        """Semantic: absent = least permissive, per-table maps against schema-level values (see `canonical`); the
        permissions that differ are sent whole, every least value the doc leaves out made explicit."""
        want, have, scope = want or {}, have or {}, scope or {}
        return {p: explicit(p, want.get(p), have.get(p), scope) for p in changed_permissions(want, have, scope)} or None

    def refs(self, doc):
        """The groups and databases the grants name, and the tables named inside table-level grants."""
        found = collect_refs(doc)
        for grant in doc.get("grants") or []:
            db_key = split_address(grant["database"]["$ref"])[1][0]
            def note(schema: str, name: str, k: str = db_key) -> str:
                found.add(address("tables", k, schema, name))
                return ""

            for perm, value in grant["permissions"].items():
                _translate(perm, value, note)
        return found

    def diagnose(self, doc: dict[str, Any], phase: Phase, ctx: DiagnoseContext):
        """`sandboxed` and `impersonated` are only safe where their sandbox or impersonation exists: Metabase
        stores such a table or database as unrestricted and derives the restriction from that row, so a graph
        written without it would quietly open the data to the group. Each must be in the tree or on the target."""
        if phase != Phase.PLAN:
            return []
        docs, target, resolve = ctx.docs, ctx.target, ctx.resolve
        assert resolve is not None  # the PLAN phase has read the target
        problems = []
        for grant in doc.get("grants") or []:
            group, database = grant["group"], grant["database"]
            group_key, db_key = split_address(group["$ref"])[1][0], split_address(database["$ref"])[1][0]
            view = (grant.get("permissions") or {}).get("view-data")
            if view == "impersonated" and address("impersonations", group_key, db_key) not in docs and not _on_target(
                    target, "impersonations", group_id=resolve.optional(group), db_id=resolve.optional(database)):
                problems.append(_unprotected("impersonated", "database", db_key, group_key, "impersonations"))
            for schema, tables in (view.items() if isinstance(view, dict) else ()):
                for name, value in (tables.items() if isinstance(tables, dict) else ()):
                    table = {"$ref": address("tables", db_key, schema, name)}
                    if value == "sandboxed" and address("sandboxes", group_key, db_key, schema, name) not in docs \
                            and not _on_target(target, "sandboxes", group_id=resolve.optional(group),
                                               table_id=resolve.optional(table)):
                        problems.append(_unprotected("sandboxed", "table", f"{db_key}.{name}", group_key, "sandboxes"))
        return problems

    def sent_value(self, grant, ids):
        db_key = split_address(grant["database"]["$ref"])[1][0]
        return {p: _translate(p, v, lambda schema, name: _table_id(ids, db_key, schema, name))
                for p, v in grant["permissions"].items()}

    def scopes(self, ids):
        """Every table of the tree that the target has, per database: pairs the doc leaves out get the least values."""
        tables = {a: tid for a, tid in ids.items() if address_kind(a) == "tables"}
        return {str(ids[db]): u for db, u in table_universe(tables, key=lambda a: str(tables[a])).items() if db in ids}


def _on_target(target, kind: str, **ids: Any) -> bool:
    """Whether the target has a row of `kind` with these ids (None: an object this import creates: not yet)."""
    if None in ids.values():
        return False
    keys = tuple(ids)
    try:
        found = target.lookup(kind, "+".join(keys), lambda row: tuple(row.get(k) for k in keys))
    except KeyError:  # that kind's plugin is not installed
        return False
    return tuple(ids.values()) in found


def _unprotected(value: str, what: str, name: str, group: str, kind: str) -> str:
    return (f"data-permissions/graph: {value} view-data for {group} on the {what} {name}, but neither the tree nor "
            f"the target has it in its {kind}: writing the graph would leave the {what} unrestricted for the group; "
            f"export the {kind} too, or change the graph")


def _table_name(addr: str) -> str:
    return split_address(addr)[1][-1]


def _table_id(ids: dict[str, Any], db_key: str, schema: str, name: str) -> str:
    addr = address("tables", db_key, schema, name)
    if addr not in ids:
        raise MbportError(f"data-permissions/graph: grants on table {addr}, which the target does not have",
                          hint="check the table exists on the target (database sync) or remove it from the graph doc")
    return str(ids[addr])


def table_universe(tables: dict[str, Any], key) -> dict[str, dict[str, list[Any]]]:
    """{database address: {schema: [key(table address)]}} for table addresses `tables/<db>/<schema>/<name>`."""
    out: dict[str, dict[str, list[Any]]] = {}
    for addr in sorted(tables):
        parts = split_address(addr)[1]
        if len(parts) == 3:
            out.setdefault(address("databases", parts[0]), {}).setdefault(parts[1], []).append(key(addr))
    return out


def _translate(perm: str, value: Any, table_id) -> Any:
    """A permission value with each table key (per schema) replaced by `table_id(schema, key)`: ids by names on
    export, names by target ids on import."""
    def level(v: Any) -> Any:
        if not isinstance(v, dict):
            return v
        return {schema: ({table_id(schema, name): tv for name, tv in tables.items()} if isinstance(tables, dict)
                         else tables) for schema, tables in v.items()}

    if perm in NESTED and isinstance(value, dict):
        return {sub: level(v) for sub, v in value.items()}
    return level(value)


def _levels(perm: str, value: Any) -> dict[str, Any]:
    """A permission as {sub-key: value}: "" for flat ones, "schemas"/"native" for nested ones."""
    if perm in NESTED:
        return dict(value) if isinstance(value, dict) else ({"schemas": value} if value is not None else {})
    return {"": value} if value is not None else {}


def canonical(least: str | None, value: Any, universe: dict[str, list[Any]]) -> Any:
    """One permission level in a form two graphs can be compared in: absent → the least permissive value; a
    per-schema/per-table map expanded over the known tables (unlisted ones get the least value, unknown ones are
    ignored) and collapsed to one value when every table has it (as Metabase collapses uniform maps)."""
    if value is None:
        return least
    if not isinstance(value, dict):
        return value
    cells: dict[tuple[str, Any], Any] = {}
    for schema in sorted(set(value) | set(universe)):
        given, known = value.get(schema), universe.get(schema) or []
        if isinstance(given, dict):
            for table in known or sorted(given):
                cells[(schema, table)] = given.get(table, least)
        elif known:
            for table in known:
                cells[(schema, table)] = least if given is None else given
        else:
            cells[(schema, "*")] = least if given is None else given
    values = set(cells.values())
    if len(values) <= 1:
        return values.pop() if values else least
    return tuple(sorted(((s, str(t)), v) for (s, t), v in cells.items()))


def changed_permissions(want: dict[str, Any], have: dict[str, Any], universe: dict[str, list[Any]]) -> list[str]:
    """Permissions of one (group, database) pair whose canonical forms differ; a permission the tree does not
    know (absent from `want` and without a known least value) is left alone."""
    out = []
    for perm in sorted(set(want) | set(have)):
        if perm not in want and perm not in LEAST:
            continue
        a, b = _levels(perm, want.get(perm)), _levels(perm, have.get(perm))
        least = LEAST.get(perm)
        if any(canonical(least, a.get(sub), universe) != canonical(least, b.get(sub), universe) for sub in set(a) | set(b)):
            out.append(perm)
    return out


def explicit(perm: str, want: Any, have: Any, universe: dict[str, list[Any]]) -> Any:
    """The value to PUT for a changed permission, every least-permissive value the doc leaves out made explicit
    (a PUT merges table maps into the current ones, so an omitted table would keep its current value)."""
    least = LEAST.get(perm)

    def level(v: Any) -> Any:
        if v is None:
            return least
        if not isinstance(v, dict):
            return v
        out: dict[str, Any] = {}
        for schema in sorted(set(v) | set(universe)):
            given = v.get(schema)
            if isinstance(given, dict):
                out[schema] = {**{t: least for t in universe.get(schema) or []}, **given}
            else:
                out[schema] = least if given is None else given
        return out

    if perm in NESTED:
        subs = set(_levels(perm, want)) | set(_levels(perm, have)) | {"schemas"}
        wanted = _levels(perm, want)
        return {sub: level(wanted.get(sub)) for sub in sorted(subs)}
    return level(want)


def table_name(table_id: Any, ctx: ExportContext) -> str:
    """A table's name from the tables index; a missing table keeps its dangling address (and warns)."""
    try:
        tid = int(table_id)
    except (TypeError, ValueError):
        return str(table_id)
    addr = ctx.ref("tables", tid)["$ref"]
    kind, parts = split_address(addr)
    return parts[-1] if kind == "tables" and len(parts) == 3 else addr
