"""A state written for one instance, used against another rebuilt at the same URL (a staging instance recreated,
a container restarted on an empty volume): its ids point at unrelated objects there, so the import stops before
reading or writing anything instead of rewriting them."""

from __future__ import annotations

import orjson
import pytest

from mbport.errors import MbportError
from tests.conftest import writes_since

from .conftest import client, open_into, target


def test_a_state_of_a_rebuilt_instance_is_refused_before_any_write(source, registry, tmp_path):
    _, _, tree, _ = source
    state = tmp_path / "state.json"
    first, first_session = target()
    assert not open_into(first, first_session, tree, state, registry).apply().failed
    recorded = orjson.loads(state.read_bytes())
    assert recorded["instance"] == first.state.settings["site-uuid"]

    rebuilt, session = target()  # the same URL (http://target.test), a new instance with its own content
    with client(rebuilt, session) as api:
        for name in ("Team A", "Team B", "Team C"):
            api.post("/api/collection", json={"name": name})
    before = len(rebuilt.request_log)
    with pytest.raises(MbportError, match="ids of another Metabase instance"):
        open_into(rebuilt, session, tree, state, registry).plan()
    assert writes_since(rebuilt, before) == []
    assert orjson.loads(state.read_bytes()) == recorded  # the state is kept for the instance it belongs to

    moved = tmp_path / "fresh-state.json"  # what the hint says: a new state finds the objects by name again
    assert not open_into(rebuilt, session, tree, moved, registry).apply().failed
    with client(rebuilt, session) as api:
        names = {c["name"] for c in api.get("/api/collection")}
    assert {"Team A", "Team B", "Team C"} <= names


def test_a_state_written_before_instances_were_recorded_learns_its_instance(source, registry, tmp_path):
    _, _, tree, _ = source
    state = tmp_path / "state.json"
    emu, session = target()
    assert not open_into(emu, session, tree, state, registry).apply().failed
    old = orjson.loads(state.read_bytes())
    del old["instance"]
    state.write_bytes(orjson.dumps(old))
    plan = open_into(emu, session, tree, state, registry).plan()  # the same instance: nothing to refuse
    assert not plan.has_changes
    assert not open_into(emu, session, tree, state, registry).apply().failed
    assert orjson.loads(state.read_bytes())["instance"] == emu.state.settings["site-uuid"]



def test_where_the_target_keeps_its_site_uuid_to_itself_the_entity_ids_tell(source, registry, tmp_path, monkeypatch):
    """A release that does not tell its site-uuid (older ones keep it internal): the state recorded the entity_id the
    target gave each object, and an id that now names an object with another one (Team A where 'Company' was) stops
    the run, naming the state file, before any write (the collections there are not renamed)."""
    monkeypatch.setattr("mbport.match.site_uuid", lambda api: None)
    _, _, tree, _ = source
    state = tmp_path / "state.json"
    first, first_session = target()
    assert not open_into(first, first_session, tree, state, registry).apply().failed
    recorded = orjson.loads(state.read_bytes())
    collections = {a: i for a, i in recorded["ids"].items() if a.startswith("collections/")}
    with client(first, first_session) as api:
        assert "instance" not in recorded and {a: recorded["eids"][a] for a in collections} == {
            a: api.get(f"/api/collection/{i}")["entity_id"] for a, i in collections.items()}

    rebuilt, session = target()
    with client(rebuilt, session) as api:
        teams = [api.post("/api/collection", json={"name": f"Team {n}"}) for n in "ABCDEFGH"]
    assert {t["id"] for t in teams} & set(collections.values())  # the state's ids name these now
    before = len(rebuilt.request_log)
    with pytest.raises(MbportError, match=f"^{state}: this state holds the ids of another Metabase instance"):
        open_into(rebuilt, session, tree, state, registry).apply()
    assert writes_since(rebuilt, before) == []
    assert orjson.loads(state.read_bytes()) == recorded
    with client(rebuilt, session) as api:
        assert sorted(c["name"] for c in api.get("/api/collection") if isinstance(c["id"], int)
                      and not c.get("personal_owner_id")) == [f"Team {n}" for n in "ABCDEFGH"]
