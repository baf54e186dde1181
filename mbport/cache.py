"""The fetch cache of incremental exports: detail objects kept beside the tree, reused while their list row is unchanged.

Export lists every kind (one request per list page, whatever the number of objects) and then fetches the
details of objects the list does not give in full (dashboards with their tabs and dashcards ...). A kind
that can tell from its list row that an object did not change (`Kind.fetch_key`) lets the next export
reuse the detail fetched last time, so an unchanged instance costs requests per kind, not per object.

The cache lives beside the tree in `<tree>.mbport-cache/` (never part of the tree or of a backup commit;
its own .gitignore keeps it out of a repository that holds the tree's parent). It is keyed by the source instance (URL and version), the
mbport version, the kind and the object id; an entry is used only when the object's list row has the same
fetch key. It is a cache: deleting it (or `export --no-cache`) changes nothing but the number of requests.
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
from pathlib import Path
from typing import Any

import orjson

from . import __version__

log = logging.getLogger("mbport.cache")

SUFFIX = ".mbport-cache"
FORMAT = 1


def folder_for(out: Path) -> Path:
    """The cache folder of a tree: beside it (`<tree>.mbport-cache`), like the import state, never inside."""
    out = Path(out).resolve()
    return out.with_name(out.name + SUFFIX)


# Usage statistics change on every view: a dashboard looked at is not a dashboard changed.
VOLATILE = frozenset({"view_count", "last_viewed_at", "last_used_at", "last_used_param_values"})


def summary_key(summary: dict[str, Any], ignore: frozenset[str] = VOLATILE) -> str:
    """A digest of a list row without its usage statistics: for kinds whose list row changes on every save."""
    row = {k: v for k, v in summary.items() if k not in ignore}
    return hashlib.sha1(orjson.dumps(row, option=orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS)).hexdigest()


class FetchCache:
    """Per kind: object id → (fetch key, fetched raw), read from the last export and written for the next."""

    def __init__(self, folder: Path, source: str):
        self.folder = folder
        self.source = source
        self._old: dict[str, dict[str, Any]] = {}
        self._new: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()
        self.hits = 0
        self._hit_summaries: dict[int, tuple[Any, dict[str, Any]]] = {}  # id(reused raw) → (kind, summary)
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
            except FileNotFoundError:
                pass
            except (OSError, orjson.JSONDecodeError) as exc:  # a damaged cache only costs requests
                log.info("ignoring the fetch cache of %s: %s", kind, exc)
            self._old[kind] = entries
        return self._old[kind]

    def lookup(self, kind: Any, summary: dict[str, Any]) -> dict[str, Any] | None:
        """The raw fetched last time for this summary, if its fetch key is unchanged; else None."""
        key = kind.fetch_key(summary)
        if key is None:
            return None
        entry = self._load(kind.name).get(str(summary.get("id")))
        with self._lock:
            if entry is not None and entry.get("key") == key:
                self.hits += 1
                self._hit_summaries[id(entry["raw"])] = (kind, summary)
                return entry["raw"]
            self.misses += 1
        return None

    def keep(self, kind: Any, summary: dict[str, Any], raw: dict[str, Any]) -> None:
        """Remember a fetched (or reused) raw for the next export."""
        key = kind.fetch_key(summary)
        if key is None:
            return
        with self._lock:
            # Serialized now: normalizing must not be able to change what the next export reads back.
            entry = {"key": key, "raw": orjson.Fragment(orjson.dumps(raw, option=orjson.OPT_NON_STR_KEYS))}
            self._new.setdefault(kind.name, {})[str(summary.get("id"))] = entry

    def refetch_stale(self, api: Any, registry: Any, ctx: Any, warned: set[int]) -> bool:
        """Fetch again every reused raw whose doc had a warning (a ref to something deleted since); True if any."""
        stale = False
        for raws in ctx.raw.values():
            for i, raw in enumerate(raws):
                if id(raw) in warned and id(raw) in self._hit_summaries:
                    kind, summary = self._hit_summaries.pop(id(raw))
                    raws[i] = kind.fetch(api, summary)
                    self.keep(kind, summary, raws[i])
                    stale = True
        return stale

    def save(self) -> None:
        """Write this export's entries (objects gone from the instance drop out); best effort."""
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            ignore = self.folder / ".gitignore"
            if not ignore.exists():
                ignore.write_text("# mbport's fetch cache: not part of the tree\n*\n")
            for old in self.folder.glob("*.json"):
                if old.stem not in self._new:
                    old.unlink()
            for kind, entries in self._new.items():
                path = self._path(kind)
                tmp = path.with_name(path.name + ".tmp")
                tmp.write_bytes(orjson.dumps({"format": FORMAT, "source": self.source, "mbport": __version__,
                                              "entries": entries}, option=orjson.OPT_NON_STR_KEYS))
                os.replace(tmp, path)
        except OSError as exc:
            log.warning("could not write the fetch cache in %s: %s", self.folder, exc)
