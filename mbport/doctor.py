"""`mbport doctor`: can mbport work with this Metabase? Reachability, TLS, login, admin rights, version, API key
scope and both permission graphs, one check per line, each failure with the fix."""

from __future__ import annotations

import ipaddress
from dataclasses import asdict, dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx

from .capabilities import VersionNotes, unsupported
from .client import (
    AUTH_HINT,
    CREDENTIALS,
    ENV_URL,
    SITE_URL_HINT,
    ApiError,
    ConnectionFailed,
    CredentialsRefused,
    MetabaseVersion,
    redact,
)
from .registry import Registry, load_plugins

OK, WARN, FAIL, SKIP = "ok", "warn", "fail", "skip"
OLDEST_SUPPORTED = (0, 50)  # versions.md: older API lines are out of support
MBQL5_SINCE = (0, 57)
ADMINS = "Administrators"
# What a release line does that mbport works around, from the first line that does it to the first that no longer
# does (None: still does); versions.md §1, §3.
KNOWN_QUIRKS: list[tuple[tuple[int, int], tuple[int, int] | None, str]] = [
    ((0, 50), MBQL5_SINCE, "queries are MBQL 4: a tree exported from 0.57 or later (MBQL 5) is written as MBQL 4, "
     "native questions rebuilt as classic native queries"),
    (MBQL5_SINCE, None, "a dashboard save with filters and cards drops the filters shown on cards (inline): mbport "
     "sends the filters again in a second save"),
    (MBQL5_SINCE, None, "queries are stored as MBQL 5: a tree in MBQL 4 is compared by meaning, so it is not "
     "rewritten on every import"),
    ((0, 61), (0, 62), "native questions' field filters come back with MBQL 5 refs, and a classic query carrying "
     "them is stored EMPTY: mbport sends field filters in classic form and checks every saved question kept its query"),
    ((0, 62), None, "a classic query carrying MBQL 5 field-filter refs is refused, and `legacy_query` is null after a "
     "write: mbport sends field filters in classic form and reads `dataset_query` only"),
    ((0, 63), None, "template tags are a list: the tree keys them by name and mbport sends lists"),
]


@dataclass
class Check:
    name: str
    status: str  # ok | warn | fail | skip
    detail: str
    fix: str | None = None

    def line(self) -> str:
        mark = {OK: "ok  ", WARN: "warn", FAIL: "FAIL", SKIP: "skip"}[self.status]
        return f"[{mark}] {self.name}: {self.detail}" + (f"\n       fix: {self.fix}" if self.fix else "")

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def version_meaning(version: MetabaseVersion, registry: Registry | None = None) -> list[str]:
    """What this Metabase version means for mbport, in an admin's words: each installed kind's `version_notes`."""
    if registry is None:
        registry = load_plugins()
    notes = ["queries are MBQL 5 (≥ 0.57), kept as such in the tree" if version >= MBQL5_SINCE
             else "queries are MBQL 4 (< 0.57), kept as such in the tree"]
    for kind in registry.kinds.values():
        notes += kind.version_notes(version) if isinstance(kind, VersionNotes) else []
    notes.append("Enterprise edition" if version.is_enterprise else "open-source edition")
    return notes


def known_quirks(version: MetabaseVersion) -> list[str]:
    """The known quirks of this version that mbport works around (KNOWN_QUIRKS)."""
    return [text for since, until, text in KNOWN_QUIRKS if version >= since and (until is None or version < until)]


def kind_support(version: MetabaseVersion, features: dict[str, bool] | None,
                 registry: Registry | None = None) -> tuple[list[str], list[str]]:
    """(kinds this instance can hold, "kind: why not" for the others), from each kind's `since` and premium
    feature (`capabilities.Requires`)."""
    if registry is None:
        registry = load_plugins()
    supported, missing = [], []
    for name, kind in sorted(registry.kinds.items()):
        why = unsupported(kind, version, features)
        if why:
            missing.append(f"{name} ({why})")
        else:
            supported.append(name)
    return supported, missing


