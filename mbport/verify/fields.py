"""What verify compares and what it skips: the one list of volatile fields (each with its reason), the keys that
hold ids (and of which kind), the keys that hold plain numbers, and the fields it knows and compares.

A field a GET returns that is in none of these lists is still compared, but reported by the tests
(`tests/verify/test_fields.py`): someone has to decide whether it is content or noise. An integer under a key
that is neither an id key nor a number key is reported to the user as unclassified, never ignored.
"""

from __future__ import annotations

# ---- skipped: the instance's own bookkeeping, never content a migration should carry ----
VOLATILE: dict[str, str] = {
    "id": "the instance's own number for the object; objects are paired by state or natural key instead",
    "entity_id": "Metabase gives every object a new entity id on the instance it is created on",
    "created_at": "when the object was made on this instance (a migration makes it later)",
    "updated_at": "when the object last changed on this instance",
    "date_joined": "when the account was made on this instance",
    "last_login": "activity on this instance",
    "last_used_at": "activity on this instance",
    "last_viewed_at": "activity on this instance",
    "last_query_start": "activity on this instance",
    "last_analyzed": "when this instance's sync last looked at the table or field",
    "cache_invalidated_at": "when this instance last emptied the card's result cache",
    "initially_published_at": "when the card or dashboard first appeared on this instance",
    "view_count": "usage on this instance",
    "average_query_time": "usage on this instance",
    "query_average_duration": "usage on this instance",
    "parameter_usage_count": "usage on this instance",
    "dashboard_count": "derived: how many dashboards use the card (the dashboards are compared)",
    "member_count": "derived from the memberships, which are compared themselves",
    "creator_id": "who made it on this instance (on a target: the account that imported it)",
    "creator": "who made it on this instance (hydrated user)",
    "updated_by": "who last changed it on this instance",
    "made_public_by_id": "who shared it on this instance",
    "last-edit-info": "who last edited it on this instance, and when",
    "can_write": "what the reading account may do, not a property of the object",
    "can_restore": "what the reading account may do",
    "can_delete": "what the reading account may do",
    "can_manage_db": "what the reading account may do",
    "can_run_adhoc_query": "what the reading account may do",
    "can_upload": "what the reading account may do",
    "native_permissions": "what the reading account may do",
    "download_perms": "what the reading account may do",
    "metabase_version": "the version that last saved the card: differs after a migration between versions",
    "card_schema": "Metabase's internal card format version",
    "dependency_analysis_version": "Metabase's internal bookkeeping",
    "fingerprint_version": "the version of this instance's sync",
    "fingerprint": "computed by the instance's own sync; the data itself is compared by running every card",
    "initial_sync_status": "progress of this instance's sync",
    "legacy_query": "derived from dataset_query, which is compared (semantically, across MBQL versions)",
    "definition_description": "text Metabase derives from the definition, which is compared",
    "masked_key": "an API key's value is new on the target by design (recreated with --with-api-keys)",
    "public_uuid": "random per instance: a public link is never the same URL on another instance",
    "revision": "the permission graph's edit counter on this instance",
    "common_name": "derived from first_name and last_name, which are compared",
    "is_qbnewb": "whether the person has used this instance's query builder yet",
    "first_login": "activity on this instance",
    "collection": "a hydrated copy of the collection, compared as a collection of its own",
    "dashboard": "a hydrated copy of the dashboard, compared as a dashboard of its own",
    "db": "a hydrated copy of the database, compared as a database of its own",
    "table": "a hydrated copy of the table, compared as a table of its own",
    "param_fields": "hydrated fields, compared as fields of their own",
    "param_values": "hydrated field values, compared with the fields",
    "collection_authority_level": "a hydrated property of the card's collection, compared there",
    "is_personal": "derived from personal_owner_id, which is compared",
    "effective_ancestors": "derived from the location, which is compared",
    "effective_location": "derived from the location, which is compared",
    "can_access_data_model": "what the reading account may do",
    "is_installer": "whether the account set this instance up",
    "has_invited_second_user": "this instance's onboarding state",
    "has_question_and_dashboard": "this instance's onboarding state",
    "personal_collection_name": "derived from the owner's name",
    "custom_homepage": "derived from settings, which are compared",
    "archive_operation_id": "a random id of the trash operation on this instance",
    "last_run": "a transform's or job's run history on this instance",
    "can_run": "what the reading account may do",
    "source_readable": "what the reading account may do (read a transform's source tables)",
    "is_remote_synced": "whether this instance syncs the object with a remote git repository",
    "router_database_id": "this instance's database routing bookkeeping",
    "dbms_version": "the warehouse server's version as this instance last saw it",
    "env_name": "Metabase's own name for the setting's environment variable",
    "template_id": "the channel template is compared by its content (the hydrated `template`)",
    "notification_id": "the parent notification's own number",
    "notification_handler_id": "the parent handler's own number",
    "pulse_id": "the parent subscription's own number",
    "membership_id": "the membership's own number; memberships are compared as (user, group, manager)",
    "dashboard_load_id": "per page load",
    "result_metadata": "computed by running the query on this instance; the rows are compared by running it",
    "query_type": "derived from dataset_query, which is compared",
    "source_card_id": "derived from dataset_query, which is compared",
    "estimated_row_count": "the warehouse's estimate at this instance's last sync; the rows are compared by running the cards",
    "archived_at": "when the table disappeared from this instance's warehouse sync",
    "deactivated_at": "when the table disappeared from this instance's warehouse sync",
    "can-manage": "what the reading account may do",
    "last_used_param_values": "the filter values the reading account last used",
    "action": "a hydrated copy of the dashcard's action, compared as an action of its own",
    "user": "a hydrated copy of the recipient's user (user_id is compared)",
    "payload_id": "the alert's payload's own number; the payload itself is compared",
    "moderation_reviews": "the review history is each instance's own (an import's review is its admin's, made then); "
                          "whether the item is verified now, with the note, is compared as `verified`",
}
# Fields whose meaning depends on the kind: skipped only there.
VOLATILE_IN: dict[str, dict[str, str]] = {
    "settings": {
        "description": "Metabase's own text for the setting, per version",
        "default": "Metabase's default for the setting, per version",
        "env_name": "Metabase's own name for the setting's environment variable",
    },
    "cards": {
        "table_id": "derived from dataset_query, which is compared",
        "database_id": "derived from dataset_query, which is compared",
    },
    "databases": {
        "features": "what the driver of this instance's version supports",
        "is_full_sync": "compared through the sync schedules",
    },
    "tables": {
        "fields": "compared as field objects of their own",
        "segments": "compared as segments of their own",
        "metrics": "compared as cards of their own",
        "measures": "compared as measures of their own",
        "dimension_options": "Metabase's own menu of bucketing options, per version",
    },
    "fields": {
        "dimension_options": "Metabase's own menu of bucketing options, per version",
        "default_dimension_option": "Metabase's own menu of bucketing options, per version",
        "target": "a hydrated copy of the FK target field, compared as fk_target_field_id",
        "table_id": "the field is paired inside its table",
        "position": "compared as the order of the table's fields (database_position and the custom order)",
        "name_field": "a hydrated copy of the table's name field, compared as a field",
    },
    "groups": {"members": "compared as memberships"},
    "users": {"group_ids": "compared as memberships", "user_group_memberships": "compared as memberships"},
    "timelines": {"collection_id": "compared through the timeline's pairing key"},
    "pulses": {"cards[].name, description, display, collection_id, download_perms":
               "hydrated from the card, compared as the card (the subscription's own card fields are compared)"},
}

