"""Instance settings: a documented list of the settings that are content, only values that differ from the defaults."""

from __future__ import annotations

import builtins
from typing import Any

from mbport.api import (DeferredRefs, DiagnoseContext, ExportContext, HeldInPart, Kind, Match, NeverPruned,
                        REF, WriteRequest, copy, is_ref, ref_addresses, skip)

# Settings that describe how the instance looks and behaves and are safe to carry to another instance.
# Never: site-uuid, version, license/embedding tokens and secrets, SMTP passwords, site-url (the target's
# own address), anything set by an environment variable (the API cannot change those).
WHITELIST = frozenset({
    "admin-email", "application-name", "custom-formatting", "custom-geojson", "email-from-address",
    "email-from-name", "email-reply-to", "email-smtp-host", "email-smtp-port", "email-smtp-security",
    "email-smtp-username", "enable-embedding", "enable-embedding-interactive", "enable-embedding-sdk",
    "enable-embedding-static", "enable-nested-queries", "enable-public-sharing", "enable-xrays",
    "humanization-strategy", "map-tile-server-url", "native-query-autocomplete-match-style",
    "persisted-models-enabled", "report-timezone", "site-locale", "site-name", "start-of-week",
    "subscription-allowed-domains", "show-homepage-data", "show-homepage-xrays", "show-homepage-pin-message",
    "search-typeahead-enabled", "query-caching-max-kb", "query-caching-max-ttl", "enable-query-caching",
    "available-fonts", "application-font", "application-colors", "landing-page",
})
# What Metabase's own serialization exports (serialization.md, "General Metabase settings that are exported") and
# is content: homepage, limits, maps, exports, look and feel, Metabot. Left out of that list, as this instance's
# environment or state rather than content: derived read-only values (available-locales, available-timezones,
# report-timezone-long/-short, system-timezone, enable-sandboxes?, enable-whitelabeling?, hide-embed-branding?), the
# network (source-address-header, disable-cors-on-localhost, email-max-recipients-per-second,
# synchronous-batch-updates, gsheets), and onboarding progress (embedding-homepage, embedding-hub-*,
# non-table-chart-generated, setup-*, show-*-embed-terms).
WHITELIST |= {
    "aggregated-query-row-limit", "allowed-iframe-hosts", "application-favicon-url", "application-font-files",
    "application-logo-url", "breakout-bins-num", "csv-field-separator", "custom-geojson-enabled", "custom-homepage",
    "custom-homepage-dashboard", "default-maps-enabled", "embedded-metabot-enabled?", "enable-pivoted-exports",
    "landing-page-illustration", "landing-page-illustration-custom", "loading-message", "login-page-illustration",
    "login-page-illustration-custom", "no-data-illustration", "no-data-illustration-custom", "no-object-illustration",
    "no-object-illustration-custom", "metabot-chat-system-prompt", "metabot-enabled?", "metabot-icon",
    "metabot-limit-reset-rate", "metabot-limit-unit", "metabot-name", "metabot-nlq-system-prompt",
    "metabot-quota-reached-message", "metabot-show-illustrations", "metabot-sql-system-prompt", "show-metabot",
    "unaggregated-query-row-limit",
}
# The key of a ref to an object deleted on the source (`kind/missing-id-N`, mbport.refgraph.MISSING).
DEAD = "missing-id-"
# Settings whose value is an id: the doc holds a ref, the import writes the target's id.
REFS = {"custom-homepage-dashboard": "dashboards"}
# The token feature a setting's write needs (its `defsetting`'s `:feature`); an instance without it refuses the
# whole settings write, so plan names them first.
FEATURES = {
    **{k: "whitelabel" for k in (
        "application-name", "application-colors", "application-font", "application-font-files",
        "application-logo-url", "application-favicon-url", "loading-message", "show-metabot",
        "login-page-illustration", "login-page-illustration-custom", "landing-page-illustration",
        "landing-page-illustration-custom", "no-data-illustration", "no-data-illustration-custom",
        "no-object-illustration", "no-object-illustration-custom")},
    **{k: "ai_controls" for k in (
        "metabot-name", "metabot-icon", "metabot-show-illustrations", "metabot-chat-system-prompt",
        "metabot-nlq-system-prompt", "metabot-sql-system-prompt", "metabot-limit-unit", "metabot-limit-reset-rate",
        "metabot-quota-reached-message")},
    "subscription-allowed-domains": "email_allow_list",
}


