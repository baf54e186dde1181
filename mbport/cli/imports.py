"""The commands that import: plan, import (apply), restore and migrate; each builds its import with `open_import`."""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

import click

from ..errors import PLAN_HAS_CHANGES, WARNINGS, MbportError, UsageError
from ..output import Tracked
from ..state import default_state_path
from .options import (
    connect,
    connection_options,
    import_flags,
    import_options,
    import_settings,
    loaded_plugins,
    login,
    side_client,
    side_options,
    verify_options,
)
from .rendering import out, report_apply, resume_hint, say_personal, show_plan
from .verify import verify_and_report

if TYPE_CHECKING:
    from ..importing import Import
    from ..plan import Plan


def open_tracked(api, tree_dir: Path, state_path: Path | None, unsound: tuple[str, str] | None = None,
                 **flags) -> Tracked:
    """The import of TREE_DIR into `api` that the flags describe, its progress shown; a tree `mbport check`
    would reject is listed problem by problem, then one error (`unsound`: what to call a temporary tree, and the
    hint, instead of a folder that is gone once the command ends)."""
    from ..importing import TreeProblems, load_import_tree, open_import, read_ahead

    plugins = loaded_plugins()
    ahead = None
    # The target's objects are read while the tree loads, unless a flag names something in the tree (--select,
    # --map-database) or needs another (--only): a usage error the tree's content makes stops before any request.
    if not (flags.get("selections") or flags.get("map_database") or flags.get("only")):
        import_settings(api, None, state_path, **flags)  # what the flags alone make a usage error, first
        ahead = read_ahead(api, tree_dir, plugins, state_path)
    try:
        try:
            tree = load_import_tree(tree_dir, plugins, selective=bool(flags.get("selections")))
        except TreeProblems as exc:
            for problem in exc.problems:
                out().note(problem)
            if unsound is None:
                raise
            raise MbportError(f"{unsound[0]}: {len(exc.problems)} problem(s) in the tree; nothing was written",
                              hint=unsound[1]) from exc
        options = import_settings(api, tree, state_path, **flags)
        return Tracked(open_import(api, tree, options, registry=plugins, ahead=ahead), out())
    except BaseException:
        if ahead is not None:
            ahead.cancel()
        raise


def plan_and_show(run: Import | Tracked, dry_run: bool) -> Plan:
    """Plan and show it exactly like `mbport import`; a plan with problems stops here, before any write."""
    planned = run.plan()
    show_plan(planned)
    if planned.problems:  # listed just above, once
        raise MbportError(f"{len(planned.problems)} problem(s) {'would stop' if dry_run else 'stop'} the import; "
                          "nothing was written", hint="each problem above names the object and what it needs")
    return planned


def plan_apply_report(run: Import | Tracked, dry_run: bool) -> None:
    """Plan, show, apply and report exactly like `mbport import`."""
    planned = plan_and_show(run, dry_run)
    if not dry_run:
        apply_and_report(run, planned)


def apply_and_report(run: Import | Tracked, planned: Plan) -> None:
    """Apply a shown plan and report the result (exit 3 when something failed)."""
    try:
        result = run.apply(planned)
    except MbportError as exc:
        raise MbportError(str(exc), hint=resume_hint(run, exc.hint), exit_code=exc.exit_code) from exc
    except BaseException:  # interrupted (Ctrl-C), or a bug: main() reports it after this line
        out().note(resume_hint(run, None))
        raise
    report_apply(result)


def _scope(planned: Plan, flags: dict) -> tuple[str, ...]:
    """What a verify after a selective restore or migration compares: the addresses its plan held (the selection,
    its contents and what it needed); nothing narrower without --select."""
    return tuple(sorted({c.address for c in planned.changes})) if flags.get("selections") else ()


