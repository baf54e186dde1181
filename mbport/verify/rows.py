"""Rows: every paired card's query, and every paired dashcard's with its dashboard's default filter values, run on
both instances; compared by columns, row count and a hash of the rows (order-insensitive unless the query sorts)."""

from __future__ import annotations

import hashlib
import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import orjson

from ..client import ApiError, ConnectionFailed
from .canon import Difference, semantic_query
from .result import KindCount

_ORDER_BY = re.compile(r"\border\s+by\b", re.I)


@dataclass
class Answer:
    error: str | None = None
    columns: list[str] | None = None
    count: int = 0
    digest: str = ""
    truncated: bool = False


def _digest(rows: list, ordered: bool) -> str:
    hashes = [hashlib.sha256(orjson.dumps(r, option=orjson.OPT_NON_STR_KEYS)).hexdigest() for r in rows]
    return hashlib.sha256("".join(hashes if ordered else sorted(hashes)).encode()).hexdigest()


def sorts(query: Any) -> bool:
    """Whether the query fixes the order of its rows (MBQL order-by, or ORDER BY in SQL)."""
    q = semantic_query(query)
    if not isinstance(q, dict):
        return False
    if q.get("type") == "native":
        return bool(_ORDER_BY.search(str((q.get("native") or {}).get("query") or "")))
    inner, found = q.get("query") or {}, False
    while isinstance(inner, dict) and not found:
        found = bool(inner.get("order-by"))
        inner = inner.get("source-query")
    return found


def run(api, path: str, body: dict, ordered: bool) -> Answer:
    try:
        out = api.post(path, json=body)
    except (ApiError, ConnectionFailed) as exc:
        return Answer(error=str(exc).splitlines()[0][:200])
    if not isinstance(out, dict):
        return Answer(error=f"unexpected answer: {str(out)[:100]}")
    if out.get("status") not in (None, "completed") or out.get("error"):
        return Answer(error=str(out.get("error") or out.get("status"))[:200])
    data = out.get("data") or {}
    rows = data.get("rows") or []
    cols = [f"{c.get('name')} ({c.get('base_type')})" for c in data.get("cols") or []]
    return Answer(None, cols, len(rows), _digest(rows, ordered), bool(data.get("rows_truncated")))


def _defaults(dashboard: dict) -> list[dict]:
    return [{"id": p["id"], "type": p.get("type"), "value": p["default"]} for p in dashboard.get("parameters") or []
            if isinstance(p, dict) and p.get("default") is not None and p.get("id")]


Job = tuple[str, str, Any, tuple[str, dict[str, Any]], tuple[str, dict[str, Any]]]


def _jobs(src, tgt, kinds, only: dict[str, set] | None = None) -> list[Job]:
    """(kind, name, (source path, body), (target path, body)) for every paired card and dashcard (of the source's
    cards and dashboards in `only`, when given: a selection)."""
    by_name = {name: key[1] for key, name in tgt.tokens.names.items() if key[0] == "cards"}
    jobs: list[Job] = []
    if kinds is None or "cards" in kinds:
        for cid, card in sorted(src.docs.get("cards", {}).items()):
            name = src.tokens.names.get(("cards", cid))
            if card.get("archived") or name not in by_name or only is not None and cid not in only["cards"]:
                continue
            jobs.append(("cards", name, card.get("dataset_query"), (f"/api/card/{cid}/query", {}),
                         (f"/api/card/{by_name[name]}/query", {})))
    if kinds is None or "dashboards" in kinds:
        tgt_dash = {tgt.tokens.names.get(("dashboards", d)): d for d in tgt.docs.get("dashboards", {})}
        for did, dash in sorted(src.docs.get("dashboards", {}).items()):
            name = src.tokens.names.get(("dashboards", did))
            other = tgt.docs.get("dashboards", {}).get(tgt_dash.get(name))
            if dash.get("archived") or other is None or only is not None and did not in only["dashboards"]:
                continue
            theirs = {tgt.tokens.names.get(("dashcards", dc["id"])): dc for dc in other.get("dashcards") or []}
            for dc in dash.get("dashcards") or []:
                label = src.tokens.names.get(("dashcards", dc["id"]))
                mine_card, match = dc.get("card_id"), theirs.get(label)
                if not mine_card or match is None or not match.get("card_id"):
                    continue
                card = src.docs.get("cards", {}).get(mine_card, {})
                jobs.append(("dashcards", f"{name} {label}", card.get("dataset_query"),
                             (f"/api/dashboard/{did}/dashcard/{dc['id']}/card/{mine_card}/query",
                              {"parameters": _defaults(dash)}),
                             (f"/api/dashboard/{other['id']}/dashcard/{match['id']}/card/{match['card_id']}/query",
                              {"parameters": _defaults(other)})))
    return jobs


def compare_rows(src, tgt, result, kinds, progress=None, only: dict[str, set] | None = None) -> None:
    """Run the queries on both sides (each side at its client's concurrency) and record what differs."""
    jobs = _jobs(src, tgt, kinds, only)
    ordered = [sorts(j[2]) for j in jobs]

    def side(api, which: int) -> list[Answer]:
        requests = [job[3] if which == 3 else job[4] for job in jobs]
        return api.map(lambda i: run(api, *requests[i], ordered[i]), range(len(jobs)))

    with ThreadPoolExecutor(2, thread_name_prefix="mbport-verify-rows") as pool:
        fa, fb = pool.submit(side, src.api, 3), pool.submit(side, tgt.api, 4)
        answers_a, answers_b = fa.result(), fb.result()
    for (kind, name, _q, _a, _b), a, b in zip(jobs, answers_a, answers_b, strict=True):
        count = result.counts.setdefault(f"rows of {kind}", KindCount())
        count.paired += 1
        found = _compare(kind, name, a, b)
        if a.error and b.error:  # reported as such, not as a difference: both instances agree it fails
            why = a.error if a.error == b.error else f"{a.error} / {b.error}"
            result.notes.append(f"{name}: the query fails on both sides ({why})")
        count.equal += not found
        count.differ += bool(found)
        result.differences.extend(found)
    if progress:
        progress("rows", len(jobs), len(jobs))


def _compare(kind: str, name: str, a: Answer, b: Answer) -> list[Difference]:
    rows = f"rows of {kind}"

    def d(text: str, x: Any = None, y: Any = None) -> Difference:
        return Difference(rows, name, "rows", x, y, "rows", text)

    if a.error or b.error:
        if a.error and b.error:
            return []
        return [d(f"the query fails on the target: {b.error}", None, b.error) if b.error
                else d(f"the query fails on the source only: {a.error}", a.error, None)]
    if a.columns != b.columns:
        return [d(f"columns {', '.join(a.columns or [])} → {', '.join(b.columns or [])}", a.columns, b.columns)]
    if a.count != b.count:
        return [d(f"{a.count} rows vs {b.count}", a.count, b.count)]
    if a.digest != b.digest:
        return [d(f"the same {a.count} rows in count, but different values", a.digest, b.digest)]
    return []
