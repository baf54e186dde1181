"""Content verification (Pro/Enterprise `content_verification`): which questions, models, metrics and dashboards are
verified now, with the note, the moderator and when."""

from __future__ import annotations

from typing import Any

from mbport.api import (AboutItem, ExportContext, Kind, Match, Needs, OrdersWrites, PartOf, Requires,
                        Unreferenced, WriteRequest, copy, is_ref, ref, skip)

ENDPOINT = "/api/moderation-review"
FEATURE = "content_verification"
VERIFIED = "verified"
# Metabase's moderated_item_type → (the doc field naming the item, its kind, the id field mbport adds to the raw).
ITEMS = {"card": ("card", "cards", "card_id"), "dashboard": ("dashboard", "dashboards", "dashboard_id")}
# Dashboards are verifiable from 0.52 (metabase#48956; before it `moderated-item-types` was cards only).
DASHBOARDS_SINCE = (0, 52)
SEARCH = "/api/search"
SEARCH_CAP = 1000  # search/config.clj `max-filtered-results`
SEARCH_CARD_MODELS = ("card", "dataset", "metric")  # search's models of saved questions, models and metrics


def _current(reviews: list[dict[str, Any]] | None) -> dict[str, Any] | None:
    """The review that decides (the newest, `most_recent`), if it verifies the item; the older ones are history."""
    latest = next((r for r in reviews or () if r.get("most_recent")), None)
    return latest if latest is not None and latest.get("status") == VERIFIED else None


def _verified_card_ids(api) -> set[int] | None:
    """The ids of the verified questions, models and metrics, live and archived, from `GET /api/search?verified=true`
    (search/api.clj GET "/"; the filter joins each card's newest review and keeps `verified`,
    search/in_place/filter.clj `build-optional-filter-query [:verified "card"]`, search/filter.clj `where-clause*
    :verified`). None when a listing may be incomplete: search keeps at most `max-filtered-results` (1000) results
    (search/config.clj), paging cannot reach past them and `total` counts the capped list, so a full one says
    nothing about the rest and every card's details are read instead. Dashboards are not asked: the in-place engine
    has no verified filter for them and the appdb engine only in some releases."""
    found: set[int] = set()
    for archived in ("false", "true"):
        page = api.get(SEARCH, params={"verified": "true", "archived": archived, "include_dashboard_questions": "true"})
        rows = page.get("data") or []
        if max(page.get("total") or 0, len(rows)) >= SEARCH_CAP:
            return None
        found |= {r["id"] for r in rows if r.get("model") in SEARCH_CARD_MODELS}
    return found


