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


# Kinds that only an Enterprise instance with a premium token has objects of (the OSS seed has none).
EE_ONLY = {"sandboxes", "impersonations"}
# Kinds that only the `current` seed (a 0.65 Enterprise build) has objects of: newer than the sample seed's content.
CURRENT_ONLY = {"channels", "documents", "glossary", "python-libraries", "tenants", "transform-jobs", "transform-tags",
                "transforms",
                "cache-policies", "default-cache-policy", "metabots", "verifications"}
# Kinds only a 0.50 instance has (the sample seed holds them on 0.50: tests/verify/test_old_versions.py).
OLD_ONLY = {"legacy-metrics"}


def test_every_kind_is_exported(exported, registry):
    out, result = exported
    assert set(result.counts) == set(registry.kinds) - EE_ONLY - CURRENT_ONLY - OLD_ONLY, set(registry.kinds) - set(result.counts)
    assert (out / MANIFEST).is_file()


def test_every_kind_is_exported_from_an_enterprise_instance(seeded_ee, registry, tmp_path):
    """The `enterprise` seed on an emulated EE build: every kind, deterministic, no ids left, `check`-clean."""
    from mbport.client import MetabaseClient

    emu, session = seeded_ee
    with MetabaseClient("http://metabase.test", session_token=session, transport=emu.transport()) as api:
        a, b = tmp_path / "a", tmp_path / "b"
        result = run_export(api, registry, a)
        run_export(api, registry, b)
    assert set(result.counts) == set(registry.kinds) - CURRENT_ONLY - OLD_ONLY and result.counts["sandboxes"] == 3
    assert files_of(a) == files_of(b)
    leftovers = [m.group(0) for rel, content in files_of(a).items() if rel != MANIFEST
                 for m in ID_LEFTOVERS.finditer(content.decode())]
    assert not leftovers, leftovers[:20]
    assert check(a, registry) == []


def test_the_current_seed_exports_its_kinds_deterministically_and_check_clean(seeded_current, registry, tmp_path):
    """The `current` seed on an emulated 0.65 EE build: the newer kinds, deterministic, no ids left, `check`-clean."""
    from mbport.client import MetabaseClient

    emu, session = seeded_current
    with MetabaseClient("http://metabase.test", session_token=session, transport=emu.transport()) as api:
        a, b = tmp_path / "a", tmp_path / "b"
        result = run_export(api, registry, a)
        run_export(api, registry, b)
    assert CURRENT_ONLY <= set(result.counts) and result.warnings == []
    assert files_of(a) == files_of(b)
    leftovers = [m.group(0) for rel, content in files_of(a).items() if rel != MANIFEST
                 for m in ID_LEFTOVERS.finditer(content.decode())]
    assert not leftovers, leftovers[:20]
    assert check(a, registry) == []


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


def test_cli_export_asks_for_the_version_while_the_plugins_load(seeded, tmp_path, monkeypatch):
    """Every export's first request (the session properties: the version) goes out before the export's modules and
    the plugins are loaded, so its round trip overlaps that work instead of following it."""
    import threading

    import httpx

    from mbport import client as client_module
    from mbport import registry as registry_module

    emu, session = seeded
    asked = threading.Event()

    class Watched(httpx.BaseTransport):
        def handle_request(self, request):
            if request.url.path == "/api/session/properties":
                asked.set()
            return emu.transport().handle_request(request)

    real_init, real_load = client_module.MetabaseClient.__init__, registry_module.load_plugins
    monkeypatch.setattr(client_module.MetabaseClient, "__init__",
                        lambda self, *a, **kw: real_init(self, *a, **{"transport": Watched(), **kw}))
    seen: list[bool] = []
    monkeypatch.setattr(registry_module, "load_plugins", lambda *a: seen.append(asked.wait(5)) or real_load(*a))
    result = CliRunner().invoke(cli.cli, ["--quiet", "export", "--url", "http://metabase.test", "--session-token",
                                          session, "--out", str(tmp_path / "tree")])
    assert result.exit_code == 0, result.output
    assert seen == [True]


