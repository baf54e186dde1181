"""The emulator against the conformance floor (conformance.md), the fidelity checklist (§21) and §22's tables.

Items of conformance.md that already have a test that fails when the behaviour is wrong:

| Item | Test |
|---|---|
| 1 properties before setup | test_session.py::test_properties_before_setup_are_public |
| 2 setup token, 403 on a second setup | test_session.py::test_setup_then_login |
| 3 plain 401, failed login JSON | test_session.py::test_no_credentials_is_plain_text_401, ::test_setup_then_login |
| 5 unknown route, plain 404 | test_session.py::test_unknown_route_is_404_plain_text |
| 6 non-admin on admin endpoint, plain 403 | test_groups.py::test_non_admins_get_403_plain_text |
| 7 missing card fields named | test_cards.py::test_missing_required_fields_are_named |
| 9 malformed JSON is 400 | test_session.py::test_malformed_json_is_400 (plain-text body: test_error_bodies_follow_the_table_of_section_22 here) |
| 8 defaulted "required" fields | test_databases.py::test_sqlite_database_syncs_asynchronously (is_full_sync), test_groups.py::test_add_membership_returns_members_and_admin_join_makes_superuser (is_group_manager) |
| 10 sqlite sync | test_databases.py::test_sqlite_database_syncs_asynchronously |
| 11 `**MetabasePass**` | test_databases.py::test_secrets_are_masked_and_kept_on_put |
| 12 `{data, total}` | test_databases.py::test_list_is_an_envelope_with_tables_and_saved |
| 13 hidden tables | test_metadata.py::test_hidden_tables_and_sensitive_fields_leave_metadata |
| 14 two groups, built-ins fixed | test_groups.py::test_fresh_instance_has_exactly_the_two_magic_groups, ::test_magic_groups_cannot_be_renamed_or_deleted |
| 15 memberships, personal_collection_id | test_users.py::test_get_user_has_memberships_and_recorded_keys, ::test_list_is_an_envelope_of_personal_users_ordered_by_name |
| 16 duplicate email | test_users.py::test_create_duplicate_email_is_case_insensitive |
| 17 user paging, status, API-key users | test_users.py::test_list_pages_with_limit_and_offset, ::test_list_status_and_include_deactivated, ::test_api_key_users_are_never_listed |
| 18 admin join, DELETE deactivates | test_groups.py::test_add_membership_returns_members_and_admin_join_makes_superuser, test_users.py::test_delete_deactivates_and_blocks_login |
| 19 membership map | test_groups.py::test_membership_map_is_keyed_by_user_id |
| 20 location, moves | test_collections.py::test_location_is_the_ancestor_path, ::test_rename_and_move_rewrites_descendants |
| 21 root first, others' personal | test_collections.py::test_list_starts_with_root_and_hides_trash, ::test_admin_sees_other_users_personal_collections |
| 22 archive cascades, PUT un-archives | test_collections.py::test_archiving_archives_contents_and_omitted_archived_unarchives |
| 23 items envelopes | test_collections.py::test_items_envelope_models_and_paging, ::test_snippets_namespace_items_are_never_paged |
| 24, 25 fresh entity_id, both ids read | test_cards.py::test_client_entity_id_is_ignored_and_both_ids_read |
| 26 MBQL 5 storage, legacy-mbql | test_cards.py::test_mbql4_is_stored_as_mbql5_and_legacy_on_request |
| 27 f=all, f=archived | test_cards.py::test_list_filters |
| 28 running queries | test_dataset.py::test_native_query_mbql4, ::test_saved_card_with_tags_card_references_and_snippets |
| 28 running MBQL queries (filters, expressions, aggregations, temporal breakouts, joins, source cards, stages, segment/metric/measure macros; failures answered 202 "failed") | test_query_mbql.py (every test; MBQL 4 and 5 give the same rows) |
| 29 auto-placement | test_dashboards.py::test_dashboard_question_is_autoplaced_in_the_first_free_slot, ::test_dashboard_question_goes_on_the_given_tab_or_the_first |
| 30 dashcard diff | test_dashboards.py::test_plain_update_leaves_dashcards_alone_and_tabs_alone_are_ignored, ::test_negative_ids_create_missing_ids_delete_and_response_has_real_ids, ::test_temporary_tab_ids_in_dashcards_become_real_ids |
| 31 every dashcard needs a tab | test_dashboards.py::test_a_dashcard_without_tab_is_a_plain_400_when_tabs_are_sent, ::test_with_exactly_one_tab_dashcards_are_put_on_it |
| 32 tabs deleted, dashboard questions archived | test_dashboards.py::test_dashcards_without_tabs_delete_every_tab_and_the_dashcards_on_them, ::test_dropping_a_dashboard_question_archives_it_and_re_adding_unarchives |
| 33 series | test_dashboards.py::test_series_is_written_as_ids_and_read_back_as_cards_in_order |
| 34 duplicate snippet, no DELETE | test_snippets.py::test_duplicate_names_are_plain_text_400, ::test_there_is_no_delete |
| 35 revision_message | test_segments_measures.py::test_segment_put_without_revision_message_is_400, ::test_measure_put_without_revision_message_is_400 |
| 36 API keys | test_api_keys.py::test_create_shows_the_key_once, ::test_key_authenticates_as_its_group |
| 38 PUT setting 204 | test_settings.py::test_put_one_setting_then_read_it |
| 39 collection graph shape | test_collection_graph.py::test_fresh_instance_all_users_write_root_and_admins, ::test_graph_is_sparse_and_never_says_none |
| 40 revisions, 409, force | test_collection_graph.py::test_stale_revision_is_409_unless_forced, test_permissions_graph.py::test_stale_revision_is_409_unless_forced |
| 41 data graph | test_permissions_graph.py::test_admins_are_synthesised_for_every_database_without_any_write, ::test_new_database_takes_each_groups_lowest_level, ::test_put_returns_only_submitted_groups_and_bumps_revision |

Items 4 and 37 get their own test here: the session cookie was untested, and the pulse test sent a card
without both flags, so it passed with only one of them required.

The fidelity checklist of api-surface.md §21 (tests here unless a file is named):

| §21 point | Test |
|---|---|
| defaults of "required" params and body fields | items 8, 22, 37; test_cards.py::test_list_filters (`f` defaults to all) |
| open bodies and query maps | test_rest_creates_never_keep_entity_id_and_accept_unknown_keys, test_rest_updates_accept_unknown_keys_and_query_parameters |
| declared fields are still typed | test_a_wrong_type_in_a_declared_field_is_a_400_naming_it |
| `limit`/`offset` middleware | test_list_endpoints_answer_the_shape_of_section_22 (paged variants), test_paging_middleware_reads_limit_and_offset_with_parse_long |
| NanoID `{id}` lookup | test_nano_id_lookup_on_every_served_route_that_allows_it |
| dashboard diff, tab fixup, tab 400, dashboard questions, `dashcards` without `tabs` | items 29-32 |
| revision 409, `force`, `skip-graph` | item 40, test_permissions_graph.py / test_collection_graph.py ::test_skip_graph_returns_only_the_revision |
| collection graph merge, no `none`; least-permissive values elided | test_collection_graph.py::test_put_merges_and_returns_the_full_graph_with_its_own_revision, ::test_graph_is_sparse_and_never_says_none, test_permissions_graph.py::test_new_database_takes_each_groups_lowest_level |
| `**MetabasePass**`; DELETE user deactivates; API-key users hidden | items 11, 18, 17 |
| archive moves items to the Trash | test_cards.py::test_archive_presents_card_in_trash_and_restores, test_dashboards.py::test_archived_dashboard_is_presented_in_the_trash |
| `show_dashboard_questions` | test_collections.py::test_dashboard_questions_hidden_unless_asked |
| `revision_message` on segment/measure PUT | item 35 |
| list envelopes of §22 | test_list_endpoints_answer_the_shape_of_section_22, test_every_list_endpoint_served_is_in_the_shape_table |
| error bodies of §22 (plain text vs JSON) | test_error_bodies_follow_the_table_of_section_22 |
| defaults written by PUT pulse / PUT collection | items 37, 22 |
| `password` honoured on POST /api/user | test_users.py::test_create_honours_password_and_lowercases_email |
| REST creates never keep `entity_id` | test_rest_creates_never_keep_entity_id_and_accept_unknown_keys (+ test_dashboards.py for dashcards) |
| 0.63 list-form `template-tags` | test_cards.py::test_profile_063_returns_tag_lists_and_null_legacy_query |
| every served route is in the spec | test_every_registered_route_is_in_the_served_spec_with_its_method |

Behaviours of api-surface.md §23 found by real clients' integration suites (issue 12):

| behaviour | Test |
|---|---|
| `GET /api/health` 200 `{"status": "ok"}` without a session | test_session.py::test_health_answers_ok_without_a_session_before_and_after_setup |
| remappings only in query_metadata and the field GET, which also has the FK `target` | test_metadata.py::test_remappings_are_served_by_query_metadata_and_the_field_never_by_database_metadata |
| running a card records its `result_metadata`; a native card is saved with its columns | test_dataset.py::test_running_a_card_records_its_metadata_and_a_model_keeps_its_edits, ::test_a_native_card_saved_without_metadata_gets_its_columns |
| MBQL 95 sort directions canonicalized | test_mbql.py::test_mbql95_sort_directions_are_canonicalized_before_conversion |
| a dashcard's query filters an MBQL card through its `dimension` parameter mappings (defaults, dates) | test_query_mbql.py::test_dashcard_parameters_filter_an_mbql_card_through_its_mappings |
| `POST /api/card/:id/query/:export-format` (json, csv, api) | test_dataset.py::test_a_card_downloads_as_json_and_csv |
| creating in or moving into the Trash: 400 "You cannot modify the Trash Collection." | test_collections.py::test_cannot_create_in_trash_and_official_needs_premium, test_cards.py::test_move_to_trash_is_refused, test_dashboards.py::test_creating_a_dashboard_in_the_trash_is_a_plain_400 |
| `card_schema` and `source_card_id` before 0.57 | test_cards.py::test_profile_056_stores_mbql4 |
| version profiles 0.56-0.65, one switch each (versions.md §3): `legacy_query` string (0.57) / null (0.62); dimension refs kept MBQL 5 in the MBQL 4 view (0.61); a classic query with MBQL 5 dimension refs stored empty (0.61) / refused (0.62); tag lists (0.63); the inline-parameter prune (0.57) | test_profiles.py |
| card and dashboard lists hydrate only `creator` (+ `collection` for cards) | test_list_endpoints_answer_the_shape_of_section_22 (its `has_not` sets) |

Old releases (versions.md §3, profiles 0.50 and 0.54, and 0.56 before .13), each a contract of its own:

| behaviour | Test |
|---|---|
| 0.50: `/api/legacy-metric` CRUD; `["metric", id]` on a table expands it | test_old_profiles.py::test_050_legacy_metrics_are_crud_and_run_in_a_query |
| 0.50: alerts written on `/api/alert` (pulse shape), no `/api/notification` | test_old_profiles.py::test_050_alerts_are_written_on_api_alert_in_the_pulse_shape, ::test_050_reports_its_version_and_has_no_notification_api |
| 0.50: archiving a card deletes its active alerts | test_old_profiles.py::test_050_archiving_a_card_deletes_its_active_alerts |
| 0.50: no dashboard questions (`dashboard_id` ignored, absent), no `card_schema`/`source_card_id` | test_old_profiles.py::test_050_cards_have_no_dashboard_questions |
| before 0.56.13: the collection graph lists `"none"` | test_old_profiles.py::test_050_collection_graph_lists_none_for_every_pair, ::test_056_before_point_13_lists_none_and_from_13_leaves_it_out |
| before 0.56: no dashcard `inline_parameters` (sending it fails the insert) | test_old_profiles.py::test_050_dashcards_have_no_inline_parameters |
| 0.54: `/api/alert` read-only beside notifications; dashboard questions; `*-idents` added to MBQL 4 | test_old_profiles.py::test_054_alert_api_is_read_only_beside_notifications, ::test_054_dashboard_questions_and_mbql4_idents |
"""

