"""What `import` and `plan` tell their operator: writes made before a stop, resuming, problems once, plan lines."""

from __future__ import annotations

import json
import re
import shutil

import pytest

from mbport.client import ApiError
from tests.e2e.instances import mbport, routed_instances, write_secrets


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """A seeded source and its exported tree; each test imports into fresh emulators of its own."""
    with pytest.MonkeyPatch.context() as mp:
        instances = routed_instances(mp)
        source = instances.add("rsrc", seed="sample")
        root = tmp_path_factory.mktemp("reports")
        tree = root / "tree"
        run = mbport("export", "--url", source.url, "--session-token", source.session, "--out", tree)
        assert run.code in (0, 3), run.err
        yield {"source": source, "tree": tree, "secrets": write_secrets(root / "secrets.json")}


@pytest.fixture
def instances(monkeypatch):
    return routed_instances(monkeypatch)


def import_into(world, inst, *more):
    return mbport("import", world["tree"], "--secrets", world["secrets"], "--url", inst.url,
                  "--session-token", inst.session, *more)


def applied(run) -> int:
    return int(re.search(r"^Applied: (\d+) writes?\.$", run.out, re.M).group(1))


@pytest.mark.parametrize("stop", [ApiError("POST", "/api/native-query-snippet", 500, "boom"), KeyboardInterrupt()])
def test_a_stopped_import_says_how_far_it_got_and_that_a_rerun_resumes(world, instances, monkeypatch, stop):
    from mbport_plugins.snippets import Snippets

    clean = import_into(world, instances.add("clean"))
    assert clean.code == 0, clean.err
    real = Snippets.create

    def fail(*_a, **_kw):
        raise stop

    monkeypatch.setattr(Snippets, "create", fail)
    target = instances.add("stopped")
    run = import_into(world, target)
    assert run.code == (130 if isinstance(stop, KeyboardInterrupt) else 1), run.err
    found = re.search(r"stopped after (\d+) writes? \(recorded in (\S+)\); run the same command again to resume", run.err)
    assert found, run.err
    before = int(found.group(1))
    assert before > 0 and found.group(2).endswith(".json")
    monkeypatch.setattr(Snippets, "create", real)
    target.emu.wait_idle()  # a database the stopped run created may still be in its first sync
    resumed = import_into(world, target)
    assert resumed.code == 0, resumed.err
    # what the stopped run wrote is not written again: the rerun does the rest, less than a whole import
    assert before + applied(resumed) <= applied(clean) and applied(resumed) < applied(clean)


def test_one_write_is_singular_and_problems_are_listed_once(world, instances, tmp_path):
    target = instances.add("single")
    tree = tmp_path / "tree"
    shutil.copytree(world["tree"], tree)
    first = mbport("import", tree, "--secrets", world["secrets"], "--url", target.url, "--session-token", target.session)
    assert first.code == 0, first.err
    path = tree / "cards/company/sales/revenue-by-month.json"
    doc = json.loads(path.read_text())
    doc["display"] = "bar"
    path.write_text(json.dumps(doc))
    again = mbport("import", tree, "--secrets", world["secrets"], "--url", target.url, "--session-token", target.session)
    assert again.code == 0 and "Applied: 1 write." in again.out.splitlines(), again.out
    fresh = instances.add("nosecret")
    missing = mbport("import", tree, "--url", fresh.url, "--session-token", fresh.session)
    assert missing.code == 1
    mentions = [line for line in missing.err.splitlines() if "MBPORT_SECRET_DATABASES_FINANCE_PASSWORD" in line]
    assert len(mentions) == 1, missing.err
    assert "Error: 1 problem(s) stop the import; nothing was written" in missing.err.splitlines()