def _local(url: str) -> bool:
    host = urlsplit(url).hostname or ""
    if host == "localhost" or host.endswith((".localhost", ".test")):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def run(api, insecure: bool = False) -> list[Check]:
    """Every check, in order; later checks are skipped when an earlier one they need failed."""
    checks: list[Check] = []
    url = redact(api.url)
    props = _reach(api, url, insecure, checks)
    if props is None:
        for name in ("version", "authentication", "admin rights", "API key scope", "permission graphs"):
            checks.append(Check(name, SKIP, "needs the server to answer first"))
        return checks
    _version(props, checks)
    user = _authenticate(api, checks)
    if user is None:
        for name in ("admin rights", "API key scope", "permission graphs"):
            checks.append(Check(name, SKIP, "needs a working login first"))
        return checks
    admin = bool(user.get("is_superuser"))
    checks.append(Check("admin rights", OK, "the account is an administrator") if admin else
                  Check("admin rights", FAIL, "the account is not an administrator: a full export and every import "
                        "need admin rights (users, groups, permissions, settings)",
                        f"use an API key of the {ADMINS} group (Admin → Settings → Authentication → API keys) "
                        "or an admin's login"))
    _key_scope(api, admin, checks)
    _graphs(api, checks)
    return checks


def _reach(api, url: str, insecure: bool, checks: list[Check]) -> dict[str, Any] | None:
    """GET /api/session/properties without credentials: is there a Metabase at this URL, over verified TLS?"""
    https = url.lower().startswith("https://")
    try:
        resp = api._http.get(api.url + "/api/session/properties")  # the client's pool: same TLS, proxy, transport
    except httpx.ConnectError as exc:
        text = str(exc)
        if "CERTIFICATE_VERIFY_FAILED" in text or "certificate verify failed" in text or "SSL" in text:
            checks.append(Check("reachable", OK, f"{url} accepts connections"))
            checks.append(Check("TLS", FAIL, f"the certificate was not accepted ({redact(text)[:160]})",
                                "install a certificate from a CA this machine trusts (or the full chain), "
                                "or point SSL_CERT_FILE at your CA bundle; --insecure only to look around"))
            return None
        checks.append(Check("reachable", FAIL, f"cannot connect to {url}: {redact(text)[:160] or 'connection refused'}",
                            f"check the URL (--url, {ENV_URL} or mbport.toml), DNS, firewalls, and that Metabase is running"))
        checks.append(Check("TLS", SKIP, "needs a connection first"))
        return None
    except httpx.TimeoutException:
        checks.append(Check("reachable", FAIL, f"{url} did not answer in time",
                            "check the URL, a proxy or firewall in between, and that Metabase is up (GET /api/health)"))
        checks.append(Check("TLS", SKIP, "needs a connection first"))
        return None
    except httpx.HTTPError as exc:
        checks.append(Check("reachable", FAIL, f"{url}: {redact(exc)[:160]}", "check the URL: it must be http(s)://host[:port]"))
        checks.append(Check("TLS", SKIP, "needs a connection first"))
        return None
    if 300 <= resp.status_code < 400:
        checks.append(Check("reachable", FAIL, f"{url} redirects to {resp.headers.get('location', '?')}",
                            "use the address it redirects to as the URL (often https:// instead of http://)"))
        checks.append(Check("TLS", SKIP, "needs a direct answer first"))
        return None
    try:
        props = resp.json()
    except ValueError:
        props = None
    version = props.get("version") if isinstance(props, dict) else None
    if resp.status_code != 200 or not isinstance(version, dict):
        checks.append(Check("reachable", FAIL, f"{url} answered HTTP {resp.status_code}, but not like a Metabase "
                            "(GET /api/session/properties has no version)",
                            SITE_URL_HINT))
        checks.append(Check("TLS", SKIP, "not a Metabase"))
        return None
    checks.append(Check("reachable", OK, f"{url} answers as a Metabase"))
    if https and insecure:
        checks.append(Check("TLS", WARN, "certificate verification is off (--insecure)",
                            "drop --insecure once the certificate is fixed"))
    elif https:
        checks.append(Check("TLS", OK, "certificate verified"))
    elif _local(url):
        checks.append(Check("TLS", OK, "plain HTTP to a local address"))
    else:
        checks.append(Check("TLS", WARN, "plain HTTP: the API key or password travels unencrypted",
                            "serve Metabase over https:// (a reverse proxy with a certificate) and use that URL"))
    return props


