"""Rows of query-builder questions: after a migration every card's query runs on both sides (MBQL with
aggregations, breakouts, joins, segments, metrics and source cards included), so verify compares their rows and
sees a changed warehouse row under an aggregated question."""

from __future__ import annotations

import sqlite3

from tests.verify.conftest import differences, migrated_onto_own_warehouse, verify


def _failing_on_both_sides(run) -> list[str]:
    return [line.strip() for line in run.out.splitlines() if "fails on both sides" in line]


def test_a_warehouse_row_under_an_aggregated_question(monkeypatch, tmp_path):
    """After a migration every card and dashcard of the sample runs on both sides with equal rows (none fails on
    both); then, the target on its own copy of the warehouse, one order's customer changed there: the question that
    counts orders per customer (an aggregation over a model) differs."""
    source, target, db, mapping = migrated_onto_own_warehouse(monkeypatch, tmp_path)
    before = verify(source, target, *mapping)
    assert before.code == 0, before.err
    assert _failing_on_both_sides(before) == [], before.out
    for kind in ("cards", "dashcards"):
        line = next(x for x in before.out.splitlines() if x.strip().startswith(f"rows of {kind}:"))
        assert " 0 differ" in line and " 0 equal" not in line, line
    with sqlite3.connect(db["details"]["db"]) as conn:
        conn.execute("UPDATE orders SET customer_id = (SELECT max(id) FROM customers) WHERE id = "
                     "(SELECT min(id) FROM orders WHERE customer_id <> (SELECT max(id) FROM customers))")
    after = verify(source, target, *mapping, "--exit-code")
    assert after.code == 4
    new = differences(after) - differences(before)
    assert any(line.startswith("card 'Orders per customer': ") for line in new), new