from __future__ import annotations

from collections import Counter

import pytest

from mbport.emulator import Emulator, spec
from mbport.emulator.router import registered_routes
from mbport.emulator.store import is_entity_id
from tests.conftest import ADMIN_EMAIL, make_client

ALL_USERS, ADMINS = 1, 2
PASSWORD = "Us3r-passw0rd!"
FOREIGN_ENTITY_ID = "abcdefghijklmnopqrstu"
STALE = "Looks like someone else edited the permissions and your data is out of date. Please fetch new data and try again."


def ok(resp) -> dict | list:
    assert resp.status_code == 200, f"{resp.request.method} {resp.request.url}: {resp.status_code} {resp.text}"
    return resp.json()


def is_plain_text(resp) -> bool:
    return resp.headers.get("content-type", "").startswith("text/plain")


def is_json(resp) -> bool:
    return resp.headers.get("content-type", "").startswith("application/json")


def login(emulator, admin, email: str):
    ok(admin.post("/api/user", json={"email": email, "first_name": "Rita", "last_name": "Ross", "password": PASSWORD}))
    session = ok(make_client(emulator).post("/api/session", json={"username": email, "password": PASSWORD}))["id"]
    return make_client(emulator, **{"X-Metabase-Session": session})


@pytest.fixture
def emulator() -> Emulator:
    """`content` makes an action on the bundled (SQLite) sample database: the emulator's switch lets SQLite hold it."""
    return Emulator(sqlite_actions=True)


