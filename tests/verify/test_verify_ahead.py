"""verify reads every kind that needs no other kind's objects ahead, at once, instead of one kind's round trips after
another's; what it reports is the same."""

from __future__ import annotations

import re
import threading

from mbport.verify import kinds as verify_kinds

from .conftest import verify


def timeless(report: str) -> str:
    return re.sub(r"\d+(\.\d+)? s\b", "N s", report)


def test_later_kinds_are_read_while_earlier_ones_are_compared(migrated, monkeypatch):
    source, target, _ = migrated
    before = verify(source, target, "--no-queries")
    assert before.code in (0, 3), before.err
    settings_read = threading.Event()  # settings come last but for a few kinds (verify_kinds.KINDS)
    real_settings = verify_kinds.Settings.fetch
    monkeypatch.setattr(verify_kinds.Settings, "fetch",
                        lambda self, side: settings_read.set() or real_settings(self, side))
    seen: list[bool] = []
    real_databases = verify_kinds.Databases.fetch

    def databases(self, side):  # the first kind: its answer waits until the settings are being read
        seen.append(settings_read.wait(5))
        return real_databases(self, side)

    monkeypatch.setattr(verify_kinds.Databases, "fetch", databases)
    after = verify(source, target, "--no-queries")
    assert seen == [True, True]  # one per side
    assert (after.code, timeless(after.out)) == (before.code, timeless(before.out))


def test_a_kind_that_needs_another_is_read_after_it(migrated, monkeypatch):
    """Fields are listed from the tables verify read; memberships name the users it did not list."""
    source, target, _ = migrated
    order: list[str] = []
    for cls in (verify_kinds.Tables, verify_kinds.Fields, verify_kinds.Users, verify_kinds.Memberships):
        real = cls.fetch
        monkeypatch.setattr(cls, "fetch", lambda self, side, real=real: order.append(self.name) or real(self, side))
    run = verify(source, target, "--no-queries")
    assert run.code in (0, 3), run.err
    assert order.index("fields") > order.index("tables") + 1  # both sides' tables first
    assert order.index("memberships") > order.index("users") + 1
