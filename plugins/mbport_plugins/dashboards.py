"""Dashboards with their tabs and dashcards (cards, virtual cards, action buttons, click behaviours, link cards)."""

from __future__ import annotations

import builtins
from typing import Any

from mbport.api import (ARCHIVED, FALSY, OMIT, REF, CollectionCascade, ComparesRaw, DeferredRefs,
                        DescribesChanges, ExportContext, FetchesDetail, Kind, Match, OrderedPositions,
                        StagedWrites, SubObjects, WriteRequest, address, archived_payload, common, copy,
                        custom, describe_dashcards, describe_parameters, describe_tabs, each,
                        in_exported_collection, is_ref, lenient_walker, listed_once, present, ref, ref_addresses,
                        restore_home, skip, skips, walk)

# What a link card's entity keeps: the rest (name, description, display, collection_id, db_id) is hydrated by
# GET from the linked item's current state, so it is a copy, not content.
LINK_ENTITY_KEEP = ("model", "id")


# Dashcard keys of a PUT item (new dashcards are inserted with every key sent, so no hydrated extras).
DASHCARD_PUT_KEYS = ("card_id", "action_id", "row", "col", "size_x", "size_y", "series", "parameter_mappings",
                     "visualization_settings")


COMMON = ("created_at", "updated_at", "can_write", "can_delete", "can_restore", "creator_id", "creator",
          "is_remote_synced", "entity_id_translated", "dependency_analysis_version")


def _zero(value: Any, doc: dict[str, Any]) -> Any:
    return 0 if value is None else value


def _size(name: str, old: str):
    """A dashcard's size, or its pre-0.46 camel-case name."""
    return lambda dc: dc[name] if name in dc else dc.get(old)


# A tab: its name, in position order (the doc's list order).
TAB = {
    **common("created_at", "updated_at"),
    "id": skip("instance-specific id; the key is entity_id"),
    "dashboard_id": skip("the dashboard holding the tab"),
    "position": skip("tabs are listed in position order"),
    "entity_id": copy(), "name": copy(),
}
# A dashcard: what it shows (a card, an action button, or a virtual card: text, heading, link, placeholder) and where.
# Its payload is one item of the layout PUT (`_assign_dashcards` adds its id and tab).
DASHCARD = {
    **common("created_at", "updated_at", "can_write"),
    "id": skip("instance-specific id; the key is entity_id"),
    "dashboard_id": skip("the dashboard holding the dashcard"),
    "entity_id": copy(read=lambda dc: dashcard_key(dc)),
    "row": copy(send=_zero), "col": copy(send=_zero),
    "size_x": copy(read=_size("size_x", "sizeX")), "size_y": copy(read=_size("size_y", "sizeY")),
    "sizeX": skip("pre-0.46 name of size_x"), "sizeY": skip("pre-0.46 name of size_y"),
    "inline_parameters": copy(default=FALSY, send=lambda value, doc: value or OMIT),  # null and [] both mean none
    "card_id": ref("cards", as_="card", default=None),  # null for virtual cards
    "card": skip("hydrated copy of the card"),
    "action_id": ref("actions", as_="action", default=None),
    "action": skip("hydrated copy of the action"),
    "dashboard_tab_id": ref("tabs", as_="tab", default=None, send=False),  # sent as the tab's place (`payload`)
    "series": ref("cards", many=True, default=[], read=lambda dc: [s["id"] if isinstance(s, dict) else s
                                                                  for s in dc.get("series") or []],
                  send=lambda value, doc: [{"id": i} for i in value]),  # in position order
    "parameter_mappings": walk("parameter_mappings", default=[]),
    # Click behaviours, link cards, column settings; a link card keeps only which item it links to. Late: dashboards
    # may point at each other, and a new dashboard has no ids for its own tabs and dashcards before its layout PUT.
    "visualization_settings": walk("viz", default={}, late=True,
                                   read=lambda dc: _trim_links(dc.get("visualization_settings") or {})),
    "collection_authority_level": skip("hydrated from the card's collection"),
    "download_perms": skip("the reading user's permission"),
}


