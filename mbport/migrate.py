"""One-command migration: export the source to a temporary tree, plan and apply it on the target, keep the state."""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .engine import ApplyResult, Plan
from .importing import Import
from .tree import slugify

if TYPE_CHECKING:  # annotations only: export loads when the migration runs
    from .client import MetabaseClient
    from .export import Progress
    from .registry import Registry

Echo = Callable[[str], None]


def user_data_dir() -> Path:
    """Where mbport keeps state that belongs to the user rather than to a tree (XDG on Linux)."""
    if sys.platform == "win32":
        base = Path(os.environ.get("LOCALAPPDATA") or Path.home() / "AppData" / "Local")
    elif sys.platform == "darwin":
        base = Path.home() / "Library" / "Application Support"
    else:
        base = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    return base / "mbport"


def default_state_path(source_url: str, target_url: str) -> Path:
    """One state file per (source, target) pair, so a second run only applies what changed since."""
    def slug(url: str) -> str:
        return slugify(url.split("://", 1)[-1])

    return user_data_dir() / "migrations" / f"{slug(source_url)}--to--{slug(target_url)}.json"


@dataclass
class MigrateResult:
    plan: Plan
    applied: ApplyResult | None = None
    export_warnings: list[str] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    personal: tuple[int, int] = (0, 0)  # personal collections migrated, objects inside them


def run_migrate(source_api: MetabaseClient, registry: Registry, make_import: Callable[[Path], Import], *,
                dry_run: bool = False, workdir: Path | None = None, on_plan: Callable[[Plan], None] | None = None,
                progress: Progress | None = None, include_personal: bool = True,
                legacy_metrics_as_cards: bool = False) -> MigrateResult:
    """Export `source_api` into a temporary tree, let `make_import(tree)` open the import on it, plan, apply.

    The tree lives only as long as the run (a backup repository is the place to keep trees); the import
    state is the import's, kept where `make_import` put it.
    """
    from .export import personal_content, run_export

    with tempfile.TemporaryDirectory(prefix="mbport-migrate-", dir=workdir) as tmp:
        tree_dir = Path(tmp) / "tree"
        exported = run_export(source_api, registry, tree_dir, progress=progress,
                              options={"include_personal": include_personal,
                                       "legacy_metrics_as_cards": legacy_metrics_as_cards})
        opened = make_import(tree_dir)
        plan = opened.plan()
        if on_plan:
            on_plan(plan)
        result = MigrateResult(plan, None, exported.warnings, exported.counts, personal_content(exported.paths))
        if dry_run or not plan.has_changes and not plan.problems:
            return result
        result.applied = opened.apply(plan)
        return result


def plan_lines(plan: Plan, limit: int | None = None) -> list[str]:
    """The plan's changes (no-ops left out), at most `limit` of them plus a line saying how many more."""
    lines = [c.line() for c in plan.changes if c.action != "noop"]
    if limit is not None and len(lines) > limit:
        lines = lines[:limit] + [f"  ... and {len(lines) - limit} more"]
    return lines


def per_kind(plan: Plan) -> dict[str, dict[str, int]]:
    """{kind: {action: count}} of a plan, for a compact summary."""
    from .refs import address_kind

    out: dict[str, dict[str, Any]] = {}
    for change in plan.changes:
        if change.action == "noop":
            continue
        counts = out.setdefault(address_kind(change.address), {})
        counts[change.action] = counts.get(change.action, 0) + 1
    return dict(sorted(out.items()))