class Settings(HeldInPart, DeferredRefs, NeverPruned, Kind):
    name = "settings"
    endpoint = "/api/setting"
    fields = {
        "id": skip("there is one settings doc per instance"),
        # Whitelisted, non-default. The homepage dashboard is written in the second pass: the other settings do not
        # wait for it (nor go with it when `--skip-unsupported` leaves it out).
        "values": copy(read=lambda raw: dict(sorted(raw["values"].items())), send=False,
                       late=lambda values: ref_addresses(*values.values())),
        "key": skip("becomes a key of `values`"), "value": skip("becomes a value of `values`"),
        "is_env_setting": skip("env-set settings cannot be written through the API"),
        "known": skip("the settings this instance has (a target without one of the tree's refuses it)"),
        **{k: skip("documentation") for k in ("env_name", "description", "default")},
    }
    match = Match(address="instance")  # the one settings doc is the target's

    def list(self, api, ctx: ExportContext) -> list[dict[str, Any]]:
        rows = api.get(self.endpoint)
        values = {r["key"]: r["value"] for r in rows
                  if r["key"] in WHITELIST and r.get("value") is not None and not r.get("is_env_setting")}
        return [{"id": "instance", "values": values, "known": sorted(r["key"] for r in rows)}]

    def normalize_more(self, doc, raw, ctx: ExportContext) -> dict[str, Any]:
        values = doc.get("values") or {}
        for key, kind in REFS.items():
            if values.get(key) is not None:
                values[key] = ctx.ref(kind, values[key])
        return doc

    def unheld_parts(self, doc: dict[str, Any], ctx: DiagnoseContext) -> dict[str, str]:
        """A setting the target does not have (an older release) or whose feature its token lacks would make
        Metabase refuse the whole settings write (one transaction): plan names each before anything is written,
        and --skip-unsupported writes the others."""
        target = ctx.target.raw(self.name) if ctx.target is not None else None
        known = set(target[0].get("known") or ()) if target else set()
        features = ctx.features  # None: the client cannot tell (a test double): the write will say
        parts = {}
        for key in sorted(doc.get("values") or {}):
            if known and key not in known:
                parts[key] = "the target has no such setting (an older Metabase)"
            elif features is not None and key in FEATURES and not features.get(FEATURES[key]):
                parts[key] = (f"needs the {FEATURES[key]} feature, which the target's token lacks (Metabase Pro or "
                              "Enterprise)")
        return parts

    def without_parts(self, doc: dict[str, Any], parts: builtins.set[str]) -> dict[str, Any]:
        return {**doc, "values": {k: v for k, v in (doc.get("values") or {}).items() if k not in parts}}

    # ---- import: write the whitelisted values the tree has; leave every other setting alone ----

    def compare(self, wanted, current, options):
        have = current.get("values", {})
        return ["values"] if any(have.get(k) != v for k, v in wanted.get("values", {}).items()) else []

    def payload(self, doc, resolve, stage):
        body: dict[str, Any] = {}
        for key, value in doc.get("values", {}).items():
            if key in WHITELIST:
                if is_ref(value) and value[REF].partition("/")[2].startswith(DEAD):
                    body[key] = None  # a dead link (mbport.refgraph): unset, as Metabase falls back to its homepage
                    continue
                value = resolve.optional(value) if is_ref(value) else value
                if value is not None:  # a ref with no target id yet: the second pass writes it
                    body[key] = value
        return body

    def update(self, req: WriteRequest) -> dict[str, Any]:
        if req.payload:
            req.api.put(self.endpoint, json=req.payload)
        return {"id": req.target_id}
