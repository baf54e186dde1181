"""httpx transports that hand requests straight to an in-process Emulator (no sockets)."""

from __future__ import annotations

import httpx

from .app import ApiRequest, Emulator


def _to_api_request(request: httpx.Request, body: bytes) -> ApiRequest:
    return ApiRequest.build(
        request.method, request.url.path, request.url.query.decode(), dict(request.headers), body
    )


def _to_httpx(resp, request: httpx.Request) -> httpx.Response:
    content, ctype = resp.encode()
    headers = dict(resp.headers)
    if ctype:
        headers["content-type"] = ctype
    return httpx.Response(resp.status, headers=headers, content=content, request=request)


class EmulatorTransport(httpx.BaseTransport):
    def __init__(self, emulator: Emulator):
        self.emulator = emulator

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        body = request.read()
        return _to_httpx(self.emulator.handle(_to_api_request(request, body)), request)


class AsyncEmulatorTransport(httpx.AsyncBaseTransport):
    def __init__(self, emulator: Emulator):
        self.emulator = emulator

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        body = await request.aread()
        return _to_httpx(self.emulator.handle(_to_api_request(request, body)), request)
