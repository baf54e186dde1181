"""Database connections by name; every secret in `details` is replaced by a `$secret` marker."""

from __future__ import annotations

import builtins
from typing import Any

from mbport.api import (SECRET, DiagnoseContext, ExportContext, HeldInPart, Kind, Locates, Match, MatchesByCode,
                        MbportError, NeverPruned, Phase, RemembersMatch, Settles, WriteRequest, common, copy,
                        custom, driver_features, skip, skips, status)

REDACTED = "**MetabasePass**"
# Metabase's default sensitive connection properties (api-surface.md §17); any value it redacts counts too.
SENSITIVE = frozenset({"password", "pass", "tunnel-pass", "tunnel-private-key", "tunnel-private-key-passphrase",
                       "access-token", "refresh-token", "service-account-json"})
# Database-local settings Metabase sets only on a database whose driver has a feature (their defsetting's
# `:driver-feature`: actions/settings.clj; the same map in sample-data's engine migration). PUT /api/database/:id
# runs each changed, non-default value through `validate-settable-for-db!` (settings/models/setting.clj), which
# answers 400 "Setting … requires driver feature …, but the database does not support it".
DRIVER_FEATURES = {"database-enable-actions": "actions", "database-enable-table-editing": "actions/data-editing"}


def secret_name(database: str, key: str) -> str:
    return f"databases/{database}/{key}"