@pytest.fixture
def content(emulator, admin) -> dict:
    """One of every object the list endpoints return, made through the API on the bundled sample database."""
    db = ok(admin.post("/api/database/sample_database"))
    emulator.wait_idle()
    ok(admin.put(f"/api/database/{db['id']}", json={"settings": {"database-enable-actions": True}}))
    orders = next(t for t in ok(admin.get("/api/table")) if t["name"] == "orders")
    field = next(f for f in ok(admin.get(f"/api/table/{orders['id']}/query_metadata"))["fields"] if f["name"] == "total")
    collection = ok(admin.post("/api/collection", json={"name": "Reports"}))
    ok(admin.post("/api/collection", json={"name": "Snippet folder", "namespace": "snippets"}))
    mbql = {"database": db["id"], "type": "query", "query": {"source-table": orders["id"]}}
    native = {"database": db["id"], "type": "native", "native": {"query": "select 1"}}

    def card(name, query, **extra):
        return ok(admin.post("/api/card", json={"name": name, "display": "table", "dataset_query": query,
                                                "visualization_settings": {}, "collection_id": collection["id"],
                                                **extra}))

    question = card("Orders", native)
    model = card("Orders model", mbql, type="model")
    card("Order count", {**mbql, "query": {**mbql["query"], "aggregation": [["count"]]}}, type="metric")
    dashboard = ok(admin.post("/api/dashboard", json={"name": "Sales", "collection_id": collection["id"]}))
    dashcard = {"id": -1, "card_id": question["id"], "row": 0, "col": 0, "size_x": 4, "size_y": 4}
    dashcard_id = ok(admin.put(f"/api/dashboard/{dashboard['id']}", json={"dashcards": [dashcard]}))["dashcards"][0]["id"]
    ok(admin.post("/api/pulse", json={
        "name": "Daily", "dashboard_id": dashboard["id"],
        "cards": [{"id": question["id"], "include_csv": False, "include_xls": False, "dashboard_card_id": dashcard_id}],
        "channels": [{"channel_type": "email", "enabled": True, "schedule_type": "daily", "schedule_hour": 8,
                      "recipients": [{"email": "ext@partner.io"}]}],
    }))
    ok(admin.post("/api/notification", json={
        "payload_type": "notification/card", "payload": {"card_id": question["id"]},
        "subscriptions": [{"type": "notification-subscription/cron", "cron_schedule": "0 0 8 * * ? *"}],
        "handlers": [{"channel_type": "channel/email",
                      "recipients": [{"type": "notification-recipient/user", "user_id": 1}]}],
    }))
    ok(admin.post("/api/channel", json={"name": "Hook", "type": "channel/http",
                                        "details": {"url": "https://hooks.example.com/x", "auth-method": "none"}}))
    ok(admin.post("/api/native-query-snippet", json={"name": "Big", "content": "total > 100"}))
    ok(admin.post("/api/glossary", json={"term": "ARR", "definition": "Annual recurring revenue"}))
    ok(admin.post("/api/document", json={"name": "Notes", "collection_id": collection["id"],
                                         "document": {"type": "doc", "content": []}}))
    timeline = ok(admin.post("/api/timeline", json={"name": "Launches", "collection_id": collection["id"]}))
    ok(admin.post("/api/timeline-event", json={"timeline_id": timeline["id"], "name": "v1", "timestamp": "2024-03-01",
                                               "timezone": "UTC"}))
    ok(admin.post("/api/segment", json={"name": "Big orders", "table_id": orders["id"], "definition": {
        "source-table": orders["id"], "filter": [">", ["field", field["id"], None], 100]}}))
    ok(admin.post("/api/measure", json={"name": "Revenue", "table_id": orders["id"], "definition": {
        "aggregation": [["sum", ["field", field["id"], None]]]}}))
    ok(admin.post("/api/action", json={"name": "Touch", "type": "query", "model_id": model["id"],
                                       "database_id": db["id"], "dataset_query": native}))
    ok(admin.post("/api/api-key", json={"name": "ci", "group_id": ADMINS}))
    ok(admin.post("/api/user", json={"email": "bob@example.com", "first_name": "Bob", "password": PASSWORD}))
    return {"db": db, "orders": orders, "field": field, "collection": collection, "question": question,
            "model": model, "dashboard": dashboard, "dashcard_id": dashcard_id, "timeline": timeline}


