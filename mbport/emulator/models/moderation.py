"""Content verification (EE `content_verification`): the moderation reviews of cards and dashboards.

Rows live in `state.table("moderation_review")` as Metabase stores them: `moderated_item_type` ("card" or
"dashboard"), `moderated_item_id`, `moderator_id`, `status` ("verified" or null), `text`, `most_recent`, timestamps.
Source: src/metabase/content_verification/models/moderation_review.clj (`create-review!`, `delete-extra-reviews!`,
`max-moderation-reviews`; src/metabase/models/moderation_review.clj before the move) and
src/metabase/content_verification/impl.clj (`moderated-item-types`, the `moderation_reviews`, `moderator_details` and
`moderation_status` hydrations). An item is verified when its most recent review says so; reviews are history.
"""

from __future__ import annotations

from .. import errors, events, premium
from ..store import Row, State
from .versions import minor_version

TABLE = "moderation_review"
FEATURE, FEATURE_NAME = "content_verification", "Content verification"
STATUSES = ("verified", None)  # moderation_review.clj `statuses`
MAX_REVIEWS = 10  # moderation_review.clj `max-moderation-reviews`
ITEM_TABLES = {"card": "card", "dashboard": "dashboard"}  # impl.clj `moderated-item-type->model`
# Dashboards became verifiable with metabase#48956 (merged 2024-10-21, so 0.52): before it `moderated-item-types`
# was `[:enum "card" :card]` (metabase/moderation.clj of the toucan2 era) and a dashboard's details had no
# `moderation_reviews` nor its collection item a `moderated_status` (recorded/mbql4, a 0.50.5 server).
DASHBOARDS_SINCE = 52
UNVERIFIED_BY_EDIT = "Unverified due to edit"  # queries/models/card.clj `update-card!`


def item_types(state: State) -> tuple[str, ...]:
    """The `moderated_item_type` values this release accepts."""
    return ("card", "dashboard") if dashboards_verifiable(state) else ("card",)


def dashboards_verifiable(state: State) -> bool:
    return minor_version(state) >= DASHBOARDS_SINCE


def reviews(state: State, item_type: str, item_id: int) -> list[Row]:
    """impl.clj `moderation-reviews-for-items`: the item's reviews, newest first (`:order-by [[:id :desc]]`)."""
    rows = state.table(TABLE).where(moderated_item_type=item_type, moderated_item_id=item_id)
    return sorted(rows, key=lambda r: r["id"], reverse=True)


def status(state: State, item_type: str, item_id: int) -> str | None:
    """impl.clj `moderation-status` (and collection items' `moderated_status`): the most recent review's status."""
    latest = state.table(TABLE).first(moderated_item_type=item_type, moderated_item_id=item_id, most_recent=True)
    return latest.get("status") if latest else None


def check_type(state: State, item_type: str) -> None:
    """The body schema's `moderated-item-types` of this release (validated before the endpoint runs): "dashboard"
    is a 400 before 0.52."""
    if item_type not in item_types(state):
        allowed = ", ".join(item_types(state))
        raise errors.invalid({"moderated_item_type": f"enum of {allowed}"},
                             {"moderated_item_type": [f"should be one of {allowed}"]})


def check_item(state: State, item_type: str, item_id: int) -> None:
    """moderation_review.clj POST "/": `api/check-404 (t2/exists? model id)`, after `api/check-superuser`."""
    if state.table(ITEM_TABLES[item_type]).get(item_id) is None:
        raise errors.not_found()


def create_review(state: State, item_type: str, item_id: int, moderator_id: int, status_: str | None,
                  text: str | None) -> Row:
    """`create-review!`: in one transaction `delete-extra-reviews!` (keep the newest nine, so ten with the new one),
    unmark every review of the item, insert the new one as `most_recent`."""
    table = state.table(TABLE)
    existing = reviews(state, item_type, item_id)
    for row in existing[MAX_REVIEWS - 1:]:
        table.delete(row["id"])
    for row in existing[: MAX_REVIEWS - 1]:
        if row.get("most_recent"):
            row["most_recent"] = False
    return table.insert({"moderated_item_type": item_type, "moderated_item_id": item_id, "moderator_id": moderator_id,
                         "status": status_, "text": text, "most_recent": True}, now=state.now())


def require_feature(state: State) -> None:
    """content_verification/api/routes.clj: `+require-content-verification` wraps the whole route, `+auth` inside it."""
    premium.require(state, FEATURE, FEATURE_NAME)


@events.on("card.query_changed")
def _unverify_edited_card(state: State, card_id: int, user_id: int) -> None:
    """queries/models/card.clj `update-card!`: when `card-is-verified?` (its newest review says verified) and the
    update `changed?` a `card-compare-keys` key (the query), a review with no status unverifies it, "premium or not"
    (the source's own comment: the review is written whether or not the instance has the feature)."""
    latest = reviews(state, "card", card_id)
    if latest and latest[0].get("status") == "verified":
        create_review(state, "card", card_id, user_id, None, UNVERIFIED_BY_EDIT)


@events.on("card.deleted")
def _forget_deleted_card(state: State, card_id: int) -> None:
    """queries/models/card.clj `define-before-delete :model/Card` deletes the card's ModerationReviews."""
    table = state.table(TABLE)
    for row in table.where(moderated_item_type="card", moderated_item_id=card_id):
        table.delete(row["id"])
