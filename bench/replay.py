"""A replay server: every answer of an emulator recorded once, then served at almost no CPU, like a Metabase on
another host.

    python -m bench.replay record --scale 1.0 --out bench/results/replay-1.pickle
    python -m bench.replay serve --recording bench/results/replay-1.pickle --port P --latency-ms 20 --max-concurrent 8

`record` builds the benchmark workload in an in-process emulator and runs mbport's cold export, incremental
export and plan against it through a recording transport: every (method, path, query) → (status, content
type, body bytes). `serve` answers them from an asyncio event loop: each response is encoded once, at load
(status line, headers and body in one bytes object), so serving one costs a dictionary lookup and a socket
write — no JSON, no emulator, no thread per request. Each request is answered `--latency-ms` late and at most
`--max-concurrent` are served at once (Metabase's thread pool); HTTP/1.1 keep-alive as Metabase's Jetty does.
A request that was not recorded gets a 404 with a JSON body naming it (and is counted in the log line that
`serve` prints when it stops).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import pickle
import shutil
import signal
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

Key = tuple[str, str]  # (method, path?sorted-query)
REASONS = {200: "OK", 202: "Accepted", 204: "No Content", 400: "Bad Request", 401: "Unauthorized",
           402: "Payment Required", 403: "Forbidden", 404: "Not Found", 500: "Server Error"}


def request_key(method: str, target: str) -> Key:
    """The lookup key of a request: its method and path with the query parameters in sorted order."""
    path, _, query = target.partition("?")
    return method.upper(), (path + "?" + "&".join(sorted(query.split("&")))) if query else path


# ---------------------------------------------------------------- recording

class RecordingTransport(httpx.BaseTransport):
    """Passes requests to another transport and keeps the first answer to each (method, path, query)."""

    def __init__(self, inner: httpx.BaseTransport):
        self.inner = inner
        self.answers: dict[Key, tuple[int, str, bytes]] = {}

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        resp = self.inner.handle_request(request)
        body = resp.read()
        target = request.url.raw_path.decode("ascii")
        self.answers.setdefault(request_key(request.method, target),
                                (resp.status_code, resp.headers.get("content-type", ""), body))
        return httpx.Response(resp.status_code, headers=resp.headers, content=body, request=request)


def record(scale: float, data_dir: Path, out: Path, keep_tree: Path | None = None) -> dict[str, Any]:
    """Build the workload, run cold export, incremental export and plan through a recorder; write `out` (and
    with `keep_tree`, a copy of the exported tree there)."""
    from mbport.client import MetabaseClient
    from mbport.emulator import Emulator
    from mbport.export import run_export
    from mbport.importing import ImportOptions, open_import
    from mbport.registry import load_plugins

    from .workload import build

    emu = Emulator()
    built = build(emu, scale, data_dir.resolve())
    recorder = RecordingTransport(emu.transport())
    registry = load_plugins()
    with tempfile.TemporaryDirectory(prefix="mbport-replay-") as tmp, \
            MetabaseClient("http://replay.test", session_token=built.session, transport=recorder) as api:
        tree = Path(tmp) / "tree"
        result = run_export(api, registry, tree)  # cold (fills the fetch cache)
        run_export(api, registry, tree)  # incremental
        importer = open_import(api, tree, ImportOptions(state=Path(tmp) / "state.json"), registry=registry)
        importer.plan()
        objects = sum(result.counts.values())
        if keep_tree is not None:
            shutil.copytree(tree, keep_tree)
    data = {"session": built.session, "counts": built.counts, "objects": objects, "scale": scale,
            "answers": recorder.answers}
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(pickle.dumps(data, protocol=pickle.HIGHEST_PROTOCOL))
    return data


# ---------------------------------------------------------------- serving

def encode(status: int, ctype: str, body: bytes) -> bytes:
    head = f"HTTP/1.1 {status} {REASONS.get(status, 'Status')}\r\nContent-Length: {len(body)}\r\n"
    if ctype:
        head += f"Content-Type: {ctype}\r\n"
    return (head + "\r\n").encode("latin-1") + body


class Replay:
    """The recorded answers, pre-encoded, served with latency and a cap on requests served at once."""

    def __init__(self, answers: dict[Key, tuple[int, str, bytes]], latency_ms: float, max_concurrent: int | None):
        self.wire = {key: encode(*answer) for key, answer in answers.items()}
        self.latency = latency_ms / 1000
        self.max_concurrent = max_concurrent
        self.served = 0
        self.unknown: list[Key] = []

    def answer(self, method: str, target: str) -> bytes:
        key = request_key(method, target)
        wire = self.wire.get(key)
        if wire is None:
            self.unknown.append(key)
            return encode(404, "application/json", json.dumps({"message": f"not recorded: {key[0]} {key[1]}"}).encode())
        self.served += 1
        return wire

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, gate: asyncio.Semaphore | None):
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.split(b"\r\n")
                method, target, _ = lines[0].decode("latin-1").split(" ", 2)
                length = next((int(line.split(b":", 1)[1]) for line in lines[1:]
                               if line[:15].lower() == b"content-length:"), 0)
                if length:
                    await reader.readexactly(length)
                if gate is not None:
                    async with gate:
                        await asyncio.sleep(self.latency)
                elif self.latency:
                    await asyncio.sleep(self.latency)
                writer.write(self.answer(method, target))
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError):
            pass
        finally:
            writer.close()

    async def serve(self, host: str, port: int, ready=None) -> None:
        gate = asyncio.Semaphore(self.max_concurrent) if self.max_concurrent else None
        server = await asyncio.start_server(lambda r, w: self.handle(r, w, gate), host, port, limit=1 << 20)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        if ready is not None:
            ready()
        async with server:
            await stop.wait()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    rec = sub.add_parser("record", help="Build the workload and record mbport's requests against it.")
    rec.add_argument("--scale", type=float, default=0.1)
    rec.add_argument("--data-dir", type=Path, default=Path("bench/results/warehouses"))
    rec.add_argument("--out", type=Path, required=True)
    srv = sub.add_parser("serve", help="Serve a recording (prints one JSON line when listening).")
    srv.add_argument("--recording", type=Path, required=True)
    srv.add_argument("--port", type=int, required=True)
    srv.add_argument("--latency-ms", type=float, default=20.0)
    srv.add_argument("--max-concurrent", type=int, default=8)
    args = parser.parse_args(argv)
    if args.command == "record":
        started = time.perf_counter()
        data = record(args.scale, args.data_dir, args.out)
        print(json.dumps({"answers": len(data["answers"]), "objects": data["objects"],
                          "seconds": round(time.perf_counter() - started, 1)}))
        return
    data = pickle.loads(args.recording.read_bytes())
    replay = Replay(data["answers"], args.latency_ms, args.max_concurrent)

    def ready() -> None:
        print(json.dumps({"session": data["session"], "counts": data["counts"], "objects": data["objects"]}), flush=True)

    asyncio.run(replay.serve("127.0.0.1", args.port, ready))
    print(json.dumps({"served": replay.served, "unknown": [" ".join(k) for k in replay.unknown[:20]]}),
          file=sys.stderr, flush=True)


if __name__ == "__main__":
    main()
