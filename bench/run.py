"""Benchmark runner: export, incremental export, no-change backup, import and plan against the latency-bound limit.

    .venv/bin/python -m bench.run --scale 1.0            # bench-L; --scale 0.1 or 0.01 for quick runs

Starts served emulators (bench/server.py: the workload built in-process, then 20 ms per request and at most
8 requests served at once), runs every scenario at the given concurrency and sequentially (concurrency 1),
each in a fresh process (so peak memory is the scenario's own), and writes bench/results/<name>.json and
.md. For each scenario: requests, wall time, peak RSS, the latency-bound limit = requests / concurrency x
latency, and the ratios to that limit and to the sequential run.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import platform
import re
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
URL = "http://127.0.0.1:{port}"


# ---------------------------------------------------------------- servers

@dataclass
class Server:
    url: str
    session: str
    info: dict[str, Any]
    process: subprocess.Popen


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def served(scale: float, latency_ms: float, max_concurrent: int, data_dir: Path, empty: bool = False,
           timeout: float = 900.0) -> Iterator[Server]:
    """A bench.server child with the workload (or an empty instance), until the block ends."""
    port = _free_port()
    cmd = [sys.executable, "-m", "bench.server", "--port", str(port), "--scale", str(scale),
           "--latency-ms", str(latency_ms), "--max-concurrent", str(max_concurrent), "--data-dir", str(data_dir)]
    if empty:
        cmd.append("--empty")
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline() if proc.stdout else ""
        if not line:
            raise RuntimeError(f"bench server exited before it was ready (exit {proc.wait(timeout)})")
        info = json.loads(line)
        deadline = time.monotonic() + 30
        while True:  # the JSON line comes just before uvicorn binds the port
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
                break
            if time.monotonic() > deadline or proc.poll() is not None:
                raise RuntimeError("bench server did not start listening")
            time.sleep(0.05)
        yield Server(URL.format(port=port), info["session"], info, proc)
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@contextlib.contextmanager
def replayed(recording: Path, latency_ms: float, max_concurrent: int) -> Iterator[Server]:
    """A bench.replay server of a recording (an emulator's answers at almost no CPU), until the block ends."""
    port = _free_port()
    cmd = [sys.executable, "-m", "bench.replay", "serve", "--recording", str(recording), "--port", str(port),
           "--latency-ms", str(latency_ms), "--max-concurrent", str(max_concurrent)]
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline() if proc.stdout else ""
        if not line:
            raise RuntimeError(f"replay server exited before it was ready (exit {proc.wait(30)})")
        info = json.loads(line)
        yield Server(URL.format(port=port), info["session"], info, proc)
    finally:
        proc.terminate()
        try:
            _, err = proc.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            _, err = proc.communicate()
        unknown = json.loads(err.strip().splitlines()[-1]).get("unknown") if err.strip() else None
        if line:
            info["unknown"] = unknown or []  # the requests no recording answered, for the caller to check
        if unknown:
            print(f"replay: {len(unknown)} request(s) were not recorded, e.g. {unknown[0]}", file=sys.stderr)


# ---------------------------------------------------------------- one scenario, in its own process

def scenario(spec: dict[str, Any]) -> dict[str, Any]:
    """Run one measured operation in this process; returns requests, seconds and peak memory."""
    from mbport.client import MetabaseClient
    from mbport.registry import load_plugins

    registry = load_plugins()
    api = MetabaseClient(spec["url"], session_token=spec["session"], concurrency=spec["concurrency"], timeout=120)
    api.version  # noqa: B018 - read once before timing, like any command does on its first request
    base_requests = api.request_count
    rss_before = _peak_rss_mb()
    extra: dict[str, Any] = {}
    cpu_before = _own_cpu_seconds()
    kernel_before = resource.getrusage(resource.RUSAGE_SELF).ru_stime
    started = time.perf_counter()
    what = spec["what"]
    if what == "export":
        from mbport import export

        if spec.get("baseline"):
            export.extract = _baseline_extract
        phases = None
        with contextlib.ExitStack() as stack:
            if spec.get("phases"):
                from .phases import Phases

                phases = stack.enter_context(Phases(registry))
            result = export.run_export(api, registry, Path(spec["tree"]), cache=not spec.get("baseline"))
        if phases is not None:
            extra["phases"] = phases.report(_own_cpu_seconds() - cpu_before)
        extra["objects"] = sum(result.counts.values())
        extra["warnings"] = len(result.warnings)
    elif what == "backup":
        from mbport.gitstore import run_backup

        result = run_backup(api, registry, Path(spec["repo"]), author="bench <bench@localhost>")
        extra["commit"] = bool(result.commit)
        extra["objects"] = sum(result.counts.values())
    elif what in ("import", "plan"):
        from mbport.importing import ImportOptions, open_import, read_ahead

        # as `mbport plan` and `mbport import` do: the target is read while the tree is loaded and checked
        ahead = read_ahead(api, spec["tree"], registry, Path(spec["state"]))
        importer = open_import(api, Path(spec["tree"]), ImportOptions(state=Path(spec["state"])), registry=registry,
                               ahead=ahead)
        plan = importer.plan()
        extra["objects"] = len(plan.changes)
        extra["changes"] = sum(1 for c in plan.changes if c.action != "noop")
        extra["problems"] = len(plan.problems)
        if what == "import":
            import networkx as nx

            applied = importer.apply(plan)
            extra["written"] = applied.written
            extra["failed"] = len(applied.failed)
            generations = [len(g) for g in nx.topological_generations(importer.graph)]
            extra["generations"] = generations
    elif what == "verify":
        from mbport.state import State
        from mbport.verify import run_verify

        other = MetabaseClient(spec["source_url"], session_token=spec["source_session"],
                               concurrency=spec["concurrency"], timeout=120)
        other.version  # noqa: B018 - as for the target, before timing
        base_requests -= other.request_count
        verified = run_verify(other, api, state_ids=State.load(Path(spec["state"]), api.url).ids)
        extra["objects"] = sum(c.paired + c.only_source + c.only_target for k, c in verified.counts.items()
                               if not k.startswith("rows of "))
        extra["queries"] = sum(c.paired for k, c in verified.counts.items() if k.startswith("rows of ")) * 2
        extra["differences"] = len(verified.differences)
        extra["differences_sample"] = [d.line() for d in verified.differences[:5]]
        # a query that errors on both sides compares no rows: the count says how many rows went unchecked
        extra["failing_on_both_sides"] = sum("fails on both sides" in note for note in verified.notes)
        api.request_count += other.request_count  # both instances' requests count
        other.close()
    else:
        raise ValueError(what)
    seconds = time.perf_counter() - started
    extra["client_cpu_s"] = round(_own_cpu_seconds() - cpu_before, 2)
    # the kernel's share: on a slow disk, creating thousands of files costs more than mbport's own work
    extra["client_kernel_s"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_stime - kernel_before, 2)
    if spec.get("write_floor"):
        extra["write_floor_s"], extra["write_floor_kernel_s"] = _write_floor(Path(spec["tree"]))
    api.close()
    return {"requests": api.request_count - base_requests, "seconds": seconds,
            "by_method": dict(api.requests_by_method), "peak_rss_mb": _peak_rss_mb(),
            "rss_before_mb": rss_before, **extra}


def _write_floor(tree: Path) -> tuple[float, float]:
    """(seconds, kernel CPU seconds) to create the tree's files again in a fresh folder beside it with plain
    os.open/os.write, on the same disk, right after the export: what creating that many files costs on this
    machine at that moment, whatever the exporter does (not counted in the export's own numbers).

    On ext4 without a journal (this VM's disk) the kernel's share varies tenfold: a new inode skips every inode
    of its group freed in the last minute or so (fs/ext4/ialloc.c, recently_deleted), scanning them all again
    for each file, so a tree created soon after thousands of files were deleted near it (a test suite's
    temporary folders, an earlier tree) costs seconds instead of a tenth of one. The copy is left in place (the
    bench's folder goes at the end): deleting it would slow the next run's file creation the same way."""
    files = [(p.relative_to(tree).as_posix(), p.read_bytes()) for p in sorted(tree.rglob("*")) if p.is_file()]
    copy = tree.with_name(tree.name + "-write-floor")
    kernel = resource.getrusage(resource.RUSAGE_SELF).ru_stime
    started = time.perf_counter()
    made: set[str] = set()
    for rel, content in files:
        folder = os.path.dirname(rel)
        if folder not in made:
            os.makedirs(copy / folder, exist_ok=True)
            made.add(folder)
        fd = os.open(copy / rel, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o666)
        try:
            os.write(fd, content)
        finally:
            os.close(fd)
    seconds = time.perf_counter() - started
    return round(seconds, 2), round(resource.getrusage(resource.RUSAGE_SELF).ru_stime - kernel, 2)


def _baseline_extract(api, registry, names, ctx, progress=None, cache=None, while_waiting=None) -> None:
    """Export's extract stage as it was before issue 6 (kinds one after another, no fetch cache): "before"."""
    from mbport.capabilities import needs_fetch
    from mbport.export import kind_order

    for name in kind_order(registry, names):
        kind = registry[name]
        summaries = kind.list(api, ctx)
        todo = [s for s in summaries if needs_fetch(kind, s)]
        fetched = dict(zip([id(s) for s in todo], api.map(lambda s, k=kind: k.fetch(api, s), todo), strict=True))
        ctx.raw[name] = [fetched.get(id(s), s) for s in summaries]


def _own_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime  # user + kernel (creating files is kernel time)


def _peak_rss_mb() -> float:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux, bytes on macOS
    return round(peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024, 1)


def run_child(spec: dict[str, Any]) -> dict[str, Any]:
    proc = subprocess.run([sys.executable, "-m", "bench.run", "--scenario", json.dumps(spec)], cwd=ROOT,
                          capture_output=True, text=True)
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-8:]
        return {"error": "\n".join(tail)}
    return json.loads(proc.stdout.strip().splitlines()[-1])


