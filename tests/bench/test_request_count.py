"""A cold export's request count is a contract: one list request per kind listing (two or four for kinds
listed live and archived, or per namespace), one request per dashboard, per database and per timeline, one
per table that can hold a field remapping and one per custom-label remapping, and nothing else — a regression
shows up as a count, not as a slower benchmark.

The remapping reads stay in every export, incremental ones too (checked in Metabase's source): no listing
carries a field's `dimensions` — `GET /api/database/:id/metadata` hydrates `[:tables [:fields :has_field_values
[:target :has_field_values]] …]` (warehouses_rest/api.clj `db-metadata`), `?include=tables.fields` the same
(`get-database-hydrate-include`), `GET /api/table` no fields; only `GET /api/table/:id/query_metadata`
(warehouse_schema/table.clj `fetch-query-metadata*`), `GET`/`PUT /api/field/:id` and the query-scoped batch
(`batch-fetch-query-metadatas*`, which leaves hidden and sensitive fields out) do. And a remapping change moves
no timestamp a listing shows: `POST /api/field/:id/dimension` inserts or updates the Dimension row only,
`DELETE` deletes it, `POST /api/field/:id/values` writes FieldValues (warehouse_schema/api/field.clj), and
neither model has a hook that touches its Field or Table (models/dimension.clj, models/field_values.clj), so
keying on the field's or table's `updated_at` would miss every remapping edit."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import httpx
import pytest

from mbport.client import MetabaseClient
from mbport.emulator import Emulator, bootstrap, seeds
from mbport.export import run_export
from mbport.registry import load_plugins
from tests.conftest import ADMIN_EMAIL, ADMIN_PASSWORD, transforms_on

# The requests that do not depend on the content: the version (session properties) and every kind's listing.
LISTINGS = {
    "/api/session/properties": 1,  # the version, read once
    "/api/action": 1, "/api/api-key": 1, "/api/measure": 1, "/api/segment": 1, "/api/setting": 1,
    "/api/user": 1, "/api/database": 1, "/api/notification": 1, "/api/permissions/graph": 1,
    "/api/permissions/group": 1, "/api/permissions/membership": 1,
    "/api/card": 2, "/api/dashboard": 2, "/api/pulse": 2, "/api/timeline": 2,  # live and archived
    "/api/native-query-snippet": 2,  # live and archived
    "/api/collection": 6,  # live and archived, in the default, the snippets and the transforms namespace
    "/api/collection/graph": 2,  # one graph per namespace
    "/api/mt/gtap": 1, "/api/ee/advanced-permissions/impersonation": 1,  # not asked when the token lacks them
    "/api/document": 1, "/api/collection/trash": 1,  # live documents; the Trash, where archived ones are listed
    "/api/ee/tenant": 1,  # not asked when the token lacks tenants
    "/api/channel": 1,  # notification channels, deactivated ones too
    "/api/glossary": 1,
    "/api/transform": 1, "/api/transform-tag": 1, "/api/transform-job": 1,
    "/api/ee/transforms-python/library/common": 1,  # not asked when the token lacks transforms-python
    "/api/cache": 2,  # the default policy, then the per-item ones (not asked without cache_granular_controls)
    "/api/metabot/metabot": 1,  # the built-in Metabots (0.61 on)
}
GATED = {"/api/mt/gtap": "sandboxes", "/api/ee/advanced-permissions/impersonation": "advanced_permissions",
         "/api/ee/tenant": "tenants", "/api/ee/transforms-python/library/common": "transforms-python",
         "/api/cache": "cache_granular_controls"}
NUMBERED = re.compile(r"/\d+")


def expected(api: MetabaseClient) -> Counter:
    """The formula, from what the instance holds (read through a client whose requests are not counted)."""
    count = Counter(LISTINGS)
    props = api.get("/api/session/properties")  # not api.version: the export must read it itself
    # Routes behind a token feature the instance's token-features say it lacks: their answer is known (402), so
    # they are not asked (kindutil.token_lacks). A release whose token-features lack the name is asked.
    for path, feature in GATED.items():
        if feature in props["token-features"] and not props["token-features"][feature]:
            count[path] -= 1
    if int(props["version"]["tag"].split(".")[1]) >= 58 and props["token-features"].get("tenants"):
        count["/api/collection"] += 4  # tenants' shared collections and their own, live and archived
    dashboards = {d["id"] for f in ("all", "archived") for d in api.get("/api/dashboard", params={"f": f})}
    count["/api/dashboard/N"] = len(dashboards)  # tabs and dashcards are in the detail only
    databases = api.get("/api/database")
    databases = databases["data"] if isinstance(databases, dict) else databases
    count["/api/database/N/metadata"] = len(databases)  # tables and fields, one request per database
    # Field remappings are served by a table's query_metadata only: one per table with an FK or an integer list
    # field (the fields that can hold one), and one values request per internal (custom labels) remapping.
    remappable = []
    for db in databases:
        meta = api.get(f"/api/database/{db['id']}/metadata", params={"include_hidden": "true", "remove_inactive": "true"})
        remappable += [t for t in meta["tables"] if any(
            f.get("fk_target_field_id") or (f["has_field_values"] == "list" and f["base_type"] == "type/Integer")
            for f in t["fields"])]
    count["/api/table/N/query_metadata"] = len(remappable)
    count["/api/field/N/values"] = sum(
        1 for t in remappable
        for f in api.get(f"/api/table/{t['id']}/query_metadata", params={"include_hidden_fields": "true"})["fields"]
        if any(d["type"] == "internal" for d in f["dimensions"]))
    # Archived documents are listed only as items of the Trash and of each archived collection, then read one by one.
    archived = [c for c in api.get("/api/collection", params={"archived": "true"}) if c.get("archived")]
    count["/api/collection/N/items"] = 1 + len(archived)
    count["/api/document/N"] = sum(1 for c in [api.get("/api/collection/trash"), *archived]
                                   for i in api.get(f"/api/collection/{c['id']}/items",
                                                    params={"models": "document", "archived": "true"})["data"])
    timelines = api.get("/api/timeline")  # live ones: their events (archived ones too) need the detail
    count["/api/timeline/N"] = len(timelines)
    # Content verification (a token with content_verification), on every export (no listing carries a review, and a
    # review moves no timestamp a listing or the fetch cache keys on): search lists the verified cards (live, then
    # archived), whose details hold the note. A dashboard's review is in the details read above (asking again
    # would be the same request); only a dashboard whose details came from the fetch cache is read again (`cached`).
    if props["token-features"].get("content_verification"):
        count["/api/search"] = 2
        count["/api/card/N"] += len(verification_reads(api))
    return +count


class Asked(httpx.BaseTransport):
    """A transport that notes every request's method, path and query, then passes it on."""

    def __init__(self, inner: httpx.BaseTransport):
        self.inner, self.targets = inner, []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.targets.append((request.method, request.url.raw_path.decode("ascii")))
        return self.inner.handle_request(request)


