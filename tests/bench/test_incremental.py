"""Incremental export: unchanged dashboards are not fetched again, and the tree is byte-identical to a cold one."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from mbport.cache import folder_for
from mbport.client import MetabaseClient
from mbport.emulator import Emulator, bootstrap, seeds
from mbport.export import run_export
from mbport.registry import load_plugins
from tests.conftest import ADMIN_EMAIL, ADMIN_PASSWORD

DASHBOARD_GET = re.compile(r"^/api/dashboard/\d+$")


@pytest.fixture
def instance():
    emu = Emulator()
    session = bootstrap.setup_admin(emu, ADMIN_EMAIL, ADMIN_PASSWORD)
    seeds.load(emu, "sample", session)
    emu.wait_idle()
    with MetabaseClient("http://metabase.test", session_token=session, transport=emu.transport()) as api:
        yield emu, api


@pytest.fixture(scope="module")
def registry():
    return load_plugins()


def files(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def dashboard_fetches(emu: Emulator, since: int) -> int:
    return sum(1 for method, path, _ in emu.request_log[since:] if method == "GET" and DASHBOARD_GET.match(path))


def export(emu, api, registry, out: Path, cache: bool = True) -> int:
    """Export and return how many dashboards it fetched."""
    before = len(emu.request_log)
    run_export(api, registry, out, cache=cache)
    return dashboard_fetches(emu, before)


def test_unchanged_instance_fetches_no_dashboard_and_writes_the_same_tree(instance, registry, tmp_path):
    emu, api = instance
    out = tmp_path / "tree"
    assert export(emu, api, registry, out) == 2
    first = files(out)
    assert export(emu, api, registry, out) == 0
    assert files(out) == first
    # The cache is beside the tree, never in it, and keeps itself out of git.
    assert not any(".mbport-cache" in p for p in first)
    assert (folder_for(out) / ".gitignore").read_text().strip().endswith("*")


def test_changed_dashboard_is_fetched_again_and_matches_a_cold_export(instance, registry, tmp_path):
    emu, api = instance
    out = tmp_path / "tree"
    export(emu, api, registry, out)
    dash = next(d for d in api.get("/api/dashboard") if d["name"] == "Customer insights")
    current = api.get(f"/api/dashboard/{dash['id']}")
    moved = [{**{k: dc.get(k) for k in ("id", "card_id", "action_id", "dashboard_tab_id", "row", "col", "size_x",
                                           "size_y", "parameter_mappings", "visualization_settings")},
              "row": dc["row"] + 1} for dc in current["dashcards"]]
    api.put(f"/api/dashboard/{dash['id']}", json={"dashcards": moved, "tabs": []})
    assert export(emu, api, registry, out) == 1
    export(emu, api, registry, tmp_path / "cold", cache=False)
    assert files(out) == files(tmp_path / "cold")


def test_card_deleted_from_under_a_cached_dashboard_is_noticed(instance, registry, tmp_path):
    """Deleting a card removes its dashcards without touching the dashboard's list row: the cached dashboard
    then points at a card that is gone, so it is fetched again instead of exporting a dangling ref."""
    emu, api = instance
    out = tmp_path / "tree"
    export(emu, api, registry, out)
    card = next(c for c in api.get("/api/card") if c["name"] == "Orders per customer")
    api.delete(f"/api/card/{card['id']}")
    result = run_export(api, registry, out)
    assert not [w for w in result.warnings if "does not exist" in w]
    run_export(api, registry, tmp_path / "cold", cache=False)
    assert files(out) == files(tmp_path / "cold")


def test_cache_of_another_instance_is_not_used(instance, registry, tmp_path):
    emu, api = instance
    out = tmp_path / "tree"
    export(emu, api, registry, out)
    other = MetabaseClient("http://other.test", session_token=api._auth.session, transport=emu.transport())
    before = len(emu.request_log)
    run_export(other, registry, out)
    assert dashboard_fetches(emu, before) == 2


# ---------------------------------------------------------------- what makes a cached dashboard stale

DASHCARD_KEYS = ("id", "card_id", "action_id", "dashboard_tab_id", "row", "col", "size_x", "size_y",
                 "parameter_mappings", "visualization_settings", "series")


@pytest.fixture
def boards(instance):
    """Four more dashboards, each on two tabs and showing a card of its own (no other dashboard shows it)."""
    emu, api = instance
    query = next(c for c in api.get("/api/card") if c["name"] == "Orders per customer")["dataset_query"]
    made = {}
    for name in ("North", "South", "East", "West"):
        card = api.post("/api/card", json={"name": f"{name} orders", "dataset_query": query, "display": "table",
                                           "visualization_settings": {}})
        dash = api.post("/api/dashboard", json={"name": f"{name} board"})
        api.put(f"/api/dashboard/{dash['id']}", json={
            "tabs": [{"id": -1, "name": "Overview"}, {"id": -2, "name": "Detail"}],
            "dashcards": [{"id": -1, "card_id": card["id"], "dashboard_tab_id": -1, "row": 0, "col": 0,
                           "size_x": 6, "size_y": 4, "visualization_settings": {}, "parameter_mappings": []}]})
        made[name] = (dash["id"], card["id"])
    return made


def _layout(api, dash_id: int) -> tuple[list[dict], list[dict]]:
    current = api.get(f"/api/dashboard/{dash_id}")
    dashcards = [{k: dc.get(k) for k in DASHCARD_KEYS} for dc in current["dashcards"]]
    tabs = [{"id": t["id"], "name": t["name"]} for t in current["tabs"]]
    return dashcards, tabs


def _move_dashcard(api, dash_id: int, card_id: int) -> None:
    dashcards, tabs = _layout(api, dash_id)
    api.put(f"/api/dashboard/{dash_id}", json={"dashcards": [{**dc, "row": dc["row"] + 2} for dc in dashcards],
                                               "tabs": tabs})


def _rename_tab(api, dash_id: int, card_id: int) -> None:
    dashcards, tabs = _layout(api, dash_id)
    api.put(f"/api/dashboard/{dash_id}", json={"dashcards": dashcards,
                                               "tabs": [tabs[0], {**tabs[1], "name": "Details"}]})


def _click_behaviour(api, dash_id: int, card_id: int) -> None:
    dashcards, tabs = _layout(api, dash_id)
    click = {"click_behavior": {"type": "link", "linkType": "url", "linkTemplate": "https://example.com/{{id}}"}}
    api.put(f"/api/dashboard/{dash_id}", json={"dashcards": [{**dc, "visualization_settings": click} for dc in dashcards],
                                               "tabs": tabs})


def _rename_card(api, dash_id: int, card_id: int) -> None:
    api.put(f"/api/card/{card_id}", json={"name": "Renamed orders"})


def _archive_card(api, dash_id: int, card_id: int) -> None:
    api.put(f"/api/card/{card_id}", json={"archived": True})


def fetched_dashboards(emu: Emulator, since: int) -> set[int]:
    return {int(path.rsplit("/", 1)[1]) for method, path, _ in emu.request_log[since:]
            if method == "GET" and DASHBOARD_GET.match(path)}


def test_the_creator_logging_in_and_views_fetch_no_dashboard_again(instance, boards, registry, tmp_path):
    """The list rows hydrate the creator (last_login moves on every login) and count views (view_count grows
    with every detail GET, the export's own included): neither is a change of the dashboard."""
    emu, api = instance
    out = tmp_path / "tree"
    export(emu, api, registry, out)
    rows_before = {d["id"]: d for d in api.get("/api/dashboard")}
    MetabaseClient("http://metabase.test", username=ADMIN_EMAIL, password=ADMIN_PASSWORD,
                   transport=emu.transport()).get("/api/user/current")
    api.get(f"/api/dashboard/{boards['North'][0]}")
    rows_after = {d["id"]: d for d in api.get("/api/dashboard")}
    assert all(rows_after[i]["creator"]["last_login"] != rows_before[i]["creator"]["last_login"] for i in rows_before)
    assert rows_after[boards["North"][0]]["view_count"] > rows_before[boards["North"][0]]["view_count"]
    assert export(emu, api, registry, out) == 0


@pytest.mark.parametrize("change", [_move_dashcard, _rename_tab, _click_behaviour, _rename_card, _archive_card],
                         ids=["dashcard moved", "tab renamed", "click behaviour", "card renamed", "card archived"])
def test_a_change_that_leaves_the_dashboard_row_alone_fetches_exactly_that_dashboard(
        instance, boards, registry, tmp_path, change):
    emu, api = instance
    out = tmp_path / "tree"
    export(emu, api, registry, out)
    dash_id, card_id = boards["East"]
    row_before = next(d for d in api.get("/api/dashboard") if d["id"] == dash_id)
    change(api, dash_id, card_id)
    row_after = next(d for d in api.get("/api/dashboard") if d["id"] == dash_id)
    assert row_after["updated_at"] == row_before["updated_at"]  # Metabase does not write the dashboard row
    before = len(emu.request_log)
    run_export(api, registry, out)
    assert fetched_dashboards(emu, before) == {dash_id}
    run_export(api, registry, tmp_path / "cold", cache=False)
    assert files(out) == files(tmp_path / "cold")


def test_a_card_restored_from_the_trash_shows_again_on_the_dashboards_that_hid_it(instance, boards, registry, tmp_path):
    """GET hides the dashcards of an archived card, so a cached dashboard does not know it showed the card:
    restoring any card fetches the dashboards again."""
    emu, api = instance
    dash_id, card_id = boards["West"]
    api.put(f"/api/card/{card_id}", json={"archived": True})
    out = tmp_path / "tree"
    export(emu, api, registry, out)
    api.put(f"/api/card/{card_id}", json={"archived": False})
    before = len(emu.request_log)
    run_export(api, registry, out)
    assert dash_id in fetched_dashboards(emu, before)
    run_export(api, registry, tmp_path / "cold", cache=False)
    assert files(out) == files(tmp_path / "cold")


def test_a_cached_detail_keeps_its_bytes_whatever_its_keys():
    """The cache writes a parsed answer (string keys) without orjson's slower non-string-key option, and one a
    kind's code gave other keys with it: the same bytes either way."""
    import orjson

    from mbport.cache import _dumps

    parsed = {"id": 1, "dashcards": [{"id": 2, "card": {"name": "é"}}], "n": None}
    assert _dumps(parsed) == orjson.dumps(parsed, option=orjson.OPT_NON_STR_KEYS)
    assert orjson.loads(_dumps({1: {2: "x"}})) == {"1": {"2": "x"}}