# ---------------------------------------------------------------- conformance items without a test elsewhere

def test_item_04_session_header_cookie_and_api_key_in_any_capitalisation(emulator, admin, admin_session):
    def me(**headers):
        return make_client(emulator, **headers).get("/api/user/current")

    assert ok(me(**{"X-Metabase-Session": admin_session}))["email"] == ADMIN_EMAIL
    assert ok(me(Cookie=f"metabase.SESSION={admin_session}"))["email"] == ADMIN_EMAIL
    assert me(Cookie="metabase.SESSION=00000000-0000-0000-0000-000000000000").status_code == 401
    key = ok(admin.post("/api/api-key", json={"name": "ci", "group_id": ADMINS}))["unmasked_key"]
    assert key.startswith("mb_")
    for header in ("X-API-Key", "x-api-key", "X-API-KEY", "x-Api-kEY"):
        assert ok(me(**{header: key}))["is_superuser"] is True


def test_item_37_pulse_put_unarchives_and_cards_need_both_include_flags(admin, content):
    question = content["question"]
    dashcard_id = content["dashcard_id"]
    channels = [{"channel_type": "email", "enabled": True, "schedule_type": "daily", "schedule_hour": 8,
                 "recipients": [{"email": "ext@partner.io"}]}]
    full_ref = {"id": question["id"], "include_csv": True, "include_xls": False, "dashboard_card_id": dashcard_id}
    for missing in ("include_csv", "include_xls"):
        ref = {k: v for k, v in full_ref.items() if k != missing}
        resp = admin.post("/api/pulse", json={"name": "P", "dashboard_id": content["dashboard"]["id"], "cards": [ref],
                                              "channels": channels})
        assert resp.status_code == 400 and "cards" in resp.json()["errors"], (missing, resp.text)
    pulse = ok(admin.post("/api/pulse", json={"name": "P", "dashboard_id": content["dashboard"]["id"],
                                              "cards": [full_ref], "channels": channels}))
    assert ok(admin.put(f"/api/pulse/{pulse['id']}", json={"archived": True}))["archived"] is True
    assert ok(admin.put(f"/api/pulse/{pulse['id']}", json={"name": "Renamed"}))["archived"] is False


