"""What a command tells its operator: human lines, JSON-lines events (`--json`) and progress on stderr (rich).

One `Output` per run (the `cli` group makes it). Commands print through it instead of `click.echo`, and hand
its progress callbacks down to the engine, so the engine never imports rich:

- `line(text)`: a human line on stdout (left out with --json, where the summary carries the same facts);
- `note(text)`: a human line on stderr (both modes);
- `warning(text)` / `change(change)` / `event(type, ...)`: a `warning` / `change` / any event;
- `result(**fields)`: fields of the final `summary` event, written by `mbport.cli.main` with the exit code;
- `export_progress(kinds)`, `steps(phase, total)`, `status(text)`, `retrying(text)`: progress. Drawn with rich on
  stderr only when stderr is a terminal and not `-q`; with --json also `progress` events on stdout (not with `-q`).
  Reading an instance also shows each kind fetched object by object (`fetch` events), and the client's backoff
  waits (`retry` events), so a slow kind or a faulty server never looks like a stalled run.
"""

from __future__ import annotations

import contextlib
import json
import sys
import threading
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:  # rich loads only when a bar is drawn (start-up time)
    from rich.progress import Progress, TaskID

EVENT_TYPES = ("progress", "change", "warning", "error", "summary", "check")

_current: Output | None = None


def current() -> Output:
    """The Output of the running command (a plain human one outside a command, e.g. when used as a library)."""
    global _current
    if _current is None:
        _current = Output()
    return _current


def set_current(output: Output | None) -> None:
    global _current
    _current = output


def status(text: str) -> None:
    """Tell the operator what a long wait is about (e.g. a database's first sync). Safe from any thread,
    a no-op unless a command is running: kinds call it without knowing how (or whether) it is shown."""
    if _current is not None:
        _current.status(text)


def _default(value: Any) -> Any:
    if isinstance(value, set | frozenset | tuple):
        return sorted(value, key=str)
    return str(value)


