"""Each version profile is a test of the contract on its own: the switch that makes a release line differ from the
one before it (versions.md §3), checked on that profile and on its neighbour."""

from __future__ import annotations

import json

import pytest

from mbport.emulator import Emulator, bootstrap
from mbport.emulator.profiles import EMPTY, PROFILES, REJECT
from tests.conftest import ADMIN_EMAIL, ADMIN_PASSWORD, make_client


def admin_for(profile: str):
    emu = Emulator(profile)
    session = bootstrap.setup_admin(emu, ADMIN_EMAIL, ADMIN_PASSWORD)
    client = make_client(emu, **{"X-Metabase-Session": session})
    db = client.post("/api/database/sample_database").json()["id"]
    fields = {(t["name"], f["name"]): f["id"] for t in client.get(f"/api/database/{db}/metadata").json()["tables"]
              for f in t["fields"]}
    return client, db, fields


def field_filter(db: int, ref: list) -> dict:
    """A classic native question with a field filter (a `dimension` tag) on `ref`."""
    tag = {"id": "5c3f", "name": "category", "display-name": "Category", "type": "dimension",
           "widget-type": "string/=", "dimension": ref}
    return {"database": db, "type": "native",
            "native": {"query": "select count(*) from products where {{category}}", "template-tags": {"category": tag}}}


def post_card(client, query) -> dict:
    return client.post("/api/card", json={"name": "Q", "display": "table", "dataset_query": query,
                                          "visualization_settings": {}})


def test_the_profiles_span_0_56_to_0_65_in_order():
    minors = [int(p.tag.split(".")[1]) for p in PROFILES.values()]
    assert minors == sorted(minors) and {56, 57, 61, 62, 63, 64, 65} <= set(minors)
    assert all(p.tag.startswith(f"v0.{name.split('.')[1]}.") for name, p in PROFILES.items())


def test_0_56_stores_mbql4_and_0_57_mbql5_with_legacy_query_as_a_json_string():
    old, db, fields = admin_for("0.56")
    query = {"database": db, "type": "query", "query": {"source-table": 1, "limit": 3}}
    card = post_card(old, query).json()
    assert card["dataset_query"]["type"] == "query" and "legacy_query" not in card
    new, db, fields = admin_for("0.57")
    card = post_card(new, query).json()
    assert "stages" in card["dataset_query"]
    assert json.loads(card["legacy_query"])["query"] == {"source-table": 1, "limit": 3}
    legacy = new.get(f"/api/card/{card['id']}", params={"legacy-mbql": "true"}).json()["dataset_query"]
    assert legacy["type"] == "query" and legacy["query"]["limit"] == 3


@pytest.mark.parametrize("profile", ["0.57", "0.61", "0.62"])
def test_dimension_refs_in_the_mbql4_view(profile):
    """0.61 on, the MBQL 4 view of a native card keeps its dimension tags' MBQL 5 refs; 0.57 converts them."""
    client, db, fields = admin_for(profile)
    card = post_card(client, field_filter(db, ["field", fields["products", "category"], None])).json()
    legacy = client.get(f"/api/card/{card['id']}", params={"legacy-mbql": "true"}).json()["dataset_query"]
    ref = legacy["native"]["template-tags"]["category"]["dimension"]
    if profile == "0.57":
        assert ref == ["field", fields["products", "category"], None]
    else:
        assert ref[0] == "field" and isinstance(ref[1], dict) and ref[2] == fields["products", "category"]


