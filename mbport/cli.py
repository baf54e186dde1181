"""The `mbport` command line: click commands that call the engine and map errors to exit codes."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from . import __version__
from . import output as output_module
from .errors import EXIT_CODES, INTERRUPTED, PLAN_HAS_CHANGES, MbportError, UsageError
from .output import Output, Tracked

EXIT_CODE_HELP = "Exit codes: " + "; ".join(f"{code} {text}" for code, text in EXIT_CODES.items()) + "."


@click.group(epilog=EXIT_CODE_HELP)
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
    out = Output(json_mode=json_mode, quiet=quiet)
    out.command = ctx.invoked_subcommand
    ctx.obj["output"] = out
    output_module.set_current(out)
    if debug:
        _debug_logging()


def _out() -> Output:
    return output_module.current()


def load_config():
    """mbport.toml (--config, MBPORT_CONFIG or ./mbport.toml), read once per run; an empty config if none."""
    from . import config

    ctx = click.get_current_context(silent=True)
    obj = ctx.find_root().obj if ctx is not None and ctx.find_root().obj is not None else {}
    if "config" not in obj:
        obj["config"] = config.load(config.find(obj.get("config_path")))
    return obj["config"]


class _RedactingFilter:
    """Every log record, ours and the HTTP libraries', passes through `redact` before it is written."""

    def filter(self, record) -> bool:
        from .client import redact

        record.msg, record.args = redact(record.getMessage()), None
        return True


def _end_debug_logging() -> None:
    """Remove the --debug handler of an earlier run in this process: a run without --debug logs nothing."""
    import logging

    root = logging.getLogger()
    for handler in [h for h in root.handlers if getattr(h, "mbport_debug", False)]:
        root.removeHandler(handler)
        root.setLevel(logging.WARNING)


def _debug_logging() -> None:
    import logging

    root = logging.getLogger()
    _end_debug_logging()  # one handler at a time (tests run the CLI many times in one process)
    class StderrHandler(logging.StreamHandler):
        """Writes to whatever sys.stderr is now (tests swap it per run; a stream kept from the first run is closed)."""

        @property
        def stream(self):
            return sys.stderr

        @stream.setter
        def stream(self, _value) -> None:
            pass

    handler = StderrHandler()
    handler.mbport_debug = True
    handler.addFilter(_RedactingFilter())
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    # The client's own DEBUG records are the HTTP exchange; httpcore's socket-level chatter only hides them.
    for noisy in ("httpcore", "hpack"):
        logging.getLogger(noisy).setLevel(logging.INFO)


def connection_options(fn):
    """--url and credentials; flags beat METABASE_* environment variables. Secrets are never echoed."""
    options = [
        click.option("--url", default=None, help="Metabase URL (or METABASE_SITE_URL)."),
        click.option("--api-key", default=None, help="API key (or METABASE_API_KEY)."),
        click.option("--username", default=None, help="Login email (or METABASE_USERNAME)."),
        click.option("--password", default=None, help="Password (or METABASE_PASSWORD)."),
        click.option("--session-token", default=None, help="An existing session (or METABASE_SESSION_TOKEN)."),
        click.option("--concurrency", default=None, type=click.IntRange(1, 64),
                     help="Requests in flight at once (default: mbport.toml's, else 8)."),
        click.option("--insecure", is_flag=True, help="Do not verify TLS certificates (warns)."),
        click.option("--instance", expose_value=False, default=None, callback=_remember_instance, is_eager=True,
                     metavar="NAME", help="A Metabase named in mbport.toml (flags and METABASE_* variables still win)."),
    ]
    for option in reversed(options):
        fn = option(fn)
    return fn


def _remember_instance(ctx: click.Context, _param, value: str | None) -> str | None:
    ctx.meta["mbport.instance"] = value
    return value


