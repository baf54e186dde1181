"""The collection-permissions plugin: golden cases (with pre-0.56.13 `none`) and an export of both namespaces."""

from __future__ import annotations

import pytest
from mbport_plugins.collection_permissions import CollectionPermissions

from mbport.check import check
from mbport.registry import load_plugins
from tests.plugins.emulated_content import cases, export_everything, golden

KIND = CollectionPermissions()
CASES = cases("collection-permissions")


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    return export_everything(tmp_path_factory)


@pytest.mark.parametrize("path", CASES, ids=lambda p: p.stem)
def test_golden_grants_have_no_none_and_the_key_is_the_namespace(path):
    """Besides the shared golden checks (test_golden_cases.py)."""
    case, doc, _ = golden(KIND, path)
    assert "none" not in {g["access"] for g in doc["grants"]}
    assert KIND.address_of(case["raw"]) == KIND.address_of(doc) == f"collection-permissions/{doc['namespace']}"


def test_export_of_both_namespaces(exported):
    inst = exported.inst
    assert exported.paths("collection-permissions") == [
        "collection-permissions/default.json", "collection-permissions/snippets.json"]
    for namespace, folder in (("default", "reports"), ("snippets", "snippet_folder")):
        doc = exported.file(f"collection-permissions/{namespace}.json")
        coll = {"$ref": f"collections/{inst.eid('collection', inst.ids[folder])}"}
        path = exported.file(next(p for p in exported.paths("collections")
                                  if exported.file(p).get("entity_id") == coll["$ref"].split("/")[1]))["name"]
        assert doc["namespace"] == namespace
        assert doc["grants"] == [  # no Administrators: they always have write everywhere
            {"access": "write", "collection": "root", "group": {"$ref": "groups/All Users"}},
            {"access": "write", "collection": coll, "collection_path": path, "group": {"$ref": "groups/All Users"}},
            {"access": "read", "collection": coll, "collection_path": path, "group": {"$ref": "groups/Analysts"}},
        ]
    assert exported.result.warnings == []
    assert check(exported.out, load_plugins()) == []
