"""A benchmark Metabase: the emulator with the workload built in-process, then served over HTTP with latency.

`python -m bench.server --port P --scale S --latency-ms 20 --max-concurrent 8 [--empty]` builds the workload
at full speed (no latency while building), prints one JSON line (admin session, counts, build time) and
serves until killed. The runner starts one per instance, so the client under test never shares a process
(or the GIL) with the server, as against a real Metabase.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from mbport.emulator import Emulator, bootstrap, server

from .workload import ADMIN_EMAIL, ADMIN_PASSWORD, build


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--scale", type=float, default=0.01)
    parser.add_argument("--latency-ms", type=float, default=0.0)
    parser.add_argument("--max-concurrent", type=int, default=None)
    parser.add_argument("--data-dir", type=Path, default=Path("bench/results/warehouses"))
    parser.add_argument("--empty", action="store_true", help="Only set up the admin (an import target).")
    args = parser.parse_args(argv)
    emu = Emulator(max_concurrent=args.max_concurrent)
    if args.empty:
        info = {"session": bootstrap.setup_admin(emu, ADMIN_EMAIL, ADMIN_PASSWORD), "counts": {}, "requests": 0,
                "seconds": 0.0}
    else:
        built = build(emu, args.scale, args.data_dir.resolve())
        info = {"session": built.session, "counts": built.counts, "requests": built.requests,
                "seconds": round(built.seconds, 2)}
    emu.latency_ms = args.latency_ms  # from now on every request costs this much, as on a real server
    print(json.dumps(info), flush=True)
    sys.stdout.flush()
    server.serve(emu, host="127.0.0.1", port=args.port)


if __name__ == "__main__":
    main()
