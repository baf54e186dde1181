"""The backup, log, restore, diff, migrate, demo, doctor and graph commands (registered on `mbport.cli.cli` when imported)."""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
from pathlib import Path

import click

from .cli import (
    _importer,
    _out,
    _print_plan,
    _problems,
    _registry,
    cli,
    connection_options,
    import_options,
    load_config,
    make_client,
)
from .client import ENV_URL
from .errors import PLAN_HAS_CHANGES, WARNINGS, MbportError, UsageError


def import_flags(state_help: str):
    """`mbport import`'s options (--state, --map-database, --secrets, --prune ...) without its TREE_DIR argument."""

    def decorate(fn):
        fn = import_options(fn)
        fn.__click_params__ = [p for p in fn.__click_params__ if p.name != "tree_dir"]
        for param in fn.__click_params__:
            if param.name == "state_path":
                param.help = state_help
        return fn

    return decorate


def _apply(importer, dry_run: bool) -> None:
    """Plan, show, apply and report exactly like `mbport import`."""
    planned = importer.plan()
    _print_plan(planned)
    _problems(planned)
    if planned.problems:  # listed just above, once
        raise MbportError(f"{len(planned.problems)} problem(s) {'would stop' if dry_run else 'stop'} the import; "
                          "nothing was written", hint="each problem above names the object and what it needs")
    if dry_run:
        return
    try:
        result = importer.apply(planned)
    except MbportError as exc:
        raise MbportError(str(exc), hint=_resume_hint(importer, exc.hint), exit_code=exc.exit_code) from exc
    except BaseException:  # interrupted (Ctrl-C), or a bug: main() reports it after this line
        _out().note(_resume_hint(importer, None))
        raise
    _report(result)


def _resume_hint(importer, hint: str | None) -> str:
    """How far a stopped import got, and that running it again resumes (the state recorded every write)."""
    applied = getattr(importer, "applied", None)  # None: stopped before the first write
    written = applied.written if applied is not None else 0
    _out().result(written=written)
    state = getattr(getattr(importer, "state", None), "path", None)
    where = f" (recorded in {state})" if state else ""
    text = (f"the import stopped after {_writes(written)}{where}; run the same command again to resume: "
            "only what is left is applied")
    return f"{hint}; {text}" if hint else text[0].upper() + text[1:] + "."


def _writes(n: int) -> str:
    return f"{n} write" if n == 1 else f"{n} writes"


def _report(result) -> None:
    """What an apply did: failures (named), what they held back, the write count; exit 3 after failures."""
    out = _out()
    for addr, error in sorted(result.failed.items()):
        if out.json:
            out.event("error", address=addr, message=error, hint=None, exit_code=None)
        else:
            out.note(f"Failed: {addr}: {error}")
    for addr in result.skipped:
        out.warning(f"Skipped (depends on a failure): {addr}", address=addr)
    out.line(f"Applied: {_writes(result.written)}.")
    out.result(written=result.written, failed=sorted(result.failed), skipped=list(result.skipped),
               unsupported=sorted(result.plan.unsupported))
    if result.plan.unsupported and not result.failed and not result.skipped:
        out.note(f"Left out {len(result.plan.unsupported)} object(s) the target cannot hold (--skip-unsupported): "
                 "see the warnings above.")
        sys.exit(WARNINGS)
    if result.failed or result.skipped:
        if not out.json:
            out.note("Fix the failures above and run the same command again: only what is left is applied.")
        sys.exit(WARNINGS)


def side_options(side: str):
    """--from-* / --to-* credentials (flags, or MBPORT_FROM_* / MBPORT_TO_* environment variables)."""
    env = f"MBPORT_{side.upper()}_"

    def decorate(fn):
        for flag, var, help_text in reversed((
            (f"--{side}", "URL", f"Metabase URL of the {'source' if side == 'from' else 'target'}."),
            (f"--{side}-api-key", "API_KEY", "API key."),
            (f"--{side}-username", "USERNAME", "Login email."),
            (f"--{side}-password", "PASSWORD", "Password."),
            (f"--{side}-session-token", "SESSION_TOKEN", "An existing session."),
        )):
            dest = flag.lstrip("-").replace("-", "_")
            dest = "from_" if dest == "from" else dest  # a Python keyword
            fn = click.option(flag, dest, default=None, envvar=env + var, show_envvar=True, help=help_text)(fn)
        return fn

    return decorate


