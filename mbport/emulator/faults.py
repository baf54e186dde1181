"""Injected faults: the failures a real Metabase behind a proxy produces, seeded so a run can be repeated.

`emu.faults = FaultPlan(rate=0.1, seed=7)` makes about one request in ten fail in one of these ways:

- `500`: Metabase's own JSON error (message/trace/via), here a connection-pool timeout; nothing was written.
- `502` / `503`: the HTML or plain-text page a reverse proxy answers when Metabase is down or restarting.
- `429`: a rate limiter's answer with `Retry-After`.
- `slow`: the request is processed but the answer comes later than the client waits (`slow_seconds`).
- `drop-before`: the connection closes before the request is processed (nothing was written).
- `drop-after`: the request is processed, then the connection closes: the write happened, its answer is lost.
- `409`: a PUT of a permissions graph meets "a concurrent edit": the stored revision moves on and the PUT
  is refused, as Metabase does when an admin saved the graph in between.

Whether a request fails, and how, is a pure function of (seed, method, path, query, how many times this same
request was seen), so a run repeats exactly even when requests are sent from several threads at once.
The transports and the HTTP server turn `ConnectionDropped` into a lost connection and `SlowResponse`
into a late answer (a read timeout for an httpx client that waits less).
"""

from __future__ import annotations

import hashlib
import re
import threading
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from .app import ApiRequest, Response

ALL_KINDS = ("500", "502", "503", "429", "slow", "drop-before", "drop-after", "409")
# Paths whose PUT carries a revision that a concurrent edit makes stale, and where the emulator keeps it.
GRAPH_STORES = {"/api/permissions/graph": "data_permissions", "/api/collection/graph": "collection_permissions"}

PROXY_502 = (
    "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad Gateway</h1></center>\r\n"
    "<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
)
PROXY_503 = "upstream connect error or disconnect/reset before headers. reset reason: connection failure"
POOL_TIMEOUT = "HikariPool-1 - Connection is not available, request timed out after 30000ms."
REVISION_CONFLICT = (
    "Looks like someone else edited the permissions and your data is out of date. Please fetch new data and try again."
)


class InjectedFault(Exception):
    """Base of the faults that are not an HTTP answer: the transport or server decides what the client sees."""


class ConnectionDropped(InjectedFault):
    """Close the connection without an answer; `processed` says whether the request was served first."""

    def __init__(self, processed: bool):
        super().__init__(f"connection dropped {'after' if processed else 'before'} processing")
        self.processed = processed


class SlowResponse(InjectedFault):
    """Send `response`, but only after `delay` seconds (the request has been processed)."""

    def __init__(self, delay: float, response: Response):
        super().__init__(f"response delayed by {delay:g} s")
        self.delay = delay
        self.response = response


def metabase_500(message: str = POOL_TIMEOUT) -> Response:
    """A 500 as Metabase renders an unexpected exception: JSON with message, trace and via."""
    return Response(500, {
        "message": message,
        "trace": ["com.zaxxer.hikari.pool.HikariPool.createTimeoutException(HikariPool.java:696)",
                  "metabase.db.connection$fn__12345.invoke(connection.clj:132)"],
        "via": [{"type": "java.sql.SQLTransientConnectionException", "message": message}],
    })


def _proxy_page(status: int) -> Response:
    if status == 502:
        return Response(502, PROXY_502.encode(), {"content-type": "text/html"})
    return Response(503, PROXY_503)


def _credentials(req: ApiRequest) -> bool:
    return bool(req.headers.get("x-metabase-session") or req.headers.get("x-api-key")
                or "metabase.SESSION" in req.cookies)


def _matching(pattern: str) -> Callable[[ApiRequest], bool]:
    """`only` given as a regex: a predicate searching it in "METHOD /path"."""
    search = re.compile(pattern).search
    return lambda req: search(f"{req.method} {req.path}") is not None


