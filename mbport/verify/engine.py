"""Verify: read two live instances, pair their objects (import state first, natural keys otherwise), compare
every field of each pair, and run every card's and dashcard's query on both sides."""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from ..client import Stoppable
from ..refs import split_address
from .canon import Canon, Difference, Tokens, diff
from .kinds import KINDS, UNPAIRED, Kind, plain
from .result import KindCount, VerifyResult
from .rows import compare_rows


@dataclass
class Side:
    api: Any
    role: str  # "source" or "target"
    map_database: dict[str, str] = field(default_factory=dict)  # source database name → target's (source only)
    docs: dict[str, dict[Any, dict]] = field(default_factory=dict)  # kind → id → doc
    personal: set[int] = field(default_factory=set)  # personal collections and the collections inside them
    owners: dict[int, str] = field(default_factory=dict)  # personal collection id → its owner's email
    left_out: dict[str, str] = field(default_factory=dict)  # kind the import left out on purpose → why
    unavailable: dict[str, str] = field(default_factory=dict)  # kind the instance has but will not show now → why
    labels: dict[str, dict[str, int]] = field(default_factory=dict)  # kind → label → times used (for "(2)")
    tokens: Tokens = None  # type: ignore[assignment]

    def __post_init__(self) -> None:
        self.tokens = Tokens(self.role)

    def token(self, kind: str, value: Any) -> Any:
        return self.tokens.of(kind, value)


OLDER_OR_OSS = "an older version, or an open-source build"


def state_index(ids: dict[str, Any] | None) -> dict[tuple[str, str], Any]:
    """(kind, last key part) → target id of an import/migrate state: the part is the source's entity_id for
    every kind whose address ends with one."""
    out: dict[tuple[str, str], Any] = {}
    for addr, target_id in (ids or {}).items():
        kind, parts = split_address(addr)
        if parts and not isinstance(target_id, dict | list):
            out[(kind, parts[-1])] = target_id
    return out


def _name(kind: Kind, label: str) -> str:
    return f"{kind.noun} '{label}'"


def pair(kind: Kind, src: Side, tgt: Side, by_state: dict) -> tuple[list[tuple[dict, dict]], list[dict], list[dict]]:
    """Pairs of (source doc, target doc), then the source docs and the target docs nobody paired. Generation
    by generation (a collection's key names its parent, so parents are paired and named first)."""
    pairs, only_a, only_b = [], [], []
    a_all, b_all = list(src.docs[kind.name].values()), list(tgt.docs[kind.name].values())
    for depth in sorted({kind.depth(d) for d in a_all + b_all}):
        a = [d for d in a_all if kind.depth(d) == depth]
        b = {d["id"]: d for d in b_all if kind.depth(d) == depth}
        got = _pair(kind, src, tgt, by_state, a, b)
        _name_pairs(kind, *got, src, tgt)
        pairs += got[0]
        only_a += got[1]
        only_b += got[2]
    return pairs, only_a, only_b


def _pair(kind: Kind, src: Side, tgt: Side, by_state: dict, a: list[dict], b: dict) -> tuple[list, list, list]:
    pairs, rest = [], []
    for doc in a:
        target_id = by_state.get((kind.name, doc.get("entity_id"))) if kind.pairs_by_state and doc.get("entity_id") else None
        if target_id is not None and target_id in b:
            pairs.append((doc, b.pop(target_id)))
        else:
            rest.append(doc)
    by_key: dict[tuple, list[dict]] = {}
    for doc in sorted(b.values(), key=lambda d: str(d.get("id"))):
        by_key.setdefault(_hashable(kind.key(doc, tgt)), []).append(doc)
    only_source = []
    for doc in rest:
        candidates = by_key.get(_hashable(kind.key(doc, src)))
        if candidates:
            pairs.append((doc, candidates.pop(0)))
        else:
            only_source.append(doc)
    only_target = [d for docs in by_key.values() for d in docs]
    return pairs, only_source, only_target


def _hashable(key: Any) -> Any:
    if isinstance(key, list | tuple):
        return tuple(_hashable(k) for k in key)
    if isinstance(key, dict):
        return tuple(sorted((k, _hashable(v)) for k, v in key.items()))
    return key


