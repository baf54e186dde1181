"""The `handmade` seed: content written by hand for the cases the sample seed never had, one part per case.

Each part is a module with `load(api, ids)`; `base` runs first and records what the others build on
(`db:warehouse`, `t:<table>`, `f:<table>.<field>`, `user:<name>`, `group:<name>`). A part adds situations
that mbport once got wrong on real content (see the part's docstring); round trips of this seed are judged
by what the servers hold, not by comparing mbport's own exports.
"""

from __future__ import annotations

from typing import Any

import httpx

from mbport.emulator.seeds.handmade import (
    actions_and_personal,
    archived,
    base,
    people,
    remappings,
    shared_and_studio,
)

# Model actions run on the SQLite warehouse: seeds.load turns on the emulator's sqlite_actions switch.
SQLITE_ACTIONS = True
# The parts, in the order they are built. Add a part here (one module, one line).
PARTS = (base, archived, remappings,
         actions_and_personal, people,
         shared_and_studio)


def load(api: httpx.Client) -> None:
    """Build every part in order; each reads and extends the shared id table."""
    ids: dict[str, Any] = {}
    for part in PARTS:
        part.load(api, ids)
