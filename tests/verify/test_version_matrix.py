"""Cross-version migration, judged by `mbport verify`: the handmade seed (content nobody wrote for the tests) on each
emulator profile, exported, imported into an empty instance of another profile, and both instances compared object
by object and row by row. The only differences allowed are the version-caused ones in ALLOWED, each with its reason
(the README's "Supported Metabase versions" table lists them too); importing the same tree again plans nothing, for
the handmade seed and for the sample seed (its own tests: no verify, only the second plan).

The default run takes three representative pairs (0.56 → 0.65 and back: MBQL 4 ↔ 5, tag map ↔ list, the
transforms permission; 0.63 → 0.61: tag lists into 0.61's quirks); `-m version_matrix` (.ci/run) takes every ordered
pair of the profiles there are (about a minute)."""

from __future__ import annotations

import itertools
import re
from pathlib import Path

import pytest

from mbport.check import check, load_tree
from mbport.client import MetabaseClient, MetabaseVersion
from mbport.emulator import Emulator, bootstrap, seeds
from mbport.emulator.profiles import PROFILES
from mbport.emulator.seeds import sample
from mbport.engine import Importer
from mbport.export import run_export
from mbport.registry import load_plugins
from mbport.secrets import Secrets
from mbport.state import State
from tests.conftest import ADMIN_EMAIL, ADMIN_PASSWORD
from tests.e2e.instances import FINANCE_SECRET
from tests.verify.judge import judged

# (pattern of a verify line, the versions it may appear between, why). `since` is the first release line that has
# the thing: a difference is allowed only when exactly one side is that new.
ALLOWED = [
    (r"^data permissions of group 'Administrators': database '[^']+': transforms: yes (only on target|missing on "
     r"target)$", (0, 59), "Metabase 0.59 grants Administrators the transforms permission on every database; older "
     "releases have no such permission, so it can be neither written there nor removed on a newer target"),
    (r"^setting 'use-tenants' only in (target|source)$", (0, 58), "the `use-tenants` setting arrived with tenants in 0.58; "
     "an older Metabase has no such setting to write or read"),
    (r"^table '[^']+': (owner_user_id|owner_email|data_layer|data_source|data_authority): .* missing on target$", (0, 59),
     "a table's Data Studio settings (owner, layer, source, authority) arrived in 0.59; --skip-unsupported writes the "
     "table into an older release without them (plan names each)"),
]

# Pairs whose crossing is not built yet, (source, target) → what verify finds; strict: a pair that starts passing
# fails here until its line goes.
KNOWN_GAPS: dict[tuple[str, str], str] = {}


REPRESENTATIVE = [("0.56", "0.65"), ("0.65", "0.56"), ("0.63", "0.61")]


def every_pair() -> list:
    """Every ordered pair; a known gap is an expected failure."""
    return [pytest.param(a, b, id=f"{a}-to-{b}", marks=[pytest.mark.xfail(strict=True, reason=KNOWN_GAPS[a, b])]
                         if (a, b) in KNOWN_GAPS else []) for a, b in itertools.product(PROFILES, PROFILES)]


def minor(profile: str) -> tuple[int, int]:
    version = MetabaseVersion.parse(PROFILES[profile].tag)
    return version.major, version.minor


def allowed(line: str, source: str, target: str) -> str | None:
    """The reason a verify line is a version-caused difference between these two profiles, or None."""
    for pattern, since, why in ALLOWED:
        if re.search(pattern, line) and (minor(source) >= since) != (minor(target) >= since):
            return why
    return None


def instance(profile: str, url: str, seed: str | None = None) -> tuple[Emulator, MetabaseClient]:
    emu = Emulator(profile, sqlite_actions=True)  # the handmade tree has model actions on its SQLite warehouse
    session = bootstrap.setup_admin(emu, ADMIN_EMAIL, ADMIN_PASSWORD)
    if seed:
        seeds.load(emu, seed, session)
        emu.wait_idle()
    return emu, MetabaseClient(url, session_token=session, transport=emu.transport())


def importer(target: MetabaseClient, registry, tmp, secrets: dict[str, str] | None = None) -> Importer:
    return Importer(target, registry, load_tree(tmp / "tree", registry), State.load(tmp / "state.json", target.url),
                    {"secrets": Secrets(secrets or {}, env={}), "with_api_keys": True, "api_keys_file": tmp / "keys.json",
                     "skip_unsupported": True})


def left_out(line: str, kinds: set[str]) -> bool:
    """A verify line about an object of a kind the target cannot hold (plan named it and --skip-unsupported left it
    out: documents into 0.56, alerts into 0.50 ...)."""
    return line.endswith(" only in source") and any(line.startswith(k.rstrip("s") + " ") for k in kinds)