# ---------------------------------------------------------------- the whole run

def limits(result: dict[str, Any], concurrency: int, latency_ms: float) -> None:
    """Add the latency-bound limit (and for imports the limit of the dependency depth) and the ratios."""
    if "error" in result:
        return
    latency = latency_ms / 1000
    result["limit_s"] = result["requests"] / concurrency * latency
    result["ratio_to_limit"] = result["seconds"] / result["limit_s"] if result["limit_s"] else None
    if result.get("generations"):
        # Each generation waits for the one before: it costs at least ceil(nodes / concurrency) round trips;
        # the other requests (reads, second writes) are counted as if perfectly parallel.
        nodes = sum(result["generations"])
        rounds = sum(math.ceil(n / concurrency) for n in result["generations"])
        result["depth_limit_s"] = (rounds + max(0, result["requests"] - nodes) / concurrency) * latency
        result["ratio_to_depth_limit"] = result["seconds"] / result["depth_limit_s"]
    if "server_cpu_s" in result and "client_cpu_s" in result:
        # Client and emulator share this machine's cores: their CPU time over the cores is a floor too.
        result["cpu_floor_s"] = round((result["server_cpu_s"] + result["client_cpu_s"]) / (os.cpu_count() or 1), 2)
    objects = result.get("objects")
    if objects:
        result["ms_per_object"] = result["seconds"] / objects * 1000