def test_docs_made_while_other_kinds_are_read_are_the_docs_made_after(seeded, registry, tmp_path, monkeypatch):
    """Export normalizes kinds already read while others are still fetched; the tree is the one made after."""
    from mbport import export
    from mbport.client import MetabaseClient

    emu, session = seeded
    kept: list[int] = []
    real = export.EarlyNormalizer

    class Counting(real):
        def __call__(self, read, listed=None):
            super().__call__(read, listed)
            kept.append(len(self.docs))

    monkeypatch.setattr(export, "EarlyNormalizer", Counting)
    trees = {}
    for concurrency in (1, 8):  # one at a time: every kind is read before any is normalized
        with MetabaseClient("http://metabase.test", session_token=session, transport=emu.transport(),
                            concurrency=concurrency) as client:
            run_export(client, registry, tmp_path / str(concurrency), cache=False)
        trees[concurrency] = files_of(tmp_path / str(concurrency))
    assert kept and max(kept) > 0  # some docs were made early (concurrency 8 only)
    assert trees[8] == trees[1]


def test_a_kind_starts_as_soon_as_the_kinds_it_needs_are_read(api, registry, monkeypatch):
    """Subscriptions are listed once the dashboards are read, even while the exporting thread is busy normalizing
    what was read before (at bench-L that took 0.6-0.7 s, during which no request was made)."""
    import threading

    from mbport import export
    from mbport.kind import ExportContext

    pulses = registry["pulses"]
    listing = threading.Event()
    real_list = type(pulses).list
    monkeypatch.setattr(type(pulses), "list", lambda self, api, ctx: listing.set() or real_list(self, api, ctx))
    waited: list[bool] = []

    def busy(read, listed):  # the exporting thread normalizing for long, before the dashboards are read
        if "dashboards" not in read and not waited:
            waited.append(listing.wait(10))

    ctx = ExportContext()
    export.extract(api, registry, sorted(registry.kinds), ctx, while_waiting=busy)
    assert waited == [True] and ctx.raw["pulses"]


def test_kinds_that_need_only_a_listing_start_while_its_details_are_fetched(seeded, registry, monkeypatch):
    """Subscriptions and cache policies need the dashboards' ids, not their details (one request per dashboard):
    they are listed while those are fetched, not one round trip after the last one; what they read is the same."""
    import threading

    from mbport import export
    from mbport.client import MetabaseClient
    from mbport.kind import ExportContext

    emu, session = seeded
    with MetabaseClient("http://metabase.test", session_token=session, transport=emu.transport(),
                        concurrency=1) as client:
        alone = ExportContext()
        export.extract(client, registry, sorted(registry.kinds), alone)
    assert alone.raw["pulses"] and len(alone.raw["dashboards"]) > 1
    listing = {name: threading.Event() for name in ("pulses", "cache-policies")}
    for name, event in listing.items():
        real_list = type(registry[name]).list
        monkeypatch.setattr(type(registry[name]), "list",
                            lambda self, api, ctx, real=real_list, event=event: event.set() or real(self, api, ctx))
    real_fetch = type(registry["dashboards"]).fetch
    waited: list[bool] = []

    def fetch(self, api, summary):  # no dashboard's details arrive before both are being listed
        waited.append(not (waited and not waited[0]) and all(e.wait(5) for e in listing.values()))
        return real_fetch(self, api, summary)

    monkeypatch.setattr(type(registry["dashboards"]), "fetch", fetch)
    with MetabaseClient("http://metabase.test", session_token=session, transport=emu.transport(),
                        concurrency=8) as client:
        ctx = ExportContext()
        export.extract(client, registry, sorted(registry.kinds), ctx)
    assert waited and all(waited)
    assert ctx.raw["pulses"] == alone.raw["pulses"] and ctx.raw["cache-policies"] == alone.raw["cache-policies"]


