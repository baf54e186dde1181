"""Transforms, their tags, jobs, transform folders and the Python library (`current` seed, part `transforms`): a
0.65 → 0.65 round trip holds them equal on both servers (detail GETs, every id read back as a name), a target
without transforms (0.56) or with transforms turned off (0.64+: `transforms-enabled`) refuses them at plan time by
name, before any write."""

from __future__ import annotations

import json
import re
import shutil
from typing import Any

import httpx
import pytest

from mbport.check import load_tree
from mbport.client import MetabaseClient
from mbport.emulator import Emulator, bootstrap
from mbport.emulator.faults import FaultPlan
from mbport.engine import Importer
from mbport.export import run_export
from mbport.registry import load_plugins
from mbport.state import State
from tests.conftest import ADMIN_EMAIL, ADMIN_PASSWORD, assert_settled, seeded_emulator, writes_since

FAMILY = ("transforms/", "transform-tags/", "transform-jobs/", "python-libraries/")


@pytest.fixture(scope="module")
def registry():
    return load_plugins()


@pytest.fixture(scope="module")
def source(tmp_path_factory, registry):
    """The `current` seed on a 0.65 Enterprise emulator, exported once for the module."""
    emu, session = seeded_emulator("current", "0.65", premium_features="all")
    out = tmp_path_factory.mktemp("current") / "tree"
    with MetabaseClient("http://a.test", session_token=session, transport=emu.transport()) as api:
        result = run_export(api, registry, out)
    assert result.warnings == []
    return emu, session, out


def target(profile: str = "0.65", *, enabled: bool = True, premium: str | None = "all") -> tuple[Emulator, str]:
    """An empty instance; `enabled`: started with MB_TRANSFORMS_ENABLED=true (an env setting, as Metabase reads it)."""
    emu = Emulator(profile, premium_features=premium, sqlite_transforms=True)
    if enabled:
        emu.state.extra["env_settings"] = {"transforms-enabled": "true"}
    return emu, bootstrap.setup_admin(emu, ADMIN_EMAIL, ADMIN_PASSWORD)


def importer(emu: Emulator, session: str, tree, registry, tmp_path, **options) -> Importer:
    api = MetabaseClient("http://b.test", session_token=session, transport=emu.transport())
    state_path = tmp_path / "state.json"
    return Importer(api, registry, load_tree(tree, registry), State.load(state_path, api.url), options)


class Names:
    """Reads a server's ids back as names (detail GETs), so that two instances' objects compare."""

    def __init__(self, http: httpx.Client):
        self.http = http

    def get(self, path: str) -> Any:
        resp = self.http.get(path)
        assert resp.status_code == 200, (path, resp.status_code, resp.text)
        return resp.json()

    def field(self, field_id: int) -> str:
        field = self.get(f"/api/field/{field_id}")
        return f"{self.table(field['table_id'])}.{field['name']}"

    def table(self, table_id: int) -> str:
        return self.get(f"/api/table/{table_id}")["name"]

    def database(self, db_id: int) -> str:
        return self.get(f"/api/database/{db_id}")["name"]

    def card(self, card_id: int) -> str:
        return self.get(f"/api/card/{card_id}")["name"]

    def tags(self) -> dict[int, str]:
        return {t["id"]: t["name"] for t in self.get("/api/transform-tag")}

    def query(self, node: Any) -> Any:
        """A stored MBQL 5 query with every id a name and the server-made uuids left out."""
        if isinstance(node, list):
            if len(node) == 3 and node[0] == "field" and isinstance(node[2], int):
                return ["field", self.query(node[1]), self.field(node[2])]
            return [self.query(x) for x in node]
        if isinstance(node, str):  # a card's id in SQL (`{{#12-name}}`) and in its tag's name (`#12-name`)
            return re.sub(r"(\{\{#|^#)(\d+)", lambda m: m.group(1) + self.card(int(m.group(2))), node)
        if not isinstance(node, dict):
            return node
        named = {"source-table": self.table, "database": self.database, "card-id": self.card}
        return {self.query(k): (named[k](v) if k in named and isinstance(v, int) else self.query(v))
                for k, v in node.items() if k not in ("lib/uuid", "lib.convert/converted?")}

    def collection(self, coll_id: int | None) -> list[str]:
        """The folder path by name, with its namespace."""
        if coll_id is None:
            return []
        coll = self.get(f"/api/collection/{coll_id}")
        parents = [int(p) for p in coll["location"].strip("/").split("/") if p]
        return [coll["namespace"], *[self.get(f"/api/collection/{p}")["name"] for p in parents], coll["name"]]


