"""The `mbport` command line: the root group, the commands (one module per family) and `main`, which maps
errors to one line and an exit code. Layers: options (flags → clients, ImportOptions), rendering (what is shown),
the command modules; all of them call the library (mbport.importing, export, gitstore, verify ...)."""

from __future__ import annotations

import atexit
import contextlib
import os
import signal
import sys
import threading
from pathlib import Path
from typing import Any

import click

from .. import __version__
from .. import output as output_module
from ..errors import EXIT_CODES, INTERRUPTED, MbportError
from ..output import Output
from ..state import default_state_path
from .options import load_config, make_client
from .rendering import debug_logging, end_debug_logging, fail, out
from .tools import invoked_as

# Command name → (module of mbport.cli, function): a command's module (and what it imports: the importer, git,
# verify ...) is loaded only when that command runs or help lists it (click's "lazily loading subcommands").
COMMANDS = {
    "export": ("export", "export"), "backup": ("export", "backup"), "log": ("export", "log_cmd"),
    "check": ("tree", "check"), "graph": ("tree", "graph"), "plugins": ("tree", "plugins_cmd"),
    "plan": ("imports", "plan"), "import": ("imports", "import_cmd"), "apply": ("imports", "import_cmd"),
    "restore": ("imports", "restore"), "migrate": ("imports", "migrate"), "diff": ("diff", "diff_cmd"),
    "verify": ("verify", "verify"), "demo": ("tools", "demo"), "doctor": ("tools", "doctor"),
    "emulator": ("tools", "emulator"),
}


class LazyGroup(click.Group):
    """The root group: each command imported when first asked for."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*COMMANDS, *self.commands})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands and cmd_name in COMMANDS:
            import importlib

            module, attr = COMMANDS[cmd_name]
            command = getattr(importlib.import_module(f"{__name__}.{module}"), attr)
            _output_flags_after_the_command(command)
            self.commands[cmd_name] = command
        return self.commands.get(cmd_name)

__all__ = ["cli", "default_state_path", "invoked_as", "load_config", "main", "make_client"]

EXIT_CODE_HELP = "Exit codes: " + "; ".join(f"{code} {text}" for code, text in EXIT_CODES.items()) + "."


@click.group(cls=LazyGroup, epilog=EXIT_CODE_HELP)
@click.version_option(__version__, prog_name="mbport")
@click.option("--debug", is_flag=True, help="Show tracebacks and HTTP exchanges (secrets redacted).")
@click.option("--json", "json_mode", is_flag=True,
              help="JSON lines on stdout: one event per line (progress, change, warning, error), then a summary.")
@click.option("-q", "--quiet", is_flag=True, help="No progress display (it is drawn only on a terminal anyway).")
@click.option("--config", "config_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              envvar="MBPORT_CONFIG", help="mbport.toml naming instances (default: ./mbport.toml if present).")
@click.pass_context
def cli(ctx: click.Context, debug: bool, json_mode: bool, quiet: bool, config_path: Path | None) -> None:
    """Metabase content as code: export, import, back up and migrate a whole instance."""
    ctx.ensure_object(dict)
    ctx.obj["debug"] = debug
    ctx.obj["config_path"] = config_path
    # How this run makes clients from connection flags: looked up here, at run time, so that replacing
    # `mbport.cli.make_client` (tests reach an in-process emulator that way) reaches every command.
    ctx.obj["make_client"] = make_client
    current = Output(json_mode=json_mode, quiet=quiet)
    current.command = ctx.invoked_subcommand
    ctx.obj["output"] = current
    output_module.set_current(current)
    if debug:
        debug_logging()


def _late_output_flag(ctx: click.Context, param: click.Parameter, value: bool) -> None:
    if value:
        setattr(out(), "json" if "--json" in param.opts else "quiet", True)


def _output_flags_after_the_command(command: click.Command) -> None:
    """`mbport export ... -q --json` works like `mbport -q --json export ...`: every command also takes the
    group's output flags after its name (diff keeps its own --json: the older one object per line)."""
    if isinstance(command, click.Group):
        for sub in command.commands.values():
            _output_flags_after_the_command(sub)
        return
    taken = {opt for param in command.params for opt in param.opts}
    if "--json" not in taken:
        command.params.append(click.Option(["--json"], is_flag=True, expose_value=False,
                                           callback=_late_output_flag, help="Same as `mbport --json ...`."))
    if not {"-q", "--quiet"} & taken:
        command.params.append(click.Option(["-q", "--quiet"], is_flag=True, expose_value=False,
                                           callback=_late_output_flag, help="Same as `mbport -q ...`."))


