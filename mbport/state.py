"""Import state per target (Terraform's state): address → target id, saved atomically after every change."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from .errors import MbportError

STATE_VERSION = 1


@dataclass
class State:
    target: str
    ids: dict[str, Any] = field(default_factory=dict)  # address (whole docs and sub-objects) → target id
    created: set[str] = field(default_factory=set)  # addresses mbport created (only these are ever pruned)
    path: Path | None = None

    @classmethod
    def load(cls, path: Path, target: str) -> State:
        """The state for `target`; a state written for another target is refused."""
        if not path.exists():
            return cls(target, path=path)
        try:
            data = orjson.loads(path.read_bytes())
        except orjson.JSONDecodeError as exc:
            raise MbportError(f"{path}: the state file is not valid JSON ({exc})",
                              hint="restore it from a backup, or move it away to start without state") from exc
        if not isinstance(data, dict) or data.get("version") != STATE_VERSION or not isinstance(data.get("ids"), dict):
            raise MbportError(f"{path}: not an mbport state file (version {STATE_VERSION})")
        if data.get("target") != target:
            raise MbportError(
                f"{path}: this state belongs to {data.get('target')}, not {target}",
                hint="pass --state with the state file of this target (or a new path)",
            )
        return cls(target, dict(data["ids"]), set(data.get("created", [])), path)

    def record(self, address: str, target_id: Any, created: bool = False) -> None:
        self.ids[address] = target_id
        if created:
            self.created.add(address)

    def forget(self, address: str) -> None:
        self.ids.pop(address, None)
        self.created.discard(address)

    def save(self) -> None:
        """Write atomically (temp file, fsync, rename) so a killed run never leaves a torn state."""
        if self.path is None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        data = {"version": STATE_VERSION, "target": self.target, "ids": dict(sorted(self.ids.items())),
                "created": sorted(self.created)}
        tmp = self.path.with_name(self.path.name + ".tmp")
        with open(tmp, "wb") as fh:
            fh.write(orjson.dumps(data, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS))
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self.path)

    def as_dict(self) -> dict[str, Any]:
        return {"target": self.target, "ids": dict(self.ids), "created": sorted(self.created)}
