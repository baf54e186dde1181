"""`mbport verify` on a migrated pair: the report, its exit codes, and one change per kind made on the target
behind mbport's back, each reported as exactly one difference in an admin's words."""

from __future__ import annotations

import json

from tests.verify.conftest import differences, migrated_onto_own_warehouse, verify


def test_report_exit_codes_and_json(migrated):
    source, target, state = migrated
    run = verify(source, target)
    assert run.code == 0, run.err
    assert "cards: 14 paired" in run.out and "rows of cards:" in run.out
    print(run.out)
    with_exit = verify(source, target, "--exit-code")
    assert with_exit.code == (4 if differences(run) else 0)
    as_json = verify(source, target, "--json", "--no-queries")
    events = [json.loads(line) for line in as_json.out.splitlines()]
    assert events[-1]["type"] == "summary" and events[-1]["verify"]["kinds"]["cards"]["paired"] == 14
    found = [e for e in events if e["type"] == "difference"]
    assert len(found) == len(differences(verify(source, target, "--no-queries")))


def changed_behind_mbports_back(migrated, change) -> tuple[set[str], object]:
    """The differences verify reports after `change(target_api)` that it did not report before, and the run."""
    source, target, _ = migrated
    before = verify(source, target)
    assert before.code == 0, before.err
    with target.api() as api:
        change(api)
    target.emu.wait_idle()
    after = verify(source, target, "--exit-code")
    assert after.code == 4, after.err
    return differences(after) - differences(before), after


def by_name(api, path: str, name: str, **params) -> dict:
    rows = api.get(path, params=params).json()
    rows = rows["data"] if isinstance(rows, dict) else rows
    return next(r for r in rows if r.get("name") == name)


def dashboard(api, name: str) -> dict:
    return api.get(f"/api/dashboard/{by_name(api, '/api/dashboard', name)['id']}").json()


def put_dashcards(api, dash: dict, edit) -> None:
    keep = ("id", "card_id", "dashboard_tab_id", "row", "col", "size_x", "size_y", "parameter_mappings",
            "visualization_settings", "series", "action_id", "inline_parameters")
    cards = [{k: dc.get(k) for k in keep if k in dc} for dc in dash["dashcards"]]
    for dc in cards:
        dc["series"] = [{"id": s["id"]} for s in dc.get("series") or []]
        edit(dc)
    api.put(f"/api/dashboard/{dash['id']}", json={"dashcards": cards, "tabs": dash["tabs"]}).raise_for_status()


def test_a_card_field(migrated):
    def change(api):
        card = by_name(api, "/api/card", "Revenue by month", f="all")
        api.put(f"/api/card/{card['id']}", json={"display": "bar"}).raise_for_status()

    new, _ = changed_behind_mbports_back(migrated, change)
    assert new == {"card 'Revenue by month': visualization: line → bar"}


def test_a_dashcard_filter_mapping(migrated):
    def change(api):
        put_dashcards(api, dashboard(api, "Customer insights"), lambda dc: dc.update(parameter_mappings=[]))

    new, _ = changed_behind_mbports_back(migrated, change)
    assert len(new) == 1, new
    (line,) = new
    assert line.startswith("dashboard 'Customer insights': dashcard card 'Orders per customer' at row 0, col 0: "
                           "filter mappings: "), line
    assert line.endswith(" missing on target") and "parameter_id" in line


def test_a_click_behaviour(migrated):
    def change(api):
        def drop(dc):
            if "click_behavior" in (dc.get("visualization_settings") or {}):
                dc["visualization_settings"] = {**dc["visualization_settings"], "click_behavior": {"type": "crossfilter"}}

        put_dashcards(api, dashboard(api, "Customer insights"), drop)

    new, _ = changed_behind_mbports_back(migrated, change)
    prefix = "dashboard 'Customer insights': dashcard card 'Orders per customer' at row 0, col 0: " \
             "visualization settings.click behaviour."
    assert new and all(line.startswith(prefix) for line in new), new
    assert f"{prefix}type: link → crossfilter" in new


