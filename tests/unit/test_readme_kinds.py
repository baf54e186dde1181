"""The README's list of what a tree holds names exactly the installed kinds: a new kind without its README line fails."""

from __future__ import annotations

import re
from pathlib import Path

from mbport.registry import load_plugins

README = Path(__file__).resolve().parents[2] / "README.md"
HEADING = "### What a tree holds"


def readme_kinds() -> list[str]:
    text = README.read_text(encoding="utf-8")
    assert HEADING in text, f"README.md has no {HEADING!r} section"
    section = text.split(HEADING, 1)[1].split("\n#", 1)[0]
    return re.findall(r"^- `([a-z][a-z0-9-]*)`:", section, flags=re.MULTILINE)


def test_the_readme_lists_every_installed_kind_once_and_nothing_else():
    listed = readme_kinds()
    installed = set(load_plugins().kinds)
    assert len(listed) == len(set(listed)), f"listed twice: {sorted(k for k in listed if listed.count(k) > 1)}"
    assert sorted(installed - set(listed)) == [], "kinds without a line in README.md's list (add one)"
    assert sorted(set(listed) - installed) == [], "README.md lists kinds no plugin provides"


def test_the_list_is_in_alphabetical_order():
    listed = readme_kinds()
    assert listed == sorted(listed)