# ---- keys whose value is an id (or a list of ids) of a kind: replaced by the paired object's identity ----
ID_KEYS: dict[str, str] = {
    "collection_id": "collections", "database_id": "databases", "db_id": "databases", "table_id": "tables",
    "card_id": "cards", "model_id": "cards", "dashboard_id": "dashboards", "field_id": "fields",
    "fk_target_field_id": "fields", "human_readable_field_id": "fields", "parent_id": "fields",
    "group_id": "groups", "permissions_group_id": "groups", "user_id": "users", "personal_owner_id": "users",
    "personal_collection_id": "collections", "dashboard_tab_id": "tabs", "dashboard_card_id": "dashcards",
    "dashboardcard_id": "dashcards", "action_id": "actions", "timeline_id": "timelines", "segment_id": "segments",
    "measure_id": "measures", "channel_id": "channels", "payload_id": "payloads", "snippet_id": "snippets",
    "document_id": "documents", "tenant_id": "tenants", "tenant_collection_id": "collections",
    "group_ids": "groups", "series": "cards", "last_edited_by": "users", "owner_user_id": "users",
}

# ---- keys whose integers are plain numbers ----
NUMBERS: frozenset[str] = frozenset({
    "row", "col", "size_x", "size_y", "position", "collection_position", "cache_ttl", "schedule_hour",
    "database_position", "custom_position", "limit", "port", "alert_above_goal", "max-results", "decimals",
    "scale", "graph.goal_value", "priority", "schedule_minute", "row_count", "running_time", "uploads_count",
    "alert_first_only", "value", "default", "count", "version",
    "multiplier", "min_duration_ms", "duration",  # a cache policy's strategy
})

# ---- structures read with the id walker (queries, settings, parameters): their keys are user content ----
WALKED: frozenset[str] = frozenset({
    "dataset_query", "definition", "visualization_settings", "parameters", "parameter_mappings", "target",
    "details", "settings", "login_attributes", "jwt_attributes", "structured_attributes", "embedding_params",
    "values_source_config", "value", "default", "attribute_remappings", "graph",
    "values", "human_readable_values", "nfc_path", "inline_parameters", "card_ids", "pivot_results",
    "permissions", "custom_formatting", "caveats", "points_of_interest", "field_ref",
})

