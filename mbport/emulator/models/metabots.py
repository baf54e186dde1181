"""Metabot configuration: the built-in Metabot instances, which content each may use (src/metabase/metabot/).

Rows live in `state.table("metabot")` as the `metabot` table holds them (models/metabot.clj): `name`,
`description`, `entity_id`, `use_verified_content`, `collection_id`. There is no create route: a Metabase has the two
built-in instances, whose entity ids are fixed on every instance (metabot/settings.clj `internal-metabot-entity-id`,
`embedded-metabot-entity-id`), so they are the same objects everywhere.
"""

from __future__ import annotations

from typing import Any

from .. import errors, premium
from ..store import Row, State
from .versions import minor_version

TABLE = "metabot"
BUILT_IN = (("Metabot", "metabotmetabotmetabot"), ("Embedded Metabot", "embeddedmetabotmetabo"))
SINCE = 61  # GET/PUT /api/metabot/metabot are in the open-source API of 0.61 (earlier: /api/ee/metabot-v3, EE)
FEATURE, FEATURE_NAME = "content_verification", "Content verification"
FIELDS = ("id", "entity_id", "name", "description", "use_verified_content", "collection_id", "created_at",
          "updated_at")


def init_state(state: State) -> None:
    table = state.table(TABLE)
    if minor_version(state) >= SINCE and not table.rows:
        for name, entity_id in BUILT_IN:
            table.insert({"name": name, "entity_id": entity_id, "description": None, "use_verified_content": False,
                          "collection_id": None}, now=state.now())


def metabot_out(row: Row) -> dict[str, Any]:
    return {k: row.get(k) for k in FIELDS}


def update(state: State, row: Row, changes: dict[str, Any]) -> Row:
    """metabot.clj PUT "/:id": verified content needs the feature; a collection that does not exist breaks the
    foreign key (Metabase checks nothing else); unchanged values write nothing."""
    if changes.get("use_verified_content"):
        premium.require(state, FEATURE, FEATURE_NAME)
    cid = changes.get("collection_id")
    if cid is not None and state.table("collection").get(cid) is None:
        raise errors.server_error(f"ERROR: insert or update on table \"{TABLE}\" violates foreign key constraint on "
                                  f"\"collection_id\": Key (collection_id)=({cid}) is not present.")
    if any(row.get(k) != v for k, v in changes.items()):
        row.update(changes, updated_at=state.now())
    return row
