"""The commands that read an instance into trees: export, backup (into git) and log (the backups' history)."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from ..errors import WARNINGS
from .options import connect, connection_options, loaded_plugins
from .rendering import out as current_output
from .rendering import say_personal


def _read_properties_early(api) -> None:
    """The version's round trip (every export's first request) while the export's modules and the plugins load."""
    early = getattr(api, "read_properties_early", None)  # (a test's stand-in client may have none)
    if early is not None:
        early()


@click.command()
@connection_options
@click.option("--out", "out", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Folder to write the tree into (empty, or an earlier export).")
@click.option("--kinds", default=None, help="Comma-separated kinds to export (default: all).")
@click.option("--select", "selections", multiple=True,
              help="KIND:NAME to export one object (collection:NAME takes its contents) and what it depends on.")
@click.option("--include-personal", is_flag=True, help="Also export personal collections and their contents.")
@click.option("--no-cache", "no_cache", is_flag=True,
              help="Fetch every object again instead of reusing unchanged ones from <out>.mbport-cache.")
@click.option("--legacy-metrics-as-cards", "legacy_metrics_as_cards", is_flag=True,
              help="Metabase 0.50: write each legacy metric as a metric card (same aggregation, filter and table; "
                   "questions using it refer to the card) so a newer release can hold it. Review them first.")
def export(url, api_key, username, password, session_token, concurrency, insecure, out, kinds, selections,
           include_personal, no_cache, legacy_metrics_as_cards) -> None:
    """Export a whole instance into a deterministic JSON tree."""
    report = current_output()
    names = [k.strip() for k in kinds.split(",") if k.strip()] if kinds else None
    with connect(url, api_key, username, password, session_token, concurrency, insecure) as api:
        _read_properties_early(api)
        from ..export import run_export

        registry = loaded_plugins()
        if selections:
            from ..selection import resolve_selection
        selection = (lambda docs: resolve_selection(registry, docs, selections)) if selections else None
        with report.export_progress(len(registry.kinds)) as progress:
            result = run_export(api, registry, out, kinds=names, selection=selection,
                                options={"include_personal": include_personal,
                                         "legacy_metrics_as_cards": legacy_metrics_as_cards}, progress=progress,
                                cache=not no_cache)
    for warning in result.warnings:
        report.warning(warning)
    if result.taken_along:
        along = [f"{label} ({addr})" for addr, label in result.taken_along.items()]
        report.note(f"Took along {len(along)} object(s) from personal collections that shared content uses "
                    "(--include-personal takes them all): " + ", ".join(along[:10]) + (" ..." if len(along) > 10 else ""))
    if result.selected_extra:
        report.note(f"Pulled in {len(result.selected_extra)} dependencies of the selection: "
                    + ", ".join(result.selected_extra[:10]) + (" ..." if len(result.selected_extra) > 10 else ""))
    counts = ", ".join(f"{k} {n}" for k, n in sorted(result.counts.items()))
    report.line(f"Exported {sum(result.counts.values())} objects to {out} ({counts}); {result.requests} requests.")
    report.result(out=str(out), objects=sum(result.counts.values()), counts=dict(sorted(result.counts.items())),
                  requests=result.requests, selected_extra=result.selected_extra, taken_along=sorted(result.taken_along),
                  metabase=result.source_version)
    if result.exit_code:
        sys.exit(result.exit_code)


@click.command()
@connection_options
@click.option("--repo", "repo_dir", required=True, type=click.Path(path_type=Path),
              help="Git repository to keep the snapshots in (created if missing).")
@click.option("--push", "remote", default=None, metavar="REMOTE", help="Push the branch to this git remote afterwards.")
@click.option("--branch", default=None, help="Branch to commit on (default: the repository's current branch).")
@click.option("--author", default=None, envvar="MBPORT_GIT_AUTHOR", show_envvar=True,
              help='Commit author, "Name <email>" (default: mbport <mbport@localhost>).')
@click.option("--exclude-personal", "exclude_personal", is_flag=True,
              help="Leave the users' personal collections (and what they hold) out of the snapshot.")
def backup(url, api_key, username, password, session_token, concurrency, insecure, repo_dir, remote, branch, author,
           exclude_personal):
    """Export an instance into a git repository; commit only when something changed."""
    from ..gitstore import Author, SnapshotRepo, run_backup

    Author.parse(author)  # a bad --author is a usage error before any request
    report = current_output()
    with connect(url, api_key, username, password, session_token, concurrency, insecure) as api:
        _read_properties_early(api)
        registry = loaded_plugins()
        with report.export_progress(len(registry.kinds), phase="backup") as progress:
            result = run_backup(api, registry, repo_dir, branch=branch, author=author, progress=progress,
                                include_personal=not exclude_personal)
    for warning in result.warnings:
        report.warning(warning)
    say_personal(result.personal, exclude_personal, "the snapshot")
    if result.commit:
        report.line(f"Committed {result.commit[:8]} on {result.branch}: {result.summary}")
    else:
        report.line(f"No changes since {result.head[:8]}; nothing committed.")
    report.result(repo=str(repo_dir), commit=result.commit, head=result.head, branch=result.branch,
                  changes=result.summary if result.commit else None, counts=result.counts, pushed=None,
                  personal_collections=result.personal[0], personal_objects=result.personal[1])
    if remote:
        SnapshotRepo.open(repo_dir).push(remote, result.branch)
        report.line(f"Pushed {result.branch} to {remote}.")
        report.result(pushed=remote)
    if result.warnings:
        sys.exit(WARNINGS)


@click.command("log")
@click.option("--repo", "repo_dir", required=True, type=click.Path(path_type=Path), help="The backup repository.")
@click.option("--ref", default=None, help="Branch or commit to start from (default: HEAD).")
@click.option("-n", "--max-count", "limit", type=click.IntRange(1), default=None, help="Show at most this many.")
@click.option("--select", "selections", multiple=True, metavar="KIND:NAME",
              help="Only the snapshots that changed this object (repeatable; KIND:NAME, entity id, address or "
                   "tree path), with the change in words.")
def log_cmd(repo_dir, ref, limit, selections):
    """List the snapshots of a backup repository: short sha, date, what changed.

    With --select, only the snapshots in which the selected objects changed, each with what changed
    (`dashboard 'Ops': renamed 'A' → 'B'`, `... archived`, `... deleted`): where to find the last good one.
    """
    from ..gitstore import SnapshotRepo

    if selections:
        from ..history import object_history

        history = object_history(SnapshotRepo.open(repo_dir), loaded_plugins(), selections, ref, limit)
        if not history:
            current_output().line(f"{repo_dir}: no snapshot changed {', '.join(selections)}.")
        for change in history:
            current_output().line(change.line())
        current_output().result(snapshots=[{"sha": c.sha, "date": c.date.isoformat(), "address": c.address, "change": c.change,
                                  "details": c.details} for c in history])
        return
    snapshots = SnapshotRepo.open(repo_dir).snapshots(ref, limit)
    if not snapshots:
        current_output().line(f"{repo_dir}: no snapshots yet.")
    for snapshot in snapshots:
        current_output().line(snapshot.line())
    current_output().result(snapshots=[{"sha": s.sha, "date": s.date.isoformat(), "summary": s.summary} for s in snapshots])


