"""Alerts (card notifications), keyed by (card, ordinal) since notifications have no entity_id."""

from __future__ import annotations

import builtins
from collections import defaultdict
from typing import Any

import orjson

from mbport.api import (NOTIFICATIONS_SINCE, ExportContext, Kind, MatchesByCode, MbportError, OrdersWrites,
                        PartOf, PathHint, Phase, Requires, StagedWrites, Unreferenced, VersionNotes,
                        WriteRequest, address, alert_problems, archive_order, canonical_cron, channel_doc,
                        common, copy, custom, each, flag, is_ref, listed_once, name_channels,
                        notification_of_alert, one, present, pulse_alert_body, ref, resolved_channel,
                        reuse_ids, skip, slugify, split_address, with_channel_ids)

USER = "notification-recipient/user"
GROUP = "notification-recipient/group"
RAW = "notification-recipient/raw-value"
TEMPLATE = "notification-recipient/template"


def _sorted_by(*first: str):
    """A sort key: the `first` fields, then the whole (canonical JSON) content: no server id decides."""
    return lambda x: (*(str(x.get(f) or "") for f in first), orjson.dumps(x, option=orjson.OPT_SORT_KEYS))


# The notification's nested objects (a pre-0.54 alert is listed as the notification it becomes: notification_of_alert).
PAYLOAD = {
    **common("created_at", "updated_at"),
    "id": skip("instance-specific id"), "card": skip("hydrated copy of the card"),
    "card_id": ref("cards", as_="card"),
    "send_condition": copy(read=lambda p: p.get("send_condition") or "has_result",
                           send=lambda value, doc: value or "has_result"),
    "send_once": copy(read=lambda p: bool(p.get("send_once")), send=flag),
}
SUBSCRIPTION = {
    **common("created_at", "updated_at"),
    "id": skip("instance-specific id"), "notification_id": skip("the subscription sits inside its alert"),
    **{k: copy(send=present) for k in ("type", "cron_schedule", "event_name", "ui_display_type")},
}
RECIPIENT = {  # one of user, group, value (a raw address) or template
    **common("created_at", "updated_at"),
    "id": skip("instance-specific id"), "notification_handler_id": skip("the recipient sits inside its handler"),
    "type": custom("implied by the recipient's key (user, group, value, template)"),
    "user_id": ref("users", as_="user"), "permissions_group_id": ref("groups", as_="group"),
    "details": custom("kept as `value` (raw values) or `template`"), "user": skip("hydrated user"),
    "permissions_group": skip("hydrated group with its members"),
}


def _recipient_more(doc: dict[str, Any], raw: dict[str, Any], ctx: ExportContext) -> dict[str, Any] | None:
    kind = raw.get("type")
    if kind == RAW:
        return {"value": (raw.get("details") or {}).get("value")}
    if kind == TEMPLATE:
        return {"template": raw.get("details") or {}}
    if kind in (USER, GROUP):
        return doc
    ctx.warnings.append(f"{ctx.current}: unknown recipient type {kind!r} left out")
    return None


def _handler_more(doc: dict[str, Any], raw: dict[str, Any], ctx: ExportContext) -> dict[str, Any]:
    if raw.get("channel_id") is not None:
        doc["channel"] = channel_doc(raw, ctx)
    return doc


HANDLER = {
    **common("created_at", "updated_at"),
    "id": skip("instance-specific id"), "notification_id": skip("the handler sits inside its alert"),
    "channel_type": copy(),
    "active": copy(read=lambda h: h.get("active", True) is not False, send=lambda value, doc: value is not False),
    # A webhook channel is a ref to the channels kind (`_handler_more`; a name in trees from before it, looked up by
    # create/update), a template is kept by name.
    "channel_id": copy(as_="channel", read=lambda h: None if h.get("channel_id") is None else
                       (h.get("channel") or {}).get("name") or h.get("channel_name"), send_as="_channel", send=present),
    "channel": skip("hydrated channel; its name is kept"),
    "channel_name": skip("the channel's name, looked up by mbport at list time"),
    "template_id": skip("becomes the `template` name"),
    "template": copy(read=lambda h: None if h.get("template_id") is None else (h.get("template") or {}).get("name")
                     or f"missing-template-{h['template_id']}", send_as="_template", send=present),
    "recipients": each(RECIPIENT, more=_recipient_more, sort=_sorted_by(), send=False,  # `payload` sends them
                       extras={"value": str, "template": dict}),
}