def verify_options(fn):
    """What verify takes besides the two sides (also on migrate and restore, after their --verify)."""
    for option in reversed((
        click.option("--kinds", "verify_kinds", default=None, metavar="LIST",
                     help="Verify only these kinds (comma-separated, e.g. cards,dashboards,fields)."),
        click.option("--no-queries", "no_queries", is_flag=True, help="Compare objects only; do not run the queries."),
        click.option("--include-personal", "include_personal", is_flag=True,
                     help="Also compare personal collections and their contents."),
    )):
        fn = option(fn)
    return fn


def _state_ids(path: Path | None, target_url: str, required: bool) -> tuple[dict | None, Path | None]:
    """The address → target id of an import/migrate state, if there is one at `path`."""
    from .state import State

    if path is None or not (path.exists() or path.with_name(path.name + ".journal").exists()):
        if required:
            raise UsageError(f"--state {path}: no such state file",
                             hint="give the state file `mbport migrate`, `import` or `restore` kept for this target")
        return None, None
    return State.load(path, target_url).ids, path


def run_verify_and_report(source, target, state_path: Path | None, map_database, verify_kinds, no_queries,
                          include_personal, as_json: bool = False, state_required: bool = False):
    """Run verify, print the report (text, or JSON objects with `as_json`), and return the result."""
    from .verify import run_verify
    from .verify.report import lines

    out = _out()
    mapping = dict(target.instance.map_database) if getattr(target, "instance", None) else {}
    for item in map_database or ():
        src, sep, dst = item.partition("=")
        if not sep or not src or not dst:
            raise UsageError(f"--map-database {item!r}: expected SRC=DST (database names)")
        mapping[src] = dst
    kinds = [k.strip() for k in verify_kinds.split(",") if k.strip()] if verify_kinds else None
    ids, used = _state_ids(state_path, target.url, state_required)
    with out.export_progress(23, phase="verify") as progress:
        result = run_verify(source, target, state_ids=ids, map_database=mapping, kinds=kinds,
                            queries=not no_queries, include_personal=include_personal, progress=progress)
    if as_json:  # `verify --json` is `mbport --json verify`: one event per difference, then the summary
        out.json = True
    if out.json:
        for d in result.differences:
            out.event("difference", **d.as_dict())
    else:
        if used:
            out.note(f"Objects paired through the state {used}.")
        for line in lines(result):
            click.echo(line)
    out.result(verify=result.summary())
    return result


# ---------------------------------------------------------------------------------------------------- backup

def _say_personal(personal: tuple[int, int], excluded: bool, where: str) -> None:
    """One line on what a whole-instance run did with personal collections (they are private content)."""
    if excluded:
        _out().line("Personal collections left out (--exclude-personal).")
    else:
        _out().line(f"{where[0].upper()}{where[1:]} holds {personal[0]} personal collection(s) with {personal[1]} "
                    "object(s) in them (--exclude-personal leaves them out).")


@cli.command()
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
    from .gitstore import Author, SnapshotRepo, run_backup

    Author.parse(author)  # a bad --author is a usage error before any request
    out = _out()
    registry = _registry()
    with make_client(url, api_key, username, password, session_token, concurrency, insecure) as api:
        with out.export_progress(len(registry.kinds), phase="backup") as progress:
            result = run_backup(api, registry, repo_dir, branch=branch, author=author, progress=progress,
                                include_personal=not exclude_personal)
    for warning in result.warnings:
        out.warning(warning)
    _say_personal(result.personal, exclude_personal, "the snapshot")
    if result.commit:
        out.line(f"Committed {result.commit[:8]} on {result.branch}: {result.summary}")
    else:
        out.line(f"No changes since {result.head[:8]}; nothing committed.")
    out.result(repo=str(repo_dir), commit=result.commit, head=result.head, branch=result.branch,
               changes=result.summary if result.commit else None, counts=result.counts, pushed=None,
               personal_collections=result.personal[0], personal_objects=result.personal[1])
    if remote:
        SnapshotRepo.open(repo_dir).push(remote, result.branch)
        out.line(f"Pushed {result.branch} to {remote}.")
        out.result(pushed=remote)
    if result.warnings:
        sys.exit(WARNINGS)


