"""Migrations across the old end of the supported releases (versions.md §2), judged by `verify` on what both servers
hold: the sample seed of 0.50 (legacy metrics, /api/alert alerts, the collection graph with "none") and of 0.54
(dashboard questions, notifications) into 0.63/0.65, and of 0.65 back into 0.50. The only differences allowed are
the version-caused ones listed here, each with its reason (README, "Supported Metabase versions")."""

from __future__ import annotations

import pytest

from mbport.client import MetabaseClient
from mbport.emulator import Emulator, bootstrap, seeds
from mbport.emulator.seeds import sample
from mbport.errors import MbportError
from mbport.export import run_export
from mbport.import_options import ImportOptions
from mbport.importing import open_import
from mbport.registry import load_plugins
from mbport.secrets import Secrets
from tests.conftest import ADMIN_EMAIL, ADMIN_PASSWORD, writes_since
from tests.e2e.instances import FINANCE_SECRET

# Differences a crossing causes by itself, not mbport, each with its reason. A line ending in "…" is a prefix.
NEWER_ONLY = {  # what a >= 0.59 server adds on its own to content that came from an older one
    # Admins get the transforms permission on every database (0.58+ data permission graph).
    *(f"data permissions of group 'Administrators': database '{db}': transforms: yes only on target"
      for db in ("Finance", "Sample Database", "Shop Warehouse")),
    # Data Studio table layers (0.59+): the server puts a hidden table in the hidden layer.
    "table 'reviews': data_layer: hidden only on target",
    # The tenants setting (0.58+) exists on the newer server only.
    "setting 'use-tenants' only in target",
}
METRIC_DIMENSIONS = "card 'Total revenue': dimensions: …"  # 0.60+ persist a metric card's dimensions (older sources have none)
LEGACY_METRICS_AS_CARDS = {  # no release after 0.50 has legacy metrics; --legacy-metrics-as-cards made cards
    "legacy metric 'Average discount' only in source", "legacy metric 'Revenue' only in source",
    "card 'Average discount' only in target", "card 'Revenue' only in target",
    "card 'Large orders: count and average discount': query.query.aggregation[1][1]: legacy metric 'Average "
    "discount' (only on source) → card 'Average discount' (only on target)",
    "card 'Revenue by month': query.query.aggregation[0][1]: legacy metric 'Revenue' (only on source) → card "
    "'Revenue' (only on target)",
}
DOWNGRADE_0_50 = {
    # No measures before 0.59: --skip-unsupported leaves the measure out, with the card aggregating with it and
    # the dashboard showing that card (the links and click behaviour to that dashboard point nowhere).
    "measure 'Average discount' only in source", "card 'Large orders: count and average discount' only in source",
    "dashboard 'Customer insights' only in source",
    "dashboard 'Sales overview': dashcard card 'Revenue by product category' at row 1, col 0: visualization "
    "settings.click behaviour.targetId: dashboard 'Customer insights' (only on source) → null",
    "dashboard 'Sales overview': dashcard link at row 9, col 16: visualization settings.link.entity.collection: "
    "collection 'Marketing' missing on target",
    "dashboard 'Sales overview': dashcard link at row 9, col 16: visualization settings.link.entity.id: dashboard "
    "'Customer insights' (only on source) → null",
    "dashboard 'Sales overview': dashcard link at row 9, col 16: visualization settings.link.entity.name: Customer "
    "insights missing on target",
    # No dashboard questions before 0.53: the question is a card in the dashboard's collection, on its dashboard.
    "card 'Pending orders': dashboard_id: dashboard 'Sales overview' missing on target",
    # What 0.59-0.65 add on their own (see NEWER_ONLY), seen from the other side.
    *(f"data permissions of group 'Administrators': database '{db}': transforms: yes missing on target"
      for db in ("Finance", "Sample Database", "Shop Warehouse")),
    "table 'reviews': data_layer: hidden missing on target", "setting 'use-tenants' only in source",
    "card 'Total revenue': dimensions: …",
}
VERSION_CAUSED: dict[tuple[str, str], set[str]] = {
    ("0.50", "0.63"): NEWER_ONLY | LEGACY_METRICS_AS_CARDS | {METRIC_DIMENSIONS},
    ("0.50", "0.65"): NEWER_ONLY | LEGACY_METRICS_AS_CARDS | {METRIC_DIMENSIONS},
    ("0.54", "0.65"): NEWER_ONLY | {METRIC_DIMENSIONS},
    ("0.65", "0.50"): DOWNGRADE_0_50,
}
# The card whose MBQL 5 order-by on an aggregation once reached 0.50 with its options map (["desc", {}, ["aggregation",
# 0]], which 0.50's OrderBy schema refuses when the query runs).
SORTED_BY_AGGREGATION = "card 'Revenue by product category'"


def unexplained(objects: list[str], crossing: tuple[str, str]) -> list[str]:
    """The difference lines the crossing does not explain."""
    expected = VERSION_CAUSED[crossing]
    prefixes = tuple(e[:-1] for e in expected if e.endswith("…"))
    return sorted(o for o in objects if o not in expected and not (prefixes and o.startswith(prefixes)))


