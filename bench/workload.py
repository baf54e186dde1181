"""The benchmark workload: a Metabase instance at a scale factor, built through the emulator's own API.

Scale 1.0 is "bench-L": 200 collections (depth <= 4), 5,000 cards (questions, native, models, metrics, cards
on cards), 500 dashboards x ~10 dashcards on two tabs with filters, 1,000 users, 50 groups, 10 databases x
50 tables x 20 fields (SQLite files generated here), 100 snippets, 100 subscriptions. Smaller scales shrink
every count (at least one of each). Everything is deterministic for a given scale.
"""

from __future__ import annotations

import random
import sqlite3
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from mbport.emulator import Emulator, bootstrap

ADMIN_EMAIL = "bench-admin@example.com"
ADMIN_PASSWORD = "Bench-adm1n-passw0rd!"
FIELDS_PER_TABLE = 20
ROWS_PER_TABLE = 5
SYNC_TIMEOUT = 120.0
FULL = {"collections": 200, "cards": 5000, "dashboards": 500, "users": 1000, "groups": 50, "databases": 10,
        "tables": 50, "snippets": 100, "subscriptions": 100}


def counts(scale: float) -> dict[str, int]:
    """Object counts at `scale` (tables are per database)."""
    out = {k: max(1, round(n * scale)) for k, n in FULL.items()}
    out["tables"] = max(3, out["tables"])  # a join needs two tables of one database
    return out


@dataclass
class Table:
    id: int
    db: int
    fields: dict[str, int]  # column name → field id


@dataclass
class Built:
    """What a build made: the admin session, the object counts and the requests it took."""

    session: str
    counts: dict[str, int]
    requests: int
    seconds: float
    card_ids: list[int] = field(default_factory=list)


def ok(resp: httpx.Response) -> Any:
    if resp.status_code >= 400:
        raise RuntimeError(f"workload: {resp.request.method} {resp.request.url.path} failed: "
                           f"{resp.status_code} {resp.text[:300]}")
    return resp.json() if resp.content else None


# ---------------------------------------------------------------- warehouses

def _columns(t: int) -> list[tuple[str, str]]:
    cols = [("id", "INTEGER PRIMARY KEY"), ("category", "TEXT"), ("created_at", "TIMESTAMP"),
            ("amount", "REAL"), ("quantity", "INTEGER")]
    if t > 0:
        cols.append((f"t{t - 1:02d}_id", f"INTEGER REFERENCES t{t - 1:02d}(id)"))
    i = 0
    while len(cols) < FIELDS_PER_TABLE:
        cols.append((f"attr_{i:02d}", "TEXT" if i % 2 else "REAL"))
        i += 1
    return cols


def make_warehouse(path: Path, tables: int) -> Path:
    """A SQLite file with `tables` tables of FIELDS_PER_TABLE columns and a few rows (reused when present)."""
    if path.is_file():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.unlink(missing_ok=True)
    conn = sqlite3.connect(tmp)
    with conn:
        for t in range(tables):
            cols = _columns(t)
            conn.execute(f"CREATE TABLE t{t:02d} ({', '.join(f'{n} {ty}' for n, ty in cols)})")
            for r in range(ROWS_PER_TABLE):
                values = []
                for name, ty in cols:
                    if name == "id" or name.endswith("_id"):
                        values.append(r + 1)
                    elif name == "category":
                        values.append(f"cat-{r % 3}")
                    elif name == "created_at":
                        values.append(f"2024-0{r + 1}-01 00:00:00")
                    elif ty.startswith("TEXT"):
                        values.append(f"v{r}")
                    else:
                        values.append(r * 1.5)
                conn.execute(f"INSERT INTO t{t:02d} VALUES ({', '.join('?' * len(values))})", values)
    conn.close()
    tmp.rename(path)
    return path


# ---------------------------------------------------------------- the build

