"""A command imports only what it uses: an `export --quiet` loads no git, graph, emulator, server, schema or
rich-progress modules, no other command's module, and over plain HTTP not even httpx (the client's own
connections serve it): each costs milliseconds to tens of milliseconds of every start. Checked in a real
process."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.e2e.instances import Served

API_KEY = "mb_StartupTestKey0123456789abcdefghijklmnop"
NOT_FOR_EXPORT = ("git", "networkx", "starlette", "uvicorn", "jsonschema", "rich", "pygments", "mbport.emulator",
                  "mbport.graph", "mbport.engine", "mbport.match", "mbport.plan", "mbport.apply", "mbport.importstate",
                  "mbport.refgraph", "mbport.gitstore", "httpcore", "h11", "idna", "anyio", "certifi",
                  # nor what other commands or other setups need: their command modules (loaded lazily), a proxy
                  # lookup without proxy variables, a TOML parser without mbport.toml
                  "mbport.cli.diff", "mbport.cli.imports", "mbport.cli.verify", "mbport.cli.tree", "urllib.request",
                  "tomllib",
                  # the client reads answers off its sockets itself (http.client would bring the email package)
                  "http.client", "email.parser")
HTTPX = "httpx"  # only the stand-in for its command-line entry point (httpx._main) may be there
REPORT = """
import atexit, json, sys
out = sys.argv.pop(1)
atexit.register(lambda: open(out, "w").write(json.dumps(sorted(sys.modules))))
from mbport.cli import main
main()
"""


def test_export_quiet_imports_only_what_it_uses(tmp_path):
    served = Served(tmp_path, API_KEY)
    try:
        modules = tmp_path / "modules.json"
        proc = subprocess.run([sys.executable, "-c", REPORT, str(modules), "--quiet", "export", "--url", served.url,
                               "--api-key", API_KEY, "--out", str(tmp_path / "tree")],
                              capture_output=True, text=True, timeout=120)
    finally:
        served.stop()
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "tree" / "mbport.json").is_file() or any((tmp_path / "tree").iterdir())
    loaded = json.loads(modules.read_text())
    assert "mbport.export" in loaded and "mbport.client" in loaded  # the probe saw the export itself
    unwanted = sorted(m for m in loaded if any(m == n or m.startswith(n + ".") for n in NOT_FOR_EXPORT)
                      or (m == HTTPX or m.startswith(HTTPX + ".")) and m != "httpx._main")
    assert unwanted == []


TEARDOWN = """
import atexit, sys
from mbport.cli import run

class Torn:
    def __del__(self):
        print("torn down")

kept = Torn()  # freed by the interpreter's teardown, if there is one
atexit.register(lambda: print("exit handler"))
sys.argv = ["mbport", *sys.argv[1:]]
run()
"""


def test_the_program_ends_without_the_interpreters_teardown_but_with_its_exit_handlers_and_codes(tmp_path):
    """`mbport` (the script, `python -m mbport`) skips freeing every module and object at exit (20-40 ms of CPU after
    an export): exit handlers still run, the output is all there, and the exit code is the command's."""
    done = subprocess.run([sys.executable, "-c", TEARDOWN, "--version"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and "mbport" in done.stdout and "exit handler" in done.stdout
    assert "torn down" not in done.stdout
    refused = subprocess.run([sys.executable, "-c", TEARDOWN, "check", str(tmp_path / "nowhere")], capture_output=True,
                             text=True, timeout=60)
    assert refused.returncode != 0 and refused.stderr.strip() and "exit handler" in refused.stdout