def _version(props: dict[str, Any], checks: list[Check]) -> None:
    tag = props.get("version", {}).get("tag")
    try:
        version = MetabaseVersion.parse(str(tag))
    except ValueError:
        checks.append(Check("version", WARN, f"cannot read the version tag {tag!r}",
                            "mbport supports released Metabase versions (vX.Y.Z tags)"))
        return
    meaning = "; ".join(version_meaning(version))
    if version < OLDEST_SUPPORTED:
        checks.append(Check("version", WARN, f"Metabase {tag} is older than 0.50, which mbport does not support: {meaning}",
                            "upgrade Metabase to 0.50 or later before exporting or importing"))
    else:
        checks.append(Check("version", OK, f"Metabase {tag}: {meaning}"))
    features = props.get("token-features")
    supported, missing = kind_support(version, features if isinstance(features, dict) else None)
    detail = f"{len(supported)} of {len(supported) + len(missing)} kinds"
    checks.append(Check("kinds", OK, detail + (f"; not here: {'; '.join(missing)}" if missing else ": every kind")))
    quirks = known_quirks(version)
    checks.append(Check("known quirks", OK, "mbport works around: " + "; ".join(quirks) if quirks
                        else "none known for this version"))


def _authenticate(api, checks: list[Check]) -> dict[str, Any] | None:
    how = CREDENTIALS[api._auth.kind]
    try:
        user = api.get("/api/user/current")
    except CredentialsRefused as exc:
        source = f" from {api.credentials_from}" if api.credentials_from else ""
        checks.append(Check("authentication", FAIL, f"the {how}{source} was refused ({exc.status})", exc.hint))
        return None
    except (ApiError, ConnectionFailed) as exc:
        checks.append(Check("authentication", FAIL, f"signing in failed: {exc}", exc.hint or AUTH_HINT))
        return None
    who = user.get("common_name") or user.get("email") or f"user {user.get('id')}"
    checks.append(Check("authentication", OK, f"signed in as {who} ({how})"))
    return user


def _key_scope(api, admin: bool, checks: list[Check]) -> None:
    if api._auth.kind != "api-key":
        checks.append(Check("API key scope", SKIP, "not signed in with an API key"))
        return
    if not admin:
        checks.append(Check("API key scope", FAIL, f"the key's group is not {ADMINS}: Metabase gives an API key its "
                            "group's rights, and only admins may read users, permissions and settings",
                            f"create a key in the {ADMINS} group, or move this one there (Admin → Settings → "
                            "Authentication → API keys → edit)"))
        return
    prefix = (api._auth.api_key or "")[:7]
    try:
        keys = api.get("/api/api-key")
    except ApiError as exc:
        checks.append(Check("API key scope", WARN, f"cannot list API keys ({exc})", None))
        return
    mine = [k for k in keys if str(k.get("masked_key", "")).startswith(prefix)] if isinstance(keys, list) else []
    if len(mine) != 1:
        checks.append(Check("API key scope", OK, "an admin key (its entry in the key list could not be told apart)"))
        return
    group = (mine[0].get("group") or {}).get("name")
    if group == ADMINS:
        checks.append(Check("API key scope", OK, f"key {mine[0].get('name')!r} in group {group}"))
    else:
        checks.append(Check("API key scope", FAIL, f"key {mine[0].get('name')!r} is in group {group!r}, not {ADMINS}",
                            f"move the key to the {ADMINS} group"))


def _graphs(api, checks: list[Check]) -> None:
    problems, counts = [], []
    for label, path in (("data permissions", "/api/permissions/graph"), ("collection permissions", "/api/collection/graph")):
        try:
            graph = api.get(path)
            counts.append(f"{label}: {len((graph or {}).get('groups') or {})} groups")
        except ApiError as exc:
            problems.append(f"{label} ({path}): {exc}")
    if problems:
        checks.append(Check("permission graphs", FAIL, "; ".join(problems),
                            f"sign in as an administrator (an API key of the {ADMINS} group)"))
    else:
        checks.append(Check("permission graphs", OK, "readable (" + ", ".join(counts) + ")"))
