"""Field specs: the worked example of docs/contributing-a-kind.md, as written there, is a working kind."""

from __future__ import annotations

import pytest

from mbport.api import FALSY, DeferredRefs, Kind, Match, common, copy, custom, each, one, ref, skip, walk
from mbport.capabilities import deferred_refs, match_key, raw_match_key
from mbport.kind import ExportContext, PathContext
from mbport.resolve import Resolver
from mbport.spec import Spec


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
    assert kind.address_of(RAW) == kind.address_of(doc) == "channels/Ops hook"
    assert kind.path(doc, PathContext({})).stem == "Ops hook"
    assert kind.payload(doc, Resolver({}), "main") == {"name": "Ops hook", "type": "channel/http",
                                                         "description": None, "active": True}
    assert match_key(kind, doc, Resolver({})) == raw_match_key(kind, {**RAW, "id": 99}) == ("Ops hook",)
    assert kind.spec.uncovered({**RAW, "new_field": 1}) == {"new_field"}  # "no field forgotten"


class Notes(Kind):
    name = "notes"
    fields = {
        "id": skip("instance-specific id"),
        "entity_id": copy(), "name": copy(),
        "collection_id": ref("collections", as_="collection", container=True),
        "query": walk("query"),
    }
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
    assert match_key(kind, doc, resolve) == raw_match_key(kind, {"collection_id": 50, "name": "N"}) == (50, "N")
    assert kind.path(doc, PathContext({"collections/c5": ("sales",)})).folder == ("sales",)


class Boards(DeferredRefs, Kind):
    """A kind whose late refs (a plain one, click behaviours, and those of nested items) are its deferred refs."""

    name = "boards"
    fields = {
        "id": skip("instance-specific id"), "entity_id": copy(),
        "tab_id": ref("tabs", as_="tab", late=True), "collection_id": ref("collections", as_="collection"),
        "visualization_settings": walk("viz", late=True),
        "cards": each({"id": skip("instance-specific id"), "card_id": ref("cards", as_="card"),
                       "visualization_settings": walk("viz", late=True)}),
    }


def test_late_refs_are_the_deferred_refs_and_a_nested_list_is_exported_sent_and_covered_item_by_item():
    kind = Boards()
    ctx = ExportContext(index={("tabs", 1): "tabs/b/t1", ("collections", 2): "collections/c2", ("cards", 3): "cards/c3",
                               ("dashboards", 4): "dashboards/d4", ("boards", 9): "boards/b"})
    click = {"click_behavior": {"type": "link", "linkType": "dashboard", "targetId": 4}}
    raw = {"id": 9, "entity_id": "b", "tab_id": 1, "collection_id": 2, "visualization_settings": {},
           "cards": [{"id": 7, "card_id": 3, "visualization_settings": click}, {"id": 8, "card_id": None}]}
    doc = kind.normalize(raw, ctx)
    assert doc["cards"] == [{"card": {"$ref": "cards/c3"}, "visualization_settings": {"click_behavior": {
        "type": "link", "linkType": "dashboard", "targetId": {"$ref": "dashboards/d4"}}}}, {"visualization_settings": {}}]
    # Not the collection, not the cards the items show: only what a second pass fills in.
    assert deferred_refs(kind, doc) == {"tabs/b/t1", "dashboards/d4"}
    body = kind.payload(doc, Resolver({"collections/c2": 20, "cards/c3": 30, "dashboards/d4": 40}), "main")
    assert body["tab_id"] is None and body["collection_id"] == 20  # a late ref without an id yet: null
    assert body["cards"] == [{"card_id": 30, "visualization_settings": {"click_behavior": {
        "type": "link", "linkType": "dashboard", "targetId": 40}}}, {"card_id": None, "visualization_settings": {}}]
    assert kind.spec.uncovered({**raw, "cards": [{"id": 1, "new": 2}]}) == {"cards[].new"}


class Pages(DeferredRefs, Kind):
    """A kind whose custom body names its late refs through a function (a document's links to documents)."""

    name = "pages"
    fields = {"id": skip("instance-specific id"), "entity_id": copy(),
              "body": custom("links as refs", late=lambda body: {link["$ref"] for link in body["links"]})}


def test_a_custom_field_declares_its_late_refs_with_a_function_and_a_link_to_itself_is_none():
    doc = {"entity_id": "p", "body": {"links": [{"$ref": "pages/q"}, {"$ref": "pages/p"}]}}
    assert deferred_refs(Pages(), doc) == {"pages/q"}
    assert deferred_refs(Pages(), {"entity_id": "p"}) == set()