def same_tree(a: Path, b: Path) -> bool:
    """Byte-identical trees (every file, the manifest included)."""
    def files(root: Path) -> dict[str, bytes]:
        return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*"))
                if p.is_file() and ".git" not in p.relative_to(root).parts}
    return files(a) == files(b)


def run(scale: float, latency_ms: float, concurrency: int, work: Path, log=print,
        import_only: bool = False) -> dict[str, Any]:
    data_dir = RESULTS / "warehouses"
    out: dict[str, Any] = {"scale": scale, "latency_ms": latency_ms, "concurrency": concurrency,
                           "max_concurrent": concurrency, "machine": machine(), "scenarios": {}, "checks": {}}
    runs = {"concurrent": concurrency, "sequential": 1}
    scenarios = out["scenarios"]

    def record(name: str, mode: str, spec: dict[str, Any], server: Server) -> dict[str, Any]:
        cpu = _cpu_seconds(server.process.pid)
        result = run_child({**spec, "concurrency": runs[mode]})
        if cpu is not None and "error" not in result:
            # The emulator serves one request at a time under its state lock: its CPU time is a floor on the
            # wall time that no client concurrency removes (a real Metabase has many threads and a database).
            result["server_cpu_s"] = round(_cpu_seconds(server.process.pid) - cpu, 2)
        limits(result, runs[mode], latency_ms)
        scenarios.setdefault(name, {})[mode] = result
        log(f"  {name:<22} {mode:<10} " + (f"{result['requests']:>6} requests {result['seconds']:8.2f} s "
                                            f"{result['peak_rss_mb']:7.1f} MB" if "error" not in result
                                            else "FAILED: " + result["error"].splitlines()[-1]))
        return result

    log(f"building the workload at scale {scale} ...")
    with served(scale, latency_ms, concurrency, data_dir) as source:
        out["workload"] = source.info
        log(f"  built {source.info['counts']} with {source.info['requests']} requests in {source.info['seconds']} s")
        common = {"url": source.url, "session": source.session}
        if import_only:  # just the tree to import, at the given concurrency
            record("cold export", "concurrent", {**common, "what": "export", "tree": str(work / "concurrent" / "tree")}, source)
            shutil.copytree(work / "concurrent" / "tree", work / "concurrent" / "cold-tree")
        for mode in runs if not import_only else ():
            tree = work / mode / "tree"
            record("cold export (before)", mode, {**common, "what": "export", "tree": str(work / mode / "before"),
                                                  "baseline": True}, source)
            record("cold export", mode, {**common, "what": "export", "tree": str(tree), "write_floor": True}, source)
            shutil.copytree(tree, work / mode / "cold-tree")
            record("incremental export", mode, {**common, "what": "export", "tree": str(tree)}, source)
            record("export unchanged, no cache (before)", mode, {**common, "what": "export",
                                                                 "tree": str(work / mode / "before"), "baseline": True},
                   source)
            record("backup (first)", mode, {**common, "what": "backup", "repo": str(work / mode / "repo")}, source)
            record("backup (no change)", mode, {**common, "what": "backup", "repo": str(work / mode / "repo")}, source)
        # The source stays up: verify reads it and the import's target at once.
        for mode in runs if not import_only else ("concurrent",):
            with served(0, latency_ms, concurrency, data_dir, empty=True) as target:
                common = {"url": target.url, "session": target.session, "tree": str(work / "concurrent" / "cold-tree"),
                          "state": str(work / mode / "import-state.json")}
                record("import (empty target)", mode, {**common, "what": "import"}, target)
                for plan_mode in runs if mode == "concurrent" else ():
                    record("plan (no change)", plan_mode, {**common, "what": "plan"}, target)
                if mode == "concurrent":
                    record("verify (source vs target)", mode, {**common, "what": "verify", "source_url": source.url,
                                                               "source_session": source.session}, target)
    if not import_only:
        out["checks"]["incremental tree identical to cold tree"] = all(
            same_tree(work / m / "cold-tree", work / m / "tree") for m in runs)
        out["checks"]["tree before identical to tree after"] = same_tree(
            work / "concurrent" / "before", work / "concurrent" / "tree")
        out["checks"]["sequential tree identical to concurrent tree"] = same_tree(
            work / "sequential" / "tree", work / "concurrent" / "tree")
    return out