def make_client(url, api_key, username, password, session_token, concurrency, insecure):
    """A client from flags, then METABASE_* variables, then the --instance of mbport.toml (in that order)."""
    import os

    from .client import ENV_API_KEY, ENV_PASSWORD, ENV_SESSION_TOKEN, ENV_URL, ENV_USERNAME, MetabaseClient

    ctx = click.get_current_context(silent=True)
    name = ctx.meta.get("mbport.instance") if ctx is not None else None
    config = load_config()
    instance = config.instance(name) if name else None
    if instance is not None:
        url = url or os.environ.get(ENV_URL) or instance.url
        env_creds = any(os.environ.get(v) for v in (ENV_API_KEY, ENV_USERNAME, ENV_PASSWORD, ENV_SESSION_TOKEN))
        if not (api_key or username or password or session_token or env_creds):
            creds = instance.credentials()
            api_key, username, password, session_token = (creds["api_key"], creds["username"], creds["password"],
                                                          creds["session_token"])
        insecure = insecure or instance.insecure
    concurrency = concurrency or (instance.concurrency if instance else None) or config.concurrency or 8
    if insecure:
        _out().warning("TLS certificate verification is off (--insecure).")
    client = MetabaseClient.from_env(
        url, api_key=api_key, username=username, password=password, session_token=session_token,
        concurrency=concurrency, verify=not insecure,
    )
    client.instance = instance  # its database mappings and secrets file apply when importing into it
    client.on_retry = _out().retrying  # backoff waits show on the progress line
    return client


@cli.command()
@connection_options
@click.option("--out", "out", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Folder to write the tree into (empty, or an earlier export).")
@click.option("--kinds", default=None, help="Comma-separated kinds to export (default: all).")
@click.option("--select", "selections", multiple=True,
              help="KIND:NAME to export one object (collection:NAME takes its contents) and what it depends on.")
@click.option("--include-personal", is_flag=True, help="Also export personal collections and their contents.")
@click.option("--no-cache", "no_cache", is_flag=True,
              help="Fetch every object again instead of reusing unchanged ones from <out>.mbport-cache.")
def export(url, api_key, username, password, session_token, concurrency, insecure, out, kinds, selections,
           include_personal, no_cache) -> None:
    """Export a whole instance into a deterministic JSON tree."""
    from .export import run_export
    from .selection import resolve_selection

    registry = _registry()
    report = _out()
    names = [k.strip() for k in kinds.split(",") if k.strip()] if kinds else None
    with make_client(url, api_key, username, password, session_token, concurrency, insecure) as api:
        selection = (lambda docs: resolve_selection(registry, docs, selections)) if selections else None
        with report.export_progress(len(registry.kinds)) as progress:
            result = run_export(api, registry, out, kinds=names, selection=selection,
                                options={"include_personal": include_personal}, progress=progress,
                                cache=not no_cache)
    for warning in result.warnings:
        report.warning(warning)
    if result.selected_extra:
        report.note(f"Pulled in {len(result.selected_extra)} dependencies of the selection: "
                    + ", ".join(result.selected_extra[:10]) + (" ..." if len(result.selected_extra) > 10 else ""))
    counts = ", ".join(f"{k} {n}" for k, n in sorted(result.counts.items()))
    report.line(f"Exported {sum(result.counts.values())} objects to {out} ({counts}); {result.requests} requests.")
    report.result(out=str(out), objects=sum(result.counts.values()), counts=dict(sorted(result.counts.items())),
                  requests=result.requests, selected_extra=result.selected_extra, metabase=result.source_version)
    _exit(result.exit_code)


@cli.command()
@click.argument("tree_dir", type=click.Path(path_type=Path))
def check(tree_dir: Path) -> None:
    """Validate a tree offline: JSON, kinds, format version, refs, cycles."""
    from .check import check as run_check

    report = _out()
    problems = run_check(tree_dir, _registry())
    for problem in problems:
        report.line(problem)
        report.event("error", message=problem, hint=None, exit_code=None)
    report.result(tree=str(tree_dir), problems=len(problems))
    if problems:
        raise MbportError(f"{tree_dir}: {len(problems)} problem(s) found", hint="fix the files named above, or export again")
    report.line(f"{tree_dir}: OK")


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
        click.option("--select", "selections", multiple=True, metavar="KIND:NAME",
                     help="Import only this object (repeatable; KIND:NAME, an entity id or a tree path; a collection "
                          "takes its contents) and what it needs that the target lacks or holds differently."),
        click.option("--only", is_flag=True,
                     help="With --select: not even what the selection needs (stops when the target lacks it)."),
        click.option("--skip-unsupported", "skip_unsupported", is_flag=True,
                     help="Leave out what the target cannot hold (a kind its version or edition lacks, actions on a "
                          "database whose driver has none) and what depends on it; report it (exit 3) instead of "
                          "stopping at plan."),
        click.option("--keep-database-settings", "keep_database_settings", is_flag=True,
                     help="Never change the settings of a --map-database target (by default the settings the tree's "
                          "content needs there, e.g. model actions, are turned on); a missing one stops at plan."),
    ]
    for option in reversed(options):
        fn = option(fn)
    return fn


