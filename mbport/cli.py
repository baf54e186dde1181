"""The `mbport` command line: click commands that call the engine and map errors to exit codes."""

from __future__ import annotations

import sys

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