def verification_reads(api: MetabaseClient) -> set[int]:
    """The cards whose details an export reads for their verification (those a tree holds: none in a personal
    collection): the verified ones, by their details, and every metric."""
    cards = {c["id"]: c for f in ("all", "archived") for c in api.get("/api/card", params={"f": f})}
    return {i for i, c in cards.items() if not (c.get("collection") or {}).get("personal_owner_id")
            and (c.get("type") == "metric" or any(r["most_recent"] and r["status"] == "verified"
                                                  for r in api.get(f"/api/card/{i}")["moderation_reviews"]))}


def cached(api: MetabaseClient) -> Counter:
    """What a second export of an unchanged instance does not request again: the dashboards' details (the fetch
    cache; with content verification they are read for their reviews all the same) and the version."""
    dashboards = {d["id"] for f in ("all", "archived") for d in api.get("/api/dashboard", params={"f": f})}
    verified = api.get("/api/session/properties")["token-features"].get("content_verification")
    return Counter({"/api/dashboard/N": 0 if verified else len(dashboards), "/api/session/properties": 1})


@pytest.mark.parametrize("seed", ["sample", "enterprise", "handmade", "current"])
def test_cold_export_makes_exactly_the_requests_of_the_formula(seed, tmp_path):
    """And no request is made twice (the same path and query). (`current`: a 0.65 Enterprise instance with every kind
    only a current one holds: verified dashboards, subscriptions to webhooks, whose names come from the channels
    kind's listing rather than from a second `GET /api/channel`.)"""
    emu = Emulator(premium_features="all" if seed == "enterprise" else None)
    if seed == "current":
        emu = transforms_on(Emulator("0.65", premium_features="all"))
    session = bootstrap.setup_admin(emu, ADMIN_EMAIL, ADMIN_PASSWORD)
    seeds.load(emu, seed, session)
    emu.wait_idle()
    asked = Asked(emu.transport())
    with MetabaseClient("http://metabase.test", session_token=session, transport=asked) as api:
        want = expected(api)
        # the seeds exercise the formula (the handmade one has a custom-label remapping)
        assert want["/api/database/N/metadata"] and want["/api/table/N/query_metadata"]
        assert want["/api/field/N/values" if seed == "handmade" else "/api/dashboard/N"]
        before = len(emu.request_log)
        start = api.request_count
        asked.targets.clear()
        run_export(api, load_plugins(), Path(tmp_path) / "tree")
        made = Counter(NUMBERED.sub("/N", path) for _, path, _ in emu.request_log[before:])
        assert made == want
        assert api.request_count - start == sum(want.values())  # the client counts what the server saw
        assert [t for t, n in Counter(asked.targets).items() if n > 1] == []
        # Again, nothing changed: the same minus the dashboards (kept in the fetch cache).
        before = len(emu.request_log)
        run_export(api, load_plugins(), Path(tmp_path) / "tree")
        again = Counter(NUMBERED.sub("/N", path) for _, path, _ in emu.request_log[before:])
        assert again == want - cached(api)


