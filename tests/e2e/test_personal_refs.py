"""Shared content using a question from someone's personal collection (a common sight: a team dashboard showing a
question its author kept in their own collection), exported without --include-personal: the export takes that
question along, with the personal collection (and sub-collection) it sits in, and says so, so that the tree holds
every object it refers to and `check` accepts it; the rest of the personal collections stay out. (The export warned
about a ref the tree lacked, and `check` refused the tree.) Judged by what a fresh target holds after the import."""

from __future__ import annotations

from mbport.check import check, load_tree
from mbport.client import MetabaseClient
from mbport.engine import Importer
from mbport.export import run_export
from mbport.state import State
from mbport.verify import run_verify
from tests.conftest import seeded_emulator, seeded_instance
from tests.e2e.instances import mbport, routed_instances


def imported_into_a_fresh_instance(tree, state, registry) -> MetabaseClient:
    """A new instance holding `tree`, imported with no plan problem and no failed write."""
    _, target = seeded_instance()
    imp = Importer(target, registry, load_tree(tree, registry), State.load(state, target.url), {})
    plan = imp.plan()
    assert plan.problems == []
    assert imp.apply(plan).failed == {}
    return target


def _board(api: MetabaseClient) -> list[tuple[str, str | None]]:
    """(card name, email of the owner of the personal collection it sits in, else None) per dashcard of Team board."""
    users = {u["id"]: u["email"] for u in api.get("/api/user")["data"]}
    collections = {c["id"]: c for c in api.get("/api/collection") if isinstance(c.get("id"), int)}

    def owner(cid):
        coll = collections.get(cid) or {}
        ancestors = [int(a) for a in (coll.get("location") or "/").strip("/").split("/") if a]
        root = collections.get(ancestors[0]) if ancestors else coll
        return users.get((root or {}).get("personal_owner_id"))

    dash = next(d for d in api.get("/api/dashboard") if d["name"] == "Team board")
    out = []
    for dc in api.get(f"/api/dashboard/{dash['id']}")["dashcards"]:
        card = api.get(f"/api/card/{dc['card_id']}")
        out.append((card["name"], owner(card.get("collection_id"))))
    return out


def test_a_personal_question_shared_content_uses_is_taken_along_and_the_tree_imports(registry, tmp_path):
    emu, source = seeded_instance("handmade")  # its Team board shows Rita's drafts question (a personal sub-collection)
    shared = run_export(source, registry, tmp_path / "shared")
    assert shared.warnings == []
    assert sorted(shared.taken_along.values()) == ["Rita Reporter's Personal Collection", "Rita's drafts",
                                                   "Rita's order count"], shared.taken_along
    assert check(tmp_path / "shared", registry) == []
    personal = sorted(p.relative_to(tmp_path / "shared").as_posix()
                      for p in (tmp_path / "shared").rglob("*.json") if "@personal" in p.as_posix())
    assert personal and all("rita-handmade-example" in p for p in personal), personal  # nothing of Tom's
    assert not any("big-customers" in p for p in personal)  # nor what no shared content uses
    target = imported_into_a_fresh_instance(tmp_path / "shared", tmp_path / "state.json", registry)
    assert _board(target) == _board(source) == [("Rita's order count", "rita@handmade.example")]
    # verify names the personal question the team board shows alike on both sides (it named it by each instance's
    # own id, so every such dashcard differed on an exact copy), with or without the import's state
    for state_ids in (None, State.load(tmp_path / "state.json", target.url).ids):
        result = run_verify(source, target, state_ids=state_ids, queries=False)
        assert result.differences == [], [d.__dict__ if hasattr(d, "__dict__") else d for d in result.differences]


def test_with_include_personal_nothing_is_taken_along(registry, tmp_path):
    emu, session = seeded_emulator("handmade", sqlite_actions=True)
    with MetabaseClient("http://metabase.test", session_token=session, transport=emu.transport()) as api:
        everything = run_export(api, registry, tmp_path / "all", options={"include_personal": True})
    assert everything.warnings == [] and everything.taken_along == {}
    assert check(tmp_path / "all", registry) == []