def instance(profile: str, seed: str | None = None) -> tuple[Emulator, MetabaseClient]:
    emu = Emulator(profile, sqlite_actions=True)
    session = bootstrap.setup_admin(emu, ADMIN_EMAIL, ADMIN_PASSWORD)
    if seed:
        seeds.load(emu, seed, session)
        emu.wait_idle()
    return emu, MetabaseClient(f"http://{profile.replace('.', '')}.test", session_token=session,
                               transport=emu.transport())


def options(tmp_path, **more) -> ImportOptions:
    return ImportOptions(secrets=Secrets({FINANCE_SECRET: sample.FINANCE_DB_PASSWORD}, env={}), with_api_keys=True,
                         api_keys_file=tmp_path / "keys.json", state=tmp_path / "state.json", **more)


def lines(result) -> tuple[list[str], list[str]]:
    rows = [d.line() for d in result.differences if d.kind.startswith("rows of ")]
    return [d.line() for d in result.differences if not d.kind.startswith("rows of ")], rows


def migrated(tmp_path, old: str, new: str, *, as_cards: bool = False, **more):
    """(source client, target emulator, target client, the import, applied) of the sample seed from old to new."""
    _, source = instance(old, "sample")
    tree = tmp_path / "tree"
    exported = run_export(source, load_plugins(), tree, options={"legacy_metrics_as_cards": as_cards})
    assert exported.warnings == []
    emu, target = instance(new)
    run = open_import(target, tree, options(tmp_path, **more))
    planned = run.plan()
    assert planned.problems == [], planned.problems
    applied = run.apply(planned)
    assert applied.failed == {}
    emu.wait_idle()
    return source, emu, target, run, applied


@pytest.mark.parametrize("new", ["0.63", "0.65"])
def test_0_50_upgrades_with_legacy_metrics_converted_after_review(tmp_path, new):
    source, emu, target, run, _ = migrated(tmp_path, "0.50", new, as_cards=True)
    objects, rows = lines(run.verify(source))
    assert rows == [] and unexplained(objects, ("0.50", new)) == [], objects
    assert {o for o in objects if "legacy metric" in o} <= LEGACY_METRICS_AS_CARDS
    # The /api/alert alert is a notification now, with its weekly schedule and both recipients.
    alerts = target.get("/api/notification", params={"payload_type": "notification/card"})
    assert len(alerts) == 1 and alerts[0]["subscriptions"][0]["cron_schedule"] == "0 0 9 ? * 2 *"
    assert {r["type"] for r in alerts[0]["handlers"][0]["recipients"]} == {
        "notification-recipient/user", "notification-recipient/raw-value"}
    # A second run finds nothing to do in what this crossing converted: the alert, the metric cards made from
    # legacy metrics and the cards using them, the permissions. (A native card with a field filter still shows a
    # `dataset_query` update on >= 0.63 targets: the MBQL 4 → 5 template-tag comparison, not this crossing.)
    again = open_import(target, tmp_path / "tree", options(tmp_path)).plan()
    changed = {c.name for c in again.changes if c.action != "noop"}
    assert again.problems == [] and changed == set(), [c.line() for c in again.changes if c.action != "noop"]


def test_0_50_legacy_metrics_are_refused_by_name_without_the_conversion(tmp_path):
    _, source = instance("0.50", "sample")
    run_export(source, load_plugins(), tmp_path / "tree")
    emu, target = instance("0.65")
    run = open_import(target, tmp_path / "tree", options(tmp_path))
    planned = run.plan()
    refused = [p for p in planned.problems if "legacy-metrics" in p]
    assert len(refused) == 2 and all("no API target" in p for p in refused), planned.problems
    assert any("average-discount" in p for p in refused) and any("revenue" in p for p in refused)
    before = len(emu.request_log)
    with pytest.raises(MbportError):
        run.apply(planned)
    assert writes_since(emu, before) == []


def test_0_54_upgrades_to_0_65(tmp_path):
    source, _, target, run, _ = migrated(tmp_path, "0.54", "0.65")
    objects, rows = lines(run.verify(source))
    assert rows == [] and unexplained(objects, ("0.54", "0.65")) == [], objects
    question = next(c for c in target.get("/api/card", params={"f": "all"}) if c["name"] == "Pending orders")
    assert question["dashboard_id"] is not None


@pytest.fixture(scope="module")
def downgraded(tmp_path_factory):
    """The sample seed of 0.65 in 0.50, what 0.50 cannot hold left out (--skip-unsupported), and verify's lines."""
    source, _, target, run, _ = migrated(tmp_path_factory.mktemp("down"), "0.65", "0.50", skip_unsupported=True)
    return target, *lines(run.verify(source))


