"""The habits CI keeps (issue 19 move 5): the import contracts (pyproject's [tool.importlinter]: no new cycle,
plugins import only mbport.api, only the CLI, demo and pytest plugin import the emulator) and mypy on its list."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


REINSTALL = "this venv predates them in [dev]: .venv/bin/pip install -e '.[dev]'"


def run(*command: str) -> subprocess.CompletedProcess:
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300)


def test_import_contracts_hold():
    assert (BIN / "lint-imports").is_file(), f"import-linter is not installed; {REINSTALL}"
    done = run(str(BIN / "lint-imports"))
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr
    assert "0 broken" in done.stdout


def test_mypy_passes_on_its_modules():
    assert importlib.util.find_spec("mypy"), f"mypy is not installed; {REINSTALL}"
    done = run(sys.executable, "-m", "mypy")
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr
