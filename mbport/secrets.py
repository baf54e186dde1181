"""Secrets supplied at import time (never in the tree): a secrets file or MBPORT_SECRET_* environment variables."""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Mapping
from pathlib import Path

import orjson

from .client import register_secret
from .errors import MbportError


def env_name(secret: str) -> str:
    """`databases/Warehouse DB/password` → `MBPORT_SECRET_DATABASES_WAREHOUSE_DB_PASSWORD`."""
    return "MBPORT_SECRET_" + re.sub(r"[^A-Za-z0-9]+", "_", secret).strip("_").upper()


class Secrets:
    """Looks a secret up in the file first, then the environment; every value is registered for redaction."""

    def __init__(self, values: Mapping[str, str] | None = None, env: Mapping[str, str] | None = None):
        self.values = dict(values or {})
        self.env = os.environ if env is None else env
        for value in self.values.values():
            register_secret(value)

    @classmethod
    def from_file(cls, path: Path | None, env: Mapping[str, str] | None = None) -> Secrets:
        if path is None:
            return cls(env=env)
        if not path.is_file():
            raise MbportError(f"--secrets {path}: no such file")
        mode = path.stat().st_mode
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise MbportError(f"--secrets {path}: readable by others (mode {stat.filemode(mode)})",
                              hint=f"chmod 600 {path}")
        try:
            data = orjson.loads(path.read_bytes())
        except orjson.JSONDecodeError as exc:
            raise MbportError(f"--secrets {path}: not valid JSON ({exc.msg})") from None
        if not isinstance(data, dict) or not all(isinstance(v, str) for v in data.values()):
            raise MbportError(f"--secrets {path}: expected a JSON object of secret name → string")
        return cls(data, env)

    def get(self, name: str) -> str | None:
        value = self.values.get(name)
        if value is None:
            value = self.env.get(env_name(name))
            if value is not None:
                register_secret(value)
        return value

    def describe_missing(self, name: str) -> str:
        return f"secret {name!r} is missing: set {env_name(name)} or add it to the --secrets file"
