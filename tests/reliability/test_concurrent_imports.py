"""Two imports of one tree into one target with the same state: the second is refused before any write, whether
the first is still running or finished after the second read the target (its plan would create everything again:
a second database, a second group ...)."""

from __future__ import annotations

import threading

import pytest

from mbport.errors import MbportError
from tests.conftest import writes_since

from .conftest import client, open_into, target


def _names(emu, session, path):
    with client(emu, session) as api:
        listed = api.get(path)
    return sorted(x["name"] for x in (listed["data"] if isinstance(listed, dict) else listed))


def test_an_import_planned_before_another_one_wrote_is_refused(source, registry, tmp_path):
    _, _, tree, _ = source
    emu, session = target()
    state = tmp_path / "state.json"
    late = open_into(emu, session, tree, state, registry)
    late_plan = late.plan()  # read while the target was still empty
    open_into(emu, session, tree, state, registry).apply()
    databases, groups = _names(emu, session, "/api/database"), _names(emu, session, "/api/permissions/group")
    before = len(emu.request_log)
    with pytest.raises(MbportError, match="wrote this state after this run read it"):
        late.apply(late_plan)
    assert writes_since(emu, before) == []
    assert _names(emu, session, "/api/database") == databases and len(set(databases)) == len(databases)
    assert _names(emu, session, "/api/permissions/group") == groups


class HoldWrites:
    """Holds every write until `go` is set: an import caught in the middle of its run (`paused` once it tried one)."""

    def __init__(self):
        self.paused, self.go = threading.Event(), threading.Event()

    def before(self, req):
        if req.method in ("POST", "PUT", "DELETE"):
            self.paused.set()
            self.go.wait(60)
        return None

    def after(self, req, resp):
        return resp


def test_a_second_import_while_one_runs_is_refused(source, registry, tmp_path):
    _, _, tree, _ = source
    emu, session = target()
    state = tmp_path / "state.json"
    first, second = open_into(emu, session, tree, state, registry), open_into(emu, session, tree, state, registry)
    second_plan = second.plan()
    emu.faults = hook = HoldWrites()
    outcome: list[object] = []
    running = threading.Thread(target=lambda: outcome.append(first.apply()))
    running.start()
    try:
        assert hook.paused.wait(60)
        before = len(emu.request_log)
        with pytest.raises(MbportError, match="another import into .* is running"):
            second.apply(second_plan)
        assert writes_since(emu, before) == []
    finally:
        hook.go.set()
        running.join(120)
    emu.faults = None
    assert outcome and not outcome[0].failed
    databases = _names(emu, session, "/api/database")
    assert len(set(databases)) == len(databases)
    assert not open_into(emu, session, tree, state, registry).plan().has_changes