@cli.command("log")
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
    from .gitstore import SnapshotRepo

    if selections:
        from .history import object_history

        history = object_history(SnapshotRepo.open(repo_dir), _registry(), selections, ref, limit)
        if not history:
            _out().line(f"{repo_dir}: no snapshot changed {', '.join(selections)}.")
        for change in history:
            _out().line(change.line())
        _out().result(snapshots=[{"sha": c.sha, "date": c.date.isoformat(), "address": c.address, "change": c.change,
                                  "details": c.details} for c in history])
        return
    snapshots = SnapshotRepo.open(repo_dir).snapshots(ref, limit)
    if not snapshots:
        _out().line(f"{repo_dir}: no snapshots yet.")
    for snapshot in snapshots:
        _out().line(snapshot.line())
    _out().result(snapshots=[{"sha": s.sha, "date": s.date.isoformat(), "summary": s.summary} for s in snapshots])


# ---------------------------------------------------------------------------------------------------- restore

@cli.command()
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
            continue_on_error, state_path, then_verify, from_, from_api_key, from_username, from_password,
            from_session_token, verify_kinds, no_queries, include_personal, **import_kwargs):
    """Apply a snapshot (read from git, the working tree is untouched) like `mbport import` would."""
    from .cli import default_state_path
    from .gitstore import SnapshotRepo

    source = None
    if then_verify and not dry_run:
        if not from_:
            raise UsageError("restore --verify compares the restored instance with the live one the snapshot was "
                             "taken from: give it with --from (and its credentials)",
                             hint="e.g. --from https://prod.example.com --from-api-key ... (or MBPORT_FROM_*)")
        source = _side_client("from", from_, from_api_key, from_username, from_password, from_session_token,
                              concurrency, insecure)
    store = SnapshotRepo.open(repo_dir)
    with tempfile.TemporaryDirectory(prefix="mbport-restore-") as tmp:
        tree_dir = Path(tmp) / "tree"
        commit = store.extract(ref, tree_dir)
        _out().line(f"Restoring {commit.hexsha[:8]} ({commit.committed_datetime:%Y-%m-%d %H:%M}): {commit.summary}")
        _out().result(repo=str(repo_dir), ref=ref, commit=commit.hexsha)
        with make_client(url, api_key, username, password, session_token, concurrency, insecure) as api:
            state = state_path or default_state_path(repo_dir, api.url)
            importer = _importer(api, tree_dir, state, continue_on_error=continue_on_error,
                                 api_keys_file=Path(str(repo_dir).rstrip("/") + ".new-api-keys.json"), **import_kwargs)
            try:
                _apply(importer, dry_run)
            except SystemExit as exc:  # failures (exit 3): report them, but verify what was restored anyway
                if source is None:
                    raise
                code = exc.code
            else:
                code = 0
            if source is not None:
                with source:
                    _login(source, "from")
                    verified = run_verify_and_report(source, api, state, import_kwargs.get("map_database"),
                                                     verify_kinds, no_queries, include_personal)
                if not verified.equal:
                    sys.exit(PLAN_HAS_CHANGES)
                if code:
                    sys.exit(code)


# ---------------------------------------------------------------------------------------------------- diff

