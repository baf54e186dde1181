"""CPU per request of the client's transports: its own keep-alive connections (`_Wire`, over http.client), httpx,
and urllib3 where it is installed (the library `_Wire` would be replaced by if it were no slower).

    .venv/bin/python -m bench.transports [--requests 3000] [--body-kb 2] [--threads 8] [--rounds 3]

A child process answers every request with the same JSON body from an asyncio loop (keep-alive, no latency), so
this process's CPU time (user + system, `time.process_time`) is the client's alone: MetabaseClient.get with its
retries, counting and parsing around each transport, as an export sends them. Prints microseconds per request,
each transport's runs sorted, the transports interleaved round by round.
"""

from __future__ import annotations

import argparse
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

SERVER = """
import asyncio, sys
body = b"[" + b",".join(b'{"id":%d,"name":"card %d","archived":false}' % (i, i) for i in range(int(sys.argv[2]))) + b"]"
answer = b"HTTP/1.1 200 OK\\r\\nContent-Type: application/json\\r\\nContent-Length: %d\\r\\n\\r\\n" % len(body) + body
async def serve(reader, writer):
    try:
        while True:
            head = await reader.readuntil(b"\\r\\n\\r\\n")
            length = [int(line.split(b":")[1]) for line in head.lower().split(b"\\r\\n") if line.startswith(b"content-length:")]
            if length:
                await reader.readexactly(length[0])
            writer.write(answer)
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError):
        writer.close()
async def main():
    server = await asyncio.start_server(serve, "127.0.0.1", int(sys.argv[1]))
    print("ready", flush=True)
    await server.serve_forever()
asyncio.run(main())
"""


class _Urllib3:
    """`_Wire.request` over a urllib3 pool: the same targets, headers and answers; failures left to the client."""

    def __init__(self, wire: Any, size: int):
        import urllib3

        headers = {k: v for k, v in wire.headers.items() if k not in ("Host", "Connection")}
        self.wire = wire
        self.pool = urllib3.HTTPConnectionPool(wire.host, wire.port, maxsize=size, block=True, retries=False,
                                               timeout=urllib3.Timeout(connect=10, read=wire.timeout), headers=headers)

    def request(self, method: str, path: str, params: Any, json: Any, headers: dict[str, str]) -> Any:
        import orjson

        from mbport.client import _WireResponse

        body = None if json is None else orjson.dumps(json)
        resp = self.pool.urlopen(method, self.wire._target(path, params), body=body,
                                 headers={**self.pool.headers, **headers}, retries=False, redirect=False,
                                 assert_same_host=False, pool_timeout=self.wire.timeout)
        return _WireResponse(resp.status, resp.headers, resp.data)

    def close(self) -> None:
        self.pool.close()


def client(url: str, transport: str, threads: int) -> Any:
    from mbport.client import MetabaseClient

    if transport == "httpx":
        import httpx

        return MetabaseClient(url, api_key="mb_bench", concurrency=threads, transport=httpx.HTTPTransport())
    api = MetabaseClient(url, api_key="mb_bench", concurrency=threads)
    assert api._wire is not None, "a proxy variable is set: the client would not use its own connections"
    if transport == "urllib3":
        api._wire = _Urllib3(api._wire, threads)  # type: ignore[assignment]
    return api


def cpu_per_request(api: Any, requests: int, threads: int) -> float:
    for _ in range(20):  # connections made, modules imported
        api.get("/api/card")
    started = time.process_time()
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(lambda _: api.get("/api/card", params={"f": "all"}), range(requests)))
    return (time.process_time() - started) / requests * 1e6


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--body-kb", type=float, default=2.0, help="Size of the JSON answer (default 2 KB).")
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    transports = ["wire", "httpx"]
    try:
        import urllib3  # noqa: F401
        transports.append("urllib3")
    except ImportError:
        print("urllib3 is not installed: comparing the wire with httpx only", file=sys.stderr)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    rows = max(1, int(args.body_kb * 1024 / 42))
    server = subprocess.Popen([sys.executable, "-c", SERVER, str(port), str(rows)], stdout=subprocess.PIPE, text=True)
    try:
        assert server.stdout is not None and server.stdout.readline().strip() == "ready"
        results: dict[str, list[float]] = {t: [] for t in transports}
        for _ in range(args.rounds):
            for transport in transports:
                with client(f"http://127.0.0.1:{port}", transport, args.threads) as api:
                    results[transport].append(cpu_per_request(api, args.requests, args.threads))
    finally:
        server.terminate()
        server.wait()
    for transport, runs in results.items():
        print(f"{transport:8s} " + " ".join(f"{us:.0f}" for us in sorted(runs)) + " us of CPU per request")


if __name__ == "__main__":
    main()