# ---------------------------------------------------------------- §22 list shapes

ARRAY = "array"
BY_USER_ID = "object keyed by user id"
PAGED = {"data", "total", "limit", "offset"}
ITEMS = {"total", "data", "models", "limit", "offset"}
DOCUMENTS = {"items"}  # documents/api/document.clj GET "/": `{:items [...]}`, no paging
SETTING_KEYS = {"key", "value", "is_env_setting", "env_name", "description", "default"}
API_KEY_KEYS = {"id", "name", "group", "masked_key", "created_at", "updated_at", "updated_by"}

# (path, params, shape, keys every item has, keys no item has, item keys are exactly `has`)
LISTS = [
    # Lists hydrate only `creator` and `collection` (cards) or `creator` (dashboards), plus last-edit-info
    # (queries_rest/api/card.clj `cards-for-filter-option`, dashboards_rest `get-dashboards`): none of the
    # detail GET's hydrations, so mbport cannot come to depend on them.
    ("/api/card", {}, ARRAY, {"creator", "collection", "last-edit-info", "dataset_query", "result_metadata"},
     {"can_write", "dashboard_count", "dashboard", "can_delete", "can_restore", "moderation_reviews",
      "parameter_usage_count", "average_query_time", "can_manage_db"}, False),
    ("/api/card", {"f": "archived"}, ARRAY, set(), set(), False),
    ("/api/dashboard", {}, ARRAY, {"creator", "last-edit-info"},
     {"dashcards", "tabs", "collection", "can_write", "can_delete", "can_restore", "param_fields",
      "moderation_reviews"}, False),
    ("/api/collection", {}, ARRAY, {"id", "name", "can_write"}, set(), False),
    ("/api/collection/{collection}/items", {}, ITEMS, {"model", "name"}, {"dataset_query"}, False),
    ("/api/collection/root/items", {}, ITEMS, {"model", "name"}, {"dataset_query"}, False),
    ("/api/collection/root/items", {"namespace": "snippets"}, {"total", "data", "models"}, {"model"}, set(), False),
    # `here`/`below` are only present when not empty (test_collections.py checks them).
    ("/api/collection/tree", {}, ARRAY, {"children", "id", "name"}, set(), False),
    ("/api/user", {}, PAGED, {"group_ids", "personal_collection_id"}, {"user_group_memberships"}, False),
    ("/api/permissions/group", {}, ARRAY, {"member_count"}, set(), False),
    ("/api/permissions/membership", {}, BY_USER_ID, {"membership_id", "group_id", "user_id", "is_group_manager"},
     set(), True),
    ("/api/database", {}, {"data", "total"}, {"engine", "details"}, set(), False),
    ("/api/table", {}, ARRAY, {"db"}, {"fields"}, False),
    ("/api/native-query-snippet", {}, ARRAY, {"creator", "is_remote_synced"}, set(), False),
    ("/api/timeline", {}, ARRAY, {"creator", "collection"}, {"events"}, False),
    ("/api/timeline", {"include": "events"}, ARRAY, {"creator", "collection", "events"}, set(), False),
    ("/api/pulse", {}, ARRAY, {"cards", "channels", "creator", "can_write"}, set(), False),
    ("/api/alert", {}, ARRAY, {"card", "channels"}, set(), False),
    ("/api/notification", {}, ARRAY, {"payload_type", "handlers", "subscriptions"}, set(), False),
    ("/api/segment", {}, ARRAY, {"definition", "table_id"}, set(), False),
    # §22: measures carry `dimensions` (the columns arrive in 0.60: migrations/060/20260213_dimension_columns.yaml)
    ("/api/measure", {}, ARRAY, {"definition", "definition_description", "dimensions"}, set(), False),
    ("/api/action", {}, ARRAY, {"model_id", "type"}, set(), False),
    ("/api/api-key", {}, ARRAY, API_KEY_KEYS, {"unmasked_key"}, True),
    ("/api/setting", {}, ARRAY, SETTING_KEYS, set(), True),
    ("/api/channel", {}, ARRAY, {"type", "details", "active"}, set(), False),
    ("/api/glossary", {}, {"data"}, {"term", "definition", "creator", "creator_id"}, set(), False),
    ("/api/document", {}, DOCUMENTS, {"document", "creator", "can_write", "is_remote_synced", "entity_id"},
     {"can_delete", "can_restore", "cards"}, False),
    ("/api/metric", {}, PAGED, {"id", "name", "description", "collection_id", "collection"}, set(), True),
]