def test_one_container_per_kind_and_the_old_kind_attributes_say_what_replaced_them():
    with pytest.raises(ValueError, match="one folder"):
        Spec({"a_id": ref("collections", as_="a", container=True), "b_id": ref("collections", as_="b", container=True)})
    for old, new in (("container_field", "container=True"), ("archivable", "NeverPruned"), ("doc_address", "address_of"),
                     ("key_fields", "address=True")):
        with pytest.raises(TypeError, match=new):
            type("Old", (Kind,), {"name": "olds", old: None})
    with pytest.raises(TypeError, match="CollectionCascade|OrdersWrites"):
        type("Old", (Kind,), {"name": "olds", "write_order": lambda self, doc, docs: []})


class Pins(Kind):
    name = "pins"
    endpoint = "/api/pin"
    fields = {"id": skip("instance-specific id"), "name": copy(), "archived": copy(post=False),
              "shown": copy(default=True, post=False), "board": copy(put=False)}


class Recorder:
    def __init__(self):
        self.calls = []

    def post(self, path, json):
        self.calls.append(("POST", path, json))
        return {"id": 9, **json}

    def put(self, path, json):
        self.calls.append(("PUT", path, json))
        return {"id": 9, **json}


@pytest.mark.parametrize(("doc", "then"), [
    ({"name": "P"}, []),  # only defaults: the POST alone
    ({"name": "P", "archived": True, "shown": False}, [("PUT", "/api/pin/9", {"archived": True, "shown": False})]),
    ({"name": "P", "archived": True}, [("PUT", "/api/pin/9", {"archived": True})]),
])
def test_fields_post_does_not_take_are_put_right_after_the_create_unless_they_hold_their_default(doc, then):
    from mbport.hooks import WriteRequest

    kind, api = Pins(), Recorder()
    payload = kind.payload(doc, Resolver({}), "main")
    kind.create(WriteRequest(api=api, doc=doc, payload=payload, target=None, stage="main"))
    assert api.calls == [("POST", "/api/pin", {"name": "P", "board": None}), *then]


def test_a_field_put_cannot_change_is_left_out_of_the_update():
    from mbport.hooks import WriteRequest

    kind, api = Pins(), Recorder()
    doc = {"name": "P", "board": "b1"}
    payload = kind.payload(doc, Resolver({}), "main")
    kind.update(WriteRequest(api=api, doc=doc, payload=payload, target=None, stage="main", target_id=9))
    assert api.calls == [("PUT", "/api/pin/9", {"name": "P", "archived": None, "shown": True})]


def test_a_doc_field_no_declaration_names_is_unknown():
    """What `check` flags: not a declared doc field (`as_` names included), nor `doc_extras`, nor a nested item's."""
    spec = Spec({"id": skip("id"), "name": copy(), "collection_id": ref("collections", as_="collection"),
                 "groups": custom("kept as `grants`", as_="grants"), "secret": skip("a secret"),
                 "items": each({"row": copy(), "card_id": ref("cards", as_="card")})})
    doc = {"name": "x", "collection": {}, "grants": [], "items": [{"row": 1, "card": {}}, {"rwo": 2}, {"rwo": 3}]}
    assert spec.unknown(doc) == ["items[].rwo"]
    assert spec.unknown({**doc, "nmae": "x", "secret": 1, "groups": [], "extra": 1}, extra=["extra"]) == [
        "groups", "nmae", "secret", "items[].rwo"]  # raw names of renamed or skipped fields are not doc fields


def test_a_declared_field_of_the_wrong_json_type_is_named_where_the_declaration_says_the_type():
    spec = Spec({"name": copy(), "archived": copy(default=False), "collection_id": ref("collections", as_="collection"),
                 "visualization_settings": walk("viz"), "items": each({"card_id": ref("cards", as_="card")})})
    assert spec.mistyped({"name": "x", "archived": False, "collection": {"$ref": "collections/a"},
                          "visualization_settings": {}, "items": [{"card": None}]}) == []
    assert spec.mistyped({"name": 42, "archived": "no", "collection": 3, "visualization_settings": [],
                          "items": [{"card": "cards/a"}]}) == [  # `name`: no declaration says its type
        ("archived", "true or false", "no"), ("collection", 'a ref {"$ref": "<kind>/<key>"}', 3),
        ("visualization_settings", "a JSON object", []), ("items[].card", 'a ref {"$ref": "<kind>/<key>"}', "cards/a")]


