"""The Library and Data Studio of the `current` seed (0.65 Enterprise): a round trip holds them equal on both
servers; an older or OSS target refuses them in plan, by name, before the first write."""

from __future__ import annotations

from pathlib import Path

import pytest

from mbport.emulator.seeds.handmade import base as handmade_base
from tests.conftest import transforms_on, writes_since
from tests.e2e.instances import Instance, add_sqlite_database, mbport, routed_instances

WAREHOUSE = "Handmade Warehouse"


@pytest.fixture
def instances(monkeypatch):
    return routed_instances(monkeypatch)


def current_instance(instances, name: str, profile: str = "0.65", premium: str | None = "all",
                     seed: str | None = None) -> Instance:
    """A 0.65 Enterprise instance (or another release and token) with the current seed, or with only the seed's
    warehouse (an import target)."""
    inst = instances.add(name, seed=seed, profile=profile, premium=premium)
    if not seed:
        transforms_on(inst.emu)  # the seed's transforms need a target whose admin turned them on
        add_sqlite_database(inst, WAREHOUSE, handmade_base.WAREHOUSE_SCRIPT)
    return inst


def flags(inst: Instance, tmp_path: Path, *more) -> list:
    return ["--url", inst.url, "--session-token", inst.session, "--state", tmp_path / f"{inst.url[7:]}.json", *more]


def export_current(instances, tmp_path: Path) -> tuple[Instance, Path]:
    """(source instance, its exported tree) of the current seed."""
    source = current_instance(instances, "source", seed="current")
    tree = tmp_path / "tree"
    run = mbport("export", "--url", source.url, "--session-token", source.session, "--out", tree)
    assert run.code == 0, run.err
    return source, tree


@pytest.fixture
def exported(instances, tmp_path):
    return export_current(instances, tmp_path)


def collections_by_type(inst: Instance) -> dict[str, list[dict]]:
    with inst.api() as api:
        rows = api.get("/api/collection").json()
    out: dict[str, list[dict]] = {}
    for row in rows:
        if isinstance(row.get("id"), int):
            out.setdefault(row.get("type") or "", []).append(row)
    return out


def table(inst: Instance, name: str) -> dict:
    with inst.api() as api:
        tables = api.get("/api/table").json()
        return api.get(f"/api/table/{next(t['id'] for t in tables if t['name'] == name)}").json()


def user_email(inst: Instance, user_id: int | None) -> str | None:
    if user_id is None:
        return None
    with inst.api() as api:
        return api.get(f"/api/user/{user_id}").json()["email"]


def library_view(inst: Instance) -> dict:
    """What the servers hold of the Library and Data Studio, in terms that do not depend on ids."""
    by_type = collections_by_type(inst)
    names = {c["id"]: c["name"] for rows in by_type.values() for c in rows}
    with inst.api() as api:
        library = api.get("/api/ee/library").json()
        cards = api.get("/api/card", params={"f": "all"}).json()
        revenue = next(c for c in cards if c["name"] == "Revenue")
        weekly = next(d for d in api.get("/api/dashboard").json() if d["name"] == "Weekly revenue")
        question = next(c for c in cards if c.get("dashboard_id") == weekly["id"])
    view = {
        "library": (library["name"], library["type"]),
        "library collections": sorted((c["name"], t, c.get("description"), names.get(c.get("parent_id")))
                                      for t in ("library", "library-data", "library-metrics", "library-dashboards")
                                      for c in by_type.get(t, [])),
        "metric in": (names[revenue["collection_id"]], revenue["type"]),
        "dashboard in": (names[weekly["collection_id"]], question["name"], names[question["collection_id"]]),
    }
    for name in ("orders", "products", "customers"):
        t = table(inst, name)
        view[name] = {"published": t["is_published"], "in": names.get(t["collection_id"]),
                      "owner": user_email(inst, t["owner_user_id"]), "owner_email": t["owner_email"],
                      "layer": t["data_layer"], "source": t["data_source"], "authority": t["data_authority"]}
    return view


def test_a_round_trip_holds_the_library_and_data_studio_equal_on_both_servers(exported, instances, tmp_path):
    source, tree = exported
    target = current_instance(instances, "target")
    run = mbport("import", tree, *flags(target, tmp_path))
    assert run.code == 0, run.err
    wanted = library_view(source)
    assert wanted["orders"] == {"published": True, "in": "Curated", "owner": "rita@handmade.example",
                                "owner_email": None, "layer": "internal", "source": "source-data",
                                "authority": "authoritative"}
    assert wanted["products"]["layer"] == "final" and wanted["library collections"]
    assert library_view(target) == wanted
    assert ("Curated", "library-data", "Tables the analysts vouch for", "Data") in wanted["library collections"]
    assert ("Weekly", "library-dashboards", None, "Dashboards") in wanted["library collections"]
    assert wanted["dashboard in"] == ("Weekly", "Weekly revenue by product", "Weekly")
    again = mbport("plan", tree, *flags(target, tmp_path))
    assert again.code == 0 and "Plan: 0 to create, 0 to update" in again.out, again.out