def holdings(emu: Emulator, session: str) -> dict[str, Any]:
    """The transforms family as the server holds it, every id read back as a name."""
    with httpx.Client(transport=emu.transport(), base_url="http://x", headers={"X-Metabase-Session": session}) as http:
        names = Names(http)
        tags = names.tags()
        transforms = {}
        for summary in names.get("/api/transform"):
            t = names.get(f"/api/transform/{summary['id']}")
            source = dict(t["source"])
            if source["type"] == "python":
                source["source-database"] = names.database(source["source-database"])
                source["source-tables"] = {a: names.table(i) for a, i in source["source-tables"].items()}
            else:
                source["query"] = names.query(source["query"])
            target_ = {**t["target"], **({"database": names.database(t["target"]["database"])}
                                          if t["target"].get("database") else {})}
            owner = names.get(f"/api/user/{t['owner_user_id']}")["email"] if t["owner_user_id"] else None
            transforms[t["name"]] = {
                "description": t["description"], "source": source, "target": target_, "source_type": t["source_type"],
                "target_db": names.database(t["target_db_id"]), "run_trigger": t["run_trigger"],
                "tags": [tags[i] for i in t["tag_ids"]], "folder": names.collection(t["collection_id"]),
                "owner": owner, "owner_email": t["owner_email"]}
        jobs = {}
        for summary in names.get("/api/transform-job"):
            j = names.get(f"/api/transform-job/{summary['id']}")
            jobs[j["name"]] = {k: j[k] for k in ("description", "schedule", "ui_display_type", "active")} | {
                "tags": [tags[i] for i in j["tag_ids"]]}
        library = names.get("/api/ee/transforms-python/library/common")
        return {"transforms": transforms, "jobs": jobs, "tags": sorted(tags.values()),
                "library": (library["path"], library["source"])}


def test_a_round_trip_holds_the_transforms_family_on_both_servers(source, registry, tmp_path):
    src, src_session, tree = source
    emu, session = target()
    imp = importer(emu, session, tree, registry, tmp_path)
    plan = imp.plan()
    assert plan.problems == []
    created = {c.address.split("/")[0] + "/" for c in plan.of("create")}
    assert set(FAMILY) - {"python-libraries/"} <= created  # the library exists on every instance: an update
    result = imp.apply(plan)
    assert result.failed == {}
    emu.wait_idle()
    held, wanted = holdings(emu, session), holdings(src, src_session)
    assert held == wanted
    # What the seed wrote is really there, not only equal: three transforms, custom tags, the job, the library.
    assert set(held["transforms"]) == {"Orders per product", "Very big orders", "Customer scores"}
    assert held["transforms"]["Very big orders"]["source"]["query"]["stages"][0]["native"].startswith(
        "SELECT b.* FROM {{#Big orders-big-orders}}")
    assert held["transforms"]["Customer scores"]["folder"] == ["transforms", "Pipelines"]
    assert held["transforms"]["Very big orders"]["folder"] == ["transforms", "Pipelines", "Staging"]
    assert {"finance", "nightly", "hourly"} <= set(held["tags"]) and len(held["tags"]) == 6  # defaults adopted
    assert held["jobs"]["Nightly finance"]["tags"] == ["nightly", "finance"]
    assert (held["jobs"]["Nightly finance"]["active"], held["jobs"]["Weekly archive"]["active"]) == (True, False)
    assert "def score" in held["library"][1]
    assert_settled(importer(emu, session, tree, registry, tmp_path), emu)
    # `mbport verify` reads the family on both servers too: equal now, and a change on the target is named.
    from mbport.verify import run_verify

    with MetabaseClient("http://a.test", session_token=src_session, transport=src.transport()) as a, \
            MetabaseClient("http://b.test", session_token=session, transport=emu.transport()) as b:
        checked = run_verify(a, b, state_ids=dict(imp.state.ids), queries=False)
        assert not [d.line() for d in checked.differences if d.kind.startswith("transform")], checked.differences
        assert {k: c.paired for k, c in checked.counts.items() if k.startswith("transform")} == {
            "transform-tags": len(a.get("/api/transform-tag")), "transform-jobs": len(a.get("/api/transform-job")),
            "transforms": 3}
        scores = next(t for t in b.get("/api/transform") if t["name"] == "Customer scores")
        b.put(f"/api/transform/{scores['id']}", json={"target": {**scores["target"], "name": "scores_v2"}})
        job = next(j for j in b.get("/api/transform-job") if j["name"] == "Nightly finance")
        b.put(f"/api/transform-job/{job['id']}", json={"tag_ids": job["tag_ids"][:1]})
        drift = [d.line() for d in run_verify(a, b, state_ids=dict(imp.state.ids), queries=False).differences]
        assert any("Customer scores" in line and "scores_v2" in line for line in drift), drift
        assert any("Nightly finance" in line for line in drift), drift