@contextlib.contextmanager
def _side(spec: str, repo_dir: Path | None, registry):
    """A side of a diff as docs: a tree folder, REPO@REF, or (with --repo) a ref; yields (label, docs, home),
    home being the folder an import or restore of that side keeps its state beside (the tree, or the repository)."""
    from .check import load_tree
    from .gitstore import SnapshotRepo

    repo, ref = None, None
    if repo_dir is not None:
        repo, ref = repo_dir, spec
    elif "@" in spec and not Path(spec).is_dir():
        for i, ch in enumerate(spec):
            if ch == "@" and Path(spec[:i]).is_dir() and (Path(spec[:i]) / ".git").exists():
                repo, ref = Path(spec[:i]), spec[i + 1:]
                break
    if repo is None:
        path = Path(spec)
        if not path.is_dir():
            raise UsageError(f"{spec}: not a tree folder, nor REPO@REF of a backup repository",
                             hint="give a folder `mbport export` wrote, REPO@REF, or --repo DIR REF")
        yield spec, _sound_docs(load_tree(path, registry), spec), path
        return
    store = SnapshotRepo.open(repo)
    with tempfile.TemporaryDirectory(prefix="mbport-diff-") as tmp:
        commit = store.extract(ref, Path(tmp) / "tree")
        label = f"{repo}@{ref} ({commit.hexsha[:8]})"
        yield label, _sound_docs(load_tree(Path(tmp) / "tree", registry), label), repo


def _sound_docs(tree, label: str) -> dict:
    """The docs of a side whose every file loaded: a file that did not (cut-off JSON ...) would show as a removed
    or added object, so a broken side is an error, as in check, plan and import."""
    if tree.problems:
        for problem in tree.problems:
            _out().note(problem)
        raise MbportError(f"{label}: {len(tree.problems)} problem(s) in the tree; nothing was compared",
                          hint="fix the files named above (`mbport check` lists every problem), or export again")
    return tree.docs


@contextlib.contextmanager
def _live(api, registry, include_personal: bool = False):
    """The live side of a diff, exported (with personal collections when the other side has them, as a backup
    does); yields (label, docs, index), index being (kind, id) → address."""
    from .check import load_tree
    from .export import run_export

    with tempfile.TemporaryDirectory(prefix="mbport-diff-live-") as tmp:
        with _out().export_progress(len(registry.kinds), phase="diff") as progress:
            result = run_export(api, registry, Path(tmp) / "tree", progress=progress,
                                options={"include_personal": include_personal})
        for warning in result.warnings:
            _out().warning(warning)
        yield api.url, load_tree(Path(tmp) / "tree", registry).docs, result.index


def _diff_state(state_path: Path | None, home: Path, url: str):
    """The import state that maps the live instance's entity ids back to the side's: --state, else the one
    `import`/`restore` keep by default beside `home` for this URL if there is one, else None."""
    from .cli import default_state_path
    from .state import State

    path = state_path or default_state_path(home, url)
    if not path.exists() and not path.with_name(path.name + ".journal").exists():  # a killed import leaves a journal
        if state_path is not None:
            raise UsageError(f"--state {path}: no such state file",
                             hint="give the state file `mbport import`, `restore` or `migrate` kept for this instance")
        return None
    try:
        return State.load(path, url)
    except MbportError as exc:  # e.g. the state of an import into another instance
        hint = f"give --state the state file of the import into {url}"
        raise MbportError(str(exc), hint=hint + ("" if state_path else ", or move this one away to compare "
                                                 "without mapping entity ids")) from None


def _selected(registry, docs, selection: str) -> set[str] | None:
    """The addresses one selection names in `docs`, None when it names nothing there (a malformed one raises)."""
    from .selection import NotSelected, resolve_selection

    try:
        return resolve_selection(registry, docs, [selection])
    except NotSelected:
        return None


@cli.command("diff")
@click.argument("sides", nargs=-1, metavar="A [B]")
@click.option("--repo", "repo_dir", type=click.Path(path_type=Path), default=None,
              help="Read A and B as refs (commits, tags, branches) of this backup repository.")
@connection_options
@click.option("--state", "state_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="State file of the import into the live instance, to map its entity ids back to A's "
                   "(default: beside the tree or repository, if there).")
@click.option("--map-database", "map_database", multiple=True, metavar="SRC=DST",
              help="B's database DST stands for A's database SRC (as `import --map-database` used it); the import "
                   "state's mappings apply by themselves.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per changed object (address, kind, name, change, details).")