def test_export_says_what_it_took_along_and_check_accepts_the_tree(monkeypatch, tmp_path):
    source = routed_instances(monkeypatch).add("source", seed="handmade")  # with its Team board
    run = mbport("export", "--url", source.url, "--session-token", source.session, "--out", tmp_path / "tree")
    assert run.code == 0, run.err
    assert "Took along 3 object(s) from personal collections that shared content uses" in run.err, run.err
    assert "Rita's order count (cards/" in run.err and "Rita's drafts (collections/" in run.err, run.err
    assert mbport("check", tmp_path / "tree").code == 0


def test_diff_against_the_unchanged_instance_after_a_take_along_export_finds_no_drift(monkeypatch, tmp_path):
    """The live side of `diff TREE --url` is exported as the tree was (the manifest says without include_personal),
    so it takes along the same objects, not every personal collection; likewise a `backup --exclude-personal`."""
    source = routed_instances(monkeypatch).add("source", seed="handmade")
    with source.api() as api:
        card = next(c for c in api.get("/api/card", params={"f": "all"}).json() if c["name"] == "Rita's order count")
        dashboard = api.post("/api/dashboard", json={"name": "Team board"}).json()
        api.put(f"/api/dashboard/{dashboard['id']}", json={"dashcards": [
            {"id": -1, "card_id": card["id"], "row": 0, "col": 0, "size_x": 6, "size_y": 4}]})
    login = ("--url", source.url, "--session-token", source.session)
    assert mbport("export", *login, "--out", tmp_path / "tree").code == 0
    run = mbport("diff", tmp_path / "tree", *login, "--exit-code")
    assert run.code == 0 and run.out == "", run.out
    assert "No differences" in run.err, run.err
    backup = mbport("backup", *login, "--repo", tmp_path / "repo", "--exclude-personal")
    assert backup.code == 0, backup.err
    run = mbport("diff", "--repo", tmp_path / "repo", "HEAD", *login, "--exit-code")
    assert run.code == 0 and run.out == "", run.out


def _buttons(api: MetabaseClient) -> list[tuple[str, str, str | None]]:
    """(action name, model name, email of the owner of the personal collection the model sits in) per action button
    of Ops board."""
    users = {u["id"]: u["email"] for u in api.get("/api/user")["data"]}
    collections = {c["id"]: c for c in api.get("/api/collection") if isinstance(c.get("id"), int)}
    dash = next(d for d in api.get("/api/dashboard") if d["name"] == "Ops board")
    out = []
    for dc in api.get(f"/api/dashboard/{dash['id']}")["dashcards"]:
        if dc.get("action_id"):
            action = api.get(f"/api/action/{dc['action_id']}")
            model = api.get(f"/api/card/{action['model_id']}")
            owner = (collections.get(model.get("collection_id")) or {}).get("personal_owner_id")
            out.append((action["name"], model["name"], users.get(owner)))
    return out


def test_an_action_button_whose_model_sits_in_a_personal_collection_is_taken_along(registry, tmp_path):
    """A team dashboard's button runs an action of a model its author keeps in their personal collection: the action
    is held back with its model and taken along with it (the export warned that the dashcard referred to an action
    that does not exist, and `check` refused the tree)."""
    emu, source = seeded_instance("handmade")
    rita = next(u["id"] for u in source.get("/api/user")["data"] if u["email"] == "rita@handmade.example")
    home = next(c["id"] for c in source.get("/api/collection") if c.get("personal_owner_id") == rita)
    model = next(c for c in source.get("/api/card", params={"f": "all"}) if c["name"] == "Orders to fix")
    source.put(f"/api/card/{model['id']}", json={"collection_id": home})
    action = next(a for a in source.get("/api/action") if a["name"] == "Void an order")
    dashboard = source.post("/api/dashboard", json={"name": "Ops board"})
    source.put(f"/api/dashboard/{dashboard['id']}", json={"dashcards": [
        {"id": -1, "card_id": None, "action_id": action["id"], "row": 0, "col": 0, "size_x": 4, "size_y": 1,
         "visualization_settings": {}}], "tabs": []})
    shared = run_export(source, registry, tmp_path / "shared")
    assert shared.warnings == []
    assert {"Void an order", "Orders to fix", "Rita Reporter's Personal Collection"} <= set(shared.taken_along.values())
    assert "Edit an order" not in shared.taken_along.values()  # no button runs it
    assert check(tmp_path / "shared", registry) == []
    target = imported_into_a_fresh_instance(tmp_path / "shared", tmp_path / "state.json", registry)
    assert _buttons(target) == _buttons(source) == [("Void an order", "Orders to fix", "rita@handmade.example")]