class Output:
    """Human or JSON-lines output of one command run, plus its progress display."""

    def __init__(self, json_mode: bool = False, quiet: bool = False, tty: bool | None = None):
        self.json = json_mode
        self.quiet = quiet
        self._tty = tty
        self.command: str | None = None
        self.fields: dict[str, Any] = {}
        self.warnings = 0
        self.summary_written = False
        self._lock = threading.RLock()
        self._live: Progress | None = None  # the rich Progress being drawn, if any
        self._status_task: TaskID | None = None
        self._subtasks: dict[str, TaskID] = {}  # rich task ids of the lines below the bar (fetching, retrying)
        self._fetch_buckets: dict[str, int] = {}
        self._waits: dict[int, str] = {}  # thread id → the retry it is waiting for

    # ------------------------------------------------------------------ plain output
    @property
    def fancy(self) -> bool:
        """Draw rich progress: only on a terminal, and not with -q."""
        if self.quiet:
            return False
        tty = self._tty if self._tty is not None else sys.stderr.isatty()
        return bool(tty)

    def line(self, text: str) -> None:
        if not self.json:
            self._echo(text, err=False)

    def note(self, text: str) -> None:
        self._echo(text, err=True)

    def event(self, type_: str, **fields: Any) -> None:
        """One JSON line on stdout (JSON mode only); `type` first, the rest in the caller's order."""
        if self.json:
            with self._lock:
                click.echo(json.dumps({"type": type_, **fields}, ensure_ascii=False, default=_default))

    def warning(self, text: str, **fields: Any) -> None:
        self.warnings += 1
        if self.json:
            self.event("warning", message=text, **fields)
        else:
            self._echo(f"Warning: {text}", err=True)

    def change(self, change: Any) -> None:
        """A planned change (mbport.engine.Change): `+ address (name): fields` or a `change` event."""
        if self.json:
            from .refs import address_kind

            needed = {"needed_by": list(change.needed_by)} if getattr(change, "needed_by", None) else {}
            self.event("change", address=change.address, kind=address_kind(change.address), action=change.action,
                       name=change.name, fields=list(change.fields), target_id=change.target_id, **needed)
        else:
            self.line(change.line())

    def plan(self, plan: Any) -> None:
        """Every change of a plan (no-ops left out), its summary line, and the plan counts in the summary."""
        for change in plan.changes:
            if change.action != "noop":
                self.change(change)
        for addr, why in plan.unsupported.items():
            self.warning(f"Skipped (--skip-unsupported): {addr}: {why}", address=addr)
        for addr, line in plan.partial_lines():
            self.warning(f"Written without (--skip-unsupported): {addr}: {line}", address=addr)
        self.line(plan.summary())
        for note in plan.notes():
            self.line(note)
        self.result(plan={a: len(plan.of(a)) for a in ("create", "update", "archive", "noop", "match-after-sync", "adopt",
                                                 "after-creates")},
                    has_changes=plan.has_changes, problems=list(plan.problems),
                    skipped={reason: len(labels) for reason, labels in sorted(plan.left_out.items())},
                    unsupported=sorted(plan.unsupported),
                    **({"unsupported_parts": {a: sorted(p) for a, p in plan.partial.items()}} if plan.partial else {}),
                    **({"unrestorable": dict(plan.unrestorable)} if plan.unrestorable else {}))

    def result(self, **fields: Any) -> None:
        """Fields of the final summary event (later calls add to and override earlier ones)."""
        self.fields.update(fields)

    def summary(self, exit_code: int) -> None:
        """The last line of a JSON run: the command, whether it succeeded, its exit code and its facts."""
        if self.json and not self.summary_written:
            self.summary_written = True
            self.event("summary", command=self.command, ok=exit_code in (0, 3, 4), exit_code=exit_code,
                       warnings=self.warnings, **self.fields)

    def error(self, message: str, hint: str | None = None, exit_code: int = 1) -> None:
        """An error as an `error` event (JSON mode); main() prints the human line on stderr itself."""
        self.event("error", message=message, hint=hint, exit_code=exit_code)

    def _echo(self, text: str, err: bool) -> None:
        with self._lock:
            if self._live is not None:
                self._live.console.print(text, markup=False, highlight=False, soft_wrap=True)
                return
            click.echo(text, err=err)

    # ------------------------------------------------------------------ progress
    def _progress_event(self, **fields: Any) -> None:
        if self.json and not self.quiet:
            self.event("progress", **fields)

    @contextlib.contextmanager
    def _drawing(self, label: str, total: int | None) -> Iterator[Callable[..., None]]:
        """A rich bar (or spinner when `total` is None) on stderr; yields update(advance=0, description=None)."""
        if not self.fancy:
            yield lambda advance=0, description=None: None
            return
        with self._lock:
            outer = self._live
        if outer is not None:  # a phase inside another (migrate: export, then plan and apply): one more line
            task = outer.add_task(label, total=total)

            def update_inner(advance: int = 0, description: str | None = None) -> None:
                with self._lock:
                    outer.update(task, advance=advance, description=description or None)

            try:
                yield update_inner
            finally:
                outer.remove_task(task)
            return
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            SpinnerColumn,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        columns = [SpinnerColumn(), TextColumn("{task.description}")]
        if total is not None:
            columns += [BarColumn(), MofNCompleteColumn(), TextColumn("eta"), TimeRemainingColumn()]
        columns.append(TimeElapsedColumn())
        progress = Progress(*columns, console=Console(file=sys.stderr), transient=True)
        task = progress.add_task(label, total=total)

        def update(advance: int = 0, description: str | None = None) -> None:
            with self._lock:
                progress.update(task, advance=advance, description=description or None)

        with progress:
            with self._lock:
                self._live = progress
            try:
                yield update
            finally:
                with self._lock:
                    self._live, self._status_task = None, None
                    self._subtasks.clear()

    @contextlib.contextmanager
    def export_progress(self, kinds: int, phase: str = "export") -> Iterator[ReadProgress]:
        """Progress of reading an instance (an export.Progress): a call after each kind, `fetching` as a
        kind's objects are fetched one by one.

        The bar counts kinds (so it has an ETA); each finished kind prints its object count above it, and a
        line below the bar counts the objects of each kind being fetched."""
        done = {"kinds": 0, "objects": 0}
        with self._drawing(f"{phase}: reading", kinds) as update:
            def callback(kind: str, count: int, _total: int) -> None:
                with self._lock:
                    done["kinds"] += 1
                    done["objects"] += count
                    kinds_done, objects = done["kinds"], done["objects"]
                update(1, f"{phase}: reading")
                if self.fancy:
                    self._echo(f"  read {kind}: {count}", err=True)
                self._progress_event(phase=phase, kind=kind, count=count, done=kinds_done, total=kinds,
                                     objects=objects)

            yield ReadProgress(self, phase, callback)

    @contextlib.contextmanager
    def reading(self, phase: str) -> Iterator[ReadProgress]:
        """Progress of reading inside another phase (plan reads the target): only the objects being fetched."""
        yield ReadProgress(self, phase, None)

    def fetching(self, phase: str, kind: str, done: int, total: int) -> None:
        """`done` of `total` objects of `kind` fetched: a line below the bar, and a `fetch` event at the
        start, about every 10% and at the end."""
        key = f"fetch:{phase}:{kind}"
        bucket = done * 10 // total if total else 0
        with self._lock:
            emit = done in (0, total) or self._fetch_buckets.get(key) != bucket
            self._fetch_buckets[key] = bucket
            if done >= total:
                self._fetch_buckets.pop(key, None)
        self._subtask(key, f"  fetching {kind}", total, done, finished=done >= total)
        if emit:
            self._progress_event(phase="fetch", during=phase, kind=kind, done=done, total=total)

    def retrying(self, text: str | None) -> None:
        """The client waits before retrying (`text`), or that wait is over (None); called from any thread."""
        me = threading.get_ident()
        with self._lock:
            if text is None:
                self._waits.pop(me, None)
            else:
                self._waits[me] = text
            latest = next(reversed(self._waits.values()), None)
            waiting = len(self._waits)
        shown = None if latest is None else f"  waiting: {latest}" + (f" (+{waiting - 1} more)" if waiting > 1 else "")
        self._subtask("retry", shown or "", None, 0, finished=latest is None)
        if text is not None:
            self._progress_event(phase="retry", message=text)

    def _subtask(self, key: str, label: str, total: int | None, done: int, finished: bool) -> None:
        """A line below the current bar, updated in place, removed once finished (drawn on a terminal only)."""
        with self._lock:
            live = self._live
            if live is None:
                return
            task = self._subtasks.get(key)
            if finished:
                if task is not None:
                    self._subtasks.pop(key)
                    live.remove_task(task)
                return
            if task is None:
                self._subtasks[key] = live.add_task(label, total=total, completed=done)
            else:
                live.update(task, description=label, completed=done)

    @contextlib.contextmanager
    def steps(self, phase: str, total: int | None) -> Iterator[Callable[..., None]]:
        """Progress of `total` steps (plan: objects compared; apply: objects written); yields
        callback(address, action) as `Importer.plan/apply` call it. JSON progress events: one per write
        when applying, about every 10% otherwise."""
        done = {"n": 0, "bucket": -1}
        with self._drawing(phase, total) as update:
            def callback(address: str, action: str) -> None:
                from .refs import address_kind

                with self._lock:
                    done["n"] += 1
                    n = done["n"]
                    bucket = n * 10 // total if total else n
                    emit = phase == "apply" or bucket != done["bucket"] or n == total
                    done["bucket"] = bucket
                update(1, f"{phase}: {address_kind(address)}")
                if emit:
                    self._progress_event(phase=phase, address=address, action=action, done=n, total=total)

            yield callback

    def status(self, text: str) -> None:
        """A passing state (waiting for a sync): shown on the current bar, or as a line on a terminal."""
        with self._lock:
            live = self._live
        if live is not None:
            with self._lock:
                if self._status_task is None or self._status_task not in live.task_ids:
                    self._status_task = live.add_task(text, total=None)
                else:
                    live.update(self._status_task, description=text)
        elif self.fancy:
            self._echo(f"  {text}", err=True)
        self._progress_event(phase="status", message=text)