# ---- keys the server returns that verify compares as they are (names, flags, text, enums, nested objects) ----
# Read off the GETs of every seed and version profile (tests/verify/test_fields.py fails on a key in no list).
COMPARED: frozenset[str] = frozenset({
    "built_in_type", "run_trigger", "source_type", "source", "writes", "source_database_id", "target_db_id",
    "tag_ids", "source-database", "source-tables", "body",
    "path",  # the transforms' Python library: its path (common.py)
    # a measure's or metric card's persisted dimensions (0.60+), inside their `dimensions` list
    "display-name", "semantic-type", "effective-type", "status",
    "active", "archived", "archived_directly", "attribute", "attributes", "authority_level", "auto_apply_filters",
    "auto_run_queries", "base_type", "cache_field_values", "cache_field_values_schedule", "cards", "channel",
    "channel_type", "channels", "coercion_strategy", "collection_preview", "columns", "content", "cron_schedule",
    "dashcards", "data_authority", "data_layer", "data_source", "database_default", "database_indexed", "database_is_auto_increment",
    "database_is_generated", "database_is_nullable", "database_is_pk", "database_partitioned",
    "database_require_filter", "database_required", "database_type", "description", "dimensions", "disable_links",
    "display", "display_name", "document", "content_type", "effective_type", "email", "embedding_type", "enable_embedding", "enabled", "engine",
    "entity_type", "event_name", "events", "field_order", "fields_order", "first_name", "format_rows", "group",
    "handlers", "has_field_values", "has_more_values", "icon", "include_csv", "include_xls", "is_active",
    "is_attached_dwh", "is_audit", "is_data_analyst", "is_env_setting", "is_group_manager", "is_on_demand",
    "is_published", "is_sample", "is_superuser", "is_tenant_group", "is_upload", "is_writable", "json_unfolding", "key", "kind",
    "last_name", "let-user-control-scheduling", "owner_email", "locale", "location", "magic_group_type", "managers", "mapped",
    "members", "metadata_sync", "metadata_sync_schedule", "moderation_reviews", "name", "namespace", "payload",
    "payload_type", "permission_id", "preview_display", "provider_name", "recipients", "refingerprint",
    "router_user_attribute", "schedule_day", "schedule_frame", "schedule_type", "schedules", "schema",
    "semantic_type", "send_condition", "send_once", "show_in_getting_started", "skip_if_empty", "slug",
    "sso_source", "subscriptions", "tabs", "template", "time_matters", "timestamp", "timezone", "type",
    "ui_display_type", "uploads_enabled", "uploads_schema_name", "uploads_table_prefix", "values",
    "visibility_type", "width",
    "strategy", "unit", "refresh_automatically", "schedule", "use_verified_content", "verified",
})

# Maps keyed by an object's identity (a dashboard's dashcards and tabs, a timeline's events, graph entries).
NAMED_MAPS: frozenset[str] = frozenset({"dashcards", "tabs", "events", "permissions"})

# Id keys whose kind depends on the object they are in.
ID_KEYS_IN: dict[str, dict[str, str]] = {
    "collections": {"parent_id": "collections"},
    "transforms": {"tag_ids": "transform-tags"},
    "transform-jobs": {"tag_ids": "transform-tags"},
}

# Settings whose value belongs to the instance, not to its content.
INSTANCE_SETTINGS: dict[str, str] = {
    "site-uuid": "random per instance",
    "site-url": "each instance's own address",
    "setup-token": "each instance's own setup",
    "instance-creation": "when the instance was set up",
    "analytics-uuid": "random per instance",
    "premium-embedding-token": "a licence, per instance (a secret)",
    "version-info-last-checked": "this instance's own update check",
    "startup-time-millis": "this instance's own start",
}

# Set-like lists: their order is the server's, not content.
SET_LIKE: frozenset[str] = frozenset({
    "recipients", "group_ids", "emails", "channels", "handlers", "subscriptions", "user_group_memberships",
    "members", "managers", "dimensions", "series_of_dashcard", "features",
})

# Words an admin reads instead of field names.
WORDS: dict[str, str] = {
    "display": "visualization",
    "dimensions": "remapping",
    "dataset_query": "query",
    "visualization_settings": "visualization settings",
    "parameter_mappings": "filter mappings",
    "click_behavior": "click behaviour",
    "human_readable_values": "remapped values",
    "collection_id": "collection",
    "dashboard_tab_id": "tab",
    "card_id": "card",
    "members": "members",
    "recipients": "recipients",
    "handlers": "channels",
}


def volatile_reason(kind: str, key: str) -> str | None:
    """Why `key` of a `kind` object is not compared, or None when it is compared."""
    return VOLATILE_IN.get(kind, {}).get(key) or VOLATILE.get(key)
