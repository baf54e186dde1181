"""Display words per kind, in one table: what a person reads about a kind (its description, the singular names
`--select` accepts, the phrases `mbport diff` uses, the `mbport graph` colour), apart from what the kind does."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

DEFAULT_COLOUR = "#f1f1f1"


@dataclass(frozen=True)
class Words:
    """`phrases`: field → label in `mbport diff` phrases, or {value: phrase} for flags and enums (a value missing from
    the map falls back to "label: old → new"); a field not listed reads as its name with spaces. `colour`: one per
    family (content warm, data cool)."""

    description: str = ""
    aliases: tuple[str, ...] = ()  # singular names for --select (collection:Sales)
    phrases: Mapping[str, Any] = field(default_factory=dict)
    colour: str = DEFAULT_COLOUR


NONE = Words()

WORDS: dict[str, Words] = {
    "actions": Words(
        description="Actions on models (unarchived ones; the API cannot list archived actions).",
        aliases=("action",),
        colour="#caffbf",
    ),
    "alerts": Words(
        description="Alerts on questions: condition, schedule, channels and recipients.",
        aliases=("alert", "notification"),
        phrases={"active": {True: "resumed", False: "paused"}},
        colour="#ffafcc",
    ),
    "api-keys": Words(
        description="API keys by name, with the group they act as; never the key value.",
    ),
    "cache-policies": Words(
        description="Cache policies of single databases, dashboards and questions (Pro/Enterprise).",
        aliases=("cache-policy",),
        phrases={"strategy": "cache policy"},
        colour="#e9edc9",
    ),
    "cards": Words(
        description="Questions, models and metrics (with dashboard questions), in their collection's folder.",
        aliases=("card", "question", "model", "metric"),
        phrases={
            "display": "visualization",
            "visualization_settings": "visualization settings",
            "dataset_query": "query",
            "collection_position": "pinned position",
            "cache_ttl": "cache duration",
            "result_metadata": "column metadata",
            "parameters": "filters",
            "parameter_mappings": "filter mappings",
            "collection_preview": "preview in collection",
            "enable_embedding": {True: "embedding enabled", False: "embedding disabled"},
            "embedding_params": "embedding parameters",
            "type": {
                "model": "turned into a model",
                "question": "turned into a question",
                "metric": "turned into a metric",
            },
            "dashboard": "dashboard it is saved in",
            "document": "document it is saved in",
        },
        colour="#e9c46a",
    ),
    "channels": Words(
        description="Notification channels (webhooks) by name; auth values are secrets, supplied at import time.",
        aliases=("channel", "webhook"),
        phrases={"details": "webhook settings", "active": {True: "reactivated", False: "deactivated"}},
        colour="#ffafcc",
    ),
    "collection-permissions": Words(
        description="Collection permissions: which group may read or curate which collection (and snippet folder).",
        aliases=("collection-permission",),
        phrases={"grants": "grant"},
    ),
    "collections": Words(
        description="Collections (normal, personal and snippet folders), nested by parent.",
        aliases=("collection",),
        phrases={"authority_level": {"official": "marked official"}, "parent": "parent collection"},
        colour="#dde5b6",
    ),
    "dashboards": Words(
        description="Dashboards with their tabs and dashcards, in their collection's folder.",
        aliases=("dashboard",),
        phrases={
            "parameters": "filters",
            "auto_apply_filters": {True: "filters apply automatically", False: "filters need Apply"},
            "width": "width",
            "collection_position": "pinned position",
            "cache_ttl": "cache duration",
            "enable_embedding": {True: "embedding enabled", False: "embedding disabled"},
            "embedding_params": "embedding parameters",
        },
        colour="#f4a261",
    ),
    "default-cache-policy": Words(
        description="The instance's default cache policy (one doc).",
        phrases={"strategy": "default cache policy"},
        colour="#e9edc9",
    ),
    "data-permissions": Words(
        description="Data permissions: what each group may see, query, download and edit in each database.",
        aliases=("data-permission",),
        phrases={"grants": "grant"},
    ),
    "databases": Words(
        description="Database connections (secrets become markers, supplied at import time).",
        aliases=("database",),
        phrases={
            "details": "connection details",
            "engine": "engine",
            "schedules": "sync schedule",
            "auto_run_queries": {True: "queries run automatically", False: "queries need a click to run"},
            "settings": "database settings",
        },
        colour="#8ecae6",
    ),
    "documents": Words(
        description="Documents (0.57+): rich-text pages with their own cards embedded, in their collection's folder.",
        aliases=("document",),
        phrases={"document": "body", "collection_position": "pinned position"},
        colour="#f6bd60",
    ),
    "glossary": Words(
        description="Glossary terms (0.61+) and their definitions, one doc per term.",
        aliases=("term", "glossary-term"),
        phrases={"definition": "definition"},
        colour="#fdffb6",
    ),
    "groups": Words(
        description="Permission groups (built-in ones are matched by role, never created).",
        aliases=("group",),
        colour="#d6d6d6",
    ),
    "impersonations": Words(
        description="Connection impersonations (EE): a group's queries on a database run as a role from a user attribute.",
        aliases=("impersonation",),
        phrases={"attribute": "user attribute"},
        colour="#cfcfcf",
    ),
    "measures": Words(
        description="Measures: named aggregations on a table (unarchived ones, and archived ones a card still uses).",
        aliases=("measure",),
        phrases={"definition": "definition", "table": "table"},
        colour="#a2d2ff",
    ),
    "metabots": Words(
        description="Metabot configuration: the collection each built-in Metabot uses, verified content only or not.",
        aliases=("metabot",),
        phrases={"collection": "collection", "use_verified_content": {True: "verified content only",
                                                                      False: "all content"}},
        colour="#d8e2dc",
    ),
    "memberships": Words(
        description="Who is in which group (one doc per group).",
        phrases={"members": "member"},
    ),
    "pulses": Words(
        description="Dashboard subscriptions: which dashboard, when, to whom, in which format.",
        aliases=("subscription", "pulse"),
        phrases={
            "cards": "cards",
            "channels": "delivery channels",
            "skip_if_empty": {True: "skipped when empty", False: "sent even when empty"},
        },
        colour="#ffc8dd",
    ),
    "legacy-metrics": Words(
        description="Legacy metrics (Metabase 0.50 only): named aggregations on a table; no API after 0.50.",
        aliases=("legacy-metric", "legacy metric"),
        phrases={"definition": "definition", "table": "table"},
        colour="#bde0fe",
    ),
    "sandboxes": Words(
        description="Sandboxes (EE row-level security): a group's filtered view of a table.",
        aliases=("sandbox",),
        phrases={"card": "sandboxing question", "attribute_remappings": "user attribute"},
        colour="#cfcfcf",
    ),
    "segments": Words(
        description="Segments: named filters on a table (unarchived ones, and archived ones a card still uses).",
        aliases=("segment",),
        phrases={"definition": "definition", "table": "table"},
        colour="#a2d2ff",
    ),
    "settings": Words(
        description="Instance settings that are content (a documented list) and differ from the defaults (one doc).",
        phrases={"values": "setting"},
    ),
    "snippets": Words(
        description="Native query snippets, in their snippet folder.",
        aliases=("snippet",),
        phrases={"content": "SQL"},
        colour="#ffd6a5",
    ),
    "transforms": Words(
        description="Transforms: a query or Python program writing a table, in its transform folder.",
        aliases=("transform",),
        phrases={"source": "source", "target": "target table", "tag_ids": "tags", "run_trigger": "run trigger",
                 "owner": "owner", "owner_email": "owner"},
        colour="#bde0fe",
    ),
    "transform-tags": Words(
        description="Transform tags (by name; the default hourly/daily/weekly/monthly ones are adopted).",
        aliases=("transform-tag",),
        colour="#bde0fe",
    ),
    "transform-jobs": Words(
        description="Transform jobs: a cron schedule running the transforms with some tags.",
        aliases=("transform-job",),
        phrases={"schedule": "schedule", "tag_ids": "tags", "ui_display_type": "schedule editor"},
        colour="#bde0fe",
    ),
    "python-libraries": Words(
        description="The Python library transforms import (common.py; Enterprise, transforms-python).",
        aliases=("python-library",),
        phrases={"source": "code"},
        colour="#bde0fe",
    ),
    "tables": Words(
        description="Table and field metadata (matched by name on import, never created).",
        phrases={
            "fields": "field",
            "visibility_type": "visibility",
            "display_name": "display name",
            "entity_type": "table type",
            "published_in": "published in the Library",
            "owner": "owner",
            "data_layer": "data layer",
        },
        colour="#bde0fe",
    ),
    "timelines": Words(
        description="Event timelines and their events, in their collection's folder.",
        aliases=("timeline",),
        phrases={
            "events": "event",
            "default": {True: "made the default timeline", False: "no longer the default"},
        },
        colour="#cdb4db",
    ),
    "tenants": Words(
        description="Tenants (Enterprise, 0.58+): the customers of a multi-tenant instance, by slug.",
        aliases=("tenant",),
        phrases={"is_active": {True: "reactivated", False: "deactivated"}, "attributes": "tenant attributes"},
        colour="#ffc8dd",
    ),
    "verifications": Words(
        description="Content verification (Pro/Enterprise): the verified questions, models, metrics and dashboards.",
        aliases=("verification",),
        phrases={"text": "verification note", "moderator": "verified by", "verified_at": "verified at"},
        colour="#b7e4c7",
    ),
    "users": Words(
        description="People (by email): names, locale, attributes, active or deactivated.",
        aliases=("user",),
        phrases={
            "is_active": {True: "reactivated", False: "deactivated"},
            "is_superuser": {True: "made an admin", False: "no longer an admin"},
            "first_name": "first name",
            "last_name": "last name",
            "login_attributes": "user attributes",
            "locale": "language",
            "sso_source": "sign-in method",
        },
        colour="#e5e5e5",
    ),
}


def words(kind: str) -> Words:
    """The display words of the kind named `kind` (none for a kind the table does not know)."""
    return WORDS.get(kind, NONE)


def register(kind: str, entry: Words) -> None:
    """A plugin outside mbport gives its kind's display words (call it when the plugin module is imported)."""
    WORDS[kind] = entry
