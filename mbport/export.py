"""Export stages (dlt style, each returning a result): extract → index → normalize → select → place → write."""

from __future__ import annotations

import contextlib
import gc
import heapq
import logging
import threading
import weakref
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path
from typing import Any

from . import __version__, tree
from .cache import FetchCache
from .capabilities import FetchesDetail, FetchesUnlisted, ProvidesFolders, needs_fetch
from .errors import MbportError, UsageError
from .kind import ExportContext, Kind, PathContext, address_fields
from .refs import address_kind
from .registry import Registry

log = logging.getLogger("mbport.export")

Progress = Callable[[str, int, int], None]
"""`progress(kind, count, total)` once a kind is read. When it also has `fetching(kind, done, total)`, that is
called as a kind's objects are fetched one by one (dashboards: one request each), so a display can show what
is being read instead of the last kind that finished."""


@dataclass
class ExportResult:
    docs: dict[str, dict[str, Any]]
    paths: dict[str, str]
    counts: dict[str, int]
    warnings: list[str]
    source_version: str | None
    selected_extra: list[str] = field(default_factory=list)  # addresses pulled in as dependencies
    # what a listing held back (a personal collection's content, without include_personal) and exported content
    # uses, taken along so that the tree holds every object it refers to: address → its label
    taken_along: dict[str, str] = field(default_factory=dict)
    requests: int = 0
    index: dict[tuple[str, Any], str] = field(default_factory=dict)  # (kind, source id) → address

    @property
    def exit_code(self) -> int:
        return 3 if self.warnings else 0


PERSONAL_FOLDER = "@personal"  # docs/tree-format.md: personal collections live under collections/@personal/<owner>


def personal_content(paths: dict[str, str]) -> tuple[int, int]:
    """(personal collections, objects inside them) of a tree, read off its paths: what a backup or migration says
    it carries (or, with --exclude-personal, left out)."""
    roots = items = 0
    for path in paths.values():
        parts = Path(path).parts
        if len(parts) > 2 and parts[1] == PERSONAL_FOLDER:
            if len(parts) == 3 and parts[0] == "collections":
                roots += 1
            else:
                items += 1
    return roots, items


def kind_order(registry: Registry, names: list[str]) -> list[str]:
    """Kinds in an order where each comes after the kinds its `list` needs (`after`); among the kinds ready at
    once, by name (a lexicographical topological sort, done here: importing networkx would cost an export's
    start more than the sort of some twenty kinds)."""
    needs = {n: {d for d in registry[n].after if d in names and d != n} for n in names}
    ready = [n for n in names if not needs[n]]
    heapq.heapify(ready)
    order: list[str] = []
    while ready:
        name = heapq.heappop(ready)
        order.append(name)
        for other, deps in needs.items():
            if name in deps:
                deps.discard(name)
                if not deps:
                    heapq.heappush(ready, other)
    if len(order) < len(names):
        raise MbportError(f"kinds that need each other before they can be listed: {sorted(set(names) - set(order))}")
    return order


Rows = dict[str, list[dict[str, Any]]]  # kind → its raw objects
WhileWaiting = Callable[[Rows, Rows], None]


def extract(api, registry: Registry, names: list[str], ctx: ExportContext, progress: Progress | None = None,
            cache: FetchCache | None = None, while_waiting: WhileWaiting | None = None) -> None:
    """List (and fetch where needed) every object of every kind into ctx.raw.

    Kinds run concurrently as soon as the kinds their `list` needs (`after`) are read: with N kinds and
    one or two list requests each, waiting for them one after another would cost N round trips.
    `while_waiting(kinds read so far, kinds only listed so far)` runs on this thread whenever it would otherwise
    wait for requests (the second: the rows of kinds others start after (`after_listing`) whose details are still
    being fetched), and again as soon as such a kind is listed.
    """
    order = kind_order(registry, names)
    workers = min(len(order), getattr(api, "concurrency", 1))
    results: dict[str, list[dict[str, Any]]] = {}
    if workers <= 1:
        fetching = getattr(progress, "fetching", None)
        for name in order:
            results[name] = ctx.raw[name] = _extract_kind(api, registry[name], ctx, cache, fetching)
            if progress:
                progress(name, len(results[name]), len(results[name]))
    else:
        _extract_concurrently(api, registry, order, workers, ctx, results, progress, cache, while_waiting)
    for name in order:  # the same dict order whatever finished first
        ctx.raw[name] = ctx.raw.pop(name)


