"""Serve an Emulator over real HTTP: a Starlette app around Emulator.handle, run by uvicorn."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response as StarletteResponse
from starlette.routing import Route

from .app import ApiRequest, Emulator


def asgi_app(emulator: Emulator) -> Starlette:
    async def endpoint(request: Request) -> StarletteResponse:
        body = await request.body()
        api_req = ApiRequest.build(
            request.method, request.url.path, request.url.query, dict(request.headers), body
        )
        resp = await run_in_threadpool(emulator.handle, api_req)
        content, ctype = resp.encode()
        headers = dict(resp.headers)
        return StarletteResponse(content, status_code=resp.status, headers=headers, media_type=ctype)

    methods = ["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"]
    return Starlette(routes=[Route("/{path:path}", endpoint, methods=methods)])


def serve(emulator: Emulator, host: str = "127.0.0.1", port: int = 3000, log_level: str = "warning") -> None:
    import uvicorn

    uvicorn.run(asgi_app(emulator), host=host, port=port, log_level=log_level)
