"""`mbport demo`: the README's main job runs clean, fast, and leaves a repository to look at."""

from __future__ import annotations

import time

import git

from mbport.cli import invoked_as
from tests.e2e.instances import mbport


def test_demo_runs_clean(tmp_path):
    started = time.monotonic()
    run = mbport("demo", "--dir", tmp_path / "demo")
    elapsed = time.monotonic() - started
    assert run.code == 0, run.err
    assert "Failed" not in run.err
    plans = [line.strip() for line in run.out.splitlines() if "plan " in line and "Plan:" in line]
    assert len(plans) == 4, run.out
    assert "0 to create" not in plans[0]  # the empty target gets everything
    assert "Plan: 0 to create, 0 to update, 0 to archive" in plans[1]
    assert "Plan: 0 to create, 1 to update, 0 to archive" in plans[2]  # only the changed card
    assert "Plan: 0 to create, 0 to update, 0 to archive" in plans[3]
    assert "card 'Revenue by month': visualization: line → bar" in run.out
    # The last step judges the migration by what both servers hold: every object, and every question's rows.
    verified = next(line for line in run.out.splitlines() if line.strip().startswith("verify:"))
    assert verified.endswith("no differences") and " 0 objects" not in verified and " 0 questions" not in verified
    assert "What to look at next" in run.out and "mbport diff --repo" in run.out
    # The next steps name a program that runs from the user's shell (pytest's here: `python -m mbport`).
    next_steps = run.out.split("What to look at next", 1)[1]
    assert f"  {invoked_as()} log --repo" in next_steps and f"  {invoked_as()} emulator serve" in next_steps
    assert not [line for line in next_steps.splitlines() if line.startswith("  mbport ")]
    repo = git.Repo(tmp_path / "demo" / "backup")
    history = list(repo.iter_commits("HEAD"))
    assert [c.summary for c in history][0].startswith("cards ~1: card '") and len(history) == 2
    assert elapsed < 60


def test_demo_dir_is_reusable_but_never_clobbers_other_folders(tmp_path):
    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("keep me")
    refused = mbport("demo", "--dir", foreign)
    assert refused.code == 1 and "not empty" in refused.err
    assert (foreign / "notes.txt").read_text() == "keep me"
    a_file = tmp_path / "file"
    a_file.write_text("x")
    assert mbport("demo", "--dir", a_file).code != 0


def test_the_demo_fails_when_the_target_does_not_hold_what_the_source_does(tmp_path):
    """Verify reads both servers: a kind the export never wrote (its plugin missing here) is missing on the target,
    and the demo says so and fails, though its own export and plan saw nothing wrong."""
    from mbport.demo import run_demo
    from mbport.registry import Registry, load_plugins

    full = load_plugins()
    without_alerts = Registry()
    for name, kind in full.kinds.items():
        if name != "alerts":
            without_alerts.add(kind, full.info.get(name))
    said: list[str] = []
    result = run_demo(tmp_path / "demo", said.append, registry=without_alerts)
    assert result.verified and all("alert" in line for line in result.verified), result.verified
    assert any("verify:" in line and "difference(s)" in line for line in said)