def test_kinds_on_tables_are_listed_while_the_remappings_are_fetched(seeded, registry, monkeypatch):
    """Segments, measures and the data permissions need the tables' ids and names, not their remappings (one
    query_metadata request per table): they are listed while those are fetched; what they read is the same."""
    import threading

    from mbport import export
    from mbport.client import MetabaseClient
    from mbport.kind import ExportContext

    emu, session = seeded
    with MetabaseClient("http://metabase.test", session_token=session, transport=emu.transport(),
                        concurrency=1) as client:
        alone = ExportContext()
        export.extract(client, registry, sorted(registry.kinds), alone)
    waiting = ("segments", "measures", "data-permissions")
    assert alone.raw["segments"] and alone.raw["data-permissions"]
    assert any(registry["tables"].needs_fetch(t) for t in alone.raw["tables"])
    listing = {name: threading.Event() for name in waiting}
    for name, event in listing.items():
        real_list = type(registry[name]).list
        monkeypatch.setattr(type(registry[name]), "list",
                            lambda self, api, ctx, real=real_list, event=event: event.set() or real(self, api, ctx))
    real_fetch = type(registry["tables"]).fetch
    waited: list[bool] = []
    monkeypatch.setattr(type(registry["tables"]), "fetch", lambda self, api, summary: waited.append(
        all(e.wait(5) for e in listing.values())) or real_fetch(self, api, summary))
    with MetabaseClient("http://metabase.test", session_token=session, transport=emu.transport(),
                        concurrency=8) as client:
        ctx = ExportContext()
        export.extract(client, registry, sorted(registry.kinds), ctx)
    assert waited and all(waited)
    assert all(ctx.raw[name] == alone.raw[name] for name in (*waiting, "tables"))


def test_cards_are_made_while_the_tables_are_only_listed(api, registry):
    """Cards look their fields up in the tables' listing (the remappings come one request per table after it), so
    they are normalized while those are fetched; a listing its details contradict makes everything again."""
    import copy

    from mbport.export import EarlyNormalizer, build_index, extract, normalize
    from mbport.kind import ExportContext

    ctx = ExportContext()
    extract(api, registry, sorted(registry.kinds), ctx)
    build_index(registry, ctx)
    after = normalize(registry, ctx)
    listed = [{k: v for k, v in t.items() if k != "fields"} | {"fields": [
        {k: v for k, v in f.items() if k not in ("dimensions", "remapped_values")} for f in t["fields"]]}
        for t in ctx.raw["tables"]]
    cards = [c for c in ctx.raw["cards"] if not c.get("dashboard_id")]
    early = EarlyNormalizer(registry, ctx)
    before_tables = {name: raws for name, raws in ctx.raw.items() if name != "tables"}
    early(before_tables)
    assert not any(id(c) in early.docs for c in cards if c.get("query_type") == "query")  # their fields: unknown
    early(before_tables, {"tables": listed})
    assert all(id(c) in early.docs for c in cards)
    early(ctx.raw)
    assert normalize(registry, ctx, early=early) == after

    renamed = copy.deepcopy(listed)
    renamed[0]["name"] += " (renamed)"  # the listing says one name, the details another
    early = EarlyNormalizer(registry, ctx)
    early(before_tables, {"tables": renamed})
    assert any(id(c) in early.docs for c in cards)
    early(ctx.raw)
    assert normalize(registry, ctx, early=early) == after


def test_after_listing_names_only_kinds_of_after():
    from mbport.kind import Kind

    with pytest.raises(TypeError, match="after_listing names kinds its `after` lacks: dashboards"):
        type("Odd", (Kind,), {"name": "odd", "after": ("cards",), "after_listing": ("dashboards",)})


def test_a_doc_that_needs_a_kind_not_yet_read_is_made_again(api, registry):
    from mbport.export import EarlyNormalizer, build_index, extract, normalize
    from mbport.kind import ExportContext

    ctx = ExportContext()
    extract(api, registry, sorted(registry.kinds), ctx)
    build_index(registry, ctx)
    on_dashboards = [c for c in ctx.raw["cards"] if c.get("dashboard_id")]
    assert on_dashboards, "the sample seed has a dashboard question"
    early = EarlyNormalizer(registry, ctx)
    early({name: raws for name, raws in ctx.raw.items() if name not in ("dashboards", "users")})
    assert not any(id(c) in early.docs for c in on_dashboards)  # the dashboard was not read yet: a warning
    assert any(id(c) in early.docs for c in ctx.raw["cards"])
    # memberships look users up in the index themselves (a user it lacks is skipped, silently)
    assert not any(id(m) in early.docs for m in ctx.raw["memberships"] if m["members"])
    assert normalize(registry, ctx, early=early) == normalize(registry, ctx)