@dataclass
class FaultPlan:
    """Which requests fail and how. `only` limits faults to some requests: a regex matched against
    "METHOD /path" or a predicate on the ApiRequest. `kinds` is a subset of ALL_KINDS (409 only ever hits
    a permissions-graph PUT; other requests drawn for it get no fault)."""

    rate: float = 0.0
    seed: int = 0
    kinds: Sequence[str] = ALL_KINDS
    only: str | Callable[[ApiRequest], bool] | None = None
    retry_after: float = 1.0  # seconds a 429 asks the client to wait
    slow_seconds: float = 35.0  # longer than the client's default 30 s read timeout
    emulator: Any = None  # set by Emulator when the plan is installed on it; used for the graph revisions
    injected: Counter = field(default_factory=Counter)  # fault kind → times injected
    log: list[tuple[str, str, str]] = field(default_factory=list)  # (kind, method, path) of every fault

    def __post_init__(self) -> None:
        self.kinds = tuple(self.kinds)
        unknown = [k for k in self.kinds if k not in ALL_KINDS]
        if unknown:
            raise ValueError(f"unknown fault kind {unknown[0]!r} (known: {', '.join(ALL_KINDS)})")
        if not 0.0 <= self.rate <= 1.0:
            raise ValueError(f"fault rate must be between 0 and 1, not {self.rate}")
        self._seen: Counter = Counter()
        self._lock = threading.Lock()
        self._only = _matching(self.only) if isinstance(self.only, str) else self.only

    # ---- the decision ----
    def _draw(self, req: ApiRequest) -> str | None:
        if self.rate <= 0 or not self.kinds or self._exempt(req):
            return None
        if self._only is not None and not self._only(req):
            return None
        query = "&".join(f"{k}={v}" for k, v in req.query)
        key = f"{req.method} {req.path}?{query}"
        with self._lock:
            self._seen[key] += 1
            n = self._seen[key]
        digest = hashlib.sha256(f"{self.seed}\0{key}\0{n}".encode()).digest()
        roll = int.from_bytes(digest[:8], "big") / 2**64
        if roll >= self.rate:
            return None
        kind = self.kinds[int.from_bytes(digest[8:16], "big") % len(self.kinds)]
        if kind == "409" and not (req.method == "PUT" and req.path in GRAPH_STORES):
            return None
        return kind

    @staticmethod
    def _exempt(req: ApiRequest) -> bool:
        """Setup and the anonymous properties probe (readiness checks, setup token) are never faulted."""
        if req.path.startswith("/api/setup"):
            return True
        return req.path == "/api/session/properties" and not _credentials(req)

    def _record(self, kind: str, req: ApiRequest) -> None:
        with self._lock:
            self.injected[kind] += 1
            self.log.append((kind, req.method, req.path))

    # ---- the Emulator's hooks ----
    def before(self, req: ApiRequest) -> Response | None:
        """Called before the request is served: an answer instead of serving it, or None to serve it."""
        kind = self._draw(req)
        req.__dict__["_fault"] = kind  # remembered for `after` (one ApiRequest per request)
        if kind is None or kind in ("slow", "drop-after"):
            return None
        self._record(kind, req)
        if kind == "500":
            return metabase_500()
        if kind in ("502", "503"):
            return _proxy_page(int(kind))
        if kind == "429":
            return Response(429, "Too Many Requests", {"retry-after": f"{self.retry_after:g}"})
        if kind == "drop-before":
            raise ConnectionDropped(processed=False)
        if kind == "409":
            self._concurrent_edit(req.path)
            return Response(409, REVISION_CONFLICT)
        raise AssertionError(kind)  # pragma: no cover

    def after(self, req: ApiRequest, resp: Response) -> Response:
        """Called with the served answer: the same answer, or a lost/late one."""
        kind = req.__dict__.get("_fault")
        if kind == "drop-after":
            self._record(kind, req)
            raise ConnectionDropped(processed=True)
        if kind == "slow":
            self._record(kind, req)
            raise SlowResponse(self.slow_seconds, resp)
        return resp

    def _concurrent_edit(self, path: str) -> None:
        """Someone else saved the graph: its revision moves on, so the PUT's revision is stale."""
        if self.emulator is None:
            return
        with self.emulator.state.lock:
            store = self.emulator.state.extra.get(GRAPH_STORES[path])
            if isinstance(store, dict) and "revision" in store:
                store["revision"] += 1

    @property
    def total(self) -> int:
        return sum(self.injected.values())