class Databases(HeldInPart, Settles, RemembersMatch, MatchesByCode, Locates, NeverPruned, Kind):
    name = "databases"
    endpoint = "/api/database"
    fields = {
        **common("created_at", "updated_at", "can_write"),
        "id": skip("instance-specific id; the key is the name"),
        **{k: copy() for k in ("name", "engine", "auto_run_queries", "is_full_sync", "is_on_demand", "refingerprint",
                               "is_sample")},
        **{k: copy(default=None) for k in ("description", "caveats", "points_of_interest", "cache_ttl", "settings")},
        "details": custom("kept with secrets replaced by markers"),
        "creator_id": skip("audit"),
        **skips("reported by the driver", "dbms_version", "features", "timezone"),
        "initial_sync_status": skip("sync progress"),
        **skips("the reading user's permission", "native_permissions", "can_upload", "can-manage"),
        "is_audit": skip("Metabase's internal audit database is never exported"),
        "is_attached_dwh": skip("Cloud-managed warehouse flag"),
        **skips("EE database routing", "router_database_id", "router_user_attribute"),
        "provider_name": skip("reported by Metabase"),
        "uploads_enabled": skip("uploads are configured per target"),
        **skips("uploads configuration", "uploads_schema_name", "uploads_table_prefix", "uploads"),
        "metadata_sync_schedule": skip("Metabase randomises sync schedules per instance; the target keeps its own"),
        "cache_field_values_schedule": skip("Metabase randomises scan schedules per instance; the target keeps its own"),
        "schedules": skip("as above"),
        "tables": skip("tables kind"),
        "write_data_details": skip("a second set of connection details (secrets); not exported"),
        "entity_id": skip("databases are matched by name"),
        "is_editable": skip("derived"),
        "hydrated": skip("hydration"),
        "transforms": skip("transforms configuration"),
    }
    match = Match("name", address=True)  # or the name --map-database gives it (`match_key`)

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
        return doc

    def secrets(self, doc: dict[str, Any]) -> builtins.list[str]:
        """The secret names this doc needs at import time."""
        return sorted(v[SECRET] for v in doc.get("details", {}).values() if isinstance(v, dict) and SECRET in v)

    # ---- import: matched by name (or --map-database SRC=DST); created only with its secrets ----
    sync_timeout = 300.0

    def target_name(self, doc, options) -> str:
        return options.map_database.get(doc["name"], doc["name"])

    @staticmethod
    def mapped(doc, options) -> bool:
        return doc["name"] in options.map_database

    def wanted_settings(self, doc, options) -> dict[str, Any]:
        """The settings the target's database should have. A mapped database is the target's own: only the
        settings the tree's content needs there (Kind.database_needs, gathered by the engine) are wanted;
        any other database gets the tree's settings plus those."""
        needed = options.database_settings.get(self.address_of(doc), {})
        if self.mapped(doc, options):
            return dict(needed)
        return {**(doc.get("settings") or {}), **needed}

    def match_memo(self, doc, options):
        """A mapped database is remembered by its target's name: a later run without the mapping would otherwise
        rename that database and point it at the tree's connection."""
        return self.target_name(doc, options) if self.mapped(doc, options) else None

    def memo_problem(self, doc, remembered, now):
        name = doc["name"]
        if remembered is not None and now is None:
            return (f"databases/{name}: an earlier import into this target used --map-database '{name}={remembered}'; "
                    f"without it this run would rename the target's database {remembered!r} to {name!r} and point it at "
                    f"{name!r}'s connection. Pass --map-database '{name}={remembered}' again (or a new --state to import "
                    f"{name!r} as a database of its own)")
        if remembered is None:
            return (f"databases/{name}: an earlier import into this target matched it to the target's database "
                    f"{name!r} by name; this run's --map-database '{name}={now}' would move its content to {now!r}. "
                    "Drop the mapping, or use a new --state to start over")
        return (f"databases/{name}: an earlier import into this target used --map-database '{name}={remembered}'; "
                f"this run says '{name}={now}'. Pass the same mapping, or use a new --state to start over")

    def match_key(self, doc, resolve):
        return (self.target_name(doc, resolve.options),)

    def locate(self, target, doc, resolve, claimed):
        found = super().locate(target, doc, resolve, claimed)
        mapped = self.mapped(doc, target.options)
        if found is None and mapped:
            raise MbportError(f"--map-database {doc['name']}={self.target_name(doc, target.options)}: "
                              "no database of that name on the target")
        return found

    def compare(self, wanted, current, options):
        settings = self.wanted_settings(wanted, options)
        if self.mapped(wanted, options):
            # The target's own database: name, engine and connection are never touched; only the settings the
            # tree's content needs (unless --keep-database-settings, when a missing one is a plan problem).
            have = current.get("settings") or {}
            if options.keep_database_settings or all(have.get(k) == v for k, v in settings.items()):
                return []
            return ["settings"]
        wanted = {**{k: v for k, v in wanted.items() if k != "settings"}, **({"settings": settings} if settings else {})}
        return super().compare(wanted, current, options)

    def diagnose(self, doc: dict[str, Any], phase: Phase, ctx: DiagnoseContext):
        """Preflight: secrets a database to be created lacks. Plan: settings a mapped database must keep."""
        if phase == Phase.PREFLIGHT:
            return self._missing_secrets(doc, ctx.options)
        if phase == Phase.PLAN:
            return self._kept_settings(doc, ctx.target, ctx.resolve)
        return []

    def unheld_parts(self, doc: dict[str, Any], ctx: DiagnoseContext) -> dict[str, str]:
        """A setting of the tree's database (not a mapped one: the target keeps its own) that the target's driver
        lacks the feature for: Metabase would refuse it mid-import (`validate-settable-for-db!`), after the writes
        before it. Plan names it before any write; --skip-unsupported writes the database without it. Unknowable for
        a database to be created when no target database of its engine tells."""
        if self.mapped(doc, ctx.options) or ctx.target is None:
            return {}
        addr = self.address_of(doc)
        raw = ctx.target.find(self.name, ctx.resolve.ids.get(addr)) if ctx.resolve and ctx.resolve.has(addr) else None
        have = (raw or {}).get("settings") or {}
        wanted = [k for k, v in sorted((doc.get("settings") or {}).items())
                  if k in DRIVER_FEATURES and v not in (None, False) and have.get(k) != v]  # false: the default
        features, whose = driver_features(ctx.target, raw, doc.get("engine")) if wanted else (None, "")
        return {key: f"{whose} has no {DRIVER_FEATURES[key]!r} feature, and Metabase sets {key} only on a database "
                     "whose driver has it" for key in wanted if features is not None and DRIVER_FEATURES[key] not in features}

    def without_parts(self, doc: dict[str, Any], parts: set[str]) -> dict[str, Any]:
        """The database without the settings its target driver cannot hold."""
        settings = {k: v for k, v in (doc.get("settings") or {}).items() if k not in parts}
        return {**{k: v for k, v in doc.items() if k != "settings"}, **({"settings": settings} if settings else {})}

    def _kept_settings(self, doc, target, resolve):
        """--keep-database-settings: a mapped database that lacks a setting the tree's content needs."""
        options = target.options
        if not (self.mapped(doc, options) and options.keep_database_settings):
            return []
        raw = target.find(self.name, resolve.ids.get(self.address_of(doc))) if resolve.has(self.address_of(doc)) else None
        have = (raw or {}).get("settings") or {}
        missing = {k: v for k, v in self.wanted_settings(doc, options).items() if have.get(k) != v}
        if not missing or raw is None:
            return []
        return [f"databases/{doc['name']}: the target's database {raw['name']!r} needs "
                + ", ".join(f"{k} = {v!r}" for k, v in sorted(missing.items()))
                + " for the tree's content; --keep-database-settings forbids changing it (set it in the database's "
                  "admin settings, or drop the flag to let the import set it)"]

    def comparable(self, doc):
        # Secret values are never readable; only whether a key holds a secret can be compared.
        details = {k: ("<secret>" if isinstance(v, dict) and SECRET in v else v) for k, v in doc.get("details", {}).items()}
        drop: tuple[str, ...] = ("details", "is_sample")
        if doc.get("is_sample"):
            details = {}  # the sample database's file lives wherever each Metabase installed it
            drop += ("engine",)  # the bundle's: H2 before 0.63, SQLite since (sample_data/impl.clj)
        return {**{k: v for k, v in doc.items() if k not in drop}, "details": details}

    def _missing_secrets(self, doc, options):
        secrets = options.secrets
        if doc.get("is_sample") or secrets is None or self.mapped(doc, options):
            return []
        return [f"databases/{doc['name']}: {secrets.describe_missing(name)}" for name in self.secrets(doc)
                if secrets.get(name) is None]

    def payload(self, doc, resolve, stage):
        settings = self.wanted_settings(doc, resolve.options) or None
        if self.mapped(doc, resolve.options):
            return {"settings": settings}  # the target's own database: its settings only, nothing else
        body = {k: doc.get(k) for k in ("name", "engine", "description", "auto_run_queries", "cache_ttl", "caveats",
                                         "points_of_interest", "refingerprint")}
        body["settings"] = settings
        body["is_full_sync"] = doc.get("is_full_sync", True)
        body["is_on_demand"] = doc.get("is_on_demand", False)
        body["details"] = dict(doc.get("details", {}))
        return {k: v for k, v in body.items() if v is not None or k in ("description",)}

    def _details(self, details, options, creating: bool) -> dict[str, Any]:
        secrets = options.secrets
        out = {}
        for key, value in details.items():
            if isinstance(value, dict) and SECRET in value:
                supplied = secrets.get(value[SECRET]) if secrets else None
                # On update, Metabase keeps the stored secret when it receives its own placeholder back.
                out[key] = supplied if supplied is not None else (None if creating else REDACTED)
            else:
                out[key] = value
        return out

    def create(self, req: WriteRequest) -> dict[str, Any]:
        if req.doc.get("is_sample"):
            raw = req.api.post("/api/database/sample_database")
        else:
            raw = req.api.post(self.endpoint, json={**req.payload, "details": self._details(req.payload["details"], req.target.options, True)})
        self.wait_for_sync(req.api, raw["id"], raw.get("name"))
        if req.payload.get("settings"):  # POST /api/database has no `settings` (e.g. model actions): PUT them after
            raw = req.api.put(f"{self.endpoint}/{raw['id']}", json={"settings": req.payload["settings"]})
        return raw

    def update(self, req: WriteRequest) -> dict[str, Any]:
        if "details" not in req.payload:  # a mapped database: only the settings its content needs
            return req.api.put(f"{self.endpoint}/{req.target_id}", json=req.payload)
        # is_on_demand is sent as it is: Metabase resets it to false when a PUT leaves it out.
        body = {**req.payload, "details": self._details(req.payload["details"], req.target.options, False)}
        body.pop("is_full_sync", None)
        return req.api.put(f"{self.endpoint}/{req.target_id}", json=body)

    def settle(self, api, raw):
        """A matched database still in its first sync (a stopped import created it) has no tables to match yet."""
        if raw.get("initial_sync_status") in ("complete", None):
            return False
        self.wait_for_sync(api, raw["id"], raw.get("name"))
        return True

    def wait_for_sync(self, api, database_id: int, name: str | None = None) -> None:
        """Tables and fields exist only after Metabase's first sync; wait for it (bounded)."""
        import time

        started = time.monotonic()
        deadline = started + self.sync_timeout
        delay = 0.05
        label = f"database {name!r} (id {database_id})" if name else f"database {database_id}"
        while api.get(f"{self.endpoint}/{database_id}").get("initial_sync_status") not in ("complete", None):
            status(f"{label}: waiting for its first sync ({time.monotonic() - started:.0f} s)")
            if time.monotonic() > deadline:
                raise MbportError(f"{label}: the first sync did not finish in {self.sync_timeout:.0f} s",
                                  hint="check the database in Metabase's admin, then run the import again")
            time.sleep(delay)
            delay = min(delay * 2, 2.0)