def _extract_concurrently(api, registry: Registry, order: list[str], workers: int, ctx: ExportContext,
                          results: dict[str, list[dict[str, Any]]], progress: Progress | None,
                          cache: FetchCache | None, while_waiting: WhileWaiting | None) -> None:
    """Every kind on a pool, each submitted by the thread that read the last kind it needs, the moment that kind is
    read: not when this thread next looks (it may be normalizing for a second or more in `while_waiting`, and the
    subscriptions waiting for the dashboards would start only then). This thread hands the kinds read to
    `while_waiting` and reports progress, in `order`."""
    needs = {n: {d for d in registry[n].after if d in order and d != n} for n in order}
    # the kinds whose listed rows are enough (pulses need the dashboards' ids, not one detail request each)
    listing = {n: needs[n] & set(registry[n].after_listing) for n in order}
    awaited = {d for n in order for d in listing[n]}
    first = _critical_first(order, needs)
    fetching = getattr(progress, "fetching", None)
    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="mbport-kind")
    lock = threading.RLock()  # a future that is already done runs its callback at once, on the submitting thread
    running: dict[Future, str] = {}
    read: set[str] = set()  # kinds whose list (and fetches) succeeded, as the workers see them
    listed: dict[str, list[dict[str, Any]]] = {}  # kinds others wait to see listed → their rows, before any fetch
    stopping = [False]
    woken: list[Future] = [Future()]  # done when a kind is listed: this thread hands it to `while_waiting` then

    def ready(name: str) -> bool:
        return needs[name] - listing[name] <= read and listing[name] <= read | listed.keys()

    def submit_ready() -> None:
        with lock:
            for name in first:
                if not stopping[0] and name not in read and name not in running.values() and ready(name):
                    early = {d: listed[d] for d in listing[name] - read}
                    # its own view of the kinds read: those still fetching details are there as listed
                    kind_ctx = replace(ctx, raw={**ctx.raw, **early}) if early else ctx
                    future = pool.submit(_extract_kind, api, registry[name], kind_ctx, cache, fetching,
                                         partial(was_listed, name) if name in awaited else None)
                    running[future] = name
                    future.add_done_callback(finished_one)

    def was_listed(name: str, rows: list[dict[str, Any]]) -> None:
        """A kind others wait to see listed is listed: they start now, while its details are fetched."""
        with lock:
            listed[name] = rows
            if not woken[0].done():
                woken[0].set_result(name)
        submit_ready()

    def finished_one(future: Future) -> None:
        """A kind is read: the kinds waiting only for it start now (from whichever thread sees it first: the
        callback runs after `wait` has woken this thread)."""
        if future.cancelled() or future.exception() is not None:
            return  # this thread re-raises it
        with lock:
            name = running[future]
            ctx.raw[name] = future.result()  # before the kinds that need it are listed
            read.add(name)
        submit_ready()

    try:
        submit_ready()
        while len(results) < len(order):
            with lock:
                pending = [f for f, name in running.items() if name not in results]
                if woken[0].done():
                    woken[0] = Future()
                only_listed = {n: rows for n, rows in listed.items() if n not in results}
            if while_waiting is not None:
                while_waiting(dict(results), only_listed)
            finished, _ = wait([*pending, woken[0]], return_when=FIRST_COMPLETED)
            finished = {f for f in finished if f in running}
            for future in sorted(finished, key=lambda f: order.index(running[f])):
                name = running[future]
                results[name] = future.result()  # re-raises the kind's error
                finished_one(future)
                if progress:
                    progress(name, len(results[name]), len(results[name]))
    finally:
        with lock:
            stopping[0] = True
            for future in running:
                future.cancel()
        pool.shutdown(wait=True)
        # submit_ready and finished_one name each other, and each future holds finished_one (its done callback),
        # which holds `running`, which holds the futures: cycles through ctx and so through every raw read, which
        # only a full collection would free (at bench-L, 430,000 objects and 0.36 s of CPU when the process
        # exits). Emptied here, they are freed by reference counting as soon as the export lets them go.
        running.clear()
        submit_ready = finished_one = _nothing  # their cells: neither names the other any more


def _nothing(*_: Any, **__: Any) -> None:
    pass


def _critical_first(order: list[str], needs: dict[str, set[str]]) -> list[str]:
    """The kinds, those with the longest chain of kinds waiting for them first (collections: cards and dashboards,
    then subscriptions), by name among equals: with more kinds ready than requests in flight, the kinds that
    others wait for get the first connections."""
    chain: dict[str, int] = {}
    for name in reversed(order):  # `order` lists a kind after the kinds it needs
        chain[name] = 1 + max((chain[other] for other in order if name in needs[other]), default=0)
    return sorted(order, key=lambda n: (-chain[n], n))


