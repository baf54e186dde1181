"""The glossary (0.61+): terms and their definitions, keyed by term (Metabase serdes' entity id for it)."""

from __future__ import annotations

from typing import Any

from mbport.api import DeletedOnPrune, ExportContext, Kind, Match, Requires, common, copy, skip

GLOSSARY_SINCE = (0, 61)  # in Metabase's spec of 0.61–0.63 (glossary/api.clj); the first release is not verified


class Glossary(Requires, DeletedOnPrune, Kind):
    """Glossary entries (`GET /api/glossary`, `{data}`), one doc per term: `glossary/<term>.json`.

    Import: matched by term; `PUT` writes both fields (Metabase requires both). Metabase has no archive for an
    entry: `--prune` deletes one mbport created that the tree no longer has.
    """

    name = "glossary"
    endpoint = "/api/glossary"
    since = GLOSSARY_SINCE
    fields = {
        **common("created_at", "updated_at", "creator_id", "creator"),
        "id": skip("instance-specific id; the key is the term"),
        "entity_id": skip("newer servers' serialization id; entries are keyed by term, as serdes does"),
        "term": copy(), "definition": copy(),
    }
    match = Match("term", address=True)  # glossary/<term>

    def list(self, api, ctx: ExportContext) -> list[dict[str, Any]]:
        if api.version < GLOSSARY_SINCE:
            return []
        return sorted(api.get(self.endpoint)["data"], key=lambda r: r["id"])

    def label(self, doc, docs=None):
        return doc.get("term")
