"""Seed instances: the `sample` seed builds every resource kind through the API; file seeds and bad seeds."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from mbport.cli import main
from mbport.emulator import Emulator, bootstrap, seeds
from mbport.emulator.seeds.sample import USER_PASSWORD
from tests.conftest import ADMIN_EMAIL, ADMIN_PASSWORD, make_client


@pytest.fixture(scope="module")
def seeded():
    """One emulator with the sample seed (read-only tests share it) and an admin client on it."""
    emu = Emulator()
    session = bootstrap.setup_admin(emu, ADMIN_EMAIL, ADMIN_PASSWORD)
    started = time.monotonic()
    seeds.load(emu, "sample", session)
    seconds = time.monotonic() - started
    with make_client(emu, **{"X-Metabase-Session": session}) as client:
        yield emu, client, seconds


@pytest.fixture(scope="module")
def api(seeded):
    return seeded[1]


def by_name(items: list[dict], name: str) -> dict:
    found = [item for item in items if item["name"] == name]
    assert len(found) == 1, f"{name!r}: {[i['name'] for i in items]}"
    return found[0]


def cards(api, **params) -> list[dict]:
    return api.get("/api/card", params=params).json()


def legacy_query(api, card_id: int) -> dict:
    return api.get(f"/api/card/{card_id}", params={"legacy-mbql": "true"}).json()["dataset_query"]


def test_the_seed_is_fast_and_every_request_was_valid_and_succeeded(seeded):
    emu, _, seconds = seeded
    assert seconds < 5
    assert emu.spec_violations == []
    failed = [entry for entry in emu.request_log if entry[2] >= 400]
    assert failed == []
    assert len(emu.request_log) > 50  # it really went through the API


def test_names_lists_the_builtin_seeds():
    assert "sample" in seeds.names()


def test_settings_were_changed(api):
    assert api.get("/api/setting/site-name").text == "Acme Analytics"
    assert api.get("/api/session/properties").json()["site-name"] == "Acme Analytics"
    settings = {s["key"]: s["value"] for s in api.get("/api/setting").json()}
    assert settings["report-timezone"] == "Europe/Berlin"
    assert settings["humanization-strategy"] == "none"
    assert settings["custom-formatting"]["type/Currency"]["currency"] == "EUR"


def test_users_groups_and_memberships(api):
    everyone = api.get("/api/user", params={"status": "all"}).json()
    assert everyone["total"] == 5
    users = {u["email"]: u for u in everyone["data"]}
    assert users["dave@acme.example"]["is_active"] is False
    assert users["olga@acme.example"]["is_superuser"] is True
    assert api.get("/api/user").json()["total"] == 4
    groups = api.get("/api/permissions/group").json()
    assert sorted(g["name"] for g in groups) == ["Administrators", "All Users", "Analysts", "Sales"]
    memberships = api.get("/api/permissions/membership").json()
    ana = users["ana@acme.example"]["id"]
    ana_groups = {m["group_id"] for m in memberships[str(ana)]}
    assert {by_name(groups, "Analysts")["id"], by_name(groups, "Sales")["id"]} <= ana_groups
    keys = api.get("/api/api-key").json()
    assert [(k["name"], k["group"]["name"]) for k in keys] == [("CI export", "Analysts")]


def test_databases_are_synced_and_carry_a_secret(api):
    dbs = api.get("/api/database").json()["data"]
    assert sorted(d["name"] for d in dbs) == ["Finance", "Sample Database", "Shop Warehouse"]
    assert by_name(dbs, "Sample Database")["is_sample"] is True
    assert all(d["initial_sync_status"] == "complete" for d in dbs)
    assert by_name(dbs, "Finance")["details"]["password"] == "**MetabasePass**"
    warehouse = by_name(dbs, "Shop Warehouse")
    assert warehouse["settings"]["database-enable-actions"] is True
    meta = api.get(f"/api/database/{warehouse['id']}/metadata").json()
    assert sorted(t["name"] for t in meta["tables"]) == ["customers", "orders", "products"]


def test_table_and_field_metadata_edits(api):
    sample = by_name(api.get("/api/database").json()["data"], "Sample Database")
    tables = api.get("/api/table").json()
    assert by_name(tables, "reviews")["visibility_type"] == "hidden"
    assert "reviews" not in [t["name"] for t in api.get(f"/api/database/{sample['id']}/metadata").json()["tables"]]
    orders = next(t for t in tables if t["name"] == "orders" and t["db_id"] != sample["id"])
    assert orders["display_name"] == "Shop Orders" and orders["description"]
    fields = {f["name"]: f for f in api.get(f"/api/table/{orders['id']}/query_metadata").json()["fields"]}
    product_id = api.get(f"/api/field/{fields['product_id']['id']}").json()
    target = api.get(f"/api/field/{product_id['fk_target_field_id']}").json()
    assert product_id["semantic_type"] == "type/FK" and target["name"] == "id"
    [remap] = product_id["dimensions"]
    assert remap["type"] == "external"
    assert api.get(f"/api/field/{remap['human_readable_field_id']}").json()["name"] == "title"
    people = next(t for t in tables if t["name"] == "people")
    people_fields = api.get(f"/api/table/{people['id']}/query_metadata").json()["fields"]
    assert by_name(people_fields, "source")["semantic_type"] == "type/Source"


def test_collections_nest_three_levels_with_a_snippet_folder_a_personal_item_and_the_trash(api):
    listed = api.get("/api/collection").json()
    company, sales, emea = (by_name(listed, n) for n in ("Company", "Sales", "EMEA Reports"))
    assert sales["location"] == f"/{company['id']}/"
    assert emea["location"] == f"/{company['id']}/{sales['id']}/"
    assert "Old Experiments" not in [c["name"] for c in listed]
    archived = api.get("/api/collection", params={"archived": "true"}).json()
    assert "Old Experiments" in [c["name"] for c in archived]
    folders = api.get("/api/collection", params={"namespace": "snippets"}).json()
    folder = by_name(folders, "Shared SQL")
    snippets = api.get("/api/native-query-snippet").json()
    assert sorted(s["name"] for s in snippets) == ["Recent orders", "Valid orders"]
    assert {s["collection_id"] for s in snippets} == {folder["id"]}
    personal_id = api.get("/api/user/current").json()["personal_collection_id"]
    items = api.get(f"/api/collection/{personal_id}/items").json()["data"]
    assert [i["name"] for i in items] == ["My scratch question"]


def test_cards_cover_questions_models_metrics_and_the_trash(api):
    listed = cards(api)
    assert [c["name"] for c in listed if c["type"] == "model"] == ["Shop orders model"]
    assert [c["name"] for c in listed if c["type"] == "metric"] == ["Total revenue"]
    assert len(listed) == 13  # 15 cards, two of them in the Trash
    assert sorted(c["name"] for c in cards(api, f="archived")) == ["Experiment: churn guess", "Old revenue report"]
    model = by_name(listed, "Shop orders model")
    total = by_name(model["result_metadata"], "total")
    assert total["display_name"] == "Order total (EUR)" and total["description"]


def test_mbql_questions_use_joins_expressions_models_metrics_segments_and_measures(api):
    listed = cards(api)
    ids = {c["name"]: c["id"] for c in listed}
    revenue = legacy_query(api, ids["Revenue by product category"])["query"]
    assert revenue["joins"][0]["alias"] == "Products" and revenue["breakout"] and len(revenue["aggregation"]) == 2
    discounted = legacy_query(api, ids["Orders with a discount"])["query"]
    assert "Net total" in discounted["expressions"]
    on_model = legacy_query(api, ids["Orders per customer"])["query"]
    assert on_model["source-table"] == f"card__{ids['Shop orders model']}"
    by_month = legacy_query(api, ids["Revenue by month"])["query"]
    assert by_month["aggregation"][0][0] == "metric" and ids["Total revenue"] in by_month["aggregation"][0]
    segment = by_name(api.get("/api/segment").json(), "Large orders")
    measure = by_name(api.get("/api/measure").json(), "Average discount")
    both = json.dumps(legacy_query(api, ids["Large orders: count and average discount"]))
    assert f'["segment", {segment["id"]}]' in both and f'["measure", {measure["id"]}]' in both


def test_native_questions_reference_a_snippet_a_field_and_a_model(api):
    ids = {c["name"]: c["id"] for c in cards(api)}
    status = legacy_query(api, ids["Orders by status (SQL)"])["native"]
    tags = status["template-tags"]
    snippet = api.get(f"/api/native-query-snippet/{tags['snippet: Valid orders']['snippet-id']}").json()
    assert snippet["name"] == "Valid orders" and "{{snippet: Valid orders}}" in status["query"]
    dimension = tags["ordered_on"]["dimension"]
    assert isinstance(dimension[1], dict)  # 0.61 on: MBQL 5 refs even in the MBQL 4 view (versions.md 0.61)
    field = api.get(f"/api/field/{dimension[2]}").json()
    assert field["name"] == "ordered_on"
    big = legacy_query(api, ids["Big orders (SQL on the model)"])["native"]
    tag_name = f"#{ids['Shop orders model']}-shop-orders-model"
    assert big["template-tags"][tag_name]["card-id"] == ids["Shop orders model"]
    assert "{{" + tag_name + "}}" in big["query"]


def test_visualization_settings_hide_ids_in_keys_refs_and_click_behaviors(api):
    listed = cards(api)
    ids = {c["name"]: c["id"] for c in listed}
    settings = by_name(listed, "Orders with a discount")["visualization_settings"]
    keys = [json.loads(k) for k in settings["column_settings"]]
    assert all(k[0] == "ref" and isinstance(k[1][1], int) for k in keys)
    assert any(isinstance(c["fieldRef"][1], int) for c in settings["table.columns"])
    clicks = [v["click_behavior"] for v in settings["column_settings"].values() if "click_behavior" in v]
    assert clicks[0]["linkType"] == "question" and clicks[0]["targetId"] == ids["Revenue by product category"]
    assert clicks[0]["parameterMapping"]
    timelines = api.get("/api/timeline", params={"include": "events"}).json()
    launches = by_name(timelines, "Product launches")
    assert len(launches["events"]) == 2 and launches["collection_id"] is not None
    month = by_name(listed, "Revenue by month")["visualization_settings"]
    assert month["timeline.selected_timeline_ids"] == [launches["id"]]


def test_sales_dashboard_has_tabs_filters_virtual_cards_series_a_button_and_a_dashboard_question(api):
    dashboards = api.get("/api/dashboard").json()
    sales = api.get(f"/api/dashboard/{by_name(dashboards, 'Sales overview')['id']}").json()
    assert [t["name"] for t in sorted(sales["tabs"], key=lambda t: t["position"])] == ["Overview", "Warehouse"]
    params = {p["slug"]: p for p in sales["parameters"]}
    assert params["vendor"]["filteringParameters"] == [params["category"]["id"]]
    source_card = api.get(f"/api/card/{params['category']['values_source_config']['card_id']}").json()
    assert source_card["name"] == "Product categories"
    dashcards = sales["dashcards"]
    virtual = sorted(dc["visualization_settings"]["virtual_card"]["display"] for dc in dashcards
                     if dc["card_id"] is None)
    assert virtual == ["heading", "link", "link", "text"]
    links = {dc["visualization_settings"]["link"]["entity"]["model"] for dc in dashcards
             if "link" in dc["visualization_settings"]}
    assert links == {"card", "dashboard"}
    mapped = [dc for dc in dashcards if any(m["parameter_id"] == params["category"]["id"]
                                             for m in dc["parameter_mappings"])]
    assert len(mapped) >= 3
    assert [s["name"] for dc in dashcards for s in dc["series"]] == ["Orders by month"]
    button = next(dc for dc in dashcards if dc.get("action_id"))
    action = api.get(f"/api/action/{button['action_id']}").json()
    assert action["type"] == "implicit" and action["model_id"] == button["card_id"]
    question = next(dc for dc in dashcards if dc["card"] and dc["card"].get("dashboard_id") == sales["id"])
    assert question["card"]["name"] == "Pending orders"
    assert question["dashboard_tab_id"] == max(sales["tabs"], key=lambda t: t["position"])["id"]
    clicks = [dc["visualization_settings"]["click_behavior"] for dc in dashcards
              if "click_behavior" in dc["visualization_settings"]]
    assert clicks[0]["linkType"] == "dashboard" and clicks[0]["targetId"] == by_name(dashboards, "Customer insights")["id"]


def test_customer_dashboard_clicks_through_to_a_tab_of_the_sales_dashboard(api):
    dashboards = api.get("/api/dashboard").json()
    sales = api.get(f"/api/dashboard/{by_name(dashboards, 'Sales overview')['id']}").json()
    customers = api.get(f"/api/dashboard/{by_name(dashboards, 'Customer insights')['id']}").json()
    assert customers["tabs"] == []
    click = next(dc["visualization_settings"]["click_behavior"] for dc in customers["dashcards"]
                 if "click_behavior" in dc["visualization_settings"])
    assert click["targetId"] == sales["id"] and click["tabId"] in {t["id"] for t in sales["tabs"]}
    assert set(click["parameterMapping"]) <= {p["id"] for p in sales["parameters"]}


def test_subscription_points_at_real_dashcards_and_the_alert_at_a_card(api):
    dashboards = api.get("/api/dashboard").json()
    sales = api.get(f"/api/dashboard/{by_name(dashboards, 'Sales overview')['id']}").json()
    dashcard_ids = {dc["id"] for dc in sales["dashcards"]}
    pulse = by_name(api.get("/api/pulse").json(), "Weekly sales overview")
    assert pulse["dashboard_id"] == sales["id"]
    assert pulse["cards"] and {c["dashboard_card_id"] for c in pulse["cards"]} <= dashcard_ids
    recipients = pulse["channels"][0]["recipients"]
    assert {"email": "cfo@partner.example"} in recipients
    assert "ana@acme.example" in [r["email"] for r in recipients if "id" in r]
    assert "dave@acme.example" not in [r["email"] for r in recipients]  # deactivated after subscribing
    alerts = api.get("/api/notification", params={"payload_type": "notification/card"}).json()
    assert len(alerts) == 1
    card = api.get(f"/api/card/{alerts[0]['payload']['card_id']}").json()
    assert card["name"] == "Revenue by month"
    recipient_types = {r["type"] for r in alerts[0]["handlers"][0]["recipients"]}
    assert recipient_types == {"notification-recipient/user", "notification-recipient/raw-value"}


def test_both_permission_graphs_differ_from_the_defaults(api):
    groups = {g["name"]: str(g["id"]) for g in api.get("/api/permissions/group").json()}
    dbs = {d["name"]: str(d["id"]) for d in api.get("/api/database").json()["data"]}
    data = api.get("/api/permissions/graph").json()["groups"]
    assert "create-queries" not in data[groups["All Users"]][dbs["Shop Warehouse"]]
    assert data[groups["Analysts"]][dbs["Shop Warehouse"]]["create-queries"] == "query-builder-and-native"
    assert isinstance(data[groups["Sales"]][dbs["Shop Warehouse"]]["create-queries"], dict)  # per table
    listed = {c["name"]: str(c["id"]) for c in api.get("/api/collection").json()}
    graph = api.get("/api/collection/graph").json()["groups"]
    assert graph[groups["Analysts"]][listed["Company"]] == "write"
    assert graph[groups["All Users"]]["root"] == "read"
    assert listed["Marketing"] not in graph[groups["All Users"]]
    assert graph[groups["Sales"]][listed["Sales"]] == "write"
    folder = str(by_name(api.get("/api/collection", params={"namespace": "snippets"}).json(), "Shared SQL")["id"])
    snippet_graph = api.get("/api/collection/graph", params={"namespace": "snippets"}).json()["groups"]
    assert snippet_graph[groups["Analysts"]][folder] == "write"
    assert folder not in snippet_graph[groups["All Users"]]


# ---------------------------------------------------------------- file seeds and bad seeds

SEED_FILE = '''
"""A tiny seed: one collection, created through the API."""
from mbport.emulator.seeds import ok


def load(api):
    ok(api.post("/api/collection", json={"name": "From a file seed"}))
'''


def test_seeded_users_log_in_with_the_seed_password_unless_deactivated(seeded):
    emu = seeded[0]
    ana = make_client(emu).post("/api/session", json={"username": "ana@acme.example", "password": USER_PASSWORD})
    assert ana.status_code == 200
    dave = make_client(emu).post("/api/session", json={"username": "dave@acme.example", "password": USER_PASSWORD})
    assert dave.status_code == 401


def test_fixtures_instances_links_to_the_builtin_seeds_which_also_load_as_files(emulator, admin_session):
    link = Path(__file__).resolve().parents[2] / "fixtures" / "instances"
    assert link.is_symlink() and (link / "sample.py").resolve() == Path(seeds.__file__).parent / "sample.py"
    seeds.load(emulator, str(link / "sample.py"), admin_session)
    client = make_client(emulator, **{"X-Metabase-Session": admin_session})
    assert len(client.get("/api/dashboard").json()) == 2


def test_a_file_seed_runs_through_the_api(tmp_path, emulator, admin_session):
    path = tmp_path / "my_seed.py"
    path.write_text(SEED_FILE)
    seeds.load(emulator, str(path), admin_session)
    client = make_client(emulator, **{"X-Metabase-Session": admin_session})
    assert "From a file seed" in [c["name"] for c in client.get("/api/collection").json()]


def test_a_seed_without_a_session_sets_up_an_admin(emulator, tmp_path):
    path = tmp_path / "seed.py"
    path.write_text(SEED_FILE)
    seeds.load(emulator, str(path))
    assert make_client(emulator).get("/api/session/properties").json()["has-user-setup"] is True


def test_a_missing_seed_or_one_without_load_is_a_clear_error(tmp_path, emulator, admin_session):
    with pytest.raises(seeds.SeedError, match=r"'nope\.py' is neither a built-in seed \(current, enterprise, handmade, sample\) nor an existing file"):
        seeds.load(emulator, "nope.py", admin_session)
    empty = tmp_path / "empty.py"
    empty.write_text("VALUE = 1\n")
    with pytest.raises(seeds.SeedError, match="has no load"):
        seeds.load(emulator, str(empty), admin_session)


@pytest.mark.allow_invalid_requests
def test_a_failing_seed_request_names_the_request(tmp_path, emulator, admin_session):
    path = tmp_path / "bad.py"
    path.write_text("from mbport.emulator.seeds import ok\n\ndef load(api):\n"
                    "    ok(api.post('/api/collection', json={}))\n")
    with pytest.raises(seeds.SeedError, match=r"POST /api/collection failed: 400"):
        seeds.load(emulator, str(path), admin_session)


def test_cli_reports_a_bad_seed_in_one_line(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["emulator", "serve", "--port", "0", "--seed", str(tmp_path / "missing.py")])
    assert exit_info.value.code == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("Error: seed ") and "missing.py" in err[0]


def test_the_current_seed_needs_a_current_enterprise_emulator():
    old = Emulator("0.63", premium_features="all")
    with pytest.raises(seeds.SeedError, match=r"seed current needs a Metabase 0\.65 Enterprise emulator.*v1\.63\.2"):
        seeds.load(old, "current", bootstrap.setup_admin(old, "admin@example.com", "Passw0rd-x1!"))
    new = Emulator("0.65", premium_features="all")
    session = bootstrap.setup_admin(new, "admin@example.com", "Passw0rd-x1!")
    seeds.load(new, "current", session)
    names = {c["name"] for c in make_client(new, **{"X-Metabase-Session": session}).get("/api/card").json()}
    assert {"Orders by product", "Big orders"} <= names
