"""Cross-version migration, judged by `mbport verify`: the handmade seed (content nobody wrote for the tests) on each
emulator profile, exported, imported into an empty instance of another profile, and both instances compared object
by object and row by row. The only differences allowed are the version-caused ones in ALLOWED, each with its reason
(the README's "Supported Metabase versions" table lists them too); importing the same tree again plans nothing.

The default run takes three representative pairs (0.56 → 0.65 and back: MBQL 4 ↔ 5, tag map ↔ list, the
transforms permission; 0.63 → 0.61: tag lists into 0.61's quirks); `-m version_matrix` (.ci/run) takes every ordered
pair of the profiles there are (about a minute)."""

from __future__ import annotations

import itertools
import re

import pytest

from mbport.check import load_tree
from mbport.client import MetabaseClient, MetabaseVersion
from mbport.emulator import Emulator, bootstrap, seeds
from mbport.emulator.profiles import PROFILES
from mbport.engine import Importer
from mbport.export import run_export
from mbport.registry import load_plugins
from mbport.secrets import Secrets
from mbport.state import State
from tests.conftest import ADMIN_EMAIL, ADMIN_PASSWORD
from tests.verify.judge import judged

# (pattern of a verify line, the versions it may appear between, why). `since` is the first release line that has
# the thing: a difference is allowed only when exactly one side is that new.
ALLOWED = [
    (r"^data permissions of group 'Administrators': database '[^']+': transforms: yes (only on target|missing on "
     r"target)$", (0, 59), "Metabase 0.59 grants Administrators the transforms permission on every database; older "
     "releases have no such permission, so it can be neither written there nor removed on a newer target"),
]

REPRESENTATIVE = [("0.56", "0.65"), ("0.65", "0.56"), ("0.63", "0.61")]


def every_pair() -> list[tuple[str, str]]:
    return [(a, b) for a, b in itertools.product(PROFILES, PROFILES)]


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


def importer(target: MetabaseClient, registry, tmp) -> Importer:
    return Importer(target, registry, load_tree(tmp / "tree", registry), State.load(tmp / "state.json", target.url),
                    {"secrets": Secrets(env={}), "with_api_keys": True, "api_keys_file": tmp / "keys.json"})


def migrate_and_judge(source_profile: str, target_profile: str, tmp) -> None:
    registry = load_plugins()
    _, source = instance(source_profile, "http://a.test", seed="handmade")
    exported = run_export(source, registry, tmp / "tree")
    assert exported.warnings == []
    emu_b, target = instance(target_profile, "http://b.test")
    first = importer(target, registry, tmp)
    plan = first.plan()
    assert plan.problems == []
    applied = first.apply(plan)
    assert applied.failed == {} and applied.skipped == []
    emu_b.wait_idle()
    again = importer(target, registry, tmp).plan()
    assert [c.line() for c in again.changes if c.action != "noop"] == []
    objects, rows, result = judged(source, target, first.ids)
    assert rows == []
    unexplained = [line for line in objects if not allowed(line, source_profile, target_profile)]
    assert unexplained == []
    cards = result.counts["cards"]
    assert cards.paired > 0 and cards.only_source == cards.only_target == 0


@pytest.mark.parametrize(("source", "target"), REPRESENTATIVE, ids=[f"{a}-to-{b}" for a, b in REPRESENTATIVE])
def test_representative_crossings_verify_equal(source, target, tmp_path):
    migrate_and_judge(source, target, tmp_path)


@pytest.mark.version_matrix
@pytest.mark.parametrize(("source", "target"), every_pair(), ids=[f"{a}-to-{b}" for a, b in every_pair()])
def test_every_pair_of_profiles_verifies_equal(source, target, tmp_path):
    migrate_and_judge(source, target, tmp_path)


def test_an_unexplained_difference_is_not_allowed():
    line = "data permissions of group 'Administrators': database 'W': transforms: yes only on target"
    assert allowed(line, "0.56", "0.61") and not allowed(line, "0.61", "0.63")
    assert not allowed("card 'X': display: table → bar", "0.56", "0.65")
