"""The emulator's request pipeline: auth, paging middleware, spec validation, dispatch, error rendering."""

from __future__ import annotations

import hashlib
import importlib
import pkgutil
import re
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import parse_qsl

import orjson

from . import errors, models, premium, spec
from .profiles import Profile, get_profile
from .router import Router, registered_routes
from .store import Row, State

SESSION_COOKIE = "metabase.SESSION"


@dataclass
class ApiRequest:
    method: str
    path: str
    query: list[tuple[str, str]] = field(default_factory=list)
    headers: dict[str, str] = field(default_factory=dict)  # lower-cased names, like Ring
    body: bytes = b""
    cookies: dict[str, str] = field(default_factory=dict)

    @classmethod
    def build(cls, method: str, path: str, query_string: str, headers: dict[str, str], body: bytes) -> ApiRequest:
        lowered = {k.lower(): v for k, v in headers.items()}
        cookies = {}
        for part in lowered.get("cookie", "").split(";"):
            if "=" in part:
                k, v = part.strip().split("=", 1)
                cookies[k] = v
        return cls(method.upper(), path, parse_qsl(query_string, keep_blank_values=True), lowered, body, cookies)


@dataclass
class Response:
    status: int = 200
    body: Any = None  # bytes/str are sent as given, anything else as JSON
    headers: dict[str, str] = field(default_factory=dict)

    def encode(self) -> tuple[bytes, str | None]:
        if self.status == 204 or self.body is None and self.status != 200:
            return b"", None
        if isinstance(self.body, bytes):
            return self.body, self.headers.get("content-type", "application/octet-stream")
        if isinstance(self.body, str):
            return self.body.encode(), "text/plain; charset=utf-8"
        return orjson.dumps(self.body, option=orjson.OPT_NON_STR_KEYS), "application/json;charset=utf-8"


NO_CONTENT = Response(204)


@dataclass
class Paging:
    limit: int
    offset: int

    def slice(self, items: list[Any]) -> list[Any]:
        return items[self.offset : self.offset + self.limit]


@dataclass
class Ctx:
    """What a handler sees: the state, the caller, and the request's coerced parameters and body."""

    emulator: Emulator
    state: State
    request: ApiRequest
    user: Row  # the caller; empty for a public route called without a session (`signed_in` is False)
    query: dict[str, Any]
    body: Any
    paging: Paging | None
    response_headers: dict[str, str] = field(default_factory=dict)

    @property
    def profile(self) -> Profile:
        return self.state.profile

    @property
    def signed_in(self) -> bool:
        return bool(self.user)

    @property
    def is_superuser(self) -> bool:
        return bool(self.user and self.user.get("is_superuser"))

    def require_superuser(self) -> None:
        if not self.is_superuser:
            raise errors.forbidden()

    def page(self, items: list[Any]) -> list[Any]:
        return self.paging.slice(items) if self.paging else items


def _route_modules() -> list[Any]:
    from . import routes

    return [importlib.import_module(f"{routes.__name__}.{m.name}") for m in pkgutil.iter_modules(routes.__path__)]


def _parse_long(text: str) -> int | None:
    """Clojure's parse-long: an optionally signed decimal integer, else None."""
    return int(text) if re.fullmatch(r"[+-]?[0-9]+", text) else None


def hash_api_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


# What nginx answers for a path it does not forward (the emulator under --base-path plays the proxy too).
PROXY_NOT_FOUND = (b"<html>\r\n<head><title>404 Not Found</title></head>\r\n<body>\r\n<center><h1>404 Not Found"
                   b"</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n")


def normalize_base_path(path: str | None) -> str:
    """`metabase/` -> `/metabase`; empty for the root."""
    path = (path or "").strip().strip("/")
    return f"/{path}" if path else ""


SQLITE_ACTIONS_KEY = "sqlite_actions"  # state.extra: see Emulator.sqlite_actions
SQLITE_TRANSFORMS_KEY = "sqlite_transforms"  # state.extra: see Emulator.sqlite_transforms


