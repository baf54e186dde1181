"""`log --select`, `diff --select` and `restore --select --dry-run` through the CLI on a repository of ten
snapshots: the history of one object names exactly the snapshots that changed it, in words."""

from __future__ import annotations

import git
import pytest

from tests.e2e.instances import mbport, routed_instances


@pytest.fixture(scope="module")
def history(tmp_path_factory):
    """A repository of ten snapshots of the sample instance; the Sales overview dashboard changes in five."""
    monkeypatch = pytest.MonkeyPatch()
    instances = routed_instances(monkeypatch)
    source = instances.add("source", seed="sample")
    repo = tmp_path_factory.mktemp("history") / "backups"
    api = source.api()
    dash = next(d for d in api.get("/api/dashboard").json() if d["name"] == "Sales overview")
    cards = [c for c in api.get("/api/card", params={"f": "all"}).json() if not c.get("dashboard_id")]
    displays = iter(["bar", "line", "area", "row"])

    def other_change():
        card = cards.pop()
        api.put(f"/api/card/{card['id']}", json={"display": next(displays)}).raise_for_status()

    steps = [
        None,  # 1: the first snapshot
        other_change,  # 2
        lambda: api.put(f"/api/dashboard/{dash['id']}", json={"name": "Sales (Q3)"}),  # 3
        other_change,  # 4
        lambda: api.put(f"/api/dashboard/{dash['id']}", json={"description": "Weekly review"}),  # 5
        other_change,  # 6
        lambda: api.put(f"/api/dashboard/{dash['id']}", json={"archived": True}),  # 7
        other_change,  # 8
        lambda: api.put(f"/api/dashboard/{dash['id']}", json={"archived": False}),  # 9
        lambda: api.delete(f"/api/dashboard/{dash['id']}"),  # 10
    ]
    for step in steps:
        if step is not None:
            step()
        run = mbport("backup", "--url", source.url, "--session-token", source.session, "--repo", repo)
        assert run.code in (0, 3) and "Committed" in run.out, run  # 3: links to the deleted dashboard dangle
    shas = [c.hexsha for c in reversed(list(git.Repo(repo).iter_commits("HEAD")))]  # oldest first
    assert len(shas) == 10
    yield repo, dash, shas, instances, source
    api.close()
    monkeypatch.undo()


def test_log_select_names_exactly_the_snapshots_that_changed_the_object(history):
    repo, dash, shas, _, _ = history
    run = mbport("log", "--repo", repo, "--select", f"dashboard:{dash['entity_id']}")
    assert run.code == 0, run.err
    lines = run.out.strip().splitlines()
    assert [line.split()[0] for line in lines] == [shas[i - 1][:8] for i in (10, 9, 7, 5, 3, 1)]
    words = [line.split("  ", 2)[2] for line in lines]
    assert words[0] == "dashboard 'Sales (Q3)': deleted"
    assert "restored from the archive" in words[1] and "archived" in words[2]
    assert "description changed" in words[3]
    assert "renamed 'Sales overview' → 'Sales (Q3)'" in words[4]
    assert words[5].startswith("dashboard 'Sales overview': added")
    # An old name finds the object in the newest snapshot that has it (then its whole history); -n: the newest.
    by_name = mbport("log", "--repo", repo, "--select", "dashboard:Sales overview", "-n", "1")
    assert by_name.code == 0 and by_name.out.strip() == lines[0], by_name.out
    missing = mbport("log", "--repo", repo, "--select", "dashboard:Nope")
    assert missing.code == 2 and "no dashboards named 'Nope' in any snapshot" in missing.err


def test_diff_select_shows_one_objects_change(history):
    repo, dash, shas, _, _ = history
    run = mbport("diff", "--repo", repo, shas[5], shas[6], "--select", "dashboard:Sales (Q3)")
    assert run.code == 0, run.err
    # The dashboard and its parts (what a restore of the same selection brings back), nothing else.
    lines = sorted(run.out.strip().splitlines())
    assert [line.split(":")[0] for line in lines] == ["card 'Pending orders'", "dashboard 'Sales (Q3)'",
                                                      "subscription 'Weekly sales overview'"]
    assert lines[0].startswith("card 'Pending orders': archived") and lines[1] == "dashboard 'Sales (Q3)': archived"
    assert lines[2].endswith(": removed")
    whole = mbport("diff", "--repo", repo, shas[5], shas[6])
    assert len(whole.out.strip().splitlines()) > 1
    _, _, _, _, source = history
    live = mbport("diff", f"{repo}@{shas[8]}", "--select", f"dashboard:{dash['entity_id']}", "--url", source.url,
                  "--session-token", source.session)
    assert live.code == 0, live.err
    assert sorted(live.out.strip().splitlines()) == ["card 'Pending orders': removed",  # its question went with it
                                                     "dashboard 'Sales (Q3)': removed"]
    nothing = mbport("diff", "--repo", repo, shas[5], shas[6], "--select", "dashboard:Nope")
    assert nothing.code == 2 and "not found on either side" in nothing.err


def test_restore_select_dry_run_plans_the_deleted_dashboard(history, tmp_path):
    repo, dash, shas, instances, source = history
    before = len(source.emu.request_log)
    run = mbport("restore", "--repo", repo, "--ref", "HEAD~1", "--select", "dashboard:Sales (Q3)", "--dry-run",
                 "--url", source.url, "--session-token", source.session, "--state", tmp_path / "state.json")
    assert run.code == 0, run.err
    changes = [line for line in run.out.splitlines() if line[:2] in ("+ ", "~ ", "- ")]
    assert any(line.startswith(f"+ dashboard 'Sales (Q3)' (dashboards/{dash['entity_id']})") for line in changes), run.out
    assert all(line.startswith(("+ dashboard '", "+ subscription '", "+ card '")) for line in changes), changes
    assert not [r for r in source.emu.request_log[before:] if r[0] in ("POST", "PUT", "DELETE")]
    bad = mbport("restore", "--repo", repo, "--ref", "HEAD~1", "--select", "dashboard:Nope", "--dry-run",
                 "--url", source.url, "--session-token", source.session)
    assert bad.code == 2 and "no dashboards named 'Nope' in the tree" in bad.err
    pruning = mbport("restore", "--repo", repo, "--ref", "HEAD~1", "--select", "dashboard:Sales (Q3)", "--prune",
                     "--url", source.url, "--session-token", source.session)
    assert pruning.code == 2 and "--prune" in pruning.err and "Traceback" not in pruning.err
    alone = mbport("restore", "--repo", repo, "--ref", "HEAD~1", "--only", "--dry-run",
                   "--url", source.url, "--session-token", source.session)
    assert alone.code == 2 and "--only needs --select" in alone.err
    only = mbport("restore", "--repo", repo, "--ref", "HEAD~1", "--select", "dashboard:Sales (Q3)", "--only",
                  "--dry-run", "--url", source.url, "--session-token", source.session)
    assert only.code == 0 and "Plan: 2 to create, 0 to update" in only.out, only  # the dashboard and its question
    assert not [r for r in source.emu.request_log[before:] if r[0] in ("POST", "PUT", "DELETE")]
    assert not [r for r in source.emu.request_log[before:] if r[0] in ("POST", "PUT", "DELETE")]