@pytest.mark.parametrize("profile", ["0.56"])
def test_a_target_older_than_transforms_refuses_them_in_plan_by_name(source, registry, tmp_path, profile):
    _, _, tree = source
    emu, session = target(profile)
    before = len(emu.request_log)
    plan = importer(emu, session, tree, registry, tmp_path).plan()
    refused = [p for p in plan.problems if "cannot hold" in p]
    for kind in ("transforms", "transform-tags", "transform-jobs", "python-libraries"):
        assert any(f"cannot hold {kind}: Metabase v1.56.13 has no {kind}" in p for p in refused), (kind, refused)
    for folder in ("Pipelines", "Staging"):  # a `transforms` collection 0.56 would take, with nothing to hold
        assert any(f"cannot hold collection '{folder}': Metabase v1.56.13 has no transform folders" in p
                   for p in refused), (folder, refused)
    assert writes_since(emu, before) == []


def test_skip_unsupported_leaves_the_family_out_of_an_older_target(source, registry, tmp_path):
    _, _, tree = source
    emu, session = target("0.56")
    imp = importer(emu, session, tree, registry, tmp_path, skip_unsupported=True)
    plan = imp.plan()
    assert plan.problems == []
    left_out = {a.split("/")[0] + "/" for a in plan.unsupported}
    assert set(FAMILY) <= left_out
    assert sum(1 for why in plan.unsupported.values() if "transform folders" in why) == 2  # Pipelines, Staging
    assert imp.apply(plan).failed == {}


def test_a_target_with_transforms_turned_off_refuses_them_by_the_setting_before_any_write(source, registry, tmp_path):
    _, _, tree = source
    emu, session = target(enabled=False)
    before = len(emu.request_log)
    plan = importer(emu, session, tree, registry, tmp_path).plan()
    off = [p for p in plan.problems if "transforms-enabled" in p]
    assert off and all("MB_TRANSFORMS_ENABLED=true" in p for p in off)
    assert any(p.startswith("transforms/") for p in off), off
    assert writes_since(emu, before) == []


def test_a_python_transform_needs_the_transforms_python_feature_on_the_target(source, registry, tmp_path):
    _, _, tree = source
    emu, session = target(premium="advanced_permissions,transforms-basic")
    plan = importer(emu, session, tree, registry, tmp_path).plan()
    python = [p for p in plan.problems if "transforms-python" in p]
    assert any("Customer scores" in p and "Python transform" in p for p in python), plan.problems
    assert any("python-libraries" in p for p in python)



def test_skip_unsupported_leaves_out_only_the_python_transform(source, registry, tmp_path):
    """--skip-unsupported into a token without transforms-python: the Python transform and the library are left out
    (it was a plan problem the flag did not cover), the query transforms are written."""
    _, _, tree = source
    emu, session = target(premium="advanced_permissions,transforms-basic")
    imp = importer(emu, session, tree, registry, tmp_path, skip_unsupported=True)
    plan = imp.plan()
    assert plan.problems == []
    assert any(a.startswith("transforms/") and "Python transforms" in why for a, why in plan.unsupported.items())
    assert imp.apply(plan).failed == {}
    with MetabaseClient("http://b.test", session_token=session, transport=emu.transport()) as api:
        held = {t["name"] for t in api.get("/api/transform")}
    assert "Customer scores" not in held and {"Orders per product", "Very big orders"} <= held


def test_prune_deletes_the_transforms_and_jobs_the_tree_no_longer_has(source, registry, tmp_path):
    """Transforms, tags and jobs have no archive: --prune deletes them (and only what an import created)."""
    _, _, tree = source
    emu, session = target()
    first = importer(emu, session, tree, registry, tmp_path)
    first.apply(first.plan())
    pruned = tmp_path / "pruned"
    shutil.copytree(tree, pruned)
    (pruned / "transforms" / "pipelines" / "staging" / "very-big-orders.json").unlink()
    (pruned / "transform-jobs" / "nightly-finance.json").unlink()
    prune = importer(emu, session, pruned, registry, tmp_path, prune=True)
    plan = prune.plan()
    assert sorted(c.name for c in plan.of("archive")) == ["Nightly finance", "Very big orders"]
    assert prune.apply(plan).failed == {}
    held = holdings(emu, session)
    assert set(held["transforms"]) == {"Orders per product", "Customer scores"}
    assert set(held["jobs"]) == {"Hourly job", "Daily job", "Weekly job", "Monthly job", "Weekly archive"}  # defaults stay