@click.option("--exit-code", "exit_code", is_flag=True, help="Exit 4 when there are differences, 0 when there are none.")
@click.option("--select", "selections", multiple=True, metavar="KIND:NAME",
              help="Only these objects (repeatable; KIND:NAME, entity id or address; a collection takes its contents).")
def diff_cmd(sides, repo_dir, url, api_key, username, password, session_token, concurrency, insecure, state_path,
             map_database, as_json, exit_code, selections):
    """What changed between two snapshots, two trees, or a snapshot and a live instance (--url: drift).

    A and B are tree folders or REPO@REF (or refs with --repo). With one side and --url, the live instance
    is B; with --repo and one ref, B is the repository's working tree (the latest backup); a folder or
    REPO@REF alone is compared with the instance of METABASE_SITE_URL.

    An instance A was imported, restored or migrated into gives every object a new entity id. To compare
    such an instance with A, its entity ids are mapped back to A's through the import's state: --state
    FILE, else the state `import` and `restore` keep by default for that URL if it exists (TREE.mbport-state/
    beside a tree folder; REPO.mbport-state/ for REPO@REF, a ref with --repo, or the repository's working
    tree). `migrate` keeps its state in the user's data folder: pass the path it printed with --state.
    """
    from .cli import database_mapping
    from .diff import diff_docs
    from .relabel import entity_id_map, name_map, relabel, relabel_names

    registry = _registry()
    if not sides or len(sides) > 2:
        raise UsageError("diff takes one or two sides (A [B])", hint="e.g. mbport diff --repo backups HEAD~1 HEAD")
    instance = click.get_current_context().meta.get("mbport.instance")  # --instance NAME names the live side too
    if len(sides) == 2 and (url or instance):
        raise UsageError("give two sides, or one side and --url, not both")
    if len(sides) == 1 and not url and not instance and repo_dir is None:
        url = os.environ.get(ENV_URL)  # one snapshot or folder alone: compare it with the live instance
        if not url:
            raise UsageError("one side given: add --url (or METABASE_SITE_URL) to compare with a live instance, "
                             "or a second side")
    live = len(sides) == 1 and bool(url or instance)
    if state_path is not None and not live:
        raise UsageError("--state maps a live instance's entity ids: it needs one side and --url",
                         hint="two trees or snapshots are compared as they are")
    explicit = database_mapping(map_database, None)  # a malformed SRC=DST is a usage error before any work
    state, renames, config_instance = None, {}, None
    with contextlib.ExitStack() as stack:
        old_label, old, home = stack.enter_context(_side(sides[0], repo_dir, registry))
        if len(sides) == 2:
            new_label, new, _ = stack.enter_context(_side(sides[1], repo_dir, registry))
        elif live:
            api = stack.enter_context(make_client(url, api_key, username, password, session_token, concurrency, insecure))
            config_instance = getattr(api, "instance", None)  # mbport.toml's map_database for this instance
            state = _diff_state(state_path, home, api.url)  # before the export: a wrong file fails at once
            personal = any(isinstance(doc, dict) and doc.get("personal_owner") for doc in old.values())
            new_label, new, index = stack.enter_context(_live(api, registry, personal))
            if state is not None:
                new = relabel(new, entity_id_map(state.ids, index), registry)
                old = relabel(old, {}, registry)  # set-like lists in the same order on both sides
                renames = name_map(state.ids, index)  # databases the import matched by --map-database
        else:
            new_label, new, _ = stack.enter_context(_side(str(repo_dir), None, registry))
        mapping = {**(config_instance.map_database if config_instance else {}), **explicit}
        renames.update({dst: src for src, dst in mapping.items()})
        if renames:
            new, mapped = relabel_names(new, renames)
            for addr in mapped & set(old):  # a mapped database is B's own: import never reconfigures it, nor does diff
                new[addr] = old[addr]
            new, old = relabel(new, {}, registry), relabel(old, {}, registry)  # set-like lists sorted by the new names
        changes = diff_docs(registry, old, new)
        if selections:
            chosen: set[str] = set()
            for sel in selections:  # a renamed or deleted object is found by the name either side gives it
                found = [_selected(registry, side, sel) for side in (old, new)]
                if found == [None, None]:
                    raise UsageError(f"--select {sel!r}: not found on either side")
                chosen |= set().union(*(f for f in found if f))
            changes = [c for c in changes if c.address in chosen]
    out = _out()
    for change in changes:
        if out.json:  # `mbport --json diff`: change events, then the summary
            out.event("change", address=change.address, kind=change.kind, action=change.change, name=change.name,
                      details=change.details)
        else:
            click.echo(change.as_json() if as_json else change.line())
    if not as_json and not out.json:
        if state is not None:
            click.echo(f"Entity ids of {new_label} mapped back with the import state {state.path}.", err=True)
        click.echo(f"{len(changes)} object(s) differ between {old_label} and {new_label}." if changes
                   else f"No differences between {old_label} and {new_label}.", err=True)
    out.result(old=old_label, new=new_label, differ=len(changes), state=str(state.path) if state else None)
    if exit_code and changes:
        sys.exit(PLAN_HAS_CHANGES)


