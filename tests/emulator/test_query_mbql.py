"""MBQL queries run on a SQLite warehouse like Metabase runs them: each construct's rows are checked against the same
rows computed in Python, MBQL 4 and MBQL 5 give the same answer, and the columns are shaped like Metabase's."""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict

import pytest

from mbport import mbql
from mbport.emulator import sample_db

TODAY = dt.date.today()
CUSTOMERS = [(1, "Ada", "ada@example.com"), (2, "Grace", None), (3, "alan", "")]
PRODUCTS = [(1, "Widget", "Tools", 9.5), (2, "Gadget", "Tools", 24.0), (3, "Gizmo", "Toys", 3.25)]
# id, customer, product, quantity, total, status, ordered_on
ORDERS = [
    (1, 1, 1, 2, 19.0, "shipped", "2024-01-07"),
    (2, 1, 3, 1, 3.25, "shipped", "2024-01-31"),
    (3, 2, 2, 1, 24.0, "pending", "2024-02-14"),
    (4, 3, 1, 4, 38.0, "cancelled", "2024-04-09"),
    (5, 2, None, 3, None, None, "2024-04-10"),
    (6, 3, 2, 2, 48.0, "Shipped", "2025-07-04"),
]
EVENTS = [(1, (TODAY - dt.timedelta(days=1)).isoformat()), (2, (TODAY - dt.timedelta(days=10)).isoformat()),
          (3, (TODAY - dt.timedelta(days=100)).isoformat()), (4, TODAY.isoformat()),
          (5, (TODAY + dt.timedelta(days=3)).isoformat())]


def _values(rows) -> str:
    return ", ".join("(" + ", ".join("NULL" if v is None else repr(v) for v in row) + ")" for row in rows)


SCRIPT = f"""
CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT NOT NULL, email TEXT);
CREATE TABLE products (id INTEGER PRIMARY KEY, title TEXT NOT NULL, category TEXT, price REAL);
CREATE TABLE orders (id INTEGER PRIMARY KEY, customer_id INTEGER REFERENCES customers(id),
  product_id INTEGER REFERENCES products(id), quantity INTEGER, total REAL, status TEXT, ordered_on DATE);
CREATE TABLE events (id INTEGER PRIMARY KEY, happened_on DATE);
INSERT INTO customers VALUES {_values(CUSTOMERS)};
INSERT INTO products VALUES {_values(PRODUCTS)};
INSERT INTO orders VALUES {_values(ORDERS)};
INSERT INTO events VALUES {_values(EVENTS)};
"""


class Shop:
    """The warehouse as the emulator knows it: database id, table ids and field ids by "table.column"."""

    def __init__(self, admin, db_id: int):
        self.admin, self.db = admin, db_id
        self.t = {t["name"]: t["id"] for t in admin.get("/api/table").json() if t["db_id"] == db_id}
        self.f = {}
        for name, table_id in self.t.items():
            for f in admin.get(f"/api/table/{table_id}/query_metadata").json()["fields"]:
                self.f[f"{name}.{f['name']}"] = f["id"]

    def field(self, name: str, **opts) -> list:
        return ["field", self.f[name], opts or None]

    def query(self, **inner) -> dict:
        return {"database": self.db, "type": "query", "query": inner}

    def run(self, query: dict, path: str = "/api/dataset", **body) -> dict:
        out = self.admin.post(path, json={**query, **body} if path == "/api/dataset" else body).json()
        assert out["status"] == "completed", out.get("error")
        return out

    def rows(self, **inner) -> list[list]:
        """The rows of an MBQL 4 query, checked to equal those of the same query in MBQL 5."""
        q4 = self.query(**inner)
        rows4 = self.run(q4)["data"]["rows"]
        rows5 = self.run(mbql.to_mbql5(q4))["data"]["rows"]
        assert rows4 == rows5
        return rows4


@pytest.fixture
def shop(admin, emulator, tmp_path) -> Shop:
    path = sample_db.build_from_script(SCRIPT, tmp_path / "shop.sqlite")
    db = admin.post("/api/database", json={"name": "Shop", "engine": "sqlite", "details": {"db": str(path)}}).json()
    emulator.wait_idle()
    return Shop(admin, db["id"])


