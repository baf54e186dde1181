"""The `mbport` command line: click commands that call the engine and map errors to exit codes."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from . import __version__
from .errors import EXIT_CODES, INTERRUPTED, PLAN_HAS_CHANGES, WARNINGS, MbportError, UsageError

EXIT_CODE_HELP = "Exit codes: " + "; ".join(f"{code} {text}" for code, text in EXIT_CODES.items()) + "."


@click.group(epilog=EXIT_CODE_HELP)
@click.version_option(__version__, prog_name="mbport")
@click.option("--debug", is_flag=True, help="Show tracebacks and HTTP exchanges (secrets redacted).")
@click.pass_context
def cli(ctx: click.Context, debug: bool) -> None:
    """Metabase content as code: export, import, back up and migrate a whole instance."""
    ctx.ensure_object(dict)
    ctx.obj["debug"] = debug


def connection_options(fn):
    """--url and credentials; flags beat METABASE_* environment variables. Secrets are never echoed."""
    options = [
        click.option("--url", default=None, help="Metabase URL (or METABASE_SITE_URL)."),
        click.option("--api-key", default=None, help="API key (or METABASE_API_KEY)."),
        click.option("--username", default=None, help="Login email (or METABASE_USERNAME)."),
        click.option("--password", default=None, help="Password (or METABASE_PASSWORD)."),
        click.option("--session-token", default=None, help="An existing session (or METABASE_SESSION_TOKEN)."),
        click.option("--concurrency", default=8, show_default=True, type=click.IntRange(1, 64),
                     help="Requests in flight at once."),
        click.option("--insecure", is_flag=True, help="Do not verify TLS certificates (warns)."),
    ]
    for option in reversed(options):
        fn = option(fn)
    return fn


def make_client(url, api_key, username, password, session_token, concurrency, insecure):
    from .client import MetabaseClient

    if insecure:
        click.echo("Warning: TLS certificate verification is off (--insecure).", err=True)
    return MetabaseClient.from_env(
        url, api_key=api_key, username=username, password=password, session_token=session_token,
        concurrency=concurrency, verify=not insecure,
    )


@cli.command()
@connection_options
@click.option("--out", "out", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Folder to write the tree into (empty, or an earlier export).")
@click.option("--kinds", default=None, help="Comma-separated kinds to export (default: all).")
@click.option("--select", "selections", multiple=True,
              help="KIND:NAME to export one object (collection:NAME takes its contents) and what it depends on.")
@click.option("--include-personal", is_flag=True, help="Also export personal collections and their contents.")
def export(url, api_key, username, password, session_token, concurrency, insecure, out, kinds, selections,
           include_personal) -> None:
    """Export a whole instance into a deterministic JSON tree."""
    from .export import run_export
    from .selection import resolve_selection

    registry = _registry()
    names = [k.strip() for k in kinds.split(",") if k.strip()] if kinds else None
    with make_client(url, api_key, username, password, session_token, concurrency, insecure) as api:
        selection = (lambda docs: resolve_selection(registry, docs, selections)) if selections else None
        result = run_export(api, registry, out, kinds=names, selection=selection,
                            options={"include_personal": include_personal}, progress=_progress)
    for warning in result.warnings:
        click.echo(f"Warning: {warning}", err=True)
    if result.selected_extra:
        click.echo(f"Pulled in {len(result.selected_extra)} dependencies of the selection: "
                   + ", ".join(result.selected_extra[:10]) + (" ..." if len(result.selected_extra) > 10 else ""), err=True)
    counts = ", ".join(f"{k} {n}" for k, n in sorted(result.counts.items()))
    click.echo(f"Exported {sum(result.counts.values())} objects to {out} ({counts}); {result.requests} requests.")
    _exit(result.exit_code)


@cli.command()
@click.argument("tree_dir", type=click.Path(path_type=Path))
def check(tree_dir: Path) -> None:
    """Validate a tree offline: JSON, kinds, format version, refs, cycles."""
    from .check import check as run_check

    problems = run_check(tree_dir, _registry())
    for problem in problems:
        click.echo(problem)
    if problems:
        raise MbportError(f"{tree_dir}: {len(problems)} problem(s) found")
    click.echo(f"{tree_dir}: OK")


def import_options(fn):
    options = [
        click.argument("tree_dir", type=click.Path(path_type=Path)),
        click.option("--state", "state_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
                     help="State file for this target (default: beside the tree)."),
        click.option("--map-database", "map_database", multiple=True, metavar="SRC=DST",
                     help="Import content of source database SRC onto target database DST (by name)."),
        click.option("--secrets", "secrets_file", type=click.Path(dir_okay=False, path_type=Path), default=None,
                     help="JSON file of secret name → value (owner-only permissions); else MBPORT_SECRET_* variables."),
        click.option("--prune", is_flag=True, help="Archive objects mbport created that the tree no longer has."),
        click.option("--with-api-keys", "with_api_keys", is_flag=True,
                     help="Recreate API keys; their new values go to a file only the owner can read."),
    ]
    for option in reversed(options):
        fn = option(fn)
    return fn


def _importer(api, tree_dir, state_path, map_database, secrets_file, prune, with_api_keys, **extra):
    from .check import check_refs, load_tree
    from .engine import Importer
    from .secrets import Secrets
    from .state import State

    registry = _registry()
    tree = load_tree(tree_dir, registry)
    problems = tree.problems + check_refs(tree, registry)
    if problems:
        for problem in problems:
            click.echo(problem, err=True)
        raise MbportError(f"{tree_dir}: {len(problems)} problem(s) in the tree; nothing was written",
                          hint=f"run `mbport check {tree_dir}`")
    mapping = {}
    for item in map_database:
        src, sep, dst = item.partition("=")
        if not sep or not src or not dst:
            raise UsageError(f"--map-database {item!r}: expected SRC=DST (database names)")
        mapping[src] = dst
    state = State.load(state_path or default_state_path(tree_dir, api.url), api.url)
    options = {"map_database": mapping, "secrets": Secrets.from_file(secrets_file), "prune": prune,
               "with_api_keys": with_api_keys, "api_keys_file": Path(str(tree_dir) + ".new-api-keys.json"), **extra}
    return Importer(api, registry, tree, state, options)


def default_state_path(tree_dir: Path, url: str) -> Path:
    from .tree import slugify

    return Path(str(tree_dir).rstrip("/") + ".mbport-state") / f"{slugify(url.split('://', 1)[-1])}.json"


def _print_plan(plan) -> None:
    for change in plan.changes:
        if change.action != "noop":
            click.echo(change.line())
    click.echo(plan.summary())


@cli.command()
@connection_options
@import_options
@click.option("--detailed-exitcode", is_flag=True, help="Exit 4 when the plan has changes, 0 when it has none.")
def plan(url, api_key, username, password, session_token, concurrency, insecure, tree_dir, state_path, map_database,
         secrets_file, prune, with_api_keys, detailed_exitcode) -> None:
    """Show what an import would change on the target; writes nothing."""
    with make_client(url, api_key, username, password, session_token, concurrency, insecure) as api:
        importer = _importer(api, tree_dir, state_path, map_database, secrets_file, prune, with_api_keys)
        result = importer.plan()
    _print_plan(result)
    for problem in result.problems:
        click.echo(f"Problem: {problem}", err=True)
    if result.problems:
        raise MbportError(f"{len(result.problems)} problem(s) would stop the import")
    if detailed_exitcode and result.has_changes:
        sys.exit(PLAN_HAS_CHANGES)


@cli.command("import")
@connection_options
@import_options
@click.option("--dry-run", is_flag=True, help="Only show the plan (same as `mbport plan`).")
@click.option("--continue-on-error", is_flag=True, help="Skip a failing object and what depends on it; exit 3.")
def import_cmd(url, api_key, username, password, session_token, concurrency, insecure, tree_dir, state_path,
               map_database, secrets_file, prune, with_api_keys, dry_run, continue_on_error) -> None:
    """Apply a tree to a Metabase: create, update (and with --prune archive) in dependency order."""
    with make_client(url, api_key, username, password, session_token, concurrency, insecure) as api:
        importer = _importer(api, tree_dir, state_path, map_database, secrets_file, prune, with_api_keys,
                             continue_on_error=continue_on_error)
        planned = importer.plan()
        _print_plan(planned)
        if dry_run:
            return
        result = importer.apply(planned)
    for addr, error in sorted(result.failed.items()):
        click.echo(f"Failed: {addr}: {error}", err=True)
    for addr in result.skipped:
        click.echo(f"Skipped (depends on a failure): {addr}", err=True)
    click.echo(f"Applied: {result.written} writes.")
    if result.failed or result.skipped:
        sys.exit(WARNINGS)


cli.add_command(import_cmd, "apply")


@cli.command("plugins")
def plugins_cmd() -> None:
    """List the loaded plugins (kind, distribution, version)."""
    registry = _registry()
    for name in sorted(registry.kinds):
        info = registry.info.get(name)
        click.echo(f"{name}\t{info.distribution if info else '?'}\t{info.version if info else '?'}")


def _registry():
    from .registry import load_plugins

    registry = load_plugins()
    for warning in registry.warnings:
        click.echo(f"Warning: {warning}", err=True)
    return registry


def _progress(kind: str, done: int, total: int) -> None:
    if sys.stderr.isatty():
        click.echo(f"  read {kind}: {total}", err=True)


def _exit(code: int) -> None:
    if code:
        sys.exit(code)


@cli.group()
def emulator() -> None:
    """The built-in Metabase API emulator (for tests, demos and trying migrations safely)."""


@emulator.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=3000, show_default=True, type=click.IntRange(0, 65535))
@click.option("--profile", default=None, help="Metabase version to imitate (0.56, 0.61, 0.63).")
@click.option("--seed", default=None, help="Load a seed instance: a built-in name or a seed file.")
@click.option("--admin-email", default="admin@example.com", show_default=True)
@click.option("--admin-password", default=None, help="Set up the instance with this admin password.")
@click.option("--api-key", default=None, help="Accept this API key (mb_...) as an admin key.")
def emulator_serve(host, port, profile, seed, admin_email, admin_password, api_key) -> None:
    """Run the emulator as a real HTTP server until interrupted."""
    from .emulator import Emulator, bootstrap, server
    from .emulator.profiles import PROFILES

    if profile and profile not in PROFILES:
        raise MbportError(f"--profile {profile!r} is not a known Metabase profile", hint=f"choose one of {', '.join(PROFILES)}")
    if api_key is not None and (not api_key.startswith("mb_") or not 12 <= len(api_key) <= 254):
        raise MbportError("--api-key must start with 'mb_' and be 12 to 254 characters long, like Metabase's keys")
    emu = Emulator(profile)
    if admin_password or api_key or seed:
        password = admin_password or bootstrap.random_password()
        session = bootstrap.setup_admin(emu, admin_email, password)
        if api_key:
            bootstrap.add_api_key(emu, session, "mbport emulator", key=api_key)
        if seed:
            from .emulator import seeds

            seeds.load(emu, seed, session)
    click.echo(f"Metabase emulator ({emu.state.profile.tag}) listening on http://{host}:{port}", err=True)
    server.serve(emu, host=host, port=port)


def main(argv: list[str] | None = None) -> None:
    """Entry point: user mistakes become one line on stderr and an exit code, never a traceback."""
    debug = "--debug" in (argv if argv is not None else sys.argv[1:])
    try:
        cli.main(args=argv, prog_name="mbport", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("Interrupted.", err=True)
        sys.exit(INTERRUPTED)
    except KeyboardInterrupt:
        click.echo("Interrupted.", err=True)
        sys.exit(INTERRUPTED)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except MbportError as exc:
        if debug:
            import traceback

            traceback.print_exc()
        click.echo(f"Error: {exc}", err=True)
        if exc.hint:
            click.echo(f"Hint: {exc.hint}", err=True)
        sys.exit(exc.exit_code)
    sys.exit(0)
