"""What every part of the query compiler shares: the failed-query error, a compiled query, SQL quoting."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


class QueryError(Exception):
    """A query that Metabase would report as failed (HTTP 202, status "failed")."""

    def __init__(self, message: str, error_type: str = "invalid-query", cls: str = "clojure.lang.ExceptionInfo"):
        super().__init__(message)
        self.error_type = error_type
        self.cls = cls


@dataclass
class Compiled:
    sql: str
    params: list[Any] = field(default_factory=list)
    fields: list[dict] | None = None  # the metadata field rows of a simple MBQL query's columns (legacy shape)
    cols: list[dict] | None = None  # the result columns of an MBQL query, shaped like Metabase's `data.cols`


def quote(identifier: str) -> str:
    return '"' + str(identifier).replace('"', '""') + '"'


def literal(value: Any) -> str:
    """A value inlined into SQL (the compiler writes MBQL literals into the text, so no parameter order to keep)."""
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    raise QueryError(f"Invalid value in query: {value!r}")


def field_id(ref: Any) -> int | None:
    # ["field", 12, {...}] (MBQL 4) or ["field", {...}, 12] (MBQL 5)
    if isinstance(ref, list) and len(ref) >= 2 and ref[0] == "field":
        return next((x for x in ref[1:] if isinstance(x, int) and not isinstance(x, bool)), None)
    return None


def value_type(value: Any) -> str:
    """The Metabase base type of a value (a literal in a query, or a warehouse value of a native query's column)."""
    if isinstance(value, bool):
        return "type/Boolean"
    if isinstance(value, int):
        return "type/Integer"
    if isinstance(value, float):
        return "type/Float"
    if isinstance(value, str):
        return "type/DateTime" if _DATETIME.match(value) else "type/Date" if _DATE.match(value) else "type/Text"
    return "type/*"