def test_count_and_sum_by_a_column(shop):
    body = shop.run(shop.query(**{"source-table": shop.t["orders"], "aggregation": [["count"], ["sum", shop.field(
        "orders.total")]], "breakout": [shop.field("orders.status")]}))
    by_status: dict = defaultdict(lambda: [0, None])
    for o in ORDERS:
        by_status[o[5]][0] += 1
        if o[4] is not None:
            by_status[o[5]][1] = (by_status[o[5]][1] or 0) + o[4]
    expected = sorted(([s, c, t] for s, (c, t) in by_status.items()), key=lambda r: (r[0] is not None, r[0] or ""))
    assert body["data"]["rows"] == expected
    cols = body["data"]["cols"]
    assert [(c["name"], c["display_name"], c["source"]) for c in cols] == [
        ("status", "Status", "breakout"), ("count", "Count", "aggregation"), ("sum", "Sum of Total", "aggregation")]
    assert cols[0]["field_ref"] == ["field", shop.f["orders.status"], None] and cols[0]["id"] == shop.f["orders.status"]
    assert cols[1]["field_ref"] == ["aggregation", 0] and cols[1]["base_type"] == "type/Integer"
    assert cols[2]["base_type"] == "type/Float" and cols[1]["semantic_type"] == "type/Quantity"
    assert body["data"]["results_metadata"]["columns"][2]["display_name"] == "Sum of Total"
    five = shop.run(mbql.to_mbql5(shop.query(**{"source-table": shop.t["orders"], "aggregation": [["count"], [
        "sum", shop.field("orders.total")]], "breakout": [shop.field("orders.status")]})))
    assert [(c["name"], c["display_name"], c["source"]) for c in five["data"]["cols"]] == \
        [(c["name"], c["display_name"], c["source"]) for c in cols]


def _ids(pred) -> list[list[int]]:
    return [[o[0]] for o in ORDERS if pred(o)]


FILTERS = {
    "=": (lambda s: ["=", s.field("orders.status"), "shipped"], lambda o: o[5] == "shipped"),
    "= several": (lambda s: ["=", s.field("orders.status"), "shipped", "pending"], lambda o: o[5] in ("shipped",
                                                                                                       "pending")),
    "!= keeps nulls": (lambda s: ["!=", s.field("orders.status"), "shipped"], lambda o: o[5] != "shipped"),
    "<": (lambda s: ["<", s.field("orders.total"), 20], lambda o: o[4] is not None and o[4] < 20),
    "between": (lambda s: ["between", s.field("orders.quantity"), 2, 3], lambda o: 2 <= o[3] <= 3),
    "and/or/not": (lambda s: ["or", ["and", [">", s.field("orders.quantity"), 1], ["not", ["=", s.field(
        "orders.status"), "cancelled"]]], ["is-null", s.field("orders.total")]],
        lambda o: (o[3] > 1 and o[5] != "cancelled") or o[4] is None),
    "is-null": (lambda s: ["is-null", s.field("orders.status")], lambda o: o[5] is None),
    "not-null": (lambda s: ["not-null", s.field("orders.total")], lambda o: o[4] is not None),
    "contains (case-sensitive)": (lambda s: ["contains", s.field("orders.status"), "hip"],
                                  lambda o: o[5] is not None and "hip" in o[5]),
    "starts-with, case-insensitive": (lambda s: ["starts-with", s.field("orders.status"), "SHIP",
                                                 {"case-sensitive": False}],
                                      lambda o: o[5] is not None and o[5].lower().startswith("ship")),
    "starts-with is case-sensitive": (lambda s: ["starts-with", s.field("orders.status"), "Ship"],
                                      lambda o: o[5] is not None and o[5].startswith("Ship")),
    "ends-with": (lambda s: ["ends-with", s.field("orders.status"), "ed"], lambda o: (o[5] or "").endswith("ed")),
    "does-not-contain keeps nulls": (lambda s: ["does-not-contain", s.field("orders.status"), "ship"],
                                     lambda o: o[5] is None or "ship" not in o[5]),
    "a date": (lambda s: ["=", s.field("orders.ordered_on"), "2024-01-31"], lambda o: o[6] == "2024-01-31"),
    "a month": (lambda s: ["=", s.field("orders.ordered_on", **{"temporal-unit": "month"}), "2024-04-01"],
                lambda o: o[6].startswith("2024-04")),
    "dates between": (lambda s: ["between", s.field("orders.ordered_on"), "2024-01-31", "2024-04-09"],
                      lambda o: "2024-01-31" <= o[6] <= "2024-04-09"),
    "through an FK": (lambda s: ["=", s.field("products.category", **{"source-field": s.f["orders.product_id"]}),
                                 "Tools"], lambda o: o[2] in (1, 2)),
}


