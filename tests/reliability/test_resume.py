"""Kill and resume: an import (or backup) stopped dead after any number of writes, then run again, ends exactly
like an uninterrupted run: the same objects, no duplicates, a valid state file (a consistent repository)."""

from __future__ import annotations

import functools
import os
import random
import re
import signal
import subprocess
import threading
import time
from pathlib import Path

import orjson
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from mbport.client import MetabaseClient
from mbport.emulator import sync
from mbport.emulator.faults import ConnectionDropped
from mbport.errors import MbportError
from mbport.export import run_export
from mbport.state import State
from mbport.testing import entity_id_map, relabel, without_unwritable
from tests.conftest import WRITES
from tests.served import mbport_command, serve, stop

from .conftest import canonical, client, fingerprint, run_import, target

KILL_EXAMPLES = int(os.environ.get("MBPORT_KILL_EXAMPLES", "8"))  # hypothesis examples in the default run
API_KEY = "mb_ReSuMeTeStKeY0123456789abcdefghijklmnop"
PASSWORD = "Resume-passw0rd!"


class Killed(BaseException):
    """The process died: not an Exception, so nothing in mbport can catch it and carry on."""


class KillAfterWrites:
    """A fault hook that lets `n` writes through and dies on the n-th, after the server processed it
    (the worst moment: the write happened, nobody recorded it). From then on nothing else reaches the server."""

    def __init__(self, n: int, methods=WRITES):
        self.n, self.methods, self.count, self.dead = n, methods, 0, False

    def before(self, req):
        if self.dead:
            raise Killed()
        return None

    def after(self, req, resp):
        if req.method in self.methods and resp.status < 400:
            self.count += 1
            if self.count >= self.n:
                self.dead = True
                raise Killed()
        return resp


@pytest.fixture(scope="module")
def clean(source, registry, tmp_path_factory):
    """The uninterrupted import: its fingerprint, state addresses and number of successful writes."""
    _, _, out, _ = source
    emu, session = target()
    base = tmp_path_factory.mktemp("clean")
    start = len(emu.request_log)
    imported = run_import(out, registry, emu, session, base / "state.json")
    writes = sum(1 for m, _, status in emu.request_log[start:] if m in WRITES and status < 400)
    state = orjson.loads((base / "state.json").read_bytes())
    return fingerprint(emu, session, imported, registry, base / "back"), set(state["ids"]), writes


def _valid_state(path: Path, url: str) -> State:
    state = State.load(path, url)  # refuses a torn or foreign file
    assert all(isinstance(a, str) and "/" in a for a in state.ids)
    assert state.created <= set(state.ids)
    return state


def _kill_and_resume(source, registry, clean, tmp: Path, n: int) -> bool:
    _, _, out, _ = source
    (clean_rows, clean_docs), clean_addresses, _ = clean
    emu, session = target()
    state_path = tmp / "state.json"
    hook = KillAfterWrites(n)
    emu.faults = hook
    # A dead process writes nothing more: once killed, the state file stays as the last save left it.
    original_save = State.save
    State.save = lambda self: None if hook.dead else original_save(self)
    try:
        run_import(out, registry, emu, session, state_path)
    except Killed:
        pass
    finally:
        State.save = original_save
    # (The number of writes varies by a few between runs, so the last n may see the run finish.)
    emu.faults = None
    if state_path.exists():
        _valid_state(state_path, "http://target.test")
    resumed = run_import(out, registry, emu, session, state_path)
    assert resumed.result.failed == {} and resumed.result.skipped == []
    rows, docs = fingerprint(emu, session, resumed, registry, tmp / "back")
    assert rows == clean_rows, f"killed after write {n}: rows per table differ (a duplicate?)"
    differ = sorted(a for a in set(docs) | set(clean_docs) if docs.get(a) != clean_docs.get(a))
    assert not differ, f"killed after write {n}: {differ[:5]}"
    state = _valid_state(state_path, "http://target.test")
    assert set(state.ids) == clean_addresses, (sorted(set(state.ids) - clean_addresses)[:5], sorted(clean_addresses - set(state.ids))[:5])
    return hook.dead


