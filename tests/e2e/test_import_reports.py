"""What `import` and `plan` tell their operator: writes made before a stop, resuming, problems once, plan lines."""

from __future__ import annotations

import json
import re
import shutil

import pytest

from mbport.client import ApiError
from tests.conftest import writes_since
from tests.e2e.instances import mbport, routed_instances, write_secrets


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """A seeded source and its exported tree; each test imports into fresh emulators of its own."""
    with pytest.MonkeyPatch.context() as mp:
        instances = routed_instances(mp)
        source = instances.add("rsrc", seed="sample")
        root = tmp_path_factory.mktemp("reports")
        tree = root / "tree"
        run = mbport("export", "--url", source.url, "--session-token", source.session, "--out", tree)
        assert run.code in (0, 3), run.err
        yield {"source": source, "tree": tree, "secrets": write_secrets(root / "secrets.json")}


@pytest.fixture
def instances(monkeypatch):
    return routed_instances(monkeypatch)


def import_into(world, inst, *more):
    return mbport("import", world["tree"], "--secrets", world["secrets"], "--url", inst.url,
                  "--session-token", inst.session, *more)


def imported_copy(world, inst, tmp_path):
    """A copy of the world's tree imported into `inst` (tests that edit the tree next): inst, tree, its flags."""
    tree = tmp_path / "tree"
    shutil.copytree(world["tree"], tree)
    conn = ["--secrets", world["secrets"], "--url", inst.url, "--session-token", inst.session]
    assert mbport("import", tree, *conn).code == 0
    return inst, tree, conn


def applied(run) -> int:
    return int(re.search(r"^Applied: (\d+) writes?\b", run.out, re.M).group(1))


def changed(run) -> int:
    found = re.search(r"^Applied: \d+ writes? to (\d+) objects?", run.out, re.M)
    return int(found.group(1)) if found else 0


def test_applied_counts_the_write_requests_sent_not_the_objects_gone_through(world, instances, tmp_path):
    """`Applied: N writes` is the POST/PUT/DELETE requests the target served. Into a fresh target, the handmade
    tree's permission graphs are compared after the creates (`~?`) and need no write: they are reported as found as
    the tree says, not as writes; a re-import that changes nothing says 0 writes."""
    target = instances.add("counted")
    conn = ("--secrets", world["secrets"], "--url", target.url, "--session-token", target.session,
            "--state", tmp_path / "state.json")
    source, tree = instances.add("handmade", seed="handmade"), tmp_path / "tree"
    assert mbport("export", "--url", source.url, "--session-token", source.session, "--out", tree).code == 0
    before = len(target.emu.request_log)
    first = mbport("--json", "import", tree, *conn)
    assert first.code == 0, first.err
    sent = writes_since(target.emu, before)
    events = [json.loads(line) for line in first.out.splitlines()]
    summary = events[-1]
    graphs = [e for e in events if e["type"] == "change" and e["action"] == "after-creates"]
    assert len(graphs) == 3 and not [w for w in sent if w[1].endswith("/graph")], sent  # ~? found as the tree says
    assert summary["written"] == len(sent) and summary["changed"] <= len(sent), (summary, len(sent))
    planned = sum(summary["plan"][a] for a in ("create", "update", "match-after-sync", "adopt", "after-creates"))
    assert summary["changed"] + summary["as_tree"] == planned and summary["as_tree"] >= len(graphs), summary
    before = len(target.emu.request_log)
    again = mbport("import", tree, *conn)
    assert again.code == 0, again.err
    assert writes_since(target.emu, before) == []
    assert "Applied: 0 writes." in again.out.splitlines(), again.out


