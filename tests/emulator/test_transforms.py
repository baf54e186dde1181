"""Transforms, tags, jobs and the Python library as Metabase answers them (transforms_rest/api/*.clj, crud.clj,
transforms_python/api.clj): shapes, the checks in Metabase's order, the 0.64 `transforms-enabled` gate, and the
releases and editions without them."""

from __future__ import annotations

from mbport.emulator import Emulator, bootstrap
from mbport.emulator.profiles import get_profile, with_overrides
from tests.conftest import ADMIN_EMAIL, ADMIN_PASSWORD, make_client

TRANSFORM_KEYS = {"id", "name", "description", "source", "target", "source_type", "source_database_id", "entity_id",
                  "created_at", "updated_at", "creator_id", "collection_id", "target_db_id", "run_trigger",
                  "dependency_analysis_version", "creator", "last_run", "tag_ids", "owner_user_id", "owner_email",
                  "owner", "source_readable"}


def instance(profile="0.65", premium="all", *, enabled=True, sqlite_transforms=True):
    emu = Emulator(profile, premium_features=premium, sqlite_transforms=sqlite_transforms)
    http = make_client(emu, **{"X-Metabase-Session": bootstrap.setup_admin(emu, ADMIN_EMAIL, ADMIN_PASSWORD)})
    if enabled and profile >= "0.64":
        assert http.put("/api/setting/transforms-enabled", json={"value": True}).status_code == 204
    return emu, http


def native(db: int, sql: str = "SELECT 1 AS one") -> dict:
    return {"type": "query", "query": {"database": db, "type": "native", "native": {"query": sql}}}


def seeded(**kw):
    """An instance with the handmade warehouse (`db:warehouse` ...)."""
    from mbport.emulator.seeds.handmade import base

    emu, http = instance(**kw)
    ids: dict = {}
    base.load(http, ids)
    return emu, http, ids


def test_a_transform_answers_metabase_shape_and_lists_by_id():
    _, http, ids = seeded()
    db = ids["db:warehouse"]
    made = http.post("/api/transform", json={"name": "T", "source": native(db),
                                             "target": {"type": "table", "name": "t_out"}})
    assert made.status_code == 200, made.text
    body = made.json()
    assert set(body) == TRANSFORM_KEYS
    assert (body["source_type"], body["target_db_id"], body["run_trigger"], body["tag_ids"]) == ("native", db, "none",
                                                                                                 [])
    assert body["source"]["query"]["stages"][0]["native"] == "SELECT 1 AS one"  # stored as MBQL 5
    detail = http.get(f"/api/transform/{body['id']}").json()
    assert set(detail) == TRANSFORM_KEYS | {"table"} and detail["table"] is None  # no run: no table yet
    assert [t["id"] for t in http.get("/api/transform").json()] == [body["id"]]


def test_the_checks_come_in_metabase_order_with_its_words():
    _, http, ids = seeded()
    db = ids["db:warehouse"]
    no_db = http.post("/api/transform", json={"name": "T", "source": native(999),
                                              "target": {"type": "table", "name": "x"}})
    assert (no_db.status_code, no_db.text) == (400, "The target database cannot be found.")
    taken = http.post("/api/transform", json={"name": "T", "source": native(db),
                                              "target": {"type": "table", "name": "orders"}})
    assert (taken.status_code, taken.text) == (403, "A table with that name already exists.")
    bad_cron = http.post("/api/transform-job", json={"name": "J", "schedule": "every hour"})
    assert (bad_cron.status_code, bad_cron.text) == (400, "Invalid cron expression: every hour")
    unknown_tag = http.post("/api/transform-job", json={"name": "J", "schedule": "0 0 * * * ? *", "tag_ids": [99]})
    assert (unknown_tag.status_code, unknown_tag.text) == (400, "Some tag IDs do not exist")
    twice = http.post("/api/transform-tag", json={"name": "daily"})
    assert (twice.status_code, twice.text) == (400, "A tag with the name 'daily' already exists.")


def test_sqlite_has_no_transform_features_without_the_emulator_licence():
    _, http, ids = seeded(sqlite_transforms=False)
    refused = http.post("/api/transform", json={"name": "T", "source": native(ids["db:warehouse"]),
                                                "target": {"type": "table", "name": "t_out"}})
    assert (refused.status_code, refused.text) == (400, "The database does not support the requested transform "
                                                        "features.")


def test_0_64_refuses_transforms_until_transforms_enabled_is_on_and_says_so_in_the_properties():
    emu, http, ids = seeded(enabled=False)
    assert http.get("/api/session/properties").json()["transforms-enabled"] is False
    listing = http.get("/api/transform")
    assert (listing.status_code, listing.text) == (403, "You don't have permissions to do that.")
    made = http.post("/api/transform", json={"name": "T", "source": native(ids["db:warehouse"]),
                                             "target": {"type": "table", "name": "t_out"}})
    assert (made.status_code, made.text) == (402, "Premium features required for this transform type are not enabled.")
    assert http.get("/api/transform-tag").status_code == 200  # tags and jobs are not gated
    emu.state.extra["env_settings"] = {"transforms-enabled": "true"}  # MB_TRANSFORMS_ENABLED=true
    assert http.get("/api/transform").json() == []
    assert http.get("/api/session/properties").json()["transforms-enabled"] is True


def test_before_0_64_no_setting_is_needed_and_before_0_59_there_are_no_transforms():
    _, http = instance("0.63", enabled=False)
    assert http.get("/api/transform").json() == []
    _, old = instance("0.56", enabled=False)
    assert old.get("/api/transform").status_code == 404 and old.get("/api/transform-tag").status_code == 404


