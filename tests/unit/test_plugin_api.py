"""Plugins import mbport only through `mbport.api`: never a core module, never each other."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import mbport_plugins
import pytest

import mbport.api

PLUGIN_FILES = sorted(Path(mbport_plugins.__path__[0]).glob("*.py"))


def forbidden_imports(source: str) -> list[str]:
    """Every import in `source` (nested ones too) of an mbport module other than mbport.api, or of a sibling."""
    bad = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom):
            module = node.module or ""
            if node.level:
                bad.append(f"line {node.lineno}: from {'.' * node.level}{module} import ...")
            elif module.split(".")[0] in ("mbport", "mbport_plugins") and module != "mbport.api":
                bad.append(f"line {node.lineno}: from {module} import ...")
        elif isinstance(node, ast.Import):
            bad += [f"line {node.lineno}: import {a.name}" for a in node.names
                    if a.name.split(".")[0] in ("mbport", "mbport_plugins") and a.name != "mbport.api"]
    return bad


@pytest.mark.parametrize("path", PLUGIN_FILES, ids=lambda p: p.name)
def test_plugin_imports_only_the_api(path: Path) -> None:
    assert forbidden_imports(path.read_text()) == []


def test_the_check_catches_core_sibling_and_nested_imports() -> None:
    source = ("import os\nimport orjson\nfrom mbport.api import Kind\nfrom mbport.kind import Kind\n"
              "from .groups import X\ndef f():\n    import mbport.tree\n    from mbport_plugins.cards import Cards\n")
    assert forbidden_imports(source) == ["line 4: from mbport.kind import ...", "line 5: from .groups import ...",
                                         "line 7: import mbport.tree", "line 8: from mbport_plugins.cards import ..."]


def test_every_api_name_exists_and_is_listed_once() -> None:
    assert len(mbport.api.__all__) == len(set(mbport.api.__all__))
    assert [n for n in mbport.api.__all__ if not hasattr(mbport.api, n)] == []
    # Not identifiers: `@py_builtins`, which pytest's assertion rewriting adds to the modules of a distribution
    # that ships a pytest plugin (mbport's `metabase` fixture).
    public = {n for n in vars(mbport.api) if n.isidentifier() and not n.startswith("_") and n != "annotations"}
    assert public == set(mbport.api.__all__)


def test_plugins_found_on_disk_are_the_registered_ones() -> None:
    """The import check reads the files the entry points load (not a stale copy elsewhere)."""
    from mbport.registry import load_plugins

    modules = {type(k).__module__ for k in load_plugins().kinds.values()}
    on_disk = {f"mbport_plugins.{p.stem}" for p in PLUGIN_FILES}
    assert modules <= on_disk
    assert all(m in sys.modules for m in modules)


def test_writes_take_one_request_object() -> None:
    """`create` and `update` receive a WriteRequest (Terraform's request objects), not positional parameters."""
    import inspect

    from mbport.registry import load_plugins

    for kind in load_plugins().kinds.values():
        for hook in (kind.create, kind.update):
            assert list(inspect.signature(hook).parameters) == ["req"], f"{kind.name}.{hook.__name__}"


def test_a_plugin_with_a_replaced_hook_is_refused_not_ignored() -> None:
    """A plugin written for the earlier API (tree_problems ...) would have its checks silently skipped."""
    with pytest.raises(TypeError, match=r"defines tree_problems.*diagnose\(doc, Phase.TREE, ctx\)"):
        class Old(mbport.api.Kind):
            name = "old"

            def tree_problems(self, doc, docs):
                return ["never asked"]



def test_a_capability_hook_without_its_capability_is_refused_not_ignored() -> None:
    """The engine asks only kinds that declare a capability: a hook defined without it would never run."""
    with pytest.raises(TypeError, match=r"defines settle without declaring the capability: add Settles"):
        class Undeclared(mbport.api.Kind):
            name = "undeclared"

            def settle(self, api, raw):
                return True

    class Declared(mbport.api.Settles, mbport.api.Kind):
        name = "declared"

        def settle(self, api, raw):
            return True

    from mbport.capabilities import settle

    assert settle(Declared(), None, {}) is True
    assert settle(mbport.api.Kind(), None, {}) is False


def test_every_kind_has_its_display_words() -> None:
    """`mbport.display` holds what a person reads about each kind: a kind missing there would have no --select
    alias, no diff phrases and the default graph colour."""
    from mbport.display import words
    from mbport.registry import load_plugins

    assert [k for k in load_plugins().kinds if not words(k).description] == []


def test_an_attribute_a_marker_capability_replaced_is_refused() -> None:
    with pytest.raises(TypeError, match=r"defines managed.*MatchedOnly"):
        class Synced(mbport.api.Kind):
            name = "synced"
            managed = False