class Emulator:
    """A Metabase instance in memory. `handle` is the whole server; transports and servers wrap it."""

    def __init__(self, profile: str | Profile | None = None, *, latency_ms: float = 0.0,
                 max_concurrent: int | None = None, premium_features: str | Iterable[str] | None = None,
                 base_path: str = "", sqlite_actions: bool = False, sqlite_transforms: bool = False):
        _route_modules()  # importing them registers the routes
        # Metabase behind a reverse proxy under a path (site URL https://example.com/metabase): the proxy
        # strips the prefix; what is outside it is the proxy's own 404 page, never Metabase's.
        self.base_path = normalize_base_path(base_path)
        self.state = State(profile if isinstance(profile, Profile) else get_profile(profile))
        # Premium features (premium.FEATURES, or "all") make this an Enterprise build with a token; none: OSS.
        self.premium_features = premium_features
        self.sqlite_actions = sqlite_actions
        self.sqlite_transforms = sqlite_transforms
        # Areas that own built-in rows (the Trash, the two magic groups, ...) create them here.
        models.init_state(self.state)
        self.router = Router(registered_routes())
        # (method, path, status, query) of every request, for tests and the request-count benchmarks.
        self.request_log: list[tuple[str, str, int]] = []
        # A real Metabase answers in tens of milliseconds and serves a bounded number of requests at once
        # (its Jetty thread pool); these knobs imitate that for benchmarks, in-process and served alike.
        self.latency_ms = latency_ms
        self._slots = threading.BoundedSemaphore(max_concurrent) if max_concurrent else None
        # Fault injection (see faults.py): consulted before and after each request when set.
        self._faults = None
        # Requests that Metabase's spec rejects (400 from validation) or that hit no route: tests fail on these.
        self.spec_violations: list[str] = []

    @property
    def premium_features(self) -> frozenset[str]:
        return self.state.extra.get(premium.KEY, frozenset())

    @premium_features.setter
    def premium_features(self, spec: str | Iterable[str] | None) -> None:
        features = premium.parse(spec)
        self.state.extra[premium.KEY] = features
        # Only Enterprise builds have premium features (Profile.enterprise: the v1.x.y version tag).
        if bool(features) != self.state.profile.enterprise:
            tag = self.state.profile.tag
            self.state.profile = replace(self.state.profile, tag=("v1." if features else "v0.") + tag[3:])

    @property
    def sqlite_actions(self) -> bool:
        """An emulator-only licence: SQLite databases claim the driver's `actions` feature, which Metabase's SQLite
        driver does not have (so `database-enable-actions` and model actions are refused on them, as on a real
        server). The emulator's warehouses are SQLite files, so content with model actions (the `sample` and
        `handmade` seeds, and an import of their trees) needs this on; seeds that need it declare
        `SQLITE_ACTIONS = True` and `seeds.load` turns it on. Off by default."""
        return bool(self.state.extra.get(SQLITE_ACTIONS_KEY))

    @sqlite_actions.setter
    def sqlite_actions(self, on: bool) -> None:
        from .models import databases

        with self.state.lock:
            self.state.extra[SQLITE_ACTIONS_KEY] = bool(on)
            databases.refresh_features(self.state)

    @property
    def sqlite_transforms(self) -> bool:
        """An emulator-only licence like sqlite_actions: SQLite databases claim the driver features transforms
        need (`transforms/table`, `transforms/python`), so a transform may target them; without it Metabase's
        "The database does not support the requested transform features." (400). Seeds with transforms declare
        `SQLITE_TRANSFORMS = True`. Off by default."""
        return bool(self.state.extra.get(SQLITE_TRANSFORMS_KEY))

    @sqlite_transforms.setter
    def sqlite_transforms(self, on: bool) -> None:
        from .models import databases

        with self.state.lock:
            self.state.extra[SQLITE_TRANSFORMS_KEY] = bool(on)
            databases.refresh_features(self.state)

    @property
    def faults(self):
        return self._faults

    @faults.setter
    def faults(self, plan) -> None:
        # A plan that fakes a concurrent edit needs the state whose revision it moves on.
        if plan is not None and getattr(plan, "emulator", False) is None:
            plan.emulator = self
        self._faults = plan

    # ---- transports ----
    def transport(self):
        from .transport import EmulatorTransport

        return EmulatorTransport(self)

    def async_transport(self):
        from .transport import AsyncEmulatorTransport

        return AsyncEmulatorTransport(self)

    # ---- the pipeline ----
    def handle(self, req: ApiRequest) -> Response:
        """Serve one request. Raises ConnectionDropped when a fault plan drops the connection."""
        if self.base_path:
            inner = req.path[len(self.base_path):]
            if not req.path.startswith(self.base_path) or (inner and not inner.startswith("/")):
                return Response(404, PROXY_NOT_FOUND, {"content-type": "text/html"})
            req = replace(req, path=inner or "/")
        if self._slots is not None:
            with self._slots:
                return self._handle(req)
        return self._handle(req)

    def _handle(self, req: ApiRequest) -> Response:
        if self.latency_ms:
            time.sleep(self.latency_ms / 1000.0)
        if self.faults is not None:
            injected = self.faults.before(req)
            if injected is not None:
                self.request_log.append((req.method, req.path, injected.status))
                return injected
        resp = self._serve(req)
        if self.faults is not None:
            resp = self.faults.after(req, resp)
        return resp

    def _serve(self, req: ApiRequest) -> Response:
        try:
            resp = self._dispatch(req)
        except errors.ApiError as exc:
            resp = Response(exc.status, exc.body)
        except Exception as exc:  # an emulator bug must look like Metabase's 500, not kill the server
            import traceback

            resp = Response(500, {"message": str(exc) or type(exc).__name__, "trace": traceback.format_exc().splitlines()[-5:], "via": []})
        self.request_log.append((req.method, req.path, resp.status))
        return resp

    def _dispatch(self, req: ApiRequest) -> Response:
        route, raw_params, _ = self.router.match(req.method, req.path)
        if route is not None and route.available is not None and not route.available(self.state.profile):
            raise errors.not_found()  # a route of another release (profiles.py): what a client probing gets
        if route is None:
            self.spec_violations.append(f"{req.method} {req.path}: no such route")
            raise errors.not_found()
        if route.premium is not None:  # an Enterprise route (router.route's `premium`)
            if not self.state.profile.enterprise:
                raise errors.not_found()  # an OSS build mounts no EE routes (api_routes/routes.clj not-found-handler)
            premium.require(self.state, *route.premium)
        op = spec.operation(route.method, route.path)
        # Parameter coercion and spec validation read only the request and the spec: done before taking the
        # state lock, so other requests are not held up by them. A validation error is raised only after
        # authentication, as before (an unauthenticated request gets 401 whatever its body).
        invalid: errors.ApiError | None = None
        try:
            path_params = self._path_params(op, raw_params)
            query, paging = self._query(op, req.query)
            body = self._body(op, req)
        except errors.ApiError as exc:
            invalid = exc
        with self.state.lock:
            user = self._authenticate(req)
            if user is None and not route.public:
                raise errors.unauthenticated()
            if invalid is not None:
                self.spec_violations.append(f"{req.method} {req.path}: {invalid.body}")
                raise invalid
            ctx = Ctx(self, self.state, req, user if user is not None else Row(None, {}), query, body, paging)
            result = route.handler(ctx, **path_params)
        resp = result if isinstance(result, Response) else Response(200, result)
        resp.headers.update(ctx.response_headers)
        return resp

    def _authenticate(self, req: ApiRequest) -> Row | None:
        users = self.state.table("user")
        key = req.headers.get("x-metabase-session") or req.cookies.get(SESSION_COOKIE)
        if key and key in self.state.sessions:
            user = users.get(self.state.sessions[key])
            if user and user.get("is_active"):
                return user
        api_key = req.headers.get("x-api-key")
        if api_key and api_key.startswith("mb_") and 12 <= len(api_key) <= 254:
            row = self.state.table("api_key").first(key_prefix=api_key[:7], key_hash=hash_api_key(api_key))
            if row:
                user = users.get(row["user_id"])
                if user and user.get("is_active"):
                    return user
        return None

    @staticmethod
    def _path_params(op: spec.Operation, raw: dict[str, str]) -> dict[str, Any]:
        out = {}
        for p in op.params:
            if p.location != "path":
                continue
            value = spec.coerce_param([raw[p.name]], p.schema) if p.name in raw else spec.MISSING
            err = spec.param_error(p, value)
            if err:
                raise err
            out[p.name.replace("-", "_")] = value
        return out

    @staticmethod
    def _query(op: spec.Operation, pairs: list[tuple[str, str]]) -> tuple[dict[str, Any], Paging | None]:
        grouped: dict[str, list[str]] = {}
        for k, v in pairs:
            grouped.setdefault(k[:-2] if k.endswith("[]") else k, []).append(v)
        # Metabase's offset-paging middleware takes limit/offset off every request before the endpoint sees it.
        # It reads them with parse-long: a value that is not a number counts as absent (no error), and when
        # neither is a number the request is not paged and both stay in the (open) query map.
        limit, offset = (_parse_long(grouped[k][-1]) if k in grouped else None for k in ("limit", "offset"))
        paging = None
        if limit is not None or offset is not None:
            grouped.pop("limit", None)
            grouped.pop("offset", None)
            paging = Paging(50 if limit is None else limit, 0 if offset is None else offset)
        query: dict[str, Any] = {}
        for p in op.params:
            if p.location != "query":
                continue
            value = spec.coerce_param(grouped[p.name], p.schema) if p.name in grouped else spec.MISSING
            err = spec.param_error(p, value)
            if err:
                raise err
            if value is spec.MISSING:
                value = p.schema.get("default")
            query[p.name] = value
        # Parameters the spec does not declare are passed through as strings (Metabase's query maps are open).
        for k, vs in grouped.items():
            query.setdefault(k, vs[-1] if len(vs) == 1 else vs)
        return query, paging

    @staticmethod
    def _body(op: spec.Operation, req: ApiRequest) -> Any:
        if not req.body or not req.body.strip():
            body = None
        else:
            try:
                body = orjson.loads(req.body)
            except orjson.JSONDecodeError as exc:
                raise errors.bad_request("Malformed JSON in request body.") from exc
        if op.body_check is not None:
            err = spec.body_errors(op, {} if body is None else body)
            if err:
                raise err
        return body

    # ---- conveniences for tests and seeds ----
    def wait_idle(self, timeout: float = 10.0) -> None:
        """Wait for background work (database syncs) to finish."""
        jobs = self.state.extra.get("background_jobs", [])
        for job in list(jobs):
            job.join(timeout)