def _extract_kind(api, kind: Kind, ctx: ExportContext, cache: FetchCache | None,
                  fetching: Progress | None = None,
                  listed: Callable[[list[dict[str, Any]]], None] | None = None) -> list[dict[str, Any]]:
    """One kind, read; an answer of another shape (an object for a list, a missing field) is one clear error.
    `listed(rows)` is called once it is listed, before any detail is fetched."""
    try:
        raws = _list_and_fetch(api, kind, ctx, cache, fetching, listed)
        bad = next((r for r in raws if not isinstance(r, dict)), None) if isinstance(raws, list) else raws
        if bad is not None:
            raise TypeError(f"expected a list of objects, found {type(bad).__name__} {str(bad)[:40]!r}")
        return raws
    except MbportError:
        raise
    except Exception as exc:
        raise unexpected_answer(f"reading {kind.name} ({kind.endpoint})", exc) from exc


def unexpected_answer(what: str, exc: Exception) -> MbportError:
    """One line for a server answer that a kind cannot read (instead of a traceback)."""
    return MbportError(f"{what}: the server's answer is not what mbport expects ({type(exc).__name__}: {exc})",
                       hint="is this a Metabase of a supported version? run with --debug for details")


def _list_and_fetch(api, kind: Kind, ctx: ExportContext, cache: FetchCache | None,
                    fetching: Progress | None = None,
                    listed: Callable[[list[dict[str, Any]]], None] | None = None) -> list[dict[str, Any]]:
    """One kind: list, then fetch the details the list lacks (reusing cached ones whose list row is unchanged);
    `fetching(kind, done, total)` before the first fetch and after each."""
    summaries = kind.list(api, ctx)
    if listed is not None and isinstance(summaries, list) and all(isinstance(s, dict) for s in summaries):
        listed(summaries)  # (another shape is reported once the kind is read)
    todo = [s for s in summaries if needs_fetch(kind, s)]
    fetched: dict[int, dict[str, Any]] = {}
    if cache is not None:
        for s in todo:
            hit = cache.lookup(kind, s)
            if hit is not None:
                fetched[id(s)] = hit
                ctx.from_cache.add((kind.name, s.get("id")))
    missing = [s for s in todo if id(s) not in fetched]
    if missing and isinstance(kind, FetchesDetail):  # (only such kinds need a fetch)
        fetch = lambda s: kind.fetch(api, s)  # noqa: E731
        if fetching is not None:
            fetch = _counted(fetch, lambda done: fetching(kind.name, done, len(missing)))
            fetching(kind.name, 0, len(missing))
        fetched.update(zip([id(s) for s in missing], api.map(fetch, missing), strict=True))
    if cache is not None:
        for s in todo:
            cache.keep(kind, s, fetched[id(s)])
    return [fetched.get(id(s), s) for s in summaries]


def _counted(fn: Callable[[Any], Any], report: Callable[[int], None]) -> Callable[[Any], Any]:
    """fn, calling report(how many calls have finished) after each (from whichever thread ran it)."""
    lock, done = threading.Lock(), [0]

    def run(item: Any) -> Any:
        result = fn(item)
        with lock:
            done[0] += 1
            n = done[0]
        report(n)
        return result

    return run


UNLISTED_ROUNDS = 3  # an archived segment found through a card could point at another unlisted object


def fetch_unlisted(api, registry: Registry, ctx: ExportContext) -> bool:
    """Fetch by id the objects refs point at that no listing showed (Metabase lists no archived segment or
    measure, yet a card may still filter on one); True if any was found. A backup without them would hold
    dangling refs that no import can resolve."""
    unlisted = {name: kind for name, kind in registry.kinds.items() if isinstance(kind, FetchesUnlisted)}
    wanted = sorted(((kind, ident) for kind, ident in ctx.missing if kind in unlisted and isinstance(ident, int)),
                    key=str)
    found = [(kind, raw) for (kind, _), raw in zip(
        wanted, api.map(lambda k: unlisted[k[0]].fetch_unlisted(api, k[1]), wanted), strict=True) if raw]
    for kind, raw in found:
        ctx.raw.setdefault(kind, []).append(raw)
    return bool(found)


