"""API keys: name and group only (the key itself is a secret Metabase shows once; imports mint new ones)."""

from __future__ import annotations

import os
import threading
from typing import Any

import orjson

from mbport.api import (Kind, Match, OptIn, RecoversLostCreate, Requires, WriteRequest, common, copy, ref,
                        register_secret, skip, skips)


class ApiKeys(OptIn, RecoversLostCreate, Requires, Kind):
    name = "api-keys"
    since = (0, 49)  # /api/api-key (versions.md: API keys arrive in 0.49)
    endpoint = "/api/api-key"
    fields = {
        **common("created_at", "updated_at"),
        "id": skip("instance-specific id; the key is the name"),
        "name": copy(),
        "group": ref("groups", read=lambda raw: (raw.get("group") or {}).get("id"), send_as="group_id"),
        **skips("identifies the secret of this instance only", "masked_key", "prefix"),
        "unmasked_key": skip("a secret"),
        "updated_by": skip("audit hydration"),
        "user_id": skip("the key's hidden user"),
        "scope": skip("only default-scope keys are listed"),
    }
    match = Match("name", address=True)

    # ---- import (only with --with-api-keys): new keys; their values go to an owner-only file ----
    def skipped(self, options):
        return None if options.with_api_keys else "API keys are recreated only with --with-api-keys"

    def create(self, req: WriteRequest) -> dict[str, Any]:
        raw = req.api.post(self.endpoint, json=req.payload)
        save_new_key(req.target.options.api_keys_file, req.doc["name"], raw.pop("unmasked_key"))
        return raw

    def adopted(self, api, target_id, doc, target):
        """The create answer (the only one that shows the value) was lost: this key was made by this import and
        nobody has its value, so a new value is generated for it and saved like a created key's."""
        raw = api.put(f"{self.endpoint}/{target_id}/regenerate")
        save_new_key(target.options.api_keys_file, doc["name"], raw.pop("unmasked_key"))

    def archive(self, api, target_id):
        api.delete(f"{self.endpoint}/{target_id}")  # Metabase deactivates the key's user; nothing to restore


_KEYS_FILE_LOCK = threading.Lock()  # keys are created concurrently; the file is read, extended, replaced


def save_new_key(path, name: str, value: str) -> None:
    """Add a new key to a JSON file that only its owner can read (0600, replaced atomically, never printed)."""

    register_secret(value)
    with _KEYS_FILE_LOCK:
        keys = orjson.loads(path.read_bytes()) if path.exists() else {}
        keys[name] = value
        tmp = path.with_name(path.name + ".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(orjson.dumps(keys, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS))
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
