"""Import as a library call: `open_import(api, tree, ImportOptions(...))` → an Import to plan, apply and verify.

    from mbport.client import MetabaseClient
    from mbport.importing import ImportOptions, open_import

    with MetabaseClient("https://metabase.example.com", api_key="mb_...") as api:
        run = open_import(api, "tree", ImportOptions(map_database={"Warehouse": "Prod warehouse"}))
        plan = run.plan()            # reads only
        result = run.apply(plan)     # writes, in dependency order; the state file records every write

The command line (`mbport import`, `plan`, `restore`, `migrate`) builds its imports here too.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from .engine import ApplyResult, Importer, Plan, Progress
from .errors import MbportError, UsageError
from .import_options import ImportOptions
from .refs import address_kind
from .state import State, default_state_path
from .tree import Tree

if TYPE_CHECKING:
    from .match import ReadAhead
    from .registry import Registry
    from .verify.engine import VerifyResult

__all__ = ["Import", "ImportOptions", "TreeProblems", "default_state_path", "load_import_tree", "open_import",
           "read_ahead"]


class TreeProblems(MbportError):
    """The tree cannot be imported as it is: `problems` holds one line per problem (naming the file)."""

    def __init__(self, tree_dir: Path | str, problems: list[str]):
        super().__init__(f"{tree_dir}: {len(problems)} problem(s) in the tree; nothing was written",
                         hint=f"run `mbport check {tree_dir}`")
        self.problems = problems


def check_options(options: ImportOptions, tree: Tree) -> None:
    """Options that cannot mean anything for this tree: a usage error before any request."""
    databases = sorted(str(doc.get("name")) for addr, doc in tree.docs.items() if address_kind(addr) == "databases")
    for src, dst in options.map_database.items():
        if src not in databases:  # a typo would import the database under its own name instead
            raise UsageError(f"--map-database {f'{src}={dst}'!r}: the tree has no database named {src!r}",
                             hint="its databases: " + (", ".join(repr(n) for n in databases) or "none"))
    if options.only and not options.select:
        raise UsageError("--only needs --select (it imports the selected objects without what they need)")
    if options.prune and options.select:
        raise UsageError("--prune archives what the whole tree no longer has: it cannot be combined with --select")


def read_ahead(api: Any, tree_dir: Path | str, registry: Registry, state: Path | None = None) -> ReadAhead | None:
    """Start reading the target's objects of the kinds the tree at `tree_dir` holds, on a thread, before the tree is
    loaded and checked (reads only): pass it to `open_import(..., ahead=)`, whose plan takes them (mbport.match)."""
    from .match import read_ahead as start

    return start(api, registry, Path(tree_dir), state)


def load_import_tree(tree: Path | str | Tree, registry: Registry, selective: bool = False) -> Tree:
    """`tree` loaded (unless it is already) and checked like `mbport check` does; TreeProblems if it is unsound.
    `selective` (an import with --select): a dangling ref is left to the plan, which names those of the selection
    and what it needs (a link to a deleted dashboard elsewhere in last night's snapshot does not stop a restore)."""
    from .check import check_refs, load_tree
    from .export import no_automatic_gc

    with no_automatic_gc() as keep:  # a tree is thousands of docs that all stay alive: see no_automatic_gc
        if not isinstance(tree, Tree):
            tree = load_tree(Path(tree), registry)
        problems = tree.problems + check_refs(tree, registry, dangling_refs=not selective)
        if problems:
            raise TreeProblems(tree.root, problems)
        keep.append(tree)
    return tree


def open_import(api: Any, tree: Path | str | Tree, options: ImportOptions | None = None, *,
                registry: Registry | None = None, ahead: ReadAhead | None = None) -> Import:
    """An import of `tree` into the instance `api` talks to: a folder `mbport export` wrote (loaded and checked
    here), or a Tree `load_import_tree` returned.

    Reads the tree and the state file, checks both and the options offline; no request yet. Raises TreeProblems
    for a tree `mbport check` would reject, UsageError for options that cannot apply to it. `ahead`: the target's
    objects being read meanwhile (`read_ahead`, started before the tree was loaded), which plan then takes."""
    from .export import no_automatic_gc
    from .registry import load_plugins

    options = options or ImportOptions()
    registry = registry if registry is not None else load_plugins()
    with no_automatic_gc() as keep:  # the tree and its graph stay alive: see no_automatic_gc
        if not isinstance(tree, Tree):
            tree = load_import_tree(tree, registry, selective=bool(options.select))
        check_options(options, tree)
        state = State.load(options.state or default_state_path(tree.root, api.url), api.url)
        if options.api_keys_file is None:
            from dataclasses import replace

            options = replace(options, api_keys_file=Path(str(tree.root).rstrip("/") + ".new-api-keys.json"))
        keep.append(Import(Importer(api, registry, tree, state, options, ahead=ahead)))
    return keep[0]


class Import:
    """One import of one tree into one target: `plan()` reads only, `apply()` writes, `verify()` compares after."""

    def __init__(self, importer: Importer):
        self.importer = importer

    @property
    def api(self) -> Any:
        return self.importer.api

    @property
    def tree(self) -> Tree:
        return self.importer.tree

    @property
    def state(self) -> State:
        """What got which id on the target; saved as the import writes (a stopped import resumes from it)."""
        return self.importer.state

    @property
    def options(self) -> ImportOptions:
        return self.importer.options

    @property
    def graph(self) -> Any:
        """The dependency graph of (address, stage) nodes that apply walks."""
        return self.importer.graph

    @property
    def applied(self) -> ApplyResult | None:
        """What the last `apply` wrote so far (None before it); set even when it stopped with an error."""
        return getattr(self.importer, "applied", None)

    @property
    def read_progress(self) -> Any:
        return self.importer.read_progress

    @read_progress.setter
    def read_progress(self, value: Any) -> None:
        """An `export.Progress` shown while plan reads the target's objects (a display sets it)."""
        self.importer.read_progress = value

    def plan(self, progress: Progress | None = None) -> Plan:
        """What apply would create, update and archive, and the problems that would stop it; writes nothing.
        `progress(address, "compare")` is called once per doc."""
        return self.importer.plan(progress=progress)

    def apply(self, plan: Plan | None = None, progress: Progress | None = None) -> ApplyResult:
        """Write `plan` (default: a fresh plan) in dependency order; raises MbportError when the plan has
        problems (before any write) or, without `continue_on_error`, at the first failing object."""
        return self.importer.apply(plan if plan is not None else self.plan(), progress=progress)

    def verify(self, source: Any, *, kinds: list[str] | None = None, queries: bool = True,
               include_personal: bool = False, left_out: dict[str, str] | None = None,
               progress: Any = None) -> VerifyResult:
        """After apply: compare the instance the tree came from (`source`, a client) with the target, object by
        object and (unless `queries` is False) row by row, pairing objects through this import's state.
        `left_out` (kind → why) is not compared; by default, what the last applied plan left out on purpose
        (API keys without `with_api_keys`), which the target lacks by design."""
        from .verify import run_verify

        if left_out is None:
            left_out = self.applied.plan.left_out_kinds() if self.applied else {}
        return run_verify(source, self.api, state_ids=dict(self.state.ids), map_database=dict(self.options.map_database),
                          kinds=kinds, queries=queries, include_personal=include_personal, left_out=left_out,
                          progress=progress)
