"""Cache policies (Metabase's CacheConfig): one strategy per (model, model_id); `root` is the instance default.

Rows live in `state.table("cache_config")` as Metabase stores them: `strategy` (the type), `config` (the strategy
without `type` and `refresh_automatically`), `refresh_automatically`. Source: src/metabase/cache/models/cache_config.clj
(`row->config`, `config->row`, `store!`, `delete!`, `base-query`) and src/metabase/cache/api.clj (the endpoints).
"""

from __future__ import annotations

from typing import Any

from .. import errors, premium
from ..store import Row, State

TABLE = "cache_config"
FEATURE, FEATURE_NAME = "cache_granular_controls", "Granular Caching"
ITEM_TABLES = {"database": "metabase_database", "dashboard": "dashboard", "question": "card"}
OSS_STRATEGIES = ("nocache", "ttl")  # cache/api.clj ::cache-strategy.oss; duration and schedule need the feature


def granular(state: State) -> bool:
    return premium.enabled(state, FEATURE)


def check_models(state: State, model: str, ids: list[int]) -> None:
    """cache/api.clj `assert-valid-models`: root only with id 0; other models need the feature and an existing item."""
    if model == "root":
        if not any(i == 0 for i in ids):
            raise errors.ApiError(404, {"message": "Root configuration is only valid with model_id = 0",
                                        "model_id": ids[0] if ids else None})
        return
    premium.require(state, FEATURE, FEATURE_NAME)
    table = state.table(ITEM_TABLES[model])
    if not any(table.get(i) is not None for i in ids):  # api/check-404 on a select-one ... :id [:in ids]
        raise errors.not_found()


def check_strategy(state: State, strategy: dict[str, Any]) -> None:
    """The `::cache-strategy` multi-schema picks the OSS variant without the feature: duration/schedule are refused."""
    if strategy.get("type") not in OSS_STRATEGIES and not granular(state):
        raise errors.invalid({"strategy": "invalid dispatch value"},
                             {"strategy": {"type": ["invalid dispatch value"]}})


def store(state: State, model: str, model_id: int, strategy: dict[str, Any]) -> Row:
    """`store!`: update-or-insert the (model, model_id) row from the API form (`config->row`)."""
    values = {"model": model, "model_id": model_id, "strategy": strategy["type"],
              "config": {k: v for k, v in strategy.items() if k not in ("type", "refresh_automatically")},
              "refresh_automatically": strategy.get("refresh_automatically")}
    table = state.table(TABLE)
    row = table.first(model=model, model_id=model_id)
    if row is None:
        return table.insert(values, now=state.now())
    row.update(values, updated_at=state.now())
    return row


def delete(state: State, model: str, model_ids: list[int]) -> None:
    table = state.table(TABLE)
    for row in table.where(lambda r: r["model"] == model and r["model_id"] in model_ids):
        table.delete(row["id"])


def strategy_out(row: Row) -> dict[str, Any]:
    """`row->config`'s strategy: the config with its type; refresh_automatically only for duration and schedule."""
    out = {**(row.get("config") or {}), "type": row["strategy"]}
    if row["strategy"] in ("duration", "schedule"):
        out["refresh_automatically"] = row.get("refresh_automatically")
    return out


def listing(state: State, models: list[str], collection: int | None, item_id: int | None) -> list[dict[str, Any]]:
    """`get-list`: with an id, the bare rows; else joined with the card or dashboard for its name and collection, a
    question or dashboard policy whose item is gone (or outside `collection`) left out."""
    rows = sorted(state.table(TABLE).where(lambda r: r["model"] in models), key=lambda r: r["id"])
    if item_id is not None:
        return [{"model": r["model"], "model_id": r["model_id"], "strategy": strategy_out(r)}
                for r in rows if r["model_id"] == item_id]
    out = []
    for row in rows:
        item = None
        if row["model"] in ("question", "dashboard"):
            item = state.table(ITEM_TABLES[row["model"]]).get(row["model_id"])
            if item is None or (collection is not None and item.get("collection_id") != collection):
                continue
        entry: dict[str, Any] = {"model": row["model"], "model_id": row["model_id"], "strategy": strategy_out(row)}
        if item is not None:
            entry["name"] = item.get("name")
            coll = state.table("collection").get(item["collection_id"]) if item.get("collection_id") else None
            if coll is not None:
                entry["collection"] = {"id": coll["id"], "name": coll.get("name"),
                                       "authority_level": coll.get("authority_level"), "type": coll.get("type")}
        out.append(entry)
    return out