@pytest.mark.parametrize("stop", [ApiError("POST", "/api/native-query-snippet", 500, "boom"), KeyboardInterrupt()])
def test_a_stopped_import_says_how_far_it_got_and_that_a_rerun_resumes(world, instances, monkeypatch, stop, tmp_path):
    from mbport_plugins.snippets import Snippets

    # Each case's "clean" is a new emulator at the same URL: a state of its own (a shared one belongs to the other's).
    clean = import_into(world, instances.add("clean"), "--state", tmp_path / "clean-state.json")
    assert clean.code == 0, clean.err
    real = Snippets.create

    def fail(*_a, **_kw):
        raise stop

    monkeypatch.setattr(Snippets, "create", fail)
    target = instances.add("stopped")
    # A state of its own: the default one beside the shared tree would hold the other case's ids (another emulator).
    state = ("--state", tmp_path / "stopped-state.json")
    run = import_into(world, target, *state)
    assert run.code == (130 if isinstance(stop, KeyboardInterrupt) else 1), run.err
    found = re.search(r"stopped after (\d+) writes? \(recorded in (\S+)\); run the same command again to resume", run.err)
    assert found, run.err
    before = int(found.group(1))
    assert before > 0 and found.group(2).endswith(".json")
    monkeypatch.setattr(Snippets, "create", real)
    resumed = import_into(world, target, *state)
    assert resumed.code == 0, resumed.err
    # what the stopped run wrote is not written again: the rerun does the rest, less than a whole import (a few
    # requests of objects the stop left half-written, a dashboard's cards, are sent again: counted by object)
    assert before < applied(clean) and applied(resumed) < applied(clean)
    assert changed(resumed) < changed(clean)


def test_one_write_is_singular_and_problems_are_listed_once(world, instances, tmp_path):
    target = instances.add("single")
    tree = tmp_path / "tree"
    shutil.copytree(world["tree"], tree)
    first = mbport("import", tree, "--secrets", world["secrets"], "--url", target.url, "--session-token", target.session)
    assert first.code == 0, first.err
    path = tree / "cards/company/sales/revenue-by-month.json"
    doc = json.loads(path.read_text())
    doc["display"] = "bar"
    path.write_text(json.dumps(doc))
    again = mbport("import", tree, "--secrets", world["secrets"], "--url", target.url, "--session-token", target.session)
    assert again.code == 0 and "Applied: 1 write to 1 object." in again.out.splitlines(), again.out
    fresh = instances.add("nosecret")
    missing = mbport("import", tree, "--url", fresh.url, "--session-token", fresh.session)
    assert missing.code == 1
    mentions = [line for line in missing.err.splitlines() if "MBPORT_SECRET_DATABASES_FINANCE_PASSWORD" in line]
    assert len(mentions) == 1, missing.err
    assert "Error: 1 problem(s) stop the import; nothing was written" in missing.err.splitlines()


LINE = re.compile(r"^[+~?-] [a-z-]+ '[^']+' \([a-z-]+/[^)]+\)(: .+)?$")


def test_plan_lines_name_every_object_explain_the_marks_and_what_is_skipped(world, instances):
    fresh = instances.add("planning")
    run = mbport("plan", world["tree"], "--secrets", world["secrets"], "--url", fresh.url, "--session-token", fresh.session)
    assert run.code == 0, run.err
    lines = run.out.splitlines()
    changes = [line for line in lines if line[:2] in ("+ ", "~ ", "? ", "- ") and not line.startswith("? = ")]
    assert changes and all(LINE.match(line) for line in changes), [x for x in changes if not LINE.match(x)]
    after_sync = [line for line in changes if line.startswith("? ")]
    assert after_sync and all(line.startswith(("? table '", "? field '")) for line in after_sync)
    summary = next(line for line in lines if line.startswith("Plan: "))
    assert f", {len(after_sync)} to match after sync (?)" in summary, summary
    assert any(line.startswith("? = ") and "first sync" in line for line in lines)
    api_keys = sorted(json.loads(p.read_text())["name"] for p in (world["tree"] / "api-keys").glob("*.json"))
    assert 0 < len(api_keys) <= 3, api_keys  # each named below (a longer list names three, then counts the rest)
    assert f"Left out: {', '.join(f'api key {k!r}' for k in api_keys)} (API keys are recreated only with " \
           "--with-api-keys)." in lines, lines
    assert summary.endswith(f", {len(api_keys)} left out."), summary
    alert = next(line for line in changes if line.startswith("+ alert "))
    card = json.loads(next((world["tree"] / "alerts").rglob("*.json")).read_text())["payload"]["card"]["$ref"]
    card_name = next(json.loads(p.read_text())["name"] for p in (world["tree"] / "cards").rglob("*.json")
                     if f"cards/{json.loads(p.read_text())['entity_id']}" == card)
    assert alert.startswith(f"+ alert '{card_name}' (alerts/"), alert
    with_keys = mbport("plan", world["tree"], "--secrets", world["secrets"], "--with-api-keys", "--url", fresh.url,
                       "--session-token", fresh.session)
    assert "Left out:" not in with_keys.out and "+ api key 'CI export'" in with_keys.out, [x for x in with_keys.out.splitlines() if "api-key" in x or "Skipped" in x]