def take_along(api, registry: Registry, ctx: ExportContext, taken: list[tuple[str, Any]]) -> bool:
    """Take along the held-back objects (kindutil.hold_back: personal collections and their content, without
    include_personal) that refs point at (a team dashboard showing a question its author keeps in their personal
    collection), details fetched where the kind's listing lacks them; True if any was. Their own refs (the
    personal collection, its parents, another personal question) are taken along the next round, so the tree
    refers to nothing it lacks and `check` accepts it."""
    wanted = sorted((key for key in ctx.missing if key in ctx.held_back), key=str)
    raws = [ctx.held_back.pop(key) for key in wanted]

    def detail(item: tuple[tuple[str, Any], dict[str, Any]]) -> dict[str, Any]:
        kind = registry[item[0][0]]
        return kind.fetch(api, item[1]) if isinstance(kind, FetchesDetail) and needs_fetch(kind, item[1]) else item[1]

    for key, raw in zip(wanted, api.map(detail, list(zip(wanted, raws, strict=True))), strict=True):
        ctx.raw.setdefault(key[0], []).append(raw)
        taken.append(key)
    return bool(wanted)


def _normalize_again(registry: Registry, ctx: ExportContext, listed_warnings: int) -> dict[str, dict[str, Any]]:
    """Raw objects were added or replaced: index and normalize everything again, from scratch."""
    ctx.index.clear()
    ctx.missing.clear()
    del ctx.warnings[listed_warnings:]
    build_index(registry, ctx)
    return normalize(registry, ctx)


def build_index(registry: Registry, ctx: ExportContext, early: EarlyNormalizer | None = None) -> None:
    """ctx.index from every raw; a kind `early` indexed while the others were read (the same raws, all ids
    hashable) is taken from there instead of being indexed again."""
    for name, raws in ctx.raw.items():
        known = early.indexed.get(name) if early is not None else None
        if known is not None and known[0] is raws:
            ctx.index.update(known[1])
            continue
        kind = registry[name]
        for raw in raws:
            try:
                for k, ident, addr in kind.index(raw):
                    ctx.index[(k, ident)] = addr  # an id that is a list or an object is not hashable
            except Exception as exc:
                ident = raw.get("id") if isinstance(raw, dict) else None
                raise unexpected_answer(f"{name} id {str(ident)[:40]}", exc) from exc


def normalize(registry: Registry, ctx: ExportContext, warned: set[int] | None = None,
              early: EarlyNormalizer | None = None) -> dict[str, dict[str, Any]]:
    """Every raw → its doc; `warned` collects id() of the raws whose normalizing added a warning; docs that
    `early` made while other kinds were still being read are taken as they are."""
    docs: dict[str, dict[str, Any]] = {}
    made_early = early.docs if early is not None else {}
    for name in sorted(ctx.raw):
        kind = registry[name]
        for raw in ctx.raw[name]:
            before = len(ctx.warnings)
            if id(raw) in made_early:
                addr, doc = made_early[id(raw)]
            else:
                try:
                    addr, doc = normalize_one(kind, raw, ctx)
                except MbportError:
                    raise
                except Exception as exc:
                    what = raw.get("name") if isinstance(raw, dict) else None
                    ident = raw.get("id") if isinstance(raw, dict) else None
                    raise unexpected_answer(f"{name} id {ident!r}" + (f" ({what})" if what else ""), exc) from exc
                if warned is not None and len(ctx.warnings) > before:
                    warned.add(id(raw))
            if addr in docs:
                ctx.warnings.append(f"{addr}: two objects share this address; keeping the first")
                continue
            docs[addr] = doc
    ctx.current = ""
    return docs


_IDENTITY: weakref.WeakKeyDictionary[Kind, tuple[str, ...]] = weakref.WeakKeyDictionary()
_KEY_TYPES = (str, int)  # a tuple: `str | int` in the call would build a union for every object


def normalize_one(kind: Kind, raw: dict[str, Any], ctx: ExportContext) -> tuple[str, dict[str, Any]]:
    """One raw → (address, doc)."""
    identity = _IDENTITY.get(kind)
    if identity is None:  # worked out once per kind, not for each of its thousands of objects
        identity = _IDENTITY[kind] = tuple(f for f in address_fields(kind) if f in ("entity_id", "name", "email"))
    for f in identity:
        if not isinstance(raw.get(f), _KEY_TYPES):  # it would share the address "kind/" with every other such object
            raise KeyError(f)
    addr = kind.address_of(raw)
    ctx.current = addr
    return addr, kind.normalize(raw, ctx)


GIVE_UP_AFTER = 2  # early normalizing: failures beyond the successes after which a kind waits for the next round