def written_in_mbql5(target: MetabaseClient, profile: str) -> list[str]:
    """The target's cards whose query mbport wrote in MBQL 5 into a release before 0.57: such a release keeps an MBQL 5
    query as it comes (models/interface.clj `maybe-normalize-query`), which its own query builder does not edit."""
    if PROFILES[profile].mbql5:
        return []
    return [c["name"] for f in ("all", "archived") for c in target.get("/api/card", params={"f": f})
            if (c.get("dataset_query") or {}).get("lib/type") == "mbql/query"]


def migrate_and_judge(source_profile: str, target_profile: str, tmp) -> None:
    registry = load_plugins()
    _, source = instance(source_profile, "http://a.test", seed="handmade")
    exported = run_export(source, registry, tmp / "tree")
    assert exported.warnings == []
    assert check(tmp / "tree", registry) == []  # what each release exports is a tree `check` accepts
    emu_b, target = instance(target_profile, "http://b.test")
    first = importer(target, registry, tmp)
    plan = first.plan()
    assert plan.problems == []
    kinds_left_out = {address.split("/", 1)[0] for address in plan.unsupported}
    applied = first.apply(plan)
    assert applied.failed == {}
    emu_b.wait_idle()
    assert written_in_mbql5(target, target_profile) == []
    again = importer(target, registry, tmp).plan()
    assert [c.line() for c in again.changes if c.action != "noop"] == []
    objects, rows, result = judged(source, target, first.ids)
    assert rows == []
    unexplained = [line for line in objects
                   if not allowed(line, source_profile, target_profile) and not left_out(line, kinds_left_out)]
    assert unexplained == []
    cards = result.counts["cards"]
    assert cards.paired > 0 and cards.only_source == cards.only_target == 0


@pytest.mark.parametrize(("source", "target"), REPRESENTATIVE, ids=[f"{a}-to-{b}" for a, b in REPRESENTATIVE])
def test_representative_crossings_verify_equal(source, target, tmp_path):
    migrate_and_judge(source, target, tmp_path)


@pytest.mark.version_matrix
@pytest.mark.parametrize(("source", "target"), every_pair())
def test_every_pair_of_profiles_verifies_equal(source, target, tmp_path):
    migrate_and_judge(source, target, tmp_path)


# The sample seed holds what the handmade one lacks (measures a downgrade leaves out with the dashboard showing them,
# which another dashboard links to; a weekly alert; a native field filter; dashboards linking each other): imported
# twice across each pair, the second plan must find nothing to do.
SAMPLE_GAPS: dict[tuple[str, str], str] = {}  # (source, target) → why the second plan still finds a change


def second_plan(source_profile: str, target_profile: str, seed: str, tmp) -> list[str]:
    """The changes a second `plan` of the same tree into the same target finds after the first import."""
    registry = load_plugins()
    _, source = instance(source_profile, "http://a.test", seed=seed)
    run_export(source, registry, tmp / "tree")
    assert check(tmp / "tree", registry) == []
    emu_b, target = instance(target_profile, "http://b.test")
    first = importer(target, registry, tmp, {FINANCE_SECRET: sample.FINANCE_DB_PASSWORD})
    plan = first.plan()
    assert plan.problems == []
    assert first.apply(plan).failed == {}
    emu_b.wait_idle()
    assert written_in_mbql5(target, target_profile) == []
    again = importer(target, registry, tmp, {FINANCE_SECRET: sample.FINANCE_DB_PASSWORD}).plan()
    return [c.line() for c in again.changes if c.action != "noop"]


def sample_pairs(pairs) -> list:
    return [pytest.param(a, b, id=f"{a}-to-{b}", marks=[pytest.mark.xfail(strict=False, reason=SAMPLE_GAPS[a, b])]
                         if (a, b) in SAMPLE_GAPS else []) for a, b in pairs]


@pytest.mark.parametrize(("source", "target"), sample_pairs(REPRESENTATIVE))
def test_representative_crossings_of_the_sample_seed_plan_nothing_the_second_time(source, target, tmp_path):
    assert second_plan(source, target, "sample", tmp_path) == []


@pytest.mark.version_matrix
@pytest.mark.parametrize(("source", "target"), sample_pairs(itertools.product(PROFILES, PROFILES)))
def test_every_pair_of_profiles_imports_the_sample_seed_idempotently(source, target, tmp_path):
    assert second_plan(source, target, "sample", tmp_path) == []


def test_an_unexplained_difference_is_not_allowed():
    line = "data permissions of group 'Administrators': database 'W': transforms: yes only on target"
    assert allowed(line, "0.56", "0.61") and not allowed(line, "0.61", "0.63")
    assert not allowed("card 'X': display: table → bar", "0.56", "0.65")


def test_the_readme_table_names_every_profile_and_every_allowed_difference():
    readme = (Path(__file__).parents[2] / "README.md").read_text()
    section = readme[readme.index("## Supported Metabase versions"):]
    section = section[:section.index("\n## ", 1)]
    assert [p for p in PROFILES if f"| `{p}` |" not in section] == []
    assert "transforms" in section and "use-tenants" in section and "Data Studio settings" in section
    assert len(ALLOWED) == 3
