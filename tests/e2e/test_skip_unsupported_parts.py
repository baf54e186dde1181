"""--skip-unsupported leaves out only the parts of an object the target cannot hold when the object is whole without
them: a table's Data Studio settings (0.59+: owner, layer, source, authority) on an older release, its Library
publication on a target without the `library` feature, a paid setting (`whitelabel`, `ai_controls`) or a Metabot's
"verified content only" (`content_verification`) on an OSS target. The tables, the content on them and the other settings are imported; plan and import name what was left
out. (They made whole tables unsupported, and with them every card and dashboard on them; paid settings stayed plan
problems that stopped the import.) Judged by what the target holds after the import."""

from __future__ import annotations

from tests.e2e.instances import Instance, mbport
from tests.e2e.test_current_studio import (
    current_instance,
    export_current,
    flags,
    instances,
    table,
    user_email,
)

__all__ = ["instances"]  # the fixture


def cards_on(inst: Instance) -> set[str]:
    with inst.api() as api:
        return {c["name"] for c in api.get("/api/card", params={"f": "all"}).json()}


def settings(inst: Instance) -> dict:
    with inst.api() as api:
        return {s["key"]: s["value"] for s in api.get("/api/setting").json()}


def dashcards(inst: Instance, name: str) -> list[str]:
    with inst.api() as api:
        dash = next(d for d in api.get("/api/dashboard").json() if d["name"] == name)
        cards = {c["id"]: c["name"] for c in api.get("/api/card", params={"f": "all"}).json()}
        return sorted(cards[dc["card_id"]] for dc in api.get(f"/api/dashboard/{dash['id']}").json()["dashcards"])


def metabots(inst: Instance) -> dict[str, tuple[bool, str | None]]:
    with inst.api() as api:
        collections = {c["id"]: c["name"] for c in api.get("/api/collection").json() if isinstance(c.get("id"), int)}
        return {m["entity_id"]: (m["use_verified_content"], collections.get(m["collection_id"]))
                for m in api.get("/api/metabot/metabot").json()["items"]}


def warnings(run) -> list[str]:
    return [line for line in run.err.splitlines() if line.startswith("Warning: Written without (--skip-unsupported)")]


def test_tables_with_data_studio_settings_go_into_an_older_release_without_only_those(instances, tmp_path):
    source, tree = export_current(instances, tmp_path)
    target = current_instance(instances, "older", profile="0.56", premium="all")
    refused = mbport("plan", tree, *flags(target, tmp_path))
    assert refused.code == 1
    assert any(line.startswith("Problem: tables/Handmade Warehouse//orders: the target cannot hold 'data_authority'")
               and "Data Studio table settings" in line and "--skip-unsupported writes the rest of the table" in line
               for line in refused.err.splitlines()), refused.err
    run = mbport("import", tree, *flags(target, tmp_path, "--skip-unsupported"))
    assert run.code == 3, run.err
    said = warnings(run)
    assert any("tables/Handmade Warehouse//orders: " in w and "'owner'" in w and "Data Studio table settings" in w
               for w in said), run.err
    assert any("tables/Handmade Warehouse//products: " in w and "'data_layer'" in w for w in said), run.err
    assert not any(line.startswith("Warning: Skipped (--skip-unsupported): tables/") for line in run.err.splitlines())
    # the questions and dashboards on those tables are on the target (they went with the tables)
    assert {"Orders by product", "Big orders"} <= cards_on(target)
    assert dashcards(target, "Sales") == ["Big orders", "Orders by product"]
    orders = table(target, "orders")
    assert "owner_user_id" not in orders and "data_layer" not in orders  # a 0.56 table has no such columns
    again = mbport("plan", tree, *flags(target, tmp_path, "--skip-unsupported"))
    assert "Plan: 0 to create, 0 to update" in again.out, again.out


def test_an_oss_target_gets_tables_unpublished_and_the_settings_and_metabot_it_can_hold(instances, tmp_path):
    source, tree = export_current(instances, tmp_path)
    target = current_instance(instances, "oss", profile="0.65", premium=None)
    refused = mbport("plan", tree, *flags(target, tmp_path))
    assert refused.code == 1
    assert any("settings/instance: the target cannot hold 'application-colors'" in line and "whitelabel" in line
               for line in refused.err.splitlines()), refused.err
    run = mbport("import", tree, *flags(target, tmp_path, "--skip-unsupported"))
    assert run.code == 3, run.err
    said = warnings(run)
    assert any("settings/instance: " in w and "'application-colors'" in w and "whitelabel" in w for w in said), said
    assert any("settings/instance: " in w and "'metabot-name'" in w and "ai_controls" in w for w in said), said
    assert any("tables/Handmade Warehouse//orders: 'published_in'" in w and "library" in w for w in said), said
    held, wanted = settings(target), settings(source)
    # the settings its token allows are written; the paid ones are not
    assert held["csv-field-separator"] == ";" and held["breakout-bins-num"] == 12
    assert held["aggregated-query-row-limit"] == 5000 and held["custom-homepage"] is True
    assert wanted["application-colors"] == {"brand": "#6C3BAA"} and held.get("application-colors") != wanted["application-colors"]
    assert held.get("metabot-name") != "Ask Handmade"
    # orders: its Data Studio settings (OSS from 0.59) written, its Library publication not (a Library needs the feature)
    orders = table(target, "orders")
    assert user_email(target, orders["owner_user_id"]) == "rita@handmade.example"
    assert (orders["data_source"], orders["data_authority"], orders["is_published"]) == ("source-data", "authoritative", False)
    assert table(target, "products")["data_layer"] == "final"
    assert {"Orders by product", "Big orders"} <= cards_on(target)
    # Metabot: its collection written, "verified content only" not (content_verification): it uses all of it
    assert any("metabots/metabotmetabotmetabot: 'use_verified_content'" in w and "content_verification" in w
               for w in said), said
    assert metabots(source)["metabotmetabotmetabot"] == (True, "Analytics")
    assert metabots(target)["metabotmetabotmetabot"] == (False, "Analytics")
    again = mbport("plan", tree, *flags(target, tmp_path, "--skip-unsupported"))
    assert "Plan: 0 to create, 0 to update" in again.out, again.out
