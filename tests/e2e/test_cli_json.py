"""`mbport --json ...`: JSON lines a script can parse, and the documented exit code of every command family."""

from __future__ import annotations

import json
import re
import shutil

import pytest

from mbport.client import ApiError, MetabaseClient
from tests.e2e.instances import mbport, routed_instances, write_secrets

TYPES = {"progress", "change", "warning", "error", "summary", "check"}


def parse(run) -> list[dict]:
    """Every stdout line is one JSON event with a known type, and the last one is the summary."""
    events = [json.loads(line) for line in run.out.splitlines()]
    assert events and all(e["type"] in TYPES for e in events), run.out
    assert events[-1]["type"] == "summary" and [e["type"] for e in events].count("summary") == 1
    assert events[-1]["exit_code"] == run.code
    return events


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """A seeded source, an empty target, and a tree of the source (alerts left out: leaves nothing refers to)."""
    with pytest.MonkeyPatch.context() as mp:
        instances = routed_instances(mp)
        source, target = instances.add("jsrc", seed="sample"), instances.add("jdst")
        root = tmp_path_factory.mktemp("json")
        tree = root / "tree"
        run = mbport("export", "--url", source.url, "--session-token", source.session, "--out", tree)
        assert run.code in (0, 3), run.err
        shutil.rmtree(tree / "alerts", ignore_errors=True)
        yield {"source": source, "target": target, "tree": tree, "root": root, "mp": mp,
               "secrets": write_secrets(root / "secrets.json")}


def to_target(world, *args):
    return [*args, "--url", world["target"].url, "--session-token", world["target"].session]


def test_export_events(world, tmp_path):
    source = world["source"]
    run = mbport("--json", "export", "--url", source.url, "--session-token", source.session, "--out", tmp_path / "t")
    events = parse(run)
    progress = [e for e in events if e["type"] == "progress" and e["phase"] == "export"]
    assert [e["done"] for e in progress] == list(range(1, len(progress) + 1)) and progress[-1]["total"] == len(progress)
    assert {"cards", "dashboards"} <= {e["kind"] for e in progress}
    summary = events[-1]
    assert summary["command"] == "export" and summary["counts"]["cards"] == summary["objects"] - sum(
        n for k, n in summary["counts"].items() if k != "cards")
    assert "read cards" not in run.err  # no progress drawn off a terminal


def test_plan_apply_plan_as_events(world):
    tree, secrets = world["tree"], world["secrets"]
    plan = mbport("--json", *to_target(world, "plan", tree, "--secrets", secrets, "--detailed-exitcode"))
    assert plan.code == 4, plan.out[-2000:] + plan.err
    events = parse(plan)
    changes = [e for e in events if e["type"] == "change"]
    assert changes and all(set(e) >= {"address", "kind", "action", "name", "fields"} for e in changes)
    revenue = next(e for e in changes if e["name"] == "Revenue by month")
    assert revenue["action"] == "create" and revenue["address"].startswith("cards/")
    assert events[-1]["plan"]["create"] == len([e for e in changes if e["action"] == "create"])

    applied = mbport("--json", *to_target(world, "import", tree, "--secrets", secrets))
    events = parse(applied)
    assert applied.code == 0, applied.out[-2000:]
    writes = [e for e in events if e["type"] == "progress" and e["phase"] == "apply"]
    assert writes and writes[-1]["done"] == len(writes) and all(e["address"] for e in writes)
    assert events[-1]["written"] >= len(changes) and events[-1]["failed"] == []

    # someone edits the chart on the target: the plan names the object and the field that differs
    card = world["target"].card("Revenue by month")
    with world["target"].api() as api:
        api.put(f"/api/card/{card['id']}", json={"display": "bar"}).raise_for_status()
    again = mbport("--json", *to_target(world, "plan", tree, "--secrets", secrets, "--detailed-exitcode"))
    changes = [e for e in parse(again) if e["type"] == "change"]
    assert again.code == 4 and [(c["action"], c["name"], c["fields"]) for c in changes] == [
        ("update", "Revenue by month", ["display"])]


