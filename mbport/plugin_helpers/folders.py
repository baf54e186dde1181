"""Folder names several kinds file their docs under (a table's schema, the snippet folders)."""

from __future__ import annotations

from typing import Any

from ..refs import split_address
from ..tree import slugify

NO_SCHEMA = "(no schema)"  # the folder of a table whose database has no schemas (SQLite ...)
PERSONAL_FOLDER = "@personal"
SNIPPETS_FOLDER = "@snippets"
TRANSFORMS_FOLDER = "@transforms"  # transform folders: collections of the `transforms` namespace
TENANTS_FOLDER = "@tenants"  # each tenant's own collection, by the tenant's slug


def table_folder(table_ref: Any) -> tuple[str, ...]:
    """`<db>/<schema>/<table>` slugs from a tables ref, the way the tables kind lays out its own files."""
    if isinstance(table_ref, dict) and "$ref" in table_ref:
        _, parts = split_address(table_ref["$ref"])
        if len(parts) == 3:
            db, schema, table = parts
            return slugify(db), slugify(schema or NO_SCHEMA), slugify(table)
    return ()