INLINE_PARAMETERS_SINCE = (0, 56)  # dashcard inline_parameters (metabase#59420)
TREE_INLINE = "_tree_inline_parameters"  # plan only, on a target before 0.56: see `comparable_raw`


def _grid_place(dc: dict[str, Any]) -> tuple[str, Any, Any]:
    """Where a doc's dashcard sits (tab ref, row, column): the same in the tree and in the target's normalized doc."""
    return repr(dc.get("tab")), dc.get("row"), dc.get("col")


def _ordered_dashcards(raw: dict[str, Any]) -> list[dict[str, Any]]:
    """Dashcards by tab, then row, then column."""
    tab_rank = {t["id"]: i for i, t in enumerate(tabs_of(raw))}
    return sorted(dashcards_of(raw), key=lambda dc: (
        tab_rank.get(dc.get("dashboard_tab_id"), -1), dc.get("row") or 0, dc.get("col") or 0, dashcard_key(dc)))


def _assign_tabs(tabs: list[dict[str, Any]], current: list[Any]) -> list[Any]:
    """A target id per doc tab: its known id if the dashboard still has it, else a current tab not claimed by
    another (by position), else a new negative temporary id."""
    ids: list[Any] = [t["known"] if t["known"] in current else None for t in tabs]
    free = [tid for tid in current if tid not in ids]
    temp = 0
    for i, tid in enumerate(ids):
        if tid is None:
            if free:
                ids[i] = free.pop(0)
            else:
                temp -= 1
                ids[i] = temp
    return ids


def _assign_dashcards(items: list[dict[str, Any]], current: list[dict[str, Any]], tab_ids: list[Any],
                      inline: bool = True) -> list[dict[str, Any]]:
    """The PUT's dashcards: known ids kept; else a current dashcard showing the same thing (an auto-placed
    dashboard question, a moved card) is reused rather than deleted and re-added, so subscriptions that name
    it stay valid; the rest are new, with negative temporary ids."""
    current_ids = {dc["id"] for dc in current}
    chosen: list[Any] = [item["known"] if item["known"] in current_ids else None for item in items]
    free = [dc for dc in current if dc["id"] not in chosen]
    out, temp = [], 0
    for item, dc_id in zip(items, chosen, strict=True):
        if dc_id is None:
            tab = tab_ids[item["tab"]] if item["tab"] is not None else None
            same = _closest(item, tab, [dc for dc in free if _same_content(item, dc)])
            if same is not None:
                free.remove(same)
                dc_id = same["id"]
        if dc_id is None:
            temp -= 1
            dc_id = temp
        body = {"id": dc_id, **{k: item[k] for k in DASHCARD_PUT_KEYS},
                "dashboard_tab_id": tab_ids[item["tab"]] if item["tab"] is not None else None}
        if "inline_parameters" in item and inline:
            body["inline_parameters"] = item["inline_parameters"]
        elif dc_id > 0 and any(dc["id"] == dc_id and dc.get("inline_parameters") for dc in current):
            body["inline_parameters"] = None  # clear them (only existing rows: old servers lack the column)
        out.append(body)
    return out


def _hidden_in_the_tree(items: list[dict[str, Any]], current: list[dict[str, Any]], tab_ids: list[Any]
                        ) -> list[dict[str, Any]]:
    """The target's dashcards of questions the layout shows nowhere, kept as they are: a tree exported while the
    dashboard was in the Trash lacks the dashcards of archived questions (Metabase hides them, no API returns
    them), so their absence is no removal; once the questions are archived again Metabase hides them again."""
    used = {item["id"] for item in items}
    cards = {item["card_id"] for item in items} | {s["id"] for item in items for s in item.get("series") or []}
    return [{"id": dc["id"], **{k: dc.get(k) for k in ("card_id", "row", "col", "size_x", "size_y")},
             "dashboard_tab_id": dc.get("dashboard_tab_id")} for dc in current
            if dc.get("card_id") and dc["id"] not in used and dc["card_id"] not in cards
            and (dc.get("dashboard_tab_id") in tab_ids or (dc.get("dashboard_tab_id") is None and not tab_ids))]


