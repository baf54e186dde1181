"""API keys: name and group only (the key itself is a secret Metabase shows once; imports mint new ones)."""

from __future__ import annotations

from mbport.kind import Kind, PathHint


class ApiKeys(Kind):
    name = "api-keys"
    endpoint = "/api/api-key"
    description = "API keys by name, with the group they act as; never the key value."
    key_fields = ("name",)
    keep = ("name",)
    drop = {
        "id": "instance-specific id; the key is the name",
        "masked_key": "identifies the secret of this instance only",
        "prefix": "identifies the secret of this instance only",
        "unmasked_key": "a secret",
        "created_at": "server timestamp",
        "updated_at": "server timestamp",
        "updated_by": "audit hydration",
        "group": "becomes the `group` ref",
        "user_id": "the key's hidden user",
        "scope": "only default-scope keys are listed",
    }

    def normalize_more(self, doc, raw, ctx):
        doc["group"] = ctx.ref("groups", (raw.get("group") or {}).get("id"))
        return doc

    def path(self, doc, folders) -> PathHint:
        return PathHint((), doc["name"])
