"""The emulator's state: tables of Metabase rows keyed by id, sessions, counters, a clock; no HTTP here."""

from __future__ import annotations

import contextlib
import datetime as dt
import secrets
import string
import threading
from collections.abc import Callable, Iterator
from typing import Any

from .profiles import Profile

NANOID_ALPHABET = string.ascii_letters + string.digits + "_-"

Row = dict[str, Any]


def new_entity_id() -> str:
    """A 21-character NanoID, as Metabase generates for entity_id."""
    return "".join(secrets.choice(NANOID_ALPHABET) for _ in range(21))


def is_entity_id(value: Any) -> bool:
    return isinstance(value, str) and len(value) == 21 and all(c in NANOID_ALPHABET for c in value)


# The read request being served on this thread (a fresh token per GET; None during writes). A real Metabase
# answers `where` with an indexed SQL query; here equality lookups index a table once per read request
# instead of scanning it once per row they hydrate (O(n²) on instances with thousands of objects).
_read_scope = threading.local()


@contextlib.contextmanager
def read_scope(active: bool) -> Iterator[None]:
    previous = getattr(_read_scope, "token", None)
    _read_scope.token = object() if active else None
    try:
        yield
    finally:
        _read_scope.token = previous


@contextlib.contextmanager
def answering(state: State) -> Iterator[None]:
    """The rest of a write request only reads (it renders its answer): memoize lookups as reads do."""
    previous = state.extra.get("request_memo")
    state.extra["request_memo"] = {}
    try:
        with read_scope(True):
            yield
    finally:
        state.extra["request_memo"] = previous


class Table:
    """One model's rows, keyed by integer id (auto-increment from 1, never reused, like a SQL table)."""

    def __init__(self, name: str, entity_ids: bool = False):
        self.name = name
        self.entity_ids = entity_ids
        self.rows: dict[int, Row] = {}
        self._next_id = 1
        self._memo_token: object | None = None  # the read scope the memoized indexes belong to
        self._memo: dict[str, dict[Any, list[Row]] | None] = {}

    def insert(self, row: Row, now: str | None = None) -> Row:
        row = dict(row)
        row["id"] = self._next_id
        self._next_id += 1
        if self.entity_ids and "entity_id" not in row:
            row["entity_id"] = new_entity_id()
        if now is not None:
            row.setdefault("created_at", now)
            row.setdefault("updated_at", now)
        self.rows[row["id"]] = row
        self._memo_token = None
        return row

    def get(self, id_: Any) -> Row | None:
        """A row by integer id, or by entity_id when the table has them."""
        if isinstance(id_, int) or (isinstance(id_, str) and id_.isdigit()):
            return self.rows.get(int(id_))
        if self.entity_ids and is_entity_id(id_):
            return next((r for r in self.rows.values() if r.get("entity_id") == id_), None)
        return None

    def where(self, pred: Callable[[Row], bool] | None = None, **equals: Any) -> list[Row]:
        """Rows matching every key=value given and the predicate, in id order."""
        token = getattr(_read_scope, "token", None)
        if token is not None and equals:
            # The index of the first key narrows the rows; the other keys and the predicate filter those
            # (same rows, same id order as a scan; a table's fields answered 20 scans of every field).
            (key, value), *rest = equals.items()
            found = self._indexed(token, key, value)
            if found is not None:
                if not rest and pred is None:
                    return found
                return [row for row in found if all(row.get(k) == v for k, v in rest) and (pred is None or pred(row))]
        out = []
        for row in self.rows.values():
            if all(row.get(k) == v for k, v in equals.items()) and (pred is None or pred(row)):
                out.append(row)
        return out

    def _indexed(self, token: object, key: str, value: Any) -> list[Row] | None:
        """where(key=value) from an index built once per read request; None when values are unhashable."""
        if self._memo_token is not token:
            self._memo, self._memo_token = {}, token
        if key not in self._memo:
            index: dict[Any, list[Row]] | None = {}
            try:
                for row in self.rows.values():
                    index.setdefault(row.get(key), []).append(row)
            except TypeError:
                index = None
            self._memo[key] = index
        index = self._memo[key]
        try:
            return list(index.get(value, ())) if index is not None else None
        except TypeError:
            return None

    def first(self, pred: Callable[[Row], bool] | None = None, **equals: Any) -> Row | None:
        found = self.where(pred, **equals)
        return found[0] if found else None

    def delete(self, id_: int) -> Row | None:
        self._memo_token = None
        return self.rows.pop(id_, None)

    def __iter__(self) -> Iterator[Row]:
        return iter(list(self.rows.values()))

    def __len__(self) -> int:
        return len(self.rows)


# Models that carry an entity_id in Metabase (api-surface.md §1.7); every other table has none.
ENTITY_ID_MODELS = frozenset({
    "action", "card", "collection", "dashboard", "dashboardcard", "dashboard_tab", "dimension", "document",
    "measure", "permissions_group", "pulse", "pulse_card", "pulse_channel", "segment", "native_query_snippet",
    "timeline", "user",
})


class State:
    """Everything the emulated instance stores. Route modules read and write it under `lock`."""

    def __init__(self, profile: Profile):
        self.profile = profile
        self.lock = threading.RLock()
        self.tables: dict[str, Table] = {}
        self.sessions: dict[str, int] = {}  # session key -> user id
        self.counters: dict[str, int] = {}
        self.settings: dict[str, Any] = {}
        self.setup_token: str | None = new_uuid()
        # Free-form per-area storage for things that are not rows (permission graphs, sync jobs ...).
        self.extra: dict[str, Any] = {}

    def table(self, name: str) -> Table:
        if name not in self.tables:
            self.tables[name] = Table(name, entity_ids=name in ENTITY_ID_MODELS)
        return self.tables[name]

    def next(self, counter: str) -> int:
        self.counters[counter] = self.counters.get(counter, 0) + 1
        return self.counters[counter]

    @staticmethod
    def now() -> str:
        """A timestamp as Metabase renders them: ISO-8601 with microseconds and Z."""
        return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def new_uuid() -> str:
    import uuid

    return str(uuid.uuid4())