def test_verified_cards_are_found_by_search_and_only_theirs_read(tmp_path):
    """Content verification on the current seed: two searches, then the details of the verified cards and the
    metrics only (not of every card), the same on a second export."""
    emu = transforms_on(Emulator("0.65", premium_features="all"))
    session = bootstrap.setup_admin(emu, ADMIN_EMAIL, ADMIN_PASSWORD)
    seeds.load(emu, "current", session)
    emu.wait_idle()
    with MetabaseClient("http://metabase.test", session_token=session, transport=emu.transport()) as api:
        read = verification_reads(api)
        cards = {c["id"] for f in ("all", "archived") for c in api.get("/api/card", params={"f": f})}
        assert read and len(cards) > len(read)  # the seed exercises it
        for _ in range(2):
            before = len(emu.request_log)
            run_export(api, load_plugins(), Path(tmp_path) / "tree")
            made = Counter(path for _, path, _ in emu.request_log[before:])
            assert made["/api/search"] == 2
            assert {int(p.rsplit("/", 1)[1]) for p in made if re.fullmatch(r"/api/card/\d+", p)} == read
            assert all(n == 1 for p, n in made.items() if re.fullmatch(r"/api/card/\d+", p))
        docs = list((Path(tmp_path) / "tree").rglob("*.json"))
        now = {i for i in read if any(r["most_recent"] and r["status"] == "verified"
                                          for r in api.get(f"/api/card/{i}")["moderation_reviews"])}
        assert now and sum(1 for d in docs if "verifications" in d.parts and "/card/" in d.as_posix()) == len(now)


def test_a_search_at_its_cap_is_not_trusted_every_cards_details_are_read(tmp_path, monkeypatch):
    """Search keeps at most `max-filtered-results` results and its `total` counts the kept ones, so a full answer
    may hide verified cards: the export then reads every card's details and still finds every verification."""
    import mbport_plugins.verifications as kind

    from mbport.emulator.routes import search

    emu = Emulator(premium_features="all")
    session = bootstrap.setup_admin(emu, ADMIN_EMAIL, ADMIN_PASSWORD)
    with MetabaseClient("http://metabase.test", session_token=session, transport=emu.transport()) as api:
        query = {"type": "native", "native": {"query": "select 1"}, "database": 1}
        ids = [api.post("/api/card", json={"name": n, "display": "table", "dataset_query": query,
                                           "visualization_settings": {}})["id"] for n in "ABCD"]
        for i in ids[:3]:
            api.post("/api/moderation-review", json={"moderated_item_type": "card", "moderated_item_id": i,
                                                     "status": "verified", "text": f"ok {i}"})

        def export(name: str) -> Counter:
            before = len(emu.request_log)
            run_export(api, load_plugins(), tmp_path / name)
            assert len(list((tmp_path / name / "verifications").rglob("*.json"))) == 3
            return Counter(NUMBERED.sub("/N", path) for _, path, _ in emu.request_log[before:])

        assert export("below")["/api/card/N"] == 3  # the verified ones only
        monkeypatch.setattr(search, "MAX_RESULTS", 2)
        monkeypatch.setattr(kind, "SEARCH_CAP", 2)
        capped = export("capped")
        assert capped["/api/card/N"] == 4 and capped["/api/search"] == 1  # the live search was full: all read
