"""A tree exported from a 0.56 instance (MBQL 4 queries) imported into a >= 0.57 target (MBQL 5): the plan
compares the target's cards in MBQL 4 (`Cards.comparable_raw`), so nothing is left to update afterwards."""

from __future__ import annotations

import re

import pytest

from mbport.client import MetabaseClient
from tests.conftest import ADMIN_EMAIL, ADMIN_PASSWORD, make_client, writes_since
from tests.plugins.test_import_content import assert_verified, importer_for, round_trip

CARD_GET = re.compile(r"^/api/card/\d+$")


def run_all(api, ids: dict[str, int]) -> dict[str, tuple[str, list]]:
    """card name → (status, rows) of running every card through POST /api/card/:id/query."""
    out = {}
    for name, cid in ids.items():
        result = api.post(f"/api/card/{cid}/query")
        out[name] = (result.get("status"), result.get("data", {}).get("rows"))
    return out


def card_ids(api) -> dict[str, int]:
    return {c["name"]: c["id"] for c in api.get("/api/card", params={"f": "all"})}


@pytest.mark.parametrize("target", ["0.61", "0.63"])
def test_mbql4_tree_into_mbql5_target_replans_empty(target, tmp_path):
    rt = round_trip(tmp_path, "0.56", target)
    queries = [d["dataset_query"] for a, d in rt.tree_a.items() if a.startswith("cards/")]
    assert queries and all(q.get("type") in ("query", "native") for q in queries)  # the tree is MBQL 4
    stored = rt.api_b.get("/api/card", params={"f": "all"})
    assert stored and all("stages" in c["dataset_query"] for c in stored)  # the target answers MBQL 5

    importer = importer_for(rt.tmp, rt.api_b, rt.registry)
    before = len(rt.emu_b.request_log)
    plan = importer.plan()
    assert not plan.has_changes, [c.line() for c in plan.changes if c.action != "noop"]
    fetched = [r for r in rt.emu_b.request_log[before:] if r[0] == "GET" and CARD_GET.match(r[1])]
    # 0.57-0.61 list rows carry `legacy_query`: free; later versions cost one ?legacy-mbql=true read per card
    assert len(fetched) == (0 if target == "0.61" else len(queries))  # archived cards too
    before = len(rt.emu_b.request_log)
    importer.apply(plan)
    assert writes_since(rt.emu_b, before) == []
    assert_verified(rt)  # MBQL 4 on the source, MBQL 5 on the target: the same queries and rows


def test_imported_queries_run_on_the_target_like_on_the_source(tmp_path):
    rt = round_trip(tmp_path, "0.56", "0.61")
    assert not importer_for(rt.tmp, rt.api_b, rt.registry).plan().has_changes
    session = make_client(rt.emu_a).post("/api/session", json={"username": ADMIN_EMAIL, "password": ADMIN_PASSWORD})
    api_a = MetabaseClient("http://metabase.test", session_token=session.json()["id"], transport=rt.emu_a.transport())
    on_a, on_b = run_all(api_a, card_ids(api_a)), run_all(rt.api_b, card_ids(rt.api_b))
    assert sorted(on_a) == sorted(on_b)
    ran = {n for n, (status, _rows) in on_a.items() if status == "completed"}
    assert {"Big orders (SQL)", "Orders model"} <= ran  # a native card and an MBQL model the emulator can run
    for name in ran:
        assert on_b[name] == on_a[name], name
