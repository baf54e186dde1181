"""Notification channels (webhooks, 0.51+) by name; the values of their auth are secrets, never in the tree."""

from __future__ import annotations

import re
from typing import Any

from mbport.api import (SECRET, DiagnoseContext, ExportContext, Kind, Match, MbportError, Phase, Requires,
                        WriteRequest, common, copy, skip)

CHANNELS_SINCE = (0, 51)
# channel/models/channel.clj `define-before-update`: deactivating a channel renames it `DEACTIVATED_<id> <name>`
# (its name is unique), so the name it had is the part after the prefix.
DEACTIVATED = re.compile(r"^DEACTIVATED_\d+ ")
AUTH = "auth-info"  # channel/impl/http.clj `HTTPDetails`: the header, query parameter or body values sent as auth


def own_name(name: Any) -> str:
    """The channel's own name (a deactivated one's without the prefix Metabase adds)."""
    return DEACTIVATED.sub("", str(name or ""))


def secret_name(channel: str, key: str) -> str:
    return f"channels/{channel}/{AUTH}/{key}"


def details(raw: dict[str, Any]) -> dict[str, Any]:
    """The webhook's URL and options, every auth value a `$secret` marker."""
    out = dict(raw.get("details") or {})
    if isinstance(out.get(AUTH), dict):
        out[AUTH] = {k: {SECRET: secret_name(own_name(raw.get("name")), k)} for k in sorted(out[AUTH])}
    return out


def secrets_of(doc: dict[str, Any]) -> list[str]:
    """The secret names a channel doc needs at import time (one per auth value)."""
    auth = (doc.get("details") or {}).get(AUTH)
    return sorted(v[SECRET] for v in (auth or {}).values() if isinstance(v, dict) and SECRET in v)


class Channels(Requires, Kind):
    """Notification channels (`/api/channel`: webhooks, `channel/http`), active and deactivated.

    `list` reads `GET /api/channel` with `include_inactive` (read from the request body: channel/api/channel.clj).
    A deactivated channel is exported under the name it had, `active: false`. The webhook's `details` are kept but
    every value of its `auth-info` (an API key, a bearer token, a password) becomes a `$secret` marker
    (`channels/<name>/auth-info/<key>`), supplied at import time like a database password: `--secrets FILE` or
    `MBPORT_SECRET_CHANNELS_<NAME>_AUTH_INFO_<KEY>`. Alerts and subscriptions refer to a channel by `{"$ref":
    "channels/<name>"}`.

    Import: matched by name (deactivated ones by the name they had). A channel created needs its secrets (a plan
    problem otherwise); an existing one keeps the target's stored auth values when the secrets are not given.
    Archiving is `active: false`, which also takes the channel off every subscription (Metabase deletes those pulse
    channels).
    """

    name = "channels"
    endpoint = "/api/channel"
    since = CHANNELS_SINCE
    fields = {
        **common("created_at", "updated_at"),
        "id": skip("instance-specific id; the key is the name"),
        "name": copy(read=lambda raw: own_name(raw.get("name"))),
        "type": copy(),
        "description": copy(default=None),
        "active": copy(default=True),
        "details": copy(read=details, send=lambda value, doc: dict(value or {})),
    }
    # `channels/<name>`: a deactivated channel's address is the name it had, as its doc says
    match = Match("name", address=True, fold={"name": own_name})

    def list(self, api, ctx: ExportContext) -> list[dict[str, Any]]:
        if api.version < CHANNELS_SINCE:
            return []
        rows = api.request("GET", self.endpoint, params={"include_inactive": "true"}, json={"include_inactive": True})
        by_name: dict[str, dict[str, Any]] = {}
        for raw in sorted(rows, key=lambda r: (not r.get("active"), r["id"])):
            # A deactivated channel whose name a live one took again stays out: the address would be the same.
            by_name.setdefault(own_name(raw.get("name")), raw)
        return sorted(by_name.values(), key=lambda r: r["id"])

    # ---- import ----
    def diagnose(self, doc: dict[str, Any], phase: Phase, ctx: DiagnoseContext):
        """Preflight (a channel to be created): each auth secret must be supplied."""
        secrets = ctx.options.secrets
        if phase != Phase.PREFLIGHT or secrets is None:
            return []
        return [f"channels/{doc['name']}: {secrets.describe_missing(name)}" for name in secrets_of(doc)
                if secrets.get(name) is None]

    def comparable(self, doc):
        """Secret values are never compared (the tree has none): only which auth keys hold one."""
        details = dict(doc.get("details") or {})
        if isinstance(details.get(AUTH), dict):
            details[AUTH] = sorted(details[AUTH])
        return {**{k: v for k, v in doc.items() if k != "details"}, "details": details}

    def _details(self, name: str, details: dict[str, Any], options: Any,
                 current: dict[str, Any] | None) -> dict[str, Any]:
        """The details with every auth marker replaced by its secret, or (an existing channel) the target's own
        stored value when the secret is not given."""
        auth = details.get(AUTH)
        if not isinstance(auth, dict):
            return details
        have = ((current or {}).get("details") or {}).get(AUTH) or {}
        out = {}
        for key, value in auth.items():
            if isinstance(value, dict) and SECRET in value:
                supplied = options.secrets.get(value[SECRET]) if options.secrets is not None else None
                if supplied is None and key not in have:
                    raise MbportError(f"channels/{name}: {options.secrets.describe_missing(value[SECRET])}"
                                      if options.secrets is not None else f"channels/{name}: no --secrets given",
                                      hint="add it to the --secrets file")
                value = supplied if supplied is not None else have[key]
            out[key] = value
        return {**details, AUTH: out}

    def create(self, req: WriteRequest) -> dict[str, Any]:
        body = {**req.payload, "details": self._details(req.doc["name"], req.payload["details"], req.target.options, None)}
        active = body.pop("active")
        raw = req.api.post(self.endpoint, json=body)
        if not active:  # deactivated in the tree: deactivated here too (Metabase renames it)
            raw = req.api.put(f"{self.endpoint}/{raw['id']}", json={"active": False})
        return raw

    def update(self, req: WriteRequest) -> dict[str, Any]:
        current = req.target.find(self.name, req.target_id) or {}
        body = {**req.payload, "details": self._details(req.doc["name"], req.payload["details"], req.target.options,
                                                        current)}
        if current.get("active") is False and not body["active"]:
            body["name"] = current.get("name")  # still deactivated: it keeps the name Metabase gave it
        return req.api.put(f"{self.endpoint}/{req.target_id}", json=body)

    archived_when = {"active": False}

    def archive(self, api, target_id):
        api.put(f"{self.endpoint}/{target_id}", json={"active": False})
