"""The emulator's state: tables of Metabase rows keyed by id, sessions, counters, a clock; no HTTP here."""

from __future__ import annotations

import bisect
import contextlib
import copy
import datetime as dt
import secrets
import string
import threading
from collections.abc import Callable, Iterator
from typing import Any, Self

from .profiles import Profile

NANOID_ALPHABET = string.ascii_letters + string.digits + "_-"


def new_entity_id() -> str:
    """A 21-character NanoID, as Metabase generates for entity_id (64 symbols: 6 random bits each)."""
    return "".join(NANOID_ALPHABET[b & 63] for b in secrets.token_bytes(21))


def is_entity_id(value: Any) -> bool:
    return isinstance(value, str) and len(value) == 21 and all(c in NANOID_ALPHABET for c in value)


class Row(dict[str, Any]):
    """A stored row: a dict that tells its table when one of its values changes.

    A real Metabase answers lookups from indexed SQL tables and undoes a failed request with a transaction;
    routes here change rows in place (`row["archived"] = True`, `row.update(body)`), so each row reports
    its changes to its table, which keeps its lookup indexes current and journals the old values.
    Copies (`dict(row)`, `row.copy()`, deep copies) are plain dicts that report nothing.
    """

    __slots__ = ("_table",)

    def __init__(self, table: Table | None, values: dict[str, Any]):
        dict.__init__(self, values)
        self._table = table

    def __setitem__(self, key: str, value: Any) -> None:
        table = self._table
        if table is None:
            dict.__setitem__(self, key, value)
            return
        had = key in self
        old = dict.get(self, key)
        dict.__setitem__(self, key, value)
        table._changed(self, key, had, old, value)

    def __delitem__(self, key: str) -> None:
        old = self[key]
        dict.__delitem__(self, key)
        if self._table is not None:
            self._table._changed(self, key, True, old, _ABSENT)

    def update(self, other: Any = (), /, **more: Any) -> None:
        for key, value in dict(other, **more).items():
            self[key] = value

    def setdefault(self, key: str, default: Any = None) -> Any:
        if key not in self:
            self[key] = default
        return self[key]

    def pop(self, key: str, *default: Any) -> Any:
        if key in self:
            value = self[key]
            del self[key]
            return value
        if default:
            return default[0]
        raise KeyError(key)

    def popitem(self) -> tuple[str, Any]:
        key = next(reversed(self))
        return key, self.pop(key)

    def clear(self) -> None:
        for key in list(self):
            del self[key]

    def __ior__(self, other: Any) -> Self:  # type: ignore[misc, override]  # | makes a plain dict; |= keeps the Row
        self.update(other)
        return self

    def __copy__(self) -> dict[str, Any]:
        return dict(self)

    def __deepcopy__(self, memo: dict[int, Any]) -> dict[str, Any]:
        return copy.deepcopy(dict(self), memo)

    def __reduce__(self) -> tuple[Any, ...]:
        return dict, (dict(self),)


_ABSENT = object()  # the value of a key a row does not have


