"""/api/cache as cache/api.clj serves it: the root policy is OSS, per-item policies and the duration/schedule
strategies need `cache_granular_controls`, a policy of a deleted dash leaves the listing."""

from __future__ import annotations

import pytest

TTL = {"type": "ttl", "multiplier": 10, "min_duration_ms": 1000}


def _dashboard(client, name="Cached", **more):
    return client.post("/api/dashboard", json={"name": name, **more}).json()


def test_oss_has_the_root_policy_only(admin):
    assert admin.get("/api/cache").json() == {"data": []}
    assert admin.put("/api/cache", json={"model": "root", "model_id": 0, "strategy": TTL}).json()["id"] >= 1
    assert admin.get("/api/cache", params={"model": "root"}).json() == {
        "data": [{"model": "root", "model_id": 0, "strategy": TTL}]}
    # a second PUT updates the same row (update-or-insert)
    assert admin.put("/api/cache", json={"model": "root", "model_id": 0, "strategy": {"type": "nocache"}}).status_code == 200
    assert admin.get("/api/cache").json()["data"] == [{"model": "root", "model_id": 0, "strategy": {"type": "nocache"}}]
    refused = admin.get("/api/cache", params={"model": ["root", "dashboard"]})
    assert refused.status_code == 402 and refused.json()["message"].startswith("Granular Caching is a paid feature")
    dash = _dashboard(admin)
    put = admin.put("/api/cache", json={"model": "dashboard", "model_id": dash["id"], "strategy": TTL})
    assert put.status_code == 402


@pytest.mark.allow_invalid_requests
def test_root_needs_id_zero_and_oss_refuses_duration(admin):
    wrong = admin.put("/api/cache", json={"model": "root", "model_id": 3, "strategy": TTL})
    assert wrong.status_code == 404 and wrong.json()["message"] == "Root configuration is only valid with model_id = 0"
    duration = {"type": "duration", "duration": 2, "unit": "hours"}
    assert admin.put("/api/cache", json={"model": "root", "model_id": 0, "strategy": duration}).status_code == 400
    bad_ttl = {"type": "ttl", "multiplier": 0, "min_duration_ms": 1}
    assert admin.put("/api/cache", json={"model": "root", "model_id": 0, "strategy": bad_ttl}).status_code == 400


def test_granular_policies_list_with_name_and_collection_and_leave_with_their_item(ee):
    emu, client = ee
    coll = client.post("/api/collection", json={"name": "Finance"}).json()
    dash = _dashboard(client, collection_id=coll["id"])
    duration = {"type": "duration", "duration": 6, "unit": "hours", "refresh_automatically": True}
    assert client.put("/api/cache", json={"model": "dashboard", "model_id": dash["id"], "strategy": duration}).status_code == 200
    assert client.put("/api/cache", json={"model": "dashboard", "model_id": 999, "strategy": TTL}).status_code == 404
    listed = client.get("/api/cache", params={"model": ["dashboard", "dashboard"]}).json()["data"]
    assert listed == [{"model": "dashboard", "model_id": dash["id"], "name": "Cached", "strategy": duration,
                       "collection": {"id": coll["id"], "name": "Finance", "authority_level": None, "type": None}}]
    by_id = client.get("/api/cache", params={"model": "dashboard", "id": dash["id"]}).json()["data"]
    assert by_id == [{"model": "dashboard", "model_id": dash["id"], "strategy": duration}]  # no join: no name
    paged = client.get("/api/cache", params={"model": "dashboard", "limit": 10}).json()
    assert (paged["total"], paged["limit"], paged["offset"]) == (1, 10, 0)
    assert client.request("DELETE", "/api/cache", json={"model": "dashboard", "model_id": [dash["id"]]}).status_code == 204
    assert client.get("/api/cache", params={"model": "dashboard"}).json() == {"data": []}
    # a policy of a dashboard deleted for good is no longer listed (base-query's join)
    client.put("/api/cache", json={"model": "dashboard", "model_id": dash["id"], "strategy": TTL})
    client.delete(f"/api/dashboard/{dash['id']}")
    assert client.get("/api/cache", params={"model": "dashboard"}).json() == {"data": []}