def _name_pairs(kind: Kind, pairs, only_source, only_target, src: Side, tgt: Side) -> dict[Any, str]:
    """Give every paired object one identity on both sides; an unpaired one says which side it is on."""
    seen = src.labels.setdefault(kind.name, {})
    names: dict[Any, str] = {}
    for s, t in sorted(pairs, key=lambda p: str(p[0].get("id"))):
        label = kind.label(s, src)
        seen[label] = seen.get(label, 0) + 1
        name = _name(kind, label if seen[label] == 1 else f"{label} ({seen[label]})")
        src.tokens.names[(kind.name, s["id"])] = tgt.tokens.names[(kind.name, t["id"])] = name
        names[s["id"]] = name
    for doc in only_source:
        src.tokens.names[(kind.name, doc["id"])] = _name(kind, plain(kind.label(doc, src))) + UNPAIRED[0]
    for doc in only_target:
        tgt.tokens.names[(kind.name, doc["id"])] = _name(kind, plain(kind.label(doc, tgt))) + UNPAIRED[1]
    return names


def _pair_children(kind: Kind, s: dict, t: dict, src: Side, tgt: Side) -> None:
    """Sub-objects (a dashboard's tabs and dashcards) paired by their key inside the paired parent."""
    a, b = kind.children(s, src), kind.children(t, tgt)
    for child_kind, items in a.items():
        others: dict[Any, list[tuple[Any, str]]] = {}
        for cid, key, label in b.get(child_kind, []):
            others.setdefault(_hashable(key), []).append((cid, label))
        for cid, key, label in items:
            match = others.get(_hashable(key))
            if match:
                tid, _ = match.pop(0)
                src.tokens.names[(child_kind, cid)] = tgt.tokens.names[(child_kind, tid)] = label
            else:
                src.tokens.names[(child_kind, cid)] = f"{label} (only on source)"
        for rest in others.values():
            for tid, label in rest:
                tgt.tokens.names[(child_kind, tid)] = f"{label} (only on target)"


def _unpaired_children(kind: Kind, doc: dict, side: Side) -> None:
    for child_kind, items in (kind.children(doc, side) if hasattr(kind, "children") else {}).items():
        for cid, _key, label in items:
            side.tokens.names[(child_kind, cid)] = f"{label} (only on {side.role})"


Progress = Callable[[str, int, int], None]
# The parts an object brings along (a dashboard: its dashboard questions and subscriptions; a group: its members),
# as selection.py's `PartOf`: a doc's field → the kind it points at.
PARTS = {"cards": ("dashboard_id", "dashboards"), "pulses": ("dashboard_id", "dashboards"),
         "memberships": ("id", "groups")}


def selected(side: Side, selections: tuple[str, ...] | list[str], contents: bool = True) -> dict[str, set[Any]]:
    """Kind → ids of one side's objects the selections name (KIND:NAME with NAME its name, email, label or entity id; an
    entity id alone; an address `KIND/ENTITY_ID`), with what is in a selected collection (sub-collections too) and the
    parts of a selected object (unless not `contents`): `--select` as plan and import read it, on a live instance."""
    from ..display import words

    aliases = {alias: k.name for k in KINDS for alias in (k.name, *words(k.name).aliases)}
    by_kind = {k.name: k for k in KINDS}
    found: dict[str, set[Any]] = {}
    for sel in selections:
        kind_text, sep, name = sel.partition(":")
        if not sep and "/" in sel:  # an address, as plan and diff print them
            kind_text, sep, name = sel.partition("/")
        kind = aliases.get(kind_text)
        for kname, docs in side.docs.items():
            if sep and kname != kind:
                continue
            for i, d in docs.items():
                names = (d.get("entity_id"),) if not sep else (
                    d.get("name"), d.get("email"), d.get("entity_id"), plain(by_kind[kname].label(d, side)))
                if (name if sep else sel) in names:
                    found.setdefault(kname, set()).add(i)
    if not contents:
        return found
    collections = side.docs.get("collections", {})
    picked = found.setdefault("collections", set())
    picked |= {i for i, c in collections.items()
               if any(int(p) in picked for p in str(c.get("location") or "/").split("/") if p.isdigit())}
    for kname, docs in side.docs.items():
        inside = {i for i, d in docs.items() if d.get("collection_id") in picked} if kname != "collections" else set()
        found.setdefault(kname, set()).update(inside)
    for kname, (part, owner) in PARTS.items():
        found.setdefault(kname, set()).update(
            i for i, d in side.docs.get(kname, {}).items() if d.get(part) in found.get(owner, set()))
    return found


def _check_selection(selections: tuple[str, ...] | list[str], src: Side, tgt: Side) -> None:
    """A selection that names nothing on either instance is a usage error naming it (exit 2), as in plan."""
    from ..selection import NotSelected

    kinds = sorted(k.name for k in KINDS)
    for sel in selections:
        kind, sep, name = sel.partition(":")
        if sep and not name or not sel:
            raise NotSelected(f"--select {sel!r}: expected KIND:NAME, an entity id or an address, e.g. "
                              "collection:Sales or dashboard:Ops", hint=f"kinds: {', '.join(kinds)}")
        if not any(selected(side, [sel]).get(k) for side in (src, tgt) for k in kinds):
            raise NotSelected(f"--select {sel!r}: nothing of that name on either instance",
                              hint="KIND:NAME (a collection brings its contents), an entity id or an address")


