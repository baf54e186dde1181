"""The `current` seed: every kind a Metabase 0.64–0.65 Enterprise instance holds, one part per kind family.

Load it on an emulator with `--profile 0.65 --premium all` (`Emulator("0.65", premium_features="all")`): the parts
write content only a current Enterprise instance accepts (documents, glossary, notification channels, transforms,
Metabot, cache policies, moderation reviews, the Library and Data Studio, tenants). Each part is a module with
`load(api, ids)`; `base` (the handmade seed's base: `db:warehouse`, `t:<table>`, `f:<table>.<field>`,
`user:rita|tom|uma|admin`, `group:Finance|Support|All Users|Administrators`) runs first, then `content` adds a
collection tree, cards and a dashboard the newer kinds refer to (`coll:<name>`, `card:<name>`, `dash:<name>`).
"""

from __future__ import annotations

from typing import Any

import httpx

from mbport.emulator.seeds import SeedError, ok
from mbport.emulator.seeds.current import (
    appearance,
    caching,
    channels,
    content,
    documents,
    glossary,
    metabot,
    studio,
    tenants,
    transforms,
    verification,
)
from mbport.emulator.seeds.handmade import base

# The parts, in the order they are built. Add a part here (one module, one line).
PARTS = (base, content,
         documents,
         studio,
         tenants,
         channels,
         glossary,
         transforms,
         caching,
         appearance,
         metabot,
         verification,
         )
NEEDS = (0, 65)
# The transforms write tables into the SQLite warehouse (seeds.load turns on the emulator's sqlite_transforms licence).
SQLITE_TRANSFORMS = True


def load(api: httpx.Client) -> None:
    """Check the server is a current Enterprise build, then build every part in order on a shared id table."""
    props = ok(api.get("/api/session/properties"))
    tag = props["version"]["tag"]
    minor = int(tag.lstrip("v").split(".")[1])
    if minor < NEEDS[1] or not props.get("token-features", {}).get("advanced_permissions"):
        raise SeedError(f"seed current needs a Metabase 0.65 Enterprise emulator (--profile 0.65 --premium all); "
                        f"this one is {tag}")
    ids: dict[str, Any] = {}
    for part in PARTS:
        part.load(api, ids)