class ReadProgress:
    """What reading an instance reports (export.Progress): `progress(kind, count, total)` once a kind is read,
    `progress.fetching(kind, done, total)` while its objects are fetched one by one."""

    def __init__(self, output: Output, phase: str, on_kind: Callable[[str, int, int], None] | None):
        self._output, self._phase, self._on_kind = output, phase, on_kind

    def __call__(self, kind: str, count: int, total: int) -> None:
        if self._on_kind is not None:
            self._on_kind(kind, count, total)

    def fetching(self, kind: str, done: int, total: int) -> None:
        self._output.fetching(self._phase, kind, done, total)


class Tracked:
    """An Importer whose plan() and apply() report progress through an Output (used by every command that
    imports, and handed to run_migrate, which only knows `plan()` and `apply(plan)`)."""

    def __init__(self, importer: Any, output: Output):
        self._importer = importer
        self._output = output

    def __getattr__(self, name: str) -> Any:
        return getattr(self._importer, name)

    def plan(self) -> Any:
        with self._output.steps("plan", len(self._importer.tree.docs)) as callback, \
                self._output.reading("plan") as read:
            self._importer.read_progress = read  # the target's objects being fetched, below the plan's bar
            try:
                return self._importer.plan(progress=callback)
            finally:
                self._importer.read_progress = None

    def apply(self, plan: Any, progress: Any = None) -> Any:
        todo = {c.address for c in plan.changes if c.action in ("create", "update", "match-after-sync", "adopt",
                                                                "after-creates")}  # mbport.plan.WRITTEN
        total = sum(1 for node in self._importer.graph if node[0] in todo)
        with self._output.steps("apply", total) as callback:
            return self._importer.apply(plan, progress=callback)
