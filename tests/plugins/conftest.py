"""Fixtures of the Enterprise kinds' tests (module-scoped: each test module gets its own)."""

from __future__ import annotations

import pytest

from mbport.client import MetabaseClient
from mbport.export import run_export
from tests.e2e.conftest import seeded_ee  # noqa: F401  (fixture)
from tests.plugins.ee_content import REGISTRY, empty_instance, importer


@pytest.fixture(scope="module")
def ee_tree(seeded_ee, tmp_path_factory):  # noqa: F811
    """(tree folder, export result) of the enterprise seed."""
    emu, session = seeded_ee
    out = tmp_path_factory.mktemp("ee") / "tree"
    with MetabaseClient("http://a.test", session_token=session, transport=emu.transport()) as api:
        result = run_export(api, REGISTRY, out)
    assert result.warnings == []
    return out, result


@pytest.fixture(scope="module")
def imported(ee_tree, tmp_path_factory):
    """The enterprise tree applied to an empty EE emulator: (emulator, client, admin client, importer, state)."""
    out, _ = ee_tree
    emu, api, admin = empty_instance()
    state = tmp_path_factory.mktemp("state") / "b.json"
    imp = importer(out, api, state)
    plan = imp.plan()
    assert plan.problems == []
    result = imp.apply(plan)
    emu.wait_idle()
    assert result.failed == {} and result.skipped == []
    return emu, api, admin, imp, state