def test_0_65_downgrades_to_0_50_where_representable(downgraded):
    target, objects, rows = downgraded
    assert unexplained(objects, ("0.65", "0.50")) == [], objects
    assert rows == [], rows
    # The dashboard question is an ordinary card in the dashboard's collection, shown by the dashboard.
    question = next(c for c in target.get("/api/card", params={"f": "all"}) if c["name"] == "Pending orders")
    assert "dashboard_id" not in question
    boards = [d for d in target.get("/api/dashboard") if any(
        dc["card_id"] == question["id"] for dc in target.get(f"/api/dashboard/{d['id']}")["dashcards"])]
    assert [b["name"] for b in boards] == ["Sales overview"] and boards[0]["collection_id"] == question["collection_id"]
    # The notification is a pulse-shaped alert on /api/alert, schedule and recipients kept.
    alerts = target.get("/api/alert")
    channel = alerts[0]["channels"][0]
    assert len(alerts) == 1 and (channel["schedule_type"], channel["schedule_day"], channel["schedule_hour"]) == (
        "weekly", "mon", 9)
    assert {r.get("email") for r in channel["recipients"]} >= {"sales-team@acme.example"}


def test_0_65_downgrade_keeps_an_aggregation_sort(downgraded):
    _, objects, rows = downgraded
    assert [line for line in objects + rows if line.startswith(SORTED_BY_AGGREGATION)] == []


def test_inline_filters_stay_in_the_header_of_a_release_before_0_56(tmp_path):
    """A dashcard's inline_parameters (0.56+) have no column before 0.56: the filter stays a dashboard filter."""
    _, source = instance("0.65")
    dash = source.post("/api/dashboard", json={"name": "Filtered"})
    source.put(f"/api/dashboard/{dash['id']}", json={
        "parameters": [{"id": "p1", "name": "Status", "slug": "status", "type": "string/="}],
        "dashcards": [{"id": -1, "card_id": None, "row": 0, "col": 0, "size_x": 24, "size_y": 1,
                       "inline_parameters": ["p1"], "visualization_settings": {"text": "Filters", "virtual_card": {
                           "display": "heading", "archived": False, "dataset_query": {}, "visualization_settings": {}}}}]})
    # >= 0.57 drops the parameters dashcards show inline from that PUT (versions.md): a second one puts it back.
    source.put(f"/api/dashboard/{dash['id']}", json={
        "parameters": [{"id": "p1", "name": "Status", "slug": "status", "type": "string/="}]})
    held = source.get(f"/api/dashboard/{dash['id']}")
    assert held["dashcards"][0]["inline_parameters"] == ["p1"] and [p["id"] for p in held["parameters"]] == ["p1"]
    run_export(source, load_plugins(), tmp_path / "tree")
    _, target = instance("0.50")
    run = open_import(target, tmp_path / "tree", options(tmp_path))
    applied = run.apply(run.plan())
    assert applied.failed == {}
    board = next(d for d in target.get("/api/dashboard") if d["name"] == "Filtered")
    held = target.get(f"/api/dashboard/{board['id']}")
    assert [p["id"] for p in held["parameters"]] == ["p1"] and "inline_parameters" not in held["dashcards"][0]
    again = open_import(target, tmp_path / "tree", options(tmp_path)).plan()
    assert [c.line() for c in again.changes if c.action != "noop"] == []


def test_an_alert_on_an_archived_card_is_refused_by_name_below_0_54(tmp_path):
    """0.50 takes an alert on an archived card but never shows it (models/pulse.clj: `retrieve-alerts` drops an alert
    whose card does not hydrate), and archiving a card deletes its active alerts: plan names each such alert of the
    handmade seed; --skip-unsupported leaves them out, and the next import plans nothing."""
    _, source = instance("0.56", "handmade")
    run_export(source, load_plugins(), tmp_path / "tree")
    emu, target = instance("0.50")
    refused = [p for p in open_import(target, tmp_path / "tree", options(tmp_path)).plan().problems
               if p.startswith("alerts/")]
    assert len(refused) == 4 and all("its card is archived" in p for p in refused), refused
    assert sum("alert 'Retired margin" in p for p in refused) == 2
    run = open_import(target, tmp_path / "tree", options(tmp_path, skip_unsupported=True))
    planned = run.plan()
    assert sorted(a for a in planned.unsupported if a.startswith("alerts/")) == sorted(p.split(":")[0] for p in refused)
    assert run.apply(planned).failed == {}
    again = open_import(target, tmp_path / "tree", options(tmp_path, skip_unsupported=True)).plan()
    assert [c.line() for c in again.changes if c.action != "noop"] == []
    # Verify reads 0.50's alerts where 0.50 keeps them (it has no /api/notification to ask) and finds the four.
    objects, rows = lines(run.verify(source))
    assert sorted(o for o in objects if o.startswith("alert ")) == sorted(
        f"alert 'on card {name!r}' only in source".replace('"', "'") for name in (
            "Campaign reach", "Retired margin", "Retired margin", "Wave orders")), objects
    assert not any(path.startswith("/api/notification") for _, path, _ in emu.request_log)