class EarlyNormalizer:
    """Normalizes the kinds already read while slower ones are still being fetched (dashboards: one request
    each), on the thread that would otherwise only wait.

    A doc made early is kept only if making it warned nothing and looked up nothing missing: no id absent
    from the index of the kinds read so far (or listed: cards look their fields up in the tables listed, while
    the tables' remappings are fetched one request per table), no raw list of a kind still being read. Such a raw is tried again
    when more kinds are read, and what is still not made then is normalized by `normalize` once all kinds are
    read, so the tree is the same as without it.
    """

    def __init__(self, registry: Registry, ctx: ExportContext,
                 stage: Callable[[dict[str, bytes]], None] | None = None):
        self.registry, self.ctx = registry, ctx
        self.docs: dict[int, tuple[str, dict[str, Any]]] = {}  # id(raw) → (address, doc)
        # With `stage`, the files of kinds whose docs are all made (and placed: folders come from the
        # collections) are handed to the tree writer early: address → (doc, path, bytes).
        self.stage = stage
        self.staged: dict[str, tuple[dict[str, Any], str, bytes]] = {}
        self.placed: dict[str, Any] = {}  # what placing the staged kinds worked out (`place`'s `known`)
        self._tainted = [False]  # set by a lookup the kinds read so far cannot answer (see _Watched)
        # the index of the kinds read so far, grown round by round (not copied for each round)
        self._index: dict[tuple[str, Any], str] = _Watched({}, self._tainted)
        # kind → (its raws as read, their index entries): build_index takes them when the raws are still those
        self.indexed: dict[str, tuple[list[dict[str, Any]], dict[tuple[str, Any], str]]] = {}
        self._read: set[str] = set()  # kinds indexed so far
        self._pending: dict[str, list[dict[str, Any]]] = {}  # kind → raws not made yet, tried again each round
        self._staged_kinds: set[str] = set()
        self._own: dict[str, dict[tuple[str, Any], str]] = {}  # kind read → its index entries
        # kind only listed → (its listed rows, kept alive while their ids are used; their entries; each row's)
        self._listed: dict[str, tuple[list[dict[str, Any]], dict[tuple[str, Any], str], dict[int, list]]] = {}
        self._listings = True  # whether listed rows are indexed (until one's details disagree with its listing)

    def __call__(self, read: Rows, listed: Rows | None = None) -> None:
        """A round: index the kinds read since the last one and make what can be made. `listed`: kinds whose rows
        are listed and whose details are still being fetched (tables: their remappings); their rows' index
        entries (ids → addresses) are used until the kind is read, and checked against the read rows' then."""
        fresh = sorted(n for n in read if n not in self._read)
        listings = sorted(n for n in listed or () if n not in read and n not in self._listed) if self._listings else []
        if not fresh and not listings:
            return
        for name in listings:
            rows = (listed or {})[name]
            own = self._entries(name, rows)
            if own is not None:
                self._listed[name] = (rows, own[1], own[2])
                self._index.update(own[1])
        self._read.update(fresh)
        for name in fresh:
            used = self._listed.pop(name, None)
            own = self._entries(name, read[name], used[2] if used else None)
            if own is None:
                continue
            if own[0]:
                self.indexed[name] = (read[name], own[1])
            self._own[name] = own[1]
            self._index.update(own[1])
            self._pending[name] = list(read[name])
            if used is not None and any(own[1].get(key, _ABSENT) != addr for key, addr in used[1].items()):
                self._start_again(read)  # its details say otherwise than its listing: nothing made since is sure
        tainted = self._tainted
        view = ExportContext(raw=_Watched(read, tainted), index=self._index, options=self.ctx.options,
                             memo=self.ctx.memo)
        for name in sorted(self._pending):
            self._pending[name] = self._try(name, self._pending[name], view, tainted)
            if not self._pending[name]:
                del self._pending[name]
        if self.stage is not None:
            self._stage_made_kinds(read, self.stage)

    def _entries(self, name: str, raws: list[dict[str, Any]], known: dict[int, list[tuple[str, Any, str]]] | None = None,
                 ) -> tuple[bool, dict[tuple[str, Any], str], dict[int, list[tuple[str, Any, str]]]] | None:
        """(all ids hashable, the index entries of these raws, each raw's entries by id), or None if the kind cannot
        index them (build_index reports it once every kind is read). `known`: the entries of listed rows, still
        alive, that the raws may be (a listed table no detail was fetched for)."""
        index = self.registry[name].index
        try:
            each = {id(raw): known[id(raw)] if known and id(raw) in known else list(index(raw)) for raw in raws}
        except Exception:  # noqa: BLE001 - reported by build_index
            return None
        own: dict[tuple[str, Any], str] = {}
        try:
            for entries in each.values():
                for k, ident, addr in entries:
                    own[(k, ident)] = addr
        except TypeError:  # an id that is a list or an object is not hashable: build_index reports it
            own = {key: addr for entries in each.values() for k, ident, addr in entries for key in [(k, ident)]
                   if _hashable(key)}
            return False, own, each
        return True, own, each

    def _start_again(self, read: Rows) -> None:
        """Forget every doc made so far and every listing: they are made again from the kinds read only."""
        self._listings = False
        self._listed.clear()
        self._index = _Watched({key: addr for own in self._own.values() for key, addr in own.items()}, self._tainted)
        self.docs.clear()
        self._pending = {name: list(read[name]) for name in self._own if name in read}

    def _try(self, name: str, raws: list[dict[str, Any]], view: ExportContext, tainted: list[bool]) -> list[dict[str, Any]]:
        """Normalize what can be made now; returns the raws left for a later round. A kind whose docs look up a
        kind not read yet (cards before the tables they query) is given up for this round as soon as its
        failures outnumber its successes: made now, each would only be made again at the end."""
        kind = self.registry[name]
        left: list[dict[str, Any]] = []
        made = failed = 0
        for i, raw in enumerate(raws):
            if failed > made + GIVE_UP_AFTER:
                left.extend(raws[i:])
                break
            tainted[0] = False
            view.warnings.clear()
            try:
                doc = normalize_one(kind, raw, view)
            except Exception:  # noqa: BLE001 - normalized again later, where errors are reported
                doc = None
            if doc is not None and not tainted[0] and not view.warnings:
                self.docs[id(raw)] = doc
                made += 1
            else:
                failed += 1
                left.append(raw)
        return left

    def _made(self, name: str, read: dict[str, list[dict[str, Any]]]) -> bool:
        """Every doc of the kind made early, each at its own address."""
        raws = read.get(name, ())
        made = [doc for raw in raws if (doc := self.docs.get(id(raw))) is not None]
        return name in self._read and len(made) == len(raws) and len({m[0] for m in made}) == len(made)

    def _stage_made_kinds(self, read: dict[str, list[dict[str, Any]]], stage: Callable[[dict[str, bytes]], None]) -> None:
        folders = [n for n, kind in self.registry.kinds.items() if isinstance(kind, ProvidesFolders)]
        ready = [n for n in sorted(read) if n not in self._staged_kinds and self._made(n, read)]
        if not ready or not all(self._made(n, read) for n in folders):
            return
        # A doc's path depends on the docs of its own kind (names that collide) and on the folders only.
        docs = dict(self.docs[id(raw)] for n in {*folders, *ready} for raw in read[n])
        paths = place(self.registry, docs, self.placed)
        files: dict[str, bytes] = {}
        for addr, doc in docs.items():
            if address_kind(addr) in ready:
                files[paths[addr]] = tree.dumps(doc)
                self.staged[addr] = (doc, paths[addr], files[paths[addr]])
        self._staged_kinds.update(ready)
        stage(files)


