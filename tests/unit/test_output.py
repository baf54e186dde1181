"""Output: JSON-lines events with a final summary, human lines on the right stream, progress only where it belongs."""

from __future__ import annotations

import json
from types import SimpleNamespace

from mbport.engine import Change, Plan
from mbport.output import Output, Tracked


def events(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines()]


def test_json_mode_writes_one_event_per_line_and_a_final_summary(capsys):
    out = Output(json_mode=True)
    out.command = "plan"
    out.line("a human line nobody parses")
    out.warning("cards/x: refers to a deleted card", address="cards/x")
    out.plan(Plan([Change("create", "cards/a", "A"), Change("update", "cards/b", "B", ["display", "name"], 7),
                   Change("noop", "cards/c", "C")]))
    out.summary(4)
    stdout, stderr = capsys.readouterr()
    got = events(stdout)
    assert [e["type"] for e in got] == ["warning", "change", "change", "summary"]
    assert got[0] == {"type": "warning", "message": "cards/x: refers to a deleted card", "address": "cards/x"}
    assert got[2] == {"type": "change", "address": "cards/b", "kind": "cards", "action": "update", "name": "B",
                      "fields": ["display", "name"], "target_id": 7}
    summary = got[-1]
    assert summary["command"] == "plan" and summary["exit_code"] == 4 and summary["ok"] is True
    assert summary["plan"]["create"] == 1 and summary["plan"]["noop"] == 1 and summary["has_changes"] is True
    assert summary["warnings"] == 1 and stderr == ""


def test_human_mode_keeps_stdout_for_results_and_stderr_for_warnings(capsys):
    out = Output()
    out.plan(Plan([Change("create", "cards/a", "A", what="card"), Change("noop", "cards/c", "C", what="card")]))
    out.warning("something odd")
    out.summary(0)  # nothing in human mode
    stdout, stderr = capsys.readouterr()
    assert stdout.splitlines() == ["+ card 'A' (cards/a)", "Plan: 1 to create, 0 to update, 0 to archive, 1 unchanged."]
    assert stderr == "Warning: something odd\n"


def test_progress_is_silent_off_a_terminal_and_with_quiet(capsys):
    for out in (Output(tty=False), Output(quiet=True, tty=True)):
        with out.export_progress(2) as progress:
            progress("cards", 3, 3)
            progress("dashboards", 1, 1)
        with out.steps("apply", 2) as step:
            step("cards/a", "create")
    assert capsys.readouterr() == ("", "")


def test_progress_on_a_terminal_goes_to_stderr_only(capsys):
    out = Output(tty=True)
    with out.export_progress(2) as progress:
        progress("cards", 3, 3)
        out.status("database 1: waiting for its first sync (2 s)")
        progress("dashboards", 1, 1)
    stdout, stderr = capsys.readouterr()
    assert stdout == ""
    assert "read cards: 3" in stderr and "read dashboards: 1" in stderr


def test_json_progress_events_count_kinds_and_writes(capsys):
    out = Output(json_mode=True)
    with out.export_progress(2) as progress:
        progress("cards", 3, 3)
        progress("dashboards", 1, 1)
    with out.steps("apply", 2) as step:
        step("cards/a", "create")
        step("dashboards/b", "update")
    got = events(capsys.readouterr().out)
    assert [(e["phase"], e["done"], e["total"]) for e in got] == [("export", 1, 2), ("export", 2, 2),
                                                                 ("apply", 1, 2), ("apply", 2, 2)]
    assert got[1]["objects"] == 4 and got[3]["address"] == "dashboards/b"
    quiet = Output(json_mode=True, quiet=True)
    with quiet.steps("apply", 1) as step:
        step("cards/a", "create")
    assert capsys.readouterr().out == ""


def test_tracked_importer_reports_plan_and_apply_progress(capsys):
    calls = []

    class FakeImporter:
        tree = SimpleNamespace(docs={"cards/a": {}, "cards/b": {}})
        graph = [("cards/a", "create"), ("cards/b", "create")]
        marker = "passed through"

        def plan(self, progress=None):
            for addr in self.tree.docs:
                progress(addr, "compare")
            return Plan([Change("create", "cards/a"), Change("create", "cards/b")])

        def apply(self, plan, progress=None):
            for change in plan.changes:
                progress(change.address, change.action)
                calls.append(change.address)
            return "applied"

    tracked = Tracked(FakeImporter(), Output(json_mode=True))
    assert tracked.apply(tracked.plan()) == "applied" and tracked.marker == "passed through"
    got = events(capsys.readouterr().out)
    assert [(e["phase"], e["done"], e["total"]) for e in got] == [("plan", 1, 2), ("plan", 2, 2),
                                                                 ("apply", 1, 2), ("apply", 2, 2)]
    assert calls == ["cards/a", "cards/b"]


def test_the_terminal_shows_what_is_being_fetched_and_waited_for(capsys):
    """Below the kinds bar: one line per kind being fetched (done of total), one for a retry's wait; both go
    once over, so the bar never sits on the last kind that finished."""
    out = Output(tty=True)

    def lines() -> list[tuple[str, float | None, float]]:
        return [(t.description, t.total, t.completed) for t in out._live.tasks]

    with out.export_progress(3) as progress:
        progress("alerts", 0, 0)
        progress.fetching("dashboards", 0, 40)
        progress.fetching("dashboards", 25, 40)
        assert ("  fetching dashboards", 40, 25) in lines()
        out.retrying("GET /api/dashboard/7: 503, retrying in 1.5 s (attempt 2 of 6)")
        assert ("  waiting: GET /api/dashboard/7: 503, retrying in 1.5 s (attempt 2 of 6)", None, 0) in lines()
        out.retrying(None)
        progress.fetching("dashboards", 40, 40)
        assert [d for d, _t, _c in lines()] == ["export: reading"]
    assert "fetching" not in capsys.readouterr().out  # stdout stays for results


def test_a_plan_whose_only_change_waits_for_creates_still_has_changes():
    """A '~?' graph may write once the objects it names exist: apply must run and --detailed-exitcode says 2."""
    assert Plan([Change("after-creates", "permissions/data", "data permissions"),
                 Change("noop", "cards/c", "C")]).has_changes
    assert not Plan([Change("noop", "cards/c", "C")]).has_changes