def test_errors_are_an_event_and_one_line_on_stderr(world, tmp_path):
    missing = mbport("--json", *to_target(world, "plan", tmp_path / "nope"))
    events = parse(missing)
    assert missing.code == 1 and events[-2] == {"type": "error", "message": f"{tmp_path / 'nope'}: no such folder",
                                                  "hint": "give the folder an export wrote", "exit_code": 1}
    assert missing.err.splitlines() == [f"Error: {tmp_path / 'nope'}: no such folder"]
    usage = mbport("--json", "export", "--nope")
    assert usage.code == 2 and parse(usage)[-2]["type"] == "error" and len(usage.err.splitlines()) == 1


def test_every_command_speaks_json(world, tmp_path):
    tree = world["tree"]
    for args in (["check", tree], ["plugins"], ["graph", tree], ["diff", tree, tree],
                 ["doctor", "--url", world["source"].url, "--session-token", world["source"].session]):
        run = mbport("--json", *args)
        assert run.code == 0, (args, run.out, run.err)
        assert parse(run)[-1]["command"] == str(args[0])
    checks = [e for e in parse(mbport("--json", "doctor", "--url", world["source"].url, "--session-token",
                                      world["source"].session)) if e["type"] == "check"]
    assert {c["name"] for c in checks} >= {"reachable", "authentication", "admin rights", "permission graphs"}


# ---------------------------------------------------------------------------------------------------- exit codes

def test_exit_0_1_2_for_each_family(world, tmp_path, monkeypatch):
    monkeypatch.setattr("mbport.client._sleep", lambda s: None)
    tree, src, dst = world["tree"], world["source"], world["target"]
    broken = tmp_path / "broken"
    shutil.copytree(tree, broken)
    next((broken / "cards").rglob("*.json")).write_text("{ not json")
    unreachable = ["--url", "http://127.0.0.1:9", "--api-key", "mb_aaaaaaaaaaaaaaaa"]
    cases = {
        "check": (["check", tree], ["check", broken], ["check"]),
        "export": (["export", "--url", src.url, "--session-token", src.session, "--out", tmp_path / "e"],
                   ["export", *unreachable, "--out", tmp_path / "e2"], ["export", "--url", "nope", "--out", "x"]),
        "plan": (["plan", tree, "--secrets", world["secrets"], "--url", dst.url, "--session-token", dst.session],
                 ["plan", broken, "--url", dst.url, "--session-token", dst.session], ["plan", tree, "--prune=x"]),
        "diff": (["diff", tree, tree], ["diff", tree, *unreachable], ["diff"]),
        "graph": (["graph", tree], ["graph", tmp_path / "none"], ["graph", tree, "--format", "png"]),
        "doctor": (["doctor", "--url", src.url, "--session-token", src.session], ["doctor", *unreachable],
                   ["doctor", "--concurrency", "0"]),
        "backup": (["backup", "--url", src.url, "--session-token", src.session, "--repo", tmp_path / "repo"],
                   ["backup", *unreachable, "--repo", tmp_path / "repo2"],
                   ["backup", "--url", src.url, "--session-token", src.session, "--repo", tmp_path / "r", "--author", "x"]),
        "log": (["log", "--repo", tmp_path / "repo"], ["log", "--repo", tmp_path / "none"], ["log"]),
        "migrate": (None, ["migrate", "--from", "http://127.0.0.1:9", "--from-api-key", "mb_aaaaaaaaaaaaaaaa",
                           "--to", dst.url, "--to-session-token", dst.session], ["migrate", "--from", "prod"]),
    }
    for family, (ok, error, usage) in cases.items():
        for code, args in ((0, ok), (1, error), (2, usage)):
            if args is None:
                continue
            run = mbport(*args)
            assert run.code == code, (family, args, run.code, run.err)
            assert "Traceback" not in run.err


