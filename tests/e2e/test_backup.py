"""`mbport backup`, `log` and `restore` through the CLI: one commit per real change, locks, atomicity, bad input."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess

import git
import httpx
import pytest

from mbport.gitstore import LOCK_NAME, TEMP_INDEX
from tests.e2e.instances import Served, free_port, mbport, routed_instances, write_secrets

REVENUE_FILE = "cards/company/sales/revenue-by-month.json"
API_KEY = "mb_BackupTestKey0123456789abcdefghijklmnop"


@pytest.fixture
def instances(monkeypatch):
    return routed_instances(monkeypatch)


@pytest.fixture
def source(instances):
    return instances.add("source", seed="sample")


def backup(inst, repo, *more):
    return mbport("backup", "--url", inst.url, "--session-token", inst.session, "--repo", repo, *more)


def set_display(inst, card_name: str, display: str) -> None:
    card = inst.card(card_name)
    with inst.api() as api:
        api.put(f"/api/card/{card['id']}", json={"display": display}).raise_for_status()


def commits(repo) -> list[git.Commit]:
    return list(git.Repo(repo).iter_commits("HEAD"))


def one_error_line(run) -> str:
    """The run failed with one `Error:` line (and at most a hint), never a traceback."""
    lines = [line for line in run.err.splitlines() if line.strip()]
    assert run.code != 0, run
    assert "Traceback" not in run.err
    errors = [line for line in lines if line.startswith("Error:")]
    assert len(errors) == 1 and len(lines) <= 2, run.err
    return errors[0]


def test_two_backups_of_an_unchanged_instance_leave_one_commit(source, tmp_path):
    repo = tmp_path / "backups"
    first = backup(source, repo)
    assert first.code == 0, first.err
    assert "Committed" in first.out and "first snapshot:" in first.out
    second = backup(source, repo)
    assert second.code == 0, second.err
    assert "No changes since" in second.out
    history = commits(repo)
    assert len(history) == 1
    assert "cards +15" in history[0].message  # per kind counts in the first snapshot's body (one card is personal)
    r = git.Repo(repo)
    assert r.git.status("--porcelain") == ""  # index and working tree match the snapshot
    assert ".gitignore" in r.git.ls_files().splitlines() and ".mbport-staging/" in (repo / ".gitignore").read_text()
    assert source.session not in history[0].message
    log = mbport("log", "--repo", repo)
    assert log.code == 0 and len(log.out.splitlines()) == 1 and history[0].hexsha[:8] in log.out


def test_a_changed_card_makes_a_commit_touching_only_its_file(source, tmp_path):
    repo = tmp_path / "backups"
    assert backup(source, repo).code == 0
    set_display(source, "Revenue by month", "bar")
    run = backup(source, repo, "--author", "Backup Bot <bot@example.com>")
    assert run.code == 0, run.err
    changed = "cards ~1: card 'Revenue by month': visualization: line → bar"  # the counts, then the change in words
    assert changed in run.out
    head, first = commits(repo)[:2]
    assert head.summary == changed
    assert head.message.split("\n\n")[1] == "card 'Revenue by month': visualization: line → bar"  # every change
    assert (head.author.name, head.author.email) == ("Backup Bot", "bot@example.com")
    assert list(head.stats.files) == [REVENUE_FILE]
    assert first.hexsha == head.parents[0].hexsha
    log = mbport("log", "--repo", repo)
    lines = log.out.splitlines()
    assert len(lines) == 2 and lines[0].endswith(changed) and "first snapshot" in lines[1]


def test_a_running_backup_locks_out_a_second_one(source, tmp_path):
    repo = tmp_path / "backups"
    assert backup(source, repo).code == 0
    lock = repo / ".git" / LOCK_NAME
    lock.write_text(f"{socket.gethostname()} {os.getpid()}\n")  # this test's process: alive
    set_display(source, "Revenue by month", "bar")
    refused = backup(source, repo)
    line = one_error_line(refused)
    assert "another backup is running" in line and str(lock) in line
    assert len(commits(repo)) == 1 and lock.exists()
    # A lock whose process is gone (a killed backup) does not block forever.
    gone = subprocess.Popen(["true"])
    gone.wait()
    lock.write_text(f"{socket.gethostname()} {gone.pid}\n")
    assert backup(source, repo).code == 0
    assert len(commits(repo)) == 2 and not lock.exists()


def test_a_failure_before_the_commit_leaves_head_and_index_untouched(source, tmp_path, monkeypatch):
    repo = tmp_path / "backups"
    assert backup(source, repo).code == 0
    head = git.Repo(repo).head.commit.hexsha
    index = (repo / ".git" / "index").read_bytes()
    set_display(source, "Revenue by month", "bar")

    def broken(self, *args, **kwargs):
        raise git.GitCommandError(["git", "commit-tree"], 128, b"fatal: disk full")

    monkeypatch.setattr(git.cmd.Git, "commit_tree", broken, raising=False)
    run = backup(source, repo)
    assert "nothing was committed" in one_error_line(run) and "disk full" in run.err
    assert git.Repo(repo).head.commit.hexsha == head
    assert (repo / ".git" / "index").read_bytes() == index
    assert not (repo / ".git" / TEMP_INDEX).exists() and not (repo / ".git" / LOCK_NAME).exists()
    monkeypatch.undo()
    # A failed export (bad credentials) commits nothing either; the next good run picks the change up.
    bad = mbport("backup", "--url", source.url, "--api-key", "mb_wrongwrongwrongwrong", "--repo", repo)
    one_error_line(bad)
    assert git.Repo(repo).head.commit.hexsha == head


def test_bad_input_is_one_clear_line(source, tmp_path, monkeypatch):
    monkeypatch.setattr("mbport.client._sleep", lambda s: None)
    a_file = tmp_path / "not-a-folder"
    a_file.write_text("x")
    assert "is a file" in one_error_line(backup(source, a_file))
    assert "is a file" in one_error_line(mbport("log", "--repo", a_file))
    unreachable = mbport("backup", "--url", f"http://127.0.0.1:{free_port()}", "--api-key", "mb_whateverwhatever",
                         "--repo", tmp_path / "r1")
    assert "cannot reach" in one_error_line(unreachable)
    wrong = mbport("backup", "--url", source.url, "--username", "admin@example.com", "--password", "wrong-pw",
                   "--repo", tmp_path / "r2")
    assert "401" in one_error_line(wrong) or "password" in wrong.err
    assert "wrong-pw" not in wrong.err
    bad_author = backup(source, tmp_path / "r3", "--author", "nobody")
    assert bad_author.code == 2 and "--author" in bad_author.err
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("mine")
    assert "not empty" in one_error_line(backup(source, foreign))
    assert not (foreign / ".git").exists()


def test_restore_unknown_ref_and_dry_run(source, instances, tmp_path):
    repo = tmp_path / "backups"
    assert backup(source, repo).code == 0
    target = instances.add("target")
    args = ["--url", target.url, "--session-token", target.session]
    unknown = mbport("restore", "--repo", repo, "--ref", "no-such-tag", *args)
    line = one_error_line(unknown)
    assert "no-such-tag" in line and "no such commit" in line
    assert unknown.code == 2  # a usage error (README's exit codes), as `log --ref` of the same name
    assert mbport("log", "--repo", repo, "--ref", "no-such-tag").code == 2
    before = len(target.emu.request_log)
    no_secret = mbport("restore", "--repo", repo, "--ref", "HEAD", *args)
    assert no_secret.code == 1 and "MBPORT_SECRET_DATABASES_FINANCE_PASSWORD" in no_secret.err
    args += ["--secrets", write_secrets(tmp_path / "secrets.json")]
    dry = mbport("restore", "--repo", repo, "--ref", "HEAD", "--dry-run", *args)
    assert dry.code == 0, dry.err
    assert "to create" in dry.out and "cards/" in dry.out
    assert not [r for r in target.emu.request_log[before:] if r[0] in ("POST", "PUT", "DELETE")]
    assert mbport("restore", "--repo", tmp_path / "none", "--ref", "HEAD", *args).code == 1


def test_restore_an_older_snapshot_onto_a_fresh_instance(source, instances, tmp_path):
    repo = tmp_path / "backups"
    assert backup(source, repo).code == 0
    set_display(source, "Revenue by month", "bar")
    assert backup(source, repo).code == 0
    target = instances.add("fresh")
    secrets = write_secrets(tmp_path / "secrets.json")
    args = ["--url", target.url, "--session-token", target.session, "--secrets", secrets,
            "--state", tmp_path / "fresh-state.json"]
    run = mbport("restore", "--repo", repo, "--ref", "HEAD~1", *args)
    assert run.code == 0, run.err
    assert target.card("Revenue by month")["display"] == "line"  # as it was in the older snapshot
    assert "bar" in (repo / REVENUE_FILE).read_text() and git.Repo(repo).git.status("--porcelain") == ""
    again = mbport("restore", "--repo", repo, "--ref", "HEAD~1", "--dry-run", *args)
    assert "Plan: 0 to create, 0 to update" in again.out, again.out


def test_push_to_a_remote(source, tmp_path):
    remote = tmp_path / "remote.git"
    git.Repo.init(remote, bare=True)
    repo = tmp_path / "backups"
    assert backup(source, repo, "--branch", "snapshots").code == 0
    git.Repo(repo).create_remote("origin", str(remote))
    run = backup(source, repo, "--push", "origin", "--branch", "snapshots")
    assert run.code == 0, run.err
    assert "Pushed snapshots to origin" in run.out
    assert git.Repo(remote).commit("snapshots").hexsha == git.Repo(repo).head.commit.hexsha
    other = backup(source, repo, "--branch", "main")
    assert "is on branch snapshots" in one_error_line(other)
    failed = backup(source, repo, "--push", "nowhere")
    assert "push of snapshots to nowhere failed" in one_error_line(failed)


def test_backup_and_drift_against_a_served_emulator(tmp_path):
    served = Served(tmp_path, API_KEY)
    try:
        repo = tmp_path / "backups"
        args = ["--url", served.url, "--api-key", API_KEY]
        run = mbport("backup", *args, "--repo", repo)
        assert run.code == 0, run.err
        clean = mbport("diff", f"{repo}@HEAD", *args)
        assert clean.code == 0 and clean.out == "" and "No differences" in clean.err
        with httpx.Client(base_url=served.url, headers={"x-api-key": API_KEY}) as api:
            card = next(c for c in api.get("/api/card").json() if c["name"] == "Revenue by month")
            api.put(f"/api/card/{card['id']}", json={"display": "bar"}).raise_for_status()
        drift = mbport("diff", f"{repo}@HEAD", *args, "--exit-code")
        assert drift.code == 4 and "card 'Revenue by month': visualization: line → bar" in drift.out
        again = mbport("backup", *args, "--repo", repo)
        assert "cards ~1" in again.out
        assert all(API_KEY not in c.message for c in commits(repo)) and API_KEY not in run.out + run.err
    finally:
        served.stop()


def test_a_newer_tree_format_is_refused_not_rewritten(source, tmp_path):
    """A repository or tree of a newer format is left as it is: backup and export refuse, saying to upgrade."""
    import json

    repo = tmp_path / "backups"
    assert backup(source, repo).code == 0
    manifest = json.loads((repo / "mbport.json").read_text())
    (repo / "mbport.json").write_text(json.dumps({**manifest, "format": 2}))
    git.Repo(repo).git.commit("-am", "written by mbport 2")
    head = commits(repo)[0].hexsha
    set_display(source, "Revenue by month", "bar")  # something to commit, were it not refused
    line = one_error_line(backup(source, repo))
    assert "tree format 2" in line and "newer mbport" in line
    assert commits(repo)[0].hexsha == head and json.loads((repo / "mbport.json").read_text())["format"] == 2
    assert git.Repo(repo).git.status("--porcelain") == ""
    exported = mbport("export", "--url", source.url, "--session-token", source.session, "--out", repo)
    assert "newer mbport" in one_error_line(exported) and "upgrade mbport" in exported.err
    for read in (mbport("check", repo), mbport("diff", repo, repo)):
        assert read.code == 1 and "upgrade mbport" in read.err and "export the tree again" not in read.err


def test_a_rename_or_a_move_counts_as_one_change(source, tmp_path):
    """A renamed card is one change (~1), as `mbport diff` says, not a card added and one removed; cards that
    only moved with their renamed collection are no change of theirs."""
    repo = tmp_path / "backups"
    assert backup(source, repo).code == 0
    card = source.card("Revenue by month")
    with source.api() as api:
        api.put(f"/api/card/{card['id']}", json={"name": "Revenue per month"}).raise_for_status()
    run = backup(source, repo)
    renamed = "cards ~1: card 'Revenue per month': renamed 'Revenue by month' → 'Revenue per month'"
    assert run.code == 0 and run.out.strip().endswith(f": {renamed}"), run.out
    assert commits(repo)[0].summary == renamed
    assert mbport("log", "--repo", repo, "-n", "1").out.rstrip().endswith(f"  {renamed}")
    assert mbport("diff", "--repo", repo, "HEAD~1", "HEAD").out.splitlines() == [
        "card 'Revenue per month': renamed 'Revenue by month' → 'Revenue per month'"]
    with source.api() as api:
        sales = next(c for c in api.get("/api/collection").json() if c.get("name") == "Sales")
        api.put(f"/api/collection/{sales['id']}", json={"name": "Sales EMEA"}).raise_for_status()
    run = backup(source, repo)
    moved = [p for p in commits(repo)[0].stats.files if p.startswith("cards/")]
    assert moved, "the collection's cards moved to the new folder"  # the case this test is about
    assert commits(repo)[0].summary == "collections ~1: collection 'Sales EMEA': renamed 'Sales' → 'Sales EMEA'", \
        commits(repo)[0].summary
    # the permission file shows the new path beside the collection's id: a reviewer reads the rename there
    grants = git.Repo(repo).git.show("HEAD", "--", "collection-permissions/default.json")
    assert '+      "collection_path": "Company / Sales EMEA"' in grants, grants


def delete_dashboard(inst, name: str) -> None:
    with inst.api() as api:
        dashboard = next(d for d in api.get("/api/dashboard/", params={"f": "all"}).json() if d["name"] == name)
        api.delete(f"/api/dashboard/{dashboard['id']}").raise_for_status()


def delete_card(inst, name: str) -> None:
    with inst.api() as api:
        api.delete(f"/api/card/{inst.card(name)['id']}").raise_for_status()


def test_a_snapshot_check_refuses_names_itself_not_a_temporary_folder(source, instances, tmp_path):
    """The sample's 'Orders per customer' is built on 'Shop orders model'; deleting the model leaves a ref the
    snapshot cannot resolve. The restore's error names the snapshot and its hint a command that works, not the
    temporary folder it was read into (gone by the time the user reads it)."""
    repo = tmp_path / "backups"
    delete_card(source, "Shop orders model")
    assert backup(source, repo).code == 3
    sha = git.Repo(repo).head.commit.hexsha[:8]
    target = instances.add("target")
    run = mbport("restore", "--repo", repo, "--ref", "HEAD", "--dry-run", "--url", target.url,
                 "--session-token", target.session)
    assert run.code == 1 and "Traceback" not in run.err
    assert "cards/missing-id-" in run.err  # the problem itself, with its file
    assert "mbport-restore-" not in run.err, run.err
    assert re.search(rf"Error: snapshot {sha} of {re.escape(str(repo))}: \d+ problem\(s\) in the tree; nothing was "
                     "written", run.err), run.err


def test_a_selective_restore_is_stopped_only_by_a_dangling_ref_it_would_write(source, tmp_path):
    """Last night's snapshot holds a question built on a deleted model (`check` refuses the whole tree); restoring a
    card archived since, which has nothing to do with it, works; restoring the question stops before any write,
    naming it (every selective restore of that snapshot stopped on it)."""
    repo = tmp_path / "backups"
    delete_card(source, "Shop orders model")  # 'Orders per customer' is built on it
    assert backup(source, repo).code == 3
    card = source.card("Revenue by month")
    conn = ["--url", source.url, "--session-token", source.session]
    with source.api() as api:
        api.put(f"/api/card/{card['id']}", json={"archived": True}).raise_for_status()
        run = mbport("restore", "--repo", repo, "--ref", "HEAD", "--select", "card:Revenue by month", *conn)
        assert run.code == 0, run.err
        assert api.get(f"/api/card/{card['id']}").json()["archived"] is False
    before = len(source.emu.request_log)
    linked = mbport("restore", "--repo", repo, "--ref", "HEAD", "--select", "card:Orders per customer", *conn)
    assert linked.code == 1 and "Traceback" not in linked.err
    assert "orders-per-customer.json: ref to cards/missing-id-" in linked.err, linked.err
    assert not [r for r in source.emu.request_log[before:] if r[0] in ("POST", "PUT", "DELETE")]


def test_a_nightly_commit_says_what_changed_in_words_bounded_and_the_same_for_the_same_change(instances, tmp_path):
    """Two instances changed alike back up to the same messages (deterministic); the subject holds the counts and the
    first changes in words within 120 characters, the body every change (at most 50, the rest counted); refs are
    named by what they point at (a card moved to another collection names both), never by id."""
    from mbport.gitstore import BODY_CHANGES, SUBJECT_LIMIT

    messages = []
    for name in ("night-a", "night-b"):
        inst = instances.add(name, seed="sample")
        repo = tmp_path / name
        assert backup(inst, repo).code == 0
        with inst.api() as api:
            cards = sorted((c for c in api.get("/api/card", params={"f": "all"}).json() if not c["archived"]
                            and not c.get("dashboard_id")), key=lambda c: c["name"])
            company = next(c for c in api.get("/api/collection").json() if c.get("name") == "Company")
            for card in cards[:3]:
                api.put(f"/api/card/{card['id']}", json={"description": f"About {card['name']}"}).raise_for_status()
            api.put(f"/api/card/{cards[3]['id']}", json={"collection_id": company["id"]}).raise_for_status()
            api.put(f"/api/card/{cards[4]['id']}", json={"archived": True}).raise_for_status()
        run = backup(inst, repo)
        assert run.code == 0, run.err
        messages.append(commits(repo)[0].message.split("\n\nBackup of ")[0])  # the last paragraph names the instance
    assert messages[0] == messages[1]
    subject, body = messages[0].split("\n\n")
    # the archived card leaves a dashboard and a subscription: they changed too, and say so
    assert subject.startswith(f"cards ~5, dashboards ~1, pulses ~1: card '{cards[0]['name']}': description added; ")
    assert len(subject) <= SUBJECT_LIMIT and subject.endswith("; …"), subject
    lines = body.splitlines()
    assert len(lines) == 7 and lines == sorted(lines), body  # by kind, then name: the same order every night
    assert f"card '{cards[3]['name']}': moved from 'Sales' to 'Company'" in lines, body
    assert f"card '{cards[4]['name']}': archived" in lines and "#" not in body, body
    # Its dashcard is not removed: Metabase hides the dashcards of an archived question.
    assert any(line.startswith("dashboard '") and f"hidden by Metabase ('{cards[4]['name']}')" in line
               for line in lines), body
    assert BODY_CHANGES == 50  # the README's bound


def test_a_commit_message_stays_bounded_however_much_changed():
    """The subject line never passes SUBJECT_LIMIT characters (the counts, then whole changes, or the first one cut);
    the body lists BODY_CHANGES changes, each cut at LINE_LIMIT, and counts the rest."""
    from mbport.gitstore import BODY_CHANGES, LINE_LIMIT, SUBJECT_LIMIT, Summary

    many = Summary("cards ~120", [f"card 'Q{i:03}': description added" for i in range(120)])
    assert many.subject() == "cards ~120: " + "; ".join(f"card 'Q{i:03}': description added" for i in range(3)) + "; …"
    assert len(many.subject()) <= SUBJECT_LIMIT
    lines = many.body().splitlines()
    assert len(lines) == BODY_CHANGES + 1 and lines[-1].startswith("… and 70 more (")
    long = Summary("cards ~1", ["card 'x': description: " + "a" * 500])
    assert len(long.subject()) <= SUBJECT_LIMIT and long.subject().startswith("cards ~1: card 'x': description: aaa")
    assert long.subject().endswith("…") and len(long.body()) == LINE_LIMIT
    assert Summary("cards ~1").subject() == "cards ~1" and Summary("cards ~1").body() == ""


def _sales_overview_links(api) -> tuple[list, list]:
    """'Sales overview''s click behaviours to a dashboard and its link cards' entities, as the server holds them."""
    dashboard = next(d for d in api.get("/api/dashboard/", params={"f": "all"}).json() if d["name"] == "Sales overview")
    dashcards = api.get(f"/api/dashboard/{dashboard['id']}").json()["dashcards"]
    found = json.dumps([dc["visualization_settings"] for dc in dashcards])
    clicks = [v for v in _walk(json.loads(found)) if v.get("linkType") == "dashboard"]
    links = [v["entity"] for v in _walk(json.loads(found)) if isinstance(v.get("entity"), dict)]
    return clicks, links


def _walk(node):
    if isinstance(node, dict):
        yield node
        for v in node.values():
            yield from _walk(v)
    elif isinstance(node, list):
        for v in node:
            yield from _walk(v)


def test_a_link_to_a_deleted_dashboard_is_a_dead_link_not_a_broken_tree(source, instances, tmp_path):
    """Deleting a dashboard others link to (a click behaviour, a link card, the custom homepage) is an everyday
    state: the snapshot passes `check` with a warning naming the dashboard, its file and the dead link, and a whole
    restore and a migration write the dashboard with the links empty, as Metabase shows a link whose target is
    gone. A hard ref to a deleted object (a question built on a deleted model) still stops both."""
    repo = tmp_path / "backups"
    with source.api() as api:
        gone = next(d for d in api.get("/api/dashboard/", params={"f": "all"}).json() if d["name"] == "Customer insights")
        api.put("/api/setting", json={"custom-homepage": True, "custom-homepage-dashboard": gone["id"]}).raise_for_status()
    delete_dashboard(source, "Customer insights")
    assert backup(source, repo).code == 3  # export still warns: the source holds a link to nothing
    checked = mbport("check", repo)
    assert checked.code == 0, checked.out + checked.err
    assert (f"Warning: dashboard 'Sales overview' (dashboards/company/sales/sales-overview.json) links to dashboards "
            f"id {gone['id']}, which was deleted on the source: the link is written empty") in checked.err, checked.err
    assert f"(settings/instance.json) links to dashboards id {gone['id']}" in checked.err, checked.err

    target = instances.add("target")
    conn = ["--url", target.url, "--session-token", target.session, "--secrets", write_secrets(tmp_path / "s.json")]
    restored = mbport("restore", "--repo", repo, "--ref", "HEAD", *conn)
    assert restored.code == 0, restored.err
    assert "Dead link: dashboard 'Sales overview'" in restored.out + restored.err
    with target.api() as api:
        clicks, links = _sales_overview_links(api)
        settings = {s["key"]: s["value"] for s in api.get("/api/setting").json()}
    assert clicks and all(c["targetId"] is None for c in clicks), clicks
    assert links and all(e.get("id") is None for e in links if e.get("model") == "dashboard"), links
    assert settings.get("custom-homepage-dashboard") is None
    again = mbport("restore", "--repo", repo, "--ref", "HEAD", "--dry-run", *conn)
    assert again.code == 0 and "0 to create, 0 to update" in again.out, again.out  # the empty link is what it wants

    empty = instances.add("empty")
    migrated = mbport("migrate", "--from", source.url, "--from-session-token", source.session, "--to", empty.url,
                      "--to-session-token", empty.session, "--secrets", write_secrets(tmp_path / "s.json"),
                      "--state", tmp_path / "migrate-state.json")
    assert migrated.code in (0, 3), migrated.err
    with empty.api() as api:
        clicks, _links = _sales_overview_links(api)
    assert clicks and all(c["targetId"] is None for c in clicks), clicks

    # Restored over the source itself: the dead links are written empty there too, and a second plan is clean.
    home = ["--url", source.url, "--session-token", source.session]
    assert mbport("restore", "--repo", repo, "--ref", "HEAD", *home).code == 0
    with source.api() as api:
        clicks, _links = _sales_overview_links(api)
        settings = {s["key"]: s["value"] for s in api.get("/api/setting").json()}
    assert clicks and all(c["targetId"] is None for c in clicks), clicks
    assert settings.get("custom-homepage-dashboard") is None
    clean = mbport("restore", "--repo", repo, "--ref", "HEAD", "--dry-run", *home)
    assert clean.code == 0 and "0 to create, 0 to update" in clean.out, clean.out


def test_a_question_on_a_deleted_model_still_stops_check_and_restore(source, instances, tmp_path):
    """A hard ref (a question's source model) to a deleted object is no dead link: the question cannot exist
    without it, so `check` and a whole restore refuse the snapshot, naming the question's file."""
    repo = tmp_path / "backups"
    delete_card(source, "Shop orders model")
    assert backup(source, repo).code == 3
    checked = mbport("check", repo)
    assert checked.code == 1
    assert "orders-per-customer.json: ref to cards/missing-id-" in checked.out, checked.out
    target = instances.add("target")
    run = mbport("restore", "--repo", repo, "--ref", "HEAD", "--dry-run", "--url", target.url,
                 "--session-token", target.session)
    assert run.code == 1 and "cards/missing-id-" in run.err, run.err
