"""Segments (named filters on a table), keyed by entity_id, filed under their table (shared base with measures)."""

from __future__ import annotations

from mbport.api import TableScoped


class Segments(TableScoped):
    name = "segments"
    endpoint = "/api/segment"
