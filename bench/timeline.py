"""Where a scenario waits: a timeline of requests in flight beside the process's CPU and the stage running.

    python -m bench.timeline --url URL --session S --what export|plan --tree DIR [--state F] [--bucket-ms 50]

Runs one scenario in this process against a (replay) server, with every request's start and end noted, the
process's CPU sampled every few milliseconds and the named stages (functions of mbport's modules, wrapped)
timed. Prints one line per bucket: requests in flight (mean of the bucket), CPU busy (cores), and the stages
running. A bucket with few requests in flight and under one core busy is an idle gap: nothing waits for the
server there, and nothing computes either.
"""

from __future__ import annotations

import argparse
import functools
import importlib
import json
import threading
import time
from pathlib import Path
from typing import Any

STAGES = {
    "export": ["mbport.export:extract", "mbport.export:build_index", "mbport.export:normalize", "mbport.export:place",
               "mbport.export:fetch_unlisted", "mbport.tree:TreeWriter.commit", "mbport.cache:FetchCache.save",
               "mbport.cache:FetchCache.for_tree", "mbport.export:EarlyNormalizer._try", "mbport.export:_extract_kind"],
    "plan": ["mbport.check:load_tree", "mbport.check:check_refs", "mbport.refgraph:of_tree",
             "mbport.match:Matcher._read_target", "mbport.match:Matcher.match", "mbport.plan:Planner._target_support",
             "mbport.match:Matcher._target_context", "mbport.plan:Planner._comparable_raws", "mbport.engine:Importer.__init__",
             "mbport.state:State.load"],
}


class Recorder:
    def __init__(self) -> None:
        self.t0 = time.perf_counter()
        self.requests: list[tuple[float, float, str]] = []
        self.wire: list[tuple[float, float]] = []  # sent → answer read: on the wire, not waiting for a connection
        self.stages: list[tuple[float, float, str]] = []
        self.cpu: list[tuple[float, float]] = []
        self.lock = threading.Lock()
        self.stop = threading.Event()

    def now(self) -> float:
        return time.perf_counter() - self.t0

    def sample(self, every: float) -> None:
        while not self.stop.wait(every):
            self.cpu.append((self.now(), time.process_time()))

    def wrap_requests(self) -> None:
        from mbport import client

        original = client._Wire.request

        def request(wire, method, path, *args, **kwargs):
            started = self.now()
            try:
                return original(wire, method, path, *args, **kwargs)
            finally:
                with self.lock:
                    self.requests.append((started, self.now(), f"{method} {path}"))

        client._Wire.request = request
        answer = client._Connection.answer

        def timed_answer(conn, method):
            started = self.now()
            try:
                return answer(conn, method)
            finally:
                with self.lock:
                    self.wire.append((started, self.now()))

        client._Connection.answer = timed_answer

    def wrap(self, spec: str) -> None:
        module_name, _, qual = spec.partition(":")
        module = importlib.import_module(module_name)  # (imported before the run: the wrappers go in first)
        owner: Any = module
        parts = qual.split(".")
        for part in parts[:-1]:
            owner = getattr(owner, part)
        original = getattr(owner, parts[-1])

        @functools.wraps(original)
        def timed(*args, **kwargs):
            started = self.now()
            try:
                return original(*args, **kwargs)
            finally:
                with self.lock:
                    label = parts[-1] + "".join(f"[{getattr(a, 'name', a)}]" for a in args[1:2]
                                                if isinstance(a, str) or isinstance(getattr(a, "name", None), str))
                    self.stages.append((started, self.now(), label))

        setattr(owner, parts[-1], timed)
        # names imported elsewhere with `from module import name`
        if len(parts) == 1:
            import sys

            for other in list(sys.modules.values()):
                if getattr(other, "__name__", "").startswith("mbport") and getattr(other, parts[-1], None) is original:
                    setattr(other, parts[-1], timed)

    def report(self, bucket: float) -> str:
        end = max([e for _, e, _ in self.requests] + [e for _, e, _ in self.stages] + [self.cpu[-1][0]])
        lines = []
        n = int(end / bucket) + 1
        for i in range(n):
            a, b = i * bucket, (i + 1) * bucket
            flight = sum(max(0.0, min(b, e) - max(a, s)) for s, e in self.wire) / bucket
            ends = sum(1 for _, e, _ in self.requests if a <= e < b)
            inside = [c for c in self.cpu if a <= c[0] < b]
            before = [c for c in self.cpu if c[0] < a]
            cpu = 0.0
            if inside and before:
                cpu = (inside[-1][1] - before[-1][1]) / (inside[-1][0] - before[-1][0])
            stages = sorted({name for s, e, name in self.stages if s < b and e > a})
            bar = "#" * round(flight) + "." * (8 - round(flight))
            lines.append(f"{a:6.2f} {bar} {flight:4.1f} done {ends:3d} cpu {cpu:4.2f} {' '.join(stages)}")
        busy = sum(e - s for s, e, _ in self.requests)
        lines.append(f"end {end:.2f} s, {len(self.requests)} requests, {busy:.2f} request-seconds "
                     f"(mean in flight {busy / end:.2f}), CPU {self.cpu[-1][1] - self.cpu[0][1]:.2f} s")
        for s, e, name in sorted(self.stages):
            lines.append(f"  stage {name:<24} {s:6.2f} → {e:6.2f} ({e - s:.2f} s)")
        return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True)
    parser.add_argument("--session", required=True)
    parser.add_argument("--what", choices=["export", "plan"], default="export")
    parser.add_argument("--tree", type=Path, required=True)
    parser.add_argument("--state", type=Path)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--bucket-ms", type=float, default=50)
    parser.add_argument("--json", type=Path, help="Also write the raw events here.")
    args = parser.parse_args(argv)

    from mbport.client import MetabaseClient
    from mbport.registry import load_plugins

    rec = Recorder()
    rec.wrap_requests()
    for spec in STAGES[args.what]:
        rec.wrap(spec)
    registry = load_plugins()
    api = MetabaseClient(args.url, session_token=args.session, concurrency=args.concurrency, timeout=120)
    api.version  # noqa: B018
    rec.t0 = time.perf_counter()
    rec.requests.clear()
    sampler = threading.Thread(target=rec.sample, args=(0.005,), daemon=True)
    rec.cpu.append((0.0, time.process_time()))
    sampler.start()
    if args.what == "export":
        from mbport.export import run_export

        run_export(api, registry, args.tree)
    else:
        from mbport.importing import ImportOptions, open_import

        importer = open_import(api, args.tree, ImportOptions(state=args.state), registry=registry)
        importer.plan()
    rec.cpu.append((rec.now(), time.process_time()))
    rec.stop.set()
    print(rec.report(args.bucket_ms / 1000))
    if args.json:
        args.json.write_text(json.dumps({"requests": rec.requests, "wire": rec.wire, "stages": rec.stages, "cpu": rec.cpu}))


if __name__ == "__main__":
    main()