@pytest.mark.parametrize("name", FILTERS)
def test_filters(shop, name):
    clause, pred = FILTERS[name]
    rows = shop.rows(**{"source-table": shop.t["orders"], "fields": [shop.field("orders.id")],
                        "filter": clause(shop), "order-by": [["asc", shop.field("orders.id")]]})
    assert rows == _ids(pred)


def test_empty_and_not_empty(shop):
    def emails(clause):
        return shop.rows(**{"source-table": shop.t["customers"], "fields": [shop.field("customers.id")],
                            "filter": [clause, shop.field("customers.email")]})
    assert emails("is-empty") == [[c[0]] for c in CUSTOMERS if not c[2]]
    assert emails("not-empty") == [[c[0]] for c in CUSTOMERS if c[2]]


def test_time_interval_is_relative_to_today(shop):
    def ids(*clause):
        return [r[0] for r in shop.rows(**{"source-table": shop.t["events"], "fields": [shop.field("events.id")],
                                           "filter": list(clause), "order-by": [["asc", shop.field("events.id")]]})]
    happened = shop.field("events.happened_on")
    days = {i: (dt.date.fromisoformat(d) - TODAY).days for i, d in EVENTS}
    assert ids("time-interval", happened, -30, "day") == [i for i, d in days.items() if -30 <= d < 0]
    assert ids("time-interval", happened, -30, "day", {"include-current": True}) == \
        [i for i, d in days.items() if -30 <= d <= 0]
    assert ids("time-interval", happened, "current", "day") == [i for i, d in days.items() if d == 0]
    assert ids("time-interval", happened, 7, "day") == [i for i, d in days.items() if 1 <= d <= 7]
    assert ids("relative-time-interval", happened, -10, "day", -5, "day") == \
        [i for i, d in days.items() if -15 <= d < -5]