class Table:
    """One model's rows, keyed by integer id (auto-increment from 1, never reused, like a SQL table).

    Equality lookups (`where(card_id=3)`) are answered from an index per key, built on the first lookup of
    that key and kept current as rows report their changes; without them hydrating N cards or writing N
    objects scans whole tables N times (O(n²) on instances with thousands of objects).
    """

    def __init__(self, name: str, entity_ids: bool = False, journal: Callable[[], list | None] | None = None):
        self.name = name
        self.entity_ids = entity_ids
        self.rows: dict[int, Row] = {}
        self._next_id = 1
        # key -> value -> rows in id order; None for a key whose values cannot be indexed (lists, dicts)
        self._indexes: dict[str, dict[Any, list[Row]] | None] = {}
        self._journal = journal or (lambda: None)

    # ---- writes ----
    def insert(self, row: dict[str, Any], now: str | None = None) -> Row:
        stored = Row(None, row)
        stored["id"] = self._next_id
        self._next_id += 1
        if self.entity_ids and "entity_id" not in stored:
            stored["entity_id"] = new_entity_id()
        if now is not None:
            stored.setdefault("created_at", now)
            stored.setdefault("updated_at", now)
        stored._table = self
        self.rows[stored["id"]] = stored
        for key, index in list(self._indexes.items()):
            if index is not None and not self._add(index, key, stored.get(key), stored):
                self._indexes[key] = None
        journal = self._journal()
        if journal is not None:
            journal.append((self._undo_insert, stored))
        return stored

    def delete(self, id_: int) -> Row | None:
        row = self.rows.pop(id_, None)
        if row is None:
            return None
        for key, index in self._indexes.items():
            if index is not None:
                self._remove(index, row.get(key), row)
        row._table = None
        journal = self._journal()
        if journal is not None:
            journal.append((self._undo_delete, row))
        return row

    def _changed(self, row: Row, key: str, had: bool, old: Any, new: Any) -> None:
        journal = self._journal()
        if journal is not None:
            journal.append((self._undo_change, (row, key, old if had else _ABSENT)))
        index = self._indexes.get(key)
        if index is None:
            return
        old_value = old if had else None
        new_value = None if new is _ABSENT else new
        if old_value is new_value or (type(old_value) is type(new_value) and old_value == new_value):
            return
        self._remove(index, old_value, row)
        if not self._add(index, key, new_value, row):
            self._indexes[key] = None

    # ---- undo (State.transaction) ----
    def _undo_insert(self, row: Row) -> None:
        self.delete(row["id"])

    def _undo_delete(self, row: Row) -> None:
        row._table = self
        self.rows[row["id"]] = row
        self.rows = dict(sorted(self.rows.items()))  # keep id order for scans
        self._indexes.clear()

    def _undo_change(self, change: tuple[Row, str, Any]) -> None:
        row, key, old = change
        if old is _ABSENT:
            if key in row:
                del row[key]
        else:
            row[key] = old

    # ---- reads ----
    def get(self, id_: Any) -> Row | None:
        """A row by integer id, or by entity_id when the table has them."""
        if isinstance(id_, int) or (isinstance(id_, str) and id_.isdigit()):
            return self.rows.get(int(id_))
        if self.entity_ids and is_entity_id(id_):
            found = self._lookup("entity_id", id_)
            return found[0] if found else None
        return None

    def existing(self, id_: Any) -> Row:
        """A row the state itself refers to (a stored foreign key, a row just written): missing is a bug here."""
        row = self.get(id_)
        if row is None:
            raise LookupError(f"{self.name} {id_!r}: referred to, but not stored")
        return row

    def value(self, id_: Any, key: str) -> Any:
        """`key` of the row `id_`; None when there is no such row."""
        row = self.get(id_)
        return None if row is None else row.get(key)

    def where(self, pred: Callable[[Row], bool] | None = None, **equals: Any) -> list[Row]:
        """Rows matching every key=value given and the predicate, in id order."""
        best_key, best = None, None
        for key, value in equals.items():
            found = self._lookup(key, value)
            if found is not None and (best is None or len(found) < len(best)):
                best_key, best = key, found
        rest = [(k, v) for k, v in equals.items() if k != best_key]
        rows = self.rows.values() if best is None else best
        if not rest and pred is None:
            return list(rows)
        return [row for row in rows if all(row.get(k) == v for k, v in rest) and (pred is None or pred(row))]

    def first(self, pred: Callable[[Row], bool] | None = None, **equals: Any) -> Row | None:
        found = self.where(pred, **equals)
        return found[0] if found else None

    def _lookup(self, key: str, value: Any) -> list[Row] | None:
        """The rows whose `key` equals `value`, from the key's index; None when it cannot be indexed."""
        if key not in self._indexes:
            built: dict[Any, list[Row]] = {}
            indexable = all(self._add(built, key, row.get(key), row) for row in self.rows.values())
            self._indexes[key] = built if indexable else None
        index = self._indexes[key]
        if index is None:
            return None
        try:
            return index.get(value, _NONE)
        except TypeError:  # an unhashable value equals no indexed one
            return None

    @staticmethod
    def _add(index: dict[Any, list[Row]], key: str, value: Any, row: Row) -> bool:
        try:
            bucket = index.setdefault(value, [])
        except TypeError:
            return False
        if bucket and bucket[-1]["id"] > row["id"]:
            bisect.insort(bucket, row, key=lambda r: r["id"])
        else:
            bucket.append(row)
        return True

    @staticmethod
    def _remove(index: dict[Any, list[Row]], value: Any, row: Row) -> None:
        bucket = index.get(value)
        if bucket is None:
            return
        for i, candidate in enumerate(bucket):
            if candidate is row:
                del bucket[i]
                break
        if not bucket:
            del index[value]

    def __iter__(self) -> Iterator[Row]:
        return iter(list(self.rows.values()))

    def __len__(self) -> int:
        return len(self.rows)


_NONE: list[Row] = []


# Models that carry an entity_id in Metabase (api-surface.md §1.7); every other table has none.
ENTITY_ID_MODELS = frozenset({
    "action", "card", "collection", "dashboard", "dashboardcard", "dashboard_tab", "dimension", "document",
    "measure", "legacy_metric", "permissions_group", "pulse", "pulse_card", "pulse_channel", "segment", "native_query_snippet",
    "timeline", "transform", "transform_job", "transform_library", "transform_tag", "user",
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
        self._journal: list[tuple[Callable[[Any], None], Any]] | None = None  # undo steps of a transaction

    def table(self, name: str) -> Table:
        if name not in self.tables:
            self.tables[name] = Table(name, entity_ids=name in ENTITY_ID_MODELS, journal=lambda: self._journal)
        return self.tables[name]

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        """Undo every row change of the block if it raises, like the SQL transaction around a Metabase write.

        Ids handed out stay used, as with SQL sequences. Callers hold `lock`; a nested block joins the outer.
        """
        if self._journal is not None:
            yield
            return
        self._journal = []
        try:
            yield
        except BaseException:
            journal, self._journal = self._journal, None
            for undo, what in reversed(journal):
                undo(what)
            raise
        finally:
            self._journal = None

    def emit(self, event: str, **payload: Any) -> None:
        """Tell the areas that subscribed to `event` what happened (events.py lists every event)."""
        from . import events

        events.emit(self, event, **payload)

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
