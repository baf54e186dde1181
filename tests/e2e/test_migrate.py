"""`mbport migrate`: one command from a source to a target, a database mapping, a kept state, bad input."""

from __future__ import annotations

import json
import re
import time

import pytest

from mbport.emulator.seeds import sample
from mbport.migrate import default_state_path
from tests.conftest import writes_since
from tests.e2e.instances import add_sqlite_database, mbport, routed_instances, write_secrets


@pytest.fixture
def instances(monkeypatch):
    return routed_instances(monkeypatch)


@pytest.fixture
def pair(instances, tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    source = instances.add("from", seed="sample")
    target = instances.add("to")
    return source, target


def migrate_args(source, target, *more):
    return ["migrate", "--from", source.url, "--from-session-token", source.session,
            "--to", target.url, "--to-session-token", target.session, *more]


def test_dry_run_writes_nothing_and_bad_input_is_one_line(pair, tmp_path, monkeypatch):
    source, target = pair
    secrets = write_secrets(tmp_path / "secrets.json")
    before = len(target.emu.request_log)
    dry = mbport(*migrate_args(source, target, "--secrets", secrets, "--dry-run"))
    assert dry.code == 0, dry.err
    assert "to create" in dry.out and "+ card '" in dry.out
    assert writes_since(target.emu, before) == []
    missing_secret = mbport(*migrate_args(source, target))
    assert missing_secret.code == 1 and "MBPORT_SECRET_DATABASES_FINANCE_PASSWORD" in missing_secret.err
    no_key = mbport("migrate", "--from", source.url, "--to", target.url, "--to-session-token", target.session)
    assert no_key.code == 2 and "no credentials for --from" in no_key.err
    wrong = mbport("migrate", "--from", source.url, "--from-session-token", source.session,
                   "--to", target.url, "--to-api-key", "mb_notthekeynotthekey")
    err = [line for line in wrong.err.splitlines() if line.startswith("Error:")]
    assert wrong.code == 1 and len(err) == 1 and err[0].startswith(f"Error: {target.url} refused the API key from "
                                                                   "--to-api-key (401")
    monkeypatch.setattr("mbport.client._sleep", lambda s: None)
    unreachable = mbport("migrate", "--from", "http://127.0.0.1:9", "--from-api-key", "mb_aaaaaaaaaaaaaaaa",
                         "--to", target.url, "--to-session-token", target.session)
    assert unreachable.code == 1 and "--from http://127.0.0.1:9: cannot reach" in unreachable.err
    assert not default_state_path(source.url, target.url).exists()  # nothing applied, nothing recorded


def test_migrate_then_a_second_run_applies_only_what_changed(pair, tmp_path):
    source, target = pair
    secrets = write_secrets(tmp_path / "secrets.json")
    started = time.monotonic()
    first = mbport(*migrate_args(source, target, "--secrets", secrets))
    assert first.code == 0, first.err
    assert "Applied:" in first.out and "Failed" not in first.err
    state = default_state_path(source.url, target.url)
    assert state.is_file() and str(state).startswith(str(tmp_path / "data"))
    assert target.card("Revenue by month")["display"] == "line"
    before = len(target.emu.request_log)
    second = mbport(*migrate_args(source, target, "--secrets", secrets))
    assert second.code == 0, second.err
    assert "Plan: 0 to create, 0 to update" in second.out and "Nothing to do" in second.out
    assert writes_since(target.emu, before) == []
    card = source.card("Revenue by month")
    with source.api() as api:
        api.put(f"/api/card/{card['id']}", json={"display": "bar"}).raise_for_status()
    third = mbport(*migrate_args(source, target, "--secrets", secrets))
    assert "Plan: 0 to create, 1 to update" in third.out, third.out
    assert target.card("Revenue by month")["display"] == "bar"
    assert time.monotonic() - started < 60


def test_migrate_with_a_database_mapping(pair, tmp_path):
    source, target = pair
    # Actions off: the import turns on what the source's model actions need there, and nothing else.
    mapped = add_sqlite_database(target, "Warehouse B", sample.WAREHOUSE_SCRIPT)
    secrets = write_secrets(tmp_path / "secrets.json")
    run = mbport(*migrate_args(source, target, "--secrets", secrets, "--map-database", "Shop Warehouse=Warehouse B",
                               "--state", tmp_path / "state.json"))
    assert run.code == 0, run.err
    with target.api() as api:
        names = sorted(d["name"] for d in api.get("/api/database").json()["data"])
    assert "Shop Warehouse" not in names and "Warehouse B" in names
    card = target.card("Orders by status (SQL)")
    query = card["dataset_query"]
    assert query.get("database") == mapped["id"], json.dumps(query)[:300]
    with target.api() as api:
        assert api.get(f"/api/database/{mapped['id']}").json()["settings"] == {"database-enable-actions": True}
    assert (tmp_path / "state.json").is_file()  # --state beats the default under the data folder
    assert names == ["Finance", "Sample Database", "Warehouse B"]
    bad = mbport(*migrate_args(source, target, "--map-database", "no-equals-sign", "--dry-run"))
    assert bad.code == 2 and "SRC=DST" in bad.err


def test_a_source_export_check_refuses_names_the_source_not_a_temporary_folder(pair, tmp_path):
    """A source whose question is built on a deleted model: the migration's error names the source and how to see
    the problem again, not the temporary tree (deleted by then). (A link to a deleted dashboard is a dead link, no
    problem: test_backup.)"""
    source, target = pair
    with source.api() as api:
        api.delete(f"/api/card/{source.card('Shop orders model')['id']}").raise_for_status()
    run = mbport(*migrate_args(source, target, "--dry-run"))
    assert run.code == 1 and "Traceback" not in run.err
    assert "cards/missing-id-" in run.err
    assert "mbport-migrate-" not in run.err, run.err
    assert re.search(rf"Error: the export of {re.escape(source.url)}: \d+ problem\(s\) in the tree; nothing was "
                     "written", run.err), run.err
