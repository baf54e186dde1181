"""Instance settings: a documented safe whitelist, only values that differ from Metabase's defaults."""

from __future__ import annotations

from typing import Any

from mbport.api import ExportContext, Kind, Match, WriteRequest, copy, skip

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


class Settings(Kind):
    name = "settings"
    endpoint = "/api/setting"
    key_fields = ()
    fields = {
        "id": skip("there is one settings doc per instance"),
        "values": copy(read=lambda raw: dict(sorted(raw["values"].items())), send=False),  # whitelisted, non-default
        "key": skip("becomes a key of `values`"), "value": skip("becomes a value of `values`"),
        "is_env_setting": skip("env-set settings cannot be written through the API"),
        **{k: skip("documentation") for k in ("env_name", "description", "default")},
    }
    match = Match()  # the one settings doc is the target's

    def list(self, api, ctx: ExportContext) -> list[dict[str, Any]]:
        rows = api.get(self.endpoint)
        values = {r["key"]: r["value"] for r in rows
                  if r["key"] in WHITELIST and r.get("value") is not None and not r.get("is_env_setting")}
        return [{"id": "instance", "values": values}]

    def key_parts(self, raw_or_doc: dict[str, Any]) -> tuple[Any, ...]:
        return ("instance",)

    # ---- import: write the whitelisted values the tree has; leave every other setting alone ----
    archivable = False

    def compare(self, wanted, current, options):
        have = current.get("values", {})
        return ["values"] if any(have.get(k) != v for k, v in wanted.get("values", {}).items()) else []

    def payload(self, doc, resolve, stage):
        return {k: v for k, v in doc.get("values", {}).items() if k in WHITELIST}

    def update(self, req: WriteRequest) -> dict[str, Any]:
        if req.payload:
            req.api.put(self.endpoint, json=req.payload)
        return {"id": req.target_id}