class Shelves(Kind):
    """Every export option of a declaration at once (export is generated from them: each must read as declared)."""

    name = "shelves"
    fields = {
        "id": skip("instance-specific id"), "entity_id": copy(), "note": copy(),
        "kind": copy(read=lambda raw: raw.get("kind") or "plain"),
        "pinned": copy(default=False), "color": copy(default=None), "size": copy(default="m"),
        "owner_id": ref("users", as_="owner"), "reader_ids": ref("users", many=True, as_="readers", default=[]),
        "query": walk("query"), "settings": walk("viz", default={}),
        "box": one({"id": skip("instance-specific id"), "label": copy(default="box"), "user_id": ref("users", as_="user")}),
        "items": each({"id": skip("instance-specific id"), "name": copy(), "hidden": copy(default=FALSY),
                       "rank": copy(read=lambda item: item.get("rank", 0)), "user_id": ref("users", as_="user")},
                      sort=lambda item: (item["rank"], item["name"]),
                      more=lambda doc, raw, ctx: None if raw.get("gone") else {**doc, "extra": raw.get("extra")}),
        "tags": each({"name": copy(), "weight": copy(default=1)}, default=[]),
    }


def test_a_doc_holds_what_each_declaration_option_says_and_nested_items_leave_out_defaults_and_nulls():
    kind = Shelves()
    ctx = ExportContext(index={("users", 1): "users/a", ("users", 2): "users/b", ("tables", 3): "tables/t"})
    raw = {"id": 5, "entity_id": "s", "note": None, "pinned": False, "color": "red", "size": "m", "owner_id": 1,
           "reader_ids": [2, 1], "query": {"source-table": 3, "lib/uuid": "u"}, "settings": None,
           "box": {"id": 1, "label": "box", "user_id": 2},
           "items": [{"id": 1, "name": "b", "hidden": [], "rank": 1, "user_id": None},
                     {"id": 2, "name": "a", "hidden": True, "user_id": 2, "extra": 7},
                     {"id": 3, "name": "c", "gone": True}],
           "tags": [{"name": "x", "weight": 1}, {"name": "y", "weight": None}, {"name": "z", "weight": 2}]}
    assert kind.spec.export(raw, ctx) == {
        "entity_id": "s", "note": None, "kind": "plain", "pinned": False, "color": "red", "size": "m",
        "owner": {"$ref": "users/a"}, "readers": [{"$ref": "users/b"}, {"$ref": "users/a"}],
        "query": {"source-table": {"$ref": "tables/t"}}, "settings": {}, "box": {"user": {"$ref": "users/b"}},
        "items": [{"name": "a", "hidden": True, "rank": 0, "user": {"$ref": "users/b"}, "extra": 7},
                  {"name": "b", "rank": 1}],
        "tags": [{"name": "x"}, {"name": "y"}, {"name": "z", "weight": 2}]}
    # the doc: top-level nulls and defaults left out; an absent copied field stays absent
    assert kind.normalize(raw, ctx) == {
        "entity_id": "s", "kind": "plain", "color": "red", "owner": {"$ref": "users/a"},
        "readers": [{"$ref": "users/b"}, {"$ref": "users/a"}], "query": {"source-table": {"$ref": "tables/t"}},
        "box": {"user": {"$ref": "users/b"}},
        "items": [{"name": "a", "hidden": True, "rank": 0, "user": {"$ref": "users/b"}, "extra": 7},
                  {"name": "b", "rank": 1}],
        "tags": [{"name": "x"}, {"name": "y"}, {"name": "z", "weight": 2}]}
    bare = kind.normalize({"id": 6, "entity_id": "t", "box": "not an object", "items": None}, ctx)
    assert bare == {"entity_id": "t", "kind": "plain", "query": {}, "items": []}


def test_two_declarations_writing_one_doc_field_leave_the_last_ones_value():
    spec = Spec({"old": copy(as_="size"), "new": copy(as_="size", default=0)})
    assert spec.export_item({"old": 3, "new": 0}, ExportContext()) == {}
    assert spec.export_item({"old": 3}, ExportContext()) == {"size": 3}
    assert spec.export({"old": 3, "new": 0}, ExportContext()) == {"size": 0}


def test_only_skipped_fields_can_be_left_out_while_decoding():
    spec = Spec({"id": skip("id"), "name": copy(), "items": each({"x": copy(), "copy": skip("a copy")})})
    shape = spec.shape(["id", "items[].copy"])
    assert shape.leave_out == {"id"} and shape.lists["items"].leave_out == {"copy"}
    for wrong in ("name", "items[].x", "nothing"):
        with pytest.raises(ValueError, match=repr(wrong.split("[].")[-1])):
            spec.shape([wrong])
