"""The fetch cache of incremental exports: detail objects kept beside the tree, reused while their list row is unchanged.

Export lists every kind (one request per list page, whatever the number of objects) and then fetches the
details of objects the list does not give in full (dashboards with their tabs and dashcards ...). A kind
that can tell from its list row that an object did not change (`FetchesDetail.fetch_key`) lets the next export
reuse the detail fetched last time, so an unchanged instance costs requests per kind, not per object.

The cache lives beside the tree in `<tree>.mbport-cache/` (never part of the tree or of a backup commit;
its own .gitignore keeps it out of a repository that holds the tree's parent). It is keyed by the source instance (URL and version), the
mbport version, the kind and the object id; an entry is used only when the object's list row has the same
fetch key. It is a cache: deleting it (or `export --no-cache`) changes nothing but the number of requests.

A detail can also copy other objects (a dashboard shows its cards, and Metabase hides the dashcards of an
archived card) that change without touching its own list row: `FetchesDetail.fetch_deps` names them, each entry
remembers their list rows' versions (`row_version`), and a reused detail whose dependency changed, was
archived or disappeared is fetched again. An object of such a kind that was archived at the last export and
is not any more may reappear on details that hid it: then every detail of the dependent kind is fetched again.
"""

from __future__ import annotations

import logging
import os
import threading
from pathlib import Path
from typing import Any

import orjson

from . import __version__
from .capabilities import fetch_deps, fetch_key

log = logging.getLogger("mbport.cache")

SUFFIX = ".mbport-cache"
FORMAT = 2


def folder_for(out: Path) -> Path:
    """The cache folder of a tree: beside it (`<tree>.mbport-cache`), like the import state, never inside."""
    out = Path(out).resolve()
    return out.with_name(out.name + SUFFIX)


def row_version(row: dict[str, Any]) -> str:
    """What says that a listed object changed: Metabase bumps updated_at on every write of the row; archiving
    (and restoring) is such a write, kept apart in case a version sets it without the timestamp."""
    return f"{row.get('updated_at')}|{bool(row.get('archived'))}"


