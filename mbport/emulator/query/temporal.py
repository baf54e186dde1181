"""Temporal bucketing, extraction and relative date ranges in SQLite, the way Metabase's SQL drivers compute them
(weeks start on Sunday, the report timezone is UTC)."""

from __future__ import annotations

import calendar
import datetime as dt
import re
from typing import Any

from .base import QueryError, literal

# Truncations keep the column's type; Metabase renders them as ISO-8601 instants in the report timezone.
TRUNCATIONS = {
    "minute": "strftime('%Y-%m-%dT%H:%M:00Z', {x})",
    "hour": "strftime('%Y-%m-%dT%H:00:00Z', {x})",
    "day": "strftime('%Y-%m-%dT00:00:00Z', {x})",
    "week": "strftime('%Y-%m-%dT00:00:00Z', {x}, '-' || strftime('%w', {x}) || ' days')",
    "month": "strftime('%Y-%m-01T00:00:00Z', {x})",
    "quarter": ("printf('%s-%02d-01T00:00:00Z', strftime('%Y', {x}), "
                "((CAST(strftime('%m', {x}) AS INTEGER) - 1) / 3) * 3 + 1)"),
    "year": "strftime('%Y-01-01T00:00:00Z', {x})",
}
# Extractions are integers (day-of-week: 1 = Sunday, Metabase's default start of week).
EXTRACTIONS = {
    "minute-of-hour": "CAST(strftime('%M', {x}) AS INTEGER)",
    "hour-of-day": "CAST(strftime('%H', {x}) AS INTEGER)",
    "day-of-week": "(CAST(strftime('%w', {x}) AS INTEGER) + 1)",
    "day-of-month": "CAST(strftime('%d', {x}) AS INTEGER)",
    "day-of-year": "CAST(strftime('%j', {x}) AS INTEGER)",
    "week-of-year": "(CAST(strftime('%U', {x}) AS INTEGER) + 1)",
    "month-of-year": "CAST(strftime('%m', {x}) AS INTEGER)",
    "quarter-of-year": "((CAST(strftime('%m', {x}) AS INTEGER) - 1) / 3 + 1)",
    "year-of-era": "CAST(strftime('%Y', {x}) AS INTEGER)",
}
# lib/temporal_bucket.cljc `describe-temporal-unit`: how a bucketed column's display name ends ("Created At: Month").
UNIT_NAMES = {
    "minute": "Minute", "hour": "Hour", "day": "Day", "week": "Week", "month": "Month", "quarter": "Quarter",
    "year": "Year", "minute-of-hour": "Minute of hour", "hour-of-day": "Hour of day", "day-of-week": "Day of week",
    "day-of-month": "Day of month", "day-of-year": "Day of year", "week-of-year": "Week of year",
    "month-of-year": "Month of year", "quarter-of-year": "Quarter of year", "year-of-era": "Year",
    "second": "Second", "millisecond": "Millisecond",
}
_DATE_ONLY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def bucket(sql: str, unit: str | None) -> str:
    """A column or value bucketed by a temporal unit; no unit or "default" leaves it as it is."""
    if unit in (None, "default"):
        return sql
    template = TRUNCATIONS.get(unit) or EXTRACTIONS.get(unit)
    if template is None:
        raise QueryError(f"Invalid temporal unit: {unit!r}")
    return template.format(x=sql)


def is_date_only(value: Any) -> bool:
    return isinstance(value, str) and bool(_DATE_ONLY.match(value))


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def truncate(moment: dt.datetime, unit: str) -> dt.datetime:
    """The start of the `unit` that holds `moment`."""
    day = moment.replace(hour=0, minute=0, second=0, microsecond=0)
    if unit == "minute":
        return moment.replace(second=0, microsecond=0)
    if unit == "hour":
        return moment.replace(minute=0, second=0, microsecond=0)
    if unit == "day":
        return day
    if unit == "week":
        return day - dt.timedelta(days=(day.weekday() + 1) % 7)
    if unit == "month":
        return day.replace(day=1)
    if unit == "quarter":
        return day.replace(day=1, month=(day.month - 1) // 3 * 3 + 1)
    if unit == "year":
        return day.replace(day=1, month=1)
    raise QueryError(f"Invalid temporal unit: {unit!r}")


def add(moment: dt.datetime, n: int, unit: str) -> dt.datetime:
    if unit in ("minute", "hour", "day", "week"):
        return moment + dt.timedelta(**{unit + "s": n})
    months = {"month": 1, "quarter": 3, "year": 12}.get(unit)
    if months is None:
        raise QueryError(f"Invalid temporal unit: {unit!r}")
    total = moment.year * 12 + moment.month - 1 + n * months
    year, month = divmod(total, 12)
    return moment.replace(year=year, month=month + 1, day=min(moment.day, calendar.monthrange(year, month + 1)[1]))


def interval(n: Any, unit: str, include_current: bool = False, offset: tuple[int, str] | None = None
             ) -> tuple[dt.datetime, dt.datetime]:
    """[start, end) of a time-interval filter: legacy_mbql/util.cljc `desugar-time-interval` (n = "current",
    "last", "next" or an integer; the current unit is left out unless include-current)."""
    if n == "current":
        n = 0
    elif n == "last":
        n = -1
    elif n == "next":
        n = 1
    if not isinstance(n, int):
        raise QueryError(f"Invalid time interval: {n!r}")
    start = truncate(now(), unit)
    if offset:
        start = add(start, offset[0], offset[1])
    if n == 0:
        return start, add(start, 1, unit)
    if n < 0:
        return add(start, n, unit), add(start, 1 if include_current else 0, unit)
    return add(start, 0 if include_current else 1, unit), add(start, n + 1, unit)


def as_datetime(sql: str) -> str:
    """A column normalized for comparing with instants ('YYYY-MM-DD HH:MM:SS')."""
    return f"datetime({sql})"


def in_range(sql: str, start: dt.datetime, end: dt.datetime) -> str:
    column = as_datetime(sql)
    return (f"({column} >= {literal(start.strftime('%Y-%m-%d %H:%M:%S'))} "
            f"AND {column} < {literal(end.strftime('%Y-%m-%d %H:%M:%S'))})")