def main(argv: list[str] | None = None) -> None:
    """Entry point: user mistakes become one line on stderr and an exit code, never a traceback."""
    args = list(argv if argv is not None else sys.argv[1:])
    debug = "--debug" in args
    output_module.set_current(None)  # the group makes this run's Output; until then a plain one
    end_debug_logging()
    code = 0
    previous = _stop_on_sigterm()
    try:
        cli.main(args=args, prog_name="mbport", standalone_mode=False)
    except SystemExit as exc:  # a command's own exit code (3 warnings, 4 changes ...)
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except (click.exceptions.Abort, KeyboardInterrupt):
        code = fail("Interrupted.", None, INTERRUPTED, _json_run(args), prefix="")
    except click.ClickException as exc:
        if _json_run(args):
            code = fail(exc.format_message(), None, exc.exit_code, True)
        else:
            exc.show()
            code = exc.exit_code
    except MbportError as exc:
        if debug:
            _traceback()
        code = fail(str(exc), exc.hint, exc.exit_code, _json_run(args))
    except Exception as exc:  # a bug or an answer nobody expected: still one line, unless --debug
        from ..client import redact

        if debug:
            _traceback()
        code = fail(f"unexpected {type(exc).__name__}: {redact(exc)}",
                    "run with --debug for the traceback, and please report it", 1, _json_run(args))
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
    if _json_run(args):
        out().json = True
        out().summary(code)
    sys.exit(code)


def _stop_on_sigterm() -> Any:
    """SIGTERM (systemd stopping the unit, Kubernetes, a cancelled CI job) stops a run the way Ctrl-C does: an import
    says how many writes it made and that running it again resumes, a backup releases its lock, exit 130. Returns
    the handler it replaced (None when this is not the main thread, which alone may set one)."""
    def interrupt(_signum: int, _frame: Any) -> None:
        raise KeyboardInterrupt

    try:
        return signal.signal(signal.SIGTERM, interrupt)
    except ValueError:
        return None


def run() -> None:
    """The `mbport` program (the script and `python -m mbport`): `main`, then, with no other thread left running, the
    process ends once the exit handlers have run and the output is flushed, without the interpreter's teardown
    (freeing every module and object one by one, then a last cycle collection: 20-40 ms of CPU after an export)."""
    try:
        main()
    except SystemExit as exc:
        running = [t for t in threading.enumerate() if t is not threading.main_thread() and not t.daemon and t.is_alive()]
        if not isinstance(exc.code, int) or running:
            raise
        atexit._run_exitfuncs()
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):  # a closed pipe: nothing more to say there
                stream.flush()
        os._exit(exc.code)


def _traceback() -> None:
    import traceback

    from ..client import redact

    click.echo(redact(traceback.format_exc()), err=True)


def _json_run(args: list[str]) -> bool:
    """--json was given (read from argv too when the error came before it was parsed), before or after the
    command name; except `diff --json`, diff's own flag (the older per-object lines)."""
    if out().json:
        return True
    command = None
    for arg in args:
        if command is None and arg in COMMANDS:
            command = arg
        elif arg == "--json" and command != "diff":
            return True
    return False
