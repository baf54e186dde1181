"""Notification channels (webhooks, 0.51+): /api/channel (channel/api/channel.clj, channel/models/channel.clj)."""

from __future__ import annotations

import re

from .. import errors
from ..app import Ctx, Response
from ..models.versions import require_version
from ..router import route
from ..store import Row

TYPE_RULE = "Must be a namespaced channel. E.g: channel/http"
DUPLICATE = "Channel with that name already exists"
CHANNELS_SINCE = 51
# channel/impl/http.clj `HTTPDetails`: a closed map.
HTTP_DETAILS = {"url", "auth-method", "auth-info", "fe-form-type", "method"}
AUTH_METHODS = ("none", "header", "query-param", "request-body")
FORM_TYPES = ("api-key", "bearer", "basic", "none")
METHODS = ("get", "post", "put")


def _http_details_ok(details) -> bool:
    """`HTTPDetails`: {url, auth-method, auth-info?, fe-form-type?, method?}, nothing else."""
    if not isinstance(details, dict) or set(details) - HTTP_DETAILS:
        return False
    url = details.get("url")
    if not (isinstance(url, str) and re.match(r"^https?://[^\s/]+", url)):
        return False
    return (details.get("auth-method") in AUTH_METHODS
            and ("auth-info" not in details or isinstance(details["auth-info"], dict))
            and ("fe-form-type" not in details or details["fe-form-type"] in FORM_TYPES)
            and ("method" not in details or details["method"] in METHODS))


def _check_details(channel_type, details) -> None:
    """`channel-body-schema`: the details of a `channel/http` channel must be `HTTPDetails` (a malli 400)."""
    if channel_type == "channel/http" and not _http_details_ok(details):
        raise errors.invalid({"details": "invalid webhook details"}, {"details": ["invalid webhook details"]})


def _check_type(value) -> None:
    if not (isinstance(value, str) and value.startswith("channel/") and len(value) > len("channel/")):
        raise errors.invalid({"type": TYPE_RULE}, {"type": [TYPE_RULE]})


def _check_text(body: dict, key: str, nullable: bool) -> None:
    value = body.get(key)
    if value is None and nullable:
        return
    if not isinstance(value, str) or not value.strip():
        text = ("nullable " if nullable else "") + "value must be a non-blank string."
        raise errors.invalid({key: text}, {key: [text]})


def _out(channel: Row) -> dict:
    # Metabase hides `details` from readers who cannot write; in OSS both need admin, so readers see everything.
    return dict(channel)


def _get(ctx: Ctx, channel_id: int) -> Row:
    require_version(ctx.state, CHANNELS_SINCE)
    channel = ctx.state.table("channel").get(channel_id)
    if channel is None:
        raise errors.not_found()
    ctx.require_superuser()
    return channel


@route("GET", "/api/channel")
def list_channels(ctx: Ctx):
    # Metabase reads `include_inactive` from the request *body* on this GET; a query parameter is ignored.
    require_version(ctx.state, CHANNELS_SINCE)
    include_inactive = bool((ctx.body or {}).get("include_inactive"))
    if not ctx.is_superuser:
        return []  # channels are readable only by admins (or the EE `setting` permission)
    rows = ctx.state.table("channel").where(None if include_inactive else (lambda r: r["active"]))
    return [_out(r) for r in rows]


@route("POST", "/api/channel")
def create_channel(ctx: Ctx):
    require_version(ctx.state, CHANNELS_SINCE)
    body = ctx.body or {}
    _check_text(body, "name", nullable=False)
    _check_text(body, "description", nullable=True)
    _check_type(body["type"])
    _check_details(body["type"], body.get("details"))
    ctx.require_superuser()  # check-has-application-permission :setting, after the body's schema
    if ctx.state.table("channel").first(name=body["name"]):
        return Response(409, {"errors": {"name": DUPLICATE}})
    row = ctx.state.table("channel").insert({
        "name": body["name"], "description": body.get("description"), "type": body["type"],
        "details": body["details"], "active": body["active"] if body.get("active") is not None else True,
    }, now=ctx.state.now())
    return _out(row)


@route("GET", "/api/channel/{id}")
def get_channel(ctx: Ctx, id: int):
    return _out(_get(ctx, id))


@route("PUT", "/api/channel/{id}")
def update_channel(ctx: Ctx, id: int):
    channel = _get(ctx, id)
    body = ctx.body or {}
    for key in ("name", "description"):
        if key in body:
            _check_text(body, key, nullable=True)
    if body.get("type") is not None:
        _check_type(body["type"])
        if body.get("details") is not None:
            _check_details(body["type"], body["details"])
    elif body.get("details") and channel["type"] == "channel/http" and not _http_details_ok(body["details"]):
        raise errors.bad_request("Invalid channel details")  # checked against the stored type
    changes = {k: body[k] for k in ("name", "type", "details", "active") if body.get(k) is not None}
    if "description" in body:
        changes["description"] = body["description"]
    if changes.get("active") is False and channel["active"]:
        # Deactivation frees the (unique) name for reuse and detaches the channel from subscriptions.
        changes["name"] = f"DEACTIVATED_{channel['id']} {changes.get('name', channel['name'])}"[:254]
        pulse_channels = ctx.state.table("pulse_channel")
        for row in pulse_channels.where(channel_id=channel["id"]):
            pulse_channels.delete(row["id"])
    channel.update(changes, updated_at=ctx.state.now())
    return _out(channel)
