"""httpx transports that hand requests straight to an in-process Emulator (no sockets)."""

from __future__ import annotations

import time

import httpx

from .app import ApiRequest, Emulator
from .faults import ConnectionDropped, SlowResponse


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


def _serve(emulator: Emulator, request: httpx.Request, body: bytes):
    """Emulator.handle, with injected faults shown to httpx as a real network would show them."""
    try:
        return emulator.handle(_to_api_request(request, body))
    except ConnectionDropped:
        raise httpx.RemoteProtocolError("Server disconnected without sending a response.", request=request) from None
    except SlowResponse as slow:
        # No socket enforces the client's read timeout in-process: honour it here.
        read_timeout = (request.extensions.get("timeout") or {}).get("read")
        if read_timeout is not None and slow.delay > read_timeout:
            time.sleep(read_timeout)
            raise httpx.ReadTimeout("timed out", request=request) from None
        time.sleep(slow.delay)
        return slow.response


class EmulatorTransport(httpx.BaseTransport):
    def __init__(self, emulator: Emulator):
        self.emulator = emulator

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        body = request.read()
        return _to_httpx(_serve(self.emulator, request, body), request)


class AsyncEmulatorTransport(httpx.AsyncBaseTransport):
    def __init__(self, emulator: Emulator):
        self.emulator = emulator

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        body = await request.aread()
        return _to_httpx(_serve(self.emulator, request, body), request)
