"""GET /api/search finds dashboards as Metabase does: dashboards/models/dashboard/search.clj `(search/define-spec
"dashboard" ...)` has `:where []` (every dashboard, read permission through its collection, search/permissions.clj),
the `:archived` attr (live by default, archived with `archived=true`), and renders the collection's name and type."""

from __future__ import annotations

from tests.emulator.test_collections import new_collection, new_user_client


def dashboard(client, name, **body):
    resp = client.post("/api/dashboard", json={"name": name, **body})
    assert resp.status_code == 200, resp.text
    return resp.json()


def search(client, **params):
    resp = client.get("/api/search", params=params)
    assert resp.status_code == 200, resp.text
    return resp.json()


def test_search_models_dashboard_lists_the_dashboards_the_user_may_read(admin, emulator):
    sales = new_collection(admin, "Sales")
    ops = dashboard(admin, "Ops")
    revenue = dashboard(admin, "Revenue", collection_id=sales["id"], description="monthly")
    old = dashboard(admin, "Old board")
    assert admin.put(f"/api/dashboard/{old['id']}", json={"archived": True}).status_code == 200
    rita, _ = new_user_client(admin, emulator, "rita@example.com")
    mine = rita.get("/api/user/current").json()["personal_collection_id"]
    private = dashboard(rita, "Rita's board", collection_id=mine)

    found = search(admin, models="dashboard")
    assert found["models"] == ["dashboard"] and found["total"] == 3
    rows = {r["name"]: r for r in found["data"]}
    assert set(rows) == {"Ops", "Revenue", "Rita's board"}
    assert all(r["model"] == "dashboard" and r["archived"] is False for r in rows.values())
    assert (rows["Revenue"]["id"], rows["Revenue"]["description"]) == (revenue["id"], "monthly")
    assert rows["Revenue"]["collection"] == {"id": sales["id"], "name": "Sales", "authority_level": None, "type": None}
    assert rows["Ops"]["id"] == ops["id"] and rows["Ops"]["collection"]["id"] == "root"
    assert [r["id"] for r in search(admin, models="dashboard", archived="true")["data"]] == [old["id"]]

    tom, _ = new_user_client(admin, emulator, "tom@example.com", first="Tom")
    assert private["id"] not in {r["id"] for r in search(tom, models="dashboard")["data"]}  # Rita's own collection
    assert private["id"] in {r["id"] for r in search(rita, models="dashboard")["data"]}
    # No `models`: every model, dashboards among them (search/config.clj `models-search-order`).
    assert {("dashboard", ops["id"]), ("dashboard", revenue["id"])} <= {(r["model"], r["id"]) for r in search(admin)["data"]}