def run_replay(scale: float, latency_ms: float, concurrency: int, work: Path, log=print, record: bool = False,
               repeat: int = 3, plan: bool = True, phases: bool = False) -> dict[str, Any]:
    """Cold export, incremental export and plan against a replay server (a Metabase on another host: its CPU is
    not the client's), `repeat` times each: wall time beside the latency-bound limit, and mbport's own CPU (with
    `phases`, the cold export's per stage: bench/phases.py)."""
    recording = _recording(scale, log, record)
    out: dict[str, Any] = {"scale": scale, "latency_ms": latency_ms, "concurrency": concurrency, "replay": True,
                           "machine": machine(), "scenarios": {}}
    with replayed(recording, latency_ms, concurrency) as source:
        out["workload"] = {"counts": source.info["counts"]}
        common = {"url": source.url, "session": source.session, "concurrency": concurrency}
        for i in range(repeat):
            tree = work / f"replay-{i}" / "tree"
            specs = [("cold export", {"what": "export", "tree": str(tree), "write_floor": True, "phases": phases}),
                     ("incremental export", {"what": "export", "tree": str(tree)}),
                     ("plan (no change)", {"what": "plan", "tree": str(tree), "state": str(work / f"state-{i}.json")})]
            specs = specs if plan else specs[:2]
            for name, spec in specs:
                cpu = _cpu_seconds(source.process.pid)
                load = os.getloadavg()[0]
                result = run_child({**common, **spec})
                result["load"] = round(max(load, os.getloadavg()[0]), 1)  # other jobs on the cores meanwhile
                if "error" not in result:
                    result["server_cpu_s"] = round((_cpu_seconds(source.process.pid) or 0) - (cpu or 0), 2)
                limits(result, concurrency, latency_ms)
                out["scenarios"].setdefault(name, []).append(result)
                log(f"  {name:<20} run {i + 1}: " + (f"{result['requests']} requests {result['seconds']:.2f} s, "
                                                     f"mbport CPU {result['client_cpu_s']:.2f} s"
                                                     if "error" not in result else "FAILED: " + result["error"]))
    return out