@pytest.mark.parametrize(("unit", "key", "display"), [
    ("month", lambda d: f"{d:%Y-%m}-01T00:00:00Z", "Ordered On: Month"),
    ("year", lambda d: f"{d:%Y}-01-01T00:00:00Z", "Ordered On: Year"),
    ("quarter", lambda d: f"{d.year}-{(d.month - 1) // 3 * 3 + 1:02d}-01T00:00:00Z", "Ordered On: Quarter"),
    ("week", lambda d: f"{d - dt.timedelta(days=(d.weekday() + 1) % 7):%Y-%m-%d}T00:00:00Z", "Ordered On: Week"),
    ("day-of-week", lambda d: (d.weekday() + 1) % 7 + 1, "Ordered On: Day of week"),
    ("month-of-year", lambda d: d.month, "Ordered On: Month of year"),
    ("quarter-of-year", lambda d: (d.month - 1) // 3 + 1, "Ordered On: Quarter of year"),
])
def test_temporal_breakouts(shop, unit, key, display):
    inner = {"source-table": shop.t["orders"], "aggregation": [["count"]],
             "breakout": [shop.field("orders.ordered_on", **{"temporal-unit": unit})]}
    counts = Counter(key(dt.date.fromisoformat(o[6])) for o in ORDERS)
    assert shop.rows(**inner) == [[k, n] for k, n in sorted(counts.items())]
    col = shop.run(shop.query(**inner))["data"]["cols"][0]
    assert col["display_name"] == display and col["unit"] == unit
    assert col["field_ref"] == ["field", shop.f["orders.ordered_on"], {"temporal-unit": unit}]


def test_aggregations(shop):
    totals = [o[4] for o in ORDERS if o[4] is not None]
    rows = shop.rows(**{"source-table": shop.t["orders"], "aggregation": [
        ["distinct", shop.field("orders.customer_id")], ["avg", shop.field("orders.quantity")],
        ["min", shop.field("orders.total")], ["max", shop.field("orders.total")],
        ["count-where", [">", shop.field("orders.quantity"), 1]],
        ["sum-where", shop.field("orders.total"), ["=", shop.field("orders.status"), "shipped"]],
        ["share", ["=", shop.field("orders.status"), "shipped"]],
        ["aggregation-options", ["count"], {"name": "orders", "display-name": "Orders placed"}]]})
    assert rows == [[len({o[1] for o in ORDERS}), sum(o[3] for o in ORDERS) / len(ORDERS), min(totals), max(totals),
                     sum(1 for o in ORDERS if o[3] > 1), sum(o[4] for o in ORDERS if o[5] == "shipped"),
                     sum(1 for o in ORDERS if o[5] == "shipped") / len(ORDERS), len(ORDERS)]]
    cols = shop.run(shop.query(**{"source-table": shop.t["orders"], "aggregation": [
        ["distinct", shop.field("orders.customer_id")], ["avg", shop.field("orders.quantity")],
        ["aggregation-options", ["count"], {"name": "orders", "display-name": "Orders placed"}]]}))["data"]["cols"]
    assert [(c["name"], c["display_name"]) for c in cols] == [
        ("count", "Distinct values of Customer ID"), ("avg", "Average of Quantity"), ("orders", "Orders placed")]


def test_cumulative_aggregations_run_over_the_first_breakout(shop):
    rows = shop.rows(**{"source-table": shop.t["orders"], "aggregation": [["cum-count"], ["cum-sum", shop.field(
        "orders.quantity")]], "breakout": [shop.field("orders.ordered_on", **{"temporal-unit": "year"})]})
    per_year: dict = defaultdict(lambda: [0, 0])
    for o in ORDERS:
        per_year[o[6][:4]][0] += 1
        per_year[o[6][:4]][1] += o[3]
    running, expected = [0, 0], []
    for year in sorted(per_year):
        running = [running[0] + per_year[year][0], running[1] + per_year[year][1]]
        expected.append([f"{year}-01-01T00:00:00Z", *running])
    assert rows == expected


def test_order_by_aggregation_and_limit(shop):
    rows = shop.rows(**{"source-table": shop.t["orders"], "aggregation": [["sum", shop.field("orders.quantity")]],
                        "breakout": [shop.field("orders.customer_id")], "order-by": [["desc", ["aggregation", 0]]],
                        "limit": 2})
    totals = Counter()
    for o in ORDERS:
        totals[o[1]] += o[3]
    assert rows == [[c, n] for c, n in sorted(totals.items(), key=lambda kv: -kv[1])[:2]]


def test_expressions(shop):
    inner = {"source-table": shop.t["orders"], "expressions": {
        "net": ["-", shop.field("orders.total"), 1],
        "each": ["/", shop.field("orders.total"), shop.field("orders.quantity")],
        "label": ["concat", ["upper", shop.field("orders.status")], "-", shop.field("orders.id")],
        "total or zero": ["coalesce", shop.field("orders.total"), 0],
        "size": ["case", [[[">", shop.field("orders.quantity"), 2], "big"]], {"default": "small"}],
        "month": ["get-month", shop.field("orders.ordered_on")],
        "next week": ["datetime-add", shop.field("orders.ordered_on"), 7, "day"]},
        "fields": [shop.field("orders.id"), *(["expression", n] for n in (
            "net", "each", "label", "total or zero", "size", "month", "next week"))],
        "order-by": [["asc", shop.field("orders.id")]]}
    expected = [[o[0], None if o[4] is None else o[4] - 1, None if o[4] is None else o[4] / o[3],
                 f"{(o[5] or '').upper()}-{o[0]}", o[4] or 0, "big" if o[3] > 2 else "small",
                 int(o[6][5:7]), (dt.date.fromisoformat(o[6]) + dt.timedelta(days=7)).isoformat()] for o in ORDERS]
    assert shop.rows(**inner) == expected
    cols = shop.run(shop.query(**inner))["data"]["cols"]
    assert cols[1]["field_ref"] == ["expression", "net"] and cols[1]["display_name"] == "net"
    assert cols[2]["base_type"] == "type/Float" and cols[3]["base_type"] == "type/Text"


def test_explicit_joins(shop):
    join = {"alias": "Products", "source-table": shop.t["products"], "fields": "all",
            "condition": ["=", shop.field("orders.product_id"), shop.field("products.id", **{"join-alias": "Products"})]}
    products = {p[0]: p for p in PRODUCTS}
    rows = shop.rows(**{"source-table": shop.t["orders"], "joins": [join], "fields": [shop.field("orders.id")],
                        "order-by": [["asc", shop.field("orders.id")]]})
    assert rows == [[o[0], *(products[o[2]] if o[2] else (None,) * 4)] for o in ORDERS]
    cols = shop.run(shop.query(**{"source-table": shop.t["orders"], "joins": [join],
                                  "fields": [shop.field("orders.id")]}))["data"]["cols"]
    assert [c["name"] for c in cols] == ["id", "id_2", "title", "category", "price"]
    assert cols[3]["display_name"] == "Products → Category"
    assert cols[3]["field_ref"] == ["field", shop.f["products.category"], {"join-alias": "Products"}]
    inner = shop.rows(**{"source-table": shop.t["orders"], "joins": [{**join, "strategy": "inner-join",
                                                                      "fields": "none"}],
                         "aggregation": [["count"]], "breakout": [shop.field("products.category",
                                                                             **{"join-alias": "Products"})]})
    assert inner == sorted([k, n] for k, n in Counter(products[o[2]][2] for o in ORDERS if o[2]).items())


def test_implicit_join_through_a_foreign_key(shop):
    via = shop.field("products.category", **{"source-field": shop.f["orders.product_id"]})
    body = shop.run(shop.query(**{"source-table": shop.t["orders"], "aggregation": [["count"]], "breakout": [via]}))
    categories = Counter({p[0]: p[2] for p in PRODUCTS}.get(o[2]) for o in ORDERS)
    assert body["data"]["rows"] == sorted(([k, n] for k, n in categories.items()),
                                          key=lambda r: (r[0] is not None, r[0] or ""))
    assert body["data"]["cols"][0]["display_name"] == "Product → Category"


def test_saved_cards_as_sources_and_stages(shop):
    admin = shop.admin
    shipped = admin.post("/api/card", json={"name": "Shipped", "display": "table", "visualization_settings": {},
                                            "dataset_query": shop.query(**{"source-table": shop.t["orders"],
                                                                           "filter": ["!=", shop.field(
                                                                               "orders.status"), "pending"]})}).json()
    native = admin.post("/api/card", json={"name": "SQL orders", "display": "table", "visualization_settings": {},
                                           "dataset_query": {"database": shop.db, "type": "native", "native": {
                                               "query": "SELECT customer_id, total FROM orders"}}}).json()
    kept = [o for o in ORDERS if o[5] != "pending"]
    rows = shop.rows(**{"source-table": f"card__{shipped['id']}", "aggregation": [["count"]],
                        "breakout": [shop.field("orders.customer_id")]})
    assert rows == sorted([k, n] for k, n in Counter(o[1] for o in kept).items())
    rows = shop.rows(**{"source-table": f"card__{native['id']}", "aggregation": [["sum", ["field", "total", {
        "base-type": "type/Float"}]]], "breakout": [["field", "customer_id", {"base-type": "type/Integer"}]]})
    sums: dict = defaultdict(float)
    for o in ORDERS:
        sums[o[1]] += o[4] or 0
    assert rows == [[c, s] for c, s in sorted(sums.items())]
    # a second stage filters on the first stage's count, by name
    staged = {"source-query": {"source-table": shop.t["orders"], "aggregation": [["count"]],
                               "breakout": [shop.field("orders.customer_id")]},
              "filter": [">", ["field", "count", {"base-type": "type/Integer"}], 1]}
    assert shop.rows(**staged) == sorted([c, n] for c, n in Counter(o[1] for o in ORDERS).items() if n > 1)
    # the saved card deleted: the question built on it fails like Metabase's, with a reason
    admin.delete(f"/api/card/{shipped['id']}")
    failed = admin.post("/api/dataset", json=shop.query(**{"source-table": f"card__{shipped['id']}"})).json()
    assert failed["status"] == "failed" and f"Card {shipped['id']}" in failed["error"]


def test_segments_metrics_and_measures(shop):
    admin = shop.admin
    segment = admin.post("/api/segment", json={"name": "Big", "table_id": shop.t["orders"], "definition": {
        "source-table": shop.t["orders"], "filter": [">", shop.field("orders.quantity"), 1]}}).json()
    metric = admin.post("/api/card", json={"name": "Shipped revenue", "type": "metric", "display": "scalar",
                                           "visualization_settings": {}, "dataset_query": shop.query(**{
                                               "source-table": shop.t["orders"], "filter": ["=", shop.field(
                                                   "orders.status"), "shipped"],
                                               "aggregation": [["sum", shop.field("orders.total")]]})}).json()
    body = shop.run(shop.query(**{"source-table": shop.t["orders"], "filter": ["segment", segment["id"]],
                                  "aggregation": [["count"], ["metric", metric["id"]]]}))
    big = [o for o in ORDERS if o[3] > 1]
    assert body["data"]["rows"] == [[len(big), sum(o[4] for o in big if o[5] == "shipped")]]
    assert body["data"]["cols"][1]["display_name"] == "Shipped revenue"
    assert shop.rows(**{"source-table": shop.t["orders"], "filter": ["segment", segment["id"]],
                        "aggregation": [["count"]]}) == [[len(big)]]


def test_unsupported_constructs_fail_like_metabase(shop):
    for clause in (["median", shop.field("orders.total")], ["stddev", shop.field("orders.total")]):
        out = shop.admin.post("/api/dataset", json=shop.query(**{"source-table": shop.t["orders"],
                                                                 "aggregation": [clause]}))
        assert out.status_code == 202 and out.json()["status"] == "failed"
        assert "not supported by sqlite driver" in out.json()["error"]


def test_dashcard_parameters_filter_an_mbql_card_through_its_mappings(shop):
    admin = shop.admin
    card = admin.post("/api/card", json={"name": "Orders by status", "display": "table", "visualization_settings": {},
                                         "dataset_query": shop.query(**{"source-table": shop.t["orders"],
                                                                        "aggregation": [["count"]],
                                                                        "breakout": [shop.field("orders.status")]})}
                      ).json()
    dash = admin.post("/api/dashboard", json={"name": "Shop"}).json()
    params = [{"id": "st", "name": "Status", "slug": "status", "type": "string/=", "default": ["shipped"]},
              {"id": "day", "name": "Day", "slug": "day", "type": "date/all-options"}]
    target = ["dimension", shop.field("orders.status")]
    when = ["dimension", shop.field("orders.ordered_on")]
    admin.put(f"/api/dashboard/{dash['id']}", json={"parameters": params, "dashcards": [
        {"id": -1, "card_id": card["id"], "row": 0, "col": 0, "size_x": 4, "size_y": 4, "parameter_mappings": [
            {"parameter_id": "st", "card_id": card["id"], "target": target},
            {"parameter_id": "day", "card_id": card["id"], "target": when}]}]})
    dashcard = admin.get(f"/api/dashboard/{dash['id']}").json()["dashcards"][0]
    path = f"/api/dashboard/{dash['id']}/dashcard/{dashcard['id']}/card/{card['id']}/query"
    assert shop.run({}, path)["data"]["rows"] == [["shipped", 2]]  # the default applies
    chosen = shop.run({}, path, parameters=[{"id": "st", "value": ["pending", "cancelled"]}])
    assert chosen["data"]["rows"] == [["cancelled", 1], ["pending", 1]]
    january = shop.run({}, path, parameters=[{"id": "day", "value": "2024-01"}])["data"]["rows"]
    assert january == [["shipped", 2]]
    april = shop.run({}, path, parameters=[{"id": "st", "value": None}, {"id": "day",
                                                                       "value": "2024-04-01~2024-04-30"}])
    assert april["data"]["rows"] == [[None, 1], ["cancelled", 1]]


def test_numeric_binning(shop):
    by_width = shop.rows(**{"source-table": shop.t["orders"], "aggregation": [["count"]], "breakout": [shop.field(
        "orders.quantity", binning={"strategy": "bin-width", "bin-width": 2})]})
    assert by_width == sorted([k, n] for k, n in Counter(o[3] // 2 * 2 for o in ORDERS).items())
    body = shop.run(shop.query(**{"source-table": shop.t["orders"], "aggregation": [["count"]], "breakout": [
        shop.field("orders.quantity", binning={"strategy": "num-bins", "num-bins": 4})]}))
    # quantities 1..4 in 4 bins: the raw width (4 - 1) / 4 = 0.75 is already "nice" (7.5 x 0.1,
    # lib/binning/util.cljc), each bin starts at a multiple of it
    assert body["data"]["cols"][0]["display_name"] == "Quantity: 4 bins"
    assert body["data"]["rows"] == sorted([k, n] for k, n in Counter(o[3] // 0.75 * 0.75 for o in ORDERS).items())


def test_join_on_a_saved_question_and_a_mbql5_stage_list(shop):
    admin = shop.admin
    spend = admin.post("/api/card", json={"name": "Spend", "display": "table", "visualization_settings": {},
                                          "dataset_query": shop.query(**{
                                              "source-table": shop.t["orders"], "aggregation": [["sum", shop.field(
                                                  "orders.total")]], "breakout": [shop.field("orders.customer_id")]})}
                       ).json()
    join = {"alias": "Spend", "source-table": f"card__{spend['id']}", "fields": [["field", "sum", {
        "base-type": "type/Float", "join-alias": "Spend"}]], "strategy": "inner-join",
        "condition": ["=", shop.field("customers.id"), ["field", "customer_id", {"base-type": "type/Integer",
                                                                                  "join-alias": "Spend"}]]}
    rows = shop.rows(**{"source-table": shop.t["customers"], "joins": [join], "fields": [shop.field("customers.name")],
                        "order-by": [["asc", shop.field("customers.id")]]})
    spent: dict = defaultdict(float)
    for o in ORDERS:
        spent[o[1]] += o[4] or 0
    assert rows == [[c[1], spent[c[0]]] for c in CUSTOMERS if c[0] in spent]
    # MBQL 5 as the frontend writes it: a list of stages, the second one sorting on the first one's aggregation
    q5 = {"lib/type": "mbql/query", "database": shop.db, "stages": [
        {"lib/type": "mbql.stage/mbql", "source-table": shop.t["orders"],
         "aggregation": [["count", {"lib/uuid": "a"}]],
         "breakout": [["field", {"lib/uuid": "b"}, shop.f["orders.status"]]]},
        {"lib/type": "mbql.stage/mbql", "filters": [[">=", {"lib/uuid": "c"}, ["field", {
            "lib/uuid": "d", "base-type": "type/Integer"}, "count"], 1]],
         "order-by": [["desc", {"lib/uuid": "e"}, ["field", {"lib/uuid": "f", "base-type": "type/Integer"}, "count"]],
                      ["asc", {"lib/uuid": "g"}, ["field", {"lib/uuid": "h", "base-type": "type/Text"}, "status"]]]}]}
    body = shop.run(q5)
    counts = Counter(o[5] for o in ORDERS)
    assert body["data"]["rows"] == sorted(([s, n] for s, n in counts.items()),
                                          key=lambda r: (-r[1], r[0] is not None, r[0] or ""))
    assert [c["display_name"] for c in body["data"]["cols"]] == ["Status", "Count"]


def test_card_query_parameters_filter_an_mbql_card(shop):
    card = shop.admin.post("/api/card", json={"name": "Orders", "display": "table", "visualization_settings": {},
                                              "dataset_query": shop.query(**{"source-table": shop.t["orders"],
                                                                             "fields": [shop.field("orders.id")]})}
                           ).json()
    body = shop.run({}, f"/api/card/{card['id']}/query", parameters=[
        {"type": "number/between", "value": [2, 3], "target": ["dimension", shop.field("orders.quantity")]}])
    assert body["data"]["rows"] == _ids(lambda o: 2 <= o[3] <= 3)


def test_a_later_stage_reads_an_extracted_unit_as_it_is(shop):
    weekday = shop.field("orders.ordered_on", **{"temporal-unit": "day-of-week"})
    rows = shop.rows(**{"source-query": {"source-table": shop.t["orders"], "aggregation": [["count"]],
                                         "breakout": [weekday]}, "filter": ["<=", weekday, 4]})
    counts = Counter((dt.date.fromisoformat(o[6]).weekday() + 1) % 7 + 1 for o in ORDERS)
    assert rows == sorted([d, n] for d, n in counts.items() if d <= 4)


@pytest.mark.parametrize("inner", [
    {"filter": ["between", ["field", 1, None]]},
    {"aggregation": [["sum"]]},
    {"breakout": [["field", 999999, None]]},
    {"expressions": {"x": ["case", "oops"]}, "fields": [["expression", "x"]]},
    {"order-by": [["desc", ["aggregation", 3]]], "aggregation": [["count"]]},
    {"joins": [{"alias": "J", "condition": ["=", 1, 1]}]},
])
def test_malformed_mbql_is_a_failed_query_not_a_crash(shop, inner):
    out = shop.admin.post("/api/dataset", json=shop.query(**{"source-table": shop.t["orders"], **inner}))
    assert out.status_code == 202 and out.json()["status"] == "failed" and out.json()["error"]


def test_default_columns_leave_out_sensitive_and_retired_fields_only(shop):
    shop.admin.put(f"/api/field/{shop.f['customers.email']}", json={"visibility_type": "details-only"})
    names = [c["name"] for c in shop.run(shop.query(**{"source-table": shop.t["customers"]}))["data"]["cols"]]
    assert names == ["id", "name", "email"]
    shop.admin.put(f"/api/field/{shop.f['customers.email']}", json={"visibility_type": "sensitive"})
    body = shop.run(shop.query(**{"source-table": shop.t["customers"]}))
    assert [c["name"] for c in body["data"]["cols"]] == ["id", "name"]
    assert body["data"]["rows"] == [[c[0], c[1]] for c in CUSTOMERS]


@pytest.mark.parametrize(("strategy", "keep"), [
    ("right-join", lambda order, product: product is not None),
    ("full-join", lambda order, product: True),
])
def test_right_and_full_joins(shop, strategy, keep):
    join = {"alias": "P", "source-table": shop.t["products"], "strategy": strategy, "fields": [
        shop.field("products.title", **{"join-alias": "P"})],
        "condition": ["=", shop.field("orders.product_id"), shop.field("products.id", **{"join-alias": "P"})]}
    rows = shop.rows(**{"source-table": shop.t["orders"], "joins": [join], "fields": [shop.field("orders.id")]})
    pairs = [(o[0], p[1]) for o in ORDERS for p in PRODUCTS if o[2] == p[0]]
    pairs += [(o[0], None) for o in ORDERS if o[2] is None]
    pairs += [(None, p[1]) for p in PRODUCTS if all(o[2] != p[0] for o in ORDERS)]
    expected = [list(p) for p in pairs if keep(p[0], p[1])]
    key = lambda r: (r[0] is None, r[0] or 0, r[1] or "")  # noqa: E731
    assert sorted(rows, key=key) == sorted(expected, key=key)


def test_order_by_an_expression(shop):
    rows = shop.rows(**{"source-table": shop.t["orders"], "expressions": {"per item": [
        "/", shop.field("orders.total"), shop.field("orders.quantity")]},
        "fields": [shop.field("orders.id")], "order-by": [["desc", ["expression", "per item"]],
                                                          ["asc", shop.field("orders.id")]]})
    per_item = {o[0]: (o[4] / o[3] if o[4] is not None else None) for o in ORDERS}
    # SQLite sorts NULL first ascending, so last descending (Metabase leaves NULL order to the database)
    ordered = sorted((i for i in per_item if per_item[i] is not None), key=lambda i: (-per_item[i], i))
    assert [r[0] for r in rows] == ordered + [i for i in per_item if per_item[i] is None]
