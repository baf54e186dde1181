"""`mbport demo`: the main job end to end on two in-process emulators — back up, migrate, change, diff, migrate."""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

from .errors import MbportError

if TYPE_CHECKING:
    from .importing import Import
    from .registry import Registry

MARKER = ".mbport-demo"
ENTRIES = ("backup", "state", "secrets.json", MARKER)
ADMIN_EMAIL = "admin@example.com"
CHANGED_CARD = "Revenue by month"

Echo = Callable[[str], None]


@dataclass
class DemoResult:
    directory: Path
    commits: list[str] = field(default_factory=list)
    plans: list[str] = field(default_factory=list)  # plan summaries, in the order shown
    diff: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    verified: list[str] = field(default_factory=list)  # verify's differences, as lines (none: the target holds it all)
    seconds: float = 0.0


def prepare(directory: Path | None) -> Path:
    """A fresh temporary folder, or DIR: absent, empty, or an earlier demo's (which is cleared)."""
    if directory is None:
        return Path(tempfile.mkdtemp(prefix="mbport-demo-"))
    if directory.exists() and not directory.is_dir():
        raise MbportError(f"--dir {directory}: is a file, not a folder")
    if directory.is_dir() and any(directory.iterdir()):
        if not (directory / MARKER).exists():
            raise MbportError(f"--dir {directory}: not empty and not an earlier demo's folder",
                              hint="give a new or empty folder")
        for name in ENTRIES:
            path = directory / name
            if path.is_dir():
                shutil.rmtree(path)
            elif path.exists():
                path.unlink()
    directory.mkdir(parents=True, exist_ok=True)
    (directory / MARKER).write_text("made by `mbport demo`; the next demo run with this --dir clears it\n")
    return directory


