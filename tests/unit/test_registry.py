"""Plugins load through the `mbport.plugins` entry-point group; a broken one warns, a duplicate name stops."""

from importlib.metadata import EntryPoint, version

import pytest

from mbport import registry as registry_module
from mbport.errors import MbportError
from mbport.registry import load_plugins


def fake_points(monkeypatch, *points):
    monkeypatch.setattr(registry_module, "entry_points", lambda group: list(points) if group == "mbport.plugins" else [])


def test_builtin_plugins_are_registered_like_third_party_ones(monkeypatch):
    parsed = []
    real = registry_module._Distribution.name_version.func
    monkeypatch.setattr(registry_module._Distribution, "name_version",
                        property(lambda self: parsed.append(self) or real(self)))
    registry = load_plugins()
    assert {"cards", "dashboards", "collections", "users", "tables", "data-permissions"} <= set(registry.kinds)
    # a distribution's metadata (an email parse, 20-30 ms of a start) is read only when someone asks
    assert parsed == [] and registry.warnings == []
    assert registry.info["cards"].distribution == "mbport" and registry.info["cards"].version == version("mbport")


def test_a_broken_plugin_is_a_warning_naming_it(monkeypatch):
    fake_points(monkeypatch,
                EntryPoint("users", "mbport_plugins.users:Users", "mbport.plugins"),
                EntryPoint("widgets", "no_such_module:Widgets", "mbport.plugins"))
    registry = load_plugins()
    assert set(registry.kinds) == {"users"}
    assert len(registry.warnings) == 1 and "plugin 'widgets'" in registry.warnings[0]


def test_an_entry_point_whose_class_has_another_name_is_refused(monkeypatch):
    fake_points(monkeypatch, EntryPoint("people", "mbport_plugins.users:Users", "mbport.plugins"))
    registry = load_plugins()
    assert registry.kinds == {} and "says its name is 'users'" in registry.warnings[0]


def test_two_plugins_with_one_name_is_an_error(monkeypatch):
    fake_points(monkeypatch,
                EntryPoint("users", "mbport_plugins.users:Users", "mbport.plugins"),
                EntryPoint("users", "mbport_plugins.users:Users", "mbport.plugins"))
    with pytest.raises(MbportError, match="two plugins are named 'users'"):
        load_plugins()
