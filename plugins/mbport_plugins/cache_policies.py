"""Cache policies (`/api/cache`): the instance's default policy (open source) and the policies of single databases,
dashboards and questions (Metabase Pro/Enterprise, `cache_granular_controls`)."""

from __future__ import annotations

from typing import Any

from mbport.api import (AboutItem, ApiError, ExportContext, Kind, Match, MatchesByCode, NeverPruned, PartOf,
                        Requires, Unreferenced, WriteRequest, copy, custom, get_unless_missing, skip)

ENDPOINT = "/api/cache"
# Metabase's model name → (the doc field naming the item, the kind it is, the raw listing that holds it).
ITEMS = {"database": ("database", "databases"), "dashboard": ("dashboard", "dashboards"), "question": ("card", "cards")}
MODEL_OF = {field: model for model, (field, _) in ITEMS.items()}
FIELDS = {
    "id": skip("mbport's own id of a policy: `<model>:<model_id>` (the listing shows no row id)"),
    "model": custom("which item the policy is for: the doc's `database`, `dashboard` or `card` field"),
    "model_id": custom("a ref to the database, dashboard or card (`database`, `dashboard`, `card`)"),
    "strategy": copy(),  # {type: nocache|ttl|duration|schedule, ...}: no ids inside
    "name": skip("the dashboard's or card's name, joined in by the listing"),
    "collection": skip("the dashboard's or card's collection, joined in by the listing"),
    "item_key": skip("added by mbport from the item's listing, for the address"),
}


def _policy_id(model: str, model_id: int) -> str:
    return f"{model}:{model_id}"


def _put(api: Any, model: str, model_id: int, strategy: dict[str, Any]) -> dict[str, Any]:
    api.put(ENDPOINT, json={"model": model, "model_id": model_id, "strategy": strategy})
    return {"id": _policy_id(model, model_id), "model": model, "model_id": model_id, "strategy": strategy}


def _no_feature(exc: ApiError) -> bool:
    return exc.status in (402, 404)  # no cache_granular_controls / a build before /api/cache


class DefaultCachePolicy(Requires, NeverPruned, Unreferenced, Kind):
    """The root policy (Admin → Performance → "Default policy"): how long any query result is cached unless a
    database, dashboard or question has its own. One doc, `default-cache-policy/instance`; an instance that never
    set one has none (Metabase then caches nothing). `duration` and `schedule` strategies need the
    `cache_granular_controls` feature on the target too (an OSS target refuses them with a 400)."""

    name = "default-cache-policy"
    since = (0, 50)  # cache/api.clj replaced the enable-query-caching settings in 0.50
    endpoint = ENDPOINT
    fields = FIELDS
    match = Match(address="instance")  # the one root policy is the target's
    # Never pruned: Metabase has no "no policy" the tree could ask for by leaving the doc out

    def list(self, api, ctx: ExportContext) -> list[dict[str, Any]]:
        answer = get_unless_missing(api, self.endpoint, params={"model": "root"}, ctx=ctx, kind=self.name,
                                    why="it has no /api/cache ({status})")  # before 0.50
        rows = answer["data"] if answer else []
        return [{**row, "id": _policy_id("root", 0)} for row in rows if row.get("model") == "root"]

    def label(self, doc, docs=None):
        return "default policy"

    def payload(self, doc, resolve, stage):
        return {"strategy": doc["strategy"]}

    def create(self, req: WriteRequest) -> dict[str, Any]:
        return _put(req.api, "root", 0, req.payload["strategy"])

    def update(self, req: WriteRequest) -> dict[str, Any]:
        return _put(req.api, "root", 0, req.payload["strategy"])


class CachePolicies(AboutItem, Requires, PartOf, MatchesByCode, Unreferenced, Kind):
    """The policy of one database, dashboard or question, addressed by it (`cache-policies/card/<entity_id>`,
    `cache-policies/database/<name>`): `{"card": {"$ref": ...}, "strategy": {...}}`. Listed with
    `GET /api/cache?model=database&model=dashboard&model=question` (Metabase leaves out the policies of deleted
    dashboards and questions); only those of exported objects are kept (a personal collection's question's policy
    goes with it). Written with `PUT /api/cache` once the item exists; `--prune` deletes a policy mbport wrote
    that the tree no longer has (`DELETE /api/cache`)."""

    name = "cache-policies"
    since = (0, 50)
    premium_feature = "cache_granular_controls"
    endpoint = ENDPOINT
    after = ("databases", "dashboards", "cards")  # only the policies of exported items are exported
    after_listing = ("dashboards",)  # their ids, names and entity ids: listed, not their details
    fields = FIELDS
    items = part_of = tuple(MODEL_OF)  # goes with its item

    def list(self, api, ctx: ExportContext) -> list[dict[str, Any]]:
        # cache/api.clj `GET /`: any model but root needs enable-cache-granular-controls?
        answer = get_unless_missing(api, self.endpoint, params={"model": list(ITEMS)}, missing=_no_feature, ctx=ctx,
                                    feature=self.premium_feature, kind=self.name, why="it has no cache_granular_controls feature ({status}): "
                                    "per-item cache policies need Metabase Pro or Enterprise")
        if answer is None:
            return []
        rows = answer["data"]
        out = []
        for row in rows:
            field, kind = ITEMS.get(row.get("model"), (None, None))
            known = {r["id"]: r for r in ctx.raw.get(kind, [])} if kind else {}
            item = known.get(row.get("model_id"))
            if item is None:  # not exported (a personal collection's), or a model this mbport does not know
                continue
            key = item["name"] if kind == "databases" else item.get("entity_id")
            out.append({**row, "id": _policy_id(row["model"], row["model_id"]), "item_key": (field, key)})
        return sorted(out, key=lambda r: r["id"])

    def normalize_more(self, doc, raw, ctx: ExportContext) -> dict[str, Any]:
        field, kind = ITEMS[raw["model"]]
        doc[field] = ctx.ref(kind, raw["model_id"])
        return doc

    # ---- import: matched by the item; PUT writes (creates or replaces) it ----
    def match_key(self, doc, resolve):
        field = self.item_field(doc)
        return (MODEL_OF[field], resolve(doc[field]))

    def raw_match_key(self, raw):
        return (raw.get("model"), raw.get("model_id"))

    def payload(self, doc, resolve, stage):
        field = self.item_field(doc)
        return {"model": MODEL_OF[field], "model_id": resolve(doc[field]), "strategy": doc["strategy"]}

    def create(self, req: WriteRequest) -> dict[str, Any]:
        return _put(req.api, req.payload["model"], req.payload["model_id"], req.payload["strategy"])

    def update(self, req: WriteRequest) -> dict[str, Any]:
        return _put(req.api, req.payload["model"], req.payload["model_id"], req.payload["strategy"])

    def archive(self, api, target_id):
        model, _, model_id = str(target_id).partition(":")
        api.request("DELETE", self.endpoint, json={"model": model, "model_id": [int(model_id)]})