def _hashable(key: Any) -> bool:
    try:
        hash(key)
    except TypeError:
        return False
    return True


_ABSENT = object()


class _Watched(dict):
    """A copy that notes (in `tainted`) every lookup of a key it lacks and every walk over all its items."""

    def __init__(self, data: dict, tainted: list[bool]):
        super().__init__(data)
        self._tainted = tainted

    def get(self, key, default=None):
        value = dict.get(self, key, _ABSENT)  # one lookup: refs are resolved through here for every doc
        if value is _ABSENT:
            self._tainted[0] = True
            return default
        return value

    def __missing__(self, key):  # dict's own subscript calls it on a miss only: a hit costs no Python call
        self._tainted[0] = True
        raise KeyError(key)

    def __contains__(self, key) -> bool:
        found = dict.__contains__(self, key)
        self._tainted[0] = self._tainted[0] or not found
        return found

    def _walked(self):
        self._tainted[0] = True  # the whole of it is not known yet

    def __iter__(self):
        self._walked()
        return dict.__iter__(self)

    def keys(self):
        self._walked()
        return dict.keys(self)

    def values(self):
        self._walked()
        return dict.values(self)

    def items(self):
        self._walked()
        return dict.items(self)


def select(registry: Registry, docs: dict[str, dict[str, Any]], roots: set[str]) -> tuple[set[str], list[str]]:
    """The selected docs plus everything they depend on (transitively); returns (keep, pulled-in extras)."""
    keep: set[str] = set()
    todo = list(roots)
    while todo:
        addr = registry.owner(todo.pop())
        if addr in keep or addr not in docs:
            continue
        keep.add(addr)
        todo.extend(registry[address_kind(addr)].refs(docs[addr]))
    return keep, sorted(keep - roots)


