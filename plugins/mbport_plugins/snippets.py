"""Native query snippets, in their snippet folder (a collection in the `snippets` namespace)."""

from __future__ import annotations

from typing import Any

from mbport.api import (SNIPPETS_FOLDER, CollectionCascade, ExportContext, Kind, Match, common, copy, flag,
                        listed_once, ref, skip, walk)


class Snippets(CollectionCascade, Kind):
    """Reusable SQL fragments (`{{snippet: Name}}` in native queries).

    `list` (once per export) reads `GET /api/native-query-snippet` and `?archived=true` (full rows, no
    fetch). Snippet names are unique instance-wide, but the key is the entity_id like other content.
    """

    name = "snippets"
    archived_with_it = False  # the collection's archive sets `archived` on each: the doc's own flag goes on last
    endpoint = "/api/native-query-snippet"
    fields = {
        **common("created_at", "updated_at", "creator_id", "creator", "is_remote_synced", "entity_id_translated"),
        "id": skip("instance-specific id; the key is entity_id"),
        "entity_id": copy(), "name": copy(), "description": copy(default=None),
        "archived": copy(send=flag, post=False),  # POST takes no `archived`: create PUTs it after
        "content": walk("sql", empty=None),  # `{{#12-name}}` card tags, as in native queries
        # a snippet folder: a collection under `@snippets`, which the snippets tree leaves out of the doc's path
        "collection_id": ref("collections", as_="collection", under=SNIPPETS_FOLDER),
        # Same shape as a native query's tags: card and snippet ids hide there too. Neither POST nor PUT takes
        # it (the server derives it from the content).
        "template_tags": walk("template_tags", default={}, send=False),
    }
    match = Match("name")  # unique instance-wide, archived snippets included

    def list(self, api, ctx: ExportContext) -> list[dict[str, Any]]:
        return sorted(listed_once(api, self.endpoint, {}, {"archived": "true"}), key=lambda r: r["id"])

