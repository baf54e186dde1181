"""Content verification: POST /api/moderation-review (enterprise/backend/src/metabase_enterprise/content_verification/
api/moderation_review.clj POST "/"). An Enterprise route: an OSS build has none (its api_routes/routes.clj falls
through to `not-found-handler`, 404); an Enterprise build serves it under `+require-content-verification`
(content_verification/api/routes.clj): 402 "Content verification is a paid feature ..." without the feature,
before authentication.

There is no GET: reviews show in their card's or dashboard's details (`moderation_reviews`, newest first, each with
its moderator as `user`) and as `moderated_status` in collection items (shapes/moderation.py).
"""

from __future__ import annotations

from ..app import Ctx
from ..models import moderation as model
from ..router import route


@route("POST", "/api/moderation-review", premium=(model.FEATURE, model.FEATURE_NAME))
def create_review(ctx: Ctx):
    body = ctx.body
    model.check_type(ctx.state, body["moderated_item_type"])
    ctx.require_superuser()  # api/check-superuser
    model.check_item(ctx.state, body["moderated_item_type"], body["moderated_item_id"])
    row = model.create_review(ctx.state, body["moderated_item_type"], body["moderated_item_id"], ctx.user["id"],
                              body.get("status"), body.get("text"))
    return dict(row)  # `create-review!` returns the inserted row as it is