def test_docs_that_need_a_kind_read_later_are_made_once(api, registry, monkeypatch):
    """Cards are read before the tables they query (those wait for one request per table): normalizing them
    as soon as they are read would make every card twice. They wait for the round in which tables are read."""
    from mbport import export
    from mbport.kind import ExportContext

    ctx = ExportContext()
    export.extract(api, registry, sorted(registry.kinds), ctx)
    export.build_index(registry, ctx)
    made: list[int] = []
    real = export.normalize_one
    monkeypatch.setattr(export, "normalize_one", lambda kind, raw, c: made.append(id(raw)) or real(kind, raw, c))
    cards = [id(c) for c in ctx.raw["cards"] if not c.get("dashboard_id")]
    assert len(cards) > 10 and all(c["dataset_query"] for c in ctx.raw["cards"])
    early = export.EarlyNormalizer(registry, ctx)
    later = ("tables", "dashboards", "users")
    early({name: raws for name, raws in ctx.raw.items() if name not in later})
    early({name: raws for name, raws in ctx.raw.items() if name not in later[1:]})
    made_early = sum(1 for c in cards if c in early.docs)
    tries = sum(1 for m in made if m in set(cards))
    assert made_early > len(cards) / 2 and tries <= len(cards) + 3  # a few tries before tables were read
    docs = export.normalize(registry, ctx, early=early)
    assert docs == export.normalize(registry, ctx)


def test_no_cycle_collection_runs_while_an_export_builds_its_objects(api, registry, tmp_path, monkeypatch):
    """Parsing answers makes millions of objects that all stay alive; collections walking them all again and
    again took most of the parse (0.85 s of 1.1 s at bench-L). The collector is back on after the export."""
    import gc

    from mbport import export

    collections: list[int] = []
    enabled: list[bool] = []
    real = export._export

    def watched(*args):
        enabled.append(gc.isenabled())
        gc.callbacks.append(seen)
        try:
            return real(*args)
        finally:
            gc.callbacks.remove(seen)

    def seen(phase, info):
        if phase == "start":
            collections.append(info["generation"])

    monkeypatch.setattr(export, "_export", watched)
    result = run_export(api, registry, tmp_path / "tree")
    assert sum(result.counts.values()) > 50 and collections == [] and enabled == [False] and gc.isenabled()


def test_an_export_that_fails_after_staging_files_leaves_the_tree_as_it_was(seeded, registry, tmp_path, monkeypatch):
    """Files staged while dashboards are still read are thrown away when the export then fails."""
    from mbport import tree
    from mbport.client import MetabaseClient
    from mbport.emulator.faults import FaultPlan
    from mbport.errors import MbportError

    staged: list[str] = []
    real_stage = tree.TreeWriter.stage
    monkeypatch.setattr(tree.TreeWriter, "stage", lambda self, files: (staged.extend(files), real_stage(self, files)))
    emu, session = seeded
    out = tmp_path / "tree"
    with MetabaseClient("http://metabase.test", session_token=session, transport=emu.transport(), retries=0) as client:
        run_export(client, registry, out, cache=False)
        before = files_of(out)
        staged.clear()
        staged_into_new = tmp_path / "new"
        for target in (out, staged_into_new):  # over the last tree, and into a folder the export creates
            emu.faults = FaultPlan(rate=1.0, kinds=("500",), only=r"^GET /api/dashboard/\d+$")
            try:
                with pytest.raises(MbportError):
                    run_export(client, registry, target, cache=False)
            finally:
                emu.faults = None
    assert files_of(out) == before and not (out / ".mbport-staging").exists()
    assert not staged_into_new.exists()
    assert staged, "files were staged before the export failed"


def test_a_dashboard_linking_twice_to_a_deleted_one_warns_once(registry, tmp_path):
    """'Sales overview' links to 'Customer insights' by a click behaviour and by a link card: once that dashboard is
    deleted, the export says so once per doc and id, not once per place (the same line came twice)."""
    from mbport.client import MetabaseClient
    from tests.conftest import seeded_emulator

    emu, session = seeded_emulator("sample")
    with MetabaseClient("http://metabase.test", session_token=session, transport=emu.transport()) as api:
        gone = next(d for d in api.get("/api/dashboard/", params={"f": "all"}) if d["name"] == "Customer insights")
        api.delete(f"/api/dashboard/{gone['id']}")
        warnings = run_export(api, registry, tmp_path / "tree").warnings
    about = [w for w in warnings if f"refers to dashboards id {gone['id']}," in w]
    assert len(about) == 1, warnings