def test_diff_reads_transform_changes_like_an_admin_says_them(source, tmp_path):
    from mbport.tree import dumps
    from tests.e2e.instances import mbport

    _, _, tree = source
    changed = tmp_path / "changed"
    shutil.copytree(tree, changed)

    def edit(rel: str, fn) -> None:
        path = changed / rel
        doc = json.loads(path.read_text())
        fn(doc)
        path.write_bytes(dumps(doc))

    edit("transforms/pipelines/staging/very-big-orders.json",
         lambda d: d["source"]["query"]["stages"][0].update(native="SELECT 1 AS one"))
    edit("transforms/pipelines/orders-per-product.json", lambda d: d["target"].update(name="product_orders"))
    edit("transform-jobs/nightly-finance.json", lambda d: d.update(schedule="0 0 3 * * ? *", tag_ids=d["tag_ids"][:1]))
    run = mbport("diff", tree, changed)
    assert run.code == 0, run.err
    lines = run.out.splitlines()
    assert "transform 'Very big orders': SQL changed" in lines, lines
    assert "transform 'Orders per product': writes product_orders instead of orders_per_product" in lines, lines
    assert any(line.startswith("transform-job 'Nightly finance':") and "tags: -'finance'" in line
               and "schedule" in line for line in lines), lines


def test_a_disabled_job_needs_0_60_where_transform_jobs_got_their_active_flag(registry):
    """No emulated release has transforms without `active` (0.59 only): the field's need is read off the spec."""
    from mbport.client import MetabaseVersion

    jobs = registry["transform-jobs"]
    doc = {"name": "Weekly archive", "schedule": "0 0 4 ? * 1 *", "active": False}
    why = jobs.spec.unmet_needs(doc, MetabaseVersion.parse("v0.59.3"), {})
    assert why == "Metabase v0.59.3 has no disabled transform jobs (they exist from 0.60 on)"
    assert jobs.spec.unmet_needs(doc, MetabaseVersion.parse("v0.60.1"), {}) is None
    assert jobs.spec.unmet_needs({**doc, "active": True}, MetabaseVersion.parse("v0.59.3"), {}) is None


PREVIEW_WARNING = ("transforms: this Enterprise release keeps {} transform(s) under /api/ee/transform, before their "
                   "0.59 API; they are not exported (upgrade it to 0.59 or later to export them)")


def preview_instance(profile: str, premium: str | None, transforms: int) -> tuple[Emulator, MetabaseClient]:
    """An instance of `profile` holding `transforms` transforms (nothing in the emulator creates one before 0.59: the
    rows go straight into its store, as a 0.57 Enterprise build's /api/ee/transform would have made them)."""
    emu = Emulator(profile, premium_features=premium)
    session = bootstrap.setup_admin(emu, ADMIN_EMAIL, ADMIN_PASSWORD)
    for n in range(transforms):
        emu.state.table("transform").insert({"name": f"Preview {n}", "source": {"type": "query"},
                                             "target": {"type": "table", "name": f"preview_{n}"}}, emu.state.now())
    return emu, MetabaseClient("http://a.test", session_token=session, transport=emu.transport(), backoff=0.001)


def test_transforms_an_enterprise_0_57_keeps_under_api_ee_are_named_not_dropped_silently(registry, tmp_path):
    _, api = preview_instance("0.57", "all", 2)
    result = run_export(api, registry, tmp_path / "tree")
    assert result.warnings == [PREVIEW_WARNING.format(2)]
    assert not (tmp_path / "tree" / "transforms").exists()


@pytest.mark.parametrize(("profile", "premium", "transforms", "probed"), [
    ("0.57", "all", 0, True),  # nothing there: nothing to say
    ("0.57", "sandboxes", 1, True),  # a token without the transforms feature: 402, its transforms unreadable
    ("0.57", None, 1, False),  # an open-source build has no /api/ee routes
    ("0.56", "all", 0, False),  # before the transform table (0.57): not even asked
])
def test_no_preview_warning_where_there_is_none_to_give(registry, tmp_path, profile, premium, transforms, probed):
    emu, api = preview_instance(profile, premium, transforms)
    result = run_export(api, registry, tmp_path / "tree")
    assert [w for w in result.warnings if "transform" in w] == []
    assert any(r[1] == "/api/ee/transform" for r in emu.request_log) == probed


def test_a_probe_that_fails_otherwise_says_it_could_not_tell(registry, tmp_path):
    """A server error on the preview probe is not "no transforms there": the export says it could not check."""
    emu, api = preview_instance("0.57", "all", 1)
    emu.faults = FaultPlan(rate=1.0, kinds=("500",), only=r"^GET /api/ee/transform$")
    result = run_export(api, registry, tmp_path / "tree")
    assert [w for w in result.warnings if "transform" in w] == [
        "transforms: could not tell whether this Enterprise release keeps transforms under /api/ee/transform (500); "
        "if it does, they are not exported"]
