"""The collection permissions graph behaves like Metabase's (api-surface §9, §22; conformance 39, 40)."""

from __future__ import annotations

import pytest

from mbport.emulator import Emulator
from tests.emulator.test_permissions_graph import STALE, add_group, add_user, group_ids, has_route


def add_collection(emu: Emulator, admin, name: str, parent_id: int | None = None, *, namespace: str | None = None,
                   personal_owner_id: int | None = None) -> int:
    """A collection through the API when the collections area serves it, else as the row it would store."""
    if personal_owner_id is None and has_route(emu, "POST", "/api/collection"):
        body = {"name": name, "parent_id": parent_id}
        if namespace:
            body["namespace"] = namespace
        resp = admin.post("/api/collection", json=body)
        assert resp.status_code == 200, resp.text
        return resp.json()["id"]
    from mbport.emulator.models import collection_graph

    table = emu.state.table("collection")
    parent = table.get(parent_id) if parent_id else None
    row = table.insert({
        "name": name, "description": None, "archived": False, "namespace": namespace, "type": None,
        "personal_owner_id": personal_owner_id, "authority_level": None,
        "location": f"{parent['location']}{parent['id']}/" if parent else "/",
    }, now=emu.state.now())
    collection_graph.on_collection_created(emu.state, row)
    return row["id"]


def archive(emu: Emulator, admin, collection_id: int) -> None:
    if has_route(emu, "PUT", "/api/collection/{id}"):
        admin.put(f"/api/collection/{collection_id}", json={"archived": True}).raise_for_status()
    else:
        emu.state.table("collection").get(collection_id)["archived"] = True


def put_graph(admin, groups: dict, revision: int | None, **params):
    return admin.put("/api/collection/graph", params=params, json={"revision": revision, "groups": groups})


def test_fresh_instance_all_users_write_root_and_admins(emulator, admin):
    all_users, admins = group_ids(emulator)
    graph = admin.get("/api/collection/graph").json()
    assert isinstance(graph["revision"], int)
    assert graph["groups"] == {str(all_users): {"root": "write"}, str(admins): {"root": "write"}}


def test_new_collections_copy_their_parent_and_admins_write_everywhere(emulator, admin):
    all_users, admins = group_ids(emulator)
    top = add_collection(emulator, admin, "Top")
    child = add_collection(emulator, admin, "Child", top)
    graph = admin.get("/api/collection/graph").json()
    assert graph["groups"][str(admins)] == {"root": "write", str(top): "write", str(child): "write"}
    assert graph["groups"][str(all_users)] == {"root": "write", str(top): "write", str(child): "write"}


def test_graph_is_sparse_and_never_says_none(emulator, admin):
    all_users, _ = group_ids(emulator)
    gid = add_group(emulator, admin, "Readers")
    top = add_collection(emulator, admin, "Top")
    graph = admin.get("/api/collection/graph").json()
    assert str(gid) not in graph["groups"]  # a group without permissions is left out
    resp = put_graph(admin, {str(all_users): {"root": "none", str(top): "none"}, str(gid): {str(top): "read"}},
                     graph["revision"])
    assert resp.status_code == 200
    body = resp.json()
    assert str(all_users) not in body["groups"]
    assert body["groups"][str(gid)] == {str(top): "read"}
    assert "none" not in str(body)


def test_put_merges_and_returns_the_full_graph_with_its_own_revision(emulator, admin):
    all_users, admins = group_ids(emulator)
    gid = add_group(emulator, admin, "Readers")
    top = add_collection(emulator, admin, "Top")
    data_revision = admin.get("/api/permissions/graph").json()["revision"]
    before = admin.get("/api/collection/graph").json()
    resp = put_graph(admin, {str(gid): {str(top): "read"}}, before["revision"])
    body = resp.json()
    assert body["revision"] == before["revision"] + 1
    # Untouched groups and pairs stay; the response is every group, not only the one sent.
    assert body["groups"][str(all_users)] == before["groups"][str(all_users)]
    assert body["groups"][str(admins)] == before["groups"][str(admins)]
    assert body["groups"][str(gid)] == {str(top): "read"}
    assert admin.get("/api/collection/graph").json() == body
    assert admin.get("/api/permissions/graph").json()["revision"] == data_revision


def test_unchanged_put_keeps_the_revision(emulator, admin):
    graph = admin.get("/api/collection/graph").json()
    resp = put_graph(admin, graph["groups"], graph["revision"])
    assert resp.status_code == 200
    assert resp.json()["revision"] == graph["revision"]


