"""Route registration and matching; routes are declared with the spec's own path templates."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

Handler = Callable[..., Any]


@dataclass
class Route:
    method: str
    path: str  # spec template, e.g. /api/card/{id}
    handler: Handler
    public: bool
    regex: re.Pattern[str]
    literal_segments: int
    available: Callable[[Any], bool] | None = None  # profile -> whether the emulated release has the route
    premium: tuple[str, str] | None = None  # (feature, its name): the whole route needs it, checked before auth


_REGISTRY: list[Route] = []


def route(method: str, path: str, *, public: bool = False, available: Callable[[Any], bool] | None = None,
          premium: tuple[str, str] | None = None) -> Callable[[Handler], Handler]:
    """Declare a handler for METHOD and a path template that must exist in Metabase's spec.

    The handler is called as handler(ctx, **path_params) and returns JSON-able data (200), a Response,
    or raises errors.ApiError. `public` routes answer without a session (e.g. /api/session/properties).
    `available(profile)` false: the emulated release has no such route (404 before any validation).
    `premium=(feature, name)`: an Enterprise route wrapped in `+require-premium-feature` outside `+auth`: an OSS build
    has no such route (404), an Enterprise build without the feature answers its 402, both before authentication
    and body validation.
    """

    def decorate(fn: Handler) -> Handler:
        parts = [p for p in path.split("/") if p]
        pattern = "".join(
            f"/(?P<{_group(p[1:-1])}>[^/]+)" if p.startswith("{") else "/" + re.escape(p) for p in parts
        )
        literal = sum(1 for p in parts if not p.startswith("{"))
        _REGISTRY.append(Route(method.upper(), path, fn, public, re.compile(f"^{pattern}/?$"), literal, available,
                               premium))
        return fn

    return decorate


def _group(name: str) -> str:
    return re.sub(r"\W", "_", name)


def param_name(group: str, path: str) -> str:
    for p in path.split("/"):
        if p.startswith("{") and _group(p[1:-1]) == group:
            return p[1:-1]
    return group


class Router:
    def __init__(self, routes: list[Route]):
        # Literal segments beat parameters: /api/user/current before /api/user/{id}.
        self.routes = sorted(routes, key=lambda r: (-r.literal_segments, r.path))

    def match(self, method: str, path: str) -> tuple[Route | None, dict[str, str], bool]:
        """(route, raw path params, path_exists_for_another_method)."""
        other_method = False
        for r in self.routes:
            m = r.regex.match(path)
            if not m:
                continue
            if r.method != method:
                other_method = True
                continue
            return r, {param_name(k, r.path): v for k, v in m.groupdict().items()}, other_method
        return None, {}, other_method


def registered_routes() -> list[Route]:
    return list(_REGISTRY)