def _importer(api, tree_dir, state_path, map_database, secrets_file, prune, with_api_keys, selections=(), only=False,
              **extra):
    """An Importer for TREE_DIR into `api` with the import options; usage errors (a --map-database naming no
    database of the tree) before any request."""
    from .check import check_refs, load_tree
    from .engine import Importer
    from .refs import address_kind
    from .secrets import Secrets
    from .selection import resolve_selection
    from .state import State

    registry = _registry()
    tree = load_tree(tree_dir, registry)
    problems = tree.problems + check_refs(tree, registry)
    if problems:
        for problem in problems:
            _out().note(problem)
        raise MbportError(f"{tree_dir}: {len(problems)} problem(s) in the tree; nothing was written",
                          hint=f"run `mbport check {tree_dir}`")
    instance = getattr(api, "instance", None)  # --instance / --to NAME of mbport.toml: its mappings and secrets
    mapping = database_mapping(map_database, instance)
    secrets_file = secrets_file or (instance.secrets_file if instance else None)
    databases = sorted(doc.get("name") for addr, doc in tree.docs.items() if address_kind(addr) == "databases")
    for item in map_database:
        src = item.partition("=")[0]
        if src not in databases:  # a typo would import the database under its own name instead
            raise UsageError(f"--map-database {item!r}: the tree has no database named {src!r}",
                             hint="its databases: " + (", ".join(repr(n) for n in databases) or "none"))
    if only and not selections:
        raise UsageError("--only needs --select (it imports the selected objects without what they need)")
    if prune and selections:
        raise UsageError("--prune archives what the whole tree no longer has: it cannot be combined with --select")
    selected = resolve_selection(registry, tree.docs, selections, tree.paths, "in the tree") if selections else None
    state = State.load(state_path or default_state_path(tree_dir, api.url), api.url)
    options = {"map_database": mapping, "secrets": Secrets.from_file(secrets_file), "prune": prune,
               "with_api_keys": with_api_keys, "api_keys_file": Path(str(tree_dir) + ".new-api-keys.json"),
               "select": selected, "only": only, **extra}
    return Tracked(Importer(api, registry, tree, state, options), _out())


def database_mapping(map_database, instance) -> dict[str, str]:
    """Source database name → target database name: the instance's `map_database`, then --map-database SRC=DST."""
    mapping = dict(instance.map_database) if instance else {}
    for item in map_database:
        src, sep, dst = item.partition("=")
        if not sep or not src or not dst:
            raise UsageError(f"--map-database {item!r}: expected SRC=DST (database names)")
        mapping[src] = dst
    return mapping


def default_state_path(tree_dir: Path, url: str) -> Path:
    from .tree import slugify

    return Path(str(tree_dir).rstrip("/") + ".mbport-state") / f"{slugify(url.split('://', 1)[-1])}.json"


def _print_plan(plan) -> None:
    _out().plan(plan)


def _problems(plan) -> None:
    """Problems that stop an import: `warning` events with --json (the error event follows), else stderr."""
    for problem in plan.problems:
        if _out().json:
            _out().warning(f"Problem: {problem}")
        else:
            _out().note(f"Problem: {problem}")


