"""`mbport verify`: compare two live instances object by object and row by row (also run by restore/migrate --verify)."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from ..errors import PLAN_HAS_CHANGES, UsageError
from .options import database_mapping, login, side_client, side_options, verify_options
from .rendering import out, report_verify


def _state_ids(path: Path | None, target_url: str, required: bool) -> tuple[dict | None, Path | None, dict[str, str]]:
    """The address → target id of an import/migrate state, if there is one at `path`, and the databases it matched
    with --map-database (source name → the target's)."""
    from ..refs import address_kind, split_address
    from ..state import State

    if path is None or not (path.exists() or path.with_name(path.name + ".journal").exists()):
        if required:
            raise UsageError(f"--state {path}: no such state file",
                             hint="give the state file `mbport migrate`, `import` or `restore` kept for this target")
        return None, None, {}
    state = State.load(path, target_url)
    mapped = {split_address(a)[1][-1]: memo for a, memo in state.memos.items() if address_kind(a) == "databases"}
    return state.ids, path, mapped


def verify_and_report(source, target, state_path: Path | None, map_database, verify_kinds, no_queries,
                      include_personal, as_json: bool = False, state_required: bool = False,
                      left_out: dict[str, str] | None = None, select=(), planned: bool = False):
    """Run verify, print the report (text, or JSON objects with `as_json`), and return the result; `left_out`: the
    kinds the import before it left out on purpose (not compared); `select`: verify's --select, or (`planned`) the
    addresses a selective restore or migration planned."""
    from ..verify import run_verify

    mapping = database_mapping(map_database, getattr(target, "instance", None))
    kinds = [k.strip() for k in verify_kinds.split(",") if k.strip()] if verify_kinds else None
    ids, used, remembered = _state_ids(state_path, target.url, state_required)
    mapping = {**remembered, **mapping}  # the import's own --map-database, unless this run says otherwise
    with out().export_progress(23, phase="verify") as progress:
        result = run_verify(source, target, state_ids=ids, map_database=mapping, kinds=kinds,
                            queries=not no_queries, include_personal=include_personal, left_out=left_out,
                            select=tuple(select or ()), progress=progress, exact_select=planned)
    report_verify(result, used, as_json)
    return result


@click.command()
@side_options("from")
@side_options("to")
@click.option("--state", "state_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="State of the migration/import into the target, to pair objects exactly (default: the state "
                   "`migrate` keeps for this pair, if there).")
@click.option("--map-database", "map_database", multiple=True, metavar="SRC=DST",
              help="Source database SRC is database DST on the target (by name).")
@verify_options
@click.option("--select", "selections", multiple=True, metavar="KIND:NAME",
              help="Compare only this object (repeatable; KIND:NAME, an entity id or an address, as plan and import "
                   "take it; a collection brings its contents, a dashboard its questions and subscriptions) and run "
                   "only its queries.")
@click.option("--json", "as_json", is_flag=True,
              help="JSON lines: one `difference` event per difference, then the summary (as `mbport --json verify`).")
@click.option("--exit-code", "exit_code", is_flag=True, help="Exit 4 when anything differs, 0 when nothing does.")
@click.option("--concurrency", default=None, type=click.IntRange(1, 64),
              help="Requests in flight at once per instance (default: mbport.toml's, else 8).")
@click.option("--insecure", is_flag=True, help="Do not verify TLS certificates (warns).")
def verify(from_, from_api_key, from_username, from_password, from_session_token, to, to_api_key, to_username,
           to_password, to_session_token, state_path, map_database, verify_kinds, no_queries, include_personal,
           selections, as_json, exit_code, concurrency, insecure):
    """Prove a migration or restore: compare every object, and every question's rows, on two live instances.

    Reads both instances (never a tree), pairs their objects through the state of the migration or import
    (--state; else natural keys: names, emails, collections), and compares every field the server returns,
    with ids replaced by what they point at. Then runs every card's and dashcard's query on both sides and
    compares columns, row counts and rows."""
    from ..migrate import default_state_path

    source = side_client("from", from_, from_api_key, from_username, from_password, from_session_token, concurrency,
                         insecure)
    target = side_client("to", to, to_api_key, to_username, to_password, to_session_token, concurrency, insecure)
    with source, target:
        login(source, "from")
        login(target, "to")
        result = verify_and_report(source, target, state_path or default_state_path(source.url, target.url),
                                   map_database, verify_kinds, no_queries, include_personal, as_json,
                                   state_required=state_path is not None, select=selections)
    if exit_code and not result.equal:
        sys.exit(PLAN_HAS_CHANGES)