def test_a_data_permission(migrated):
    def change(api):
        graph = api.get("/api/permissions/graph").json()
        group = by_name(api, "/api/permissions/group", "Sales")["id"]
        db = by_name(api, "/api/database", "Shop Warehouse")["id"]
        graph["groups"][str(group)][str(db)]["create-queries"] = "no"
        api.put("/api/permissions/graph", json={"revision": graph["revision"], "groups": {
            str(group): graph["groups"][str(group)]}}).raise_for_status()

    new, _ = changed_behind_mbports_back(migrated, change)
    assert len(new) == 1, new
    (line,) = new
    assert line.startswith("data permissions of group 'Sales': database 'Shop Warehouse': create-queries: ")
    assert line.endswith("missing on target"), line  # Metabase leaves "no" out of the graph


def test_a_membership(migrated):
    def change(api):
        sales = by_name(api, "/api/permissions/group", "Sales")["id"]
        memberships = api.get("/api/permissions/membership").json()
        ana = next(u for u in api.get("/api/user").json()["data"] if u["email"] == "ana@acme.example")
        row = next(m for m in memberships[str(ana["id"])] if m["group_id"] == sales)
        api.delete(f"/api/permissions/membership/{row['membership_id']}").raise_for_status()

    new, _ = changed_behind_mbports_back(migrated, change)
    assert new == {"group 'Sales': members: user 'ana@acme.example' missing on target"}, new


def test_a_cache_policy_is_named_by_what_it_caches(migrated):
    """Cache policies are keyed by text (`root:0`, `question:12`): their differences still carry their names."""
    def change(api):
        api.put("/api/cache", json={"model": "root", "model_id": 0, "strategy": {
            "type": "ttl", "multiplier": 5, "min_duration_ms": 1000}}).raise_for_status()

    new, _ = changed_behind_mbports_back(migrated, change)
    assert new == {"cache policy 'default' only in target"}, new  # the source never set one


def test_a_remapping(migrated):
    def change(api):
        db = by_name(api, "/api/database", "Shop Warehouse")["id"]
        tables = {t["name"]: t["id"] for t in api.get("/api/table").json() if t["db_id"] == db}
        fields = {(t, f["name"]): f["id"] for t in ("orders", "customers")
                  for f in api.get(f"/api/table/{tables[t]}/query_metadata").json()["fields"]}
        api.post(f"/api/field/{fields['orders', 'customer_id']}/dimension", json={
            "type": "external", "name": "Customer", "human_readable_field_id": fields["customers", "name"]}
        ).raise_for_status()

    new, _ = changed_behind_mbports_back(migrated, change)
    assert len(new) == 1, new
    (line,) = new
    assert line.startswith("field 'Shop Warehouse.orders.customer_id': remapping: ") and line.endswith("only on target")
    assert "field 'customers.name'" in line


def test_an_alert_recipient(migrated):
    def change(api):
        alert = next(n for n in api.get("/api/notification").json() if n["payload_type"] == "notification/card")
        handler = alert["handlers"][0]
        handler["recipients"] = handler["recipients"][:-1]
        api.put(f"/api/notification/{alert['id']}", json=alert).raise_for_status()

    new, _ = changed_behind_mbports_back(migrated, change)
    assert len(new) == 1, new
    (line,) = new
    assert line.startswith("alert 'on card 'Revenue by month'': channels[channel/email].recipients: ") \
        and line.endswith("missing on target"), line


def test_a_warehouse_row(monkeypatch, tmp_path):
    """A target on its own copy of the warehouse (--map-database), one order deleted there: every question on that
    table now differs in its rows, and nothing else does."""
    import sqlite3

    source, target, db, mapping = migrated_onto_own_warehouse(monkeypatch, tmp_path)
    before = verify(source, target, *mapping)
    assert before.code == 0, before.err
    assert "database 'Shop Warehouse'" not in before.out  # mapped: paired with Warehouse B, not a difference
    with sqlite3.connect(db["details"]["db"]) as conn:
        conn.execute("DELETE FROM orders WHERE id = (SELECT max(id) FROM orders)")
    after = verify(source, target, *mapping, "--exit-code")
    assert after.code == 4
    new = differences(after) - differences(before)
    assert "card 'Shop orders model': 4 rows vs 3" in new, new
    assert all(" rows vs " in line or "different values" in line for line in new), new