def place(registry: Registry, docs: dict[str, dict[str, Any]],
          known: dict[str, tuple[list[dict[str, Any]], dict[str, tuple[str, ...]], dict[str, str]]] | None = None,
          ) -> dict[str, str]:
    """Give every doc a readable, stable, collision-free path (relative, posix).

    `known` (kept by the caller between calls): kind → (its docs, the folders, their paths) of an earlier call. A kind
    whose docs are the very same objects, placed against the same folders, keeps those paths: a doc's path depends
    on the docs of its own kind (names that collide) and on the folders only, unless its kind's `path` looked at
    another doc (PathContext.doc), which is then never kept. An export places the kinds read early, then every doc."""
    folders: dict[str, tuple[str, ...]] = {}
    paths: dict[str, str] = {}
    pending = {addr: registry[address_kind(addr)] for addr in docs}
    # Folder-providing kinds (collections) go first, parents before children, so others can nest inside.
    providers = [a for a, k in pending.items() if isinstance(k, ProvidesFolders)]
    provider_set = set(providers)
    by_kind: dict[str, list[str]] = {}
    for addr in docs:
        if addr not in provider_set:
            by_kind.setdefault(pending[addr].name, []).append(addr)
    while providers:
        ready = [a for a in providers if _parent_placed(pending[a], docs[a], folders, docs)]
        if not ready:  # a parent missing from the tree: place the orphans at the top
            ready = providers
        _assign(ready, pending, docs, folders, paths, provide=True)
        providers = [a for a in providers if a not in paths]
    for name, addrs in by_kind.items():
        kind_docs = [docs[a] for a in addrs]
        before = known.get(name) if known is not None else None
        if before is not None and _same_objects(before[0], kind_docs) and before[1] == folders:
            paths.update(before[2])
            continue
        placed: dict[str, str] = {}
        if not _assign(addrs, pending, docs, folders, placed, provide=False) and known is not None:
            known[name] = (kind_docs, dict(folders), placed)
        paths.update(placed)
    return paths


def _same_objects(a: list[Any], b: list[Any]) -> bool:
    return len(a) == len(b) and all(x is y for x, y in zip(a, b, strict=True))


def _parent_placed(kind: Kind, doc: dict, folders: dict, docs: dict) -> bool:
    parent = kind.spec.container_ref(doc)
    return parent is None or parent not in docs or parent in folders


def _assign(addrs, pending, docs, folders, paths, provide: bool) -> bool:
    """Place `addrs` into `paths` (and `folders`, for providers); True if a kind's `path` looked at another doc."""
    ctx = PathContext(folders, docs)
    groups: dict[tuple[str, tuple[str, ...], str], list[str]] = {}
    for addr in addrs:
        kind = pending[addr]
        hint = kind.path(docs[addr], ctx)
        slug = tree.slugify(hint.stem)
        # Folder parts come from PathContext.folder_of (final already) or are slugged by the kind itself.
        groups.setdefault((kind.name, tuple(hint.folder), slug), []).append(addr)
    for (kind_name, folder, slug), members in groups.items():
        for addr in sorted(members):
            stem = slug if len(members) == 1 else f"{slug}~{tree.short_hash(addr)}"
            paths[addr] = "/".join((kind_name, *folder, stem + ".json"))
            if provide:
                folders[addr] = (*folder, stem)
    return ctx.looked_up


def run_export(api, registry: Registry, out: Path, *, kinds: list[str] | None = None,
               selection: Callable[[dict[str, dict[str, Any]]], set[str]] | None = None, options: dict[str, Any] | None = None,
               progress: Progress | None = None, cache: bool = True) -> ExportResult:
    """Export into `out`. With `cache`, details fetched last time are reused while their list row is
    unchanged (mbport/cache.py): the tree is the same, only the number of requests differs."""
    names = kinds or sorted(registry.kinds)
    unknown = [k for k in names if k not in registry]
    if unknown:
        raise UsageError(f"--kinds: unknown kind {unknown[0]!r}", hint=f"known kinds: {', '.join(sorted(registry.kinds))}")
    with no_automatic_gc() as leftovers:
        ctx = ExportContext(options=options or {})
        writer = tree.TreeWriter(out, owned=set(registry.kinds) | {tree.MANIFEST})  # refuses a non-tree folder now
        try:
            fetch_cache = FetchCache.for_tree(out, api) if cache else None
            # Every kind is read, even with --kinds: refs from the chosen kinds need the others' ids to resolve.
            result = _export(api, registry, names, ctx, writer, selection, progress, fetch_cache)
            if fetch_cache is not None:
                fetch_cache.save(ctx)
        except BaseException:
            writer.abort()
            raise
        leftovers.append(result)
    return result