@cli.command()
@connection_options
@import_options
@click.option("--detailed-exitcode", is_flag=True, help="Exit 4 when the plan has changes, 0 when it has none.")
def plan(url, api_key, username, password, session_token, concurrency, insecure, tree_dir, state_path, map_database,
         secrets_file, prune, with_api_keys, selections, only, skip_unsupported, keep_database_settings,
         detailed_exitcode) -> None:
    """Show what an import would change on the target; writes nothing."""
    with make_client(url, api_key, username, password, session_token, concurrency, insecure) as api:
        importer = _importer(api, tree_dir, state_path, map_database, secrets_file, prune, with_api_keys, selections,
                             only, skip_unsupported=skip_unsupported, keep_database_settings=keep_database_settings)
        result = importer.plan()
    _print_plan(result)
    _problems(result)
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
               map_database, secrets_file, prune, with_api_keys, selections, only, skip_unsupported,
               keep_database_settings, dry_run, continue_on_error) -> None:
    """Apply a tree to a Metabase: create, update (and with --prune archive) in dependency order."""
    with make_client(url, api_key, username, password, session_token, concurrency, insecure) as api:
        importer = _importer(api, tree_dir, state_path, map_database, secrets_file, prune, with_api_keys, selections,
                             only, continue_on_error=continue_on_error, skip_unsupported=skip_unsupported,
                             keep_database_settings=keep_database_settings)
        from .commands import _apply

        _apply(importer, dry_run)


cli.add_command(import_cmd, "apply")


@cli.command("plugins")
def plugins_cmd() -> None:
    """List the loaded plugins (kind, distribution, version)."""
    registry = _registry()
    rows = []
    for name in sorted(registry.kinds):
        info = registry.info.get(name)
        rows.append({"kind": name, "distribution": info.distribution if info else None,
                     "version": info.version if info else None})
        _out().line(f"{name}\t{info.distribution if info else '?'}\t{info.version if info else '?'}")
    _out().result(plugins=rows)


def _registry():
    from .registry import load_plugins

    registry = load_plugins()
    for warning in registry.warnings:
        _out().warning(warning)
    return registry


def _progress(kind: str, done: int, total: int) -> None:
    """A bare export progress callback (commands use `Output.export_progress`, which also draws a bar)."""
    if sys.stderr.isatty() and not _out().quiet:
        click.echo(f"  read {kind}: {total}", err=True)


def _exit(code: int) -> None:
    if code:
        sys.exit(code)


@cli.group()
def emulator() -> None:
    """The built-in Metabase API emulator (for tests, demos and trying migrations safely)."""
    from .extras import require_emulator

    require_emulator("mbport emulator")


@emulator.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=3000, show_default=True, type=click.IntRange(0, 65535))
@click.option("--profile", default=None, help="Metabase version to imitate (0.56, 0.61, 0.63).")
@click.option("--seed", default=None, help="Load a seed instance: a built-in name or a seed file.")
@click.option("--admin-email", default="admin@example.com", show_default=True)
@click.option("--admin-password", default=None, help="Set up the instance with this admin password.")
@click.option("--api-key", default=None, help="Accept this API key (mb_...) as an admin key.")
@click.option("--fault-rate", default=0.0, type=click.FloatRange(0.0, 1.0),
              help="Fail this share of requests (500/502/503/429, slow, dropped connections, 409 on graphs).")
@click.option("--fault-seed", default=0, type=int, help="Seed of the fault choices (same seed, same faults).")
@click.option("--fault-kinds", default=None, help="Comma-separated fault kinds (default: all; see faults.py).")
@click.option("--latency-ms", default=0.0, type=click.FloatRange(0.0), help="Answer every request this much later.")
@click.option("--max-concurrent", default=None, type=click.IntRange(1),
              help="Serve at most this many requests at once, the rest wait (like Metabase's thread pool).")
@click.option("--premium-features", default=None, metavar="LIST",
              help="Imitate an Enterprise build with a token that has these features (comma-separated: "
                   "advanced_permissions, cache_granular_controls, official_collections, sandboxes; or 'all'). "
                   "Default: none (OSS).")