def replay_markdown(out: dict[str, Any]) -> str:
    """The replay table: the median over the repeated runs, with the range beside it."""
    m = out["machine"]

    def span(values: list[float], fmt: str = "{:.2f}") -> str:
        lo, mid, hi = min(values), statistics.median(values), max(values)
        if fmt.format(lo) == fmt.format(hi):
            return fmt.format(mid)
        return f"{fmt.format(mid)} ({fmt.format(lo)}–{fmt.format(hi)})"

    lines = [
        f"Replay at scale {out['scale']} ({', '.join(f'{k} {v}' for k, v in out['workload']['counts'].items())}); "
        f"latency {out['latency_ms']:g} ms, concurrency {out['concurrency']}; the server's answers replayed at almost "
        f"no CPU. Machine: {m['cpu']}, {m['cores']} cores, {m['memory_gb']} GB, Python {m['python']}. "
        f"Median of {max((len(r) for r in out['scenarios'].values()), default=0)} runs (range); load = the "
        "machine's 1-minute load average around each run.",
        "",
        "| scenario | requests | wall (s) | limit (s) | × limit | mbport CPU (s) | of it kernel (s) | creating the files "
        "alone: kernel (s) | CPU per object (ms) | objects | replay server CPU (s) | load |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, runs in out["scenarios"].items():
        ok = [r for r in runs if "error" not in r]
        if not ok:
            lines.append(f"| {name} | failed | | | | | | | | | | |")
            continue
        objects = ok[0].get("objects") or 0
        floors = [r["write_floor_kernel_s"] for r in ok if "write_floor_kernel_s" in r]
        lines.append(
            f"| {name} | {span([r['requests'] for r in ok], '{:.0f}')} | {span([r['seconds'] for r in ok])} | "
            f"{ok[0]['limit_s']:.2f} | {span([r['ratio_to_limit'] for r in ok])} | "
            f"{span([r['client_cpu_s'] for r in ok])} | {span([r.get('client_kernel_s', 0) for r in ok])} | "
            f"{span(floors) if floors else '–'} | "
            f"{span([r['client_cpu_s'] / objects * 1000 for r in ok], '{:.3f}') if objects else '–'} | {objects} | "
            f"{span([r['server_cpu_s'] for r in ok])} | {span([r.get('load', 0) for r in ok], '{:.1f}')} |")
    for name, runs in out["scenarios"].items():
        staged = [r["phases"] for r in runs if "phases" in r]
        if staged:
            stages = sorted({k for r in staged for k in r}, key=lambda k: (k == "other", -statistics.median(
                [r.get(k, 0) for r in staged])))
            lines += ["", f"{name[0].upper()}{name[1:]}, mbport's thread CPU per stage in seconds (bench/phases.py; "
                      f"median of {len(staged)} runs): " + ", ".join(
                          f"{k} {span([r.get(k, 0) for r in staged])}" for k in stages) + "."]
    start = out.get("start")
    if start:
        runs = start["runs"]
        lines += [
            "",
            f"Start: `mbport --quiet export` of the workload at scale {start['scale']:g} ({start['objects']} objects, "
            f"{runs[0]['requests']} requests, limit {start['limit_s']:.2f} s) in a fresh process (bytecode cached), tree on "
            f"{start['disk']}: wall {span([r['seconds'] for r in runs])} s, CPU {span([r['cpu_s'] for r in runs])} s, "
            f"load {span([r['load'] for r in runs], '{:.1f}')}; importing what it imports "
            f"{span([r['seconds'] for r in start['imports']], '{:.3f}')} s wall, "
            f"{span([r['cpu_s'] for r in start['imports']], '{:.3f}')} s CPU.",
        ]
    return "\n".join(lines) + "\n"


START_IMPORTS = ("import time, resource; t = time.perf_counter(); import mbport.cli, mbport.export, mbport.client; "
                 "from mbport.registry import load_plugins; load_plugins(); u = resource.getrusage("
                 "resource.RUSAGE_SELF); print(time.perf_counter() - t, u.ru_utime + u.ru_stime)")


def run_start(scale: float, latency_ms: float, concurrency: int, work: Path, repeat: int, log=print,
              recording: Path | None = None) -> dict[str, Any]:
    """A whole `mbport --quiet export` process against a replay of a small instance: what a user waits for,
    imports included; and, apart, the time to import what that export imports."""
    recording = recording or _recording(scale, log)
    runs, imports = [], []
    # As an installed mbport starts: with its modules' bytecode cached (pip compiles them at install). Without
    # that (PYTHONDONTWRITEBYTECODE, as in some CI shells) every start compiles mbport's 60 modules first.
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPYCACHEPREFIX"] = str(work / "pycache")
    with replayed(recording, latency_ms, concurrency) as source:
        for i in range(-1, repeat):  # run -1 fills the bytecode cache and is not counted
            tree = work / f"start-{i}" / "tree"
            cmd = [sys.executable, "-m", "mbport", "--quiet", "export", "--url", source.url, "--session-token",
                   source.session, "--out", str(tree), "--concurrency", str(concurrency)]
            if i < 0:
                subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, check=True)
                continue
            load = os.getloadavg()[0]
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            started = time.perf_counter()
            proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
            seconds = time.perf_counter() - started
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            if proc.returncode != 0:
                raise RuntimeError("start run failed: " + (proc.stderr or proc.stdout).strip().splitlines()[-1])
            found = re.search(r"(\d+) requests", proc.stdout + proc.stderr)
            runs.append({"seconds": round(seconds, 3), "load": round(max(load, os.getloadavg()[0]), 1),
                         "cpu_s": round(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime, 3),
                         "requests": int(found.group(1)) if found else None})
            imp = subprocess.run([sys.executable, "-c", START_IMPORTS], cwd=ROOT, env=env, capture_output=True,
                                 text=True)
            if imp.returncode != 0:
                raise RuntimeError("timing the imports failed: " + imp.stderr.strip().splitlines()[-1])
            wall, cpu = map(float, imp.stdout.split())
            imports.append({"seconds": round(wall, 3), "cpu_s": round(cpu, 3)})
            log(f"  start run {i + 1}: {runs[-1]['requests']} requests {seconds:.2f} s, CPU {runs[-1]['cpu_s']:.2f} s, "
                f"imports {wall:.3f} s")
        objects = source.info.get("objects")
    requests = runs[0]["requests"] or 0
    return {"scale": scale, "objects": objects, "runs": runs, "imports": imports, "disk": _disk(work),
            "limit_s": requests / concurrency * latency_ms / 1000}


