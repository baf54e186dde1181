"""`mbport diff`: per object, what changed in an admin's words; trees, snapshots and live instances as sides."""

from __future__ import annotations

import copy
import json
import shutil

import git
import pytest

from mbport.cli import default_state_path
from mbport.tree import dumps
from tests.e2e.instances import mbport, routed_instances, write_secrets

SQL_CARD = "cards/company/sales/emea-reports/orders-by-status-sql.json"
LINE_CARD = "cards/company/sales/revenue-by-month.json"
MBQL_CARD = "cards/company/sales/orders-by-month.json"
DASHBOARD = "dashboards/company/sales/sales-overview.json"
SEGMENT = "segments/sample-database/public/orders/large-orders.json"


@pytest.fixture
def instances(monkeypatch):
    return routed_instances(monkeypatch)


@pytest.fixture(scope="module")
def exported(tmp_path_factory, seeded):
    """The seeded sample instance exported once; tests copy it and edit the copy."""
    from mbport.client import MetabaseClient
    from mbport.export import run_export
    from mbport.registry import load_plugins

    emu, session = seeded
    out = tmp_path_factory.mktemp("diff") / "a"
    with MetabaseClient("http://metabase.test", session_token=session, transport=emu.transport()) as api:
        run_export(api, load_plugins(), out)
    return out


class Edit:
    def __init__(self, root):
        self.root = root

    def __call__(self, rel, fn):
        path = self.root / rel
        doc = json.loads(path.read_text())
        fn(doc)
        path.write_bytes(dumps(doc))
        return doc

    def read(self, rel):
        return json.loads((self.root / rel).read_text())