def test_exit_3_with_warnings(world, tmp_path, monkeypatch):
    from mbport_plugins.snippets import Snippets

    # export: a warning (a dangling ref reported by a kind) → the tree is written, exit 3
    real = Snippets.normalize

    def warn(self, raw, ctx):
        ctx.warnings.append(f"snippets/{raw.get('name')}: refers to a collection that no longer exists")
        return real(self, raw, ctx)

    monkeypatch.setattr(Snippets, "normalize", warn)
    src = world["source"]
    run = mbport("export", "--url", src.url, "--session-token", src.session, "--out", tmp_path / "w")
    assert run.code == 3 and "Warning: snippets/" in run.err and (tmp_path / "w" / "mbport.json").exists()
    monkeypatch.setattr(Snippets, "normalize", real)

    # import --continue-on-error: one object fails, what depends on it is skipped, exit 3
    def fail(self, req):
        raise ApiError("POST", "/api/native-query-snippet", 500, "boom")

    monkeypatch.setattr(Snippets, "create", fail)
    fresh = routed_instances(monkeypatch).add("jfresh")
    run = mbport("--json", "import", world["tree"], "--secrets", world["secrets"], "--continue-on-error",
                 "--url", fresh.url, "--session-token", fresh.session, "--state", tmp_path / "state.json")
    events = parse(run)
    assert run.code == 3
    errors = [e for e in events if e["type"] == "error"]
    assert errors and all(e["address"].startswith("snippets/") and "boom" in e["message"] for e in errors)
    assert events[-1]["failed"] and events[-1]["ok"] is True


def test_exit_4_with_detailed_exitcode_and_diff_exit_code(world, tmp_path, monkeypatch):
    tree = world["tree"]
    other = tmp_path / "other"
    shutil.copytree(tree, other)
    shutil.rmtree(other / "snippets")
    assert mbport("diff", tree, other, "--exit-code").code == 4
    assert mbport("diff", tree, tree, "--exit-code").code == 0
    fresh = routed_instances(monkeypatch).add("jfour")
    assert mbport("plan", tree, "--secrets", world["secrets"], "--detailed-exitcode", "--url", fresh.url,
                  "--session-token", fresh.session).code == 4


@pytest.mark.parametrize("family", ["export", "plan", "import", "backup", "doctor", "migrate", "diff"])
def test_exit_130_when_interrupted(world, tmp_path, monkeypatch, family):
    def interrupted(*_a, **_kw):
        raise KeyboardInterrupt

    monkeypatch.setattr(MetabaseClient, "get", interrupted)
    monkeypatch.setattr("mbport.doctor._reach", interrupted)
    src, dst, tree = world["source"], world["target"], world["tree"]
    conn = ["--url", src.url, "--session-token", src.session]
    args = {"export": ["export", *conn, "--out", tmp_path / "x"], "plan": ["plan", tree, *conn],
            "import": ["import", tree, *conn], "backup": ["backup", *conn, "--repo", tmp_path / "repo"],
            "doctor": ["doctor", *conn], "diff": ["diff", tree, *conn],
            "migrate": ["migrate", "--from", src.url, "--from-session-token", src.session, "--to", dst.url,
                        "--to-session-token", dst.session]}[family]
    run = mbport(*args)
    assert run.code == 130 and run.err.strip().splitlines()[-1] == "Interrupted."
    as_json = mbport("--json", *args)
    assert as_json.code == 130 and parse(as_json)[-2] == {"type": "error", "message": "Interrupted.", "hint": None,
                                                          "exit_code": 130}


def test_debug_shows_the_http_exchange_with_secrets_redacted(world, tmp_path):
    from tests.conftest import ADMIN_EMAIL, ADMIN_PASSWORD

    run = mbport("--debug", "export", "--url", world["source"].url, "--username", ADMIN_EMAIL, "--password",
                 ADMIN_PASSWORD, "--out", tmp_path / "d")
    assert run.code in (0, 3), run.err[-2000:]
    assert "POST /api/session -> 200" in run.err and "GET /api/card" in run.err and "request: params=" in run.err and "response: (a session id, not shown)" in run.err
    assert ADMIN_PASSWORD not in run.err and '"password": ***' in run.err
    session = world["source"].emu.state.sessions
    assert not any(token in run.err for token in session)  # the session id the login returned is redacted too
    failing = mbport("--debug", "plan", tmp_path / "nope", "--url", world["source"].url, "--api-key", "mb_secretsecret0001")
    assert failing.code == 1 and "Traceback" in failing.err and "mb_secretsecret0001" not in failing.err


