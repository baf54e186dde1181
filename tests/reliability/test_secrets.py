"""Secrets never leak: export, import (with a secrets file), plan, backup and failing runs, all with --debug,
leave no known secret in any output, log record, error message, tree, state file or git object; TLS is
verified by default; files that hold secrets are owner-only."""

from __future__ import annotations

import logging
import os
import ssl
import stat
import subprocess
from pathlib import Path

import orjson
import pytest

from mbport import cli
from mbport import client as client_module
from mbport.client import MetabaseClient
from mbport.emulator import Emulator, bootstrap, seeds
from mbport.emulator.app import Response
from mbport.emulator.seeds import sample
from tests.conftest import ADMIN_EMAIL, ADMIN_PASSWORD

from .test_hostile import Rewrite, run_cli

SOURCE_KEY = "mb_SoUrCeSeCrEtKeY0123456789abcdefghijklmn"
TARGET_ADMIN_PASSWORD = "T4rget-admin-passw0rd!"
WRONG_PASSWORD = "Wr0ng-but-still-secret!"


@pytest.fixture
def instances(monkeypatch):
    """A seeded source (with an API key) and an empty target, reachable by URL through the real CLI."""
    source = Emulator()
    source_session = bootstrap.setup_admin(source, ADMIN_EMAIL, ADMIN_PASSWORD)
    seeds.load(source, "sample", source_session)
    source.wait_idle()
    bootstrap.add_api_key(source, source_session, "secrets test", key=SOURCE_KEY)
    target = Emulator(sqlite_actions=True)  # the sample tree's actions run on SQLite
    target_session = bootstrap.setup_admin(target, ADMIN_EMAIL, TARGET_ADMIN_PASSWORD)
    by_host = {"source.test": source, "target.test": target}
    real_init = MetabaseClient.__init__

    def with_transport(self, url, *a, **kw):
        host = url.split("://", 1)[-1].split("/")[0]
        kw.setdefault("transport", by_host[host].transport())
        real_init(self, url, *a, **kw)

    monkeypatch.setattr(client_module.MetabaseClient, "__init__", with_transport)
    return source, source_session, target, target_session, by_host


def _git_objects(repo: Path) -> str:
    if not (repo / ".git").exists():
        return ""
    listing = subprocess.run(["git", "-C", str(repo), "cat-file", "--batch-all-objects", "--batch"],
                             capture_output=True, check=True)
    return listing.stdout.decode("utf-8", "replace")


def test_no_known_secret_anywhere(instances, tmp_path, capsys, caplog):
    source, source_session, target, target_session, by_host = instances
    caplog.set_level(logging.DEBUG)
    secrets_file = tmp_path / "secrets.json"
    secrets_file.write_bytes(orjson.dumps({"databases/Finance/password": sample.FINANCE_DB_PASSWORD}))
    secrets_file.chmod(0o600)
    tree_dir, state, repo = tmp_path / "tree", tmp_path / "state.json", tmp_path / "repo"
    outputs = []

    def run(*argv, ok=(0, 3)):
        code, output = run_cli(capsys, "--debug", *argv)
        outputs.append(output)
        if ok:
            assert code in ok, output[-3000:]
        return code, output

    run("export", "--url", "http://source.test", "--api-key", SOURCE_KEY, "--out", str(tree_dir))
    target_flags = ["--url", "http://target.test", "--secrets", str(secrets_file), "--state", str(state)]
    run("import", str(tree_dir), *target_flags, "--username", ADMIN_EMAIL, "--password", TARGET_ADMIN_PASSWORD,
        "--with-api-keys")
    target.wait_idle()
    run("plan", str(tree_dir), *target_flags, "--session-token", target_session)
    if cli.cli.get_command(None, "backup") is not None:
        run("backup", "--repo", str(repo), "--url", "http://source.test", "--session-token", source_session)
    # Failures: a wrong password, and a server error that echoes the database password back (as JDBC drivers do).
    code, _ = run("plan", str(tree_dir), *target_flags, "--username", ADMIN_EMAIL, "--password", WRONG_PASSWORD,
                  ok=None)
    assert code != 0
    fresh = Emulator(sqlite_actions=True)
    fresh_session = bootstrap.setup_admin(fresh, ADMIN_EMAIL, ADMIN_PASSWORD)
    echo = f"Connection failed: jdbc:postgresql://finance:{sample.FINANCE_DB_PASSWORD}@db:5432/finance"
    fresh.faults = Rewrite("POST", "/api/database", lambda body: Response(400, {"message": echo}))
    by_host["fresh.test"] = fresh
    code, output = run("import", str(tree_dir), "--url", "http://fresh.test", "--session-token", fresh_session,
                       "--secrets", str(secrets_file), "--state", str(tmp_path / "fresh.json"), ok=None)
    assert code != 0 and "Connection failed" in output, output[-2000:]

    new_keys_file = Path(str(tree_dir) + ".new-api-keys.json")
    new_keys = list(orjson.loads(new_keys_file.read_bytes()).values()) if new_keys_file.exists() else []
    known = {
        "source API key": SOURCE_KEY, "database password": sample.FINANCE_DB_PASSWORD,
        "seed user password": sample.USER_PASSWORD, "admin password": ADMIN_PASSWORD,
        "target admin password": TARGET_ADMIN_PASSWORD, "wrong password": WRONG_PASSWORD,
        "source session": source_session, "target session": target_session, "fresh session": fresh_session,
        **{f"new API key {i}": k for i, k in enumerate(new_keys)},
    }
    places = {f"output of run {i}": text for i, text in enumerate(outputs)}
    places["log records"] = "\n".join(f"{r.name} {r.getMessage()} {r.exc_text or ''}" for r in caplog.records)
    for path in sorted(tmp_path.rglob("*")):
        if path.is_file() and path not in (secrets_file, new_keys_file) and ".git" not in path.parts:
            places[str(path.relative_to(tmp_path))] = path.read_bytes().decode("utf-8", "replace")
    places["git objects"] = _git_objects(repo)
    found = [f"{what} in {where}" for where, text in places.items() for what, value in known.items() if value in text]
    assert len(places) > 40 and len(caplog.records) > 100  # the scan looked at something
    assert found == [], found
    print(f"secrets: {len(known)} known values, {len(places)} places scanned, 0 found")