def test_stale_revision_is_409_unless_forced(emulator, admin):
    gid = add_group(emulator, admin, "Readers")
    top = add_collection(emulator, admin, "Top")
    revision = admin.get("/api/collection/graph").json()["revision"]
    assert put_graph(admin, {str(gid): {str(top): "read"}}, revision).status_code == 200
    stale = put_graph(admin, {str(gid): {str(top): "write"}}, revision)
    assert stale.status_code == 409
    assert stale.text == STALE
    assert admin.get("/api/collection/graph").json()["groups"][str(gid)] == {str(top): "read"}
    forced = put_graph(admin, {str(gid): {str(top): "write"}}, None, force="true")
    assert forced.status_code == 200
    assert forced.json()["groups"][str(gid)] == {str(top): "write"}
    assert forced.json()["revision"] == revision + 2


def test_skip_graph_returns_only_the_revision(emulator, admin):
    gid = add_group(emulator, admin, "Readers")
    revision = admin.get("/api/collection/graph").json()["revision"]
    resp = put_graph(admin, {str(gid): {"root": "read"}}, revision, **{"skip-graph": "true"})
    assert resp.json() == {"revision": revision + 1}


def test_personal_archived_and_other_namespace_collections_are_left_out(emulator, admin):
    all_users, admins = group_ids(emulator)
    gid = add_group(emulator, admin, "Readers")
    admin_id = emulator.state.table("user").first(is_superuser=True)["id"]
    personal = add_collection(emulator, admin, "Admin's Personal Collection", personal_owner_id=admin_id)
    below_personal = add_collection(emulator, admin, "Mine", personal)
    folder = add_collection(emulator, admin, "Snippet folder", namespace="snippets")
    gone = add_collection(emulator, admin, "Old")
    archive(emulator, admin, gone)
    graph = admin.get("/api/collection/graph").json()
    hidden = {str(personal), str(below_personal), str(folder), str(gone)}
    assert not hidden & {cid for entries in graph["groups"].values() for cid in entries}
    resp = put_graph(admin, {str(gid): {str(personal): "write", str(below_personal): "read", str(folder): "read"}},
                     graph["revision"])
    assert resp.status_code == 200
    assert str(gid) not in resp.json()["groups"]  # silently dropped
    assert resp.json()["revision"] == graph["revision"]


def test_snippet_namespace_is_a_separate_graph(emulator, admin):
    all_users, admins = group_ids(emulator)
    gid = add_group(emulator, admin, "Snippet editors")
    folder = add_collection(emulator, admin, "SQL", namespace="snippets")
    regular = add_collection(emulator, admin, "Reports")
    snippets = admin.get("/api/collection/graph", params={"namespace": "snippets"}).json()
    assert snippets["groups"][str(admins)] == {"root": "write", str(folder): "write"}
    resp = admin.put("/api/collection/graph", json={
        "namespace": "snippets", "revision": snippets["revision"],
        "groups": {str(gid): {"root": "read", str(folder): "write", str(regular): "write"}},
    })
    assert resp.status_code == 200
    assert resp.json()["groups"][str(gid)] == {"root": "read", str(folder): "write"}
    default = admin.get("/api/collection/graph").json()
    assert str(gid) not in default["groups"]  # snippets root is not the collections root


def test_archived_collection_comes_back_with_its_permissions(emulator, admin):
    gid = add_group(emulator, admin, "Readers")
    top = add_collection(emulator, admin, "Top")
    put_graph(admin, {str(gid): {str(top): "read"}}, admin.get("/api/collection/graph").json()["revision"])
    archive(emulator, admin, top)
    assert str(gid) not in admin.get("/api/collection/graph").json()["groups"]
    emulator.state.table("collection").get(top)["archived"] = False
    assert admin.get("/api/collection/graph").json()["groups"][str(gid)] == {str(top): "read"}


def test_non_admin_gets_403(emulator, admin):
    rasta = add_user(emulator, "rasta@example.com")
    assert rasta.get("/api/collection/graph").status_code == 403


@pytest.mark.allow_invalid_requests
def test_bad_values_are_400(emulator, admin):
    all_users, _ = group_ids(emulator)
    revision = admin.get("/api/collection/graph").json()["revision"]
    resp = put_graph(admin, {str(all_users): {"root": "admin"}}, revision)
    assert resp.status_code == 400
    assert "groups" in resp.json()["errors"]
    assert admin.put("/api/collection/graph", json={"revision": revision}).status_code == 400
