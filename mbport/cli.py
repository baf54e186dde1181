"""The `mbport` command line: click commands that call the engine and map errors to exit codes."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from . import __version__
from .errors import EXIT_CODES, INTERRUPTED, MbportError

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