def _virtual_display(settings: Any) -> Any:
    virtual = settings.get("virtual_card") if isinstance(settings, dict) else None
    return virtual.get("display") if isinstance(virtual, dict) else None


def _same_content(item: dict[str, Any], dc: dict[str, Any]) -> bool:
    """Whether a target dashcard shows what a doc dashcard shows: the same card and action, or the same kind
    of virtual card (text, heading, link ...)."""
    if (dc.get("card_id"), dc.get("action_id")) != (item["card_id"], item["action_id"]):
        return False
    return item["card_id"] is not None or _virtual_display(dc.get("visualization_settings")) == _virtual_display(
        item["visualization_settings"])


def _closest(item: dict[str, Any], tab: Any, candidates: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The candidate on the same tab nearest the item's grid position (then any tab), lowest id on ties."""
    def distance(dc: dict[str, Any]) -> tuple:
        return (dc.get("dashboard_tab_id") != tab, abs((dc.get("row") or 0) - item["row"])
                + abs((dc.get("col") or 0) - item["col"]), dc["id"])

    return min(candidates, key=distance, default=None)


def dashcards_of(raw: dict[str, Any]) -> list[dict[str, Any]]:
    """Dashcards under their current name, or the pre-0.48 `ordered_cards`."""
    dashcards = raw.get("dashcards")
    return dashcards if dashcards is not None else raw.get("ordered_cards") or []


def tabs_of(raw: dict[str, Any]) -> list[dict[str, Any]]:
    tabs: list[dict[str, Any]] = (raw.get("ordered_tabs") or []) if raw.get("tabs") is None else raw["tabs"]
    return sorted(tabs, key=lambda t: (t.get("position") or 0, t.get("id") or 0))


def dashcard_key(dashcard: dict[str, Any]) -> str:
    """A dashcard's key: its entity_id; very old rows without one fall back on their grid position."""
    return dashcard.get("entity_id") or f"r{dashcard.get('row')}c{dashcard.get('col')}"


def _trim_links(settings: Any) -> Any:
    """Link cards keep only which item they link to; nested settings are visited too."""
    if isinstance(settings, list):
        return [_trim_links(v) for v in settings]
    if not isinstance(settings, dict):
        return settings
    out = {}
    for key, value in settings.items():
        if key == "link" and isinstance(value, dict) and isinstance(value.get("entity"), dict):
            value = {**value, "entity": {k: value["entity"][k] for k in LINK_ENTITY_KEEP if k in value["entity"]}}
        out[key] = _trim_links(value)
    return out


class Dashboards(StagedWrites, OrderedPositions, FetchesDetail, SubObjects, DeferredRefs, ComparesRaw,
                 CollectionCascade, DescribesChanges, Kind):
    """Dashboards, each doc holding its tabs and dashcards.

    `list` (once per export, after collections) reads the summaries of `GET /api/dashboard?f=all` and
    `?f=archived`; `fetch` then runs for every dashboard (`GET /api/dashboard/{id}`, concurrently) for the
    tabs and dashcards. `index` gives the dashboard, its tabs and dashcards addresses (click behaviours and
    subscriptions point at them); `normalize` walks every dashcard's settings and mappings.
    """

    name = "dashboards"
    endpoint = "/api/dashboard"
    positions = {"collection_position": "collection"}  # pins: set last by the engine, never in `payload`
    after = ("collections",)
    sub_kinds = {"tabs": 1, "dashcards": 1}
    fields = {
        **common(*COMMON),
        "id": skip("instance-specific id; the key is entity_id"),
        "entity_id": copy(), "name": copy(), "description": copy(default=None),
        **ARCHIVED,
        "collection_position": copy(default=None, send=False),  # a pin: set last (`positions`)
        # The layout PUT sends these (null included), but never a null width or auto_apply_filters.
        **{k: copy(default=None) for k in ("cache_ttl", "embedding_params", "embedding_type", "caveats",
                                           "points_of_interest", "position")},
        "width": copy(default=None, send=present), "auto_apply_filters": copy(default=None, send=present),
        "enable_embedding": copy(default=False), "show_in_getting_started": copy(default=False),
        "collection_id": ref("collections", as_="collection", container=True),
        "parameters": walk("parameters", default=[]),
        # Written by the layout stage (`payload`), not with the shell.
        "dashcards": each(DASHCARD, read=_ordered_dashcards, send=False, writes=("PUT /api/dashboard/{id} dashcards[]",)),
        "tabs": each(TAB, read=tabs_of, default=[], send=False, writes=("PUT /api/dashboard/{id} tabs[]",)),
        "collection": skip("hydrated copy of the collection"),
        "collection_authority_level": skip("hydrated from the collection"),
        "ordered_cards": skip("pre-0.48 name of dashcards"),
        "ordered_tabs": skip("pre-0.48 name of tabs"),
        "made_public_by_id": skip("who shared it publicly; not content"),
        # POST /api/dashboard/:id/public_link makes the UUID; no request sets it (a public URL cannot be kept)
        "public_uuid": copy(unwritable="a public link's UUID is made by the server when it is shared; the link's URL "
                                       "changes"),
        "initially_published_at": skip("server timestamp"),
        **skips("usage statistic", "last_viewed_at", "view_count"),
        "last_used_param_values": skip("the reading user's last filter values"),
        "param_fields": skip("hydrated fields of the parameter mappings"),
        "param_values": skip("hydrated field values"),
        "last-edit-info": skip("revision history"),
        "moderation_reviews": skip("verification history (EE), not content"),
        "can_set_cache_policy": skip("the reading user's permission"),
        TREE_INLINE: custom("plan only: the tree's inline filters, on a target before 0.56"),
    }
    match = Match("name", within="collection")
    # Each dashcard's copy of its card and the filters' hydrated fields: 85% of a bench-L dashboard's bytes.
    unread = ("param_fields", "dashcards[].card")

    # ---- export ----
    def list(self, api, ctx: ExportContext) -> list[dict[str, Any]]:
        rows = [restore_home(r, ctx, "dashboard") for r in listed_once(api, self.endpoint, {"f": "all"}, {"f": "archived"})]
        return sorted((r for r in rows if in_exported_collection(r, ctx, self.name)), key=lambda r: r["id"])

    def needs_fetch(self, summary: dict[str, Any]) -> bool:
        return True

    def comparable_raw(self, api, raw: dict[str, Any], doc: dict[str, Any]) -> dict[str, Any]:
        """Called by plan per matched dashboard: a target before 0.56 has no inline_parameters column, so the
        filters the tree shows on a dashcard stay in the header there (the layout PUT leaves them out); what it
        holds stands for the tree's dashcards, else a downgrade would rewrite the layout on every run."""
        if api.version >= INLINE_PARAMETERS_SINCE:
            return raw
        inline = [(_grid_place(dc), dc["inline_parameters"]) for dc in doc.get("dashcards", [])
                  if dc.get("inline_parameters")]
        return {**raw, TREE_INLINE: inline} if inline else raw

    def normalize_more(self, doc: dict[str, Any], raw: dict[str, Any], ctx: ExportContext) -> dict[str, Any]:
        for place, inline in raw.get(TREE_INLINE, ()):
            for dc in doc.get("dashcards", []):
                if _grid_place(dc) == place and not dc.get("inline_parameters"):
                    dc["inline_parameters"] = inline
        return doc

    def fetch(self, api, summary: dict[str, Any]) -> dict[str, Any]:
        full = api.get(f"{self.endpoint}/{summary['id']}", shape=self.detail_shape)
        # GET presents a dashboard archived on its own as living in the Trash (present-in-trash-if-archived-
        # directly); the list row still has its real home, which is where a restore puts it back.
        if full.get("archived_directly") and "collection_id" in summary:
            full["collection_id"] = summary["collection_id"]
        return full

    def fetch_key(self, summary: dict[str, Any]) -> str | None:
        """Incremental export: a dashboard changed when its row did (updated_at) or a revision was pushed for it
        (the list row's last-edit-info, from the latest revision: a dashcard- or tab-only save does not write the
        dashboard row, dashboards/api.clj update-dashboard). Not the whole row: it hydrates the creator, whose
        last_login moves on every login, and view_count grows on every detail GET."""
        edit = summary.get("last-edit-info") or {}
        return f"{summary.get('updated_at')}|{edit.get('timestamp')}|{edit.get('id')}"

    def fetch_deps(self, raw: dict[str, Any]):
        """The cards a fetched dashboard copies from: saving a card can rewrite dashcards' parameter mappings, and
        GET hides the dashcards of an archived card, neither touching the dashboard's row or revisions."""
        ids: set[Any] = set()
        for dc in dashcards_of(raw):
            ids.add(dc.get("card_id"))
            ids.update(s["id"] if isinstance(s, dict) else s for s in dc.get("series") or [])
        for param in raw.get("parameters") or []:
            source = param.get("values_source_config") if isinstance(param, dict) else None
            if isinstance(source, dict):
                ids.add(source.get("card_id"))
        return [("cards", i) for i in sorted(i for i in ids if isinstance(i, int))]

    def sub_items(self, obj: dict[str, Any], raw: bool):
        """Its tabs and dashcards (a doc's keep the raw ones' keys), by entity_id."""
        return [*(("tabs", tab, (tab.get("entity_id"),)) for tab in tabs_of(obj)),
                *(("dashcards", dc, (dashcard_key(dc),)) for dc in dashcards_of(obj))]

    def describe_change(self, field: str, old: Any, new: Any, names: Any) -> builtins.list[str] | None:
        """Called by `mbport diff` per changed field: dashcards, tabs and filters are described one by one."""

        if field == "dashcards":
            return describe_dashcards(old, new, names)
        if field == "tabs":
            return describe_tabs(old, new, names)
        if field == "parameters":
            return describe_parameters(old, new, names)
        return super().describe_change(field, old, new, names)

    # ---- import ----
    # Shell first (POST: the dashboard alone), then its dashboard questions (cards stage_refs wait for the
    # shell only), then the layout: one PUT with tabs, dashcards and parameters (api-surface §5 pattern).
    stages = ("shell", "layout")

    def stage_refs(self, doc: dict[str, Any], stage: str) -> set[str]:
        """The shell needs only its collection; the layout every other non-deferred ref (cards, actions, fields)."""
        if stage == "shell":
            return ref_addresses(doc.get("collection"))
        return self.refs(doc) - self.deferred_refs(doc)

    def comparable(self, doc: dict[str, Any]) -> dict[str, Any]:
        """Without entity_ids, nested ones included: tabs and dashcards get new ones on every instance."""
        out = super().comparable(doc)
        for key in ("tabs", "dashcards"):
            if key in out:
                out[key] = [{k: v for k, v in item.items() if k != "entity_id"} for item in out[key]]
        return out

    def payload(self, doc: dict[str, Any], resolve, stage: str) -> dict[str, Any]:
        """Shell: the POST/PUT body of the dashboard alone. Layout: the whole dashboard, tabs and dashcards
        carrying the target ids known so far (`known`); `update` turns it into the PUT body."""
        shell = {"name": doc["name"], "description": doc.get("description"),
                 "collection_id": resolve(doc.get("collection")), "cache_ttl": doc.get("cache_ttl")}
        if stage == "shell":
            return shell
        walker = lenient_walker(resolve, self.deferred_refs(doc))
        body = self.spec.payload(doc, resolve, walker)  # the shell's fields, parameters and the layout's
        body.pop("archived", None)  # `_write_layout` archives (or restores) around the PUT
        eid = doc.get("entity_id")
        tab_index = {address("tabs", eid, t["entity_id"]): i for i, t in enumerate(doc.get("tabs", []))}
        tabs = [{"known": resolve.optional(address("tabs", eid, t["entity_id"])), "name": t["name"]}
                for t in doc.get("tabs", [])]
        dashcard = self.spec.nested("dashcards")
        dashcards = [{"known": resolve.optional(address("dashcards", eid, dc["entity_id"])),
                      "tab": tab_index.get(dc["tab"][REF]) if is_ref(dc.get("tab")) else None,
                      **dashcard.payload(dc, resolve, walker)} for dc in doc.get("dashcards", [])]
        return {"dashboard": body, "archived": archived_payload(doc), "in_trash": bool(doc.get("archived")),
                "tabs": tabs, "dashcards": dashcards}

    def create(self, req: WriteRequest) -> dict[str, Any]:
        """The shell: POST /api/dashboard without parameters (they may name cards that do not exist yet)."""
        return req.api.post(self.endpoint, json=req.payload)

    def update(self, req: WriteRequest) -> dict[str, Any]:
        if req.stage == "shell":
            return req.api.put(f"{self.endpoint}/{req.target_id}", json=req.payload)
        return self._write_layout(req.api, req.target_id, req.payload)

    def _write_layout(self, api, target_id: Any, payload: dict[str, Any]) -> dict[str, Any]:
        """GET the dashboard, then one PUT with tabs + dashcards + parameters (never dashcards without tabs).

        Tabs and dashcards the target already has keep their ids (known ones first; a dashboard question's
        auto-placed dashcard is reused by card); new ones get negative temporary ids. Metabase refuses the
        dashcard write on an archived dashboard, so an archived one is restored first and archived last.
        """
        url = f"{self.endpoint}/{target_id}"
        current = api.get(url)
        tab_ids = _assign_tabs(payload["tabs"], [t["id"] for t in tabs_of(current)])
        # Before 0.56 dashcards have no inline_parameters column: the filters stay in the dashboard's header.
        items = _assign_dashcards(payload["dashcards"], dashcards_of(current), tab_ids,
                                  inline=api.version >= INLINE_PARAMETERS_SINCE)
        if payload.get("in_trash"):
            items += _hidden_in_the_tree(items, dashcards_of(current), tab_ids)
        if current.get("archived"):
            # Restoring drops nothing, but archiving again deletes the dashboard's subscriptions (written after
            # the layout, so never lost) and makes one archived with its collection archived on its own.
            api.put(url, json={"archived": False})
        body = {**payload["dashboard"], "archived": False, "tabs": [
            {"id": tid, "name": tab["name"]} for tid, tab in zip(tab_ids, payload["tabs"], strict=True)],
            "dashcards": items}
        raw = api.put(url, json=body)
        # >= 0.58 (versions.md): a PUT with parameters and dashcards drops the parameters shown inline.
        inline = {p for item in items for p in item.get("inline_parameters") or []}
        kept = {p.get("id") for p in raw.get("parameters") or []}
        if inline & ({p.get("id") for p in body["parameters"]} - kept):
            raw = api.put(url, json={"parameters": body["parameters"]})
        if payload["archived"] or (payload["archived"] is None and current.get("archived")):
            raw = api.put(url, json={"archived": True})
        return raw

    def sub_ids(self, doc: dict[str, Any], raw: dict[str, Any]) -> dict[str, Any]:
        """Target ids of the doc's tabs and dashcards in a target dashboard (a PUT response or a listed one).

        By entity_id when the target is the source instance; otherwise tabs by position and dashcards by
        (tab position, row, col), which the layout PUT wrote as the doc says.
        """
        key = doc.get("entity_id")
        tabs = tabs_of(raw)
        ids: dict[str, Any] = {}
        tab_rank = {t["id"]: i for i, t in enumerate(tabs)}
        by_eid = {t.get("entity_id"): t["id"] for t in tabs}
        doc_rank = {}
        for i, tab in enumerate(doc.get("tabs", [])):
            addr = address("tabs", key, tab["entity_id"])
            tid = by_eid.get(tab["entity_id"]) or (tabs[i]["id"] if i < len(tabs) else None)
            doc_rank[addr] = i
            if tid is not None:
                ids[addr] = tid
        current = dashcards_of(raw)
        by_eid = {dc.get("entity_id"): dc["id"] for dc in current}
        by_place = {(tab_rank.get(dc.get("dashboard_tab_id")), dc.get("row"), dc.get("col")): dc["id"] for dc in current}
        for dc in doc.get("dashcards", []):
            tab = doc_rank.get(dc["tab"][REF]) if is_ref(dc.get("tab")) else None
            tid = by_eid.get(dc["entity_id"]) or by_place.get((tab, dc.get("row", 0), dc.get("col", 0)))
            if tid is not None:
                ids[address("dashcards", key, dc["entity_id"])] = tid
        return ids
