"""Settings: the catalogue of known settings, their typed setters and effective values (env var, stored, default).

Values live in `state.settings`; env-var settings in `state.extra["env_settings"]`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from .. import errors
from ..store import State, new_uuid


@dataclass(frozen=True)
class Setting:
    key: str
    type: str  # string, boolean, integer, double, keyword, json, csv
    default: Any
    description: str
    visibility: str = "admin"  # public and authenticated settings are readable by every user
    sensitive: bool = False  # shown obfuscated: ten stars and the last two characters
    read_only: bool = False
    feature: str | None = None  # an Enterprise feature this OSS instance lacks: writing it fails
    since: int = 0  # the first minor release that has it (older ones do not list it)

    @property
    def env_name(self) -> str:
        return "MB_" + self.key.upper().replace("-", "_").rstrip("?")



_S = Setting



# The content settings of Metabase's serialization list (docs/installation-and-operation/serialization.md, "General
# Metabase settings that are exported"), each as its `defsetting` declares it: src/metabase/appearance/settings.clj
# (look and feel, homepage), server/settings.clj (allowed-iframe-hosts), query_processor/settings.clj (row limits,
# csv-field-separator, enable-pivoted-exports), geojson/settings.clj, metabot/settings.clj and
# enterprise/backend/src/metabase_enterprise/metabot/settings.clj (metabot-*). `feature` is the token feature a write
# needs (`:feature :whitelabel`, `:ai-controls`; the token's own name has `_`).
DEFAULT_IFRAME_HOSTS = ",\n".join((
    "youtube.com", "youtu.be", "loom.com", "vimeo.com", "docs.google.com", "calendar.google.com", "airtable.com",
    "typeform.com", "canva.com", "codepen.io", "figma.com", "grafana.com", "miro.com", "excalidraw.com", "notion.com",
    "atlassian.com", "trello.com", "asana.com", "gist.github.com", "linkedin.com", "twitter.com", "x.com"))
QUOTA_MESSAGE = "You have reached your AI usage limit for the current period. Please contact your administrator."
_ILLUSTRATIONS = [
    _S(f"{page}-illustration{suffix}", "string", None if suffix else "default", f"The {what} illustration{suffix}.",
       "authenticated" if page == "landing-page" and suffix else "public", feature="whitelabel")
    for page, what in (("login-page", "login page"), ("landing-page", "landing page"),
                       ("no-data", "no results"), ("no-object", "no search results"))
    for suffix in ("", "-custom")]
CONTENT_SETTINGS = [
    _S("aggregated-query-row-limit", "integer", None,
       "Maximum number of rows to return for aggregated queries via the API.", "public"),
    _S("allowed-iframe-hosts", "string", DEFAULT_IFRAME_HOSTS, "Allowed iframe hosts", "public"),
    _S("application-colors", "json", {}, "Choose the colors used in the user interface throughout Metabase and "
       "others specifically for the charts.", "public", feature="whitelabel"),
    _S("application-favicon-url", "string", "app/assets/img/favicon.ico", "Upload a file to use as the favicon.",
       "public", feature="whitelabel"),
    _S("application-font", "string", "Lato", "Replace “Lato” as the font family.", "public", feature="whitelabel"),
    _S("application-font-files", "json", None, "Tell us where to find the file for each font weight.", "public",
       feature="whitelabel"),
    _S("application-logo-url", "string", "app/assets/img/logo.svg",
       "Upload a file to replace the Metabase logo on the top bar.", "public", feature="whitelabel"),
    _S("breakout-bins-num", "integer", 8, "When using the default binning strategy and a number of bins is not "
       "provided, this number will be used as the default."),
    _S("csv-field-separator", "string", ",", "Character to use as field separator in CSV exports.", "public"),
    _S("custom-geojson-enabled", "boolean", True, "Whether or not the use of custom GeoJSON is enabled."),
    _S("custom-homepage", "boolean", False, "Pick one of your dashboards to serve as homepage.", "public"),
    _S("custom-homepage-dashboard", "integer", None, "ID of dashboard to use as a homepage", "public"),
    _S("default-maps-enabled", "boolean", True, "Whether or not the default GeoJSON maps are enabled."),
    _S("embedded-metabot-enabled?", "boolean", True, "Whether Metabot is enabled for embedding.", "public"),
    _S("enable-pivoted-exports", "boolean", True, "Enable pivoted exports and pivoted subscriptions",
       "authenticated"),
    _S("landing-page", "string", None, "Enter a relative URL like /dashboard/1 or /collection/2.", "authenticated"),
    _S("loading-message", "keyword", "doing-science", "Choose the message to show while a query is running.",
       "public", feature="whitelabel"),
    _S("metabot-chat-system-prompt", "string", None, "Custom system prompt for the Metabot chat experience.",
       feature="ai-controls"),
    _S("metabot-enabled?", "boolean", True, "Whether Metabot is enabled for regular usage.", "public"),
    _S("metabot-icon", "string", "metabot", "The icon for Metabot.", "public", feature="ai-controls"),
    _S("metabot-limit-reset-rate", "keyword", "monthly", "How often Metabot usage limits reset.",
       feature="ai-controls"),
    _S("metabot-limit-unit", "keyword", "tokens", "The unit used for Metabot usage limits.", feature="ai-controls"),
    _S("metabot-name", "string", "Metabot", "The display name for Metabot.", "public", feature="ai-controls"),
    _S("metabot-nlq-system-prompt", "string", None, "Custom system prompt for the natural language query "
       "experience.", feature="ai-controls"),
    _S("metabot-quota-reached-message", "string", QUOTA_MESSAGE, "The message shown to users when they reach their "
       "usage quota.", feature="ai-controls"),
    _S("metabot-show-illustrations", "boolean", True, "Whether to show Metabot illustrations in the UI.", "public",
       feature="ai-controls"),
    _S("metabot-sql-system-prompt", "string", None, "Custom system prompt for the SQL generation experience.",
       feature="ai-controls"),
    _S("show-homepage-pin-message", "boolean", True, "Whether or not to display a message about pinning dashboards.",
       "authenticated"),
    _S("show-metabot", "boolean", True, "Enables Metabot character on the home page", "public", feature="whitelabel"),
    _S("unaggregated-query-row-limit", "integer", None,
       "Maximum number of rows to return specifically on :rows type queries via the API.", "public"),
    *_ILLUSTRATIONS,
]

CATALOGUE: dict[str, Setting] = {s.key: s for s in sorted([*CONTENT_SETTINGS,
    _S("admin-email", "string", None,
       "The email address users should be referred to if they encounter a problem.", "authenticated"),
    _S("anon-tracking-enabled", "boolean", True,
       "Enable the collection of anonymous usage data in order to help Metabase improve.", "public"),
    _S("application-name", "string", "Metabase", "Replace the word “Metabase” wherever it appears.", "public",
       feature="whitelabel"),
    _S("check-for-updates", "boolean", True,
       "Identify when new versions of Metabase are available.", "admin"),
    _S("custom-formatting", "json", {},
       "Object keyed by type, containing formatting settings", "authenticated"),
    _S("custom-geojson", "json", {},
       "JSON containing information about custom GeoJSON files for use in map visualizations instead of the "
       "default US State or World GeoJSON.", "authenticated"),
    _S("email-from-address", "string", "notifications@metabase.com",
       "The email address you want to use for the sender of emails."),
    _S("email-from-name", "string", None, "The name you want to use for the sender of emails."),
    _S("email-smtp-host", "string", None, "The address of the SMTP server that handles your emails."),
    _S("email-smtp-password", "string", None, "SMTP password.", sensitive=True),
    _S("email-smtp-port", "integer", None, "The port your SMTP server uses for outgoing emails."),
    _S("email-smtp-security", "keyword", "none", "SMTP secure connection protocol. (tls, ssl, starttls, or none)"),
    _S("email-smtp-username", "string", None, "SMTP username."),
    _S("embedding-secret-key", "string", None,
       "Secret key used to sign JSON Web Tokens for requests to `/api/embed` endpoints.", sensitive=True),
    _S("enable-embedding", "boolean", False,
       "Allow admins to securely embed questions and dashboards within other applications?", "authenticated"),
    _S("enable-embedding-interactive", "boolean", False,
       "Allow admins to embed Metabase via interactive embedding?", "authenticated"),
    _S("enable-embedding-sdk", "boolean", False,
       "Allow admins to embed Metabase via the SDK?", "authenticated"),
    _S("enable-embedding-static", "boolean", False,
       "Allow admins to embed Metabase via static embedding?", "authenticated"),
    _S("enable-nested-queries", "boolean", True,
       "Allow using a saved question or Model as the source for other queries?", "authenticated"),
    _S("enable-public-sharing", "boolean", True,
       "Enable admins to create publicly viewable links (and embeddable iframes) for Questions and Dashboards?",
       "authenticated"),
    _S("enable-xrays", "boolean", True, "Allow users to explore data using X-rays", "authenticated"),
    _S("humanization-strategy", "keyword", "simple",
       "To make table and field names more human-friendly, Metabase will replace dashes and underscores in them "
       "with spaces. We’ll capitalize each word while at it, so ‘last_visited_at’ will become ‘Last Visited At’.",
       "public"),
    _S("map-tile-server-url", "string", "https://tile.openstreetmap.org/{z}/{x}/{y}.png",
       "The map tile server URL template used in map visualizations, for example from OpenStreetMaps or "
       "MapBox.", "authenticated"),
    _S("native-query-autocomplete-match-style", "keyword", "substring",
       "Matching style for native query editor's autocomplete. Can be \"substring\", \"prefix\", or \"off\". "
       "Larger instances can have performance issues matching using substring, so can use prefix matching, "
       "or turn autocompletions off.", "authenticated"),
    _S("persisted-models-enabled", "boolean", False,
       "Allow persisting models into the source database.", "public"),
    _S("premium-embedding-token", "string", None, "Token for premium features. Go to the MetaStore to get yours!",
       sensitive=True),
    _S("redirect-all-requests-to-https", "boolean", False,
       "If true, we'll automatically redirect all requests to Metabase to HTTPS.", "public"),
    _S("report-timezone", "string", None,
       "Connection timezone to use when executing queries. Defaults to system timezone."),
    _S("search-typeahead-enabled", "boolean", True,
       "Enable typeahead search in the Metabase navbar?", "authenticated"),
    _S("show-homepage-data", "boolean", True,
       "Whether or not to display data on the homepage. Admins might turn this off in order to direct users to "
       "better content than raw data", "authenticated"),
    _S("show-homepage-xrays", "boolean", True,
       "Whether or not to display x-ray suggestions on the homepage. They will also be hidden if any dashboards "
       "are pinned. Admins might hide this to direct users to better content than raw data", "authenticated"),
    # permissions/settings.clj `use-tenants`: tenant users and shared tenant collections need it (EE `tenants`)
    _S("use-tenants", "boolean", False, "Turn on the Tenants feature, allowing users to be assigned to a particular "
       "Tenant.", "admin", feature="tenants", since=58),
    _S("site-locale", "string", "en",
       "The default language for all users across the Metabase UI, system emails, subscriptions, and alerts. "
       "Users can individually override this default language from their own account settings.", "public"),
    # appearance/settings.clj `site-name`: :visibility :settings-manager (an admin's, or a settings manager's).
    _S("site-name", "string", "Metabase", "The name used for this instance of Metabase.", "settings-manager"),
    _S("site-url", "string", None,
       "This URL is used for things like creating links in emails, auth redirects, and in some embedding "
       "scenarios, so changing it could break functionality or get you locked out of this instance.", "public"),
    _S("site-uuid", "string", None,
       "Unique identifier used for this instance of Metabase. This is set once and only once the first time it "
       "is fetched via its magic getter. Nice!", "authenticated", read_only=True),
    _S("slack-app-token", "string", None,
       "Bot user OAuth token for connecting the Metabase Slack app. This should be used for all new Slack "
       "integrations starting in Metabase v0.42.0.", sensitive=True),
    _S("start-of-week", "keyword", "sunday",
       "This will affect things like grouping by week or filtering in GUI queries. It won't affect most SQL "
       "queries, although it is used to set the WEEK_START session variable in Snowflake.", "public"),
    # transforms/settings.clj: from 0.64 a self-hosted instance runs transforms only with this on (env
    # MB_TRANSFORMS_ENABLED, or an admin turning on transforms in Data Studio).
    _S("transforms-enabled", "boolean", False,
       "Enable transforms for instances that have not explicitly purchased the transform add-on.", "authenticated"),
    _S("subscription-allowed-domains", "string", None,
       "Allowed email address domain(s) for new Dashboard Subscriptions and Alerts. To specify multiple domains, "
       "separate each domain with a comma, with no space in between. To allow all domains, leave the field "
       "empty. This setting doesn’t affect existing subscriptions.", "public", feature="email-allow-list"),
], key=lambda s: s.key)}



OBFUSCATED = re.compile(r"^\*{10}.{2}$")



def init_state(state: State) -> None:
    # Metabase generates site-uuid once, on first read, and never lets anyone change it.
    state.settings.setdefault("site-uuid", new_uuid())



def env_settings(state: State) -> dict[str, Any]:
    return state.extra.get("env_settings") or {}



def resolve(key: str) -> Setting:
    key = key.replace("_", "-")  # the API reads keys as kebab-cased keywords
    setting = CATALOGUE.get(key)
    if setting is None:
        raise errors.server_error(f"Unknown setting: :{key}")
    return setting



def get_value(state: State, key: str) -> Any:
    """The effective value other areas should use: env var, then stored value, then default."""
    setting = resolve(key)
    env = env_settings(state)
    if setting.key in env:
        return _coerce(setting, env[setting.key])
    return state.settings.get(setting.key, setting.default)



def user_facing_value(state: State, setting: Setting) -> Any:
    """What the API shows: null for defaults and env-var values, obfuscated for sensitive settings."""
    if setting.key in env_settings(state):
        return None
    value = state.settings.get(setting.key, setting.default)
    if value == setting.default:
        return None
    if setting.sensitive:
        return "**********" + str(value)[-2:]
    return value



def setting_info(state: State, setting: Setting) -> dict[str, Any]:
    from_env = setting.key in env_settings(state)
    return {
        "key": setting.key,
        "value": user_facing_value(state, setting),
        "is_env_setting": from_env,
        "env_name": setting.env_name,
        "description": setting.description,
        "default": f"Using value of env var ${setting.env_name}" if from_env else setting.default,
    }



def _bad_value(setting: Setting, value: Any) -> errors.ApiError:
    # Metabase's setters throw plain exceptions here, which come back as 500s.
    return errors.server_error(f"Invalid value for setting {setting.key}: {value!r}")



def _coerce(setting: Setting, value: Any) -> Any:
    """A value as Metabase's typed setter stores it; None means delete (back to the default)."""
    if value is None:
        return None
    kind = setting.type
    if kind in ("string", "keyword"):
        if not isinstance(value, str):
            raise _bad_value(setting, value)
        return value or None
    if kind == "boolean":
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false"):
            return value.lower() == "true"
        if value == "":
            return None
        raise errors.server_error('Invalid value for string: must be either "true" or "false" (case-insensitive).')
    if kind == "integer":
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, str) and re.fullmatch(r"-?\d+", value):
            return int(value)
        raise _bad_value(setting, value)
    if kind == "double":
        try:
            return float(value)
        except (TypeError, ValueError) as exc:
            raise _bad_value(setting, value) from exc
    return value  # json and csv values are stored as given



def _normalize(setting: Setting, value: Any) -> Any:
    if setting.key == "site-url" and isinstance(value, str):
        value = value.rstrip("/")
        if not re.match(r"^https?://", value):
            value = "http://" + value
    return value



def prepare(setting: Setting, value: Any, features: frozenset[str] = frozenset()) -> tuple[bool, Any]:
    """(should write, value) after Metabase's checks; raises like set! does (`features`: the token's)."""
    if setting.feature and setting.feature.replace("-", "_") not in features:  # the token spells it with `_`
        raise errors.server_error(
            f"Setting {setting.key} is not enabled because feature {setting.feature} is not available")
    if setting.read_only:
        raise errors.server_error(f"You cannot set {setting.key}; it is a read-only setting.")
    if setting.sensitive and isinstance(value, str) and OBFUSCATED.match(value):
        return False, None  # writing back an obfuscated value is ignored
    value = _coerce(setting, value)
    return True, None if value is None else _normalize(setting, value)



def write_value(state: State, setting: Setting, value: Any) -> None:
    if value is None:
        state.settings.pop(setting.key, None)
    else:
        state.settings[setting.key] = value
