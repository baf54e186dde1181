"""Refused credentials at the command line: one line saying the instance refused them and where they came from (a
flag, a variable, mbport.toml), never the secret, exit 1, before any other request fails; and credentials the
instance stops accepting mid-run (an expired session, a deleted key)."""

from __future__ import annotations

import re

import httpx
import pytest

from tests.conftest import ADMIN_EMAIL, ADMIN_PASSWORD
from tests.e2e.instances import mbport, routed_instances, write_secrets

WRONG_KEY = "mb_WrongWrongWrongWrong0123456789"
WRONG_PASSWORD = "Not-the-passw0rd"
ENV = ("METABASE_SITE_URL", "METABASE_API_KEY", "METABASE_USERNAME", "METABASE_PASSWORD", "METABASE_SESSION_TOKEN")


@pytest.fixture
def instances(monkeypatch):
    for var in ENV:
        monkeypatch.delenv(var, raising=False)
    return routed_instances(monkeypatch)


@pytest.fixture
def source(instances):
    return instances.add("source", seed="sample")


def refused(run, secret: str) -> str:
    """The run failed with exit 1 and one `Error:` line (and its hint), without the secret or a request's path."""
    assert run.code == 1, run
    assert "Traceback" not in run.err and secret not in run.err + run.out
    lines = [line for line in run.err.splitlines() if line.strip()]
    assert len(lines) == 2 and lines[0].startswith("Error: ") and lines[1].startswith("Hint: "), run.err
    assert "failed: 401" not in lines[0] and "/api/" not in lines[0], lines[0]
    return lines[0]


@pytest.mark.parametrize("command", ["export", "backup", "plan", "import"])
def test_a_wrong_api_key_is_refused_by_name_of_its_flag(source, tmp_path, command):
    args = {"export": ["--out", tmp_path / "tree"], "backup": ["--repo", tmp_path / "repo"],
            "plan": [tmp_path / "tree"], "import": [tmp_path / "tree"]}[command]
    if command in ("plan", "import"):
        assert mbport("export", "--url", source.url, "--session-token", source.session, "--out", *args).code in (0, 3)
    before = len(source.emu.request_log)
    run = mbport(command, *args, "--url", source.url, "--api-key", WRONG_KEY)
    line = refused(run, WRONG_KEY)
    assert line == "Error: http://source.test refused the API key from --api-key (401 Unauthenticated)", line
    assert "Admin → Settings → Authentication → API keys" in run.err
    assert not [r for r in source.emu.request_log[before:] if r[0] != "GET"]  # nothing written


def test_the_variable_or_the_config_file_that_gave_the_credentials_is_named(source, tmp_path, monkeypatch):
    monkeypatch.setenv("METABASE_API_KEY", WRONG_KEY)
    env = mbport("export", "--url", source.url, "--out", tmp_path / "a")
    assert "refused the API key from METABASE_API_KEY (401" in refused(env, WRONG_KEY)
    monkeypatch.delenv("METABASE_API_KEY")
    monkeypatch.setenv("PROD_MB_KEY", WRONG_KEY)
    (tmp_path / "mbport.toml").write_text(f'[instances.prod]\nurl = "{source.url}"\napi_key_env = "PROD_MB_KEY"\n')
    monkeypatch.chdir(tmp_path)
    toml = mbport("export", "--instance", "prod", "--out", tmp_path / "b")
    assert "refused the API key from PROD_MB_KEY (mbport.toml instance 'prod') (401" in refused(toml, WRONG_KEY)
    password = mbport("export", "--url", source.url, "--username", ADMIN_EMAIL, "--password", WRONG_PASSWORD,
                      "--out", tmp_path / "c")
    line = refused(password, WRONG_PASSWORD)
    assert line.startswith("Error: http://source.test refused the username and password from --username and "
                           "--password (401 "), line


def test_each_side_of_a_migration_is_named_by_its_own_flag_or_variable(source, instances, tmp_path, monkeypatch):
    target = instances.add("target")
    monkeypatch.setenv("MBPORT_TO_API_KEY", WRONG_KEY)
    run = mbport("migrate", "--from", source.url, "--from-session-token", source.session, "--to", target.url,
                 "--dry-run")
    assert "http://target.test refused the API key from MBPORT_TO_API_KEY (401" in refused(run, WRONG_KEY)
    verify = mbport("verify", "--from", source.url, "--from-api-key", WRONG_KEY, "--to", target.url,
                    "--to-session-token", target.session)
    assert "http://source.test refused the API key from --from-api-key (401" in refused(verify, WRONG_KEY)


def test_a_session_that_expires_mid_import_is_said_so_and_the_rerun_resumes(source, instances, tmp_path):
    tree = tmp_path / "tree"
    assert mbport("export", "--url", source.url, "--session-token", source.session, "--out", tree).code in (0, 3)
    target = instances.add("target")
    session = target.session
    real = target.emu.handle
    writes = []

    def expire_after_three_writes(req):
        resp = real(req)
        if req.method in ("POST", "PUT") and resp.status < 400:
            writes.append(req.path)
            if len(writes) == 3:
                target.emu.state.sessions.pop(session, None)  # signed out (or expired) from now on
        return resp

    target.emu.handle = expire_after_three_writes
    conn = ["--url", target.url, "--session-token", session, "--secrets", write_secrets(tmp_path / "s.json")]
    run = mbport("import", tree, *conn)
    assert run.code == 1 and "Traceback" not in run.err and session not in run.err + run.out, run.err
    lines = [line for line in run.err.splitlines() if line.strip()]
    assert lines[0] == ("Error: http://target.test no longer accepts the session token from --session-token it "
                        "accepted earlier in this run (401 Unauthenticated)"), lines
    assert "sign in again" in run.err and re.search(r"stopped after \d+ writes? \(recorded in ", run.err), run.err
    # Signed in again, the same command resumes and finishes.
    target.emu.handle = real
    with httpx.Client(transport=target.emu.transport(), base_url=target.url) as http:
        fresh = http.post("/api/session", json={"username": ADMIN_EMAIL, "password": ADMIN_PASSWORD}).json()["id"]
    conn[3] = fresh
    again = mbport("import", tree, *conn)
    assert again.code == 0, again.err
