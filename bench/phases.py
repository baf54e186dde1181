"""Where an export's CPU goes: thread CPU per stage (`bench.run --replay --phases`), each stage's own time.

    with Phases(registry) as phases:
        run_export(api, registry, tree)
    phases.seconds  # {"normalizing": 0.31, "requests and decoding": 0.52, ...}

Every stage is a function or method of mbport wrapped for the block (a kind's `list` and `index` on this
registry's kinds only) and timed with `time.thread_time` on whichever thread runs it: the requests on the pool's
threads, normalizing on the export's own, writing on the stager's. A stage's time leaves out the stages it calls (a
kind's listing without its requests, the early normalizer's bookkeeping without the normalizing it does), so the
stages add up to at most the process's CPU; the rest (threads starting and waiting, the interpreter) is `other`.
The wrappers cost a little CPU themselves: compare runs with --phases against runs with it, not against without.
"""

from __future__ import annotations

import threading
import time
from collections import defaultdict
from collections.abc import Callable
from typing import Any

from mbport import cache, export, tree
from mbport.client import MetabaseClient

# (owner, attribute, stage) of what is timed besides each kind's `list` and `index`
TIMED: list[tuple[Any, str, str]] = [
    (MetabaseClient, "request", "requests and decoding"),
    (export, "normalize_one", "normalizing"),
    (export, "place", "placing"),
    (tree, "dumps", "serializing"),
    (tree.TreeWriter, "_write", "writing the tree"),
    (tree.TreeWriter, "commit", "writing the tree"),
    (cache.FetchCache, "lookup", "fetch cache"),
    (cache.FetchCache, "keep", "fetch cache"),
    (cache.FetchCache, "refetch_stale", "fetch cache"),
    (cache.FetchCache, "save", "fetch cache"),
    (export.EarlyNormalizer, "__call__", "early normalizer's bookkeeping"),
    (export, "_export", "export's bookkeeping"),
]


class Phases:
    """Times the stages of the exports run inside the block (see the module docstring)."""

    def __init__(self, registry: Any):
        self.registry = registry
        self.seconds: dict[str, float] = defaultdict(float)
        self._lock = threading.Lock()
        self._local = threading.local()
        self._undo: list[Callable[[], None]] = []

    def __enter__(self) -> Phases:
        for owner, name, stage in TIMED:
            self._patch(owner, name, stage)
        for kind in self.registry.kinds.values():
            self._patch(kind, "list", "listing (the kinds' own code)")
            self._patch(kind, "index", "indexing", materialize=True)
        return self

    def __exit__(self, *exc: Any) -> None:
        for undo in reversed(self._undo):
            undo()
        self._undo.clear()

    def report(self, total: float) -> dict[str, float]:
        """Each stage's seconds, largest first, and `other`: the rest of `total` (the process's CPU meanwhile)."""
        stages = dict(sorted(((k, round(v, 3)) for k, v in self.seconds.items()), key=lambda kv: -kv[1]))
        return {**stages, "other": round(max(total - sum(self.seconds.values()), 0.0), 3)}

    def _patch(self, owner: Any, name: str, stage: str, materialize: bool = False) -> None:
        had_own = name in vars(owner)
        original = vars(owner)[name] if had_own else None
        fn = getattr(owner, name)  # bound on an instance (a kind), plain on a module or class
        local, seconds, lock = self._local, self.seconds, self._lock

        def timed(*args: Any, **kwargs: Any) -> Any:
            stack = local.__dict__.setdefault("stack", [])
            stack.append(0.0)  # the time of the stages it calls, left out of its own
            started = time.thread_time()
            try:
                result = fn(*args, **kwargs)
                return list(result) if materialize else result  # a generator runs here, not in its caller
            finally:
                elapsed = time.thread_time() - started
                inner = stack.pop()
                if stack:
                    stack[-1] += elapsed
                with lock:
                    seconds[stage] += elapsed - inner

        setattr(owner, name, timed)
        self._undo.append(lambda: setattr(owner, name, original) if had_own else delattr(owner, name))
