"""`pip install mbport` without the `emulator` extra: export, check, plan and verify work in a process where the
extra's packages cannot be imported; `demo` and `emulator serve` say in one line what to install."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

from mbport.extras import EMULATOR_INSTALL, EMULATOR_MODULES
from tests.e2e.instances import Served

API_KEY = "mb_LightInstallKey0123456789abcdefghijklmnop"
ROOT = Path(__file__).resolve().parents[2]
# As if the extra were not installed: any import of its packages fails the way a missing package does.
WITHOUT_EXTRA = f"""
import importlib.abc, sys
MISSING = {EMULATOR_MODULES!r}
class NotInstalled(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name.split(".")[0] in MISSING:
            raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)
sys.meta_path.insert(0, NotInstalled())
from mbport.cli import main
main()
"""


def mbport_without_extra(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", WITHOUT_EXTRA, *args], capture_output=True, text=True, timeout=120)


def test_the_extra_lists_the_modules_the_hint_checks():
    extra = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]["emulator"]
    names = {req.split(">")[0].split("=")[0].split("[")[0].strip().replace("-", "_") for req in extra}
    assert names == set(EMULATOR_MODULES)


def test_backup_and_import_commands_work_without_the_emulator_extra(tmp_path):
    assert mbport_without_extra("--help").returncode == 0
    served = Served(tmp_path, API_KEY)  # the server itself runs with the extra, in its own process
    try:
        tree = tmp_path / "tree"
        conn = ["--url", served.url, "--api-key", API_KEY]
        for args in (["export", *conn, "--out", str(tree)], ["check", str(tree)],
                     ["plan", *conn, "--state", str(tmp_path / "state.json"), str(tree)],
                     ["verify", "--from", served.url, "--from-api-key", API_KEY, "--to", served.url,
                      "--to-api-key", API_KEY, "--kinds", "cards"]):
            proc = mbport_without_extra(*args)
            assert proc.returncode == 0, (args[0], proc.stderr)
            assert "Traceback" not in proc.stderr
    finally:
        served.stop()
    assert (tree / "cards").is_dir()


def test_demo_and_emulator_name_the_extra_to_install(tmp_path):
    for args in (["demo", "--dir", str(tmp_path / "demo")], ["emulator", "serve", "--port", "0"]):
        proc = mbport_without_extra(*args)
        assert proc.returncode == 1, proc.stderr
        assert proc.stderr.count("\n") == 1 and EMULATOR_INSTALL in proc.stderr, proc.stderr
        assert not (tmp_path / "demo").exists()
