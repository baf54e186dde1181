"""What the commands show: plans, apply results, verify reports, errors, and the --debug log (secrets redacted)."""

from __future__ import annotations

import logging
import sys
from typing import Any

import click

from .. import output as output_module
from ..errors import WARNINGS
from ..output import Output


def out() -> Output:
    """The running command's Output (the group makes one per run)."""
    return output_module.current()


def show_plan(plan: Any) -> None:
    """The plan's lines, then the problems that stop the import: `warning` events with --json (the error event
    follows), else stderr."""
    out().plan(plan)
    for problem in plan.problems:
        if out().json:
            out().warning(f"Problem: {problem}")
        else:
            out().note(f"Problem: {problem}")


def writes(n: int) -> str:
    return f"{n} write" if n == 1 else f"{n} writes"


def objects(n: int) -> str:
    return f"{n} object" if n == 1 else f"{n} objects"


def applied_line(result: Any) -> str:
    """`Applied: 3 writes to 2 objects; 12 objects found as the tree says (nothing to write).`: the write requests
    sent, the objects they went to, and the objects the plan listed (`=`, `~?`) that needed none."""
    line = f"Applied: {writes(result.written)}" + (f" to {objects(len(result.changed))}" if result.changed else "")
    if result.as_tree:
        line += f"; {objects(len(result.as_tree))} found as the tree says (nothing to write)"
    return line + "."


def resume_hint(run: Any, hint: str | None) -> str:
    """How far a stopped import got, and that running it again resumes (the state recorded every write)."""
    applied = getattr(run, "applied", None)  # None: stopped before the first write
    written = applied.written if applied is not None else 0
    out().result(written=written)
    state = getattr(getattr(run, "state", None), "path", None)
    where = f" (recorded in {state})" if state else ""
    text = (f"the import stopped after {writes(written)}{where}; run the same command again to resume: "
            "only what is left is applied")
    return f"{hint}; {text}" if hint else text[0].upper() + text[1:] + "."


def report_apply(result: Any) -> None:
    """What an apply did: failures (named), what they held back, the write count; exit 3 after failures."""
    report = out()
    for addr, error in sorted(result.failed.items()):
        if report.json:
            report.event("error", address=addr, message=error, hint=None, exit_code=None)
        else:
            report.note(f"Failed: {addr}: {error}")
    for addr in result.skipped:
        report.warning(f"Skipped (depends on a failure): {addr}", address=addr)
    report.line(applied_line(result))
    report.result(written=result.written, changed=len(result.changed), as_tree=len(result.as_tree),
                  failed=sorted(result.failed), skipped=list(result.skipped),
                  unsupported=sorted(result.plan.unsupported))
    if (result.plan.unsupported or result.plan.partial) and not result.failed and not result.skipped:
        parts = len(result.plan.partial)
        report.note(f"Left out {len(result.plan.unsupported)} object(s) the target cannot hold"
                    + (f" and parts of {parts} more" if parts else "") + " (--skip-unsupported): see the warnings above.")
        sys.exit(WARNINGS)
    if result.failed or result.skipped:
        if not report.json:
            report.note("Fix the failures above and run the same command again: only what is left is applied.")
        sys.exit(WARNINGS)


def say_personal(personal: tuple[int, int], excluded: bool, where: str) -> None:
    """One line on what a whole-instance run did with personal collections (they are private content)."""
    if excluded:
        kept = (f", but for {personal[1]} object(s) shared content uses, taken along with the collection(s) they sit in"
                if personal[1] else "")
        out().line(f"Personal collections left out (--exclude-personal){kept}.")
    else:
        out().line(f"{where[0].upper()}{where[1:]} holds {personal[0]} personal collection(s) with {personal[1]} "
                   "object(s) in them (--exclude-personal leaves them out).")


def report_verify(result: Any, state_used: Any, as_json: bool) -> None:
    """A verify result: one `difference` event each with --json (`verify --json` is `mbport --json verify`),
    else the report's lines on stdout."""
    from ..verify.report import lines

    report = out()
    if as_json:
        report.json = True
    if report.json:
        for d in result.differences:
            report.event("difference", **d.as_dict())
    else:
        if state_used:
            report.note(f"Objects paired through the state {state_used}.")
        for line in lines(result):
            click.echo(line)
    report.result(verify=result.summary())


def fail(message: str, hint: str | None, code: int, as_json: bool, prefix: str = "Error: ") -> int:
    """An error: one line on stderr (plus a hint line without --json), and an `error` event with --json."""
    from ..client import redact

    # Messages can quote server answers and exceptions; whatever carried a secret is blanked here, once.
    message, hint = redact(message), (redact(hint) if hint else hint)
    click.echo(f"{prefix}{message}", err=True)
    if as_json:
        out().json = True
        out().error(message, hint, code)
    elif hint:
        click.echo(f"Hint: {hint}", err=True)
    return code


class _RedactingFilter:
    """Every log record, ours and the HTTP libraries', passes through `redact` before it is written."""

    def filter(self, record) -> bool:
        from ..client import redact

        record.msg, record.args = redact(record.getMessage()), None
        return True


def end_debug_logging() -> None:
    """Remove the --debug handler of an earlier run in this process: a run without --debug logs nothing."""
    root = logging.getLogger()
    for handler in [h for h in root.handlers if getattr(h, "mbport_debug", False)]:
        root.removeHandler(handler)
        root.setLevel(logging.WARNING)


class _StderrHandler(logging.StreamHandler):
    """Writes to whatever sys.stderr is now (tests swap it per run; a stream kept from the first run is closed)."""

    mbport_debug = True  # the handler --debug adds (an earlier run's is removed by end_debug_logging)

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, _value) -> None:
        pass


def debug_logging() -> None:
    """--debug: every log record on stderr, redacted; the HTTP exchange included."""
    root = logging.getLogger()
    end_debug_logging()  # one handler at a time (tests run the CLI many times in one process)
    handler = _StderrHandler()
    handler.addFilter(_RedactingFilter())
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    # The client's own DEBUG records are the HTTP exchange; httpcore's socket-level chatter only hides them.
    for noisy in ("httpcore", "hpack"):
        logging.getLogger(noisy).setLevel(logging.INFO)
