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