# ---------------------------------------------------------------------------------------------------- migrate

def _side_client(side: str, url, api_key, username, password, session_token, concurrency, insecure):
    """One side of a migration. `--from prod` (no scheme) names an instance of mbport.toml: its URL, and its
    credentials unless flags or MBPORT_FROM_* / MBPORT_TO_* give some (flags beat environment beat the file)."""
    from .client import MetabaseClient

    config = load_config()
    instance = None
    if url and "://" not in url and url in config.instances:
        instance = config.instance(url)
        url = instance.url
        if not (api_key or session_token or username or password):
            creds = instance.credentials()
            api_key, username, password, session_token = (creds["api_key"], creds["username"], creds["password"],
                                                          creds["session_token"])
        insecure = insecure or instance.insecure
    elif url and "://" not in url:
        raise UsageError(f"--{side} {url!r}: neither a URL nor an instance of mbport.toml",
                         hint="give https://... or a name from [instances.NAME] in mbport.toml "
                              f"(known: {', '.join(sorted(config.instances)) or 'none'})")
    concurrency = concurrency or (instance.concurrency if instance else None) or config.concurrency or 8
    if not url:
        raise UsageError(f"--{side} URL is missing", hint=f"pass --{side} or set MBPORT_{side.upper()}_URL")
    if not (api_key or session_token or (username and password)):
        raise UsageError(f"no credentials for --{side} {url}",
                         hint=f"pass --{side}-api-key (or MBPORT_{side.upper()}_API_KEY), or --{side}-username and --{side}-password")
    if insecure:
        _out().warning(f"--{side}: TLS certificate verification is off (--insecure).")
    client = MetabaseClient(url, api_key=api_key, username=None if api_key or session_token else username,
                            password=None if api_key or session_token else password, session_token=session_token,
                            concurrency=concurrency, verify=not insecure)
    client.instance = instance  # the target's database mappings and secrets file apply
    client.on_retry = _out().retrying  # backoff waits show on the progress line
    return client


def _login(api, side: str) -> None:
    """Check the credentials of one side first, so an error names the instance it is about."""
    from .client import AuthError, ConnectionFailed

    try:
        api.get("/api/user/current")
    except (AuthError, ConnectionFailed) as exc:
        raise MbportError(f"--{side} {api.url}: {exc}", hint=exc.hint) from None


