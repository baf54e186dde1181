"""Database connections by name; every secret in `details` is replaced by a `$secret` marker."""

from __future__ import annotations

from typing import Any

from mbport.kind import ExportContext, Kind, PathHint
from mbport.refs import SECRET

REDACTED = "**MetabasePass**"
# Metabase's default sensitive connection properties (api-surface.md §17); any value it redacts counts too.
SENSITIVE = frozenset({"password", "pass", "tunnel-pass", "tunnel-private-key", "tunnel-private-key-passphrase",
                       "access-token", "refresh-token", "service-account-json"})


def secret_name(database: str, key: str) -> str:
    return f"databases/{database}/{key}"


class Databases(Kind):
    name = "databases"
    endpoint = "/api/database"
    description = "Database connections (secrets become markers, supplied at import time)."
    aliases = ("database",)
    key_fields = ("name",)
    keep = ("name", "engine", "description", "auto_run_queries", "cache_ttl", "caveats", "points_of_interest",
            "is_full_sync", "is_on_demand", "refingerprint", "settings", "is_sample", "schedules")
    drop = {
        "id": "instance-specific id; the key is the name",
        "details": "kept with secrets replaced by markers",
        "created_at": "server timestamp", "updated_at": "server timestamp",
        "creator_id": "audit", "dbms_version": "reported by the driver", "features": "reported by the driver",
        "initial_sync_status": "sync progress", "timezone": "reported by the driver",
        "native_permissions": "the reading user's permission", "can_upload": "the reading user's permission",
        "can-manage": "the reading user's permission", "can_write": "the reading user's permission",
        "is_audit": "Metabase's internal audit database is never exported",
        "is_attached_dwh": "Cloud-managed warehouse flag", "router_database_id": "EE database routing",
        "router_user_attribute": "EE database routing", "provider_name": "reported by Metabase",
        "uploads_enabled": "uploads are configured per target", "uploads_schema_name": "uploads configuration",
        "uploads_table_prefix": "uploads configuration", "metadata_sync_schedule": "kept as `schedules`",
        "cache_field_values_schedule": "kept as `schedules`", "tables": "tables kind",
        "write_data_details": "a second set of connection details (secrets); not exported",
        "entity_id": "databases are matched by name", "is_editable": "derived", "hydrated": "hydration",
        "uploads": "uploads configuration", "transforms": "transforms configuration",
    }

    def list(self, api, ctx: ExportContext) -> list[dict[str, Any]]:
        body = api.get(self.endpoint)
        rows = body["data"] if isinstance(body, dict) else body
        return [r for r in rows if not r.get("is_audit") and isinstance(r.get("id"), int) and r["id"] > 0]

    def normalize_more(self, doc, raw, ctx):
        details = {}
        for key, value in sorted((raw.get("details") or {}).items()):
            if key in SENSITIVE or value == REDACTED:
                details[key] = {SECRET: secret_name(raw["name"], key)} if value not in (None, "") else value
            else:
                details[key] = value
        doc["details"] = details
        if "schedules" not in doc:
            schedules = {k: raw[f] for k, f in (("metadata_sync", "metadata_sync_schedule"),
                                                ("cache_field_values", "cache_field_values_schedule")) if raw.get(f)}
            if schedules:
                doc["schedules"] = schedules
        for key in ("description", "caveats", "points_of_interest", "cache_ttl", "settings"):
            if doc.get(key) is None:
                doc.pop(key, None)
        return doc

    def path(self, doc, folders) -> PathHint:
        return PathHint((), doc["name"])

    def secrets(self, doc: dict[str, Any]) -> list[str]:
        """The secret names this doc needs at import time."""
        return sorted(v[SECRET] for v in doc.get("details", {}).values() if isinstance(v, dict) and SECRET in v)
