"""Serve an Emulator over real HTTP: a Starlette app around Emulator.handle, run by uvicorn."""

from __future__ import annotations

import asyncio
import errno
import signal
import socket
import threading

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response as StarletteResponse
from starlette.routing import Route

from .app import ApiRequest, Emulator
from .faults import ConnectionDropped, SlowResponse

RAW_SEND = "mbport.raw_send"  # scope key: the server's own `send`, to reach the connection behind it


def _drop_connection(scope) -> bool:
    """Close the client's connection without an answer (uvicorn: the send callable's transport)."""
    transport = getattr(getattr(scope.get(RAW_SEND), "__self__", None), "transport", None)
    if transport is None:
        return False
    transport.close()
    return True


def asgi_app(emulator: Emulator):
    async def endpoint(request: Request) -> StarletteResponse:
        body = await request.body()
        api_req = ApiRequest.build(
            request.method, request.url.path, request.url.query, dict(request.headers), body
        )
        try:
            resp = await run_in_threadpool(emulator.handle, api_req)
        except SlowResponse as slow:
            await asyncio.sleep(slow.delay)
            resp = slow.response
        except ConnectionDropped:
            if not _drop_connection(request.scope):
                raise  # a server we cannot reach into: at least no answer from the emulator
            return StarletteResponse(b"", status_code=500)  # written to a closed connection: never seen
        content, ctype = resp.encode()
        headers = dict(resp.headers)
        return StarletteResponse(content, status_code=resp.status, headers=headers, media_type=ctype)

    methods = ["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"]
    app = Starlette(routes=[Route("/{path:path}", endpoint, methods=methods)])

    async def outer(scope, receive, send):
        if scope["type"] == "http":
            scope[RAW_SEND] = send  # Starlette's middleware wraps `send`; dropping needs the server's own
        await app(scope, receive, send)

    return outer


def bind(host: str, port: int) -> socket.socket:
    """The listening socket, bound before anything is announced: a busy port is one clear error, not a
    "listening on" line followed by the server's own complaint."""
    from ..errors import MbportError

    try:
        family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][0]
    except socket.gaierror as exc:
        raise MbportError(f"--host {host!r}: not an address of this machine ({exc.strerror})") from None
    try:
        return socket.create_server((host, port), family=family)
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            raise MbportError(f"port {port} on {host} is already in use",
                              hint="stop what listens there, or choose another port with --port") from None
        raise MbportError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None


def serve(emulator: Emulator, host: str = "127.0.0.1", port: int = 3000, log_level: str = "warning",
          sock: socket.socket | None = None) -> None:
    """Serve (on `sock` when it is already bound) until SIGINT or SIGTERM: uvicorn shuts down, then raises
    the signal again for the process's own handler."""
    import uvicorn

    stop_on_sigterm()
    sock = sock or bind(host, port)
    server = uvicorn.Server(uvicorn.Config(asgi_app(emulator), log_level=log_level))
    original_serve = server.serve
    made: list = []

    def serve_tracked(*args, **kwargs):
        made.append(original_serve(*args, **kwargs))
        return made[-1]

    server.serve = serve_tracked  # type: ignore[method-assign]
    try:
        server.run(sockets=[sock])
    finally:
        # A kill after uvicorn made its coroutine but before the loop ran it (right after "listening on") would
        # leave it unstarted, and the interpreter would report it "never awaited", traceback and all, at exit.
        for coroutine in made:
            coroutine.close()
        sock.close()


def stop_on_sigterm() -> None:
    """A `kill` stops the server like Ctrl-C: while serving, uvicorn shuts down first and then raises the signal
    again for this handler; the run ends as an interrupted one (exit 130; atexit removes the temporary
    warehouse files). Installed before setup and seeding, so a kill at any moment cleans up."""
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _interrupt)
        # Ctrl-C too: finding Python's default SIGINT handler, asyncio.run puts in its own, which only cancels the
        # main task; uvicorn raises the captured SIGINT again as the last step of that task, with no await left to
        # cancel, so the run sometimes ended as a normal one (exit 0, no "Interrupted.").
        signal.signal(signal.SIGINT, _interrupt)


def _interrupt(_signum, _frame) -> None:
    raise KeyboardInterrupt
