"""State files: durable after every record, replayed after a kill, refused for another target."""

import pytest

from mbport.errors import MbportError
from mbport.state import State


def test_records_survive_without_save_and_torn_lines_are_ignored(tmp_path):
    path = tmp_path / "s.json"
    state = State.load(path, "http://b")
    state.record("cards/x", 5, created=True)
    state.record("users/a@b.c", 2)
    # a killed run: no save(); the journal holds the records, its last line torn
    with open(state.journal_path, "ab") as fh:
        fh.write(b'{"a": "cards/y", "i')
    again = State.load(path, "http://b")
    assert again.ids == {"cards/x": 5, "users/a@b.c": 2}
    assert again.created == {"cards/x"}


def test_save_compacts_the_journal_and_forget_is_durable(tmp_path):
    path = tmp_path / "s.json"
    state = State.load(path, "http://b")
    state.record("cards/x", 5, created=True)
    state.save()
    assert path.exists() and not state.journal_path.exists()
    state.forget("cards/x")
    assert State.load(path, "http://b").ids == {}


def test_state_of_another_target_is_refused(tmp_path):
    path = tmp_path / "s.json"
    state = State.load(path, "http://a")
    state.record("x/y", 1)
    state.save()
    with pytest.raises(MbportError, match="belongs to http://a, not http://b"):
        State.load(path, "http://b")


def test_corrupt_state_is_a_clear_error(tmp_path):
    path = tmp_path / "s.json"
    path.write_text("{oops")
    with pytest.raises(MbportError, match="not valid JSON"):
        State.load(path, "http://b")


def test_new_api_keys_file_survives_concurrent_creates(tmp_path):
    """Keys created in one generation are written from several threads: none may be lost."""
    from concurrent.futures import ThreadPoolExecutor

    import orjson
    from mbport_plugins.api_keys import save_new_key

    path = tmp_path / "keys.json"
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda i: save_new_key(path, f"key {i}", f"mb_value{i:04d}xxxxxxxx"), range(40)))
    assert len(orjson.loads(path.read_bytes())) == 40
    assert path.stat().st_mode & 0o777 == 0o600


def test_how_a_database_was_matched_is_remembered_through_the_journal_and_the_snapshot(tmp_path):
    path = tmp_path / "s.json"
    state = State.load(path, "http://b")
    state.record("databases/Shop", 3)
    state.remember("databases/Shop", "Warehouse B")
    assert State.load(path, "http://b").memos == {"databases/Shop": "Warehouse B"}  # killed before save
    state.save()
    assert State.load(path, "http://b").memos == {"databases/Shop": "Warehouse B"}
    state.remember("databases/Shop", None)  # matched by name again
    assert State.load(path, "http://b").memos == {}


def test_each_objects_target_entity_id_is_kept_and_an_id_naming_another_object_is_refused(tmp_path):
    path = tmp_path / "s.json"
    state = State.load(path, "http://b")
    state.record("cards/x", 5, created=True, entity_id="eid-of-5")
    state.record("cards/y", 6)
    assert State.load(path, "http://b").eids == {"cards/x": "eid-of-5"}  # killed before save: from the journal
    state.save()
    state = State.load(path, "http://b")
    assert state.eids == {"cards/x": "eid-of-5"}
    state.check_object("cards/x", {"id": 5, "entity_id": "eid-of-5"})  # the same object
    state.check_object("cards/y", {"id": 6, "entity_id": "anything"})  # nothing recorded: nothing to tell
    with pytest.raises(MbportError, match=rf"^{path}: this state holds the ids of another Metabase instance .*"
                                          r"cards/x's id 5 names another object there"):
        state.check_object("cards/x", {"id": 5, "entity_id": "another"})
    state.record("cards/x", 9)  # made again (a cascade deleted it): what was recorded of id 5 is not id 9's
    state.forget("cards/y")
    assert State.load(path, "http://b").eids == {}
