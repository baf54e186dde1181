"""Export of the seeded emulator: complete, deterministic, portable, secret-free, and `check`-clean."""

from __future__ import annotations

import re

import pytest
from click.testing import CliRunner

from mbport import cli
from mbport.check import check
from mbport.export import run_export
from mbport.tree import MANIFEST

# Shapes that only appear when an instance id survived normalization.
ID_LEFTOVERS = re.compile(
    r'"(?:id|[a-z_]+_id|card-id|snippet-id|table-id|field-id|source-table|source-card|targetId|tabId)": -?\d+'
    r'|card__\d+|\{\{\s*#\d+|\[\s*"field",\s*\d+|"field",\s*\{[^\[\]]*\},\s*\d+\s*\]|card:\d+'
)


def files_of(root):
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture
def exported(api, registry, tmp_path):
    out = tmp_path / "tree"
    result = run_export(api, registry, out)
    return out, result


def test_every_kind_is_exported(exported, registry):
    out, result = exported
    assert set(result.counts) == set(registry.kinds), set(registry.kinds) - set(result.counts)
    assert (out / MANIFEST).is_file()


def test_export_twice_is_byte_identical(api, registry, tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    run_export(api, registry, a)
    run_export(api, registry, b)
    assert files_of(a) == files_of(b)
    run_export(api, registry, a)  # re-export over an existing tree changes nothing
    assert files_of(a) == files_of(b)


def test_no_instance_ids_left(exported):
    out, _ = exported
    leftovers = []
    for rel, content in files_of(out).items():
        if rel == MANIFEST:
            continue
        for m in ID_LEFTOVERS.finditer(content.decode()):
            leftovers.append(f"{rel}: {m.group(0)}")
    assert not leftovers, "\n".join(leftovers[:20])


def test_no_secret_anywhere(exported, seeded):
    from mbport.emulator.seeds import sample

    out, _ = exported
    emu, session = seeded
    secrets = [*sample.SECRETS, session]
    for rel, content in files_of(out).items():
        for secret in secrets:
            assert secret.encode() not in content, f"{rel} holds a secret"


def test_exported_tree_passes_check(exported, registry):
    out, result = exported
    assert check(out, registry) == []
    assert result.warnings == []


def test_cli_export_and_check(seeded, tmp_path, monkeypatch):
    emu, session = seeded
    from mbport import client as client_module

    real = client_module.MetabaseClient.__init__

    def with_transport(self, *a, **kw):
        kw.setdefault("transport", emu.transport())
        real(self, *a, **kw)

    monkeypatch.setattr(client_module.MetabaseClient, "__init__", with_transport)
    runner = CliRunner()
    out = tmp_path / "cli-tree"
    result = runner.invoke(cli.cli, ["export", "--url", "http://metabase.test", "--session-token", session, "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "Exported" in result.stdout and session not in result.output
    checked = runner.invoke(cli.cli, ["check", str(out)])
    assert checked.exit_code == 0 and "OK" in checked.stdout
