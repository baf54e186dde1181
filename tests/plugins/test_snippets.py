"""The snippets plugin: golden cases, folder placement, and an export from the emulator."""

from __future__ import annotations

from pathlib import Path

from mbport_plugins.snippets import Snippets

from mbport.kind import PathContext
from mbport.testing import load_case
from tests.plugins.test_cards import export_docs, ok, shop

ROOT = Path(__file__).resolve().parents[2]
CASES = sorted((ROOT / "fixtures" / "cases" / "snippets").glob("*.json"))
KIND = Snippets()


def test_tags_inside_a_snippet_become_refs_in_text_and_tags_alike():
    doc = load_case(ROOT / "fixtures" / "cases" / "snippets" / "template-tags-newest.json")["doc"]
    assert "{{#[cards/key-27]-orders}}" in doc["content"]
    assert doc["template_tags"]["#[cards/key-27]-orders"]["card-id"] == {"$ref": "cards/key-27"}
    assert doc["template_tags"]["status"]["dimension"][1] == {"$ref": "fields/key-78"}


def test_path_drops_the_snippet_tree_prefix():
    folders = PathContext({"collections/f1": ("@snippets", "sql-helpers")})
    in_folder = KIND.path({"name": "Paid", "collection": {"$ref": "collections/f1"}}, folders)
    assert (in_folder.folder, in_folder.stem) == (("sql-helpers",), "Paid")
    at_root = KIND.path({"name": "Paid"}, folders)
    assert (at_root.folder, at_root.stem) == ((), "Paid")


def test_export_from_the_emulator(tmp_path):
    emu, session, client, *_ = shop("0.61", tmp_path)
    folder = ok(client.post("/api/collection", json={"name": "SQL helpers", "namespace": "snippets"}))
    sub = ok(client.post("/api/collection", json={"name": "EU", "namespace": "snippets", "parent_id": folder["id"]}))
    paid = ok(client.post("/api/native-query-snippet", json={"name": "Paid", "content": "status = 'paid'"}))
    region = ok(client.post("/api/native-query-snippet", json={
        "name": "Region", "content": "region in ('DE')", "description": "EU only", "collection_id": sub["id"]}))
    old = ok(client.post("/api/native-query-snippet", json={"name": "Old", "content": "1 = 1", "collection_id": folder["id"]}))
    ok(client.put(f"/api/native-query-snippet/{old['id']}", json={"archived": True}))

    docs, paths, warnings = export_docs(emu, session, kinds=("users", "collections", "snippets"))
    assert warnings == []
    snippets = {d["name"]: d for a, d in docs.items() if a.startswith("snippets/")}
    assert set(snippets) == {"Paid", "Region", "Old"}
    assert snippets["Region"] == {"entity_id": region["entity_id"], "name": "Region", "content": "region in ('DE')",
                                  "description": "EU only", "archived": False,
                                  "collection": {"$ref": f"collections/{sub['entity_id']}"}}
    assert snippets["Old"]["archived"] is True
    assert paths[f"snippets/{paid['entity_id']}"] == "snippets/paid.json"
    assert paths[f"snippets/{region['entity_id']}"] == "snippets/sql-helpers/eu/region.json"
    assert paths[f"snippets/{old['entity_id']}"] == "snippets/sql-helpers/old.json"
