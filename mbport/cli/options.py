"""Shared click options and what they resolve to: clients (flags, METABASE_* variables, mbport.toml), plugins,
and the ImportOptions of `import`, `plan`, `restore` and `migrate`."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from ..errors import MbportError, UsageError
from ..import_options import ImportOptions
from .rendering import out


def load_config():
    """mbport.toml (--config, MBPORT_CONFIG or ./mbport.toml), read once per run; an empty config if none."""
    from .. import config

    ctx = click.get_current_context(silent=True)
    obj = ctx.find_root().obj if ctx is not None and ctx.find_root().obj is not None else {}
    if "config" not in obj:
        obj["config"] = config.load(config.find(obj.get("config_path")))
    return obj["config"]


def loaded_plugins():
    """The loaded plugins; their load warnings are shown."""
    from ..registry import load_plugins

    loaded = load_plugins()
    for warning in loaded.warnings:
        out().warning(warning)
    return loaded


# ---------------------------------------------------------------------------------------------------- clients

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
    from ..client import ENV_API_KEY, ENV_PASSWORD, ENV_SESSION_TOKEN, ENV_URL, ENV_USERNAME, MetabaseClient

    ctx = click.get_current_context(silent=True)
    name = ctx.meta.get("mbport.instance") if ctx is not None else None
    config = load_config()
    instance = config.instance(name) if name else None
    from_file = None
    if instance is not None:
        url = url or os.environ.get(ENV_URL) or instance.url
        env_creds = any(os.environ.get(v) for v in (ENV_API_KEY, ENV_USERNAME, ENV_PASSWORD, ENV_SESSION_TOKEN))
        if not (api_key or username or password or session_token or env_creds):
            creds = instance.credentials()
            api_key, username, password, session_token = (creds["api_key"], creds["username"], creds["password"],
                                                          creds["session_token"])
            from_file = instance.credentials_from()
        insecure = insecure or instance.insecure
    concurrency = concurrency or (instance.concurrency if instance else None) or config.concurrency or 8
    if insecure:
        out().warning("TLS certificate verification is off (--insecure).")
    client = MetabaseClient.from_env(
        url, api_key=api_key, username=username, password=password, session_token=session_token,
        concurrency=concurrency, verify=not insecure,
    )
    client.instance = instance  # its database mappings and secrets file apply when importing into it
    client.credentials_from = from_file or client.credentials_from
    client.on_retry = out().retrying  # backoff waits show on the progress line
    return client


def connect(url, api_key, username, password, session_token, concurrency, insecure):
    """The client of a command's connection options, made by this run's client factory (the root group sets it:
    `mbport.cli.make_client`, which tests replace to reach an in-process emulator)."""
    ctx = click.get_current_context(silent=True)
    obj = ctx.find_root().obj if ctx is not None else None
    factory: Callable[..., Any] = (obj or {}).get("make_client", make_client)
    return factory(url, api_key, username, password, session_token, concurrency, insecure)


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


def side_client(side: str, url, api_key, username, password, session_token, concurrency, insecure):
    """One side of a migration. `--from prod` (no scheme) names an instance of mbport.toml: its URL, and its
    credentials unless flags or MBPORT_FROM_* / MBPORT_TO_* give some (flags beat environment beat the file)."""
    from ..client import MetabaseClient

    config = load_config()
    instance = from_file = None
    if url and "://" not in url and url in config.instances:
        instance = config.instance(url)
        url = instance.url
        if not (api_key or session_token or username or password):
            creds = instance.credentials()
            api_key, username, password, session_token = (creds["api_key"], creds["username"], creds["password"],
                                                          creds["session_token"])
            from_file = instance.credentials_from()
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
        out().warning(f"--{side}: TLS certificate verification is off (--insecure).")
    client = MetabaseClient(url, api_key=api_key, username=None if api_key or session_token else username,
                            password=None if api_key or session_token else password, session_token=session_token,
                            concurrency=concurrency, verify=not insecure)
    client.credentials_from = from_file or (
        _side_source(side, "api-key") if api_key else _side_source(side, "session-token") if session_token
        else f"{_side_source(side, 'username')} and {_side_source(side, 'password')}")
    client.instance = instance  # the target's database mappings and secrets file apply
    client.on_retry = out().retrying  # backoff waits show on the progress line
    return client


def _side_source(side: str, credential: str) -> str:
    """The flag or variable (`--from-api-key`, `MBPORT_FROM_API_KEY`) that gave one side's credential."""
    ctx = click.get_current_context(silent=True)
    dest = f"{side}_{credential.replace('-', '_')}"
    source = ctx.get_parameter_source(dest) if ctx is not None and dest in ctx.params else None
    if source is click.core.ParameterSource.ENVIRONMENT:
        return f"MBPORT_{side.upper()}_{credential.upper().replace('-', '_')}"
    return f"--{side}-{credential}"


def login(api, side: str) -> None:
    """Check the credentials of one side first, so an error names the instance it is about (refused credentials
    name it already, and the flag or variable that gave them)."""
    from ..client import AuthError, ConnectionFailed, CredentialsRefused

    try:
        api.get("/api/user/current")
    except CredentialsRefused:
        raise
    except (AuthError, ConnectionFailed) as exc:
        raise MbportError(f"--{side} {api.url}: {exc}", hint=exc.hint) from None


# ---------------------------------------------------------------------------------------------------- import

def import_options(fn):
    """TREE_DIR and the options of `mbport import` and `plan`."""
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


def database_mapping(map_database, instance=None) -> dict[str, str]:
    """Source database name → target database name: the instance's `map_database`, then --map-database SRC=DST."""
    mapping = dict(instance.map_database) if instance else {}
    for item in map_database or ():
        src, sep, dst = item.partition("=")
        if not sep or not src or not dst:
            raise UsageError(f"--map-database {item!r}: expected SRC=DST (database names)")
        mapping[src] = dst
    return mapping


def import_settings(api, tree, state_path: Path | None, map_database=(), secrets_file: Path | None = None,
                    prune: bool = False, with_api_keys: bool = False, selections=(), only: bool = False,
                    skip_unsupported: bool = False, keep_database_settings: bool = False,
                    continue_on_error: bool = False, api_keys_file: Path | None = None) -> ImportOptions:
    """The ImportOptions the flags of an import into `api` say, with its mbport.toml instance's database mappings
    (those of databases `tree` has: an instance's list may name others; None: no tree yet, none of them) and
    secrets file."""
    from ..refs import address_kind
    from ..secrets import Secrets

    instance = getattr(api, "instance", None)  # --instance / --to NAME of mbport.toml
    docs = tree.docs if tree is not None else {}
    databases = {doc.get("name") for addr, doc in docs.items() if address_kind(addr) == "databases"}
    mapping = {src: dst for src, dst in database_mapping((), instance).items() if src in databases}
    mapping.update(database_mapping(map_database))
    return ImportOptions(
        prune=prune, select=tuple(selections), only=only, map_database=mapping,
        keep_database_settings=keep_database_settings, skip_unsupported=skip_unsupported,
        secrets=Secrets.from_file(secrets_file or (instance.secrets_file if instance else None)),
        with_api_keys=with_api_keys, api_keys_file=api_keys_file, state=state_path,
        continue_on_error=continue_on_error)