@settings(max_examples=KILL_EXAMPLES, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(fraction=st.floats(min_value=0.0, max_value=1.0))
@example(fraction=0.0)
@example(fraction=1.0)
def test_import_killed_after_any_write_resumes_to_the_same_result(source, registry, clean, tmp_path_factory, fraction):
    writes = clean[2]
    n = 1 + round(fraction * (writes - 1))
    _kill_and_resume(source, registry, clean, tmp_path_factory.mktemp(f"kill-{n}"), n)


@pytest.mark.slow
def test_import_killed_after_every_write_resumes_to_the_same_result(source, registry, clean, tmp_path_factory):
    killed = sum(_kill_and_resume(source, registry, clean, tmp_path_factory.mktemp(f"kill-{n}"), n)
                 for n in range(1, clean[2] + 1))
    assert killed >= clean[2] - 5
    print(f"kill and resume in-process: {clean[2]} trials, {killed} killed mid-run")


# ---------------------------------------------------------------------------------------------------------------
# A real SIGKILL


_mbport = mbport_command


def _serve(tmp: Path, latency_ms: int, seed: str | None = None) -> tuple[subprocess.Popen, str]:
    extra = ["--seed", seed] if seed else []
    return serve(tmp / "serve.log", "--sqlite-actions", "--admin-password", PASSWORD, "--api-key", API_KEY,
                 "--latency-ms", str(latency_ms), *extra)


def _secrets_file(tmp: Path) -> Path:
    from mbport.emulator.seeds import sample

    path = tmp / "secrets.json"
    path.write_bytes(orjson.dumps({"databases/Finance/password": sample.FINANCE_DB_PASSWORD}))
    path.chmod(0o600)
    return path


def _without_sample_path(doc: dict) -> dict:
    if isinstance(doc.get("details"), dict) and "mbport-emulator-" in str(doc["details"].get("db")):
        return {**doc, "details": {**doc["details"], "db": "(the emulator's sample file)"}}
    return doc


def _sigkill_trial(source, registry, clean, tmp: Path, rng: random.Random) -> float:
    _, _, out, _ = source
    (_, clean_docs), clean_addresses, _ = clean
    server, url = _serve(tmp, latency_ms=10)
    state = tmp / "state.json"
    command = _mbport("import", str(out), "--url", url, "--api-key", API_KEY, "--secrets", str(_secrets_file(tmp)),
                      "--state", str(state), "--concurrency", "2")
    try:
        victim = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        # Kill after a random number of recorded writes (the state journal grows one line per write), so the
        # kill lands inside the run however fast the machine is.
        writes = rng.randint(1, 30)
        journal = state.with_name(state.name + ".journal")
        started = time.monotonic()
        while time.monotonic() - started < 60 and victim.poll() is None:
            if journal.exists() and journal.read_bytes().count(b"\n") >= writes:
                break
            time.sleep(0.005)
        delay = time.monotonic() - started
        victim.send_signal(signal.SIGKILL)
        assert victim.wait(10) == -signal.SIGKILL
        if state.exists():
            _valid_state(state, url)
        done = subprocess.run(command, capture_output=True, timeout=120)
        assert done.returncode == 0, done.stderr.decode()[-2000:]
        with MetabaseClient(url, api_key=API_KEY) as api:
            back = run_export(api, registry, tmp / "back")
        ids = _valid_state(state, url).ids
        docs = canonical(without_unwritable(relabel(back.docs, entity_id_map(ids, back.index)), registry))
        docs.pop("api-keys/mbport emulator", None)  # the key this test talks to the target with
        # The sample database's file lives in a folder named after the emulator's process.
        docs, clean_docs = ({a: _without_sample_path(d) for a, d in x.items()} for x in (docs, clean_docs))
        differ = sorted(a for a in set(docs) | set(clean_docs) if docs.get(a) != clean_docs.get(a))
        assert not differ, (f"SIGKILL after {delay:.2f} s: {differ[:5]}", [(k, docs[a].get(k), clean_docs[a].get(k)) for a in differ[:2] if a in docs and a in clean_docs for k in set(docs[a]) | set(clean_docs[a]) if docs[a].get(k) != clean_docs[a].get(k)])
        assert set(ids) == clean_addresses
        # A third run finds nothing to do.
        again = subprocess.run(_mbport("plan", str(out), "--url", url, "--api-key", API_KEY, "--secrets",
                                       str(tmp / "secrets.json"), "--state", str(state), "--detailed-exitcode"),
                               capture_output=True, timeout=120)
        assert again.returncode == 0, again.stdout.decode()[-2000:]
        return delay
    finally:
        stop(server)


def test_sigkilled_import_subprocess_resumes(source, registry, clean, tmp_path):
    _sigkill_trial(source, registry, clean, tmp_path, random.Random(1))


@pytest.mark.slow
def test_sigkilled_import_subprocess_resumes_many_times(source, registry, clean, tmp_path_factory):
    for trial in range(2, 8):
        _sigkill_trial(source, registry, clean, tmp_path_factory.mktemp(f"sigkill-{trial}"), random.Random(trial))


# ---------------------------------------------------------------------------------------------------------------
# Backup


def _repo_consistent(repo_dir: Path, reference: dict[str, bytes]) -> None:
    import git

    repo = git.Repo(repo_dir)
    repo.git.fsck("--no-progress")  # raises on a corrupt object store
    assert repo.git.status("--porcelain") == "", "the working tree differs from the last snapshot"
    committed = {}
    for blob in repo.head.commit.tree.traverse():
        if blob.type == "blob" and blob.path != ".gitignore":
            committed[blob.path] = blob.data_stream.read()
    assert committed == reference


def _files(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file() and ".git" not in p.relative_to(root).parts and p.name != ".gitignore"}


@pytest.fixture(scope="module")
def gitstore():
    import mbport.gitstore

    return mbport.gitstore


@settings(max_examples=max(2, KILL_EXAMPLES // 2), deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(n=st.integers(min_value=1, max_value=40))
def test_backup_killed_after_any_request_leaves_a_consistent_repository(source, registry, gitstore, tmp_path_factory, n):
    emu, session, out, _ = source
    reference = _files(out)  # a plain export: no personal collections, so the backups leave them out too
    repo = tmp_path_factory.mktemp("backup") / "repo"
    backup = functools.partial(gitstore.run_backup, include_personal=False)
    with MetabaseClient("http://source.test", session_token=session, transport=emu.transport()) as api:
        backup(api, registry, repo)  # a first snapshot, so the kill hits an update
        (repo / "stray.txt").write_text("left alone")  # the user's own file: never touched
        hook = KillAfterWrites(n, methods=("GET",))
        emu.faults = hook
        try:
            with pytest.raises(Killed):
                backup(api, registry, repo)
        finally:
            emu.faults = None
        lock = repo / ".git" / gitstore.LOCK_NAME
        lock.unlink(missing_ok=True)  # a dead process's lock; the real one is found stale by pid
        result = backup(api, registry, repo)
    assert result.commit is None, "nothing changed on the instance, so no new snapshot"
    (repo / "stray.txt").unlink()
    _repo_consistent(repo, reference)


def test_sigkilled_backup_subprocess_leaves_a_consistent_repository(registry, gitstore, tmp_path):
    server, url = _serve(tmp_path, latency_ms=5, seed="sample")
    try:
        repo = tmp_path / "repo"
        command = _mbport("backup", "--repo", str(repo), "--url", url, "--api-key", API_KEY)
        first = subprocess.run(command, capture_output=True, timeout=120)
        assert first.returncode in (0, 3), first.stderr.decode()[-2000:]
        reference = _files(repo)
        for trial in range(2):
            victim = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            time.sleep(random.Random(trial).uniform(0.6, 1.5))
            victim.send_signal(signal.SIGKILL)
            victim.wait(10)
            done = subprocess.run(command, capture_output=True, timeout=120)
            assert done.returncode in (0, 3), done.stderr.decode()[-2000:]
            _repo_consistent(repo, reference)
    finally:
        stop(server)


# ---------------------------------------------------------------------------------------------------------------
# Stopped right after creating a database, run again while its first sync still runs on the target


DETAIL = re.compile(r"/api/database/(\d+)")


class StopAfterDatabaseCreate:
    """Dies on the answer to the first POST of a SQLite database (the database exists, nobody recorded it); afterwards,
    releases that database's held sync once a client asks for the database itself (polls its sync status)."""

    def __init__(self, release: threading.Event):
        self.release, self.dead, self.db_id, self.live = release, False, None, False

    def before(self, req):
        if self.dead and not self.live:
            raise Killed()
        found = DETAIL.fullmatch(req.path)
        if self.live and self.db_id is not None and found and int(found.group(1)) == self.db_id:
            self.release.set()
        return None

    def after(self, req, resp):
        if not self.dead and req.method == "POST" and req.path == "/api/database" and resp.status < 400 \
                and resp.body["engine"] == "sqlite":  # a warehouse with tables to sync
            self.dead, self.db_id = True, resp.body["id"]
            raise Killed()
        return resp


@pytest.fixture
def held_sync(monkeypatch):
    """Background syncs wait for the event before reading the warehouse (the sample database syncs inline)."""
    release = threading.Event()
    real = sync.introspect

    def introspect(path):
        if threading.current_thread().name.startswith("sync-db-"):
            assert release.wait(30), "the held sync was never released"
        return real(path)

    monkeypatch.setattr(sync, "introspect", introspect)
    yield release
    release.set()


def _stopped_after_database_create(source, registry, tmp_path, release):
    _, _, out, _ = source
    emu, session = target()
    hook = StopAfterDatabaseCreate(release)
    emu.faults = hook
    original_save = State.save
    State.save = lambda self: None if hook.dead else original_save(self)
    try:
        with pytest.raises(Killed):
            run_import(out, registry, emu, session, tmp_path / "state.json")
    finally:
        State.save = original_save
    assert hook.db_id is not None
    hook.live = True
    return out, emu, session, hook


def test_a_rerun_waits_for_the_first_sync_of_the_database_the_stopped_run_created(source, registry, clean, tmp_path,
                                                                                     held_sync):
    out, emu, session, hook = _stopped_after_database_create(source, registry, tmp_path, held_sync)
    created = emu.state.table("metabase_database").get(hook.db_id)
    assert created["initial_sync_status"] == "incomplete"  # the case: its tables do not exist yet
    resumed = run_import(out, registry, emu, session, tmp_path / "state.json")
    assert resumed.result.failed == {} and resumed.result.skipped == []
    # every table of that database in the tree is matched, to the table its sync made on the target
    docs, ids = resumed.importer.tree.docs, resumed.importer.ids
    wanted = {a for a, d in docs.items() if a.startswith("tables/") and ids.get(d["database"]["$ref"]) == hook.db_id}
    assert wanted
    with client(emu, session) as api:
        synced = {(t.get("schema") or "", t["name"]): t["id"] for t in api.get(f"/api/database/{hook.db_id}/metadata")["tables"]}
    assert {a: ids.get(a) for a in wanted} == {a: synced[(docs[a].get("schema") or "", docs[a]["name"])] for a in wanted}
    # and the target ends as an uninterrupted import leaves it: their metadata written, nothing twice
    (clean_rows, clean_docs), _, _ = clean
    rows, docs = fingerprint(emu, session, resumed, registry, tmp_path / "back")
    assert rows == clean_rows
    assert sorted(a for a in set(docs) | set(clean_docs) if docs.get(a) != clean_docs.get(a)) == []


def test_a_first_sync_that_never_finishes_stops_the_rerun_naming_the_database(source, registry, tmp_path,
                                                                             held_sync, monkeypatch):
    from mbport_plugins.databases import Databases

    out, emu, session, hook = _stopped_after_database_create(source, registry, tmp_path, held_sync)
    name = emu.state.table("metabase_database").get(hook.db_id)["name"]
    hook.db_id = None  # nothing releases the sync
    monkeypatch.setattr(Databases, "sync_timeout", 0.3)
    with pytest.raises(MbportError) as stopped:
        run_import(out, registry, emu, session, tmp_path / "state.json")
    assert f"database {name!r}" in str(stopped.value) and "the first sync did not finish" in str(stopped.value)


# ---------------------------------------------------------------------------------------------------------------
# The answer to a database's POST is lost (drop-after): the import finds it again by name and adopts it


class LoseDatabaseCreateAnswer:
    """Drops the connection after the first POST of a SQLite database was processed (the database exists, its
    answer is lost); releases that database's held sync once a client reads the database itself (polls its sync)."""

    def __init__(self, release: threading.Event):
        self.release, self.db_id = release, None

    def before(self, req):
        found = DETAIL.fullmatch(req.path)
        if self.db_id is not None and req.method == "GET" and found and int(found.group(1)) == self.db_id:
            self.release.set()
        return None

    def after(self, req, resp):
        if self.db_id is None and req.method == "POST" and req.path == "/api/database" and resp.status < 400 \
                and resp.body["engine"] == "sqlite":
            self.db_id = resp.body["id"]
            raise ConnectionDropped(processed=True)
        return resp


def test_a_database_whose_create_answer_was_lost_is_adopted_after_its_first_sync(source, registry, tmp_path,
                                                                                  held_sync):
    _, _, out, _ = source
    emu, session = target()
    hook = LoseDatabaseCreateAnswer(held_sync)
    emu.faults = hook
    imported = run_import(out, registry, emu, session, tmp_path / "state.json")
    emu.faults = None
    assert hook.db_id is not None
    assert imported.result.failed == {} and imported.result.skipped == []
    docs, ids = imported.importer.tree.docs, imported.importer.ids
    adopted = next(a for a, tid in ids.items() if a.startswith("databases/") and tid == hook.db_id)
    # every table of that database in the tree is matched, to the table its sync made on the target
    wanted = {a for a, d in docs.items() if a.startswith("tables/") and d["database"]["$ref"] == adopted}
    assert wanted
    with client(emu, session) as api:
        synced = {(t.get("schema") or "", t["name"]): t["id"] for t in api.get(f"/api/database/{hook.db_id}/metadata")["tables"]}
        names = [d["name"] for d in api.get("/api/database")["data"]]
    assert {a: ids.get(a) for a in wanted} == {a: synced[(docs[a].get("schema") or "", docs[a]["name"])] for a in wanted}
    assert len(names) == len(set(names))  # adopted, not created a second time