def run_demo(directory: Path | None, echo: Echo, program: str = "mbport", registry: Registry | None = None,
             track: Callable[[Import], Any] | None = None) -> DemoResult:
    """Run the demo in `directory` (None: a new temporary folder), telling what happens through `echo`.
    `program` is how the next steps it suggests run mbport; `track` wraps each import (a progress display)."""
    from .client import MetabaseClient
    from .diff import diff_docs
    from .emulator import Emulator, bootstrap, seeds
    from .emulator.seeds import sample
    from .gitstore import SnapshotRepo, run_backup
    from .importing import ImportOptions, open_import
    from .migrate import per_kind, plan_lines, run_migrate
    from .registry import load_plugins
    from .secrets import Secrets

    started = time.monotonic()
    root = prepare(directory)
    result = DemoResult(root)
    registry = registry if registry is not None else load_plugins()
    repo_dir, state_path, secrets_path = root / "backup", root / "state" / "target.json", root / "secrets.json"
    # The source database's password is a secret: never in the tree, supplied at import time (owner-only file).
    fd = os.open(secrets_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(orjson.dumps({"databases/Finance/password": sample.FINANCE_DB_PASSWORD}, option=orjson.OPT_INDENT_2))

    echo("Starting two Metabase emulators in this process: 'source' with the sample instance, 'target' empty.")
    # The sample content has model actions on a SQLite warehouse, which only the emulator lets SQLite hold.
    source, target = Emulator(sqlite_actions=True), Emulator(sqlite_actions=True)
    source_session = bootstrap.setup_admin(source, ADMIN_EMAIL, bootstrap.random_password(), site_name="Source")
    seeds.load(source, "sample", source_session)
    source.wait_idle()
    target_session = bootstrap.setup_admin(target, ADMIN_EMAIL, bootstrap.random_password(), site_name="Target")
    # Sessions rather than API keys: a key made for the demo would show up in the source's backup.
    src = MetabaseClient("http://source.demo", session_token=source_session, transport=source.transport())
    dst = MetabaseClient("http://target.demo", session_token=target_session, transport=target.transport())

    def backup(step: str) -> None:
        done = run_backup(src, registry, repo_dir, author="mbport demo <demo@mbport.invalid>")
        if done.commit:
            result.commits.append(done.commit)
            echo(f"{step} committed {done.commit[:8]}: {done.summary}")
        else:
            echo(f"{step} no changes; nothing committed")

    def migrate(step: str, dry_run: bool = False, show: int = 12) -> Any:
        def importer(tree_dir: Path):
            # continue_on_error: one failing object is reported at the end rather than ending the demo
            options = ImportOptions(secrets=Secrets.from_file(secrets_path), state=state_path, continue_on_error=True)
            run = open_import(dst, tree_dir, options, registry=registry)
            return track(run) if track else run

        def show_plan(plan) -> None:
            result.plans.append(plan.summary())
            echo(f"{step} {plan.summary()}")
            if plan.has_changes:
                kinds = ", ".join(f"{k} " + " ".join(f"{a} {n}" for a, n in c.items()) for k, c in per_kind(plan).items())
                echo(f"      by kind: {kinds}")
                for line in plan_lines(plan, show):
                    echo(f"      {line}")

        done = run_migrate(src, registry, importer, dry_run=dry_run, on_plan=show_plan)
        if done.applied is not None:
            failed = {**done.applied.failed, **{a: "depends on a failure" for a in done.applied.skipped}}
            result.failed.update(failed)
            echo(f"      applied: {done.applied.written} write{'' if done.applied.written == 1 else 's'}" + (f", {len(failed)} failed" if failed else ""))
            target.wait_idle()
        return done

    def verify(left_out: dict[str, str]) -> None:
        from .state import State
        from .verify import run_verify

        checked = run_verify(src, dst, state_ids=State.load(state_path, dst.url).ids, left_out=left_out)
        objects = sum(c.paired + c.only_source + c.only_target for k, c in checked.counts.items()
                      if not k.startswith("rows of "))
        rows = sum(c.paired for k, c in checked.counts.items() if k.startswith("rows of "))
        result.verified = [d.line() for d in checked.differences]
        echo(f"   verify: {objects} objects compared field by field (their richest GET on both servers), and the rows "
             f"of {rows} questions and dashboard cards: "
             + ("no differences" if checked.equal else f"{len(checked.differences)} difference(s)"))
        for line in result.verified[:12]:
            echo(f"      {line}")

    with src, dst:
        echo(f"\n1. Back up the source into a git repository ({repo_dir})")
        backup("   backup:")
        echo("\n2. Migrate source → target (the Finance database's password comes from a secrets file)")
        migrate("   plan before:")
        migrate("   plan after: ", dry_run=True)
        echo(f"\n3. Someone turns the '{CHANGED_CARD}' chart into bars on the source; the nightly backup sees it")
        card = next(c for c in src.get("/api/card") if c["name"] == CHANGED_CARD)
        src.put(f"/api/card/{card['id']}", json={"display": "bar"})
        backup("   backup:")
        store = SnapshotRepo.open(repo_dir)
        with tempfile.TemporaryDirectory(prefix="mbport-demo-diff-") as tmp:
            from .check import load_tree

            old_dir, new_dir = Path(tmp) / "old", Path(tmp) / "new"
            store.extract("HEAD~1", old_dir)
            store.extract("HEAD", new_dir)
            changes = diff_docs(registry, load_tree(old_dir, registry).docs, load_tree(new_dir, registry).docs)
        result.diff = [c.line() for c in changes]
        echo("   semantic diff of the two snapshots (`mbport diff --repo ... HEAD~1 HEAD`):")
        for line in result.diff:
            echo(f"      {line}")
        echo("\n4. Migrate again: only what changed is applied (the state remembers what went where)")
        migrate("   plan before:")
        last = migrate("   plan after: ", dry_run=True)
        echo("\n5. Check the target against the source itself, not against mbport's own export (`mbport verify`)")
        verify(last.plan.left_out_kinds())

    result.seconds = time.monotonic() - started
    echo(f"\nDone in {result.seconds:.1f} s. What to look at next:")
    mbport = program  # not a bare `mbport` from the CLI: after the README's venv step it is not on PATH
    for command, why in (
        (f"ls {repo_dir}", "the tree: one readable JSON file per object, no instance ids"),
        (f"git -C {repo_dir} log --stat", "the snapshots; the second touches one card's file"),
        (f"{mbport} log --repo {repo_dir}", "the same, one line per snapshot"),
        (f"{mbport} diff --repo {repo_dir} HEAD~1 HEAD", "the semantic diff again (add --json for machines)"),
        (f"cat {state_path}", "which target id each object got (kept for the next migration)"),
        (f"{mbport} emulator serve --seed sample --admin-password 'Adm1n-passw0rd!' --api-key mb_demokey0000000000",
         "a real server to run backup, restore, diff and migrate against"),
    ):
        echo(f"  {command}\n      {why}")
    echo("Against a real Metabase: see README.md (backup, restore, migrate, scheduling).")
    return result
