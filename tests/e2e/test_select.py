"""`--select`: the chosen objects, what is inside a chosen collection, and everything they depend on."""

import pytest

from mbport.errors import UsageError
from mbport.export import run_export
from mbport.refs import address_kind
from mbport.selection import resolve_selection


def test_selecting_a_collection_pulls_in_its_contents_and_dependencies(api, registry, tmp_path):
    out = tmp_path / "sel"
    result = run_export(api, registry, out, selection=lambda docs: resolve_selection(registry, docs, ["collection:Marketing"]))
    kinds = {address_kind(a) for a in result.docs}
    names = {d.get("name") for d in result.docs.values()}
    assert "Marketing" in names and "Customer insights" in names  # the collection and a dashboard inside it
    assert {"cards", "dashboards", "tables", "databases"} <= kinds
    assert "users" not in kinds  # nothing the selection does not need
    assert result.selected_extra  # dependencies outside the collection were pulled in, and reported
    assert all(address_kind(a) != "collections" or result.docs[a]["name"] != "Old experiments" for a in result.docs)
    from mbport.check import check

    assert check(out, registry) == []


def test_unknown_selection_is_a_usage_error(api, registry, tmp_path):
    with pytest.raises(UsageError, match="no collections named 'Nope'"):
        run_export(api, registry, tmp_path / "x", selection=lambda docs: resolve_selection(registry, docs, ["collection:Nope"]))
    with pytest.raises(UsageError, match="expected KIND:NAME"):
        run_export(api, registry, tmp_path / "y", selection=lambda docs: resolve_selection(registry, docs, ["Marketing"]))


@pytest.fixture(scope="module")
def ee_docs(seeded_ee, registry, tmp_path_factory):
    """The enterprise seed's docs: every kind's naming (alerts by their card, sandboxes by group and table,
    memberships by group, the settings doc, tables)."""
    from mbport.client import MetabaseClient

    emu, session = seeded_ee
    with MetabaseClient("http://metabase.test", session_token=session, transport=emu.transport()) as client:
        return run_export(client, registry, tmp_path_factory.mktemp("ee") / "tree").docs


def test_what_plan_names_an_object_selects_it(ee_docs, registry):
    """A plan line reads `+ sandbox 'Support on Shop.orders' (sandboxes/...)`, `~ setting 'instance'`: the kind
    word and the name it prints, as KIND:NAME, select that object (they were refused: no kind 'setting', no
    sandbox named so)."""
    from mbport.diff import display_name, kind_label

    kinds_seen = set()
    for addr, doc in ee_docs.items():
        kind = registry[address_kind(addr)]
        printed = f"{kind_label(registry, kind.name)}:{kind.label(doc, ee_docs) or display_name(doc, addr)}"
        assert addr in resolve_selection(registry, ee_docs, [printed], contents=False), printed
        kinds_seen.add(kind.name)
    assert {"settings", "memberships", "tables", "sandboxes", "alerts"} <= kinds_seen


def test_an_unknown_kind_is_named_as_such(ee_docs, registry):
    with pytest.raises(UsageError, match="no kind 'dashbord'") as caught:
        resolve_selection(registry, ee_docs, ["dashbord:Ops"])
    assert "dashboard" in caught.value.hint
