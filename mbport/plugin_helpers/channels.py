"""Notification channels (webhooks ...) as subscriptions and alerts name them: a ref to the channels kind, or (trees
from before that kind) the channel's name, looked up on the target at write time."""

from __future__ import annotations

import re
from typing import Any

from ..client import ApiError
from ..errors import MbportError
from ..kind import ExportContext
from ..refs import is_ref

DEACTIVATED = re.compile(r"^DEACTIVATED_\d+ ")


def channel_ids_by_name(api: Any) -> dict[str, int]:
    """Active notification channels (webhooks ...) of the target, name → id."""
    return {c["name"]: c["id"] for c in api.get("/api/channel") if isinstance(c, dict) and "id" in c}


def channel_names(api: Any, ids: set[int], listed: list[dict[str, Any]] | None = None) -> dict[int, str]:
    """Notification channels (webhooks ...) by id → name. `listed`: the channels kind's rows, deactivated ones too
    (an export has read them: listing again would be a second request for the same). Without them, the list holds
    active channels only (its `include_inactive` is read from a GET *body*); those it lacks are read one by one."""
    if listed is not None:
        names = {c["id"]: DEACTIVATED.sub("", str(c.get("name") or "")) for c in listed if isinstance(c, dict) and "id" in c}
    else:
        try:
            names = {c["id"]: c["name"] for c in api.get("/api/channel") if isinstance(c, dict) and "id" in c}
        except ApiError as exc:
            if exc.status != 404:  # before 0.51 there are no channels to name
                raise
            return {}
    for missing in sorted(ids - set(names)):
        try:
            # Deactivation renames a channel `DEACTIVATED_<id> <name>`: the id is this instance's own.
            names[missing] = DEACTIVATED.sub("", api.get(f"/api/channel/{missing}")["name"])
        except ApiError as exc:
            if exc.status not in (403, 404):
                raise
    return names


def name_channels(api: Any, holders: list[dict[str, Any]], listed: list[dict[str, Any]] | None = None) -> None:
    """Gives each handler (or pulse channel) with a `channel_id` and no hydrated channel its channel's `channel_name`
    (an inactive webhook is not hydrated): from `listed`, the channels kind's rows an export has read, else one
    request, only when some are used."""
    unnamed = [h for h in holders if h.get("channel_id") is not None and not (h.get("channel") or {}).get("name")]
    names = channel_names(api, {h["channel_id"] for h in unnamed}, listed) if unnamed else {}
    for h in unnamed:
        if h["channel_id"] in names:
            h["channel_name"] = names[h["channel_id"]]


def channel_doc(holder: dict[str, Any], ctx: ExportContext) -> Any:
    """A handler's webhook channel in the doc: a ref when the channels kind exported it, else (no channels kind, or a
    channel that no longer exists) its name, as trees written before channels were a kind hold it."""
    if ("channels", holder["channel_id"]) in ctx.index:
        return ctx.ref("channels", holder["channel_id"])
    name = (holder.get("channel") or {}).get("name") or holder.get("channel_name")
    if not name:
        ctx.warnings.append(f"{ctx.current}: refers to notification channel id {holder['channel_id']}, which does not exist")
        name = f"missing-channel-{holder['channel_id']}"
    return name


def resolved_channel(body: dict[str, Any], resolve: Any) -> dict[str, Any]:
    """A body whose channel (`_channel`) is a ref: its target id as `channel_id` (a name stays for `with_channel_ids`)."""
    if is_ref(body.get("_channel")):
        body["channel_id"] = resolve(body.pop("_channel"))
    return body


def with_channel_ids(api: Any, bodies: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Bodies with each channel named in the tree (`_channel`) given the target channel's `channel_id`."""
    names = {b["_channel"] for b in bodies if b.get("_channel")}
    by_name = channel_ids_by_name(api) if names else {}
    missing = sorted(names - set(by_name))
    if missing:
        raise MbportError(f"notification channel(s) {', '.join(map(repr, missing))} do not exist on the target",
                          hint="create the webhook channel(s) under Admin > Notification channels, then import again")
    return [{**{k: v for k, v in b.items() if k != "_channel"}, **({"channel_id": by_name[b["_channel"]]}
                                                                  if b.get("_channel") else {})} for b in bodies]


def reuse_ids(items: list[dict[str, Any]], existing: list[dict[str, Any]], *keys: Any) -> list[dict[str, Any]]:
    """Items given the `id` of an existing row (each used once) with the same key, tried key function by key function,
    so that a PUT edits nested rows in place instead of deleting and recreating them."""
    free, out = list(existing), []
    for item in items:
        twin = next((e for key in keys for e in free if key(e) == key(item)), None)
        if twin is not None:
            free.remove(twin)
            item = {**item, "id": twin["id"]}
        out.append(item)
    return out