def test_a_selective_plan_speaks_only_of_what_was_selected(world, instances):
    """A plan of one card says nothing of the API keys it was never asked to import; one of an API key without
    --with-api-keys says that key is left out, and why."""
    fresh = instances.add("selecting")
    conn = ("--secrets", world["secrets"], "--url", fresh.url, "--session-token", fresh.session)
    card = mbport("plan", world["tree"], "--select", "card:Revenue by month", *conn)
    assert card.code == 0, card.err
    assert "+ card 'Revenue by month'" in card.out
    assert "Left out" not in card.out and "Skipped" not in card.out and "api" not in card.out.lower(), card.out
    assert "left out" not in next(line for line in card.out.splitlines() if line.startswith("Plan: "))
    key = mbport("plan", world["tree"], "--select", "api-keys:CI export", *conn)
    assert key.code == 0, key.err
    assert "Left out: api key 'CI export' (API keys are recreated only with --with-api-keys)." in key.out.splitlines()


def test_promoting_a_collection_shows_the_same_named_card_it_overwrites(world, instances, tmp_path):
    """README (Backups): promoting a collection overwrites the target's same-named card there, and plan shows it."""
    prod = instances.add("prod")
    assert import_into(world, prod, "--state", tmp_path / "first.json").code == 0
    card = prod.card("Revenue by month")
    with prod.api() as api:  # prod's own edit of its card, made there after the first promotion
        api.put(f"/api/card/{card['id']}", json={"display": "pie"}).raise_for_status()
    # No state (another person's promotion): the card is matched by its collection and name.
    run = mbport("plan", world["tree"], "--select", "collection:Sales", "--secrets", world["secrets"], "--url",
                 prod.url, "--session-token", prod.session, "--state", tmp_path / "other.json")
    assert run.code == 0, run.err
    line = next(x for x in run.out.splitlines() if x.startswith("~ card 'Revenue by month'"))
    assert line.endswith(": display"), line


def test_a_pruned_object_is_named(world, instances, tmp_path):
    target, tree, conn = imported_copy(world, instances.add("pruning"), tmp_path)
    texts = {p: p.read_text() for p in tree.rglob("*.json")}
    card, doc = next((p, json.loads(t)) for p, t in sorted(texts.items())
                     if p.is_relative_to(tree / "cards") and not json.loads(t).get("archived")  # else nothing to do
                     and not any(f"cards/{json.loads(t)['entity_id']}" in o for q, o in texts.items() if q != p))
    card.unlink()  # a card nothing else uses
    run = mbport("plan", tree, *conn, "--prune")
    assert f"- card '{doc['name']}' (cards/{doc['entity_id']})" in run.out.splitlines(), run.out