def test_tls_is_verified_by_default():
    api = MetabaseClient("https://metabase.example.com", api_key=SOURCE_KEY)
    context = api._http._transport._pool._ssl_context
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname


def test_insecure_is_opt_in_and_warns(instances, tmp_path, capsys):
    code, output = run_cli(capsys, "export", "--url", "http://source.test", "--api-key", SOURCE_KEY, "--insecure",
                           "--out", str(tmp_path / "tree"))
    assert code in (0, 3) and "Warning: TLS certificate verification is off (--insecure)." in output
    code, output = run_cli(capsys, "export", "--url", "http://source.test", "--api-key", SOURCE_KEY,
                           "--out", str(tmp_path / "tree2"))
    assert "TLS" not in output


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o660])
def test_a_secrets_file_others_can_read_is_refused(mode, tmp_path, capsys, instances):
    tree_dir = tmp_path / "tree"
    run_cli(capsys, "export", "--url", "http://source.test", "--api-key", SOURCE_KEY, "--out", str(tree_dir))
    secrets_file = tmp_path / "secrets.json"
    secrets_file.write_bytes(orjson.dumps({"databases/Finance/password": sample.FINANCE_DB_PASSWORD}))
    secrets_file.chmod(mode)
    start = len(instances[2].request_log)
    code, output = run_cli(capsys, "import", str(tree_dir), "--url", "http://target.test", "--session-token",
                           instances[3], "--secrets", str(secrets_file), "--state", str(tmp_path / "s.json"))
    assert code == 1 and "readable by others" in output and f"chmod 600 {secrets_file}" in output
    assert sample.FINANCE_DB_PASSWORD not in output
    assert [r for r in instances[2].request_log[start:] if r[0] in ("POST", "PUT", "DELETE")] == []


def test_the_new_api_keys_file_is_owner_only_whatever_the_umask(tmp_path):
    from mbport_plugins.api_keys import save_new_key

    old = os.umask(0)
    try:
        path = tmp_path / "keys.json"
        save_new_key(path, "CI", "mb_NeWkEyVaLuE0123456789")
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        path.chmod(0o644)  # a file someone loosened: the next key tightens it again
        save_new_key(path, "CD", "mb_NeWkEyVaLuE9876543210")
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert orjson.loads(path.read_bytes()) == {"CI": "mb_NeWkEyVaLuE0123456789", "CD": "mb_NeWkEyVaLuE9876543210"}
    finally:
        os.umask(old)