def test_the_database_mapping_of_the_migration_is_read_from_its_state(monkeypatch, tmp_path):
    """verify after a migrate with --map-database, without saying it again: the state remembers it, so the target's
    own warehouse stands for the source's and nothing differs for it."""
    source, target, _, mapping = migrated_onto_own_warehouse(monkeypatch, tmp_path)
    told, remembered = verify(source, target, *mapping), verify(source, target)
    assert remembered.code == 0, remembered.err
    assert "Shop Warehouse" not in remembered.out and "Warehouse B" not in remembered.out, remembered.out
    assert differences(remembered) == differences(told)


def test_a_group_only_on_the_target_is_named_plainly_with_its_permissions(migrated):
    new, _ = changed_behind_mbports_back(
        migrated, lambda api: api.post("/api/permissions/group", json={"name": "Prod Ops"}).raise_for_status())
    assert {"group 'Prod Ops' only in target", "data permissions of group 'Prod Ops' only in target"} <= new, new


def test_migrate_verify_reports_at_the_end_and_bad_input_is_one_line(migrated, tmp_path):
    from tests.e2e.instances import mbport, write_secrets

    source, target, state = migrated
    run = mbport("migrate", "--from", source.url, "--from-session-token", source.session, "--to", target.url,
                 "--to-session-token", target.session, "--secrets", write_secrets(tmp_path / "s2.json"), "--verify",
                 "--no-queries")
    assert "cards: 15 paired" in run.out and "rows of cards" not in run.out
    assert run.code == (4 if differences(run) else 0), run.err
    restore = mbport("restore", "--repo", tmp_path / "nothing", "--ref", "HEAD", "--url", target.url,
                     "--session-token", target.session, "--verify")
    errors = [line for line in restore.err.splitlines() if line.startswith("Error:")]
    assert restore.code == 2 and len(errors) == 1 and "--from" in errors[0], restore.err
    unknown = verify(source, target, "--kinds", "cards,nonsense")
    assert unknown.code == 2 and "unknown kind 'nonsense'" in unknown.err
    missing = verify(source, target, "--state", str(tmp_path / "no-such-state.json"))
    assert missing.code == 2 and "no such state file" in missing.err


def test_json_events_mode(migrated):
    """`mbport --json verify`: one `difference` event per difference, then the summary with the counts."""
    from tests.e2e.instances import mbport

    source, target, _ = migrated
    run = mbport("--json", "verify", "--from", source.url, "--from-session-token", source.session, "--to", target.url,
                 "--to-session-token", target.session, "--no-queries", "--exit-code")
    events = [json.loads(line) for line in run.out.splitlines()]
    found = [e for e in events if e["type"] == "difference"]
    summary = events[-1]
    assert summary["type"] == "summary" and summary["verify"]["kinds"]["cards"]["paired"] == 14
    assert summary["verify"]["differences"] == len(found) and run.code == (4 if found else 0)
    assert all(e["message"].startswith(e["name"]) for e in found)