def test_default_tags_and_jobs_exist_and_their_first_edit_makes_them_ordinary():
    _, http = instance()
    tags = http.get("/api/transform-tag").json()
    assert [t["name"] for t in tags] == ["daily", "hourly", "monthly", "weekly"]  # by name
    jobs = http.get("/api/transform-job").json()
    assert {j["entity_id"] for j in jobs} == {"hourly000000000000000", "daily0000000000000000",
                                              "weekly000000000000000", "monthly00000000000000"}
    daily = next(t for t in tags if t["name"] == "daily")
    renamed = http.put(f"/api/transform-tag/{daily['id']}", json={"name": "every day"}).json()
    assert (renamed["name"], renamed["built_in_type"]) == ("every day", None)


def test_deleting_a_tag_takes_it_off_transforms_and_jobs():
    _, http, ids = seeded()
    tag = http.post("/api/transform-tag", json={"name": "x"}).json()["id"]
    t = http.post("/api/transform", json={"name": "T", "source": native(ids["db:warehouse"]), "tag_ids": [tag],
                                          "target": {"type": "table", "name": "t_out"}}).json()
    job = http.post("/api/transform-job", json={"name": "J", "schedule": "0 0 * * * ? *", "tag_ids": [tag]}).json()
    assert http.delete(f"/api/transform-tag/{tag}").status_code == 204
    assert http.get(f"/api/transform/{t['id']}").json()["tag_ids"] == []
    assert http.get(f"/api/transform-job/{job['id']}").json()["tag_ids"] == []


def test_the_python_library_is_one_path_behind_transforms_python():
    _, http = instance()
    assert http.get("/api/ee/transforms-python/library/common").json()["path"] == "common.py"
    wrong = http.put("/api/ee/transforms-python/library/other", json={"source": "x = 1"})
    assert (wrong.status_code, wrong.text) == (400, "Invalid library path. Only 'common' is currently supported.")
    put = http.put("/api/ee/transforms-python/library/common", json={"source": "x = 1"}).json()
    assert set(put) == {"source", "path", "created_at", "updated_at"} and put["source"] == "x = 1"
    _, no_feature = instance(premium="sandboxes")
    refused = no_feature.get("/api/ee/transforms-python/library/common")
    assert refused.status_code == 402 and "Transforms Python is a paid feature" in refused.text
    _, oss = instance(premium=None)
    assert oss.get("/api/ee/transforms-python/library/common").status_code == 404  # no EE routes at all


def test_a_job_is_disabled_and_re_enabled_by_its_put_and_made_active_whatever_the_post_says():
    """transform_job.active (migrations/060/20260504_transform_job_active.yaml); Data Studio's Disable and Re-enable
    send PUT {"active": ...} (JobMoreMenu.unit.spec.tsx); POST has no such key."""
    _, http = instance()
    job = http.post("/api/transform-job", json={"name": "J", "schedule": "0 0 * * * ? *", "active": False}).json()
    assert job["active"] is True
    assert http.put(f"/api/transform-job/{job['id']}", json={"active": False}).json()["active"] is False
    assert http.get(f"/api/transform-job/{job['id']}").json()["active"] is False
    assert {j["name"]: j["active"] for j in http.get("/api/transform-job").json()}["J"] is False
    assert http.put(f"/api/transform-job/{job['id']}", json={"active": True}).json()["active"] is True


def test_before_0_60_a_job_has_no_active_flag_and_a_put_of_one_changes_nothing():
    """0.60's migration (060/20260504_transform_job_active.yaml) added the column: a 0.59 job has no such key, and
    `update-job!` writes only its model's columns."""
    emu = Emulator(with_overrides(get_profile("0.57"), name="0.59", tag="v0.59.3"), premium_features="all")
    http = make_client(emu, **{"X-Metabase-Session": bootstrap.setup_admin(emu, ADMIN_EMAIL, ADMIN_PASSWORD)})
    job = http.post("/api/transform-job", json={"name": "J", "schedule": "0 0 * * * ? *"}).json()
    assert "active" not in job
    assert "active" not in http.put(f"/api/transform-job/{job['id']}", json={"active": False}).json()
    assert not any("active" in j for j in http.get("/api/transform-job").json())  # the default jobs too


def test_enterprise_0_57_keeps_transforms_under_api_ee_behind_the_transforms_feature():
    """Before 0.59 moved them to /api/transform, an Enterprise build from 0.57 (the transform table's migration) lists
    transforms at /api/ee/transform (transforms/api.clj `get-transforms`), behind the transforms feature
    (api_routes/routes.clj); an OSS build has no /api/ee routes, and the newer spec (openapi.json) has no such route."""
    emu, http = instance("0.57", enabled=False)
    emu.state.table("transform").insert({"name": "T", "source": {"type": "query"}, "target": {"type": "table"}},
                                        emu.state.now())
    listed = http.get("/api/ee/transform")
    assert listed.status_code == 200 and [t["name"] for t in listed.json()] == ["T"]
    assert http.get("/api/transform").status_code == 404
    assert instance("0.57", "sandboxes", enabled=False)[1].get("/api/ee/transform").status_code == 402
    assert instance("0.57", None, enabled=False)[1].get("/api/ee/transform").status_code == 404
    assert instance("0.56", enabled=False)[1].get("/api/ee/transform").status_code == 404
    assert instance("0.65")[1].get("/api/ee/transform").status_code == 404
