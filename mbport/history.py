"""The history of selected objects in a backup repository (`mbport log --select`): the snapshots that changed
them, each change in `mbport diff`'s words."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import PurePosixPath
from typing import Any

import git
import orjson

from .diff import diff_docs
from .errors import UsageError
from .gitstore import SnapshotRepo
from .refs import address_kind
from .registry import Registry
from .selection import NotSelected, resolve_selection


@dataclass
class ObjectChange:
    sha: str
    date: datetime
    address: str
    text: str  # `dashboard 'Ops': renamed 'A' → 'B'; dashcard 'Errors' added`
    change: str  # added | removed | changed
    details: list[str] = field(default_factory=list)

    def line(self) -> str:
        return f"{self.sha[:8]}  {self.date.strftime('%Y-%m-%d %H:%M %z')}  {self.text}"


class _Snapshots:
    """Docs of commits, read straight from git's objects (a commit's docs are read once)."""

    def __init__(self, registry: Registry):
        self.registry = registry
        self.cache: dict[str, tuple[dict[str, dict[str, Any]], dict[str, str]]] = {}

    def docs(self, commit: git.Commit) -> tuple[dict[str, dict[str, Any]], dict[str, str]]:
        """(address → doc, address → path) of every doc in the commit; unreadable files are left out."""
        if commit.hexsha not in self.cache:
            docs: dict[str, dict[str, Any]] = {}
            paths: dict[str, str] = {}
            for item in commit.tree.traverse():
                if not isinstance(item, git.Blob):
                    continue
                path = str(item.path)
                top = PurePosixPath(path).parts[0]
                if top not in self.registry.kinds or not path.endswith(".json"):
                    continue
                try:
                    doc = orjson.loads(item.data_stream.read())
                    addr = self.registry[top].address_of(doc)
                except Exception:  # noqa: BLE001 - a broken file is `check`'s business, not the history's
                    continue
                docs[addr], paths[addr] = doc, path
            self.cache[commit.hexsha] = (docs, paths)
        return self.cache[commit.hexsha]


def object_history(store: SnapshotRepo, registry: Registry, selections: tuple[str, ...] | list[str],
                   ref: str | None = None, limit: int | None = None) -> list[ObjectChange]:
    """Newest first: each snapshot in which a selected object was added, changed or removed, in words. The
    selection is read in the newest snapshot that has it (a deleted object is found in an older one)."""
    if ref is None and not store.repo.head.is_valid():
        return []
    commits = list(store.repo.iter_commits(store.resolve(ref or "HEAD")))
    snapshots = _Snapshots(registry)
    roots: set[str] | None = None
    error: NotSelected | None = None
    for commit in commits:
        docs, paths = snapshots.docs(commit)
        try:
            roots = resolve_selection(registry, docs, selections, paths, "in any snapshot", contents=False)
            break
        except NotSelected as exc:
            error = exc
    if roots is None:
        raise error or UsageError(f"--select {selections[0]!r}: no snapshots yet")
    tops = {address_kind(a) for a in roots}
    found: list[ObjectChange] = []
    for commit in commits:
        parent = commit.parents[0] if commit.parents else None
        if parent is not None:
            changed = store.repo.git.diff_tree("-r", "--no-renames", "--name-only", parent.hexsha, commit.hexsha)
            if not any(PurePosixPath(p).parts[0] in tops for p in changed.splitlines() if p):
                continue
        new, _ = snapshots.docs(commit)
        old = snapshots.docs(parent)[0] if parent is not None else {}
        changes = [c for c in diff_docs(registry, old, new) if c.address in roots]
        for c in changes:
            details = ["deleted"] if c.change == "removed" else c.details
            text = f"{c.label} '{c.name}': " + "; ".join(details)
            found.append(ObjectChange(commit.hexsha, commit.committed_datetime, c.address, text, c.change, details))
        if limit is not None and len({f.sha for f in found}) >= limit:
            break
    return found