@pytest.mark.allow_invalid_requests
@pytest.mark.parametrize("profile", ["0.57", "0.61", "0.62", "0.65"])
def test_a_classic_query_with_mbql5_dimension_refs(profile):
    """Written back as it came: 0.61 answers 200 and stores an EMPTY query; 0.62 on refuses it; 0.57 converts."""
    client, db, fields = admin_for(profile)
    resp = post_card(client, field_filter(db, ["field", {"base-type": "type/Text"}, fields["products", "category"]]))
    quirk = PROFILES[profile].classic_tags_with_mbql5_refs
    if quirk == REJECT:
        assert resp.status_code == 400 and "dataset_query" in resp.json()["errors"]
        return
    assert resp.status_code == 200
    stored = client.get(f"/api/card/{resp.json()['id']}").json()["dataset_query"]
    if quirk == EMPTY:
        assert stored == {}
    else:
        assert stored["stages"][0]["template-tags"]["category"]["dimension"][2] == fields["products", "category"]
    # the same question in classic form is stored whole everywhere
    fine = post_card(client, field_filter(db, ["field", fields["products", "category"], None]))
    assert fine.status_code == 200 and client.get(f"/api/card/{fine.json()['id']}").json()["dataset_query"]


@pytest.mark.parametrize(("profile", "null"), [("0.57", False), ("0.61", False), ("0.62", True), ("0.65", True)])
def test_legacy_query_is_null_after_api_writes_from_0_62(profile, null):
    client, db, _ = admin_for(profile)
    card = post_card(client, {"database": db, "type": "native", "native": {"query": "select 1"}}).json()
    listed = next(c for c in client.get("/api/card").json() if c["id"] == card["id"])
    assert (card["legacy_query"] is None) == null and (listed["legacy_query"] is None) == null


@pytest.mark.parametrize(("profile", "listed"), [("0.62", False), ("0.63", True), ("0.65", True)])
def test_template_tags_are_a_list_from_0_63(profile, listed):
    client, db, fields = admin_for(profile)
    card = post_card(client, field_filter(db, ["field", fields["products", "category"], None])).json()
    tags = card["dataset_query"]["stages"][0]["template-tags"]
    assert isinstance(tags, list) == listed


@pytest.mark.parametrize(("profile", "pruned"), [("0.56", False), ("0.57", True), ("0.65", True)])
def test_the_inline_parameter_prune_from_0_57(profile, pruned):
    client, db, _ = admin_for(profile)
    card = post_card(client, {"database": db, "type": "native", "native": {"query": "select 1"}}).json()
    dash = client.post("/api/dashboard", json={"name": "D"}).json()
    params = [{"id": "inline", "name": "Inline", "slug": "inline", "type": "category"},
              {"id": "header", "name": "Header", "slug": "header", "type": "category"}]
    body = client.put(f"/api/dashboard/{dash['id']}", json={
        "parameters": params, "tabs": [],
        "dashcards": [{"id": -1, "card_id": card["id"], "row": 0, "col": 0, "size_x": 4, "size_y": 4,
                       "inline_parameters": ["inline"]}]}).json()
    assert [p["id"] for p in body["parameters"]] == (["header"] if pruned else ["inline", "header"])


@pytest.mark.parametrize(("profile", "engine", "schema"), [("0.50", "h2", "PUBLIC"), ("0.62", "h2", "PUBLIC"),
                                                          ("0.63", "sqlite", ""), ("0.65", "sqlite", "")])
def test_the_sample_database_is_sqlite_without_a_schema_from_0_63(profile, engine, schema):
    """Before 0.63 Metabase bundles an H2 sample database (its tables in schema PUBLIC); from 0.63 a SQLite one."""
    client, db, _ = admin_for(profile)
    listed = next(d for d in client.get("/api/database").json()["data"] if d["id"] == db)
    assert (listed["engine"], listed["is_sample"]) == (engine, True)
    tables = client.get(f"/api/database/{db}/metadata").json()["tables"]
    assert {t["schema"] for t in tables} == {schema}
    assert client.get(f"/api/database/{db}/schemas").json() == [schema]
    rows = client.post("/api/dataset", json={"database": db, "type": "native",
                                             "native": {"query": "select count(*) from products"}}).json()
    assert rows["status"] == "completed" and rows["data"]["rows"][0][0] > 0  # the same data either way