class _Ahead:
    """Every kind whose `fetch` needs no other kind's docs, fetched on both sides at once from the start (in KINDS'
    order, a few kinds at a time per side): one after another, each kind's round trips added up. A kind that
    `needs` others is fetched when verify reaches it, right away (its own threads)."""

    PER_SIDE = 3  # kinds fetched at once on each side (each at its client's concurrency)

    def __init__(self, src: Side, tgt: Side):
        self.sides = [(side, _Reading(side)) for side in (src, tgt)]
        self.pool = ThreadPoolExecutor(2 * self.PER_SIDE, thread_name_prefix="mbport-verify-ahead")
        self.now = ThreadPoolExecutor(2, thread_name_prefix="mbport-verify")
        self.futures = {kind.name: [self.pool.submit(kind.fetch, reading) for _, reading in self.sides]
                        for kind in KINDS if not kind.needs}

    def fetch(self, kind: Kind) -> tuple[list | None, list | None]:
        futures = self.futures.pop(kind.name, None) or [self.now.submit(kind.fetch, side) for side, _ in self.sides]
        return futures[0].result(), futures[1].result()

    def stop(self) -> None:
        """No request more from the kinds fetched ahead (verify stopped first: an error, Ctrl-C)."""
        for _, reading in self.sides:
            reading.api.stop()
        for pool in (self.pool, self.now):
            pool.shutdown(wait=True, cancel_futures=True)


class _Reading:
    """A side as a kind fetched ahead sees it: its client, stoppable (such a kind reads nothing else of the side)."""

    def __init__(self, side: Side):
        self.side, self.api = side, Stoppable(side.api)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.side, name)


def _read_kinds(ahead: _Ahead, src: Side, tgt: Side, by_state: dict, include_personal: bool, kinds: list[str] | None,
                result: VerifyResult, compared: list, skipped: dict[str, int], progress: Progress | None) -> None:
    """Fetch, leave out what is personal, and pair every kind, in KINDS' order."""
    for kind in KINDS:
        docs_a, docs_b = ahead.fetch(kind)
        why = src.unavailable.get(kind.name) or tgt.unavailable.get(kind.name) or OLDER_OR_OSS
        if docs_a is None and docs_b is None:
            result.notes.append(f"{kind.name}: neither instance has them ({why})")
            if progress:
                progress(kind.name, 0, len(KINDS))
            continue
        if docs_a is None or docs_b is None:
            lacking = src if docs_a is None else tgt
            result.notes.append(f"{kind.name}: the {lacking.role} does not have them "
                                f"({lacking.unavailable.get(kind.name, OLDER_OR_OSS)})")
            docs_a, docs_b = ([d for d in docs or [] if not kind.built_in(d)] for docs in (docs_a, docs_b))
        for side, docs in ((src, docs_a), (tgt, docs_b)):
            side.docs[kind.name] = {d["id"]: d for d in docs or []}
            if not include_personal:
                mine = [i for i, d in side.docs[kind.name].items() if kind.personal(d, side)]
                for i in mine:
                    # named alike on both sides (not by the instance's own id): a shared dashcard showing a
                    # personal question taken along compares equal on an exact copy
                    side.tokens.names[(kind.name, i)] = kind.personal_name(side.docs[kind.name][i], side)
                    del side.docs[kind.name][i]
                skipped[side.role] += len(mine)
        pairs, only_a, only_b = pair(kind, src, tgt, by_state)
        if hasattr(kind, "children"):
            for s, t in pairs:
                _pair_children(kind, s, t, src, tgt)
            for d in only_a:
                _unpaired_children(kind, d, src)
            for d in only_b:
                _unpaired_children(kind, d, tgt)
        if kind.name in src.left_out:
            result.notes.append(f"{kind.name}: not compared: {src.left_out[kind.name]}")
        elif kinds is None or kind.name in kinds:
            compared.append((kind, pairs, only_a, only_b))
        if progress:
            progress(kind.name, len(src.docs[kind.name]), len(KINDS))