@contextlib.contextmanager
def no_automatic_gc():
    """Python's cycle collector off while an export builds its objects, back on (as it was) after.

    Parsing the answers makes millions of lists and dicts that all stay alive, and each of them counts towards
    the next collection, which walks every object made so far: on bench-L's 62 MB of answers, collections took
    0.85 s of a 1.1 s parse. Turned back on, the first collection would still walk them all once (0.22–0.24 s
    of CPU at bench-L, a tenth of the export's), so when the block ends without an error, what is alive then
    is frozen (`gc.freeze`: left out of automatic collections, still freed by reference counting) until the
    object the block appended to the yielded list is dropped: a command that exits with its result never
    walks them; a long-running process gets them back into its collections (cycles included) once it lets the
    result go. (This undoes any freeze of the process's own.)
    """
    was = gc.isenabled()
    gc.disable()
    keep: list[Any] = []
    try:
        yield keep
    except BaseException:
        if was:
            gc.enable()
        raise
    if was:
        if keep:
            gc.freeze()
            # not at exit: unfrozen then, they would all be walked by the interpreter's last collection
            weakref.finalize(keep[0], gc.unfreeze).atexit = False
        gc.enable()


def _export(api, registry: Registry, names: list[str], ctx: ExportContext, writer: tree.TreeWriter, selection,
            progress: Progress | None, fetch_cache: FetchCache | None) -> ExportResult:
    whole = selection is None and set(names) == set(registry.kinds)  # else docs are dropped after normalizing
    early = EarlyNormalizer(registry, ctx, stage=writer.stage if whole else None)
    extract(api, registry, sorted(registry.kinds), ctx, progress, fetch_cache, while_waiting=early)
    listed_warnings = len(ctx.warnings)
    build_index(registry, ctx, early)
    warned: set[int] = set()
    docs = normalize(registry, ctx, warned, early)
    if fetch_cache is not None and fetch_cache.refetch_stale(api, registry, ctx, warned):
        # A cached detail pointed at something gone (a card deleted with its dashcards, which does not touch
        # the dashboard's list row): it was fetched again, so build the docs again from scratch.
        docs = _normalize_again(registry, ctx, listed_warnings)
    taken: list[tuple[str, Any]] = []
    for _ in range(UNLISTED_ROUNDS + len(ctx.held_back)):
        if not (fetch_unlisted(api, registry, ctx) | take_along(api, registry, ctx, taken)):
            break
        docs = _normalize_again(registry, ctx, listed_warnings)
    docs = {a: d for a, d in docs.items() if address_kind(a) in names or selection is not None}
    extras: list[str] = []
    if selection is not None:
        keep, extras = select(registry, docs, selection(docs))
        docs = {a: d for a, d in docs.items() if a in keep}
    paths = place(registry, docs, early.placed)
    counts: dict[str, int] = {}
    for addr in docs:
        counts[address_kind(addr)] = counts.get(address_kind(addr), 0) + 1
    version = api.version.tag if hasattr(api, "version") else None
    # include_personal: whether every personal collection was exported, or only what shared content takes along;
    # `diff TREE --url` exports the live side the same way (the tree's personal docs alone cannot tell which).
    manifest = {"format": tree.FORMAT_VERSION, "mbport": __version__, "source": {"metabase": version},
                "counts": dict(sorted(counts.items())), "include_personal": bool(ctx.options.get("include_personal"))}
    files = {}
    for addr, doc in docs.items():
        staged_doc, staged_path, content = early.staged.get(addr, (None, None, b""))
        files[paths[addr]] = content if staged_doc is doc and staged_path == paths[addr] else tree.dumps(doc)
    files[tree.MANIFEST] = tree.dumps(manifest)
    writer.commit(files)
    warnings = list(dict.fromkeys(ctx.warnings))  # one line per doc and dangling id, however often the doc holds it
    along = {a: registry[address_kind(a)].label(docs[a], docs) or a for key in taken
             if (a := ctx.index.get(key)) is not None and a in docs}
    return ExportResult(docs, paths, counts, warnings, version, extras, dict(sorted(along.items())),
                        getattr(api, "request_count", 0), ctx.index)
