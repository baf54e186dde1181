"""Dashcards Metabase hides because their question is archived (a collection trashed with its dashboard and
questions): `diff` says hidden/shown again, a restore into the same instance keeps them."""

from __future__ import annotations

import pytest

from tests.e2e.instances import mbport, routed_instances, write_secrets

BOARD = "Customer insights"  # in Marketing, showing Marketing's questions (sample seed)


@pytest.fixture
def instances(monkeypatch):
    return routed_instances(monkeypatch)


def _dashboard(inst):
    with inst.api() as api:
        row = next(d for d in api.get("/api/dashboard", params={"f": "all"}).json() + api.get(
            "/api/dashboard", params={"f": "archived"}).json() if d["name"] == BOARD)
        return api.get(f"/api/dashboard/{row['id']}").json()


def _set_archived(inst, name, archived):
    with inst.api() as api:
        coll = next(c for c in api.get("/api/collection", params={"archived": "true"}).json() + api.get(
            "/api/collection").json() if c["name"] == name)
        api.put(f"/api/collection/{coll['id']}", json={"archived": archived}).raise_for_status()


@pytest.fixture
def backups(instances, tmp_path):
    """Three backups of one instance: as seeded, with Marketing in the Trash, with Marketing restored."""
    source = instances.add("trashing", seed="sample")
    repo = tmp_path / "repo"
    conn = ["--url", source.url, "--session-token", source.session]
    shown = _dashboard(source)["dashcards"]
    assert len([dc for dc in shown if dc["card_id"]]) >= 2
    runs = [mbport("backup", *conn, "--repo", repo)]
    _set_archived(source, "Marketing", True)
    # Metabase hides them: their questions are archived (the text card stays)
    assert [dc["card_id"] for dc in _dashboard(source)["dashcards"]] == [None]
    runs.append(mbport("backup", *conn, "--repo", repo))
    _set_archived(source, "Marketing", False)
    runs.append(mbport("backup", *conn, "--repo", repo))
    assert [r.code for r in runs] == [0, 0, 0], [r.err for r in runs]
    return source, repo, conn, runs, sorted(dc["id"] for dc in shown)


def test_diff_says_hidden_and_shown_again_not_removed_and_added(backups):
    _, repo, _, _, _ = backups
    archived = mbport("diff", f"{repo}@HEAD~2", f"{repo}@HEAD~1")
    restored = mbport("diff", f"{repo}@HEAD~1", f"{repo}@HEAD")
    assert archived.code == restored.code == 0, archived.err + restored.err
    assert any("dashcards of archived questions hidden by Metabase" in line and BOARD in line
               for line in archived.out.splitlines()), archived.out
    assert any("dashcards of archived questions shown again" in line and BOARD in line
               for line in restored.out.splitlines()), restored.out
    for line in archived.out.splitlines() + restored.out.splitlines():
        assert not (line.startswith("dashboard") and (" removed" in line or " added" in line)), line


def test_restoring_the_trashed_backup_keeps_the_dashcards_metabase_shows_again(backups, tmp_path):
    """The backup taken while Marketing was in the Trash, restored after someone brought Marketing back: the
    collection goes back to the Trash, and restoring it there again shows every dashcard it had."""
    source, repo, conn, _, dashcard_ids = backups
    run = mbport("restore", "--repo", repo, "--ref", "HEAD~1", *conn, "--secrets", write_secrets(tmp_path / "s.json"))
    assert run.code == 0, run.err
    assert _dashboard(source)["archived"] is True
    _set_archived(source, "Marketing", False)
    # The same dashcards (ids): neither deleted nor deleted and added again.
    assert sorted(dc["id"] for dc in _dashboard(source)["dashcards"]) == dashcard_ids
