"""Shared pieces of the reliability tests: a seeded source and its tree, fresh targets, imports, fingerprints."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import pytest

from mbport.check import load_tree
from mbport.client import MetabaseClient
from mbport.emulator import Emulator, bootstrap
from mbport.engine import ApplyResult, Importer
from mbport.export import run_export
from mbport.registry import load_plugins
from mbport.secrets import Secrets
from mbport.state import State
from mbport.testing import entity_id_map, relabel, without_unwritable
from tests.conftest import ADMIN_EMAIL, ADMIN_PASSWORD, seeded_emulator

# Tables that record history (one row per write, so a retried write adds one) rather than objects.
HISTORY_TABLES = {"revision", "activity", "audit_log", "view_log", "query_execution", "recent_views",
                  "login_history", "task_history"}


def pytest_collection_modifyitems(config, items):
    """The long property runs (`slow`) only when asked for: `-m slow` or MBPORT_SLOW=1; CI runs the bounded ones."""
    import os

    if "slow" in (config.getoption("markexpr") or "") or os.environ.get("MBPORT_SLOW"):
        return
    skip = pytest.mark.skip(reason="long run: use -m slow (or MBPORT_SLOW=1)")
    for item in items:
        if item.get_closest_marker("slow") and "tests/reliability/" in item.nodeid:
            item.add_marker(skip)


@pytest.fixture(autouse=True)
def _no_backoff(monkeypatch):
    """Retries wait for nothing in-process: the tests count faults, not seconds."""
    monkeypatch.setattr("mbport.client._sleep", lambda seconds: None)


@pytest.fixture(scope="session")
def registry():
    return load_plugins()


@pytest.fixture(scope="session")
def source(tmp_path_factory, registry):
    """(emulator, session, tree dir, export result) of the realistic seed."""
    emu, session = seeded_emulator("sample")
    out = tmp_path_factory.mktemp("source") / "tree"
    with MetabaseClient("http://source.test", session_token=session, transport=emu.transport()) as api:
        result = run_export(api, registry, out)
    return emu, session, out, result


def secrets() -> Secrets:
    from mbport.emulator.seeds import sample

    return Secrets({"databases/Finance/password": sample.FINANCE_DB_PASSWORD}, env={})


def target() -> tuple[Emulator, str]:
    """An empty instance, set up like a fresh Metabase (whose SQLite warehouses may hold the seed's actions)."""
    emu = Emulator(sqlite_actions=True)
    return emu, bootstrap.setup_admin(emu, ADMIN_EMAIL, ADMIN_PASSWORD)


def client(emu: Emulator, session: str, **kw: Any) -> MetabaseClient:
    return MetabaseClient("http://target.test", session_token=session, transport=emu.transport(), **kw)


def open_into(emu: Emulator, session: str, tree: Path, state: Path, registry) -> Any:
    """An import (mbport.importing.open_import) of `tree` into the emulator with the state file `state`."""
    from mbport.importing import ImportOptions, open_import

    return open_import(client(emu, session), tree, ImportOptions(state=state, secrets=secrets()), registry=registry)


@dataclass
class Imported:
    importer: Importer
    result: ApplyResult
    state_path: Path


def run_import(tree_dir: Path, registry, emu: Emulator, session: str, state_path: Path,
               **options: Any) -> Imported:
    """plan + apply of `tree_dir` onto the emulator (options: continue_on_error ...); waits for syncs."""
    api = client(emu, session, timeout=options.pop("timeout", 30.0))
    state = State.load(state_path, api.url)
    importer = Importer(api, registry, load_tree(tree_dir, registry), state, {"secrets": secrets(), **options})
    result = importer.apply(importer.plan())
    emu.wait_idle()
    return Imported(importer, result, state_path)


def table_counts(emu: Emulator) -> dict[str, int]:
    """Rows per table of the target: a duplicate anywhere shows up as one more row."""
    return {name: len(t) for name, t in sorted(emu.state.tables.items()) if name not in HISTORY_TABLES}


def fingerprint(emu: Emulator, session: str, imported: Imported, registry, out: Path) -> tuple[dict, dict]:
    """(rows per table, the target's export in the source's names) of an import's target."""
    emu.faults = None
    with client(emu, session) as api:
        back = run_export(api, registry, out)
    docs = without_unwritable(relabel(back.docs, entity_id_map(imported.importer.ids, back.index)), registry)
    return table_counts(emu), canonical(docs)


def canonical(value: Any) -> Any:
    """Lists of objects in one order: a doc sorts them by the target's entity_ids, which relabeling renames."""
    if isinstance(value, dict):
        return {k: canonical(v) for k, v in value.items()}
    if isinstance(value, list):
        items = [canonical(v) for v in value]
        if items and all(isinstance(v, dict) for v in items):
            items.sort(key=lambda v: orjson.dumps(v, option=orjson.OPT_SORT_KEYS))
        return items
    return value


def files_of(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


__all__ = ["ADMIN_EMAIL", "ADMIN_PASSWORD", "Imported", "client", "files_of", "fingerprint", "load_tree",
           "run_import", "secrets", "table_counts", "target"]