def _list_id(entry) -> str:
    path, params = (entry.values if hasattr(entry, "values") else entry)[:2]
    return path + ("?" + "&".join(f"{k}={v}" for k, v in params.items()) if params else "")


def _items(body, shape) -> list:
    if shape == ARRAY:
        assert isinstance(body, list), f"expected a bare array, got {type(body).__name__}"
        return body
    if shape == BY_USER_ID:
        assert isinstance(body, dict) and all(k.isdigit() for k in body), body
        return [m for memberships in body.values() for m in memberships]
    assert isinstance(body, dict) and set(body) == shape, f"expected the envelope {sorted(shape)}, got {body!r:.200}"
    return body["items"] if shape == DOCUMENTS else body["data"]


@pytest.mark.parametrize(("path", "params", "shape", "has", "has_not", "exact"), LISTS,
                         ids=[_list_id(entry) for entry in LISTS])
def test_list_endpoints_answer_the_shape_of_section_22(admin, content, path, params, shape, has, has_not, exact):
    if params.get("f") == "archived":
        ok(admin.put(f"/api/card/{content['model']['id']}", json={"archived": True}))
    url = path.format(collection=content["collection"]["id"])
    items = _items(ok(admin.get(url, params=params)), shape)
    assert items, "the fixture creates something for every list"
    for item in items:
        assert has <= set(item), f"missing {sorted(has - set(item))} in {item!r:.300}"
        assert not has_not & set(item), f"unexpected {sorted(has_not & set(item))}"
        if exact:
            assert set(item) == has
    # The shape never depends on paging; paged envelopes report what they were asked for.
    paged = ok(admin.get(url, params={**params, "limit": 1, "offset": 0}))
    _items(paged, shape)
    if isinstance(shape, set) and "limit" in shape:
        assert (paged["limit"], paged["offset"], len(paged["data"])) == (1, 0, 1)


def test_every_list_endpoint_served_is_in_the_shape_table(emulator):
    """A list route added later must be added to LISTS (and to §22) too."""
    listed = {_list_id(entry).split("?")[0] for entry in LISTS}
    collection_like = {r.path for r in registered_routes() if r.method == "GET" and "{" not in r.path}
    # Single objects, and the few lists §22 does not cover.
    not_in_table = {"/api/health", "/api/session/properties", "/api/user/current", "/api/user/recipients", "/api/api-key/count",
                 "/api/collection/graph", "/api/collection/root", "/api/collection/trash", "/api/permissions/graph",
                 "/api/pulse/form_input", "/api/database/metadata", "/api/timeline/collection/root",
                 # EE only (402 here): their shapes are tested in test_sandboxes.py and test_impersonations.py
                 "/api/mt/gtap", "/api/ee/advanced-permissions/impersonation",
                 # EE, 0.59+ (the Library: a single object and its tree): tested in test_library.py
                 "/api/ee/library", "/api/ee/library/tree",
                 # EE, 0.58+ (402 here): its `{"data": [...]}` shape is tested in test_tenants.py
                 "/api/ee/tenant",
                 # 0.50 only (404 here): its shape is tested in test_old_profiles.py
                 "/api/legacy-metric",
                 # not in §22 (newer than the recorded instance): tests/emulator/test_transforms.py holds their shapes
                 "/api/transform", "/api/transform-tag", "/api/transform-job",
                 # Enterprise 0.57-0.58 only (404 here): tested in test_transforms.py
                 "/api/ee/transform",
                 # not in §22: shapes from the source, tested in test_cache.py and test_metabots.py
                 "/api/cache", "/api/metabot/metabot",
                 # not in §22: search (verified cards, dashboards), from the source: test_moderation.py, test_search.py
                 "/api/search"}
    assert collection_like - not_in_table <= listed, sorted(collection_like - not_in_table - listed)


# ---------------------------------------------------------------- §22 error bodies

def _malformed_json(c):
    return c["admin"].post("/api/card", content=b'{"name": ', headers={"content-type": "application/json"})


def _duplicate_email(c):
    c["admin"].post("/api/user", json={"email": "dup@example.com"})
    return c["admin"].post("/api/user", json={"email": "dup@example.com"})


def _stale_graph(c, path, groups):
    revision = ok(c["admin"].get(path))["revision"]
    ok(c["admin"].put(path, json={"revision": revision, "groups": groups}))  # a change, so the revision moves on
    return c["admin"].put(path, json={"revision": revision, "groups": groups})


def _channel_twice(c):
    body = {"name": "Dup", "type": "channel/http", "details": {"url": "https://x.io", "auth-method": "none"}}
    c["admin"].post("/api/channel", json=body)
    return c["admin"].post("/api/channel", json=body)