def test_restore_verify_compares_with_the_live_source(monkeypatch, tmp_path):
    """`restore --verify --from LIVE`: a snapshot restored into a fresh instance equals its source (exit 0, the
    summary printed); once the source changed after the snapshot, the restore reports exactly that change, exit 4."""
    from tests.e2e.instances import mbport, routed_instances, write_secrets

    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    instances = routed_instances(monkeypatch)
    source = instances.add("live", seed="sample")
    repo = tmp_path / "backups"
    backup = mbport("backup", "--url", source.url, "--session-token", source.session, "--repo", repo)
    assert backup.code == 0, backup.err
    secrets = write_secrets(tmp_path / "secrets.json")

    def restore(target, state: str, *more: str):
        return mbport("restore", "--repo", repo, "--ref", "HEAD", "--url", target.url, "--session-token",
                      target.session, "--secrets", secrets, "--state", tmp_path / state, "--verify",
                      "--from", source.url, "--from-session-token", source.session, *more)

    same = restore(instances.add("fresh"), "fresh.json", "--with-api-keys")
    assert same.code == 0, same.out
    assert "cards: 14 paired, 14 equal" in same.out and "rows of cards:" in same.out, same.out
    assert "api-keys: 1 paired, 1 equal" in same.out and differences(same) == set(), same.out

    # Without --with-api-keys the restore leaves the API key out on purpose: verify says so instead of reporting
    # the key and its group memberships as missing.
    keyless = restore(instances.add("keyless"), "keyless.json", "--no-queries")
    assert keyless.code == 0 and differences(keyless) == set(), keyless.out
    assert "api-keys: not compared: API keys are recreated only with --with-api-keys" in keyless.out, keyless.out
    assert "memberships: 4 paired, 4 equal" in keyless.out, keyless.out

    card = source.card("Revenue by month")
    with source.api() as api:
        api.put(f"/api/card/{card['id']}", json={"display": "bar"}).raise_for_status()
    changed = restore(instances.add("second"), "second.json", "--with-api-keys")
    assert changed.code == 4, changed.err
    assert differences(changed) == {"card 'Revenue by month': visualization: bar → line"}, changed.out
    # A selective restore is verified on what it restored (the card and what it needed), not the whole instance,
    # whose other objects the fresh target lacks on purpose.
    one = restore(instances.add("selective"), "selective.json", "--select", "card:Revenue by month", "--no-queries")
    assert one.code == 4, one.err
    assert differences(one) == {"card 'Revenue by month': visualization: bar → line"}, one.out
    assert "cards: 2 paired, 1 equal, 1 differ" in one.out and "dashboards:" not in one.out, one.out  # and Total revenue, which it uses


def test_select_compares_only_the_selected_objects_and_runs_only_their_queries(migrated):
    """`verify --select` reads a selection as plan and import do (KIND:NAME, entity id, address; a collection brings
    its contents, a dashboard its questions and subscriptions): a change elsewhere is not reported."""
    source, target, _ = migrated
    with target.api() as api:
        for name, display in (("Revenue by month", "bar"), ("Orders per customer", "pie")):
            card = by_name(api, "/api/card", name, f="all")
            api.put(f"/api/card/{card['id']}", json={"display": display}).raise_for_status()
    one = verify(source, target, "--select", "card:Revenue by month", "--exit-code")
    assert one.code == 4, one.err
    assert differences(one) == {"card 'Revenue by month': visualization: line → bar"}, one.out
    assert "cards: 1 paired, 0 equal, 1 differ" in one.out and "rows of cards: 1 paired" in one.out, one.out
    assert "dashboards:" not in one.out and "rows of dashcards" not in one.out
    with source.api() as api:
        card = by_name(api, "/api/card", "Revenue by month", f="all")
        sales = api.get(f"/api/collection/{card['collection_id']}").json()
    by_id = verify(source, target, "--select", card["entity_id"], "--no-queries")
    assert differences(by_id) == differences(one) and "rows of" not in by_id.out
    contents = verify(source, target, "--select", f"collection:{sales['name']}", "--no-queries")
    with source.api() as api:
        inside = {c["id"] for c in api.get("/api/collection").json() if isinstance(c["id"], int)
                  and (c["id"] == sales["id"] or f"/{sales['id']}/" in c["location"])}
        cards = [c for c in api.get("/api/card", params={"f": "all"}).json() if c["collection_id"] in inside]
    assert 1 < len(cards) < 14 and f"collections: {len(inside)} paired" in contents.out, contents.out
    assert f"cards: {len(cards)} paired" in contents.out, contents.out  # the sub-collections' cards too
    assert differences(contents) == differences(one)  # 'Orders per customer' is not in it
    nothing = verify(source, target, "--select", "card:No such card")
    assert nothing.code == 2 and "No such card" in nothing.err and "Traceback" not in nothing.err
