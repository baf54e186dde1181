"""Field specs: the worked example of docs/contributing-a-kind.md, as written there, is a working kind."""

from __future__ import annotations

from mbport.api import Kind, Match, common, copy, ref, skip, walk
from mbport.kind import ExportContext, PathContext
from mbport.resolve import Resolver


class Channels(Kind):
    name = "channels"
    endpoint = "/api/channel"
    fields = {
        **common("created_at", "updated_at"),
        "id": skip("instance-specific id; the key is the name"),
        "name": copy(), "type": copy(), "description": copy(default=None), "active": copy(default=True),
        "details": skip("the webhook's URL and auth header: secrets of this instance"),
    }
    match = Match("name", address=True)


RAW = {"id": 7, "name": "Ops hook", "type": "channel/http", "description": None, "active": True,
       "details": {"url": "https://hooks.example/x", "auth-info": {"Authorization": "secret"}},
       "created_at": "2026-01-01", "updated_at": "2026-01-02"}


def test_the_worked_example_exports_imports_and_matches_from_its_declarations():
    kind = Channels()
    doc = kind.normalize(RAW, ExportContext())
    assert doc == {"name": "Ops hook", "type": "channel/http"}  # defaults and secrets left out
    assert kind.address_of(RAW) == kind.doc_address(doc) == "channels/Ops hook"
    assert kind.path(doc, PathContext({})).stem == "Ops hook"
    assert kind.payload(doc, Resolver({}), "main") == {"name": "Ops hook", "type": "channel/http",
                                                         "description": None, "active": True}
    assert kind.match_key(doc, Resolver({})) == kind.raw_match_key({**RAW, "id": 99}) == ("Ops hook",)
    assert kind.spec.uncovered({**RAW, "new_field": 1}) == {"new_field"}  # "no field forgotten"


class Notes(Kind):
    name = "notes"
    fields = {
        "id": skip("instance-specific id"),
        "entity_id": copy(), "name": copy(),
        "collection_id": ref("collections", as_="collection"),
        "query": walk("query"),
    }
    container_field = "collection"
    match = Match("name", within="collection")


def test_refs_and_walks_go_to_refs_on_export_and_back_to_target_ids_on_import():
    kind = Notes()
    ctx = ExportContext(index={("collections", 5): "collections/c5", ("tables", 2): "tables/db/s/orders"})
    raw = {"id": 1, "entity_id": "e1", "name": "N", "collection_id": 5, "query": {"source-table": 2, "lib/uuid": "x"}}
    doc = kind.normalize(raw, ctx)
    assert doc == {"entity_id": "e1", "name": "N", "collection": {"$ref": "collections/c5"},
                   "query": {"source-table": {"$ref": "tables/db/s/orders"}}}
    resolve = Resolver({"collections/c5": 50, "tables/db/s/orders": 20})
    assert kind.payload(doc, resolve, "main") == {"name": "N", "collection_id": 50, "query": {"source-table": 20}}
    assert kind.match_key(doc, resolve) == kind.raw_match_key({"collection_id": 50, "name": "N"}) == (50, "N")
    assert kind.path(doc, PathContext({"collections/c5": ("sales",)})).folder == ("sales",)