@pytest.fixture
def pair(exported, tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    shutil.copytree(exported, a)
    shutil.copytree(exported, b)
    return a, b, Edit(b)


def lines_of(a, b, *more):
    run = mbport("diff", a, b, *more)
    assert run.code == 0, run.err
    return run.out.splitlines()


def test_a_card_back_from_its_collections_trash_is_restored_not_in_the_trash(pair):
    """A snapshot taken while a collection was in the Trash (its card archived with it) against one after it came
    back: the card was restored, nothing more (it read "restored from the archive; in the Trash on its own")."""
    a, b, _ = pair
    Edit(a)("cards/company/product-categories.json", lambda d: d.update(archived=True, archived_directly=False))
    assert "card 'Product categories': restored from the archive" in lines_of(a, b)


def test_identical_trees_have_no_differences(pair):
    a, b, _ = pair
    run = mbport("diff", a, b, "--exit-code")
    assert run.code == 0 and run.out == "" and "No differences" in run.err


def test_card_changes_read_like_an_admin_says_them(pair):
    a, b, edit = pair
    edit(SQL_CARD, lambda d: d["dataset_query"]["stages"][0].update(native="SELECT 1"))
    edit(LINE_CARD, lambda d: d.update(display="bar", name="Revenue per month"))

    def add_filter(doc):
        stage = doc["dataset_query"]["stages"][0]
        stage["filters"] = [[">", {}, stage["breakout"][0], "2024-01-01"]]

    edit(MBQL_CARD, add_filter)
    marketing = next(p for p in (b / "collections").glob("marketing.json"))
    marketing_ref = {"$ref": "collections/" + json.loads(marketing.read_text())["entity_id"]}
    edit("cards/company/total-revenue.json", lambda d: d.update(collection=marketing_ref))
    edit("cards/company/product-categories.json", lambda d: d.update(archived=True, archived_directly=False))
    lines = lines_of(a, b)
    assert "card 'Orders by status (SQL)': SQL changed" in lines
    assert "card 'Revenue per month': renamed 'Revenue by month' → 'Revenue per month'; visualization: line → bar" in lines
    assert "card 'Orders by month': filters added" in lines
    assert "card 'Total revenue': moved from 'Company' to 'Marketing'" in lines
    assert "card 'Product categories': archived; in the Trash with its collection" in lines
    assert len(lines) == 5


def test_dashboard_user_membership_setting_and_segment_changes(pair):
    a, b, edit = pair
    dash = edit.read(DASHBOARD)
    tab = dash["tabs"][1]

    def add_dashcard(doc):
        doc["dashcards"].append({"card": {"$ref": "cards/" + edit.read(LINE_CARD)["entity_id"]}, "col": 0, "row": 20,
                                 "size_x": 6, "size_y": 4, "entity_id": "NewDashcard000000000x",
                                 "tab": {"$ref": f"tabs/{doc['entity_id']}/{tab['entity_id']}"}})
        doc["tabs"][0]["name"] = "Summary"

    edit(DASHBOARD, add_dashcard)
    edit("users/ana-acme-example.json", lambda d: d.update(is_active=False))
    edit("memberships/sales.json", lambda d: d.update(members=[m for m in d["members"] if "sam@" not in m["user"]["$ref"]]))
    edit("settings/instance.json", lambda d: d["values"].update({"report-timezone": "UTC"}))
    edit(SEGMENT, lambda d: d["definition"].update(filter=["<", d["definition"]["filter"][1], 10]))
    lines = lines_of(a, b)
    assert (f"dashboard 'Sales overview': dashcard 'Revenue by month' added on tab '{tab['name']}'; "
            "tab renamed 'Overview' → 'Summary'") in lines
    assert "user 'ana@acme.example': deactivated" in lines
    assert "membership 'Sales': member 'sam@acme.example' removed" in lines
    assert "setting 'instance': setting report-timezone: Europe/Berlin → UTC" in lines
    assert "segment 'Large orders': filters changed" in lines


def test_a_dashboard_filter_renamed_is_renamed_not_removed_and_added(pair):
    a, b, edit = pair

    def filters(doc):
        category = next(p for p in doc["parameters"] if p["name"] == "Category")
        category.update(name="Product category", default=["Gizmo", "Widget"])
        doc["parameters"] = [p for p in doc["parameters"] if p["name"] != "Vendor"]
        doc["parameters"].append({"id": "d00d0001", "name": "Created", "slug": "created", "type": "date/all-options"})

    edit(DASHBOARD, filters)
    assert lines_of(a, b) == [
        "dashboard 'Sales overview': filter 'Category': renamed 'Category' → 'Product category', "
        "default set to 'Gizmo, Widget'; filter 'Created' added; filter 'Vendor' removed"]


def test_added_and_removed_objects_and_json_output(pair):
    a, b, edit = pair
    new_card = copy.deepcopy(edit.read(LINE_CARD))
    new_card.update(entity_id="BrandNewCard000000000", name="Brand new")
    (b / "cards/company/sales/brand-new.json").write_bytes(dumps(new_card))
    (b / SQL_CARD).unlink()
    lines = lines_of(a, b)
    assert "card 'Brand new': added in 'Sales'" in lines
    assert "card 'Orders by status (SQL)': removed" in lines
    run = mbport("diff", a, b, "--json", "--exit-code")
    assert run.code == 4
    rows = [json.loads(line) for line in run.out.splitlines()]
    assert {r["change"] for r in rows} == {"added", "removed"}
    added = next(r for r in rows if r["change"] == "added")
    assert added == {"address": "cards/BrandNewCard000000000", "kind": "cards", "name": "Brand new",
                     "change": "added", "details": ["added in 'Sales'"]}


def test_snapshots_and_live_drift(instances, tmp_path, monkeypatch):
    source = instances.add("drift", seed="sample")
    repo = tmp_path / "repo"
    conn = ["--url", source.url, "--session-token", source.session]
    assert mbport("backup", *conn, "--repo", repo).code == 0
    card = source.card("Revenue by month")
    with source.api() as api:
        api.put(f"/api/card/{card['id']}", json={"display": "area"}).raise_for_status()
    drift = mbport("diff", f"{repo}@HEAD", *conn)
    assert drift.out.splitlines() == ["card 'Revenue by month': visualization: line → area"]
    assert mbport("backup", *conn, "--repo", repo).code == 0
    git.Repo(repo).create_tag("before-change", "HEAD~1")
    by_repo = mbport("diff", "--repo", repo, "before-change", "HEAD")
    assert by_repo.out.splitlines() == ["card 'Revenue by month': visualization: line → area"]
    assert mbport("diff", f"{repo}@before-change", f"{repo}@HEAD").out == by_repo.out
    assert mbport("diff", "--repo", repo, "HEAD").out == ""  # HEAD vs the working tree: the latest backup
    assert mbport("diff", repo, *conn).out == ""  # the working tree is a tree folder too
    monkeypatch.setenv("METABASE_SITE_URL", source.url)
    monkeypatch.setenv("METABASE_SESSION_TOKEN", source.session)
    assert mbport("diff", f"{repo}@before-change").out == by_repo.out  # one side: the live instance from the env


def test_bad_sides_are_one_clear_line(exported, tmp_path, monkeypatch):
    missing = mbport("diff", exported, tmp_path / "nope")
    assert missing.code == 2 and "not a tree folder" in missing.err and "Traceback" not in missing.err
    monkeypatch.delenv("METABASE_SITE_URL", raising=False)
    assert mbport("diff", exported).code == 2  # one side without --url
    repo = tmp_path / "r"
    git.Repo.init(repo)
    unknown = mbport("diff", "--repo", repo, "nope", "HEAD")
    assert unknown.code == 2 and "nope: no such commit" in unknown.err
    not_tree = tmp_path / "empty"
    not_tree.mkdir()
    assert "not an mbport tree" in mbport("diff", exported, not_tree).err


# ---------------------------------------------------------------- a live instance the tree was imported into

@pytest.fixture
def imported(exported, instances, tmp_path):
    """(tree, target, connection flags): the exported tree imported into an empty emulator, state at its default."""
    tree = tmp_path / "tree"
    shutil.copytree(exported, tree)
    target = instances.add("target")
    conn = ["--url", target.url, "--session-token", target.session]
    run = mbport("import", tree, *conn, "--secrets", write_secrets(tmp_path / "secrets.json"), "--with-api-keys")
    assert run.code == 0, run.err
    assert default_state_path(tree, target.url).is_file()
    return tree, target, conn


def test_an_imported_instance_has_no_differences_with_its_tree(imported, tmp_path, monkeypatch):
    tree, target, conn = imported
    run = mbport("diff", tree, *conn, "--exit-code")  # the state beside the tree maps the new entity ids back
    assert run.code == 0 and run.out == "", run.out
    assert "mapped back" in run.err and "No differences" in run.err
    config = tmp_path / "mbport.toml"
    config.write_text(f'[instances.target]\nurl = "{target.url}"\nsession_token_env = "TARGET_SESSION"\n')
    monkeypatch.setenv("TARGET_SESSION", target.session)
    monkeypatch.delenv("METABASE_SITE_URL", raising=False)
    named = mbport("--config", config, "diff", tree, "--instance", "target", "--exit-code")  # the live side by name
    assert named.code == 0 and named.out == "", named.err
    elsewhere = tmp_path / "elsewhere.json"
    default_state_path(tree, target.url).rename(elsewhere)
    unmapped = mbport("diff", tree, *conn, "--json", "--exit-code")  # no state: every new entity id differs
    assert unmapped.code == 4 and {"added", "removed"} <= {json.loads(r)["change"] for r in unmapped.out.splitlines()}
    given = mbport("diff", tree, *conn, "--state", elsewhere, "--exit-code")
    assert given.code == 0 and given.out == "", given.out
    with target.api() as api:
        card = target.card("Revenue by month")
        api.put(f"/api/card/{card['id']}", json={"name": "Revenue per month"}).raise_for_status()
    changed = mbport("diff", tree, *conn, "--state", elsewhere, "--json")
    rows = [json.loads(line) for line in changed.out.splitlines()]
    source_card = json.loads((tree / LINE_CARD).read_text())
    assert rows == [{"address": f"cards/{source_card['entity_id']}", "kind": "cards", "name": "Revenue per month",
                     "change": "changed", "details": ["renamed 'Revenue by month' → 'Revenue per month'"]}]


def test_a_restored_instance_has_no_differences_with_its_snapshot(imported, instances, tmp_path):
    tree, target, conn = imported
    repo = tmp_path / "repo"
    assert mbport("backup", *conn, "--repo", repo).code == 0  # the target's own snapshot ...
    fresh = instances.add("fresh")
    fresh_conn = ["--url", fresh.url, "--session-token", fresh.session]
    restored = mbport("restore", "--repo", repo, "--ref", "HEAD", *fresh_conn,
                      "--secrets", tmp_path / "secrets.json", "--with-api-keys")
    assert restored.code == 0, restored.err  # ... restored elsewhere: state in REPO.mbport-state/
    for side in (f"{repo}@HEAD", repo):  # a snapshot and the working tree use the repository's state
        run = mbport("diff", side, *fresh_conn, "--exit-code")
        assert run.code == 0 and run.out == "", (side, run.out)
    assert mbport("diff", "--repo", repo, "HEAD", *fresh_conn, "--exit-code").code == 0


def test_drift_after_a_selective_restore_compares_the_later_snapshot_as_it_is(instances, tmp_path):
    """A deleted dashboard restored from an older snapshot gets a new entity id, which the next backup records.
    Compared with that later snapshot, the live instance is not mapped back through the restore's state to the old
    entity id (the dashboard and its subscription read as removed and added again)."""
    source = instances.add("restored-drift", seed="sample")
    repo = tmp_path / "repo"
    conn = ["--url", source.url, "--session-token", source.session]
    assert mbport("backup", *conn, "--repo", repo).code == 0
    with source.api() as api:
        dashboard = next(d for d in api.get("/api/dashboard/", params={"f": "all"}).json()
                         if d["name"] == "Customer insights")
        api.delete(f"/api/dashboard/{dashboard['id']}").raise_for_status()
    assert mbport("backup", *conn, "--repo", repo).code in (0, 3)
    restored = mbport("restore", "--repo", repo, "--ref", "HEAD~1", "--select", "dashboard:Customer insights", *conn)
    assert restored.code == 0, restored.err
    assert mbport("backup", *conn, "--repo", repo).code in (0, 3)
    drift = mbport("diff", f"{repo}@HEAD", *conn, "--exit-code")
    assert drift.code == 0 and drift.out == "", drift.out
    older = mbport("diff", f"{repo}@HEAD~2", *conn)  # the snapshot it was restored from: mapped back
    assert older.code == 0 and "Customer insights" not in older.out, older.out


def test_a_wrong_state_is_one_clear_line(imported, tmp_path):
    tree, target, conn = imported
    state = default_state_path(tree, target.url)
    other = mbport("diff", tree, "--url", "http://other.test", "--session-token", target.session, "--state", state)
    errors = [line for line in other.err.splitlines() if line.startswith("Error:")]
    assert other.code == 1 and "Traceback" not in other.err
    assert errors == [f"Error: {state}: this state belongs to {target.url}, not http://other.test"]
    missing = mbport("diff", tree, *conn, "--state", tmp_path / "nope.json")
    assert missing.code == 2 and "nope.json: no such state file" in missing.err
    two_sides = mbport("diff", tree, tree, "--state", state)
    assert two_sides.code == 2 and "--state" in two_sides.err



def _collection_ref(root, name):
    doc = next(json.loads(p.read_text()) for p in (root / "collections").rglob("*.json")
               if json.loads(p.read_text()).get("name") == name)
    return {"$ref": f"collections/{doc['entity_id']}"}


def test_permission_changes_name_each_grant(pair):
    """Each grant that changed, with group, access and collection (or database, table): not "grants changed"."""
    a, b, edit = pair
    marketing, company = _collection_ref(b, "Marketing"), _collection_ref(b, "Company")
    sales, analysts = {"$ref": "groups/Sales"}, {"$ref": "groups/Analysts"}
    new_collection = copy.deepcopy(json.loads((b / "collections/marketing.json").read_text()))
    new_collection.update(entity_id="NewCollection00000000", name="Campaigns")
    (b / "collections/campaigns.json").write_bytes(dumps(new_collection))
    campaigns = {"$ref": "collections/NewCollection00000000"}

    def collection_grants(doc):
        grants = [g for g in doc["grants"] if not (g["group"] == sales and g["collection"] == company)]
        grants += [{"access": "write", "collection": marketing, "group": sales},
                   {"access": "read", "collection": campaigns, "group": sales},
                   {"access": "write", "collection": campaigns, "group": analysts}]
        doc["grants"] = grants

    edit("collection-permissions/default.json", collection_grants)

    def data_grants(doc):
        for grant in doc["grants"]:
            if grant["group"] == sales and grant["database"] == {"$ref": "databases/Shop Warehouse"}:
                grant["permissions"]["view-data"] = {"": {"orders": "unrestricted", "products": "blocked"}}

    before = edit.read("data-permissions/graph.json")
    assert any(g["group"] == sales and g["database"] == {"$ref": "databases/Shop Warehouse"}
               and g["permissions"]["view-data"] == "unrestricted" for g in before["grants"])
    edit("data-permissions/graph.json", data_grants)
    lines = lines_of(a, b)
    permission_line = next(line for line in lines if line.startswith("collection-permission 'default': "))
    assert sorted(permission_line.removeprefix("collection-permission 'default': ").split("; ")) == [
        "group 'Analysts': write on 'Campaigns' (was none)", "group 'Sales': none on 'Company' (was read)",
        "group 'Sales': read on 'Campaigns' (was none)", "group 'Sales': write on 'Marketing' (was none)"]
    assert "data-permission 'graph': group 'Sales': view-data blocked on table 'products' of 'Shop Warehouse' " \
           "(was unrestricted)" in lines
    assert not any("reordered" in line or "grants changed" in line for line in lines), lines



def test_a_broken_file_is_an_error_not_a_change(pair):
    """A cut-off JSON file is not an added or removed object: diff stops with exit 1 naming the file."""
    a, b, _ = pair
    path = b / LINE_CARD
    path.write_bytes(path.read_bytes()[:40])
    run = mbport("diff", a, b, "--exit-code")
    assert run.code == 1 and run.out == "", run.out
    assert f"{LINE_CARD}: not valid JSON" in run.err and "Traceback" not in run.err
    assert [line for line in run.err.splitlines() if line.startswith("Error:")] == [
        f"Error: {b}: 1 problem(s) in the tree; nothing was compared"]
    events = [json.loads(line) for line in mbport("--json", "diff", b, a).out.splitlines()]
    assert [e["type"] for e in events] == ["error", "summary"] and events[-1]["exit_code"] == 1


def test_an_import_onto_a_mapped_database_has_no_differences(exported, instances, tmp_path):
    """After `import --map-database`, the target's database stands for the tree's: diff maps it back by itself
    (from the import state), and --map-database says it when there is no state."""
    from mbport.emulator.sample_db import build_from_script
    from mbport.emulator.seeds.sample import WAREHOUSE_SCRIPT

    tree = tmp_path / "tree"
    shutil.copytree(exported, tree)
    target = instances.add("staging")
    staging_db = build_from_script(WAREHOUSE_SCRIPT, tmp_path / "staging.sqlite")
    with target.api() as api:
        db = api.post("/api/database", json={"name": "Warehouse (staging)", "engine": "sqlite",
                                             "details": {"db": str(staging_db)}}).json()
        api.put(f"/api/database/{db['id']}", json={"settings": {"database-enable-actions": True}}).raise_for_status()
    target.emu.wait_idle()
    conn = ["--url", target.url, "--session-token", target.session]
    run = mbport("import", tree, *conn, "--secrets", write_secrets(tmp_path / "secrets.json"), "--with-api-keys",
                 "--map-database", "Shop Warehouse=Warehouse (staging)")
    assert run.code == 0, run.err
    same = mbport("diff", tree, *conn, "--exit-code")
    assert same.code == 0 and same.out == "", same.out
    with target.api() as api:  # real drift on the mapped database's content still shows, under the tree's names
        card = target.card("Orders by status (SQL)")
        api.put(f"/api/card/{card['id']}", json={"display": "bar"}).raise_for_status()
    drift = mbport("diff", tree, *conn, "--exit-code")
    assert drift.code == 4 and drift.out.splitlines() == ["card 'Orders by status (SQL)': visualization: pie → bar"]
    bad = mbport("diff", tree, *conn, "--map-database", "no-equals")
    assert bad.code == 2 and "--map-database 'no-equals'" in bad.err
    # two trees: B's database named otherwise, said with --map-database
    renamed = tmp_path / "renamed"
    shutil.copytree(exported, renamed)
    for path in renamed.rglob("*.json"):
        path.write_text(path.read_text().replace("Shop Warehouse", "Warehouse (staging)"))
    assert mbport("diff", exported, renamed, "--exit-code").code == 4
    mapped = mbport("diff", exported, renamed, "--map-database", "Shop Warehouse=Warehouse (staging)", "--exit-code")
    assert mapped.code == 0 and mapped.out == "", mapped.out


def test_collection_grants_show_the_collection_path_and_trees_without_it_still_work(exported, instances, tmp_path):
    """Each collection grant carries the collection's path beside its ref (a reviewer reads `git diff`); a tree
    without the paths (written before) diffs the same and imports the same grants."""
    grants = json.loads((exported / "collection-permissions/default.json").read_text())["grants"]
    emea = _collection_ref(exported, "EMEA Reports")
    assert [g.get("collection_path") for g in grants if g["collection"] == emea] and all(
        g["collection_path"] == "Company / Sales / EMEA Reports" for g in grants if g["collection"] == emea)
    assert all("collection_path" in g for g in grants if g["collection"] != "root")
    old = tmp_path / "old"
    shutil.copytree(exported, old)
    for path in (old / "collection-permissions").glob("*.json"):
        doc = json.loads(path.read_text())
        for grant in doc["grants"]:
            grant.pop("collection_path", None)
        path.write_bytes(dumps(doc))
    same = mbport("diff", exported, old, "--exit-code")
    assert same.code == 0 and same.out == "", same.out
    target = instances.add("oldgrants")
    conn = ["--url", target.url, "--session-token", target.session]
    run = mbport("import", old, *conn, "--secrets", write_secrets(tmp_path / "secrets.json"), "--with-api-keys")
    assert run.code == 0, run.err
    again = mbport("plan", exported, *conn, "--state", default_state_path(old, target.url), "--with-api-keys",
                   "--detailed-exitcode")
    assert again.code == 0, again.out  # the tree with paths asks for nothing more: the same grants were written


def test_archiving_and_restoring_a_collection_is_no_permission_change(instances, tmp_path):
    """Backups before and after someone archives a collection, and after they restore it: the collection and its
    contents are archived (restored), and no group's grants changed, though Metabase's collection graph leaves an
    archived collection out (api-surface §22); a restored item is no longer said to be in the Trash."""
    source = instances.add("archiving", seed="sample")
    repo = tmp_path / "repo"
    conn = ["--url", source.url, "--session-token", source.session]
    assert mbport("backup", *conn, "--repo", repo).code == 0
    with source.api() as api:
        marketing = next(c for c in api.get("/api/collection").json() if c["name"] == "Marketing")
        api.put(f"/api/collection/{marketing['id']}", json={"archived": True}).raise_for_status()
        assert mbport("backup", *conn, "--repo", repo).code == 0
        api.put(f"/api/collection/{marketing['id']}", json={"archived": False}).raise_for_status()
    assert mbport("backup", *conn, "--repo", repo).code == 0
    archived = lines_of(f"{repo}@HEAD~2", f"{repo}@HEAD~1")
    restored = lines_of(f"{repo}@HEAD~1", f"{repo}@HEAD")
    assert "collection 'Marketing': archived" in archived and "collection 'Marketing': restored from the archive" \
        in restored
    for line in archived + restored:
        assert not line.startswith("collection-permission"), line
        assert "in the Trash" not in line or line in archived, line
    assert "card 'Orders per customer': archived; in the Trash with its collection" in archived
    assert "card 'Orders per customer': restored from the archive" in restored
