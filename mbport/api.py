"""The plugin API: the one module a plugin imports (a test holds every built-in plugin to it).

A plugin is one `Kind` subclass per Metabase resource kind. What it may use is re-exported here, typed:
the base class and what its hooks receive, the ref helpers, the helpers several kinds share, the errors
and the client type. The rest of mbport may change without notice; this module changes with care.
"""

from __future__ import annotations

from .capabilities import (
    AboutItem,
    CollectionCascade,
    ComparesRaw,
    DeferredRefs,
    DeletedOnPrune,
    DescribesChanges,
    FetchesDetail,
    FetchesUnlisted,
    HeldInPart,
    ImportsAfter,
    LabelContext,
    Locates,
    MadeByMetabase,
    MatchedOnly,
    MatchesByCode,
    Narrows,
    NeedsDatabaseSettings,
    NeverPruned,
    OptIn,
    OrderedPositions,
    OrdersWrites,
    PartOf,
    ProvidesFolders,
    RecoversLostCreate,
    RemembersMatch,
    ReplacedOnUpdate,
    Requires,
    SetLikeFields,
    Settles,
    StagedWrites,
    SubObjects,
    Unreferenced,
    VersionNotes,
    stages,
)
from .client import ApiError, MetabaseClient, Shape, register_secret
from .crossings import (
    MBQL5_SINCE,
    NOTIFICATIONS_SINCE,
    TEMPLATE_TAG_LISTS_SINCE,
    alert_problems,
    check_stored_query,
    is_mbql4,
    is_mbql5,
    notification_of_alert,
    pulse_alert_body,
    query_for_target,
    query_in_tree_dialect,
    stored_query,
    template_tags_as,
)
from .diff import describe_dashcards, describe_parameters, describe_query, describe_tabs
from .display import Words
from .display import register as register_words
from .errors import MbportError
from .hooks import DiagnoseContext, Phase, WriteRequest
from .import_options import ImportOptions
from .kind import DatabaseNeed, ExportContext, Kind, PathContext, PathHint
from .kindutil import (
    ARCHIVE_STAGE,
    ARCHIVED,
    COMMON_DROP,
    FORESEEN,
    archive_order,
    archived_fields,
    archived_payload,
    archived_state,
    archived_with_container,
    archived_with_problems,
    canonical_query,
    driver_features,
    get_each,
    get_unless_missing,
    hold_back,
    in_exported_collection,
    lenient_walker,
    listed_once,
    mbql4_query,
    omit_defaults,
    query_version_only,
    ref_addresses,
    restore_home,
    same_query,
    token_lacks,
)
from .output import status
from .plugin_helpers.channels import channel_doc, name_channels, resolved_channel, reuse_ids, with_channel_ids
from .plugin_helpers.dimensions import DIMENSIONS_UNWRITABLE, dimensions_doc
from .plugin_helpers.folders import (
    NO_SCHEMA,
    PERSONAL_FOLDER,
    SNIPPETS_FOLDER,
    TENANTS_FOLDER,
    TRANSFORMS_FOLDER,
    table_folder,
)
from .plugin_helpers.permissions import (
    BUILT_IN_GROUPS,
    GRAPH_ADDRESS,
    GRAPH_ID,
    IMPORT_INFO,
    GrantGraph,
    GraphRow,
    put_graph,
)
from .plugin_helpers.schedules import canonical_cron, cron_to_schedule, schedule_to_cron
from .plugin_helpers.table_scoped import TableScoped
from .plugin_helpers.tenants import (
    SHARED_TENANT_NAMESPACE,
    TENANT_NAMESPACE,
    TENANT_ROOT_TYPE,
    TENANTS,
    ensure_tenants_on,
    has_tenants,
)
from .refs import (
    REF,
    SECRET,
    Walker,
    address,
    address_kind,
    collect_refs,
    is_ref,
    late_bound_refs,
    ref_to,
    split_address,
)
from .spec import (
    FALSY,
    OMIT,
    Match,
    Needs,
    common,
    copy,
    custom,
    each,
    flag,
    one,
    present,
    ref,
    skip,
    skips,
    walk,
)
from .tree import slugify