def test_an_unknown_host_fails_at_once_with_one_line(tmp_path, monkeypatch):
    """A host name that does not resolve is not retried (it was, six times over about 6 s)."""
    from mbport import client as client_module

    sleeps: list[float] = []
    monkeypatch.setattr(client_module, "_sleep", sleeps.append)
    run = mbport("export", "--url", "http://nonexistent.invalid", "--api-key", "mb_NoSuchHostKey0123456789",
                 "--out", tmp_path / "tree")
    assert run.code == 1 and sleeps == []
    lines = run.err.splitlines()
    assert len(lines) == 2 and lines[1].startswith("Hint: check the host name"), run.err
    assert lines[0].startswith("Error: cannot reach http://nonexistent.invalid: the host name "
                               "'nonexistent.invalid' does not resolve"), run.err
    assert not (tmp_path / "tree").exists()


def _fails_once_per_path(pattern: str):
    """A fault predicate: the first request of each path matching `pattern` fails, its retry succeeds."""
    import re

    seen: set[str] = set()

    def first(req) -> bool:
        if not re.fullmatch(pattern, req.path) or req.path in seen:
            return False
        seen.add(req.path)
        return True

    return first


def test_export_shows_what_it_fetches_and_when_it_waits_to_retry(world, tmp_path, monkeypatch):
    """Export sat on `read alerts (0) 19/21` while dashboards were fetched one by one, and a retried request was
    invisible: the fetch is counted (objects done of total) and every backoff wait is shown."""
    from mbport.emulator.faults import FaultPlan

    source = world["source"]
    sleeps: list[float] = []
    monkeypatch.setattr("mbport.client._sleep", sleeps.append)
    source.emu.faults = FaultPlan(rate=1.0, kinds=["503"], only=_fails_once_per_path(r"/api/dashboard/\d+"))
    try:
        run = mbport("export", "--url", source.url, "--session-token", source.session, "--out", tmp_path / "t",
                     "--json")
    finally:
        source.emu.faults = None
    events = parse(run)
    dashboards = events[-1]["counts"]["dashboards"]
    fetch = [(i, e) for i, e in enumerate(events) if e["type"] == "progress" and e["phase"] == "fetch"
             and e["kind"] == "dashboards"]
    assert [e["done"] for _, e in fetch] == list(range(dashboards + 1)) and {e["total"] for _, e in fetch} == {dashboards}
    assert all(e["during"] == "export" for _, e in fetch)
    read = next(i for i, e in enumerate(events) if e.get("phase") == "export" and e["kind"] == "dashboards")
    assert fetch[-1][0] < read  # counted while they are fetched, before the kind is done
    retries = [e["message"] for e in events if e["type"] == "progress" and e["phase"] == "retry"]
    assert len(retries) == len(sleeps) == dashboards
    assert all(re.fullmatch(r"GET /api/dashboard/\d+: 503, retrying in [0-9.]+ s \(attempt 2 of 6\)", m)
               for m in retries), retries


def test_plan_shows_the_target_being_read_and_its_retries(world, monkeypatch):
    """At 20% faults the plan sat at `plan 0/59` for 30 s: the target's read and its waits now show."""
    from mbport.emulator.faults import FaultPlan

    source = world["source"]
    sleeps: list[float] = []
    monkeypatch.setattr("mbport.client._sleep", sleeps.append)
    source.emu.faults = FaultPlan(rate=1.0, kinds=["502"], only=_fails_once_per_path(r"/api/(card|dashboard/\d+)"))
    try:
        run = mbport("--json", "plan", world["tree"], "--url", source.url, "--session-token", source.session)
    finally:
        source.emu.faults = None
    events = parse(run)
    fetch = [e for e in events if e["type"] == "progress" and e["phase"] == "fetch"]
    assert fetch and all(e["during"] == "plan" for e in fetch)
    assert fetch[-1]["done"] == fetch[-1]["total"]
    retries = [e["message"] for e in events if e["type"] == "progress" and e["phase"] == "retry"]
    assert len(retries) == len(sleeps) >= 2 and any(m.startswith("GET /api/card: 502, retrying") for m in retries)
    first_compare = next(i for i, e in enumerate(events) if e.get("phase") == "plan")
    assert max(i for i, e in enumerate(events) if e.get("phase") in ("fetch", "retry")) < first_compare