@click.command()
@connection_options
@import_options
@click.option("--detailed-exitcode", is_flag=True, help="Exit 4 when the plan has changes, 0 when it has none.")
def plan(url, api_key, username, password, session_token, concurrency, insecure, tree_dir, state_path,
         detailed_exitcode, **flags) -> None:
    """Show what an import would change on the target; writes nothing."""
    with connect(url, api_key, username, password, session_token, concurrency, insecure) as api:
        result = open_tracked(api, tree_dir, state_path, **flags).plan()
    show_plan(result)
    if result.problems:
        raise MbportError(f"{len(result.problems)} problem(s) would stop the import")
    if detailed_exitcode and result.has_changes:
        sys.exit(PLAN_HAS_CHANGES)


@click.command("import")
@connection_options
@import_options
@click.option("--dry-run", is_flag=True, help="Only show the plan (same as `mbport plan`).")
@click.option("--continue-on-error", is_flag=True, help="Skip a failing object and what depends on it; exit 3.")
def import_cmd(url, api_key, username, password, session_token, concurrency, insecure, tree_dir, state_path,
               dry_run, **flags) -> None:
    """Apply a tree to a Metabase: create, update (and with --prune archive) in dependency order."""
    with connect(url, api_key, username, password, session_token, concurrency, insecure) as api:
        plan_apply_report(open_tracked(api, tree_dir, state_path, **flags), dry_run)


@click.command()
@connection_options
@click.option("--repo", "repo_dir", required=True, type=click.Path(path_type=Path), help="The backup repository.")
@click.option("--ref", required=True, help="Commit, tag or branch to restore (e.g. HEAD~3, a sha from `mbport log`).")
@import_flags("State file for this target (default: beside the repository, DIR.mbport-state/).")
@click.option("--dry-run", is_flag=True, help="Only show the plan.")
@click.option("--continue-on-error", is_flag=True, help="Skip a failing object and what depends on it; exit 3.")
@click.option("--verify", "then_verify", is_flag=True,
              help="Afterwards compare the restored instance with the live one the snapshot was taken from "
                   "(--from), object by object and row by row; exit 4 when anything differs.")
@side_options("from")
@verify_options
def restore(url, api_key, username, password, session_token, concurrency, insecure, repo_dir, ref, dry_run,
            state_path, then_verify, from_, from_api_key, from_username, from_password,
            from_session_token, verify_kinds, no_queries, include_personal, **flags):
    """Apply a snapshot (read from git, the working tree is untouched) like `mbport import` would."""
    from ..gitstore import Snapshot, SnapshotRepo

    source = None
    if then_verify and not dry_run:
        if not from_:
            raise UsageError("restore --verify compares the restored instance with the live one the snapshot was "
                             "taken from: give it with --from (and its credentials)",
                             hint="e.g. --from https://prod.example.com --from-api-key ... (or MBPORT_FROM_*)")
        source = side_client("from", from_, from_api_key, from_username, from_password, from_session_token,
                             concurrency, insecure)
    store = SnapshotRepo.open(repo_dir)
    with tempfile.TemporaryDirectory(prefix="mbport-restore-") as tmp:
        tree_dir = Path(tmp) / "tree"
        commit = store.extract(ref, tree_dir)
        out().line(f"Restoring {commit.hexsha[:8]} ({commit.committed_datetime:%Y-%m-%d %H:%M}): "
                   f"{Snapshot.of(commit).summary}")
        out().result(repo=str(repo_dir), ref=ref, commit=commit.hexsha)
        with connect(url, api_key, username, password, session_token, concurrency, insecure) as api:
            state = state_path or default_state_path(repo_dir, api.url)
            sha = commit.hexsha[:8]
            unsound = (f"snapshot {sha} of {repo_dir}",
                       f"the files named above are the snapshot's (git -C {repo_dir} show {sha}:FILE); restore an "
                       f"earlier snapshot (mbport log --repo {repo_dir}), or fix the instance and back it up again")
            run = open_tracked(api, tree_dir, state, unsound,
                               api_keys_file=Path(str(repo_dir).rstrip("/") + ".new-api-keys.json"), **flags)
            planned = plan_and_show(run, dry_run)
            if dry_run:
                return
            try:
                apply_and_report(run, planned)
            except SystemExit as exc:  # failures (exit 3): report them, but verify what was restored anyway
                if source is None:
                    raise
                code = exc.code
            else:
                code = 0
            if source is not None:
                with source:
                    login(source, "from")
                    verified = verify_and_report(source, api, state, flags.get("map_database"), verify_kinds,
                                                 no_queries, include_personal, left_out=planned.left_out_kinds(),
                                                 select=_scope(planned, flags), planned=True)
                if not verified.equal:
                    sys.exit(PLAN_HAS_CHANGES)
                if code:
                    sys.exit(code)