__all__ = [
    # the base class and what its hooks receive
    "Kind", "ExportContext", "PathContext", "PathHint", "DatabaseNeed", "WriteRequest", "ImportOptions",
    "DiagnoseContext", "Phase",
    # capabilities a kind declares among its bases (mbport.capabilities), and the stages of any kind
    "StagedWrites", "OrderedPositions", "OptIn", "RecoversLostCreate", "ReplacedOnUpdate", "Settles", "Narrows",
    "HeldInPart", "RemembersMatch", "FetchesUnlisted", "NeedsDatabaseSettings", "DeferredRefs", "ImportsAfter", "SubObjects",
    "FetchesDetail", "ComparesRaw", "Requires", "VersionNotes", "LabelContext", "SetLikeFields", "MatchedOnly",
    "ProvidesFolders", "MatchesByCode", "Locates", "OrdersWrites", "CollectionCascade", "PartOf", "DescribesChanges",
    "NeverPruned", "DeletedOnPrune", "Unreferenced", "MadeByMetabase", "AboutItem",
    "stages",
    # display words (description, --select aliases, diff phrases, graph colour) of a kind outside mbport
    "Words", "register_words",
    # the client and its errors; what a kind reads of an answer (api.get(path, shape=Shape(...)))
    "MetabaseClient", "ApiError", "MbportError", "Shape", "register_secret", "status",
    # refs and addresses
    "REF", "SECRET", "Walker", "address", "address_kind", "collect_refs", "is_ref", "ref_to", "split_address", "slugify",
    # field specs: one declaration per raw field, one Match (mbport.spec)
    "FALSY", "OMIT", "Match", "Needs", "common", "copy", "custom", "each", "flag", "one", "present", "ref", "skip",
    "skips", "walk",
    # helpers for kinds: queries, archiving, defaults
    "ARCHIVE_STAGE", "ARCHIVED", "COMMON_DROP", "FORESEEN", "archive_order", "archived_fields", "archived_payload", "archived_state", "archived_with_container",
    "archived_with_problems", "canonical_query", "driver_features", "get_each", "get_unless_missing", "hold_back", "in_exported_collection", "late_bound_refs",
    "lenient_walker", "listed_once",
    "mbql4_query", "omit_defaults", "ref_addresses", "query_version_only", "restore_home", "same_query",
    "token_lacks",
    # `mbport diff` phrases of structured fields
    "describe_query", "describe_dashcards", "describe_parameters", "describe_tabs",
    # what several kinds share: folders, channels, permission graphs, table-scoped kinds
    "NO_SCHEMA", "PERSONAL_FOLDER", "SNIPPETS_FOLDER", "TENANTS_FOLDER", "TRANSFORMS_FOLDER", "table_folder",
    "channel_doc", "name_channels", "resolved_channel", "reuse_ids", "with_channel_ids",
    "DIMENSIONS_UNWRITABLE", "dimensions_doc", "SHARED_TENANT_NAMESPACE", "TENANT_NAMESPACE", "TENANT_ROOT_TYPE", "TENANTS",
    "ensure_tenants_on", "has_tenants",
    "canonical_cron", "cron_to_schedule", "schedule_to_cron",
    "BUILT_IN_GROUPS", "GRAPH_ADDRESS", "GRAPH_ID", "IMPORT_INFO", "GrantGraph", "GraphRow", "put_graph",
    "TableScoped",
    # version crossings (mbport.crossings): queries, and alerts before notifications
    "MBQL5_SINCE", "TEMPLATE_TAG_LISTS_SINCE", "check_stored_query", "is_mbql4", "is_mbql5", "query_for_target",
    "query_in_tree_dialect", "stored_query", "template_tags_as",
    "NOTIFICATIONS_SINCE", "alert_problems", "notification_of_alert", "pulse_alert_body",
]