class FetchCache:
    """Per kind: object id → (fetch key, fetched raw), read from the last export and written for the next."""

    def __init__(self, folder: Path, source: str):
        self.folder = folder
        self.source = source
        self._old: dict[str, dict[str, Any]] = {}
        self._new: dict[str, dict[str, Any]] = {}
        self._meta: dict[str, dict[str, list[str]]] = {}  # kind → dependency kind → ids archived last time
        self._lock = threading.Lock()
        self.hits = 0
        self._hit_summaries: dict[int, tuple[Any, dict[str, Any]]] = {}  # id(reused raw) → (kind, summary)
        self._hit_entries: dict[int, dict[str, Any]] = {}  # id(reused raw) → its entry of the last export
        self._deps: dict[tuple[str, str], list[tuple[str, Any]]] = {}  # (kind, id) → what its detail copies
        self.misses = 0

    @classmethod
    def for_tree(cls, out: Path, api: Any) -> FetchCache:
        version = getattr(getattr(api, "version", None), "tag", None)
        return cls(folder_for(out), f"{getattr(api, 'url', '?')} {version}")

    def _path(self, kind: str) -> Path:
        return self.folder / f"{kind}.json"

    def _load(self, kind: str) -> dict[str, Any]:
        if kind not in self._old:
            entries: dict[str, Any] = {}
            try:
                data = orjson.loads(self._path(kind).read_bytes())
                if (isinstance(data, dict) and data.get("format") == FORMAT and data.get("source") == self.source
                        and data.get("mbport") == __version__):
                    entries = data.get("entries") or {}
                    self._meta[kind] = data.get("archived") or {}
            except FileNotFoundError:
                pass
            except (OSError, orjson.JSONDecodeError) as exc:  # a damaged cache only costs requests
                log.info("ignoring the fetch cache of %s: %s", kind, exc)
            self._old[kind] = entries
        return self._old[kind]

    def lookup(self, kind: Any, summary: dict[str, Any]) -> dict[str, Any] | None:
        """The raw fetched last time for this summary, if its fetch key is unchanged; else None."""
        key = fetch_key(kind, summary)
        if key is None:
            return None
        entry = self._load(kind.name).get(str(summary.get("id")))
        with self._lock:
            if entry is not None and entry.get("key") == key:
                self.hits += 1
                self._hit_summaries[id(entry["raw"])] = (kind, summary)
                self._hit_entries[id(entry["raw"])] = entry
                return entry["raw"]
            self.misses += 1
        return None

    def keep(self, kind: Any, summary: dict[str, Any], raw: dict[str, Any]) -> None:
        """Remember a fetched (or reused) raw for the next export."""
        key = fetch_key(kind, summary)
        if key is None:
            return
        with self._lock:
            # Serialized now: normalizing must not be able to change what the next export reads back.
            entry = {"key": key, "raw": orjson.Fragment(_dumps(raw))}
            self._new.setdefault(kind.name, {})[str(summary.get("id"))] = entry
            self._deps[(kind.name, str(summary.get("id")))] = list(fetch_deps(kind, raw))

    def refetch_stale(self, api: Any, registry: Any, ctx: Any, warned: set[int]) -> bool:
        """Fetch again (concurrently) every reused raw whose doc had a warning (a ref to something deleted since)
        or whose dependencies changed since it was fetched; True if any."""
        held: dict[str, list[dict[str, Any]]] = {}  # not gone: held back (export.take_along may take it)
        for (name, _), raw in ctx.held_back.items():
            held.setdefault(name, []).append(raw)
        versions = _versions(ctx.raw, held)
        unhidden = {name for name in self._new if self._reappeared(name, versions)}
        stale = []
        for name, raws in ctx.raw.items():
            for i, raw in enumerate(raws):
                if id(raw) not in self._hit_summaries:
                    continue
                entry = self._hit_entries.get(id(raw)) or {}
                if id(raw) in warned or name in unhidden or _deps_changed(entry.get("deps") or {}, versions):
                    stale.append((raws, i, *self._hit_summaries.pop(id(raw))))
        fetched = api.map(lambda s: s[2].fetch(api, s[3]), stale)
        for (raws, i, kind, summary), raw in zip(stale, fetched, strict=True):
            raws[i] = raw
            self.keep(kind, summary, raw)
        log.debug("fetch cache: %d hits, %d fetched again", self.hits - len(stale), len(stale))
        return bool(stale)

    def _reappeared(self, name: str, versions: dict[str, dict[str, str]]) -> bool:
        """An object archived at the last export and live now: details that hid it may show it again."""
        self._load(name)
        archived = self._meta.get(name, {})
        return any(versions[dep].get(ident, "").endswith("|False")
                   for dep, idents in archived.items() for ident in idents)

    def save(self, ctx: Any = None) -> None:
        """Write this export's entries (objects gone from the instance drop out); best effort."""
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            ignore = self.folder / ".gitignore"
            if not ignore.exists():
                ignore.write_text("# mbport's fetch cache: not part of the tree\n*\n")
            for old in self.folder.glob("*.json"):
                if old.stem not in self._new:
                    old.unlink()
            versions = _versions(ctx.raw if ctx is not None else {})
            for kind, entries in self._new.items():
                dep_kinds: set[str] = set()
                for ident, entry in entries.items():
                    deps = self._deps.get((kind, ident)) or []
                    dep_kinds.update(dep for dep, _ in deps)
                    entry["deps"] = {dep: {str(i): versions[dep].get(str(i)) for d, i in deps if d == dep}
                                     for dep in {d for d, _ in deps}}
                archived = {dep: sorted(i for i, v in versions[dep].items() if v.endswith("|True"))
                            for dep in sorted(dep_kinds)}
                path = self._path(kind)
                tmp = path.with_name(path.name + ".tmp")
                tmp.write_bytes(_dumps({"format": FORMAT, "source": self.source, "mbport": __version__,
                                        "archived": archived, "entries": entries}))
                os.replace(tmp, path)
        except OSError as exc:
            log.warning("could not write the fetch cache in %s: %s", self.folder, exc)


def _dumps(value: Any) -> bytes:
    """JSON bytes of a raw object (an answer as parsed: string keys), or of one a kind's code gave other keys.

    orjson's OPT_NON_STR_KEYS makes every dict key a check of its own: on bench-L's 500 dashboards (25 MB)
    0.060 s of CPU with it against 0.039 s without, for the same bytes."""
    try:
        return orjson.dumps(value)
    except TypeError:
        return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS)


class _Versions(dict):
    """kind → str(id) → row_version of every object of that kind read by this export, worked out when a kind is first
    asked for: only the kinds that details copy from are (the cards a dashboard shows), not all 7,500 objects."""

    def __init__(self, raw: dict[str, list[dict[str, Any]]], held: dict[str, list[dict[str, Any]]] | None = None):
        super().__init__()
        self._raw, self._held = raw, held or {}

    def __missing__(self, kind: str) -> dict[str, str]:
        rows = [*(self._raw.get(kind) or []), *self._held.get(kind, [])]
        versions = self[kind] = {str(r.get("id")): row_version(r) for r in rows if isinstance(r, dict)}
        return versions


def _versions(raw: dict[str, list[dict[str, Any]]],
              held: dict[str, list[dict[str, Any]]] | None = None) -> dict[str, dict[str, str]]:
    """kind → str(id) → row_version, for every object read by this export (a kind's when first asked for), and the
    objects listings held back (`held`: a personal question a shared dashboard shows is not gone)."""
    return _Versions(raw, held)


def _deps_changed(deps: dict[str, dict[str, str | None]], versions: dict[str, dict[str, str]]) -> bool:
    """A dependency whose list row is not the one seen when the detail was fetched (or is gone now)."""
    return any(versions[dep].get(ident) != seen or seen is None
               for dep, idents in deps.items() for ident, seen in idents.items())