def _disk(path: Path) -> str:
    """The file system a path is on (tmpfs or a disk), as /proc/mounts says."""
    best = ("", "?")
    with contextlib.suppress(OSError):
        for line in Path("/proc/mounts").read_text().splitlines():
            _, mount, fstype = line.split()[:3]
            if str(path.resolve()).startswith(mount) and len(mount) > len(best[0]):
                best = (mount, fstype)
    return best[1]


def _recording(scale: float, log=print, record: bool = False) -> Path:
    """bench/results/replay-scale-<scale>.pickle, recorded first if missing (or if asked)."""
    recording = RESULTS / f"replay-scale-{scale:g}.pickle"
    if record or not recording.is_file():
        log(f"recording the emulator's answers at scale {scale} ...")
        proc = subprocess.run([sys.executable, "-m", "bench.replay", "record", "--scale", str(scale), "--data-dir",
                               str(RESULTS / "warehouses"), "--out", str(recording)], cwd=ROOT, capture_output=True,
                              text=True)
        if proc.returncode != 0:
            raise RuntimeError("recording failed: " + (proc.stderr or proc.stdout).strip().splitlines()[-1])
    return recording


def _cpu_seconds(pid: int) -> float | None:
    """User + system CPU time of a process (Linux /proc), or None elsewhere."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return None


def machine() -> dict[str, Any]:
    cpu = platform.processor() or platform.machine()
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    mem = None
    with contextlib.suppress(OSError, ValueError):
        mem = round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1)
    return {"cpu": cpu, "cores": os.cpu_count(), "memory_gb": mem, "os": platform.platform(),
            "python": platform.python_version()}


def markdown(out: dict[str, Any]) -> str:
    m = out["machine"]
    lines = [
        f"Scale {out['scale']} ({', '.join(f'{k} {v}' for k, v in out.get('workload', {}).get('counts', {}).items())}); "
        f"latency {out['latency_ms']:g} ms per request, concurrency {out['concurrency']} "
        f"(server serves {out['max_concurrent']} at once). Machine: {m['cpu']}, {m['cores']} cores, "
        f"{m['memory_gb']} GB, {m['os']}, Python {m['python']}.",
        "",
        "| scenario | requests | wall (s) | limit (s) | × limit | sequential (s) | speed-up | peak RSS (MB) "
        "| emulator CPU (s) | mbport CPU (s) | CPU floor (s) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, modes in out["scenarios"].items():
        c, s = modes.get("concurrent", {}), modes.get("sequential", {})
        if "error" in c or not c:
            lines.append(f"| {name} | failed | | | | | | | | | |")
            continue
        ratio = f"{c['ratio_to_limit']:.2f}" if c.get("ratio_to_limit") else "–"
        if c.get("ratio_to_depth_limit"):
            ratio += f" ({c['ratio_to_depth_limit']:.2f} of depth limit {c['depth_limit_s']:.1f} s)"
        seq = f"{s['seconds']:.2f}" if s and "error" not in s else "–"
        speedup = f"{s['seconds'] / c['seconds']:.1f}×" if s and "error" not in s and c["seconds"] else "–"
        lines.append(f"| {name} | {c['requests']} | {c['seconds']:.2f} | {c['limit_s']:.2f} | {ratio} | {seq} | "
                     f"{speedup} | {c['peak_rss_mb']:.0f} | {c.get('server_cpu_s', '–')} | {c.get('client_cpu_s', '–')} | "
                     f"{c.get('cpu_floor_s', '–')} |")
    for name, modes in out["scenarios"].items():
        floor = modes.get("concurrent", {}).get("write_floor_s")
        if floor is not None:
            lines.append(f"\n{name}: writing the tree's files with plain open/write takes {floor:.2f} s on this disk "
                         "(same run); the limit does not count it.")
    for check, ok in out["checks"].items():
        lines.append(f"\n{check}: {'yes' if ok else 'NO'}")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=0.1, help="1.0 = bench-L (default 0.1)")
    parser.add_argument("--latency-ms", type=float, default=20.0)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--results", type=Path, default=RESULTS, help="Folder for the JSON and markdown results.")
    parser.add_argument("--import-only", action="store_true",
                        help="Only import into an empty target and plan again (after one cold export).")
    parser.add_argument("--replay", action="store_true",
                        help="Cold export, incremental export and plan against a replay of the emulator's answers "
                             "(bench/replay.py): mbport's own CPU, as against a Metabase on another host.")
    parser.add_argument("--record", action="store_true", help="With --replay: record the answers again.")
    parser.add_argument("--repeat", type=int, default=3, help="With --replay: runs of each scenario (default 3).")
    parser.add_argument("--start-scale", type=float, default=0.05,
                        help="With --replay: also time whole `mbport --quiet export` processes against a replay of "
                             "this scale (0.05: about 60 requests; 0 to skip).")
    parser.add_argument("--no-plan", action="store_true", help="With --replay: export scenarios only.")
    parser.add_argument("--phases", action="store_true",
                        help="With --replay: also the cold export's CPU per stage (normalizing, requests, writing "
                             "...; bench/phases.py). The timing costs a little CPU of its own.")
    parser.add_argument("--work", type=Path, default=None,
                        help="Where the exported trees go (default: the system's temporary folder; /dev/shm for tmpfs).")
    parser.add_argument("--scenario", help=argparse.SUPPRESS)  # internal: run one scenario (JSON spec)
    args = parser.parse_args(argv)
    if args.scenario:
        print(json.dumps(scenario(json.loads(args.scenario))))
        return
    if args.replay:
        with tempfile.TemporaryDirectory(prefix="mbport-bench-", dir=args.work) as tmp:
            out = run_replay(args.scale, args.latency_ms, args.concurrency, Path(tmp), record=args.record,
                             repeat=args.repeat, plan=not args.no_plan, phases=args.phases)
            if args.start_scale:
                out["start"] = run_start(args.start_scale, args.latency_ms, args.concurrency, Path(tmp), args.repeat)
        args.results.mkdir(parents=True, exist_ok=True)
        stem = f"replay-scale-{args.scale:g}"
        (args.results / f"{stem}.json").write_text(json.dumps(out, indent=2) + "\n")
        (args.results / f"{stem}.md").write_text(replay_markdown(out))
        print()
        print(replay_markdown(out))
        return
    with tempfile.TemporaryDirectory(prefix="mbport-bench-") as tmp:
        out = run(args.scale, args.latency_ms, args.concurrency, Path(tmp), import_only=args.import_only)
    args.results.mkdir(parents=True, exist_ok=True)
    stem = f"scale-{args.scale:g}" + ("-import" if args.import_only else "")
    (args.results / f"{stem}.json").write_text(json.dumps(out, indent=2) + "\n")
    (args.results / f"{stem}.md").write_text(markdown(out))
    print()
    print(markdown(out))
    print(f"Results: {args.results / (stem + '.json')}, {args.results / (stem + '.md')}")


if __name__ == "__main__":
    main()