def run_verify(source_api, target_api, *, state_ids: dict[str, Any] | None = None,
               map_database: dict[str, str] | None = None, kinds: list[str] | None = None, queries: bool = True,
               include_personal: bool = False, left_out: dict[str, str] | None = None,
               select: tuple[str, ...] | list[str] = (), progress: Progress | None = None,
               exact_select: bool = False) -> VerifyResult:
    """Compare two live instances: every object of every kind (all of them, or `kinds`), then, unless
    `queries` is False, every card's and dashcard's rows. `state_ids` is an import/migrate state's
    address → target id; `map_database` the source database names that are other names on the target.
    Personal collections and their contents are left out (mbport migrates them only when asked) unless
    `include_personal`; so are the kinds in `left_out` (kind → why: what the import before left out on purpose,
    API keys without --with-api-keys), and the references to their objects. With `select` (`--select`), only the
    objects it names on either side (with a collection's contents and an object's parts) and their queries, a
    selection naming nothing being a usage error; `exact_select`: `select` is the addresses a selective import planned
    (nothing else is taken along, nothing is refused)."""
    started = time.monotonic()
    before = source_api.request_count + target_api.request_count
    mapping = dict(map_database or {})
    # The target side knows which of its databases stand for a source's (value → itself), to compare them alike.
    src, tgt = Side(source_api, "source", mapping), Side(target_api, "target", {v: v for v in mapping.values()})
    src.left_out = tgt.left_out = dict(left_out or {})
    result = VerifyResult(source_api.url, target_api.url)
    by_state = state_index(state_ids)
    known = {k.name for k in KINDS}
    unknown = [k for k in kinds or [] if k not in known]
    if unknown:
        from ..errors import UsageError

        raise UsageError(f"--kinds: unknown kind {unknown[0]!r}", hint=f"choose from {', '.join(sorted(known))}")
    compared: list[tuple[Kind, list, list, list]] = []
    skipped = {"source": 0, "target": 0}
    ahead = _Ahead(src, tgt)
    try:
        _read_kinds(ahead, src, tgt, by_state, include_personal, kinds, result, compared, skipped, progress)
    finally:
        ahead.stop()
    if select:
        if not exact_select:
            _check_selection(select, src, tgt)
        in_source, in_target = selected(src, select, not exact_select), selected(tgt, select, not exact_select)
        narrowed: list[tuple[Kind, list, list, list]] = []
        for kind, pairs, only_a, only_b in compared:
            ids_a, ids_b = in_source.get(kind.name, set()), in_target.get(kind.name, set())
            kept = ([(s, t) for s, t in pairs if s["id"] in ids_a or t["id"] in ids_b],
                    [d for d in only_a if d["id"] in ids_a], [d for d in only_b if d["id"] in ids_b])
            if any(kept):  # a kind the selection has nothing of is not reported
                narrowed.append((kind, *kept))
        compared = narrowed
        rows_of = {k: in_source.get(k, set()) for k in ("cards", "dashboards")}
    else:
        rows_of = None
    if any(skipped.values()):
        result.notes.append(f"left out: {skipped['source']} objects of the source and {skipped['target']} of the "
                            "target in personal collections (compare them with --include-personal)")
    for kind, pairs, only_a, only_b in compared:
        count = result.counts[kind.name] = KindCount(len(pairs), 0, 0, len(only_a), len(only_b))
        for doc in only_a:
            result.differences.append(Difference(kind.name, src.token(kind.name, doc["id"]).removesuffix(UNPAIRED[0]),
                                                 "", None, None, "only in source"))
        for doc in only_b:
            result.differences.append(Difference(kind.name, tgt.token(kind.name, doc["id"]).removesuffix(UNPAIRED[1]),
                                                 "", None, None, "only in target"))
        for s, t in pairs:
            name = src.token(kind.name, s["id"])
            a = Canon(src.tokens, kind.name, name).doc(kind.prepare(s, src))
            b = Canon(tgt.tokens, kind.name, name).doc(kind.prepare(t, tgt))
            found = diff(kind.name, name, a, b)
            count.equal += not found
            count.differ += bool(found)
            result.differences.extend(found)
    seen = set()
    for tokens in (src.tokens, tgt.tokens):
        for owner, path, value in tokens.unclassified:
            if (owner, path) not in seen:
                seen.add((owner, path))
                result.differences.append(Difference("unclassified", owner, path, value, None,
                                                     f"the number {value} is neither a known id nor a known number"))
    result.unknown_fields = src.tokens.unknown_fields | tgt.tokens.unknown_fields
    if queries and (kinds is None or "cards" in kinds or "dashboards" in kinds):
        compare_rows(src, tgt, result, kinds, progress=progress, only=rows_of)
    result.requests = source_api.request_count + target_api.request_count - before
    result.seconds = time.monotonic() - started
    return result