def _archived_card_on_dashboard(c):
    card = ok(c["admin"].post("/api/card", json={"name": "Old", "display": "table", "visualization_settings": {},
                                                 "dataset_query": {"database": 1, "type": "native",
                                                                   "native": {"query": "select 1"}}}))
    ok(c["admin"].put(f"/api/card/{card['id']}", json={"archived": True}))
    dash = ok(c["admin"].post("/api/dashboard", json={"name": "D"}))
    return c["admin"].put(f"/api/dashboard/{dash['id']}", json={"dashcards": [
        {"id": -1, "card_id": card["id"], "row": 0, "col": 0, "size_x": 4, "size_y": 4}]})


# (name, request, status, plain-text body or the exact JSON keys of the body)
ERRORS = [
    ("400 schema validation", lambda c: c["admin"].post("/api/card", json={"name": "x"}),
     400, {"errors", "specific-errors"}),
    ("400 malformed JSON", _malformed_json, 400, "Malformed JSON in request body."),
    ("400 checkp", _duplicate_email, 400, {"errors"}),
    ("400 check-400", lambda c: c["admin"].put(f"/api/permissions/membership/{ADMINS}/clear"),
     400, "Invalid Request."),
    ("401 no credentials", lambda c: c["anon"].get("/api/user/current"), 401, "Unauthenticated"),
    ("401 failed login", lambda c: c["anon"].post("/api/session", json={"username": ADMIN_EMAIL, "password": "no"}),
     401, {"errors"}),
    ("402 premium feature (JSON)", lambda c: c["admin"].post("/api/permissions/membership", json={
        "group_id": ADMINS, "user_id": 1, "is_group_manager": True}), 402, {"message", "status"}),
    ("403 forbidden", lambda c: c["rita"].get("/api/permissions/group"), 403, "You don't have permissions to do that."),
    ("404 unknown object", lambda c: c["admin"].get("/api/card/9999"), 404, "Not found."),
    ("404 unknown route", lambda c: c["admin"].get("/api/no-such-thing"), 404, "Not found."),
    ("404 archived", _archived_card_on_dashboard, 404, {"message", "error_code", "status"}),
    ("409 data graph", lambda c: _stale_graph(c, "/api/permissions/graph", {}), 409, STALE),
    ("409 collection graph", lambda c: _stale_graph(c, "/api/collection/graph",
                                                                {str(ALL_USERS): {"root": "read"}}), 409, STALE),
    ("409 duplicate channel", _channel_twice, 409, {"errors"}),
    ("500 unexpected", lambda c: c["admin"].get("/api/setting/no-such-setting"), 500, {"message", "trace", "via"}),
]


@pytest.mark.allow_invalid_requests
@pytest.mark.parametrize(("make_request", "status", "expected"), [e[1:] for e in ERRORS], ids=[e[0] for e in ERRORS])
def test_error_bodies_follow_the_table_of_section_22(emulator, admin, anon, make_request, status, expected):
    clients = {"admin": admin, "anon": anon, "rita": login(emulator, admin, "rita@example.com")}
    resp = make_request(clients)
    assert resp.status_code == status, resp.text
    if isinstance(expected, str):
        assert is_plain_text(resp) and resp.text == expected
    else:
        assert is_json(resp) and expected <= set(resp.json()), resp.text
        if expected <= {"errors", "specific-errors"}:
            assert set(resp.json()) == expected and isinstance(resp.json()["errors"], dict)


# ---------------------------------------------------------------- §21 checklist and open maps

def test_every_registered_route_is_in_the_served_spec_with_its_method(emulator):
    paths = spec.spec_paths()
    routes = [(r.method, r.path) for r in registered_routes()]
    assert routes, "no route modules were imported"
    missing = [f"{m} {p}" for m, p in routes if m.lower() not in paths.get(p, {})]
    assert not missing, missing
    twice = [route for route, n in Counter(routes).items() if n > 1]
    assert not twice, f"registered twice (one silently shadows the other): {twice}"


CREATES = [
    ("/api/collection", lambda c: {"name": "Made"}),
    ("/api/card", lambda c: {"name": "Made", "display": "table", "visualization_settings": {},
                             "dataset_query": {"database": c["db"]["id"], "type": "native",
                                               "native": {"query": "select 1"}}}),
    ("/api/dashboard", lambda c: {"name": "Made"}),
    ("/api/native-query-snippet", lambda c: {"name": "Made", "content": "1 = 1"}),
    ("/api/timeline", lambda c: {"name": "Made"}),
    ("/api/permissions/group", lambda c: {"name": "Made"}),
    ("/api/segment", lambda c: {"name": "Made", "table_id": c["orders"]["id"], "definition": {
        "source-table": c["orders"]["id"], "filter": [">", ["field", c["field"]["id"], None], 1]}}),
    ("/api/measure", lambda c: {"name": "Made", "table_id": c["orders"]["id"], "definition": {
        "aggregation": [["count"]]}}),
    ("/api/action", lambda c: {"name": "Made", "type": "query", "model_id": c["model"]["id"],
                               "database_id": c["db"]["id"], "dataset_query": {
                                   "database": c["db"]["id"], "type": "native", "native": {"query": "select 1"}}}),
    ("/api/pulse", lambda c: {"name": "Made", "dashboard_id": c["dashboard"]["id"], "cards": [
        {"id": c["question"]["id"], "include_csv": False, "include_xls": False, "dashboard_card_id": c["dashcard_id"]}],
        "channels": [{"channel_type": "email", "enabled": True, "schedule_type": "hourly", "recipients": []}]}),
]