@cli.command()
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
def migrate(from_, from_api_key, from_username, from_password, from_session_token, to, to_api_key, to_username,
            to_password, to_session_token, dry_run, continue_on_error, concurrency, insecure, state_path, then_verify,
            verify_kinds, no_queries, include_personal, exclude_personal, **import_kwargs):
    """Copy every object from one Metabase to another: export, plan, apply; a second run applies only changes."""
    from .migrate import default_state_path, run_migrate

    source = _side_client("from", from_, from_api_key, from_username, from_password, from_session_token, concurrency, insecure)
    target = _side_client("to", to, to_api_key, to_username, to_password, to_session_token, concurrency, insecure)
    state = state_path or default_state_path(source.url, target.url)
    with source, target:
        _login(source, "from")
        _login(target, "to")

        def importer(tree_dir: Path):
            return _importer(target, tree_dir, state, continue_on_error=continue_on_error,
                             api_keys_file=Path(str(state) + ".new-api-keys.json"), **import_kwargs)

        def show(plan) -> None:
            _print_plan(plan)
            _problems(plan)

        registry = _registry()
        with _out().export_progress(len(registry.kinds), phase="migrate") as progress:
            result = run_migrate(source, registry, importer, dry_run=dry_run, on_plan=show, progress=progress,
                                 include_personal=not exclude_personal)
        verified = None
        if then_verify and not dry_run and not result.plan.problems:
            verified = run_verify_and_report(source, target, state, import_kwargs.get("map_database"), verify_kinds,
                                             no_queries, include_personal or not exclude_personal)
    out = _out()
    for warning in result.export_warnings:
        out.warning(warning)
    _say_personal(result.personal, exclude_personal, "the migration")
    out.result(source=source.url, target=target.url, state=str(state), counts=result.counts,
               personal_collections=result.personal[0], personal_objects=result.personal[1])
    if result.plan.problems:
        raise MbportError(f"{len(result.plan.problems)} problem(s) stop the migration; nothing was written",
                          hint="each problem above names the object and what it needs (e.g. --secrets, --map-database)")
    if result.applied is not None:
        out.line(f"State: {state} (the next run applies only what changed).")
        _report(result.applied)
    elif not dry_run:
        out.line("Nothing to do: the target already has everything.")
    if verified is not None and not verified.equal:
        sys.exit(PLAN_HAS_CHANGES)
    if result.export_warnings:
        sys.exit(WARNINGS)


# ---------------------------------------------------------------------------------------------------- demo