@click.command()
@side_options("from")
@side_options("to")
@import_flags("State file of this source → target pair (default: under the user's data folder).")
@click.option("--dry-run", is_flag=True, help="Only show the plan.")
@click.option("--continue-on-error", is_flag=True, help="Skip a failing object and what depends on it; exit 3.")
@click.option("--concurrency", default=None, type=click.IntRange(1, 64),
              help="Requests in flight at once (default: mbport.toml's, else 8).")
@click.option("--insecure", is_flag=True, help="Do not verify TLS certificates (warns).")
@click.option("--verify", "then_verify", is_flag=True,
              help="Afterwards compare both instances object by object and row by row (`mbport verify`); exit 4 "
                   "when anything differs.")
@verify_options
@click.option("--exclude-personal", "exclude_personal", is_flag=True,
              help="Leave the users' personal collections (and what they hold) out of the migration.")
@click.option("--legacy-metrics-as-cards", "legacy_metrics_as_cards", is_flag=True,
              help="From Metabase 0.50: move each legacy metric as a metric card (see `export --help`).")
def migrate(from_, from_api_key, from_username, from_password, from_session_token, to, to_api_key, to_username,
            to_password, to_session_token, dry_run, concurrency, insecure, state_path, then_verify,
            verify_kinds, no_queries, include_personal, exclude_personal, legacy_metrics_as_cards, **flags):
    """Copy every object from one Metabase to another: export, plan, apply; a second run applies only changes."""
    from ..migrate import default_state_path as migration_state_path
    from ..migrate import run_migrate

    source = side_client("from", from_, from_api_key, from_username, from_password, from_session_token, concurrency,
                         insecure)
    target = side_client("to", to, to_api_key, to_username, to_password, to_session_token, concurrency, insecure)
    state = state_path or migration_state_path(source.url, target.url)
    with source, target:
        login(source, "from")
        login(target, "to")

        def importer(tree_dir: Path):
            unsound = (f"the export of {source.url}",
                       f"`mbport export --url {source.url} --out DIR` writes the files named above, `mbport check DIR` "
                       "lists them again; fix them on the source")
            return open_tracked(target, tree_dir, state, unsound,
                                api_keys_file=Path(str(state) + ".new-api-keys.json"), **flags)

        plugins = loaded_plugins()
        with out().export_progress(len(plugins.kinds), phase="migrate") as progress:
            result = run_migrate(source, plugins, importer, dry_run=dry_run, on_plan=show_plan, progress=progress,
                                 include_personal=not exclude_personal,
                                 legacy_metrics_as_cards=legacy_metrics_as_cards)
        verified = None
        if then_verify and not dry_run and not result.plan.problems:
            verified = verify_and_report(source, target, state, flags.get("map_database"), verify_kinds,
                                         no_queries, include_personal or not exclude_personal,
                                         left_out=result.plan.left_out_kinds(), select=_scope(result.plan, flags), planned=True)
    report = out()
    for warning in result.export_warnings:
        report.warning(warning)
    say_personal(result.personal, exclude_personal, "the migration")
    report.result(source=source.url, target=target.url, state=str(state), counts=result.counts,
                  personal_collections=result.personal[0], personal_objects=result.personal[1])
    if result.plan.problems:
        raise MbportError(f"{len(result.plan.problems)} problem(s) stop the migration; nothing was written",
                          hint="each problem above names the object and what it needs (e.g. --secrets, --map-database)")
    if result.applied is not None:
        report.line(f"State: {state} (the next run applies only what changed).")
        report_apply(result.applied)
    elif not dry_run:
        report.line("Nothing to do: the target already has everything.")
    if verified is not None and not verified.equal:
        sys.exit(PLAN_HAS_CHANGES)
    if result.export_warnings:
        sys.exit(WARNINGS)
