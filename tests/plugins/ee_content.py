"""Shared by the Enterprise kinds' tests: the enterprise seed exported once, and imports into empty EE emulators."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mbport.check import load_tree
from mbport.client import MetabaseClient
from mbport.emulator import Emulator, bootstrap
from mbport.engine import Importer
from mbport.export import run_export
from mbport.registry import load_plugins
from mbport.secrets import Secrets
from mbport.state import State
from mbport.testing import entity_id_map, relabel, without_unwritable
from tests.conftest import ADMIN_EMAIL, ADMIN_PASSWORD, make_client

REGISTRY = load_plugins()


def options(tmp: Path, **more: Any) -> dict[str, Any]:
    from mbport.emulator.seeds import sample

    return {"secrets": Secrets({"databases/Finance/password": sample.FINANCE_DB_PASSWORD}, env={}),
            "with_api_keys": True, "api_keys_file": tmp / "new-keys.json", **more}


def empty_instance(premium_features: str | None = "all") -> tuple[Emulator, MetabaseClient, Any]:
    """(emulator, mbport client, plain admin client) of a fresh instance with these premium features."""
    emu = Emulator(premium_features=premium_features, sqlite_actions=True)  # the enterprise seed has actions
    session = bootstrap.setup_admin(emu, ADMIN_EMAIL, ADMIN_PASSWORD)
    return (emu, MetabaseClient("http://b.test", session_token=session, transport=emu.transport()),
            make_client(emu, **{"X-Metabase-Session": session}))


def importer(tree: Path, api: MetabaseClient, state: Path, **opts: Any) -> Importer:
    return Importer(api, REGISTRY, load_tree(tree, REGISTRY), State.load(state, api.url), options(state.parent, **opts))


def assert_round_trip(ee_tree, imported, tmp_path: Path) -> None:
    """Exporting the imported instance gives the source's docs, apart from entity ids."""
    _, source = ee_tree
    _, api, _, imp, _ = imported
    back = run_export(api, REGISTRY, tmp_path / "b")
    renamed = without_unwritable(relabel(back.docs, entity_id_map(imp.ids, back.index), REGISTRY), REGISTRY)
    source_docs = without_unwritable(relabel(source.docs, {}, REGISTRY), REGISTRY)
    assert set(renamed) == set(source_docs)
    differ = [a for a in source_docs if source_docs[a] != renamed[a]]
    assert not differ, [(a, source_docs[a], renamed[a]) for a in differ[:3]]