class Verifications(AboutItem, Requires, OrdersWrites, PartOf, Unreferenced, Kind):
    """One doc per verified card or dashboard, addressed by it (`verifications/card/<entity_id>`): `{"card":
    {"$ref": ...}, "text": ..., "moderator": <email>, "verified_at": ...}`.

    Only the current verification is content. Metabase's own serialization exports no ModerationReview at all
    (`excluded-models`, serdes-notes §2.2): the review log (at most ten per item, each with its moderator and time)
    is each instance's history, and no API writes a past review. What users curate, and what search, the browsers
    and Metabot's "verified content only" act on, is whether an item is verified now: its newest review
    (`most_recent`) says `verified`. An item not verified now has no doc.

    Export, only on an instance whose token has `content_verification`, reads which cards are verified from search
    (`GET /api/search?verified=true`, live and archived: two requests), then `moderation_reviews` from the details
    of those cards and of every metric only (search rows carry the status, not the note, moderator and time); when
    search's 1000-result cap is reached it reads every card's details instead. Dashboards' reviews come from every
    exported dashboard's details (search cannot be relied on to filter dashboards). No listing carries a review
    and a verification moves no timestamp a listing shows, so each export reads them again. Import posts a review
    (`POST /api/moderation-review`, status `verified`, the note) once the item is written, after the card's own
    write: Metabase unverifies a card whose query a write changes ("Unverified due to edit",
    queries/models/card.clj `update-card!`), so a card the import updates has its verification checked again and
    posted when that took it. The moderator and the time cannot be written (the review is the importing admin's,
    now): plan names them. `--prune` unverifies (a review with no status) an item mbport verified that the tree
    no longer has verified."""

    name = "verifications"
    premium_feature = FEATURE
    endpoint = ENDPOINT
    after = ("cards", "dashboards")
    items = part_of = ("card", "dashboard")  # goes with its item
    fields = {
        "id": skip("mbport's own id of a verification: `<item type>:<item id>` (each review has its own number)"),
        "moderated_item_type": skip("which item: the doc has `card` or `dashboard`"),
        "moderated_item_id": skip("the item, as the `card` or `dashboard` ref"),
        "card_id": ref("cards", as_="card", send=False),  # added by mbport from moderated_item_id
        "dashboard_id": ref("dashboards", as_="dashboard", send=False,
                            needs=Needs("verified dashboards", since=DASHBOARDS_SINCE)),
        "status": skip("always `verified`: an item whose newest review is not has no doc"),
        "text": copy(default=None),
        "moderator_id": skip("the moderator, by email in `moderator`"),
        "user": copy(as_="moderator", read=lambda raw: (raw.get("user") or {}).get("email"),
                     unwritable="a review is always the importing admin's"),
        "created_at": copy(as_="verified_at", unwritable="a review is stamped with the time it is posted"),
        "updated_at": skip("server timestamp (a review is never edited)"),
        "most_recent": skip("always true: only the newest review is exported"),
        "item_key": skip("added by mbport from the item's listing, for the address"),
    }
    match = Match("card", "dashboard")  # the item, on the target

    # ---- export ----
    def list(self, api, ctx: ExportContext) -> list[dict[str, Any]]:
        if not api.token_features.get(FEATURE):
            ctx.unavailable[self.name] = f"its token has no {FEATURE} feature (Metabase Pro or Enterprise)"
            return []
        cards = ctx.raw.get("cards", [])
        verified = _verified_card_ids(api)
        # Metrics are read anyway: search's verified filter covers "metric" only from the release that added
        # `build-optional-filter-query [:verified "metric"]` (0.47's covers "card" and "dataset"), and they are few.
        wanted = [("card", raw) for raw in cards
                  if verified is None or raw["id"] in verified or raw.get("type") == "metric"]
        known = []
        if api.version >= DASHBOARDS_SINCE:
            # The dashboards kind read every dashboard's details (`GET /api/dashboard/:id`, which hydrates
            # `moderation_reviews`): asking again would be the same request. Those from the fetch cache are asked
            # again: a review moves nothing the cache keys on.
            for raw in ctx.raw.get("dashboards", []):
                if ("dashboards", raw["id"]) in ctx.from_cache:
                    wanted.append(("dashboard", raw))
                else:
                    known.append((("dashboard", raw), raw))
        details = api.map(lambda item: api.get(f"/api/{item[0]}/{item[1]['id']}"), wanted)
        out = []
        for (item_type, raw), detail in [*zip(wanted, details, strict=True), *known]:
            review = _current(detail.get("moderation_reviews"))
            if review is not None:
                field, _, id_field = ITEMS[item_type]
                out.append({**review, "id": f"{item_type}:{raw['id']}", id_field: raw["id"],
                            "item_key": (field, raw.get("entity_id"))})
        return sorted(out, key=lambda r: r["id"])

    # ---- import: matched by the item; a new review verifies it ----
    def write_order(self, doc, docs):
        """After the card's write, recorded as a cascade: an update of the card that changes its query unverifies
        it, so a plan that updates the card writes the verification again (`update` posts only if it is gone)."""
        card = doc.get("card")
        return [((card["$ref"], "main"), (self.address_of(doc), "main"))] if is_ref(card) else []

    def payload(self, doc, resolve, stage):
        field = self.item_field(doc)
        return {"moderated_item_type": field, "moderated_item_id": resolve(doc[field]), "status": VERIFIED,
                "text": doc.get("text")}

    def create(self, req: WriteRequest) -> dict[str, Any]:
        raw = req.api.post(self.endpoint, json=req.payload)
        item_type, item_id = raw["moderated_item_type"], raw["moderated_item_id"]
        return {**raw, "id": f"{item_type}:{item_id}", ITEMS[item_type][2]: item_id}

    def update(self, req: WriteRequest) -> dict[str, Any]:
        """A new review with the tree's note, unless the target's newest review already verifies it so (a card
        update that did not touch the query leaves its verification alone)."""
        current = req.target.find(self.name, req.target_id)
        if current is not None and current.get("text") == req.payload["text"]:
            return current
        return self.create(req)

    def archive(self, api, target_id):
        item_type, _, item_id = str(target_id).partition(":")
        api.post(self.endpoint, json={"moderated_item_type": item_type, "moderated_item_id": int(item_id),
                                      "status": None, "text": None})