def test_alert_files_are_named_by_their_card_and_older_trees_still_load(world, instances, tmp_path):
    alerts = sorted(p.relative_to(world["tree"]).as_posix() for p in (world["tree"] / "alerts").rglob("*.json"))
    cards = {json.loads(p.read_text())["entity_id"]: p.relative_to(world["tree"] / "cards").with_suffix("").as_posix()
             for p in (world["tree"] / "cards").rglob("*.json")}
    for rel in alerts:
        card = json.loads((world["tree"] / rel).read_text())["payload"]["card"]["$ref"].split("/")[1]
        assert rel.startswith(f"alerts/{cards[card]}/alert-"), (rel, cards[card])
    old = tmp_path / "old"
    shutil.copytree(world["tree"], old)
    for rel in alerts:  # where format 1 trees before this kept them: a folder named after the card's entity id
        doc = json.loads((old / rel).read_text())
        card = doc["payload"]["card"]["$ref"].split("/")[1]
        (old / rel).unlink()
        target = old / "alerts" / card.lower() / f"alert-{doc['ordinal']}.json"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(doc))
    assert mbport("check", old).code == 0
    assert mbport("diff", world["tree"], old, "--exit-code").code == 0


def test_prune_leaves_an_object_the_tree_still_holds_under_a_new_entity_id(world, instances, tmp_path):
    """A dashboard deleted and restored on the source gets a new entity id; the next import matches it to the same
    target dashboard by name, so the state holds both addresses for one id. --prune archived that dashboard (the
    old address is no longer in the tree), and with it its subscription."""
    target, tree, conn = imported_copy(world, instances.add("pruning-renewed"), tmp_path)
    path = next(p for p in (tree / "dashboards").rglob("*.json") if json.loads(p.read_text())["name"] == "Sales overview")
    old_eid, new_eid = json.loads(path.read_text())["entity_id"], "RenewedSalesOverview1"
    for p in tree.rglob("*.json"):  # the next export: the same dashboard under its new entity id, refs included
        p.write_text(p.read_text().replace(old_eid, new_eid))
    again = mbport("import", tree, *conn)
    assert again.code == 0 and "+ dashboard 'Sales overview'" not in again.out, again.out
    pruned = mbport("import", tree, *conn, "--prune")
    assert pruned.code == 0, pruned.err
    assert "- dashboard 'Sales overview'" not in pruned.out and "- subscription" not in pruned.out, pruned.out
    with target.api() as api:
        live = next(d for d in api.get("/api/dashboard/", params={"f": "all"}).json() if d["name"] == "Sales overview")
        assert not live["archived"]
        assert [p for p in api.get("/api/pulse").json() if p["dashboard_id"] == live["id"]]


def test_an_object_that_leaves_the_tree_after_a_new_entity_id_is_pruned_once(world, instances, tmp_path):
    """A card under a new entity id (deleted and restored on the source), then gone from the tree: --prune archives it
    once (the state still held its old address beside the new one, both with its id: a '-' line for each, and a
    second DELETE that 404s for the kinds pruning deletes)."""
    target, tree, conn = imported_copy(world, instances.add("pruning-renewed-gone"), tmp_path)
    texts = {p: p.read_text() for p in tree.rglob("*.json")}
    card, doc = next((p, json.loads(t)) for p, t in sorted(texts.items())
                     if p.is_relative_to(tree / "cards") and not json.loads(t).get("archived")
                     and not any(json.loads(t)["entity_id"] in o for q, o in texts.items() if q != p))
    new_eid = "RenewedCardNobodyUses"
    card.write_text(card.read_text().replace(doc["entity_id"], new_eid))
    again = mbport("import", tree, *conn)
    assert again.code == 0 and f"+ card '{doc['name']}'" not in again.out, again.out
    card.unlink()
    pruned = mbport("import", tree, *conn, "--prune")
    assert pruned.code == 0, pruned.err
    assert [line for line in pruned.out.splitlines() if line.startswith("- ")] == [
        f"- card '{doc['name']}' (cards/{new_eid})"], pruned.out
    with target.api() as api:
        assert [c["archived"] for c in api.get("/api/card", params={"f": "all"}).json() if c["name"] == doc["name"]] \
            in ([True], [])