class Builder:
    def __init__(self, api: httpx.Client, scale: float, data_dir: Path, seed: int = 6):
        self.api = api
        self.n = counts(scale)
        self.data_dir = data_dir
        self.rnd = random.Random(seed)
        self.groups: list[int] = []
        self.users: list[int] = []
        self.collections: list[tuple[int, int]] = []  # (id, depth)
        self.tables: list[Table] = []
        self.snippets: list[tuple[int, str]] = []
        self.cards: list[dict[str, Any]] = []  # {id, type, table (or None), db}
        self.dashboards: list[tuple[int, list[tuple[int, int]]]] = []  # (id, [(card id, dashcard id)])

    def post(self, path: str, body: Any) -> Any:
        return ok(self.api.post(path, json=body))

    def build(self) -> None:
        self.people()
        self.databases()
        self.collections_()
        self.snippets_()
        self.cards_()
        self.dashboards_()
        self.subscriptions()

    def people(self) -> None:
        for g in range(self.n["groups"]):
            self.groups.append(self.post("/api/permissions/group", {"name": f"Team {g:03d}"})["id"])
        everyone = next(g["id"] for g in ok(self.api.get("/api/permissions/group")) if g["name"] == "All Users")
        for u in range(self.n["users"]):
            mine = self.rnd.sample(self.groups, min(len(self.groups), 1 + u % 2))
            self.users.append(self.post("/api/user", {
                "email": f"user{u:04d}@bench.example", "first_name": f"User{u:04d}", "last_name": "Bench",
                "user_group_memberships": [{"id": g} for g in [everyone, *mine]]})["id"])

    def databases(self) -> None:
        ids = []
        for d in range(self.n["databases"]):
            path = make_warehouse(self.data_dir / f"bench-{self.n['tables']}t-{d:02d}.sqlite", self.n["tables"])
            ids.append(self.post("/api/database", {"name": f"Warehouse {d:02d}", "engine": "sqlite",
                                                   "details": {"db": str(path)}})["id"])
        deadline = time.monotonic() + SYNC_TIMEOUT
        for db in ids:
            while ok(self.api.get(f"/api/database/{db}"))["initial_sync_status"] != "complete":
                if time.monotonic() > deadline:
                    raise RuntimeError(f"workload: database {db} did not sync within {SYNC_TIMEOUT:.0f} s")
                time.sleep(0.01)
            meta = ok(self.api.get(f"/api/database/{db}/metadata"))
            for t in sorted(meta["tables"], key=lambda t: t["name"]):
                self.tables.append(Table(t["id"], db, {f["name"]: f["id"] for f in t["fields"]}))

    def collections_(self) -> None:
        for c in range(self.n["collections"]):
            shallow = [(cid, d) for cid, d in self.collections if d < 4]
            parent = self.rnd.choice(shallow) if shallow and self.rnd.random() < 0.7 else None
            body = {"name": f"Collection {c:03d}", "parent_id": parent[0] if parent else None,
                    "description": f"Bench collection {c}."}
            self.collections.append((self.post("/api/collection", body)["id"], parent[1] + 1 if parent else 1))

    def snippets_(self) -> None:
        for s in range(self.n["snippets"]):
            name = f"Snippet {s:03d}"
            sid = self.post("/api/native-query-snippet", {"name": name, "content": f"amount > {s}",
                                                           "description": "bench snippet"})["id"]
            self.snippets.append((sid, name))

    def _collection(self) -> int:
        return self.rnd.choice(self.collections)[0]

    def _mbql(self, table: Table, **query: Any) -> dict[str, Any]:
        return {"database": table.db, "type": "query", "query": {"source-table": table.id, **query}}

    def _card(self, name: str, query: dict, table: Table | None, display: str = "table", **extra: Any) -> dict:
        body = {"name": name, "display": display, "dataset_query": query, "visualization_settings": {},
                "collection_id": self._collection(), **extra}
        raw = self.post("/api/card", body)
        card = {"id": raw["id"], "type": extra.get("type", "question"), "table": table, "db": query["database"]}
        self.cards.append(card)
        return card

    def cards_(self) -> None:
        """A mix by position: questions, joins, native (field filter, snippet, card tags), models, metrics,
        questions on models (cards on cards) and questions aggregating a metric."""
        for c in range(self.n["cards"]):
            t = self.rnd.choice(self.tables)
            f = t.fields
            slot = c % 20
            models = [k for k in self.cards if k["type"] == "model"]
            metrics = [k for k in self.cards if k["type"] == "metric"]
            name = f"Card {c:04d}"
            if slot in (13, 14) or not self.cards:
                self._card(name, self._mbql(t), t, type="model")
            elif slot == 15:
                self._card(name, self._mbql(t, aggregation=[["sum", ["field", f["amount"], None]]]), t,
                           display="scalar", type="metric")
            elif slot in (16, 17) and models:
                base = self.rnd.choice(models)
                bf = base["table"].fields
                self._card(name, {"database": base["db"], "type": "query", "query": {
                    "source-table": f"card__{base['id']}", "aggregation": [["count"]],
                    "breakout": [["field", bf["category"], None]]}}, base["table"], display="bar")
            elif slot == 18 and metrics:
                m = self.rnd.choice(metrics)
                mt = m["table"]
                self._card(name, self._mbql(mt, aggregation=[["metric", m["id"]]], breakout=[
                    ["field", mt.fields["created_at"], {"temporal-unit": "month"}]]), mt, display="line")
            elif slot == 19 and "t00_id" in f:
                other = next(x for x in self.tables if x.db == t.db and "t00_id" not in x.fields)
                self._card(name, self._mbql(t, joins=[{
                    "alias": "Base", "source-table": other.id, "fields": "all", "strategy": "left-join",
                    "condition": ["=", ["field", f["t00_id"], None], ["field", other.fields["id"], {"join-alias": "Base"}]]}],
                    aggregation=[["count"]], breakout=[["field", other.fields["category"], {"join-alias": "Base"}]]),
                    t, display="bar")
            elif slot in (10, 11, 12):
                self._native(name, t, slot)
            else:
                self._card(name, self._mbql(t, filter=[">", ["field", f["amount"], None], c % 7],
                                            aggregation=[["count"], ["sum", ["field", f["quantity"], None]]],
                                            breakout=[["field", f["category"], None]],
                                            **{"order-by": [["desc", ["aggregation", 0]]]}), t, display="bar",
                           description=f"Question {c}.")

    def _native(self, name: str, t: Table, slot: int) -> None:
        table_name = f"t{self.tables.index(t) % self.n['tables']:02d}"
        tags: dict[str, Any] = {"created": {
            "id": f"00000000-0000-4000-8000-{len(self.cards):012d}", "name": "created", "display-name": "Created",
            "type": "dimension", "widget-type": "date/all-options", "dimension": ["field", t.fields["created_at"], None]}}
        sql = f"SELECT category, count(*) FROM {table_name} WHERE {{{{created}}}}"
        if slot == 11 and self.snippets:
            sid, sname = self.rnd.choice(self.snippets)
            tags[f"snippet: {sname}"] = {"id": f"00000000-0000-4000-9000-{len(self.cards):012d}",
                                         "name": f"snippet: {sname}", "display-name": sname, "type": "snippet",
                                         "snippet-name": sname, "snippet-id": sid}
            sql += f" AND {{{{snippet: {sname}}}}}"
        elif slot == 12:
            base = next((k for k in reversed(self.cards) if k["db"] == t.db and k["type"] == "model"), None)
            if base is not None:
                tag = f"#{base['id']}-base"
                tags[tag] = {"id": f"00000000-0000-4000-a000-{len(self.cards):012d}", "name": tag,
                             "display-name": tag, "type": "card", "card-id": base["id"]}
                sql = f"SELECT * FROM {{{{{tag}}}}} AS b WHERE {{{{created}}}}"
        self._card(name, {"database": t.db, "type": "native", "native": {"query": sql + " GROUP BY 1",
                                                                          "template-tags": tags}}, t)

    def dashboards_(self) -> None:
        mbql = [k for k in self.cards if k["type"] == "question" and k["table"] is not None]
        for d in range(self.n["dashboards"]):
            dash = self.post("/api/dashboard", {"name": f"Dashboard {d:03d}", "collection_id": self._collection(),
                                                "description": f"Bench dashboard {d}."})
            params = [{"id": f"p{d:03d}cat", "name": "Category", "slug": "category", "type": "string/=",
                       "sectionId": "string"},
                      {"id": f"p{d:03d}date", "name": "Date", "slug": "date", "type": "date/all-options",
                       "sectionId": "date", "default": "past12months~"}]
            dashcards: list[dict[str, Any]] = [
                {"id": -1, "card_id": None, "dashboard_tab_id": -1, "row": 0, "col": 0, "size_x": 24, "size_y": 1,
                 "visualization_settings": {"virtual_card": {"name": None, "display": "heading",
                                                             "visualization_settings": {}, "dataset_query": {},
                                                             "archived": False}, "text": f"Dashboard {d}"}},
            ]
            for i, card in enumerate(self.rnd.sample(mbql, min(len(mbql), 9))):
                tab = -1 if i < 5 else -2
                mappings = []
                fields = card["table"].fields
                if card["db"] == card["table"].db and card["table"] in self.tables:
                    mappings = [{"parameter_id": params[0]["id"], "card_id": card["id"],
                                 "target": ["dimension", ["field", fields["category"], None]]},
                                {"parameter_id": params[1]["id"], "card_id": card["id"],
                                 "target": ["dimension", ["field", fields["created_at"], None]]}]
                dashcards.append({"id": -(i + 2), "card_id": card["id"], "dashboard_tab_id": tab,
                                  "row": 1 + (i % 5) * 6, "col": 0, "size_x": 12, "size_y": 6,
                                  "parameter_mappings": mappings, "visualization_settings": {}})
            out = ok(self.api.put(f"/api/dashboard/{dash['id']}", json={
                "parameters": params, "tabs": [{"id": -1, "name": "Overview"}, {"id": -2, "name": "Details"}],
                "dashcards": dashcards}))
            self.dashboards.append((dash["id"], [(dc["card_id"], dc["id"]) for dc in out["dashcards"]
                                                 if dc["card_id"] is not None]))

    def subscriptions(self) -> None:
        for s in range(self.n["subscriptions"]):
            dash_id, cards = self.dashboards[s % len(self.dashboards)]
            self.post("/api/pulse", {
                "name": f"Subscription {s:03d}", "dashboard_id": dash_id, "skip_if_empty": bool(s % 2),
                "cards": [{"id": c, "include_csv": False, "include_xls": False, "dashboard_card_id": dc}
                          for c, dc in cards],
                "channels": [{"channel_type": "email", "enabled": True, "schedule_type": "daily",
                              "schedule_hour": s % 24, "recipients": [{"id": u} for u in
                                                                      self.rnd.sample(self.users, min(3, len(self.users)))]}]})


def build(emu: Emulator, scale: float, data_dir: Path) -> Built:
    """Set up an admin on `emu` and build the workload in it (in-process, whatever latency `emu` has)."""
    started = time.monotonic()
    before = len(emu.request_log)
    session = bootstrap.setup_admin(emu, ADMIN_EMAIL, ADMIN_PASSWORD)
    with httpx.Client(transport=emu.transport(), base_url="http://bench.local",
                      headers={"X-Metabase-Session": session}, timeout=60) as api:
        builder = Builder(api, scale, data_dir)
        builder.build()
    emu.wait_idle()
    return Built(session, builder.n, len(emu.request_log) - before, time.monotonic() - started,
                 [c["id"] for c in builder.cards])