@click.option("--base-path", default="", metavar="PATH",
              help="Serve under this path, like a Metabase behind a proxy at https://example.com/metabase "
                   "(--base-path /metabase); other paths answer the proxy's 404.")
@click.option("--sqlite-actions", is_flag=True,
              help="Let SQLite databases hold model actions (Metabase's SQLite driver cannot; the emulator's "
                   "warehouses are SQLite). A --seed with actions turns it on itself.")
def emulator_serve(host, port, profile, seed, admin_email, admin_password, api_key, fault_rate, fault_seed,
                   fault_kinds, latency_ms, max_concurrent, premium_features, base_path, sqlite_actions) -> None:
    """Run the emulator as a real HTTP server until interrupted (Ctrl-C or SIGTERM)."""
    from .emulator import Emulator, bootstrap, premium, server
    from .emulator.profiles import PROFILES

    if profile and profile not in PROFILES:
        raise MbportError(f"--profile {profile!r} is not a known Metabase profile", hint=f"choose one of {', '.join(PROFILES)}")
    if api_key is not None and (not api_key.startswith("mb_") or not 12 <= len(api_key) <= 254):
        raise MbportError("--api-key must start with 'mb_' and be 12 to 254 characters long, like Metabase's keys")
    try:
        features = premium.parse(premium_features)
    except ValueError as exc:
        raise UsageError(f"--premium-features: {exc}") from None
    server.stop_on_sigterm()
    sock = server.bind(host, port)  # a busy port fails here, before any setup or announcement
    emu = Emulator(profile, max_concurrent=max_concurrent, premium_features=features, base_path=base_path,
                   sqlite_actions=sqlite_actions)
    password = None
    if admin_password or api_key or seed:
        password = admin_password or bootstrap.random_password()
        session = bootstrap.setup_admin(emu, admin_email, password)
        if api_key:
            bootstrap.add_api_key(emu, session, "mbport emulator", key=api_key)
        if seed:
            from .emulator import seeds

            seeds.load(emu, seed, session)
    emu.latency_ms = latency_ms
    if fault_rate:
        from .emulator.faults import ALL_KINDS, FaultPlan

        kinds = [k.strip() for k in fault_kinds.split(",") if k.strip()] if fault_kinds else list(ALL_KINDS)
        bad = [k for k in kinds if k not in ALL_KINDS]
        if bad:
            raise UsageError(f"--fault-kinds: unknown kind {bad[0]!r}", hint=f"choose from {', '.join(ALL_KINDS)}")
        emu.faults = FaultPlan(rate=fault_rate, seed=fault_seed, kinds=kinds)  # after setup and seeding
    bound = sock.getsockname()[1]  # --port 0: the port the system chose
    url = f"http://{host if ':' not in host else f'[{host}]'}:{bound}{emu.base_path}"
    click.echo(f"Metabase emulator ({emu.state.profile.tag}, {premium.describe(emu.state)}) listening on {url}",
               err=True)
    for line in _serve_credentials(admin_email, password, admin_password is not None, api_key):
        click.echo(f"  {line}", err=True)
    server.serve(emu, sock=sock)


def _serve_credentials(email: str, password: str | None, password_given: bool, api_key: str | None) -> list[str]:
    """How to sign in to a served emulator: a password it made up is printed (nobody could log in otherwise);
    one given on the command line is not echoed back."""
    if password is None:
        return ["not set up yet: finish Metabase's setup (POST /api/setup), or start it with --seed sample, "
                "--admin-password P or --api-key mb_..."]
    lines = [f"sign in: {email} / " + ("the --admin-password given" if password_given else
                                       f"{password}  (made up for this run; choose one with --admin-password)")]
    lines.append("API key: the --api-key given (header x-api-key)" if api_key else
                 "API key: none (accept one with --api-key mb_...)")
    return lines


from . import commands  # noqa: E402,F401  registers backup, log, restore, diff, migrate, demo


def _late_output_flag(ctx: click.Context, param: click.Parameter, value: bool) -> None:
    if value:
        setattr(_out(), "json" if "--json" in param.opts else "quiet", True)


