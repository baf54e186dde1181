"""docs/architecture.md stays true: every module path it names exists, and every module the layers contract in
pyproject.toml places in a layer is named in it (lint-imports itself runs in test_habits.py)."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "architecture.md"
# Dotted names in the doc that are not modules: files mbport reads or writes, the plugins' entry-point group.
NOT_MODULES = {"mbport.toml", "mbport.json", "mbport.plugins"}


def named_paths(text: str) -> set[str]:
    return set(re.findall(r"\b((?:mbport|plugins/mbport_plugins)/[\w/]*(?:\.py|/))", text))


def named_modules(text: str) -> set[str]:
    return set(re.findall(r"`(mbport(?:_plugins)?(?:\.\w+)*)`", text)) - NOT_MODULES


def module_exists(dotted: str) -> bool:
    parts = dotted.split(".")
    base = ROOT / "plugins" if parts[0] == "mbport_plugins" else ROOT
    path = base.joinpath(*parts)
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def layered_modules() -> set[str]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]["contracts"]
    (layers,) = [c for c in config if c["type"] == "layers"]
    return {m.strip() for layer in layers["layers"] for m in re.split(r"[|:]", layer)}


def test_every_module_path_the_doc_names_exists():
    text = DOC.read_text()
    paths = named_paths(text)
    assert len(paths) > 30, "the doc names the modules of each layer"
    missing = sorted(p for p in paths if not (ROOT / p).exists())
    missing += sorted(m for m in named_modules(text) if not module_exists(m))
    assert not missing, f"docs/architecture.md names what does not exist: {missing}"


def test_every_layered_module_is_in_the_doc():
    paths = named_paths(DOC.read_text())
    absent = sorted(m for m in layered_modules() if f"mbport/{m}.py" not in paths and f"mbport/{m}/" not in paths)
    assert not absent, f"the layers contract places modules docs/architecture.md does not name: {absent}"


def test_the_checks_catch_a_wrong_name():
    assert "mbport/nowhere.py" in named_paths("see `mbport/nowhere.py`")
    assert not module_exists("mbport.nowhere") and module_exists("mbport.cli") and module_exists("mbport_plugins.cards")