@cli.command()
@click.option("--dir", "directory", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Folder for the demo's backup repository and state (default: a new temporary folder).")
def demo(directory):
    """The main job on built-in emulators: back up, migrate, change a chart, diff, migrate again."""
    from .extras import require_emulator

    require_emulator("mbport demo")
    from .demo import run_demo

    out = _out()
    result = run_demo(directory, out.line)
    out.result(directory=str(result.directory), commits=result.commits, plans=result.plans, diff=result.diff,
               failed=sorted(result.failed), seconds=round(result.seconds, 2))
    if result.failed:
        for addr, error in sorted(result.failed.items()):
            out.note(f"Failed: {addr}: {error}")
        sys.exit(WARNINGS)


# ---------------------------------------------------------------------------------------------------- doctor

@cli.command()
@connection_options
def doctor(url, api_key, username, password, session_token, concurrency, insecure):
    """Check that mbport can work with a Metabase: reachability, TLS, login, admin rights, version, API key
    scope, permission graphs. One line per check, each failure with its fix; exit 1 if any check fails."""
    from . import doctor as checks_module

    out = _out()
    with make_client(url, api_key, username, password, session_token, concurrency, insecure) as api:
        api.retries = 1  # a diagnosis should answer quickly, not back off for a minute
        checks = checks_module.run(api, insecure=insecure)
        where = api.url
    for check in checks:
        out.line(check.line())
        out.event("check", **check.as_dict())
    failed = [c for c in checks if c.status == checks_module.FAIL]
    warned = [c for c in checks if c.status == checks_module.WARN]
    out.result(url=where, checks=len(checks), failed=[c.name for c in failed], warned=[c.name for c in warned])
    if failed:
        raise MbportError(f"{len(failed)} of {len(checks)} checks failed for {where}: "
                          + ", ".join(c.name for c in failed), hint="apply the fixes above, then run `mbport doctor` again")
    out.line(f"All checks passed for {where}." if not warned else f"Checks passed with {len(warned)} warning(s) for {where}.")
    if warned:
        sys.exit(WARNINGS)


# ---------------------------------------------------------------------------------------------------- graph

@cli.command()
@click.argument("tree_dir", type=click.Path(path_type=Path))
@click.option("--format", "fmt", type=click.Choice(["dot", "svg", "html"]), default="dot", show_default=True,
              help="dot: Graphviz text; svg: a picture (Graphviz if installed, else laid out by mbport); "
                   "html: one self-contained page to explore it.")
@click.option("--select", "selections", multiple=True, metavar="KIND:NAME",
              help="Only this object and what it depends on (collection:NAME takes its contents); repeatable.")
@click.option("--out", "out_file", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write to this file (default: stdout).")
def graph(tree_dir, fmt, selections, out_file):
    """The dependency graph of a tree: which dashboards use which cards, models, snippets, databases ..."""
    from .check import load_tree
    from .graph import dependency_graph, render
    from .selection import resolve_selection

    out = _out()
    registry = _registry()
    tree = load_tree(tree_dir, registry)
    if not tree.docs:
        raise MbportError(f"{tree_dir}: no objects in this tree", hint=f"export one first: mbport export --out {tree_dir}")
    for problem in tree.problems:
        out.warning(problem)
    roots = resolve_selection(registry, tree.docs, selections) if selections else None
    dependencies = dependency_graph(registry, tree.docs, roots)
    text = render(dependencies, fmt, title=f"mbport: {tree_dir}")
    out.result(tree=str(tree_dir), format=fmt, nodes=dependencies.number_of_nodes(),
               edges=dependencies.number_of_edges(), out=str(out_file) if out_file else None)
    if out_file is not None:
        out_file.write_text(text, encoding="utf-8")
        out.note(f"Wrote {fmt} of {dependencies.number_of_nodes()} objects and {dependencies.number_of_edges()} "
                 f"dependencies to {out_file}.")
    elif out.json:  # stdout carries events: the graph goes into the summary
        out.result(nodes=[{"address": n, **d} for n, d in dependencies.nodes(data=True)],
                   edges=[{"from": a, "to": b, **d} for a, b, d in dependencies.edges(data=True)])
    else:
        click.echo(text, nl=False)
    if tree.problems:
        sys.exit(WARNINGS)


# ---------------------------------------------------------------------------------------------------- verify

@cli.command()
@side_options("from")
@side_options("to")
@click.option("--state", "state_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="State of the migration/import into the target, to pair objects exactly (default: the state "
                   "`migrate` keeps for this pair, if there).")
@click.option("--map-database", "map_database", multiple=True, metavar="SRC=DST",
              help="Source database SRC is database DST on the target (by name).")
@verify_options
@click.option("--json", "as_json", is_flag=True,
              help="JSON lines: one `difference` event per difference, then the summary (as `mbport --json verify`).")
@click.option("--exit-code", "exit_code", is_flag=True, help="Exit 4 when anything differs, 0 when nothing does.")
@click.option("--concurrency", default=None, type=click.IntRange(1, 64),
              help="Requests in flight at once per instance (default: mbport.toml's, else 8).")
@click.option("--insecure", is_flag=True, help="Do not verify TLS certificates (warns).")
def verify(from_, from_api_key, from_username, from_password, from_session_token, to, to_api_key, to_username,
           to_password, to_session_token, state_path, map_database, verify_kinds, no_queries, include_personal,
           as_json, exit_code, concurrency, insecure):
    """Prove a migration or restore: compare every object, and every question's rows, on two live instances.

    Reads both instances (never a tree), pairs their objects through the state of the migration or import
    (--state; else natural keys: names, emails, collections), and compares every field the server returns,
    with ids replaced by what they point at. Then runs every card's and dashcard's query on both sides and
    compares columns, row counts and rows."""
    from .migrate import default_state_path

    source = _side_client("from", from_, from_api_key, from_username, from_password, from_session_token, concurrency, insecure)
    target = _side_client("to", to, to_api_key, to_username, to_password, to_session_token, concurrency, insecure)
    with source, target:
        _login(source, "from")
        _login(target, "to")
        result = run_verify_and_report(source, target, state_path or default_state_path(source.url, target.url),
                                       map_database, verify_kinds, no_queries, include_personal, as_json,
                                       state_required=state_path is not None)
    if exit_code and not result.equal:
        sys.exit(PLAN_HAS_CHANGES)
