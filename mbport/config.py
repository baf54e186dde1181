"""`mbport.toml`: named instances (URL, which environment variables hold the credentials), database mappings,
secrets sources and default concurrency. Secrets themselves are never read from the file: it gets committed.

    concurrency = 8                          # default for every instance

    [instances.prod]
    url = "https://metabase.example.com"
    api_key_env = "PROD_MB_KEY"              # or username_env + password_env, or session_token_env

    [instances.staging]
    url = "https://staging.example.com"
    username_env = "STAGING_MB_USER"
    password_env = "STAGING_MB_PASSWORD"
    concurrency = 4
    secrets_file = "/etc/mbport/staging-secrets.json"   # database passwords for imports into staging
    insecure = false
    [instances.staging.map_database]         # source database name → this instance's database name
    "Warehouse" = "Warehouse (staging)"

Precedence, per setting: flags beat environment variables (METABASE_*, MBPORT_FROM_*/MBPORT_TO_*) beat the file.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import UsageError

FILE_NAME = "mbport.toml"
SECRET_KEYS = frozenset({"api_key", "password", "session_token"})
_LOOKS_LIKE_KEY = re.compile(r"^mb_[A-Za-z0-9+/=_-]{8,}$")
INSTANCE_KEYS = {
    "url": str, "api_key_env": str, "username_env": str, "password_env": str, "session_token_env": str,
    "concurrency": int, "insecure": bool, "secrets_file": str, "map_database": dict, "description": str,
}
TOP_KEYS = {"concurrency": int, "instances": dict}


@dataclass
class Instance:
    """One named Metabase of the config file; credentials are the *names* of environment variables."""

    name: str
    url: str
    api_key_env: str | None = None
    username_env: str | None = None
    password_env: str | None = None
    session_token_env: str | None = None
    concurrency: int | None = None
    insecure: bool = False
    secrets_file: Path | None = None
    map_database: dict[str, str] = field(default_factory=dict)
    description: str | None = None

    def credentials_from(self) -> str:
        """Where the credentials a client takes from `credentials()` come from (an API key first, then a session
        token, then username and password, as the client picks them), for messages about them."""
        names = ([self.api_key_env] if self.api_key_env else [self.session_token_env] if self.session_token_env
                 else [v for v in (self.username_env, self.password_env) if v])
        return f"{' and '.join(names)} (mbport.toml instance {self.name!r})"

    def credentials(self, env: Mapping[str, str] | None = None) -> dict[str, str | None]:
        """{api_key, username, password, session_token} read from the variables the file names.

        A variable the file names but the environment lacks is an error naming it (not a silent fallback)."""
        env = os.environ if env is None else env
        out: dict[str, str | None] = {}
        for cred in ("api_key", "username", "password", "session_token"):
            var = getattr(self, f"{cred}_env")
            if var is None:
                out[cred] = None
            elif not env.get(var):
                raise UsageError(f"instance {self.name!r}: the environment variable {var} (its {cred.replace('_', ' ')}) "
                                 "is not set", hint=f"export {var}=... before running mbport (mbport.toml names it)")
            else:
                out[cred] = env[var]
        return out


@dataclass
class Config:
    path: Path | None = None
    concurrency: int | None = None
    instances: dict[str, Instance] = field(default_factory=dict)

    def instance(self, name: str) -> Instance:
        if name not in self.instances:
            where = str(self.path) if self.path else f"no {FILE_NAME} found (give --config FILE or run where one is)"
            known = ", ".join(sorted(self.instances)) or "none"
            raise UsageError(f"--instance {name!r}: no such instance in {where}", hint=f"instances: {known}")
        return self.instances[name]


def find(explicit: Path | None = None, cwd: Path | None = None) -> Path | None:
    """--config FILE, else ./mbport.toml if there is one."""
    if explicit is not None:
        if not explicit.is_file():
            raise UsageError(f"--config {explicit}: no such file")
        return explicit
    candidate = (cwd or Path.cwd()) / FILE_NAME
    return candidate if candidate.is_file() else None


def load(path: Path | None) -> Config:
    """The config at `path` (an empty one for None), checked: known keys and types, no secrets in the file."""
    if path is None:
        return Config()
    import tomllib  # only when there is a file to read

    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise UsageError(f"{path}: not valid TOML ({exc})") from None
    except OSError as exc:
        raise UsageError(f"{path}: cannot read it ({exc.strerror})") from None
    refuse_secrets(path, data)
    _check_keys(path, "", data, TOP_KEYS)
    config = Config(path, data.get("concurrency"))
    for name, table in data.get("instances", {}).items():
        where = f"instances.{name}"
        if not isinstance(table, dict):
            raise UsageError(f"{path}: [{where}] must be a table", hint=f'[{where}]\nurl = "https://..."')
        _check_keys(path, where + ".", table, INSTANCE_KEYS)
        if "url" not in table:
            raise UsageError(f"{path}: [{where}] has no url", hint=f'add url = "https://metabase.example.com" under [{where}]')
        mapping = table.get("map_database", {})
        if not all(isinstance(v, str) for v in mapping.values()):
            raise UsageError(f"{path}: {where}.map_database: values must be database names (strings)")
        secrets = table.get("secrets_file")
        config.instances[name] = Instance(
            name, table["url"], table.get("api_key_env"), table.get("username_env"), table.get("password_env"),
            table.get("session_token_env"), table.get("concurrency"), table.get("insecure", False),
            (path.parent / secrets) if secrets else None, dict(mapping), table.get("description"))
    return config


def _variable(where: str) -> str:
    """A variable name for the secret at `where` (`instances.staging.api_key` → STAGING_MB_API_KEY)."""
    parts = where.split(".")
    instance = parts[1] if len(parts) > 2 and parts[0] == "instances" else ""
    name = "_".join(p for p in (instance, "MB", parts[-1]) if p)
    return re.sub(r"[^A-Za-z0-9]+", "_", name).upper()


def refuse_secrets(path: Path, data: Any, where: str = "") -> None:
    """A secret written in the file is refused, wherever it is: config files get committed, copied and shared."""
    if isinstance(data, dict):
        for key, value in data.items():
            here = f"{where}.{key}" if where else str(key)
            if str(key).lower() in SECRET_KEYS:
                env_key = f"{key}_env"
                raise UsageError(
                    f"{path}: {here}: a secret written in the config file is refused (config files get committed "
                    f"and shared, and mbport never stores credentials)",
                    hint=f'put the value in an environment variable and name it instead: {env_key} = "{_variable(here)}"'
                         if key != "password" else 'name environment variables: username_env = "..." and password_env = "..."')
            refuse_secrets(path, value, here)
    elif isinstance(data, list):
        for i, value in enumerate(data):
            refuse_secrets(path, value, f"{where}[{i}]")
    elif isinstance(data, str) and _LOOKS_LIKE_KEY.match(data.strip()):
        raise UsageError(f"{path}: {where}: this value looks like a Metabase API key (mb_...); a secret written in "
                         "the config file is refused",
                         hint='put the key in an environment variable and name it: api_key_env = "PROD_MB_KEY"')


def _check_keys(path: Path, prefix: str, table: dict[str, Any], known: dict[str, type]) -> None:
    for key, value in table.items():
        if key not in known:
            raise UsageError(f"{path}: unknown setting {prefix}{key}", hint=f"known: {', '.join(sorted(known))}")
        expected = known[key]
        if not isinstance(value, expected) or (expected is int and isinstance(value, bool)):
            raise UsageError(f"{path}: {prefix}{key} must be a {expected.__name__}, not {type(value).__name__}")
        if key == "concurrency" and isinstance(value, int) and not 1 <= value <= 64:
            raise UsageError(f"{path}: {prefix}concurrency must be between 1 and 64, not {value}")


@dataclass
class Connection:
    """The settings of one Metabase after flags, environment and file are merged."""

    url: str | None
    api_key: str | None = None
    username: str | None = None
    password: str | None = None
    session_token: str | None = None
    concurrency: int = 8
    insecure: bool = False
    instance: Instance | None = None


def resolve(flags: dict[str, Any], env_values: dict[str, str | None], instance: Instance | None,
            config: Config | None = None) -> Connection:
    """flags > environment > file, per setting. Credentials as a group: the file's are used only when neither
    flags nor environment give any (mixing an env key with a file password would be surprising)."""
    creds = ("api_key", "username", "password", "session_token")
    url = flags.get("url") or env_values.get("url") or (instance.url if instance else None)
    given = {c: flags.get(c) or env_values.get(c) for c in creds}
    if instance is not None and not any(given.values()):
        given = instance.credentials()
    concurrency = (flags.get("concurrency") or (instance.concurrency if instance else None)
                   or (config.concurrency if config else None) or 8)
    insecure = bool(flags.get("insecure")) or bool(instance and instance.insecure)
    return Connection(url, given["api_key"], given["username"], given["password"], given["session_token"],
                      concurrency, insecure, instance)