def _output_flags_after_the_command(group: click.Group) -> None:
    """`mbport export ... -q --json` works like `mbport -q --json export ...`: every command also takes the
    group's output flags after its name (diff keeps its own --json: the older one object per line)."""
    for command in group.commands.values():
        if isinstance(command, click.Group):
            _output_flags_after_the_command(command)
            continue
        taken = {opt for param in command.params for opt in param.opts}
        if "--json" not in taken:
            command.params.append(click.Option(["--json"], is_flag=True, expose_value=False,
                                               callback=_late_output_flag, help="Same as `mbport --json ...`."))
        if not {"-q", "--quiet"} & taken:
            command.params.append(click.Option(["-q", "--quiet"], is_flag=True, expose_value=False,
                                               callback=_late_output_flag, help="Same as `mbport -q ...`."))


_output_flags_after_the_command(cli)


def invoked_as() -> str:
    """How to run mbport again from the user's shell: `mbport` when PATH finds this one, else the path this run
    was started by (`.venv/bin/mbport` after the README's venv step), else `python -m mbport`."""
    import os
    import shlex
    import shutil

    script = sys.argv[0] if sys.argv else ""
    if Path(script).name == "mbport" and Path(script).is_file():
        on_path = shutil.which("mbport")
        if on_path and os.path.samefile(on_path, script):
            return "mbport"
        absolute = os.path.abspath(script)
        relative = os.path.relpath(absolute)
        return shlex.quote(relative if not relative.startswith("..") else absolute)
    return shlex.join([sys.executable, "-m", "mbport"])


def main(argv: list[str] | None = None) -> None:
    """Entry point: user mistakes become one line on stderr and an exit code, never a traceback."""
    args = list(argv if argv is not None else sys.argv[1:])
    debug = "--debug" in args
    output_module.set_current(None)  # the group makes this run's Output; until then a plain one
    _end_debug_logging()
    code = 0
    try:
        cli.main(args=args, prog_name="mbport", standalone_mode=False)
    except SystemExit as exc:  # a command's own exit code (3 warnings, 4 changes ...)
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except (click.exceptions.Abort, KeyboardInterrupt):
        code = _fail("Interrupted.", None, INTERRUPTED, args, prefix="")
    except click.ClickException as exc:
        if _json_run(args):
            code = _fail(exc.format_message(), None, exc.exit_code, args)
        else:
            exc.show()
            code = exc.exit_code
    except MbportError as exc:
        if debug:
            import traceback

            from .client import redact

            click.echo(redact(traceback.format_exc()), err=True)
        code = _fail(str(exc), exc.hint, exc.exit_code, args)
    except Exception as exc:  # a bug or an answer nobody expected: still one line, unless --debug
        from .client import redact

        if debug:
            import traceback

            click.echo(redact(traceback.format_exc()), err=True)
        code = _fail(f"unexpected {type(exc).__name__}: {redact(exc)}",
                     "run with --debug for the traceback, and please report it", 1, args)
    if _json_run(args):
        _out().json = True
        _out().summary(code)
    sys.exit(code)


def _json_run(args: list[str]) -> bool:
    """--json was given (read from argv too when the error came before it was parsed), before or after the
    command name; except `diff --json`, diff's own flag (the older per-object lines)."""
    if _out().json:
        return True
    command = None
    for arg in args:
        if command is None and arg in cli.commands:
            command = arg
        elif arg == "--json" and command != "diff":
            return True
    return False


def _fail(message: str, hint: str | None, code: int, args: list[str], prefix: str = "Error: ") -> int:
    """An error: one line on stderr (plus a hint line without --json), and an `error` event with --json."""
    from .client import redact

    # Messages can quote server answers and exceptions; whatever carried a secret is blanked here, once.
    message, hint = redact(message), (redact(hint) if hint else hint)
    click.echo(f"{prefix}{message}", err=True)
    if _json_run(args):
        _out().json = True
        _out().error(message, hint, code)
    elif hint:
        click.echo(f"Hint: {hint}", err=True)
    return code
