"""Problems found before writing stop the import with one line per problem, and nothing reaches the target."""

from __future__ import annotations

import pytest

from mbport.check import load_tree
from mbport.client import MetabaseClient
from mbport.emulator import Emulator, bootstrap
from mbport.engine import Importer
from mbport.errors import MbportError
from mbport.export import run_export
from mbport.secrets import Secrets
from mbport.state import State
from tests.conftest import ADMIN_EMAIL, ADMIN_PASSWORD, writes_since


@pytest.fixture
def tree(api, registry, tmp_path):
    out = tmp_path / "tree"
    run_export(api, registry, out)
    return load_tree(out, registry)


@pytest.fixture
def target():
    emu = Emulator()
    session = bootstrap.setup_admin(emu, ADMIN_EMAIL, ADMIN_PASSWORD)
    return emu, MetabaseClient("http://target.test", session_token=session, transport=emu.transport())


def apply_and_expect(emu, api, registry, tree, tmp_path, options, *messages):
    importer = Importer(api, registry, tree, State.load(tmp_path / "s.json", api.url), options)
    plan = importer.plan()
    start = len(emu.request_log)
    with pytest.raises(MbportError) as info:
        importer.apply(plan)
    for message in messages:
        assert message in str(info.value)
    assert writes_since(emu, start) == []
    return str(info.value)


def test_a_missing_secret_names_the_database_and_the_variable(tree, target, registry, tmp_path):
    emu, api = target
    apply_and_expect(emu, api, registry, tree, tmp_path, {"secrets": Secrets(env={})},
                     "databases/Finance", "MBPORT_SECRET_DATABASES_FINANCE_PASSWORD")


def test_a_table_the_mapped_target_database_lacks_is_named_with_no_write(tree, target, registry, tmp_path):
    from mbport.emulator.sample_db import build_from_script
    from mbport.emulator.seeds.sample import WAREHOUSE_SCRIPT

    emu, api = target
    other = build_from_script(WAREHOUSE_SCRIPT.with_name("sample.sql"), tmp_path / "other.sqlite")
    api.post("/api/database", json={"name": "Other shop", "engine": "sqlite", "details": {"db": str(other)}})
    emu.wait_idle()
    text = apply_and_expect(emu, api, registry, tree, tmp_path,
                            {"secrets": Secrets({"databases/Finance/password": "x"}, env={}),
                             "map_database": {"Shop Warehouse": "Other shop"}},
                            "tables/Shop Warehouse//customers", "not found on the target")
    assert "problem(s) found before writing anything" in text


def test_a_field_the_target_table_lacks_names_the_cards_it_breaks(tree, target, registry, tmp_path):
    import sqlite3

    from mbport.emulator.sample_db import build_from_script
    from mbport.emulator.seeds.sample import WAREHOUSE_SCRIPT

    emu, api = target
    path = build_from_script(WAREHOUSE_SCRIPT, tmp_path / "no-status.sqlite")
    with sqlite3.connect(path) as conn:  # the same warehouse without the orders.status column
        conn.execute("alter table orders drop column status")
    api.post("/api/database", json={"name": "Shop without status", "engine": "sqlite", "details": {"db": str(path)}})
    emu.wait_idle()
    text = apply_and_expect(emu, api, registry, tree, tmp_path,
                            {"secrets": Secrets({"databases/Finance/password": "x"}, env={}),
                             "map_database": {"Shop Warehouse": "Shop without status"}},
                            "fields/Shop Warehouse//orders/status", "it breaks cards/")
    assert "(Pending orders)" in text and "(Shop orders model)" in text
