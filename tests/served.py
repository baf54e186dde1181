"""`mbport emulator serve` in a subprocess on a free port, for tests that need real HTTP."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

STARTUP_TIMEOUT = 15.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def mbport_command(*args: str) -> list[str]:
    """The CLI run by this interpreter (works without the console script on PATH)."""
    return [sys.executable, "-c", "from mbport.cli import main; main()", *args]


def wait_until_up(proc: subprocess.Popen, base_url: str, timeout: float = STARTUP_TIMEOUT) -> None:
    """Poll the anonymous properties endpoint until it answers (bounded); fail if the server exits."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"the server exited early with code {proc.returncode}")
        try:
            if httpx.get(f"{base_url}/api/session/properties", timeout=0.5).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"the server did not answer within {timeout} s")


def serve(log: Path, *args: str, base_path: str = "") -> tuple[subprocess.Popen, str]:
    """Start `mbport emulator serve --port <free> ARGS [--base-path P]`, logging to `log`; returns (process,
    base URL, the base path included)."""
    port = free_port()
    url = f"http://127.0.0.1:{port}{base_path}"
    if base_path:
        args = (*args, "--base-path", base_path)
    with log.open("wb") as out:
        proc = subprocess.Popen(mbport_command("emulator", "serve", "--port", str(port), *args),
                                stdout=out, stderr=subprocess.STDOUT)
    try:
        wait_until_up(proc, url)
    except AssertionError as exc:
        proc.kill()
        proc.wait(10)
        raise AssertionError(f"{exc}\n{log.read_text()}") from None
    return proc, url


def stop(proc: subprocess.Popen, sig: int = signal.SIGTERM) -> int:
    """Stop a served emulator the way a user does (it removes its temporary files); its exit code."""
    proc.send_signal(sig)
    try:
        return proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=5)
        raise AssertionError("the server did not stop within 10 s of the signal") from None