class Alerts(StagedWrites, VersionNotes, Requires, OrdersWrites, PartOf, MatchesByCode, Unreferenced, Kind):
    """Card alerts, active and inactive.

    `list` reads `GET /api/notification?payload_type=notification/card&include_inactive=true` on >= 0.54 and
    the legacy pulse-shaped `GET /api/alert` (plus `?archived=true`) before; both become the same doc, so a
    0.53 export imports into a notification-era instance. Notifications have no entity_id, so `list` numbers
    each card's alerts in creation order (`ordinal`, from 1) and records the card's entity_id: the key is
    (card, ordinal). `normalize` turns card, users, groups and a handler's channel (webhooks) into refs.

    Import: matched by (card, ordinal); a card's alerts are created in ordinal order. `create` POSTs a
    notification; `update` PUTs it with the ids of the target's subscriptions, handlers and recipients reused;
    archiving is `active: false`. A target before 0.54 gets the pulse-shaped alert on `/api/alert` instead
    (the crossing in mbport.crossings): what that shape cannot hold (a cron schedule beyond hourly/daily/weekly/monthly, more than
    one schedule, group recipients, webhooks) is refused by plan, alert by alert, by name.
    """

    name = "alerts"
    part_of = ("payload.card",)  # an alert is deleted with its card
    endpoint = "/api/notification"
    after = ("cards", "users", "groups", "channels")  # channels: the webhooks' names
    fields = {
        **common("created_at", "updated_at", "can_write"),
        "active": copy(read=lambda raw: bool(raw.get("active"))), "ordinal": copy(),
        "id": skip("instance-specific id; the key is (card, ordinal)"),
        "card_entity_id": skip("the card's key, recorded by mbport at list time; in the `payload.card` ref"),
        "payload_type": skip("always notification/card for alerts"),
        "payload_id": skip("instance-specific id of the payload row"),
        "payload": one(PAYLOAD),
        "subscriptions": each(SUBSCRIPTION, sort=_sorted_by("type", "cron_schedule")),
        "handlers": each(HANDLER, more=_handler_more, sort=_sorted_by("channel_type", "channel"), send=False),
        "creator_id": skip("audit"),
        "creator": skip("hydrated user"),
        "internal_id": skip("Metabase's own system notifications only"),
    }

    def list(self, api, ctx: ExportContext) -> list[dict[str, Any]]:
        if api.version >= NOTIFICATIONS_SINCE:
            rows = api.get(self.endpoint, params={"payload_type": "notification/card", "include_inactive": "true"})
            rows = [r for r in rows if r.get("payload_type") == "notification/card"]
        else:
            rows = [notification_of_alert(r) for r in listed_once(api, "/api/alert", {}, {"archived": "true"})]
        cards = ctx.raw.get("cards")
        card_eids = {c.get("id"): c.get("entity_id") for c in cards or []}
        by_card: dict[Any, list[dict[str, Any]]] = defaultdict(list)
        for raw in rows:
            # An alert goes with its card: one on a card the export leaves out (personal) stays out.
            if cards is None or _card_id(raw) in card_eids:
                by_card[_card_id(raw)].append(raw)
        out = []
        for card_id, alerts in sorted(by_card.items(), key=lambda kv: str(kv[0])):
            hydrated = ((alerts[0].get("payload") or {}).get("card") or {}).get("entity_id")
            eid = card_eids.get(card_id) or hydrated or f"missing-id-{card_id}"
            for n, raw in enumerate(sorted(alerts, key=lambda r: (str(r.get("created_at") or ""), r["id"])), 1):
                out.append({**raw, "card_entity_id": eid, "ordinal": n})
        name_channels(api, [h for r in out for h in r.get("handlers") or []], ctx.raw.get("channels"))
        return out

    def version_notes(self, version: Any) -> builtins.list[str]:
        """Called by `mbport doctor`: a release without notifications gets alerts in the older pulse shape."""
        if version < NOTIFICATIONS_SINCE:
            return ["alerts are written through /api/alert (< 0.54 has no /api/notification): an alert whose "
                    "schedule, recipients or channel that shape cannot hold is refused by plan, by name"]
        return []

    def comparable(self, doc):
        """Schedules compared by what they mean: a release before 0.54 gives a weekly alert's cron back in its own
        spelling (`0 0 9 ? * 2 *` for the tree's `0 0 9 ? * MON *`), which is no change to write."""
        out = super().comparable(doc)
        if out.get("subscriptions"):
            out["subscriptions"] = sorted(({**s, "cron_schedule": canonical_cron(s.get("cron_schedule"))}
                                           for s in out["subscriptions"]), key=_sorted_by("type", "cron_schedule"))
        return out

    def unheld(self, doc, docs, version):
        """Before 0.54, an alert on an archived card: 0.50 takes one (POST /api/alert read-checks the card, which an
        archived card passes) but never shows it (models/pulse.clj: `cards*` hydrates only unarchived cards and
        `retrieve-alerts` drops an alert without one; GET /api/alert/:id fails in `alert->card`), and archiving the
        card deletes an active one (`delete-alerts-if-needed!`): no import could find it again."""
        if version >= NOTIFICATIONS_SINCE:
            return None
        ref = (doc.get("payload") or {}).get("card")
        card = docs.get(ref["$ref"]) if is_ref(ref) else None
        if not (card or {}).get("archived"):
            return None
        return (f"its card is archived, and Metabase {version.tag} keeps no alert on an archived card in sight "
                "(GET /api/alert leaves it out; archiving the card deletes an active one)")

    def diagnose(self, doc, phase, ctx):
        """Plan, into a release before 0.54: what the pulse-shaped alert cannot hold, named after the alert."""
        if phase != Phase.PLAN or ctx.target is None or ctx.target.api.version >= NOTIFICATIONS_SINCE:
            return []
        name = self.label(doc, ctx.docs) or self.address_of(doc)
        return [f"alert {name!r}: {why} (Metabase {ctx.target.api.version.tag} keeps alerts on /api/alert)"
                for why in alert_problems(doc)]

    def key_parts(self, raw_or_doc: dict[str, Any]) -> tuple[Any, ...]:
        if "card_entity_id" in raw_or_doc:
            return raw_or_doc["card_entity_id"], raw_or_doc["ordinal"]
        card = raw_or_doc["payload"]["card"]["$ref"]
        return split_address(card)[1][0], raw_or_doc["ordinal"]

    def path(self, doc, folders) -> PathHint:
        """`alerts/<the card's collection path>/<card name>/alert-<n>.json` (format 1 trees before this named the
        folder after the card's entity_id; the path is never read back, so both load)."""
        card_key, ordinal = self.key_parts(doc)
        card = folders.doc((doc.get("payload") or {}).get("card"))
        if card is None or not card.get("name"):
            return PathHint((slugify(card_key),), f"alert-{ordinal}")
        return PathHint((*folders.folder_of(card.get("collection")), slugify(card["name"])), f"alert-{ordinal}")

    def label(self, doc, docs=None):
        """Named by its card: "Revenue by month", or "Revenue by month #2" for a card's second alert."""
        card = (docs or {}).get(((doc.get("payload") or {}).get("card") or {}).get("$ref"))
        name = (card or {}).get("name") or ((doc.get("payload") or {}).get("card") or {}).get("name")
        if not name:
            return None
        return name if doc.get("ordinal") == 1 else f"{name} #{doc.get('ordinal')}"

    # ---- import (>= 0.54 targets): `POST`/`PUT /api/notification`, matched by (card, ordinal) ----

    def stage_refs(self, doc, stage):
        """Also the card's previous alert: alerts of one card are created in ordinal order, so the target numbers
        them the same way (the ordinal is the creation order)."""
        refs = super().stage_refs(doc, stage)
        card_key, ordinal = self.key_parts(doc)
        if isinstance(ordinal, int) and ordinal > 1:
            refs |= {address(self.name, card_key, ordinal - 1)}
        return refs

    def write_order(self, doc, docs):
        """Written after the archive of an archived collection its card sits in: archiving (or restoring) a
        collection deletes the active alerts of the cards in it (`maybe-send-archived-notifications!`). Archiving
        the card itself deletes them too (`delete-alerts-if-needed!`): the card ref orders that write first, and
        the pair below has an import that archives the card find the alert again afterwards."""
        ref = (doc.get("payload") or {}).get("card")
        card = docs.get(ref["$ref"]) or {} if is_ref(ref) else {}
        order = archive_order(self.address_of(doc), self.stages, docs, card.get("collection"), cascades_onto=False)
        if card.get("archived") and is_ref(ref):
            order.append(((ref["$ref"], "main"), (self.address_of(doc), self.stages[0])))
        return order

    def match_key(self, doc, resolve):
        return (resolve(doc["payload"]["card"]), doc["ordinal"])

    def raw_match_key(self, raw):
        return (_card_id(raw), raw.get("ordinal"))

    def payload(self, doc, resolve, stage):
        """The notification body; webhook channels and templates stay names until create/update look them up."""
        handler = self.spec.nested("handlers")
        return {
            "payload_type": "notification/card", "active": doc.get("active", True) is not False,
            **{k: v for k, v in self.spec.payload(doc, resolve).items() if k in ("payload", "subscriptions")},
            "handlers": [resolved_channel({**handler.payload(h, resolve), "recipients": [
                _recipient_body(r, resolve) for r in h.get("recipients") or []]}, resolve)
                         for h in doc.get("handlers") or []],
        }

    def create(self, req: WriteRequest) -> dict[str, Any]:
        if req.api.version < NOTIFICATIONS_SINCE:
            return req.api.post("/api/alert", json=pulse_alert_body(req.payload))
        return req.api.post(self.endpoint, json=self._body(req.api, req.payload, req.doc, None))

    def update(self, req: WriteRequest) -> dict[str, Any]:
        if req.api.version < NOTIFICATIONS_SINCE:
            return req.api.put(f"/api/alert/{req.target_id}", json=pulse_alert_body(req.payload))
        current = req.target.find(self.name, req.target_id) or {}
        return req.api.put(f"{self.endpoint}/{req.target_id}", json=self._body(req.api, req.payload, req.doc, current))

    archived_when = {"active": False}  # before 0.54 too: the crossing reads `archived` as `active`

    def archive(self, api, target_id):
        if api.version < NOTIFICATIONS_SINCE:
            api.put(f"/api/alert/{target_id}", json={"archived": True})
            return
        api.put(f"{self.endpoint}/{target_id}", json={"payload_type": "notification/card", "active": False})

    def _body(self, api, payload: dict[str, Any], doc: dict[str, Any], current: dict[str, Any] | None) -> dict[str, Any]:
        """Channel names → ids; on update each subscription, handler and recipient reuses the id of its
        counterpart on the target, so PUT edits them in place (items without an id are created, others deleted)."""
        handlers = [{"channel_id": None, **h} for h in with_channel_ids(api, payload["handlers"])]
        templates = sorted({h["_template"] for h in handlers if h.get("_template")})
        if templates:
            raise MbportError(f"channel templates ({', '.join(map(repr, templates))}) cannot "
                              "be imported yet", hint="remove the template from the alert's handler in the tree")
        body = {**payload, "handlers": handlers}
        if current is None:
            return body
        body["subscriptions"] = reuse_ids(body["subscriptions"], current.get("subscriptions") or [],
                                          lambda s: (s.get("type"), s.get("cron_schedule"), s.get("event_name")),
                                          lambda s: s.get("type"))
        old_handlers = current.get("handlers") or []
        body["handlers"] = reuse_ids(handlers, old_handlers, lambda h: (h.get("channel_type"), h.get("channel_id")),
                                     lambda h: h.get("channel_type"))
        for handler in body["handlers"]:
            old = next((h for h in old_handlers if h.get("id") == handler.get("id")), None)
            if old is not None:
                handler["recipients"] = reuse_ids(handler["recipients"], old.get("recipients") or [], _recipient_key,
                                                  lambda r: r.get("type"))
        if (current.get("payload") or {}).get("id") is not None:
            body["payload"] = {**body["payload"], "id": current["payload"]["id"]}
        return body


def _recipient_body(r: dict[str, Any], resolve) -> dict[str, Any]:
    """A doc recipient as a notification recipient (user, group, raw value or template)."""
    if "user" in r:
        return {"type": USER, "user_id": resolve(r["user"])}
    if "group" in r:
        return {"type": GROUP, "permissions_group_id": resolve(r["group"])}
    if "value" in r:
        return {"type": RAW, "details": {"value": r["value"]}}
    return {"type": TEMPLATE, "details": r.get("template") or {}}


def _recipient_key(r: dict[str, Any]) -> tuple:
    details = r.get("details") or {}
    return (r.get("type"), r.get("user_id"), r.get("permissions_group_id"), orjson.dumps(details, option=orjson.OPT_SORT_KEYS))


def _card_id(raw: dict[str, Any]) -> Any:
    return (raw.get("payload") or {}).get("card_id")