def dimensions(inst: Instance) -> dict[str, list]:
    with inst.api() as api:
        measure = next(m for m in api.get("/api/measure").json() if m["name"] == "Order count")
        metric = next(c for c in api.get("/api/card", params={"f": "all"}).json() if c["name"] == "Revenue")
        return {"measure": api.get(f"/api/measure/{measure['id']}").json()["dimensions"],
                "metric": api.get(f"/api/metric/{metric['id']}").json()["dimensions"]}


def test_dimension_ids_no_api_request_writes_are_named_before_the_first_write(exported, instances, tmp_path):
    source, tree = exported
    doc = next((tree / "measures").rglob("order-count.json")).read_text()
    wanted = dimensions(source)
    assert wanted["measure"][0]["id"] in doc and '"default": true' in doc and '"field": {' in doc
    target = current_instance(instances, "target")
    run = mbport("import", tree, *flags(target, tmp_path))
    assert run.code == 0, run.err
    notes = [line for line in run.out.splitlines() if line.startswith("Cannot be restored through the API:")]
    assert any("measure 'Order count' (measures/" in n and "dimensions (their ids are random UUIDs" in n
               for n in notes), run.out
    assert any("card 'Revenue' (cards/" in n and "dimensions" in n for n in notes), run.out
    assert run.out.index("Cannot be restored") < run.out.index("Applied:")  # said before writing
    held = dimensions(target)
    for what in ("measure", "metric"):  # the same curated set on both servers, under other ids
        def strip(dims):
            return [{k: v for k, v in d.items() if k not in ("id", "sources", "group")} for d in dims]
        assert strip(held[what]) == strip(wanted[what])
        assert {d["id"] for d in held[what]}.isdisjoint({d["id"] for d in wanted[what]})
    again = mbport("plan", tree, *flags(target, tmp_path))
    assert "Plan: 0 to create, 0 to update" in again.out and "dimensions (their ids" in again.out


def test_a_public_link_is_named_as_something_import_cannot_keep(exported, instances, tmp_path):
    _, tree = exported
    path = next((tree / "cards").rglob("big-orders.json"))
    path.write_text(path.read_text().replace('"name": "Big orders"',
                                             '"name": "Big orders", "public_uuid": "0b8a4b7e-1f0e-4bd3-9d5f-6a1c2e3f4a5b"'))
    target = current_instance(instances, "target")
    run = mbport("plan", tree, *flags(target, tmp_path))
    assert run.code == 0, run.err
    assert any(line.startswith("Cannot be restored through the API: card 'Big orders'") and "public_uuid" in line
               for line in run.out.splitlines()), run.out


@pytest.mark.parametrize(("profile", "premium", "why"), [
    ("0.65", None, "its token has no library feature, which Library collections need"),
    ("0.56", "all", "has no Library collections (they exist from 0.59 on)"),
    ("0.63", "all", "has no Library dashboards (they exist from 0.65 on)"),
])
def test_a_target_without_the_library_refuses_it_in_plan_by_name_before_writing(exported, instances, tmp_path,
                                                                                 profile, premium, why):
    problems = refused(instances, exported[1], tmp_path, profile, premium)
    assert any("collections/" in p and why in p and "--skip-unsupported" in p for p in problems), problems
    if profile == "0.63":  # it has the Library, not its Dashboards section (0.65)
        assert any("collection 'Dashboards'" in p and why in p for p in problems), problems
        assert not any("collection 'Library'" in p for p in problems), problems
        return
    assert any("collection 'Library'" in p for p in problems), problems
    assert any("tables/Handmade Warehouse//orders: the target cannot hold 'published_in'" in p for p in problems)


def refused(instances, tree: Path, tmp_path: Path, profile: str, premium: str | None) -> list[str]:
    """The plan problems of importing `tree` into a fresh instance of that release and token, which stops the
    import before any write."""
    target = current_instance(instances, "older", profile=profile, premium=premium)
    before = len(target.emu.request_log)
    run = mbport("import", tree, *flags(target, tmp_path))
    assert run.code == 1 and "Traceback" not in run.err
    assert writes_since(target.emu, before) == []
    return [line for line in run.err.splitlines() if line.startswith("Problem:")]


def test_a_target_that_has_its_own_library_gets_the_tree_s_content_in_it(exported, instances, tmp_path):
    source, tree = exported
    target = current_instance(instances, "target")
    with target.api() as api:
        assert api.post("/api/ee/library").status_code == 200  # made there first: Library, Data, Metrics
        assert api.post("/api/ee/tenant", json={"name": "Acme Corp", "slug": "acme"}).status_code == 200
    run = mbport("import", tree, *flags(target, tmp_path))
    assert run.code == 0, run.err
    assert library_view(target) == library_view(source)  # one Library, adopted, not a second one (a 400)
    with target.api() as api:
        assert [t["name"] for t in api.get("/api/ee/tenant").json()["data"]] == ["Acme", "Globex"]  # renamed
