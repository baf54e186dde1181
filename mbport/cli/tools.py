"""The commands around the work: demo (the main job on built-in emulators), emulator serve, and doctor."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from ..errors import WARNINGS, MbportError, UsageError
from ..output import Tracked
from .options import connect, connection_options, loaded_plugins
from .rendering import out


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


@click.command()
@click.option("--dir", "directory", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Folder for the demo's backup repository and state (default: a new temporary folder).")
def demo(directory):
    """The main job on built-in emulators: back up, migrate, change a chart, diff, migrate again, verify."""
    from ..extras import require_emulator

    require_emulator("mbport demo")
    from ..demo import run_demo

    report = out()
    result = run_demo(directory, report.line, program=invoked_as(), registry=loaded_plugins(),
                      track=lambda run: Tracked(run, report))
    report.result(directory=str(result.directory), commits=result.commits, plans=result.plans, diff=result.diff,
                  failed=sorted(result.failed), differences=result.verified, seconds=round(result.seconds, 2))
    if result.failed or result.verified:
        for addr, error in sorted(result.failed.items()):
            report.note(f"Failed: {addr}: {error}")
        sys.exit(WARNINGS)


@click.command()
@connection_options
def doctor(url, api_key, username, password, session_token, concurrency, insecure):
    """Check that mbport can work with a Metabase: reachability, TLS, login, admin rights, version, API key
    scope, permission graphs. One line per check, each failure with its fix; exit 1 if any check fails."""
    from .. import doctor as checks_module

    report = out()
    with connect(url, api_key, username, password, session_token, concurrency, insecure) as api:
        api.retries = 1  # a diagnosis should answer quickly, not back off for a minute
        checks = checks_module.run(api, insecure=insecure)
        where = api.url
    for check in checks:
        report.line(check.line())
        report.event("check", **check.as_dict())
    failed = [c for c in checks if c.status == checks_module.FAIL]
    warned = [c for c in checks if c.status == checks_module.WARN]
    report.result(url=where, checks=len(checks), failed=[c.name for c in failed], warned=[c.name for c in warned])
    if failed:
        raise MbportError(f"{len(failed)} of {len(checks)} checks failed for {where}: "
                          + ", ".join(c.name for c in failed), hint="apply the fixes above, then run `mbport doctor` again")
    report.line(f"All checks passed for {where}." if not warned else f"Checks passed with {len(warned)} warning(s) for {where}.")
    if warned:
        sys.exit(WARNINGS)


@click.group()
def emulator() -> None:
    """The built-in Metabase API emulator (for tests, demos and trying migrations safely)."""
    from ..extras import require_emulator

    require_emulator("mbport emulator")


@emulator.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=3000, show_default=True, type=click.IntRange(0, 65535))
@click.option("--profile", default=None, help="Metabase version to imitate: 0.50, 0.54, 0.56, 0.57, 0.61, 0.62, 0.63, "
              "0.64, 0.65 (README: Supported Metabase versions).")
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
                   "advanced_permissions, ai_controls, cache_granular_controls, content_verification, library, "
                   "official_collections, sandboxes, tenants, transforms, transforms-basic, transforms-python, "
                   "whitelabel; or 'all'). Default: none (OSS).")
@click.option("--base-path", default="", metavar="PATH",
              help="Serve under this path, like a Metabase behind a proxy at https://example.com/metabase "
                   "(--base-path /metabase); other paths answer the proxy's 404.")
@click.option("--sqlite-actions", is_flag=True,
              help="Let SQLite databases hold model actions (Metabase's SQLite driver cannot; the emulator's "
                   "warehouses are SQLite). A --seed with actions turns it on itself.")
@click.option("--sqlite-transforms", is_flag=True,
              help="Let transforms write tables into SQLite databases (Metabase's SQLite driver cannot). A --seed "
                   "with transforms turns it on itself.")
def emulator_serve(host, port, profile, seed, admin_email, admin_password, api_key, fault_rate, fault_seed,
                   fault_kinds, latency_ms, max_concurrent, premium_features, base_path, sqlite_actions,
                   sqlite_transforms) -> None:
    """Run the emulator as a real HTTP server until interrupted (Ctrl-C or SIGTERM)."""
    from ..emulator import Emulator, bootstrap, premium, server
    from ..emulator.profiles import PROFILES

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
                   sqlite_actions=sqlite_actions, sqlite_transforms=sqlite_transforms)
    password = None
    if admin_password or api_key or seed:
        password = admin_password or bootstrap.random_password()
        session = bootstrap.setup_admin(emu, admin_email, password)
        if api_key:
            bootstrap.add_api_key(emu, session, "mbport emulator", key=api_key)
        if seed:
            from ..emulator import seeds

            seeds.load(emu, seed, session)
    emu.latency_ms = latency_ms
    if fault_rate:
        from ..emulator.faults import ALL_KINDS, FaultPlan

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
