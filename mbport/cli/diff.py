"""`mbport diff`: what changed between two snapshots, two trees, or a snapshot and a live instance (drift)."""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
from pathlib import Path

import click

from ..client import ENV_URL
from ..errors import PLAN_HAS_CHANGES, MbportError, UsageError
from ..state import default_state_path
from .options import connect, connection_options, database_mapping, loaded_plugins
from .rendering import out


@contextlib.contextmanager
def _side(spec: str, repo_dir: Path | None, registry):
    """A side of a diff as docs: a tree folder, REPO@REF, or (with --repo) a ref; yields (label, docs, home,
    manifest), home being the folder an import or restore of that side keeps its state beside (the tree, or the repository)."""
    from ..check import load_tree
    from ..gitstore import SnapshotRepo

    repo: Path | None = None
    ref = ""
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
        side = load_tree(path, registry)
        yield spec, _sound_docs(side, spec), path, side.manifest
        return
    store = SnapshotRepo.open(repo)
    with tempfile.TemporaryDirectory(prefix="mbport-diff-") as tmp:
        commit = store.extract(ref, Path(tmp) / "tree")
        label = f"{repo}@{ref} ({commit.hexsha[:8]})"
        side = load_tree(Path(tmp) / "tree", registry)
        yield label, _sound_docs(side, label), repo, side.manifest


def _sound_docs(tree, label: str) -> dict:
    """The docs of a side whose every file loaded: a file that did not (cut-off JSON ...) would show as a removed
    or added object, so a broken side is an error, as in check, plan and import."""
    if tree.problems:
        for problem in tree.problems:
            out().note(problem)
        raise MbportError(f"{label}: {len(tree.problems)} problem(s) in the tree; nothing was compared",
                          hint="fix the files named above (`mbport check` lists every problem), or export again")
    return tree.docs


@contextlib.contextmanager
def _live(api, registry, include_personal: bool = False):
    """The live side of a diff, exported (with personal collections when the other side has them, as a backup
    does); yields (label, docs, index), index being (kind, id) → address."""
    from ..check import load_tree
    from ..export import run_export

    with tempfile.TemporaryDirectory(prefix="mbport-diff-live-") as tmp:
        with out().export_progress(len(registry.kinds), phase="diff") as progress:
            result = run_export(api, registry, Path(tmp) / "tree", progress=progress,
                                options={"include_personal": include_personal})
        for warning in result.warnings:
            out().warning(warning)
        yield api.url, load_tree(Path(tmp) / "tree", registry).docs, result.index


def _diff_state(state_path: Path | None, home: Path, url: str):
    """The import state that maps the live instance's entity ids back to the side's: --state, else the one
    `import`/`restore` keep by default beside `home` for this URL if there is one, else None."""
    from ..state import State

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
    from ..selection import NotSelected, resolve_selection

    try:
        return resolve_selection(registry, docs, [selection])
    except NotSelected:
        return None


@click.command("diff")
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
    from ..diff import diff_docs
    from ..relabel import entity_id_map, name_map, relabel, relabel_names, without_unwritable

    registry = loaded_plugins()
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
        old_label, old, home, manifest = stack.enter_context(_side(sides[0], repo_dir, registry))
        if len(sides) == 2:
            new_label, new, _, _ = stack.enter_context(_side(sides[1], repo_dir, registry))
        elif live:
            api = stack.enter_context(connect(url, api_key, username, password, session_token, concurrency, insecure))
            config_instance = getattr(api, "instance", None)  # mbport.toml's map_database for this instance
            state = _diff_state(state_path, home, api.url)  # before the export: a wrong file fails at once
            # the live side is exported as the tree was: an export without include_personal holds what shared
            # content took along from personal collections, not all of them (a tree older than the manifest's
            # record is guessed from its personal docs)
            personal = manifest.get("include_personal") if isinstance(manifest.get("include_personal"), bool) else \
                any(isinstance(doc, dict) and doc.get("personal_owner") for doc in old.values())
            new_label, new, index = stack.enter_context(_live(api, registry, personal))
            if state is not None:  # the instance the tree was imported into: unwritable fields are its own
                new = without_unwritable(relabel(new, entity_id_map(state.ids, index, old), registry), registry)
                old = without_unwritable(relabel(old, {}, registry), registry)  # set-like lists in the same order
                renames = name_map(state.ids, index)  # databases the import matched by --map-database
        else:
            new_label, new, _, _ = stack.enter_context(_side(str(repo_dir), None, registry))
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
    report = out()
    for change in changes:
        if report.json:  # `mbport --json diff`: change events, then the summary
            report.event("change", address=change.address, kind=change.kind, action=change.change, name=change.name,
                      details=change.details)
        else:
            click.echo(change.as_json() if as_json else change.line())
    if not as_json and not report.json:
        if state is not None:
            click.echo(f"Entity ids of {new_label} mapped back with the import state {state.path}.", err=True)
        click.echo(f"{len(changes)} object(s) differ between {old_label} and {new_label}." if changes
                   else f"No differences between {old_label} and {new_label}.", err=True)
    report.result(old=old_label, new=new_label, differ=len(changes), state=str(state.path) if state else None)
    if exit_code and changes:
        sys.exit(PLAN_HAS_CHANGES)


