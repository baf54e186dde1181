"""The `sample` seed: a realistic instance with every resource kind and every place where ids hide, built via HTTP."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx

# Absolute imports, so `--seed fixtures/instances/sample.py` (a file seed) works too.
from mbport.emulator.seeds import SeedError, ok, server_version, wait_for_sync

# Every seeded user (ana, sam, olga (an admin), dave (deactivated) @acme.example) logs in with this password.
USER_PASSWORD = "Seed-passw0rd!"
FINANCE_DB_PASSWORD = "s3cret-finance-pw"
# Values that must never appear in an export, a state file or a log (tests scan for them).
SECRETS = (USER_PASSWORD, FINANCE_DB_PASSWORD)
WAREHOUSE_SCRIPT = Path(__file__).resolve().parents[1] / "warehouses" / "warehouse_a.sql"
# Its model actions run on a SQLite warehouse, which Metabase's SQLite driver cannot hold: seeds.load turns on
# the emulator's sqlite_actions switch (Emulator.sqlite_actions) before building it.
SQLITE_ACTIONS = True

# Fixed ids for dashboard parameters and template tags, so the seed is the same on every run.
P_CATEGORY, P_DATE, P_VENDOR, P_PLAN = "c7a1e0f1", "d4b2c3a8", "a9f3b5e2", "e8c6d1b4"
TAG_ORDERED_ON, TAG_MODEL, TAG_SNIPPET = (
    "8d0e5a36-1f6e-4c1b-9f5e-3a2b7c6d1e01", "8d0e5a36-1f6e-4c1b-9f5e-3a2b7c6d1e02",
    "8d0e5a36-1f6e-4c1b-9f5e-3a2b7c6d1e03")


def load(api: httpx.Client) -> None:
    """Build the whole instance; each step takes the ids the earlier ones returned."""
    ids: dict[str, Any] = {"version": server_version(api)}
    _settings(api)
    _people(api, ids)
    _databases(api, ids)
    _metadata(api, ids)
    _collections(api, ids)
    _snippets(api, ids)
    _timeline(api, ids)
    _segment_and_measure(api, ids)
    _cards(api, ids)
    _action(api, ids)
    _dashboards(api, ids)
    _subscription_and_alert(api, ids)
    _permissions(api, ids)
    _archive(api, ids)
    ok(api.post("/api/api-key", json={"name": "CI export", "group_id": ids["group:Analysts"]}))
    # Last, so the deactivated user was a real recipient before (deactivation drops subscriptions' recipients).
    ok(api.delete(f"/api/user/{ids['user:dave']}"))


# ---------------------------------------------------------------- settings, people, groups

def _settings(api: httpx.Client) -> None:
    ok(api.put("/api/setting", json={
        "site-name": "Acme Analytics",
        "report-timezone": "Europe/Berlin",
        "humanization-strategy": "none",
        "custom-formatting": {
            "type/Currency": {"currency": "EUR", "currency_style": "symbol"},
            "type/Temporal": {"date_style": "D MMMM, YYYY", "time_style": "HH:mm"},
        },
    }))


def _people(api: httpx.Client, ids: dict) -> None:
    for name in ("Analysts", "Sales"):
        ids[f"group:{name}"] = ok(api.post("/api/permissions/group", json={"name": name}))["id"]
    groups = {g["name"]: g["id"] for g in ok(api.get("/api/permissions/group"))}
    ids["group:Administrators"], ids["group:All Users"] = groups["Administrators"], groups["All Users"]
    people = [
        ("ana", "Ana", "Analyst", [ids["group:Analysts"]]),
        ("sam", "Sam", "Seller", [ids["group:Sales"]]),
        ("olga", "Olga", "Operator", [ids["group:Administrators"]]),
        ("dave", "Dave", "Departed", [ids["group:Sales"]]),
    ]
    for key, first, last, groups_of_user in people:
        user = ok(api.post("/api/user", json={
            "email": f"{key}@acme.example", "first_name": first, "last_name": last,
            "password": USER_PASSWORD,
            # Like the frontend: the complete set, All Users included (leaving it out is a 400).
            "user_group_memberships": [{"id": g} for g in [ids["group:All Users"], *groups_of_user]],
        }))
        ids[f"user:{key}"] = user["id"]
    # A second membership through the membership endpoint (Ana also sells).
    ok(api.post("/api/permissions/membership", json={"group_id": ids["group:Sales"], "user_id": ids["user:ana"]}))
    ids["user:admin"] = ok(api.get("/api/user/current"))["id"]


# ---------------------------------------------------------------- databases and their metadata

def _databases(api: httpx.Client, ids: dict) -> None:
    from mbport.emulator.sample_db import build_from_script, cache_dir

    ids["db:sample"] = ok(api.post("/api/database/sample_database"))["id"]
    if not WAREHOUSE_SCRIPT.is_file():
        raise SeedError(f"seed sample needs {WAREHOUSE_SCRIPT} (run from a source checkout of mbport)")
    warehouse = build_from_script(WAREHOUSE_SCRIPT, cache_dir() / "seed-warehouse-a.sqlite")
    ids["db:warehouse"] = ok(api.post("/api/database", json={
        "name": "Shop Warehouse", "engine": "sqlite", "details": {"db": str(warehouse)},
        "schedules": {"metadata_sync": {"schedule_type": "daily", "schedule_hour": 3}},
    }))["id"]
    ids["db:finance"] = ok(api.post("/api/database", json={
        "name": "Finance", "engine": "postgres",
        "details": {"host": "finance-db.internal", "port": 5432, "dbname": "finance", "user": "metabase",
                    "password": FINANCE_DB_PASSWORD, "ssl": True},
    }))["id"]
    for key in ("db:warehouse", "db:finance"):
        wait_for_sync(api, ids[key], "sample")
    # Actions run against the warehouse (model actions need the database setting).
    ok(api.put(f"/api/database/{ids['db:warehouse']}", json={"settings": {"database-enable-actions": True}}))


def _metadata(api: httpx.Client, ids: dict) -> None:
    """Record table and field ids as `t:<db>.<table>` / `f:<db>.<table>.<field>`, then edit the metadata."""
    for db in ("sample", "warehouse"):
        meta = ok(api.get(f"/api/database/{ids['db:' + db]}/metadata", params={"include_hidden": "true"}))
        for table in meta["tables"]:
            ids[f"t:{db}.{table['name']}"] = table["id"]
            for field in table["fields"]:
                ids[f"f:{db}.{table['name']}.{field['name']}"] = field["id"]
    f = ids
    ok(api.put(f"/api/table/{f['t:warehouse.orders']}", json={
        "display_name": "Shop Orders", "description": "One row per order placed in the web shop."}))
    ok(api.put(f"/api/table/{f['t:sample.reviews']}", json={"visibility_type": "hidden"}))
    ok(api.put(f"/api/field/{f['f:sample.orders.total']}", json={
        "display_name": "Order Total", "description": "Subtotal plus tax, minus discount."}))
    ok(api.put(f"/api/field/{f['f:sample.people.source']}", json={"semantic_type": "type/Source"}))
    ok(api.put(f"/api/field/{f['f:sample.people.password']}", json={"visibility_type": "sensitive"}))
    ok(api.put(f"/api/field/{f['f:warehouse.orders.product_id']}", json={
        "semantic_type": "type/FK", "fk_target_field_id": f["f:warehouse.products.id"]}))
    ok(api.post(f"/api/field/{f['f:warehouse.orders.product_id']}/dimension", json={
        "name": "Product", "type": "external", "human_readable_field_id": f["f:warehouse.products.title"]}))


# ---------------------------------------------------------------- collections, snippets, timeline

def _collections(api: httpx.Client, ids: dict) -> None:
    def create(key: str, name: str, parent: str | None = None, **extra: Any) -> None:
        body = {"name": name, "parent_id": ids[parent] if parent else None, **extra}
        ids[key] = ok(api.post("/api/collection", json=body))["id"]

    create("c:company", "Company", description="Everything the whole company looks at.")
    create("c:sales", "Sales", "c:company")
    create("c:emea", "EMEA Reports", "c:sales")
    create("c:marketing", "Marketing")
    create("c:old", "Old Experiments")
    create("c:snippets", "Shared SQL", namespace="snippets")
    ids["c:personal"] = ok(api.get("/api/user/current"))["personal_collection_id"]


def _snippets(api: httpx.Client, ids: dict) -> None:
    ids["s:valid"] = ok(api.post("/api/native-query-snippet", json={
        "name": "Valid orders", "content": "status <> 'cancelled'", "description": "Orders that count as revenue.",
        "collection_id": ids["c:snippets"]}))["id"]
    ids["s:recent"] = ok(api.post("/api/native-query-snippet", json={
        "name": "Recent orders", "content": "ordered_on >= date('now', '-90 days')",
        "collection_id": ids["c:snippets"]}))["id"]


def _timeline(api: httpx.Client, ids: dict) -> None:
    ids["tl:launches"] = ok(api.post("/api/timeline", json={
        "name": "Product launches", "description": "Launch dates of product lines.", "collection_id": ids["c:sales"],
        "icon": "star"}))["id"]
    for name, timestamp in (("Gizmo launch", "2023-03-01T00:00:00Z"), ("Widget 2.0", "2024-02-15T00:00:00Z")):
        ok(api.post("/api/timeline-event", json={
            "timeline_id": ids["tl:launches"], "name": name, "timestamp": timestamp, "timezone": "Europe/Berlin",
            "time_matters": False, "icon": "cake"}))


def _segment_and_measure(api: httpx.Client, ids: dict) -> None:
    orders, f = ids["t:sample.orders"], ids
    ids["seg:large"] = ok(api.post("/api/segment", json={
        "name": "Large orders", "table_id": orders, "description": "Orders over 100.",
        "definition": {"source-table": orders, "filter": [">", ["field", f["f:sample.orders.total"], None], 100]},
    }))["id"]
    discount = {"name": "Average discount", "table_id": orders,
                "definition": {"source-table": orders,
                               "aggregation": [["avg", ["field", f["f:sample.orders.discount"], None]]]}}
    if ids["version"] >= (59, 0):
        ids["measure:discount"] = ok(api.post("/api/measure", json=discount))["id"]
    elif ids["version"] < (51, 0):
        # Before 0.51 the same saved aggregation is a legacy metric (what 0.59's measures took over), and a legacy
        # metric of the revenue that "Revenue by month" aggregates with (0.50 has no metric cards on a table query).
        ids["legacy:discount"] = ok(api.post("/api/legacy-metric", json=discount))["id"]
        ids["legacy:revenue"] = ok(api.post("/api/legacy-metric", json={
            "name": "Revenue", "table_id": orders, "description": "Sum of order totals.",
            "definition": {"source-table": orders,
                           "aggregation": [["sum", ["field", f["f:sample.orders.total"], None]]]}}))["id"]


# ---------------------------------------------------------------- cards

def _saved_aggregation(ids: dict, name: str) -> list[list]:
    """The measure (>= 0.59) or legacy metric (<= 0.50) of that name as an aggregation; none in between."""
    if f"measure:{name}" in ids:
        return [["measure", ids[f"measure:{name}"]]]
    return [["metric", ids[f"legacy:{name}"]]] if f"legacy:{name}" in ids else []


def _mbql(db: int, **query: Any) -> dict:
    return {"database": db, "type": "query", "query": query}


def _col_key(field_id: int) -> str:
    """A column_settings key as the frontend writes it: a JSON-encoded field ref."""
    return json.dumps(["ref", ["field", field_id, None]], separators=(",", ":"))


def _card(api: httpx.Client, ids: dict, key: str, name: str, query: dict, display: str = "table", **extra: Any) -> int:
    body = {"name": name, "display": display, "dataset_query": query, "visualization_settings": {}, **extra}
    ids[key] = ok(api.post("/api/card", json=body))["id"]
    return ids[key]


def _cards(api: httpx.Client, ids: dict) -> None:
    f, sample, wh = ids, ids["db:sample"], ids["db:warehouse"]
    orders, products = ids["t:sample.orders"], ids["t:sample.products"]
    category = ["field", f["f:sample.products.category"], {"join-alias": "Products"}]

    _card(api, ids, "card:categories", "Product categories", _mbql(
        sample, **{"source-table": products, "breakout": [["field", f["f:sample.products.category"], None]]}),
        collection_id=ids["c:company"], description="Feeds the Category filter's values.")
    _card(api, ids, "card:revenue_by_category", "Revenue by product category", _mbql(sample, **{
        "source-table": orders,
        "joins": [{"alias": "Products", "source-table": products, "fields": "all", "strategy": "left-join",
                   "condition": ["=", ["field", f["f:sample.orders.product_id"], None],
                                 ["field", f["f:sample.products.id"], {"join-alias": "Products"}]]}],
        "filter": [">", ["field", f["f:sample.orders.quantity"], None], 0],
        "aggregation": [["sum", ["field", f["f:sample.orders.total"], None]], ["count"]],
        "breakout": [category],
        "order-by": [["desc", ["aggregation", 0]]],
    }), display="bar", collection_id=ids["c:sales"], visualization_settings={
        "graph.dimensions": ["CATEGORY"], "graph.metrics": ["sum", "count"],
        "series_settings": {"sum": {"title": "Revenue"}},
    })
    # A click-through to a question filters it on a column; the target is a field ref, keyed by its JSON.
    product_target = ["dimension", ["field", f["f:sample.orders.id"], None]]
    product_target_id = json.dumps(product_target, separators=(",", ":"))
    _card(api, ids, "card:discounted", "Orders with a discount", _mbql(sample, **{
        "source-table": orders,
        "filter": ["and", ["not-null", ["field", f["f:sample.orders.discount"], None]],
                   ["segment", ids["seg:large"]]],
        "expressions": {"Net total": ["-", ["field", f["f:sample.orders.total"], None],
                                      ["field", f["f:sample.orders.discount"], None]]},
        "fields": [["field", f["f:sample.orders.id"], None], ["field", f["f:sample.orders.total"], None],
                   ["field", f["f:sample.orders.discount"], None], ["expression", "Net total"]],
    }), collection_id=ids["c:emea"], visualization_settings={
        "table.columns": [
            {"name": "ID", "fieldRef": ["field", f["f:sample.orders.id"], None], "enabled": True},
            {"name": "TOTAL", "fieldRef": ["field", f["f:sample.orders.total"], None], "enabled": True},
            {"name": "DISCOUNT", "fieldRef": ["field", f["f:sample.orders.discount"], None], "enabled": False},
            {"name": "Net total", "fieldRef": ["expression", "Net total"], "enabled": True},
        ],
        "column_settings": {
            _col_key(f["f:sample.orders.total"]): {"number_style": "currency", "currency": "EUR"},
            _col_key(f["f:sample.orders.id"]): {"click_behavior": {
                "type": "link", "linkType": "question", "targetId": ids["card:revenue_by_category"],
                "parameterMapping": {product_target_id: {
                    "id": product_target_id, "source": {"type": "column", "id": "ID", "name": "ID"},
                    "target": {"type": "dimension", "id": product_target_id, "dimension": product_target}}}}},
        },
    })

    # A model on the warehouse with hand-edited column metadata, and questions built on it.
    model_query = _mbql(wh, **{"source-table": ids["t:warehouse.orders"]})
    _card(api, ids, "card:orders_model", "Shop orders model", model_query, type="model",
          collection_id=ids["c:sales"], result_metadata=_result_metadata(api, ids["t:warehouse.orders"]))
    edited = _result_metadata(api, ids["t:warehouse.orders"])
    for column in edited:
        if column["name"] == "total":
            column.update(display_name="Order total (EUR)", description="Gross order value in euros.")
    ok(api.put(f"/api/card/{ids['card:orders_model']}", json={"result_metadata": edited}))
    _card(api, ids, "card:per_customer", "Orders per customer", _mbql(wh, **{
        "source-table": f"card__{ids['card:orders_model']}",
        "aggregation": [["count"]],
        "breakout": [["field", f["f:warehouse.orders.customer_id"], None]],
    }), display="bar", collection_id=ids["c:marketing"])

    # A metric, and a question that aggregates with it.
    _card(api, ids, "card:revenue_metric", "Total revenue", _mbql(sample, **{
        "source-table": orders, "aggregation": [["sum", ["field", f["f:sample.orders.total"], None]]],
    }), display="scalar", type="metric", collection_id=ids["c:company"])
    by_month = ["field", f["f:sample.orders.created_at"], {"temporal-unit": "month"}]
    _card(api, ids, "card:revenue_by_month", "Revenue by month", _mbql(sample, **{
        "source-table": orders, "aggregation": [["metric", ids.get("legacy:revenue", ids["card:revenue_metric"])]],
        "breakout": [by_month],
    }), display="line", collection_id=ids["c:sales"], visualization_settings={
        "timeline.selected_timeline_ids": [ids["tl:launches"]], "graph.show_values": True})
    _card(api, ids, "card:orders_by_month", "Orders by month", _mbql(sample, **{
        "source-table": orders, "aggregation": [["count"]], "breakout": [by_month]}),
        display="line", collection_id=ids["c:sales"])
    _card(api, ids, "card:large_discount", "Large orders: count and average discount", _mbql(sample, **{
        "source-table": orders, "filter": ["segment", ids["seg:large"]],
        "aggregation": [["count"], *_saved_aggregation(ids, "discount")],
    }), display="table", collection_id=ids["c:marketing"])

    # Native questions: a snippet tag, a field filter, and a card reference.
    _card(api, ids, "card:sql_status", "Orders by status (SQL)", {
        "database": wh, "type": "native", "native": {
            "query": "SELECT status, count(*) AS orders FROM orders\n"
                     "WHERE {{snippet: Valid orders}} AND {{ordered_on}}\nGROUP BY status",
            "template-tags": {
                "snippet: Valid orders": {"id": TAG_SNIPPET, "name": "snippet: Valid orders",
                                          "display-name": "Snippet: Valid orders", "type": "snippet",
                                          "snippet-name": "Valid orders", "snippet-id": ids["s:valid"]},
                "ordered_on": {"id": TAG_ORDERED_ON, "name": "ordered_on", "display-name": "Ordered on",
                               "type": "dimension", "widget-type": "date/all-options",
                               "dimension": ["field", f["f:warehouse.orders.ordered_on"], None]},
            }}}, display="pie", collection_id=ids["c:emea"], parameters=[
        {"id": TAG_ORDERED_ON, "type": "date/all-options", "name": "Ordered on", "slug": "ordered_on",
         "target": ["dimension", ["template-tag", "ordered_on"]]}])
    model_tag = f"#{ids['card:orders_model']}-shop-orders-model"
    _card(api, ids, "card:sql_big", "Big orders (SQL on the model)", {
        "database": wh, "type": "native", "native": {
            "query": f"SELECT * FROM {{{{{model_tag}}}}} AS o WHERE o.total > 10",
            "template-tags": {model_tag: {"id": TAG_MODEL, "name": model_tag, "display-name": model_tag.title(),
                                          "type": "card", "card-id": ids["card:orders_model"]}},
        }}, collection_id=ids["c:marketing"])

    _card(api, ids, "card:scratch", "My scratch question", _mbql(sample, **{"source-table": products}),
          collection_id=ids["c:personal"])
    _card(api, ids, "card:old_revenue", "Old revenue report", _mbql(sample, **{
        "source-table": orders, "aggregation": [["sum", ["field", f["f:sample.orders.subtotal"], None]]]}),
        display="scalar", collection_id=ids["c:sales"])
    _card(api, ids, "card:experiment", "Experiment: churn guess", _mbql(sample, **{
        "source-table": ids["t:sample.people"]}), collection_id=ids["c:old"])


def _result_metadata(api: httpx.Client, table_id: int) -> list[dict]:
    fields = ok(api.get(f"/api/table/{table_id}/query_metadata"))["fields"]
    return [{"name": fd["name"], "display_name": fd["display_name"], "description": fd.get("description"),
             "base_type": fd["base_type"], "effective_type": fd.get("effective_type") or fd["base_type"],
             "semantic_type": fd.get("semantic_type"), "id": fd["id"], "field_ref": ["field", fd["id"], None],
             "fingerprint": fd.get("fingerprint")} for fd in sorted(fields, key=lambda fd: fd["position"])]


def _action(api: httpx.Client, ids: dict) -> None:
    ids["action:update"] = ok(api.post("/api/action", json={
        "name": "Update order", "type": "implicit", "kind": "row/update", "model_id": ids["card:orders_model"],
        "description": "Edit an order in place."}))["id"]


# ---------------------------------------------------------------- dashboards

def _virtual(display: str, **settings: Any) -> dict:
    return {"virtual_card": {"name": None, "display": display, "visualization_settings": {}, "dataset_query": {},
                             "archived": False}, **settings}


def _dashboards(api: httpx.Client, ids: dict) -> None:
    f = ids
    ids["dash:sales"] = ok(api.post("/api/dashboard", json={
        "name": "Sales overview", "collection_id": ids["c:sales"], "description": "Weekly sales review."}))["id"]
    ids["dash:customers"] = ok(api.post("/api/dashboard", json={
        "name": "Customer insights", "collection_id": ids["c:marketing"]}))["id"]

    # The customer dashboard: no tabs, a filter, a click-through to the sales dashboard's second tab.
    customers = ok(api.put(f"/api/dashboard/{ids['dash:customers']}", json={
        "parameters": [{"id": P_PLAN, "name": "Plan", "slug": "plan", "type": "string/=", "sectionId": "string"}],
        "tabs": [],
        "dashcards": [
            {"id": -1, "card_id": ids["card:per_customer"], "row": 0, "col": 0, "size_x": 12, "size_y": 6,
             "parameter_mappings": [{"parameter_id": P_PLAN, "card_id": ids["card:per_customer"],
                                     "target": ["dimension", ["field", f["f:warehouse.customers.plan"],
                                                              {"source-field": f["f:warehouse.orders.customer_id"]}]]}],
             "visualization_settings": {}},
            {"id": -2, "card_id": ids["card:large_discount"], "row": 0, "col": 12, "size_x": 12, "size_y": 6,
             "visualization_settings": {}},
            {"id": -3, "card_id": None, "row": 6, "col": 0, "size_x": 24, "size_y": 2,
             "visualization_settings": _virtual("text", text="Customers of the **web shop**, by plan.")},
        ],
    }))
    ids["dashcard:per_customer"] = next(dc["id"] for dc in customers["dashcards"]
                                        if dc["card_id"] == ids["card:per_customer"])

    # The sales dashboard: two tabs, linked and card-sourced filters, series, text/heading/link cards, a button.
    category_target = ["dimension", ["field", f["f:sample.products.category"], {"join-alias": "Products"}]]
    via_product = {"source-field": f["f:sample.orders.product_id"]}
    date_target = ["dimension", ["field", f["f:sample.orders.created_at"], None]]
    parameters = [
        {"id": P_CATEGORY, "name": "Category", "slug": "category", "type": "string/=", "sectionId": "string",
         "values_query_type": "list", "values_source_type": "card",
         "values_source_config": {"card_id": ids["card:categories"],
                                  "value_field": ["field", f["f:sample.products.category"], None]}},
        {"id": P_VENDOR, "name": "Vendor", "slug": "vendor", "type": "string/=", "sectionId": "string",
         "filteringParameters": [P_CATEGORY]},
        {"id": P_DATE, "name": "Date", "slug": "date", "type": "date/all-options", "sectionId": "date",
         "default": "past12months~"},
    ]
    click_to_customers = {"type": "link", "linkType": "dashboard", "targetId": ids["dash:customers"],
                          "parameterMapping": {P_PLAN: {"id": P_PLAN, "source": {"type": "column", "id": "CATEGORY",
                                                                                 "name": "Category"},
                                                        "target": {"type": "parameter", "id": P_PLAN}}}}
    dashcards = [
        {"id": -1, "card_id": None, "dashboard_tab_id": -1, "row": 0, "col": 0, "size_x": 24, "size_y": 1,
         "visualization_settings": _virtual("heading", text="Revenue")},
        {"id": -2, "card_id": ids["card:revenue_by_category"], "dashboard_tab_id": -1, "row": 1, "col": 0,
         "size_x": 12, "size_y": 6, "parameter_mappings": [
             {"parameter_id": P_CATEGORY, "card_id": ids["card:revenue_by_category"], "target": category_target},
             {"parameter_id": P_VENDOR, "card_id": ids["card:revenue_by_category"],
              "target": ["dimension", ["field", f["f:sample.products.vendor"], {"join-alias": "Products"}]]},
             {"parameter_id": P_DATE, "card_id": ids["card:revenue_by_category"], "target": date_target}],
         "visualization_settings": {"click_behavior": click_to_customers, "card.title": "Revenue per category"}},
        {"id": -3, "card_id": ids["card:revenue_by_month"], "dashboard_tab_id": -1, "row": 1, "col": 12,
         "size_x": 12, "size_y": 6, "series": [{"id": ids["card:orders_by_month"]}], "parameter_mappings": [
             {"parameter_id": P_DATE, "card_id": ids["card:revenue_by_month"], "target": date_target},
             {"parameter_id": P_CATEGORY, "card_id": ids["card:revenue_by_month"],
              "target": ["dimension", ["field", f["f:sample.products.category"], via_product]]}],
         "visualization_settings": {}},
        {"id": -4, "card_id": ids["card:discounted"], "dashboard_tab_id": -1, "row": 7, "col": 0,
         "size_x": 16, "size_y": 6, "parameter_mappings": [
             {"parameter_id": P_CATEGORY, "card_id": ids["card:discounted"],
              "target": ["dimension", ["field", f["f:sample.products.category"], via_product]]}],
         "visualization_settings": {"column_settings": {
             _col_key(f["f:sample.orders.total"]): {"currency": "USD"}}}},
        {"id": -5, "card_id": None, "dashboard_tab_id": -1, "row": 7, "col": 16, "size_x": 8, "size_y": 2,
         "visualization_settings": _virtual("link", link={"entity": {
             "id": ids["card:revenue_by_category"], "model": "card", "name": "Revenue by product category",
             "display": "bar"}})},
        {"id": -6, "card_id": None, "dashboard_tab_id": -1, "row": 9, "col": 16, "size_x": 8, "size_y": 2,
         "visualization_settings": _virtual("link", link={"entity": {
             "id": ids["dash:customers"], "model": "dashboard", "name": "Customer insights"}})},
        {"id": -7, "card_id": None, "dashboard_tab_id": -2, "row": 0, "col": 0, "size_x": 24, "size_y": 2,
         "visualization_settings": _virtual("text", text="Orders from the **shop warehouse**.")},
        {"id": -8, "card_id": ids["card:sql_status"], "dashboard_tab_id": -2, "row": 2, "col": 0,
         "size_x": 12, "size_y": 6, "parameter_mappings": [
             {"parameter_id": P_DATE, "card_id": ids["card:sql_status"],
              "target": ["dimension", ["template-tag", "ordered_on"]]}],
         "visualization_settings": {}},
        {"id": -9, "card_id": ids["card:orders_model"], "action_id": ids["action:update"], "dashboard_tab_id": -2,
         "row": 2, "col": 12, "size_x": 4, "size_y": 1, "parameter_mappings": [],
         "visualization_settings": _virtual("action", **{"button.label": "Update an order",
                                                           "actionDisplayType": "button"})},
    ]
    sales = ok(api.put(f"/api/dashboard/{ids['dash:sales']}", json={
        "parameters": parameters, "tabs": [{"id": -1, "name": "Overview"}, {"id": -2, "name": "Warehouse"}],
        "dashcards": dashcards}))
    tabs = sorted(sales["tabs"], key=lambda t: t["position"])
    ids["tab:overview"], ids["tab:warehouse"] = tabs[0]["id"], tabs[1]["id"]
    ids["dashcard:revenue_by_category"] = next(dc["id"] for dc in sales["dashcards"]
                                               if dc["card_id"] == ids["card:revenue_by_category"])

    # Click-through from the customer dashboard back to the sales dashboard's second tab (a dashboard cycle).
    click_to_sales = {"type": "link", "linkType": "dashboard", "targetId": ids["dash:sales"],
                      "tabId": ids["tab:warehouse"],
                      "parameterMapping": {P_DATE: {"id": P_DATE, "source": {"type": "column", "id": "count",
                                                                             "name": "Count"},
                                                    "target": {"type": "parameter", "id": P_DATE}}}}
    current = ok(api.get(f"/api/dashboard/{ids['dash:customers']}"))
    ok(api.put(f"/api/dashboard/{ids['dash:customers']}", json={
        "tabs": [],
        "dashcards": [_kept(dc, click_to_sales if dc["id"] == ids["dashcard:per_customer"] else None)
                      for dc in current["dashcards"]]}))

    # A dashboard question: saved inside the sales dashboard, auto-placed on its second tab. Before 0.53 the same
    # question is saved in the dashboard's collection and placed on that tab by hand.
    pending = _mbql(ids["db:warehouse"], **{"source-table": ids["t:warehouse.orders"],
                                            "filter": ["=", ["field", f["f:warehouse.orders.status"], None], "pending"]})
    if ids["version"] >= (53, 0):
        _card(api, ids, "card:dashboard_question", "Pending orders", pending,
              dashboard_id=ids["dash:sales"], dashboard_tab_id=ids["tab:warehouse"])
    else:
        current = ok(api.get(f"/api/dashboard/{ids['dash:sales']}"))
        card_id = _card(api, ids, "card:dashboard_question", "Pending orders", pending,
                        collection_id=current["collection_id"])
        below = max((dc["row"] + dc["size_y"] for dc in current["dashcards"]
                     if dc["dashboard_tab_id"] == ids["tab:warehouse"]), default=0)  # under the tab's cards
        ok(api.put(f"/api/dashboard/{ids['dash:sales']}", json={
            "tabs": [{"id": t["id"], "name": t["name"]} for t in current["tabs"]],
            "dashcards": [*(_kept(dc, None) for dc in current["dashcards"]),
                          {"id": -1, "card_id": card_id, "dashboard_tab_id": ids["tab:warehouse"],
                           "row": below, "col": 0, "size_x": 12, "size_y": 6}]}))


def _kept(dc: dict, click_behavior: dict | None) -> dict:
    """An existing dashcard as a PUT item (only the keys Metabase updates), optionally with a click behaviour."""
    keys = ("id", "card_id", "action_id", "dashboard_tab_id", "row", "col", "size_x", "size_y",
            "parameter_mappings", "visualization_settings")
    item = {k: dc.get(k) for k in keys}
    item["series"] = [{"id": s["id"]} for s in dc.get("series") or []]
    if click_behavior is not None:
        item["visualization_settings"] = {**(item["visualization_settings"] or {}), "click_behavior": click_behavior}
    return item


# ---------------------------------------------------------------- subscriptions and alerts

def _subscription_and_alert(api: httpx.Client, ids: dict) -> None:
    # Like the UI: every dashcard that shows a question, the dashboard question included.
    dashcards = [(dc["card_id"], dc["id"]) for dc in ok(api.get(f"/api/dashboard/{ids['dash:sales']}"))["dashcards"]
                 if dc["card_id"] is not None and dc.get("action_id") is None]
    ok(api.post("/api/pulse", json={
        "name": "Weekly sales overview", "dashboard_id": ids["dash:sales"], "skip_if_empty": True,
        "cards": [{"id": card_id, "include_csv": card_id == ids["card:revenue_by_category"], "include_xls": False,
                   "dashboard_card_id": dashcard_id} for card_id, dashcard_id in dashcards],
        "channels": [{"channel_type": "email", "enabled": True, "schedule_type": "weekly", "schedule_hour": 8,
                      "schedule_day": "mon",
                      "recipients": [{"id": ids["user:ana"]}, {"id": ids["user:dave"]},
                                     {"email": "cfo@partner.example"}]}],
        "parameters": [{"id": P_CATEGORY, "name": "Category", "slug": "category", "type": "string/=",
                        "value": ["Gadget"]}],
    }))
    if ids["version"] < (54, 0):
        # Before 0.54 the same alert on /api/alert, in the pulse shape (api/alert.clj POST /).
        ok(api.post("/api/alert", json={
            "alert_condition": "rows", "alert_first_only": False, "alert_above_goal": None,
            "card": {"id": ids["card:revenue_by_month"], "include_csv": False, "include_xls": False},
            "channels": [{"channel_type": "email", "enabled": True, "schedule_type": "weekly", "schedule_hour": 9,
                          "schedule_day": "mon", "recipients": [{"id": ids["user:sam"]},
                                                                {"email": "sales-team@acme.example"}]}]}))
        return
    ok(api.post("/api/notification", json={
        "payload_type": "notification/card",
        "payload": {"card_id": ids["card:revenue_by_month"], "send_condition": "has_result", "send_once": False},
        "subscriptions": [{"type": "notification-subscription/cron", "cron_schedule": "0 0 9 ? * MON *",
                           "ui_display_type": "cron/builder"}],
        "handlers": [{"channel_type": "channel/email", "recipients": [
            {"type": "notification-recipient/user", "user_id": ids["user:sam"]},
            {"type": "notification-recipient/raw-value", "details": {"value": "sales-team@acme.example"}}]}],
    }))


# ---------------------------------------------------------------- permissions

def _permissions(api: httpx.Client, ids: dict) -> None:
    analysts, sales, everyone = ids["group:Analysts"], ids["group:Sales"], ids["group:All Users"]
    sample, wh, finance = ids["db:sample"], ids["db:warehouse"], ids["db:finance"]
    graph = ok(api.get("/api/permissions/graph"))
    ok(api.put("/api/permissions/graph", json={"revision": graph["revision"], "groups": {
        str(everyone): {str(wh): {"create-queries": "no"}, str(finance): {"create-queries": "no"}},
        str(analysts): {str(wh): {"view-data": "unrestricted", "create-queries": "query-builder-and-native"},
                        str(finance): {"view-data": "unrestricted", "create-queries": "query-builder"}},
        str(sales): {str(sample): {"view-data": "unrestricted", "create-queries": "query-builder"},
                     str(wh): {"view-data": "unrestricted", "create-queries": {
                         "": {str(ids["t:warehouse.orders"]): "query-builder",
                              str(ids["t:warehouse.customers"]): "no",
                              str(ids["t:warehouse.products"]): "query-builder"}}}},
    }}))
    collections = ok(api.get("/api/collection/graph"))
    ok(api.put("/api/collection/graph", json={"revision": collections["revision"], "groups": {
        # New collections inherit their parent's grants, so All Users must lose Sales and EMEA explicitly.
        str(everyone): {"root": "read", str(ids["c:company"]): "read", str(ids["c:sales"]): "none",
                        str(ids["c:emea"]): "none", str(ids["c:marketing"]): "none"},
        str(analysts): {"root": "write", str(ids["c:company"]): "write", str(ids["c:sales"]): "write",
                        str(ids["c:emea"]): "write", str(ids["c:marketing"]): "write"},
        str(sales): {str(ids["c:company"]): "read", str(ids["c:sales"]): "write", str(ids["c:emea"]): "read"},
    }}))
    snippets = ok(api.get("/api/collection/graph", params={"namespace": "snippets"}))
    ok(api.put("/api/collection/graph", json={"namespace": "snippets", "revision": snippets["revision"], "groups": {
        str(everyone): {"root": "read", str(ids["c:snippets"]): "none"},
        str(analysts): {"root": "write", str(ids["c:snippets"]): "write"},
    }}))


# ---------------------------------------------------------------- the Trash

def _archive(api: httpx.Client, ids: dict) -> None:
    ok(api.put(f"/api/card/{ids['card:old_revenue']}", json={"archived": True}))
    ok(api.put(f"/api/collection/{ids['c:old']}", json={"archived": True}))
