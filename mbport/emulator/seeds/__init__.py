"""Seed instances: Python modules whose `load(api)` builds content through the emulator's own HTTP API.

A seed whose content has model actions on a SQLite warehouse sets `SQLITE_ACTIONS = True`: loading it turns on
`Emulator.sqlite_actions` (Metabase's SQLite driver has no actions; the emulator's warehouses are SQLite files);
one with transforms on a SQLite warehouse sets `SQLITE_TRANSFORMS = True` (`Emulator.sqlite_transforms`).
"""

from __future__ import annotations

import importlib
import importlib.util
import pkgutil
import sys
import time
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx

from ...errors import MbportError


class SeedError(MbportError):
    """A seed could not be found, or one of its requests failed."""


def names() -> list[str]:
    """The built-in seeds (modules of this package), by name."""
    return sorted(m.name for m in pkgutil.iter_modules(__path__) if not m.name.startswith("_"))


def ok(resp: httpx.Response) -> Any:
    """The JSON body of a successful response (None when empty); a failed request stops the seed with its detail."""
    if resp.status_code >= 400:
        request = resp.request
        raise SeedError(f"seed request {request.method} {request.url.path} failed: {resp.status_code} "
                        f"{resp.text[:500]}")
    return resp.json() if resp.content else None


def server_version(api: httpx.Client) -> tuple[int, int]:
    """(minor, patch) of the server's vX.minor.patch tag (GET /api/session/properties): seeds build only what that
    release has (an older one lacks measures, notifications, dashboard questions ...)."""
    parts = ok(api.get("/api/session/properties"))["version"]["tag"].lstrip("v").split(".")
    return int(parts[1]), int(parts[2]) if len(parts) > 2 and parts[2].isdigit() else 0


def wait_for_sync(api: httpx.Client, db_id: int, seed: str, timeout: float = 10.0) -> None:
    """Wait until a database the seed created has finished its first sync (its tables exist), bounded."""
    deadline = time.monotonic() + timeout
    while ok(api.get(f"/api/database/{db_id}"))["initial_sync_status"] != "complete":
        if time.monotonic() > deadline:
            raise SeedError(f"seed {seed}: database {db_id} did not finish its sync within {timeout:.0f} s")
        time.sleep(0.01)


def resolve(name_or_path: str) -> ModuleType:
    """A built-in seed by name, or a seed file by path; either must define `load(api)`."""
    if name_or_path in names():
        return importlib.import_module(f"{__name__}.{name_or_path}")
    path = Path(name_or_path).expanduser()
    if not path.is_file():
        raise SeedError(f"seed {name_or_path!r} is neither a built-in seed ({', '.join(names())}) nor an existing file")
    spec = importlib.util.spec_from_file_location(f"mbport_seed_{path.stem}", path)
    if spec is None or spec.loader is None:
        raise SeedError(f"seed file {path} cannot be imported as a Python module")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses and pickling look their module up there
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        raise SeedError(f"seed file {path} failed to import: {type(exc).__name__}: {exc}") from exc
    if not callable(getattr(module, "load", None)):
        raise SeedError(f"seed file {path} has no load(api) function")
    return module


def load(emulator: Any, name_or_path: str, session: str | None = None) -> None:
    """Build seed content in `emulator` as the admin whose session key is given (None: set up a fresh admin)."""
    module = resolve(name_or_path)
    if getattr(module, "SQLITE_ACTIONS", False):
        emulator.sqlite_actions = True
    if getattr(module, "SQLITE_TRANSFORMS", False):
        emulator.sqlite_transforms = True
    if session is None:
        from .. import bootstrap

        session = bootstrap.setup_admin(emulator, "admin@example.com", bootstrap.random_password())
    with httpx.Client(transport=emulator.transport(), base_url="http://emulator.local" + emulator.base_path,
                      headers={"X-Metabase-Session": session}, timeout=30) as api:
        module.load(api)