@pytest.mark.parametrize(("path", "make_body"), CREATES, ids=[p for p, _ in CREATES])
def test_rest_creates_never_keep_entity_id_and_accept_unknown_keys(admin, content, path, make_body):
    body = {**make_body(content), "entity_id": FOREIGN_ENTITY_ID, "mbport_unknown_key": {"nested": [1]}}
    created = ok(admin.post(path, json=body))
    assert is_entity_id(created["entity_id"]) and created["entity_id"] != FOREIGN_ENTITY_ID
    assert "mbport_unknown_key" not in created  # accepted, then dropped like Metabase's handlers do


def test_rest_updates_accept_unknown_keys_and_query_parameters(admin, content):
    card_id = content["question"]["id"]
    updated = ok(admin.put(f"/api/card/{card_id}", params={"mbport_unknown": "1"},
                           json={"description": "d", "mbport_unknown_key": True}))
    assert updated["description"] == "d" and "mbport_unknown_key" not in updated
    for path in ("/api/card", "/api/collection", "/api/user", f"/api/card/{card_id}", "/api/database",
                 f"/api/collection/{content['collection']['id']}/items"):
        assert admin.get(path, params={"mbport_unknown": "x", "another[]": ["1", "2"]}).status_code == 200, path


WRONG_TYPES = [
    ("POST", "/api/card", None, {"name": 5, "display": "table", "dataset_query": {}, "visualization_settings": {}},
     "name"),
    ("POST", "/api/collection", None, {"name": "C", "parent_id": "not-an-id"}, "parent_id"),
    ("POST", "/api/permissions/group", None, {"name": ["x"]}, "name"),
    ("PUT", "/api/collection/{collection}", None, {"archived": "yes"}, "archived"),
    ("GET", "/api/card", {"f": "nonsense"}, None, "f"),
    ("GET", "/api/collection", {"archived": "maybe"}, None, "archived"),
    ("GET", "/api/user", {"group_id": "abc"}, None, "group_id"),
]


@pytest.mark.allow_invalid_requests
@pytest.mark.parametrize(("method", "path", "params", "body", "field"), WRONG_TYPES,
                         ids=[f"{m} {p} {f}" for m, p, _, _, f in WRONG_TYPES])
def test_a_wrong_type_in_a_declared_field_is_a_400_naming_it(admin, content, method, path, params, body, field):
    resp = admin.request(method, path.format(collection=content["collection"]["id"]), params=params, json=body)
    assert resp.status_code == 400 and is_json(resp), resp.text
    errors = resp.json()
    assert set(errors) == {"errors", "specific-errors"}
    assert field in errors["errors"] and isinstance(errors["errors"][field], str)
    assert isinstance(errors["specific-errors"][field], list) and errors["specific-errors"][field]


def test_nano_id_lookup_on_every_served_route_that_allows_it(admin, content):
    card, dashboard, collection = content["question"], content["dashboard"], content["collection"]
    assert ok(admin.get(f"/api/card/{card['entity_id']}"))["id"] == card["id"]
    assert ok(admin.get(f"/api/dashboard/{dashboard['entity_id']}"))["id"] == dashboard["id"]
    assert ok(admin.get(f"/api/dashboard/{dashboard['entity_id']}/query_metadata"))["databases"]
    assert ok(admin.get(f"/api/collection/{collection['entity_id']}"))["id"] == collection["id"]
    assert ok(admin.get(f"/api/collection/{collection['entity_id']}/items"))["total"] >= 1
    assert admin.post(f"/api/card/{card['entity_id']}/query", json={}).status_code == 202
    assert admin.get(f"/api/card/{'z' * 21}").status_code == 404


def test_paging_middleware_reads_limit_and_offset_with_parse_long(admin):
    """Metabase's offset-paging middleware: a value that is not a number counts as absent, never a 400."""
    for i in range(3):
        ok(admin.post("/api/user", json={"email": f"u{i}@example.com"}))
    unpaged = ok(admin.get("/api/user", params={"limit": "all"}))
    assert (unpaged["limit"], unpaged["offset"], len(unpaged["data"])) == (None, None, 4)
    defaulted = ok(admin.get("/api/user", params={"limit": "all", "offset": 1}))
    assert (defaulted["limit"], defaulted["offset"], len(defaulted["data"])) == (50, 1, 3)
    paged = ok(admin.get("/api/user", params={"limit": 2, "offset": "none"}))
    assert (paged["limit"], paged["offset"], len(paged["data"])) == (2, 0, 2)
