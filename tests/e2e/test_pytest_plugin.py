"""The `metabase` pytest fixture that ships with mbport (entry point pytest11), used as a user would: a test file
in a pytest run of its own, against the fixture's in-process client and its served URL with the mbport command."""

from __future__ import annotations

from importlib.metadata import entry_points

pytest_plugins = ("pytester",)

USER_TESTS = '''
import json, subprocess, sys

import pytest


@pytest.mark.metabase(seed="sample", profile="0.61")
def test_backup_holds_every_card(metabase, tmp_path):
    names = {card["name"] for card in metabase.http().get("/api/card").json()}
    assert len(names) > 5, "the sample seed has cards"
    done = subprocess.run([sys.executable, "-m", "mbport", "export", *metabase.cli_args, "--include-personal",
                           "--out", str(tmp_path)],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert names <= {json.loads(p.read_text())["name"] for p in (tmp_path / "cards").rglob("*.json")}
    assert metabase.client().get("/api/session/properties")["version"]["tag"].startswith("v0.61")


def test_each_test_gets_an_empty_instance_by_default(metabase):
    assert metabase.client().get("/api/card") == []


@pytest.mark.metabase(colour="blue")
def test_a_misspelt_marker_is_one_clear_error(metabase):
    pass
'''


def test_users_metabase_fixture(pytester):
    assert any(ep.value == "mbport.pytest_plugin" for ep in entry_points(group="pytest11")), (
        "the pytest11 entry point is not installed: .venv/bin/pip install -e '.[dev]'")
    pytester.makepyfile(test_user=USER_TESTS)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-q")
    result.assert_outcomes(passed=2, errors=1)
    result.stdout.fnmatch_lines(["*@pytest.mark.metabase: unknown argument 'colour'; it takes seed=, profile=, "
                                 "premium_features=*"])
